"""``/tally map``: the ConnectWise companies Tally cannot check, what they have open, and their best candidates."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.blocks.common import Block, Message, context, escape, money, section
from sync.mapping import Unmapped

SHOWN = 20


def mapping_message(rows: Sequence[Unmapped], *, command: str) -> Message:
    """One line per company, largest open amount first, with how to confirm a candidate."""
    if not rows:
        text = ":white_check_mark: Every ConnectWise company has a QuickBooks customer Tally can check."
        return Message(text=text, blocks=[section(text)])
    lines = []
    for row in rows[:SHOWN]:
        offered = ", ".join(f"{escape(c.display_name)} (Id {escape(c.id)})" for c in row.candidates) or "no candidate"
        lines.append(
            f"• *{escape(row.company.name)}* ({escape(row.label)}) — {money(row.open_amount)} open — {offered}"
        )
    blocks: list[Block] = [
        section(f"*Companies Tally cannot check* ({len(rows)}): no writes are made for them until mapped."),
        section("\n".join(lines)),
        context(f"Confirm one with `{command} map ACCOUNT QUICKBOOKS-ID` (approvers only)."),
    ]
    return Message(text=f"{len(rows)} companies Tally cannot check", blocks=blocks)
