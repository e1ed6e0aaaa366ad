"""``tally doctor``'s Slack checks, read only: the bot token works and has the scopes Tally needs, the bot can post
in the alert channel, the approver group resolves, and the token for the chosen mode (HTTP or Socket Mode) is there.

``auth.test``'s answer names the token's scopes in ``x-oauth-scopes`` (https://api.slack.com/methods/auth.test);
``conversations.info`` tells membership (``is_member``); ``apps.connections.open`` only issues a URL (no connection
is opened, nothing is posted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.scopes import required_scopes
from bot.slack.tokens import REFUSED, app_token_problem, bot_token_problem, secret
from sync.doctor import Check, Section
from sync.settings import Settings

SYSTEM = "Slack"
REINSTALL = (
    "Add them under OAuth & Permissions -> Scopes (or paste slack-app-manifest.yml again), then reinstall the app."
)
DEPENDENT = (
    ("slack.scopes", "Bot scopes"),
    ("slack.channel", "Bot can post in the alert channel"),
    ("slack.approvers", "Approvers resolve"),
)


def slack_checker(settings: Settings, client_for: Callable[[Settings], WebClient]) -> Callable[[], list[Check]]:
    """The Slack checks as a ``sync.doctor`` checker."""
    return lambda: check_slack(settings, client_for(settings))


def check_slack(settings: Settings, client: WebClient) -> list[Check]:
    """Every Slack check, in order."""
    section = Section(SYSTEM)
    scopes = _token(section, settings, client)
    if scopes is None:
        section.skip(DEPENDENT, "the bot token does not work.")
    else:
        _scopes(section, scopes)
        _channel(section, settings, client, scopes)
        _approvers(section, settings, client)
    _mode(section, settings, client)
    return section.checks


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def _header(headers: Mapping[str, object], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _token(section: Section, settings: Settings, client: WebClient) -> set[str] | None:
    """auth.test; the token's scopes (empty when Slack did not say), ``None`` when the token does not work."""
    title = "Bot token works"
    problem = bot_token_problem(settings)
    if problem is not None:
        section.fail("slack.token", title, problem, "Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…).")
        return None
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = _error(exc)
        section.fail(
            "slack.token",
            title,
            f"Slack refused SLACK_BOT_TOKEN ({error}).",
            "Copy the Bot User OAuth Token again from the app's Install App page; reinstall the app if it was revoked.",
        )
        return None
    except OSError as exc:
        section.fail(
            "slack.token",
            title,
            f"Cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__}).",
            "Check the network (and SLACK_API_URL, if set).",
        )
        return None
    section.passed("slack.token", title, f"Signed in as @{answer.get('user')} in {answer.get('team')}.")
    granted = _header(answer.headers, "x-oauth-scopes")
    return {scope.strip() for scope in granted.split(",") if scope.strip()} if granted is not None else set()


def _scopes(section: Section, granted: set[str]) -> None:
    title = "Bot scopes"
    needed = required_scopes()
    if not granted:
        section.warn(
            "slack.scopes",
            title,
            "Slack did not say which scopes the token has (no x-oauth-scopes header).",
            f"Check OAuth & Permissions -> Scopes lists: {', '.join(needed)}.",
        )
        return
    missing = [scope for scope in needed if scope not in granted]
    if missing:
        section.fail("slack.scopes", title, f"The bot token lacks {', '.join(missing)}.", REINSTALL)
    else:
        section.passed("slack.scopes", title, f"The bot token has every scope Tally uses ({', '.join(needed)}).")


def _channel(section: Section, settings: Settings, client: WebClient, granted: set[str]) -> None:
    title = "Bot can post in the alert channel"
    channel = settings.channel
    if not channel:
        section.fail(
            "slack.channel", title, "TALLY_CHANNEL is not set.", "Set TALLY_CHANNEL to the alert channel's id (C…)."
        )
        return
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        error = _error(exc)
        if error == "missing_scope":
            section.warn(
                "slack.channel",
                title,
                f"The bot may not look at channels ({error}: {exc.response.get('needed')}).",
                REINSTALL,
            )
        else:
            section.fail(
                "slack.channel",
                title,
                f"Slack cannot find TALLY_CHANNEL {channel} ({error}).",
                "Set TALLY_CHANNEL to the channel's id (channel details -> About, at the bottom); for a private "
                "channel, invite the bot first (`/invite @tally`).",
            )
        return
    name = f"#{info.get('name')}"
    if info.get("is_archived"):
        section.fail("slack.channel", title, f"{name} is archived.", "Unarchive it, or pick another TALLY_CHANNEL.")
    elif info.get("is_member"):
        section.passed("slack.channel", title, f"The bot is a member of {name}.")
    elif not info.get("is_private") and "chat:write.public" in granted:
        section.passed("slack.channel", title, f"{name} is public and the bot has chat:write.public.")
    else:
        section.fail(
            "slack.channel",
            title,
            f"The bot is not a member of {name}, so alerts and the digest cannot be posted there.",
            f"Invite it: type `/invite @tally` in {name}.",
        )


def _approvers(section: Section, settings: Settings, client: WebClient) -> None:
    title = "Approvers resolve"
    named = list(settings.approvers)
    group = settings.approver_group
    if not group:
        if named:
            section.passed("slack.approvers", title, f"TALLY_APPROVERS names {len(named)} people.")
        else:
            section.fail(
                "slack.approvers",
                title,
                "Neither TALLY_APPROVERS nor TALLY_APPROVER_GROUP is set: nobody may approve a fix.",
                "Set TALLY_APPROVER_GROUP to a user group id (S…) or TALLY_APPROVERS to user ids (U…).",
            )
        return
    try:
        members = list(client.usergroups_users_list(usergroup=group)["users"])
    except SlackApiError as exc:
        error = _error(exc)
        remedy = (
            REINSTALL
            if error == "missing_scope"
            else "Set TALLY_APPROVER_GROUP to the group's id (S…): People -> User groups -> the group -> its link."
        )
        section.fail("slack.approvers", title, f"Slack cannot read user group {group} ({error}).", remedy)
        return
    if members or named:
        extra = f" and TALLY_APPROVERS names {len(named)}" if named else ""
        section.passed("slack.approvers", title, f"User group {group} has {len(members)} members{extra}.")
    else:
        section.fail(
            "slack.approvers",
            title,
            f"User group {group} has no members: nobody may approve a fix.",
            "Add the approvers to the group in Slack, or name them in TALLY_APPROVERS.",
        )


def _mode(section: Section, settings: Settings, client: WebClient) -> None:
    title = "Slack delivers commands and clicks"
    app_token, signing = secret(settings.slack_app_token), secret(settings.slack_signing_secret)
    if not app_token:
        if signing:
            section.passed(
                "slack.mode", title, "HTTP mode (`tally web`): SLACK_SIGNING_SECRET is set; Slack needs a public URL."
            )
        else:
            section.fail(
                "slack.mode",
                title,
                "Neither SLACK_SIGNING_SECRET (for `tally web`) nor SLACK_APP_TOKEN (for `tally worker`) is set.",
                "Set SLACK_SIGNING_SECRET and run `tally web` behind a public URL, or turn on Socket Mode, set "
                "SLACK_APP_TOKEN (xapp-…) and run `tally worker`.",
            )
        return
    problem = app_token_problem(settings)
    if problem is not None:
        section.fail("slack.mode", title, problem, "Fix SLACK_APP_TOKEN, then re-run doctor.")
        return
    try:
        client.apps_connections_open(app_token=app_token)  # issues a URL; nothing connects
    except SlackApiError as exc:
        error = _error(exc)
        section.fail(
            "slack.mode", title, REFUSED.get(error, f"Slack refused SLACK_APP_TOKEN ({error})."), "Fix SLACK_APP_TOKEN."
        )
        return
    section.passed("slack.mode", title, "Socket Mode (`tally worker`): Slack accepts SLACK_APP_TOKEN.")
