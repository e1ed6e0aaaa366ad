"""The Slack Home tab: for the person looking, where the books stand and what waits for them.

Shown: the health of both connections, the last check, the AR difference between the systems, open findings by
kind with amounts, real-time notifications, and the fixes waiting for this person's approval: with Approve and
Reject for an approver, as a list for anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.slack.blocks.common import Block, ago, context, divider, escape, fields, header, money, section
from bot.slack.blocks.findings import decision_buttons
from bot.slack.blocks.status import connections_text, findings_text, pushes_text
from sync.qbo_auth import ConnectionHealth
from sync.reports import Overview, Waiting

MAX_FIXES = 10  # two blocks each; a Home tab holds at most 100


@dataclass(frozen=True)
class HomeData:
    """What the Home tab shows one person."""

    view: Overview
    health: ConnectionHealth
    cw_configured: bool
    ar: tuple[Decimal, Decimal] | None  # open AR in ConnectWise and in QuickBooks; None before any sync
    approver: bool
    mine: list[Waiting]  # fixes this person may still approve


def home_view(data: HomeData, *, now: datetime) -> dict[str, Any]:
    """The ``home`` view for ``views.publish``."""
    view = data.view
    if data.ar is None:
        ar_text = "*AR difference*\nnot read yet"
    else:
        cw, qbo = data.ar
        ar_text = f"*AR difference*\n{money(cw - qbo)} (ConnectWise {money(cw)}, QuickBooks {money(qbo)})"
    blocks: list[Block] = [
        header("Tally"),
        section(connections_text(view, data.health, cw_configured=data.cw_configured, now=now)),
        fields(f"*Last check*\n{ago(view.last_check, now)}", ar_text),
        section(findings_text(view)),
        divider(),
        *_fixes(data),
        divider(),
        section(pushes_text(view)),
        context(f"Updated {now:%Y-%m-%d %H:%M} UTC; refreshed when you open this tab and after each check."),
    ]
    return {"type": "home", "callback_id": "tally_home", "blocks": blocks}


def _fixes(data: HomeData) -> list[Block]:
    if not data.approver:
        count = len(data.view.waiting)
        return [
            section(f"*Fixes waiting for approval*: {count}."),
            context("Only approvers can approve fixes (TALLY_APPROVERS / TALLY_APPROVER_GROUP)."),
        ]
    if not data.mine:
        return [section("*Fixes waiting for your approval*: none.")]
    total = sum((w.action.amount for w in data.mine), Decimal("0.00"))
    blocks: list[Block] = [section(f"*Fixes waiting for your approval*: {len(data.mine)}, {money(total)} in total")]
    for waiting in data.mine[:MAX_FIXES]:
        action = waiting.action
        note = f" ({waiting.approvals} of {action.approvals_needed} approvals)" if action.approvals_needed > 1 else ""
        blocks.append(section(f"#{action.id} {escape(action.description)}{note}"))
        blocks.append(decision_buttons(action))
    if len(data.mine) > MAX_FIXES:
        blocks.append(context(f"…and {len(data.mine) - MAX_FIXES} more: `/tally actions proposed`"))
    return blocks
