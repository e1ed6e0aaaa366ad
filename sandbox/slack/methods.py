"""The Web API methods the sandbox answers, each ``(store, params) -> ok body``; refusals raise ``SlackError``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.slack.blockkit import BlocksFormatError, parse_blocks
from sandbox.slack.errors import SlackError
from sandbox.slack.store import Message, SlackStore

Params = dict[str, Any]
Method = Callable[[SlackStore, Params], dict[str, Any]]


def _required(params: Params, name: str, error: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise SlackError(error)
    return str(value)


def _text(params: Params) -> str | None:
    value = params.get("text")
    return None if value is None else str(value)


def _blocks(params: Params) -> list[dict[str, Any]] | None:
    try:
        return parse_blocks(params.get("blocks"))
    except BlocksFormatError:
        raise SlackError("invalid_blocks_format") from None


def _view(params: Params) -> object:
    view = params.get("view")
    if view in (None, ""):
        raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: view"])
    if isinstance(view, str):
        try:
            return json.loads(view)
        except ValueError:
            raise SlackError("invalid_arguments", messages=["[ERROR] view must be a JSON object"]) from None
    return view


def _public(message: Message) -> Message:
    """The message object as Slack returns it (no sandbox bookkeeping)."""
    return {key: value for key, value in message.items() if key not in ("channel", "recipient")}


def auth_test(store: SlackStore, params: Params) -> dict[str, Any]:
    """Describe the bot token's identity."""
    workspace = store.workspace
    return {
        "ok": True,
        "url": f"https://{workspace.team_domain}.slack.com/",
        "team": workspace.team_name,
        "user": workspace.bot_name,
        "team_id": workspace.team_id,
        "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(store: SlackStore, params: Params) -> dict[str, Any]:
    """Post a message (or a thread reply) as the bot."""
    channel = _required(params, "channel", "channel_not_found")
    thread_ts = params.get("thread_ts") or None
    message = store.post_message(channel, text=_text(params), blocks=_blocks(params), thread_ts=thread_ts)
    return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": _public(message)}


def chat_update(store: SlackStore, params: Params) -> dict[str, Any]:
    """Replace a bot message's text/blocks."""
    channel = _required(params, "channel", "channel_not_found")
    ts = _required(params, "ts", "message_not_found")
    message = store.update_message(channel, ts, text=_text(params), blocks=_blocks(params))
    return {
        "ok": True,
        "channel": message["channel"],
        "ts": message["ts"],
        "text": message["text"],
        "message": _public(message),
    }


def chat_post_ephemeral(store: SlackStore, params: Params) -> dict[str, Any]:
    """Show a message to one user in a channel."""
    channel = _required(params, "channel", "channel_not_found")
    user = _required(params, "user", "user_not_found")
    message = store.post_ephemeral(channel, user, text=_text(params), blocks=_blocks(params))
    return {"ok": True, "message_ts": message["ts"]}


def views_open(store: SlackStore, params: Params) -> dict[str, Any]:
    """Open a modal with a trigger id."""
    trigger_id = params.get("trigger_id")
    if not trigger_id:
        raise SlackError("invalid_arguments", messages=["[ERROR] missing required field: trigger_id"])
    return {"ok": True, "view": store.open_view(str(trigger_id), _view(params))}


def views_update(store: SlackStore, params: Params) -> dict[str, Any]:
    """Replace an open modal by ``view_id`` or ``external_id``."""
    view_id = params.get("view_id") or None
    external_id = params.get("external_id") or None
    if not (view_id or external_id):
        raise SlackError("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
    view = store.update_view(_view(params), view_id=view_id, external_id=external_id, hash_=params.get("hash"))
    return {"ok": True, "view": view}


def views_publish(store: SlackStore, params: Params) -> dict[str, Any]:
    """Publish a user's Home tab (https://api.slack.com/methods/views.publish): ``user_id`` and a ``home`` view."""
    user = _required(params, "user_id", "invalid_arguments")
    if user not in store.workspace.users:
        raise SlackError("user_not_found")
    return {"ok": True, "view": store.publish_home(user, _view(params), hash_=params.get("hash"))}


def usergroups_users_list(store: SlackStore, params: Params) -> dict[str, Any]:
    """List a user group's members."""
    users = store.workspace.usergroups.get(str(params.get("usergroup") or ""))
    if users is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(users)}


def conversations_members(store: SlackStore, params: Params) -> dict[str, Any]:
    """List a channel's members: every workspace user and the bot (one page)."""
    store.channel_id(_required(params, "channel", "channel_not_found"))
    members = [*store.workspace.users, store.workspace.bot_user_id]
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}


def users_info(store: SlackStore, params: Params) -> dict[str, Any]:
    """Describe one user: the fields https://api.slack.com/methods/users.info returns that Tally reads."""
    workspace = store.workspace
    user = str(params.get("user") or "")
    is_bot = user == workspace.bot_user_id
    if user not in workspace.users and not is_bot:
        raise SlackError("user_not_found")
    guest = workspace.guests.get(user)
    return {
        "ok": True,
        "user": {
            "id": user,
            "team_id": workspace.team_id,
            "name": workspace.bot_name if is_bot else workspace.users[user],
            "deleted": False,
            "is_bot": is_bot,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": guest is not None,  # [U] Slack sets both for a single-channel guest; played so here
            "is_ultra_restricted": guest == "ultra_restricted",
        },
    }


def conversations_info(store: SlackStore, params: Params) -> dict[str, Any]:
    """Describe a channel: public or private, and whether the bot is a member (``channels:read``/``groups:read``)."""
    workspace = store.workspace
    channel = store.channel_id(_required(params, "channel", "channel_not_found"))
    private = channel in workspace.private_channels
    needed = "groups:read" if private else "channels:read"
    if needed not in workspace.scopes:
        raise SlackError("missing_scope", needed=needed, provided=",".join(workspace.scopes))
    if private and not workspace.bot_is_member(channel):
        raise SlackError("channel_not_found")  # a private channel the bot is not in is invisible to it
    return {
        "ok": True,
        "channel": {
            "id": channel,
            "name": workspace.channel_name(channel),
            "is_channel": not private,
            "is_group": private,
            "is_private": private,
            "is_archived": False,
            "is_member": workspace.bot_is_member(channel),
        },
    }


# The bot scope each method wants (https://api.slack.com/methods, each method's "Required scopes");
# conversations.info checks its own (channels:read or groups:read, by the channel's kind).
SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "conversations.members": "channels:read",
    "users.info": "users:read",
}


def check_scope(store: SlackStore, method: str) -> None:
    """Refuse with ``missing_scope`` (and what is needed and provided) when the bot token lacks the method's scope."""
    needed = SCOPES.get(method)
    if needed is not None and needed not in store.workspace.scopes:
        raise SlackError("missing_scope", needed=needed, provided=",".join(store.workspace.scopes))


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "views.open": views_open,
    "views.update": views_update,
    "views.publish": views_publish,
    "usergroups.users.list": usergroups_users_list,
    "conversations.members": conversations_members,
    "users.info": users_info,
    "conversations.info": conversations_info,
}
