"""Building blocks for messages, each keeping within Slack's Block Kit limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONFIRM_TEXT = 300
CONTEXT_ELEMENTS = 10
# Slack refuses a message whose blocks hold too much text in all (msg_blocks_too_long, seen near 12,000 characters:
# https://api.slack.com/methods/chat.postMessage#errors; the exact count is not documented). Stay well below.
MESSAGE_BLOCKS_TEXT = 11_000


@dataclass(frozen=True)
class Message:
    """A message: fallback ``text`` (notifications, screen readers) and ``blocks``."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / respond."""
        return {"text": self.text, "blocks": self.blocks}


def escape(text: object) -> str:
    """Text Tally did not write (customer names, reasons, API text), made inert for mrkdwn.

    Slack reads ``<...>`` as a link, mention or ``<!here>``/``<!channel>`` ping and ``&`` as the start of an entity;
    these three are the characters Slack says to escape as ``&amp;``, ``&lt;`` and ``&gt;``
    (https://api.slack.com/reference/surfaces/formatting#escaping). ``*`` and ``_`` are left: at worst they
    embolden, they cannot ping or link. The one place every block builder takes outside text through.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def counted(count: int, one: str, many: str | None = None) -> str:
    """``1 fix``, ``3 fixes``."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def money(amount: Decimal | None) -> str:
    """Dollars as a finance person reads them."""
    if amount is None:
        return "—"
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def section(markdown: str) -> Block:
    """A section of mrkdwn text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, SECTION_TEXT)}}


def fields(*columns: str) -> Block:
    """A section of side-by-side fields (at most 10)."""
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": clip(c, FIELD_TEXT)} for c in columns[:10]]}


def context(*parts: str) -> Block:
    """Small grey text under a block."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, SECTION_TEXT)} for p in parts[:10]]}


def header(text: str) -> Block:
    """A header block."""
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, 150), "emoji": True}}


def divider() -> Block:
    """A divider."""
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: tuple[str, str, str] | None = None,
) -> Block:
    """A button; ``confirm`` is (title, text, confirm-label) for a confirmation dialog."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": clip(value, BUTTON_VALUE),
    }
    if style:
        element["style"] = style
    if confirm:
        title, body, ok = confirm
        element["confirm"] = {
            "title": {"type": "plain_text", "text": clip(title, 100)},
            "text": {"type": "mrkdwn", "text": clip(body, CONFIRM_TEXT)},
            "confirm": {"type": "plain_text", "text": clip(ok, 30)},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return element


def actions(block_id: str, *elements: Block) -> Block:
    """An actions block (at most 25 elements)."""
    return {"type": "actions", "block_id": block_id, "elements": list(elements[:25])}


def text_length(node: object) -> int:
    """Characters of every ``text`` string in a block (or list of blocks): what Slack's total-text limit counts."""
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    if not isinstance(node, dict):
        return 0
    return sum(
        len(value) if key == "text" and isinstance(value, str) else text_length(value) for key, value in node.items()
    )


def chunk_blocks(
    blocks: list[Block], *, limit: int = MAX_BLOCKS, text_limit: int = MESSAGE_BLOCKS_TEXT
) -> list[list[Block]]:
    """Split blocks, in order, into messages of at most ``limit`` blocks and ``text_limit`` characters of text."""
    chunks: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for block in blocks:
        length = text_length(block)
        if current and (len(current) >= limit or size + length > text_limit):
            chunks.append(current)
            current, size = [], 0
        current.append(block)
        size += length
    if current:
        chunks.append(current)
    return chunks or [[]]


def packed(lines: Sequence[str], *, max_blocks: int, more: str = "…and {n} more") -> list[Block]:
    """Sections holding ``lines`` (each cut to fit), at most ``max_blocks`` blocks; what does not fit is counted."""
    blocks: list[Block] = []
    chunk: list[str] = []
    size = 0
    for index, raw in enumerate(lines):
        line = clip(raw, SECTION_TEXT)
        if chunk and size + 1 + len(line) > SECTION_TEXT:
            if len(blocks) + 2 >= max_blocks:  # room for this section and the "more" note only
                return [*blocks, section("\n".join(chunk)), context(more.format(n=len(lines) - index))]
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object cut to ``limit``."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def ago(at: datetime | None, now: datetime) -> str:
    """When something happened, as people say it: ``12 min ago (2026-11-20 14:05 UTC)``; ``never`` for None."""
    if at is None:
        return "never"
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 90:
        spoken = "just now"
    elif seconds < 90 * 60:
        spoken = f"{seconds // 60} min ago"
    elif seconds < 36 * 3600:
        spoken = f"{seconds // 3600} h ago"
    else:
        spoken = f"{seconds // 86400} days ago"
    return f"{spoken} ({at:%Y-%m-%d %H:%M} UTC)"
