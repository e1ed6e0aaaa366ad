"""The Slack workspace the sandbox pretends to be, and everything that happened in it, behind one lock.

Messages live in ``messages.Conversations`` (every version kept; see there for their shape); trigger ids,
response_urls and modals in ``interactive``. Readers return copies, so tests may keep and compare them.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.clock import Clock
from sandbox.slack.blockkit import home_problems, view_problems
from sandbox.slack.errors import SlackError
from sandbox.slack.interactive import ResponseOrigin, ResponseUrls, Triggers, Views
from sandbox.slack.messages import Blocks, Conversations, Message, check_content
from sandbox.slack.workspace import SlackWorkspace

__all__ = ["Call", "Message", "SlackStore", "SlackWorkspace"]


@dataclass(frozen=True)
class Call:
    """One Web API call as the sandbox received it (token removed) and how it ended."""

    method: str
    body: dict[str, Any]
    at: datetime
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the sandbox answered ``ok: true``."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """Describe the call for the admin endpoint."""
        return {"method": self.method, "body": self.body, "at": self.at, "ok": self.ok, "error": self.error}


class SlackStore:
    """Channels, messages, ephemerals, modals, trigger ids, response_urls and the calls that made them."""

    def __init__(self, workspace: SlackWorkspace | None = None, clock: Clock | None = None) -> None:
        self.workspace = workspace or SlackWorkspace()
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self._clear()

    def _clear(self) -> None:
        self._messages = Conversations(self.workspace, self.clock)
        self._calls: list[Call] = []
        self._responses: list[dict[str, Any]] = []
        self._triggers = Triggers()
        self._urls = ResponseUrls()
        self._views = Views()
        self._refusing: dict[str, str] = {}  # channel id -> the error posts and updates there get
        self._homes: dict[str, dict[str, Any]] = {}
        self._home_log: list[tuple[str, Any]] = []

    def reset(self) -> None:
        """Forget every message, view, trigger id, response_url and recorded call."""
        with self._lock:
            self._clear()

    # -- channels and messages --------------------------------------------------------------------------------
    def refuse(self, channel: str, error: str | None) -> None:
        """Make posts and updates in ``channel`` fail with ``error`` (``not_in_channel``, ``channel_not_found``,
        ``is_archived``: the bot was removed, the channel deleted or archived); ``None`` lets them through again."""
        with self._lock:
            channel = self.channel_id(channel)
            if error is None:
                self._refusing.pop(channel, None)
            else:
                self._refusing[channel] = error

    def _refused(self, channel: str) -> None:
        error = self._refusing.get(channel)
        if error is not None:
            raise SlackError(error)

    def channel_id(self, value: str) -> str:
        """Resolve a channel id, ``#name``/``name`` or user id (a DM) to a channel id, or ``channel_not_found``."""
        workspace = self.workspace
        if value in workspace.channels:
            return value
        for channel, name in workspace.channels.items():
            if name == value.lstrip("#"):
                return channel
        if value in workspace.users:
            return f"D{value[1:]}"
        if value.startswith("D") and f"U{value[1:]}" in workspace.users:
            return value
        raise SlackError("channel_not_found")

    def post_message(
        self, channel: str, *, text: str | None, blocks: Blocks | None, thread_ts: str | None = None
    ) -> Message:
        """Post as the bot; return the stored message."""
        with self._lock:
            channel = self.channel_id(channel)
            self._refused(channel)
            check_content(text, blocks)
            if thread_ts and self._messages.current(channel, thread_ts, ephemeral=False) is None:
                raise SlackError("thread_not_found")  # [U] Slack's code for a thread_ts it cannot find
            return self._messages.add(channel, text, blocks, thread_ts=thread_ts)

    def plant_message(self, channel: str, user: str, text: str) -> Message:
        """Post as a person (a message the bot may not update)."""
        with self._lock:
            return self._messages.add(self.channel_id(channel), text, None, author=user)

    def post_ephemeral(self, channel: str, user: str, *, text: str | None, blocks: Blocks | None) -> Message:
        """Show a message to ``user`` only; return it."""
        with self._lock:
            channel = self.channel_id(channel)
            if user not in self.workspace.users:
                raise SlackError("user_not_found")
            check_content(text, blocks)
            return self._messages.add(channel, text, blocks, recipient=user)

    def update_message(self, channel: str, ts: str, *, text: str | None, blocks: Blocks | None) -> Message:
        """chat.update: replace text and/or blocks of a bot message; omitted blocks are kept, as Slack does."""
        with self._lock:
            channel = self.channel_id(channel)
            self._refused(channel)
            current = self._messages.current(channel, ts, ephemeral=False)
            if current is None:
                raise SlackError("message_not_found")
            if current.get("bot_id") != self.workspace.bot_id:
                raise SlackError("cant_update_message")
            if text is None and blocks is None:
                raise SlackError("no_text")
            revised = copy.deepcopy(current)
            if text is not None:
                revised["text"] = text
            if blocks is not None:
                revised.pop("blocks", None)  # an empty list removes the blocks
                if blocks:
                    revised["blocks"] = copy.deepcopy(blocks)
            check_content(revised["text"], revised.get("blocks"))
            return self._messages.revise(revised)

    # -- readers ---------------------------------------------------------------------------------------------
    def message(self, channel: str, ts: str) -> Message | None:
        """Return the current version of a message (channel or ephemeral), ``None`` if absent or deleted."""
        with self._lock:
            current = self._messages.current(self.channel_id(channel), ts, ephemeral=None)
            return copy.deepcopy(current) if current is not None else None

    def messages(self, channel: str) -> list[Message]:
        """Return the channel's messages as they look now (after updates, without deleted ones), oldest first."""
        with self._lock:
            channel = self.channel_id(channel)
            return [m for m in self._messages.visible() if m["channel"] == channel and not m.get("is_ephemeral")]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        """Return the replies in one thread, oldest first."""
        return [m for m in self.messages(channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def history(self, channel: str, ts: str) -> list[Message]:
        """Return every version of one message, oldest first (empty if it never existed)."""
        with self._lock:
            return self._messages.versions(self.channel_id(channel), ts)

    def ephemerals(self, user: str, channel: str | None = None) -> list[Message]:
        """Return the ephemeral messages ``user`` sees now, oldest first."""
        with self._lock:
            wanted = self.channel_id(channel) if channel else None
            return [
                m
                for m in self._messages.visible()
                if m.get("recipient") == user and (wanted is None or m["channel"] == wanted)
            ]

    @property
    def calls(self) -> list[Call]:
        """Every Web API call received, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one Web API method."""
        return [call for call in self.calls if call.method == method]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Every response_url post and slash-command ack body: ``source, body, at, error``."""
        with self._lock:
            return copy.deepcopy(self._responses)

    @property
    def views(self) -> list[dict[str, Any]]:
        """Every modal the app opened (current versions), oldest first."""
        with self._lock:
            return self._views.all()

    @property
    def open_views(self) -> list[dict[str, Any]]:
        """The modals still open (not submitted and closed), oldest first."""
        with self._lock:
            return self._views.all(open_only=True)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Return one modal by id."""
        with self._lock:
            return self._views.get(view_id)

    def view_user(self, view_id: str) -> str | None:
        """Return the user a modal was opened for."""
        with self._lock:
            return self._views.user(view_id)

    def record_call(self, method: str, body: dict[str, Any], error: str | None) -> None:
        """Remember one Web API call."""
        with self._lock:
            self._calls.append(Call(method, copy.deepcopy(body), self.clock.now(), error))

    # -- trigger ids and modals ------------------------------------------------------------------------------
    def issue_trigger(self, user: str) -> str:
        """Return a fresh trigger id for ``user`` (valid once, for 3 s of store time)."""
        with self._lock:
            return self._triggers.issue(user, self.clock.now())

    def open_view(self, trigger_id: str, view: object) -> dict[str, Any]:
        """views.open: exchange the trigger id for a validated modal."""
        with self._lock:
            self._check_view(view)
            assert isinstance(view, dict)
            user = self._triggers.take(trigger_id, self.clock.now())
            workspace = self.workspace
            identity = {"team_id": workspace.team_id, "app_id": workspace.app_id, "bot_id": workspace.bot_id}
            return self._views.open(view, user=user, identity=identity, now=self.clock.now())

    def update_view(
        self, view: object, *, view_id: str | None, external_id: str | None, hash_: str | None
    ) -> dict[str, Any]:
        """views.update: replace an open modal."""
        with self._lock:
            self._check_view(view)
            assert isinstance(view, dict)
            return self._views.update(view, view_id=view_id, external_id=external_id, hash_=hash_, now=self.clock.now())

    def publish_home(self, user: str, view: object, *, hash_: object = None) -> dict[str, Any]:
        """views.publish: replace ``user``'s Home tab with a validated ``home`` view."""
        with self._lock:
            problems = home_problems(view)
            if problems:
                raise SlackError("invalid_arguments", messages=[f"[ERROR] {p}" for p in problems])
            assert isinstance(view, dict)
            current = self._homes.get(user)
            if hash_ and current is not None and hash_ != current["hash"]:
                raise SlackError("hash_conflict")
            workspace = self.workspace
            published = {
                **copy.deepcopy(view),
                "id": current["id"] if current is not None else f"VH{len(self._homes) + 1:09d}",
                "team_id": workspace.team_id,
                "app_id": workspace.app_id,
                "bot_id": workspace.bot_id,
                "hash": f"{self.clock.now().timestamp():.6f}.{len(self._home_log)}",
            }
            self._homes[user] = published
            self._home_log.append((user, self.clock.now()))
            return copy.deepcopy(published)

    def home(self, user: str) -> dict[str, Any] | None:
        """The Home tab ``user`` sees now, if the app published one."""
        with self._lock:
            found = self._homes.get(user)
            return copy.deepcopy(found) if found is not None else None

    def close_view(self, view_id: str) -> None:
        """Mark a modal closed."""
        with self._lock:
            self._views.close(view_id)

    @staticmethod
    def _check_view(view: object) -> None:
        problems = view_problems(view)
        if problems:
            # Slack answers invalid_arguments (not invalid_blocks) for views; seen in the SDKs' issue threads.
            raise SlackError("invalid_arguments", messages=[f"[ERROR] {p}" for p in problems])

    # -- response_urls ---------------------------------------------------------------------------------------
    def mint_response_url(
        self, base_url: str, *, user: str, channel: str, message_ts: str | None = None, is_ephemeral: bool = False
    ) -> str:
        """Return ``{base_url}/response/{token}`` answering for ``user`` in ``channel`` (and the clicked message)."""
        with self._lock:
            now = self.clock.now()
            token = self._urls.mint(
                user=user, channel=channel, now=now, message_ts=message_ts, is_ephemeral=is_ephemeral
            )
            return f"{base_url.rstrip('/')}/response/{token}"

    def respond(self, token: str, payload: dict[str, Any]) -> None:
        """Apply a response_url post; a refusal raises ``SlackError`` with a 4xx status and changes nothing."""
        with self._lock:
            try:
                origin = self._urls.check(token, self.clock.now())
                self._messages.apply_response(origin, payload)
                origin.uses += 1
            except SlackError as exc:
                exc.status = 400 if exc.status == 200 else exc.status
                self._note_response("response_url", payload, exc.error)
                raise
            self._note_response("response_url", payload, None)

    def record_ack(self, user: str, channel: str, payload: dict[str, Any]) -> None:
        """Show a slash command's immediate answer (the ack body) the way Slack would."""
        with self._lock:
            origin = ResponseOrigin("ack", user, self.channel_id(channel), self.clock.now())
            try:
                self._messages.apply_response(origin, payload)
            except SlackError as exc:
                self._note_response("ack", payload, exc.error)
                return
            self._note_response("ack", payload, None)

    def _note_response(self, source: str, payload: dict[str, Any], error: str | None) -> None:
        entry = {"source": source, "body": copy.deepcopy(payload), "at": self.clock.now(), "error": error}
        self._responses.append(entry)
