"""``/tally status``: connections, the last check, open findings by kind, approvals waiting, QuickBooks token health."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.slack.blocks.common import Block, Message, ago, context, counted, escape, fields, header, money, section
from bot.slack.blocks.findings import title
from sync.notifications import CW, QBO, source_sentence
from sync.qbo_auth import ConnectionHealth, ConnectionState
from sync.reports import Overview
from sync.sweep import sweep_summary

_HEALTH_ICON = {
    ConnectionState.CONNECTED: ":white_check_mark:",
    ConnectionState.EXPIRING: ":warning:",
    ConnectionState.NOT_CONNECTED: ":x:",
    ConnectionState.NEEDS_RECONNECT: ":x:",
}


def _connections(view: Overview, health: ConnectionHealth, *, cw_configured: bool, now: datetime) -> str:
    cw_line = (
        f":white_check_mark: *ConnectWise*: last read {ago(view.last_read.get('ConnectWise'), now)}"
        if cw_configured
        else ":x: *ConnectWise*: not configured (set CW_* in Tally's settings)"
    )
    qbo_line = f"{_HEALTH_ICON[health.state]} *QuickBooks*: {health.sentence}"
    if health.ok:
        qbo_line += f" Last read {ago(view.last_read.get('QuickBooks'), now)}."
    return "\n".join((cw_line, qbo_line))


def _token(health: ConnectionHealth) -> str:
    words = {
        ConnectionState.CONNECTED: "healthy",
        ConnectionState.EXPIRING: "expiring soon",
        ConnectionState.NOT_CONNECTED: "not connected",
        ConnectionState.NEEDS_RECONNECT: "needs reconnecting",
    }
    word = f"{_HEALTH_ICON[health.state]} {words[health.state]}"
    if health.warn_reconnect_by is not None:
        word += f": reconnect before {health.warn_reconnect_by:%Y-%m-%d}"
    return word


def _findings(view: Overview) -> str:
    if not view.open_by_kind:
        return "*Open findings*: none — the books agree."
    lines = [f"*Open findings*: {view.open_count}"]
    lines += [f"• {title(kind)}: {count} ({money(amount)})" for kind, (count, amount) in view.open_by_kind.items()]
    return "\n".join(lines)


def _waiting(view: Overview) -> str:
    if not view.waiting:
        return "*Approvals waiting*: none."
    total = sum((w.action.amount for w in view.waiting), Decimal("0.00"))
    halfway = [w for w in view.waiting if w.action.status == "proposed" and 0 < w.approvals < w.action.approvals_needed]
    lines = [f"*Approvals waiting*: {counted(len(view.waiting), 'fix', 'fixes')}, {money(total)} in total"]
    if halfway:
        lines.append(f"• {len(halfway)} have 1 of 2 approvals and need a second, different approver")
    lines += [
        f"• #{w.action.id} {escape(w.action.description)} ({w.approvals} of {w.action.approvals_needed} approvals)"
        for w in view.waiting[:10]
    ]
    if len(view.waiting) > 10:
        lines.append(f"…and {len(view.waiting) - 10} more (`actions proposed`)")
    return "\n".join(lines)


def _pushes(view: Overview) -> str:
    """The last notification from each system and the checks they started (issue 11 §2)."""
    lines = [f"• {source_sentence(system, view.pushes.get(system))}" for system in (QBO, CW)]
    return "*Real-time notifications*\n" + "\n".join(lines)


connections_text, findings_text, pushes_text = _connections, _findings, _pushes  # the Home tab shows them too


def status_message(
    view: Overview,
    health: ConnectionHealth,
    *,
    cw_configured: bool,
    channel: str | None,
    now: datetime,
    delivery: str | None = None,
) -> Message:
    """Where Tally stands, for one person; ``delivery`` says what did not reach the alert channel (and why)."""
    blocks: list[Block] = [
        header("Tally status"),
        section(_connections(view, health, cw_configured=cw_configured, now=now)),
        fields(f"*Last check*\n{ago(view.last_check, now)}", f"*QuickBooks token*\n{_token(health)}"),
        section(_findings(view)),
        section(_waiting(view)),
        section(f"*Full sweep*\n{escape(sweep_summary(view.sweep, now=now))}"),
        section(_pushes(view)),
        context(f"Alerts go to <#{channel}>." if channel else "No alert channel is set (TALLY_CHANNEL)."),
    ]
    if delivery:
        blocks.insert(2, section(f":warning: *Slack*: {delivery}"))
    return Message(text=f"Tally: {view.open_count} open findings, {len(view.waiting)} fixes waiting", blocks=blocks)
