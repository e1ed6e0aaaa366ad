"""Previews of fixes (``/tally payments | credits | mirror``): each exact write with its Approve button.

A row's ``block_id`` is ``tally_preview:<action id>:<group>:<shown>:<filter>``, so a click can redraw the same
preview; the button's value is only the action id. ``shown`` names the fixes this preview showed (a token Tally
remembers with their ids, ``bot.slack.listeners.binding``): an ephemeral message's ts never reaches Tally, so the
click proves which preview it came from this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from bot.slack.blocks.common import Block, Message, actions, clip, context, counted, escape, header, money, section
from bot.slack.blocks.findings import ActionView, approve_all_button, approve_button, status_line
from bot.slack.ids import BlockId

TITLES = {
    "payments": ("Payments QuickBooks has that ConnectWise lacks", "ConnectWise has every payment QuickBooks has"),
    "credits": (
        "Credit memos applied in one system but not the other",
        "every credit memo is applied alike in both systems",
    ),
    "mirror": ("ConnectWise documents missing in QuickBooks", "QuickBooks has every ConnectWise document"),
}
MAX_ROWS = 40


def preview_block_id(key: int | str, group: str, arg: str | None, shown: str = "") -> str:
    """The block id of one preview row (``key`` an action id) or of its "Approve all" (``key`` = ``all``)."""
    return clip(f"{BlockId.PREVIEW}:{key}:{group}:{shown}:{arg or ''}", 255)


def read_preview_block_id(block_id: str) -> tuple[str, str | None] | None:
    """The group and filter a preview block id names, or None if it is not a preview's."""
    parts = block_id.split(":", 4)
    if len(parts) != 5 or parts[0] != BlockId.PREVIEW or parts[2] not in TITLES:
        return None
    return parts[2], parts[4] or None


def preview_shown(block_id: str) -> str | None:
    """The token naming which fixes a preview showed, or None if ``block_id`` is not a preview's."""
    parts = block_id.split(":", 4)
    if len(parts) != 5 or parts[0] != BlockId.PREVIEW or not parts[3]:
        return None
    return parts[3]


def _row(view: ActionView, group: str, arg: str | None, shown: str) -> Block:
    action = view.action
    block = section(f"*#{action.id}* · {money(action.amount)} · {escape(action.description)}\n{status_line(view)}")
    block["block_id"] = preview_block_id(action.id or 0, group, arg, shown)
    if action.status == "proposed":
        block["accessory"] = approve_button(action)
    return block


def preview_message(
    group: str,
    arg: str | None,
    views: Sequence[ActionView],
    *,
    command: str,
    note: str | None = None,
    shown: str = "",
) -> Message:
    """The fixes of one group waiting for a decision, each with Approve; "Approve all N" when several wait."""
    heading, none = TITLES[group]
    scope = f" for “{escape(arg)}”" if arg else ""
    blocks: list[Block] = [header(f"{heading}{scope}")]
    if note:
        blocks.append(context(note))
    if not views:
        blocks.append(section(f":white_check_mark: Nothing to fix{scope}: {none}."))
        return Message(text=f"{heading}{scope}: nothing to fix", blocks=blocks)
    proposed = [view.action for view in views if view.action.status == "proposed"]
    total = sum((view.action.amount for view in views), Decimal("0.00"))
    blocks.append(section(f"{counted(len(views), 'fix', 'fixes')}, {money(total)} in total. Each is re-checked first."))
    blocks += [_row(view, group, arg, shown) for view in views[:MAX_ROWS]]
    if len(views) > MAX_ROWS:
        blocks.append(context(f"…and {len(views) - MAX_ROWS} more: narrow it down with `{command} {group} NUMBER`."))
    approve_all = approve_all_button(proposed[:MAX_ROWS]) if len(proposed) > 1 else None
    if approve_all is not None:
        blocks.append(actions(preview_block_id("all", group, arg, shown), approve_all))
    return Message(text=f"{heading}{scope}: {counted(len(views), 'fix', 'fixes')} ({money(total)})", blocks=blocks)
