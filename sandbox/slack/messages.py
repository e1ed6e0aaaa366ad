"""Every version of every message in the workspace, and what a response_url post does to them.

No lock here: ``SlackStore`` holds its lock around every call. Messages are Slack message objects (``type, channel,
ts, user, text, blocks, team``; the bot's carry ``bot_id`` and ``app_id``, thread replies ``thread_ts``, edited ones
``edited``). Ephemeral messages carry ``is_ephemeral: true`` and ``recipient``, the only user who sees them.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.clock import Clock
from sandbox.slack.blockkit import (
    MESSAGE_BLOCKS_TEXT_MAX,
    MESSAGE_TEXT_MAX,
    BlocksFormatError,
    blocks_text_length,
    message_problems,
    parse_blocks,
)
from sandbox.slack.errors import SlackError
from sandbox.slack.interactive import ResponseOrigin
from sandbox.slack.workspace import SlackWorkspace

Message = dict[str, Any]
Blocks = list[dict[str, Any]]


def check_content(text: object, blocks: Blocks | None) -> None:
    """Refuse a message Slack would refuse: invalid blocks, no text without blocks, text too long."""
    if blocks:
        problems = message_problems(blocks)
        if problems:
            raise SlackError.invalid_blocks(problems)
        if blocks_text_length(blocks) > MESSAGE_BLOCKS_TEXT_MAX:
            raise SlackError("msg_blocks_too_long")
    elif not text:
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")


def flag(value: object) -> bool:
    """Read a boolean sent as JSON or as a form string."""
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


class Conversations:
    """Messages by ``(channel, ts)``, each a list of versions (the last is current); deleted ones stay listed."""

    def __init__(self, workspace: SlackWorkspace, clock: Clock) -> None:
        self.workspace = workspace
        self.clock = clock
        self._versions: dict[tuple[str, str], list[Message]] = {}
        self._deleted: set[tuple[str, str]] = set()
        self._last_micros = 0

    def next_ts(self) -> str:
        """Return a unique, increasing Slack timestamp (``seconds.micros``) on the store clock."""
        micros = int(self.clock.now().timestamp() * 1_000_000)
        self._last_micros = max(micros, self._last_micros + 1)
        return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"

    def add(
        self,
        channel: str,
        text: object,
        blocks: Blocks | None,
        *,
        author: str | None = None,
        thread_ts: str | None = None,
        recipient: str | None = None,
    ) -> Message:
        """Store a new message (by the bot unless ``author``) and return a copy."""
        workspace = self.workspace
        ts = self.next_ts()
        message: Message = {"type": "message", "channel": channel, "ts": ts, "text": text or ""}
        message.update(user=author or workspace.bot_user_id, team=workspace.team_id)
        if author is None:
            message.update(bot_id=workspace.bot_id, app_id=workspace.app_id)
        if blocks:
            message["blocks"] = copy.deepcopy(blocks)
        if thread_ts:
            message["thread_ts"] = thread_ts
        if recipient:
            message.update(is_ephemeral=True, recipient=recipient)
        self._versions[(channel, ts)] = [message]
        return copy.deepcopy(message)

    def revise(self, revised: Message) -> Message:
        """Append ``revised`` as the new version of its message, marked edited by the bot."""
        revised["edited"] = {"user": self.workspace.bot_user_id, "ts": self.next_ts()}
        self._versions[(revised["channel"], revised["ts"])].append(revised)
        return copy.deepcopy(revised)

    def current(self, channel: str, ts: str, *, ephemeral: bool | None) -> Message | None:
        """Return the live current version (not a copy); ``ephemeral`` filters by kind when not ``None``."""
        key = (channel, ts)
        versions = self._versions.get(key)
        if not versions or key in self._deleted:
            return None
        latest = versions[-1]
        if ephemeral is not None and bool(latest.get("is_ephemeral")) != ephemeral:
            return None
        return latest

    def versions(self, channel: str, ts: str) -> list[Message]:
        """Return copies of every version of one message."""
        return copy.deepcopy(self._versions.get((channel, ts), []))

    def visible(self) -> list[Message]:
        """Return copies of the current version of every message not deleted, oldest first."""
        return [copy.deepcopy(v[-1]) for key, v in self._versions.items() if key not in self._deleted]

    def apply_response(self, origin: ResponseOrigin, payload: dict[str, Any]) -> None:
        """Do what a response_url post (or a slash command's ack body) asks; refuse without changing anything."""
        text = payload.get("text")
        try:
            blocks = parse_blocks(payload.get("blocks"))
        except BlocksFormatError:
            raise SlackError("invalid_blocks_format") from None
        if flag(payload.get("delete_original")) or flag(payload.get("replace_original")):
            self._change_original(origin, payload, text, blocks)
            return
        check_content(text, blocks)
        thread_ts = payload.get("thread_ts") or None
        # [U] Without replace_original a response posts a new message (Slack's default for block_actions).
        if payload.get("response_type") == "in_channel":
            self.add(origin.channel, text, blocks, thread_ts=thread_ts)
        else:
            self.add(origin.channel, text, blocks, thread_ts=thread_ts, recipient=origin.user)

    def _change_original(
        self, origin: ResponseOrigin, payload: dict[str, Any], text: object, blocks: Blocks | None
    ) -> None:
        original = origin.message_ts
        current = self.current(origin.channel, original, ephemeral=None) if original else None
        if current is None:
            # [U] Slack's answer when there is no original (a slash command's url, a deleted message) is undocumented.
            raise SlackError("message_not_found", status=404)
        if flag(payload.get("delete_original")):
            self._deleted.add((origin.channel, str(original)))
            return
        check_content(text, blocks)
        revised = copy.deepcopy(current)
        revised["text"] = text or ""
        revised.pop("blocks", None)
        if blocks:
            revised["blocks"] = copy.deepcopy(blocks)
        self.revise(revised)
