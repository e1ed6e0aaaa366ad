"""Read-only replies: one document explained, open AR per customer, the fixes, the audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.slack.blocks.common import (
    MAX_BLOCKS,
    Block,
    Message,
    context,
    counted,
    escape,
    fields,
    header,
    money,
    packed,
    section,
)
from bot.slack.blocks.findings import mention_users, title, who
from sync.explain import DocumentView
from sync.models import Action, AuditEvent, CWInvoice, QBODocument
from sync.reconcile.ar import CustomerAR

_ROOM = MAX_BLOCKS - 4  # what a list may use below a header, an intro and a closing note


def _cw_side(doc: CWInvoice | None) -> str:
    if doc is None:
        return "*ConnectWise*\nnot there"
    return (
        f"*ConnectWise* ({'credit memo' if doc.type == 'CreditMemo' else 'invoice'} id {doc.id})\n"
        f"Date: {doc.invoice_date or '—'}\nTotal: {money(doc.total)}\nPaid: {money(doc.payments)}\n"
        f"Credits: {money(doc.credits)}\nBalance: {money(doc.balance)}"
    )


def _qbo_side(doc: QBODocument) -> str:
    word = "credit memo" if doc.entity == "CreditMemo" else "invoice"
    extra = f"\nUnused credit: {money(doc.remaining_credit)}" if doc.remaining_credit is not None else ""
    return (
        f"*QuickBooks* ({word} Id {doc.id})\nDate: {doc.txn_date or '—'}\nTotal: {money(doc.total)}\n"
        f"Balance: {money(doc.balance)}{extra}"
    )


def explain_message(view: DocumentView, fixes: Mapping[str, Sequence[Action]] | None = None) -> Message:
    """One invoice or credit memo in both systems, side by side, and what Tally thinks of it.

    ``fixes``: per finding key, the fixes to name under it (a fix and the undo that reversed it, in order).
    """
    sides = [_cw_side(view.cw), *(_qbo_side(doc) for doc in view.qbo[:9])] if view.qbo else [_cw_side(view.cw)]
    if not view.qbo:
        sides.append("*QuickBooks*\nnot there")
    lines = [f"ConnectWise row: {money(r.amount)} from credit memo id {r.credit_memo_id}" for r in view.cw_rows]
    lines += [
        f"QuickBooks payment {link.payment_id} line {link.line_no}: {link.txn_type} {link.txn_id}, {money(link.amount)}"
        for link in view.qbo_links
    ]
    lines += [escape(line) for line in view.carried]
    verdicts = [
        f"*{title(row.kind)}* ({row.status}): {escape(row.explanation)}"
        + "".join(f"\n{_fix_line(action)}" for action in (fixes or {}).get(row.key, ()))
        for row in view.findings
    ]
    blocks: list[Block] = [header(f"{view.number}: ConnectWise and QuickBooks side by side"), fields(*sides)]
    if lines:
        blocks.append(context(*lines[:10]))
    blocks += packed(verdicts or [":white_check_mark: Tally finds nothing wrong with it."], max_blocks=_ROOM)
    text = f"{view.number}: " + ("; ".join(f"{r.kind} ({r.status})" for r in view.findings) or "nothing wrong")
    blocks.append(context("As of the last sync."))
    return Message(text=text[:3000], blocks=blocks)


def _fix_line(action: Action) -> str:
    name = f"Undo #{action.id} of fix #{action.undoes_action_id}" if action.undoes_action_id else f"Fix #{action.id}"
    return f"• {name} ({action.status}): {escape(action.description)}"


def _ar_line(line: CustomerAR) -> str:
    why = [f"{title(e.kind)} `{e.key}` ({money(e.amount)})" for e in line.explained]
    if line.pending:
        why.append(f"awaiting sync {money(line.pending)}")
    if line.rounding:
        why.append(f"rounding {money(line.rounding)}")
    if line.unexplained:
        why.append(f"*unexplained {money(line.unexplained)}*")
    return (
        f"*{escape(line.name)}*: ConnectWise {money(line.cw_open)} · QuickBooks {money(line.qbo_open)} · "
        f"difference {money(line.difference)}" + (f"\n    explained by {', '.join(why)}" if why else "")
    )


def ar_message(lines: Sequence[CustomerAR], customer: str | None, *, command: str) -> Message:
    """Open AR per customer in each system, the difference, and what explains it."""
    scope = f" matching “{escape(customer)}”" if customer else ""
    differing = [line for line in lines if line.difference or line.explained]
    shown = list(lines) if customer else differing
    blocks: list[Block] = [header(f"Open AR by customer{scope}")]
    if not shown:
        blocks.append(section(f"No customer{scope} has open AR that differs between the systems."))
    else:
        more = f"…and {{n}} more customers: name one with `{command} ar CUSTOMER`."
        blocks += packed([_ar_line(line) for line in shown], max_blocks=_ROOM, more=more)
    agree = len(lines) - len(differing)
    blocks.append(context(f"{len(differing)} customers differ, {agree} agree. As of the last sync."))
    return Message(text=f"Open AR by customer{scope}: {len(differing)} differ", blocks=blocks)


def actions_message(rows: Sequence[Action], status: str | None) -> Message:
    """The fixes, newest first, and where each stands."""
    scope = f" ({status})" if status else ""
    lines = [
        f"*#{a.id}* {a.status} · {money(a.amount)} · {escape(a.description)}"
        + (f"\n    {mention_users(a.result)}" if a.result else "")
        for a in rows
    ]
    blocks: list[Block] = [header(f"Fixes{scope}")]
    empty = section("No fixes" + (f" are {status}." if status else "."))
    blocks += packed(lines, max_blocks=_ROOM) if lines else [empty]
    return Message(text=f"{counted(len(rows), 'fix', 'fixes')}{scope}", blocks=blocks)


def _event_line(event: AuditEvent) -> str:
    amounts = " → ".join(money(a) for a in (event.amount_before, event.amount_after) if a is not None)
    when = f"{event.at:%Y-%m-%d %H:%M:%S}" if event.at else ""
    detail = mention_users(event.detail or "")
    return f"`{when}` {who(event.actor)} *{event.verb}* {escape(event.subject)}" + "".join(
        f" · {part}" for part in (amounts, detail) if part
    )


def history_message(events: Sequence[AuditEvent]) -> Message:
    """The audit trail, newest first."""
    blocks: list[Block] = [header("Audit trail (newest first)")]
    lines = [_event_line(event) for event in events]
    blocks += packed(lines, max_blocks=_ROOM) if lines else [section("Nothing has happened yet.")]
    return Message(text=f"The last {len(events)} events of the audit trail", blocks=blocks)
