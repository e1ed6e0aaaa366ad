"""Show a Slack message in the terminal, rendered from the very Block Kit the bot posts (for ``tally demo``)."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.slack.blocks.common import Message

_EMOJI = {
    ":warning:": "⚠",
    ":white_check_mark:": "✔",
    ":x:": "✖",
    ":no_entry_sign:": "⛔",
    ":mag:": "🔎",
    ":arrows_counterclockwise:": "↻",
    ":bar_chart:": "📊",
    ":calendar:": "📅",
    ":hourglass:": "⏳",
}


def _mrkdwn(text: str) -> str:
    text = escape(text)
    for code, glyph in _EMOJI.items():
        text = text.replace(code, glyph)
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?!\w)", r"[bold]\1[/bold]", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?!\w)", r"[italic]\1[/italic]", text)
    return re.sub(r"`([^`]+)`", r"[cyan]\1[/cyan]", text)


def _block(block: dict[str, Any]) -> RenderableType | None:
    kind = block.get("type")
    if kind == "header":
        return Text(block["text"]["text"], style="bold underline")
    if kind == "section" and "fields" in block:
        table = Table.grid(padding=(0, 4))
        for _ in block["fields"]:
            table.add_column()
        table.add_row(*(Text.from_markup(_mrkdwn(f["text"])) for f in block["fields"]))
        return table
    if kind == "section":
        return Text.from_markup(_mrkdwn(block["text"]["text"]))
    if kind == "context":
        return Text.from_markup(" · ".join(_mrkdwn(e.get("text", "")) for e in block["elements"]), style="dim")
    if kind == "actions":
        labels = []
        for element in block["elements"]:
            style = {"primary": "bold green", "danger": "bold red"}.get(element.get("style", ""), "bold")
            labels.append(f"[{style}][ {escape(element['text']['text'])} ][/{style}]")
        return Text.from_markup("  ".join(labels))
    if kind == "divider":
        return Text("─" * 40, style="dim")
    return None


def render(message: Message, *, title: str = "Tally", subtitle: str | None = None) -> Panel:
    """A message as a panel, blocks top to bottom."""
    parts = [part for part in (_block(block) for block in message.blocks) if part is not None]
    return Panel(
        Group(*parts) if parts else Text(message.text),
        title=title,
        subtitle=subtitle,
        title_align="left",
        border_style="magenta",
        expand=False,
        width=100,
    )
