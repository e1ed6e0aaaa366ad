"""Undo: reverse a fix Tally carried out, as an action of its own, proposed and approved like any fix.

An undo is an ``Action`` whose kind is ``undo_<fix kind>`` and whose ``undoes_action_id`` names the fix. It
shares the fix's finding key, so the partial unique index keeps at most one live undo per fix (two people asking
at once get the same one) and no new fix for that finding while it waits. From there it is an ordinary action:
the same approvals (two different people above ``TALLY_DUAL_APPROVAL_ABOVE``), the same executor (claim, re-check,
ledger committed before the call, never re-sent, unsure settled by looking).

The reverse writes:

- a ConnectWise payment or credit row Tally recorded: deleted (``DELETE /finance/invoices/{id}/payments/{id}``);
- a QuickBooks credit application (a zero-total payment Tally made): deleted; a void would leave an empty
  zero-total payment behind and records no money either way (see ``QuickBooksClient.delete_payment``);
- a QuickBooks invoice or credit memo Tally mirrored: voided, never deleted, and only while nothing is applied
  to it.

Undo is offered for ``TALLY_UNDO_FOR`` after the fix ran, and only when Tally knows for certain which record is its
own: the ledger holds the id the write answered with, or (after a lost answer) the record carries Tally's request
id. A ConnectWise row found by looking after a lost answer carries no such mark, so it is not offered.

Before the reverse write, ``recheck`` reads the record again: gone, changed since Tally wrote it, or something now
depends on it (money applied to a mirrored invoice, a memo's credit used) → superseded with the reason, nothing
written. After an undo the finding comes back at the next check; ``TALLY_AUTO_APPROVE`` does not approve it again
(``was_undone``), a person does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from sync import audit
from sync.actions.approving import planned_on
from sync.actions.lifecycle import LIVE, Written, load, subject
from sync.actions.policy import approvals_needed
from sync.actions.proposals import Params, params_of, was_undone
from sync.actions.recheck import NOTHING, Check
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import NotFoundError
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, AuditEvent, LedgerEntry, utcnow
from sync.reconcile.text import money
from sync.records import QBOCreditMemo, QBOInvoice, QBOPayment
from sync.settings import Settings

UNDO_OF = {
    "backflow_payment": "undo_backflow_payment",
    "apply_credit_in_cw": "undo_apply_credit_in_cw",
    "apply_credit_memo": "undo_apply_credit_memo",
    "mirror_invoice": "undo_mirror_invoice",
    "mirror_credit_memo": "undo_mirror_credit_memo",
}
UNDO_KINDS = tuple(UNDO_OF.values())
__all__ = ["UNDO_KINDS", "UNDO_OF", "UndoOffer", "offer_undo", "was_undone"]
OPERATIONS = {
    "undo_backflow_payment": ("ConnectWise", "delete_payment"),
    "undo_apply_credit_in_cw": ("ConnectWise", "delete_payment"),
    "undo_apply_credit_memo": ("QuickBooks", "delete_payment"),
    "undo_mirror_invoice": ("QuickBooks", "void_invoice"),
    "undo_mirror_credit_memo": ("QuickBooks", "void_credit_memo"),
}
_CW = ("backflow_payment", "apply_credit_in_cw")
_MIRRORS = ("mirror_invoice", "mirror_credit_memo")


def is_undo(kind: str) -> bool:
    """Tell whether an action kind reverses a fix."""
    return kind in UNDO_KINDS


@dataclass(frozen=True)
class UndoOffer:
    """What asking to undo a fix did: the undo action (new or already there), or why there is none."""

    fix_id: int
    action: Action | None
    created: bool
    sentence: str


# -- offering ------------------------------------------------------------------------------------------------------
def offer_undo(
    engine: Engine, fix_id: int, *, settings: Settings, actor: str, now: datetime | None = None
) -> UndoOffer:
    """Propose the undo of fix ``fix_id`` (or return the one already proposed); say why not when it cannot be."""
    now = now or utcnow()
    with session_scope(engine, write_lock=True) as session:
        fix = load(session, fix_id, lock=True)
        live = live_undo(session, fix_id)
        if live is not None:
            return UndoOffer(fix_id, live, False, f"Undo #{live.id} is already proposed: {live.description}.")
        reason = why_not(session, fix, settings=settings, now=now)
        if reason is not None:
            return UndoOffer(fix_id, None, False, reason)
        params = undo_params(session, fix)
        try:
            with session.begin_nested():
                action = _create(session, fix, params, settings, actor)
        except IntegrityError:  # another live action holds the finding: an undo asked a moment ago, or a new fix
            live = live_undo(session, fix_id)
            if live is not None:
                return UndoOffer(fix_id, live, False, f"Undo #{live.id} is already proposed: {live.description}.")
            return UndoOffer(
                fix_id,
                None,
                False,
                f"Another fix for the same finding is under way; fix #{fix_id} can be undone once it has ended.",
            )
        return UndoOffer(fix_id, action, True, f"Proposed undo #{action.id}: {action.description}.")


def live_undo(session: Session, fix_id: int) -> Action | None:
    """The proposed, approved, executing or unsure undo of a fix, if there is one."""
    statement = select(Action).where(col(Action.undoes_action_id) == fix_id, col(Action.status).in_(LIVE))
    return session.execute(statement.execution_options(populate_existing=True)).scalars().first()


def undos_of(session: Session, fix_ids: list[int]) -> dict[int, Action]:
    """The newest undo of each of ``fix_ids`` (a live one when there is one)."""
    found: dict[int, Action] = {}
    if not fix_ids:
        return found
    statement = select(Action).where(col(Action.undoes_action_id).in_(fix_ids)).order_by(col(Action.id))
    for action in session.execute(statement).scalars():
        assert action.undoes_action_id is not None
        current = found.get(action.undoes_action_id)
        if current is None or current.status not in LIVE or action.status in LIVE:
            found[action.undoes_action_id] = action
    return found


def period(span: timedelta) -> str:
    """A period in words: ``30 days``, ``12 hours``, ``45 minutes``."""
    seconds = int(span.total_seconds())
    for size, word in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {word}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def can_undo(session: Session, fix: Action, *, settings: Settings, now: datetime | None = None) -> bool:
    """Whether fix ``fix`` offers Undo now (its alert shows the button)."""
    return why_not(session, fix, settings=settings, now=now or utcnow()) is None and (
        fix.id is not None and live_undo(session, fix.id) is None
    )


def why_not(session: Session, fix: Action, *, settings: Settings, now: datetime) -> str | None:
    """The sentence saying why ``fix`` cannot be undone, or None when it can."""
    if is_undo(fix.kind):
        return f"#{fix.id} is itself an undo; it cannot be undone. Ask for the fix again at the next check."
    if fix.kind not in UNDO_OF:
        return f"Fix #{fix.id} is not a write Tally can reverse."
    if fix.status != "succeeded":
        return f"Fix #{fix.id} was not carried out (it is {fix.status}), so there is nothing to undo."
    done = _undone_by(session, fix)
    if done is not None:
        return f"Fix #{fix.id} was already undone by #{done.id}: {done.result}"
    if fix.executed_at is None or now - fix.executed_at > settings.undo_for:
        ran = f" on {fix.executed_at:%Y-%m-%d}" if fix.executed_at else ""
        return (
            f"Fix #{fix.id} ran{ran}, more than {period(settings.undo_for)} ago: Tally offers undo for "
            f"{period(settings.undo_for)} (TALLY_UNDO_FOR). Reverse it by hand if it is still wrong."
        )
    entry = own_write(session, fix)
    if entry is None:
        return (
            f"Tally cannot tell for certain which record fix #{fix.id} made, so it does not offer to undo it. "
            "Reverse it by hand if it is wrong."
        )
    if fix.kind in _CW and _found_by_looking(session, fix):
        return (
            f"The answer to fix #{fix.id} was lost and Tally found the row by looking: ConnectWise rows carry no mark "
            "of who made them, so Tally cannot be certain it is its own and does not offer to undo it. "
            "Delete it by hand in ConnectWise if it is wrong."
        )
    return None


def own_write(session: Session, fix: Action) -> LedgerEntry | None:
    """The ledger row of the write that made the fix's record (done, with the same remote id), if any."""
    if not fix.remote_id or fix.id is None:
        return None
    statement = select(LedgerEntry).where(
        col(LedgerEntry.action_id) == fix.id,
        col(LedgerEntry.status) == "done",
        col(LedgerEntry.remote_id) == fix.remote_id,
    )
    return session.execute(statement).scalars().first()


def _found_by_looking(session: Session, fix: Action) -> bool:
    statement = select(AuditEvent.id).where(
        col(AuditEvent.subject) == subject(fix.id or 0), col(AuditEvent.verb) == "action.unsure"
    )
    return session.execute(statement.limit(1)).first() is not None


def _undone_by(session: Session, fix: Action) -> Action | None:
    statement = select(Action).where(col(Action.undoes_action_id) == fix.id, col(Action.status) == "succeeded")
    return session.execute(statement).scalars().first()


def undo_params(session: Session, fix: Action) -> Params:
    """What the reverse write needs: the fix's documents, the record it made, and how that record looked."""
    entry = own_write(session, fix)
    assert entry is not None
    assert fix.remote_id is not None
    source = params_of(fix)
    keep = (
        "number",
        "invoice",
        "credit_memo",
        "customer",
        "date",
        "cw_invoice_id",
        "cw_credit_memo_id",
        "qbo_invoice_id",
        "qbo_credit_memo_id",
        "qbo_customer_id",
    )
    params: Params = {key: source[key] for key in keep if source.get(key)}
    params.update(fix_id=str(fix.id), amount=str(abs(Decimal(source["amount"]))), remote_id=fix.remote_id)
    params["request_id"] = entry.request_id
    return params


def _create(session: Session, fix: Action, params: Params, settings: Settings, actor: str) -> Action:
    assert fix.id is not None
    kind, amount, now = UNDO_OF[fix.kind], Decimal(params["amount"]), utcnow()
    action = Action(
        finding_key=fix.finding_key,
        kind=kind,
        params=json.dumps(params, sort_keys=True),
        amount=amount,
        description=describe_undo(kind, params),
        requested_by=actor,
        approvals_needed=approvals_needed(amount, settings),
        created_at=now,
        updated_at=now,
        slack_channel=fix.slack_channel,
        slack_ts=fix.slack_ts,
        undoes_action_id=fix.id,
        planned_on=planned_on(kind, params),
    )
    session.add(action)
    session.flush()
    assert action.id is not None
    detail = f"{action.description} (undoes fix #{fix.id})"
    audit.record(
        session, actor=actor, verb="action.proposed", subject=subject(action.id), amount_after=amount, detail=detail
    )
    audit.record(
        session,
        actor=actor,
        verb="action.undo_proposed",
        subject=subject(fix.id),
        amount_before=amount,
        detail=f"Undo #{action.id} proposed: {action.description}",
    )
    return action


# -- the reverse write, in words -----------------------------------------------------------------------------------
def describe_undo(kind: str, params: Params) -> str:
    """Say exactly what the undo will write, the way a fix says it."""
    amount = money(Decimal(params["amount"]))
    if kind == "undo_backflow_payment":
        return (
            f"Delete the {amount} payment dated {params['date']} that Tally recorded on ConnectWise invoice "
            f"{params['number']}"
        )
    if kind == "undo_apply_credit_in_cw":
        return (
            f"Delete the {amount} credit row dated {params['date']} that Tally recorded on ConnectWise invoice "
            f"{params['invoice']} (credit memo {params['credit_memo']} gets its credit back)"
        )
    if kind == "undo_apply_credit_memo":
        return (
            f"Delete the zero-total payment (Id {params['remote_id']}) that Tally made in QuickBooks to apply {amount} "
            f"of credit memo {params['credit_memo']} to invoice {params['invoice']}"
        )
    word = "credit memo" if kind == "undo_mirror_credit_memo" else "invoice"
    return (
        f"Void {word} {params['number']} ({amount} dated {params['date']}, Id {params['remote_id']}) that Tally "
        f"created in QuickBooks for {params['customer']}; voided, not deleted: it stays with every amount zero"
    )


def report_undo(kind: str, params: Params, remote_id: str) -> Written:
    """Say what the reverse write did, once it is known to have happened."""
    amount = Decimal(params["amount"])
    fix = f"fix #{params['fix_id']}"
    if kind == "undo_backflow_payment":
        result = (
            f"Deleted the {money(amount)} payment (id {remote_id}) Tally had recorded on ConnectWise invoice "
            f"{params['number']}, undoing {fix}."
        )
        ids = {"cw_invoice_id": params["cw_invoice_id"], "cw_payment_id": remote_id}
    elif kind == "undo_apply_credit_in_cw":
        result = (
            f"Deleted the {money(amount)} credit row (id {remote_id}) Tally had recorded on ConnectWise invoice "
            f"{params['invoice']}, undoing {fix}; credit memo {params['credit_memo']} has its credit back."
        )
        ids = {"cw_invoice_id": params["cw_invoice_id"], "cw_payment_id": remote_id}
    elif kind == "undo_apply_credit_memo":
        result = (
            f"Deleted the QuickBooks payment Id {remote_id} that applied {money(amount)} of credit memo "
            f"{params['credit_memo']} to invoice {params['invoice']}, undoing {fix}."
        )
        ids = {"qbo_payment_id": remote_id}
    else:
        word = "credit memo" if kind == "undo_mirror_credit_memo" else "invoice"
        result = f"Voided {word} {params['number']} in QuickBooks (Id {remote_id}), undoing {fix}."
        ids = {f"qbo_{word.replace(' ', '_')}_id": remote_id}
    return Written(remote_id, result, amount, Decimal("0.00"), {**ids, "undoes_action_id": params["fix_id"]})


# -- re-check, write, look -----------------------------------------------------------------------------------------
class _Stop(Exception):
    def __init__(self, sentence: str) -> None:
        self.sentence = sentence


def recheck_undo(action: Action, *, cw: ConnectWiseClient, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    """Read the record the fix made: still there, as Tally wrote it, and nothing depending on it?"""
    params = params_of(action)
    try:
        if action.kind in ("undo_backflow_payment", "undo_apply_credit_in_cw"):
            return _cw_row(action.kind, params, cw, tolerance)
        if action.kind == "undo_apply_credit_memo":
            return _qbo_payment(params, qbo, tolerance)
        return _qbo_mirror(action.kind, params, qbo, tolerance)
    except _Stop as stop:
        return Check(reason=stop.sentence)


def _cw_row(kind: str, params: Params, cw: ConnectWiseClient, tolerance: Decimal) -> Check:
    invoice_id, row_id, amount = int(params["cw_invoice_id"]), params["remote_id"], Decimal(params["amount"])
    number = params.get("number") or params.get("invoice", "")
    word = "credit row" if kind == "undo_apply_credit_in_cw" else "payment"
    try:
        rows = cw.list_payments(invoice_id)
    except NotFoundError:
        raise _Stop(f"ConnectWise invoice {number} no longer exists, {NOTHING}.") from None
    row = next((item for item in rows if str(item.id) == row_id), None)
    if row is None:
        raise _Stop(f"The {word} Tally recorded (id {row_id}) is no longer on ConnectWise invoice {number}, {NOTHING}.")
    memo = int(params["cw_credit_memo_id"]) if kind == "undo_apply_credit_in_cw" else None
    day = params.get("date")
    changed = abs(row.amount - amount) > tolerance or row.credit_memo_id != memo
    if changed or (day and row.payment_date is not None and row.payment_date.isoformat() != day):
        raise _Stop(
            f"The {word} Tally recorded on ConnectWise invoice {number} (id {row_id}) was changed since: it is now "
            f"{money(row.amount)} dated {row.payment_date}. Tally does not delete a record someone else edited, "
            f"{NOTHING}."
        )
    return Check(before=(row_id,), balance=amount)


def _qbo_payment(params: Params, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    payment_id, amount = params["remote_id"], Decimal(params["amount"])
    try:
        payment = qbo.get(QBOPayment, payment_id)
    except NotFoundError:
        raise _Stop(
            f"The QuickBooks payment Id {payment_id} Tally made is gone (deleted by hand), {NOTHING}."
        ) from None
    invoice, memo = params["qbo_invoice_id"], params["qbo_credit_memo_id"]
    links = [link for line in payment.lines for link in line.links]
    as_written = (
        abs(payment.total) <= tolerance
        and abs(payment.applied_to(invoice) - amount) <= tolerance
        and abs(payment.applied_to(memo, "CreditMemo") - amount) <= tolerance
        and len(links) == 2
    )
    if not as_written:
        raise _Stop(
            f"The QuickBooks payment Id {payment_id} that applied credit memo {params['credit_memo']} to invoice "
            f"{params['invoice']} was changed since Tally made it (it now totals {money(payment.total)} over "
            f"{len(links)} links). Tally does not delete a record someone else edited, {NOTHING}."
        )
    return Check(before=(payment_id,), balance=amount, record=payment)


def _qbo_mirror(kind: str, params: Params, qbo: QuickBooksClient, tolerance: Decimal) -> Check:
    doc_id, number, amount = params["remote_id"], params["number"], Decimal(params["amount"])
    memo = kind == "undo_mirror_credit_memo"
    word = "credit memo" if memo else "invoice"
    try:
        doc: QBOInvoice | QBOCreditMemo = qbo.get(QBOCreditMemo, doc_id) if memo else qbo.get(QBOInvoice, doc_id)
    except NotFoundError:
        raise _Stop(f"QuickBooks {word} {number} (Id {doc_id}) is gone (deleted by hand), {NOTHING}.") from None
    note = doc.private_note or ""
    if note.startswith("Voided"):
        raise _Stop(f"QuickBooks {word} {number} (Id {doc_id}) is already voided, {NOTHING}.")
    if params["request_id"] not in note or doc.doc_number != number:
        raise _Stop(
            f"QuickBooks {word} {number} (Id {doc_id}) no longer carries the note Tally wrote into it, so Tally "
            f"cannot be certain it is still its own copy, {NOTHING}."
        )
    if abs(doc.total - amount) > tolerance or doc.customer_id != params.get("qbo_customer_id", doc.customer_id):
        raise _Stop(
            f"QuickBooks {word} {number} was changed since Tally created it (it now totals {money(doc.total)}). "
            f"Tally does not void a document someone else edited, {NOTHING}."
        )
    open_amount = doc.remaining_credit if isinstance(doc, QBOCreditMemo) else doc.balance
    if doc.linked_payment_ids or abs(open_amount - doc.total) > tolerance:
        used = money(doc.total - open_amount)
        payments = ", ".join(doc.linked_payment_ids) or "a deposit"
        what = "of its credit has been applied" if memo else "has been paid or credited against it"
        raise _Stop(
            f"{used} {what} in QuickBooks since Tally created {word} {number} (payment Id {payments}): voiding it "
            f"would undo money someone recorded, {NOTHING}. Remove that first if the copy is really wrong."
        )
    return Check(before=(doc_id,), balance=amount, record=doc)


def write_undo(
    action: Action, check: Check, request_id: str, *, cw: ConnectWiseClient, qbo: QuickBooksClient
) -> Written:
    """Make the one reverse write ``action`` describes; return what it did."""
    params = params_of(action)
    remote_id = params["remote_id"]
    if action.kind in ("undo_backflow_payment", "undo_apply_credit_in_cw"):
        cw.delete_payment(int(params["cw_invoice_id"]), int(remote_id))
    elif action.kind == "undo_apply_credit_memo":
        assert isinstance(check.record, QBOPayment)
        qbo.delete_payment(check.record, request_id=request_id)
    else:
        assert isinstance(check.record, QBOInvoice | QBOCreditMemo)
        qbo.void_document(check.record, request_id=request_id)
    return report_undo(action.kind, params, remote_id)


def look_undo(action: Action, *, cw: ConnectWiseClient, qbo: QuickBooksClient) -> str | None:
    """The id of the record if the reverse write happened (deleted, or voided), else None."""
    params = params_of(action)
    remote_id = params["remote_id"]
    if action.kind in ("undo_backflow_payment", "undo_apply_credit_in_cw"):
        rows = cw.list_payments(int(params["cw_invoice_id"]))
        return None if any(str(row.id) == remote_id for row in rows) else remote_id
    if action.kind == "undo_apply_credit_memo":
        try:
            qbo.get(QBOPayment, remote_id)
        except NotFoundError:
            return remote_id
        return None
    memo = action.kind == "undo_mirror_credit_memo"
    doc: QBOInvoice | QBOCreditMemo = qbo.get(QBOCreditMemo, remote_id) if memo else qbo.get(QBOInvoice, remote_id)
    return remote_id if (doc.private_note or "").startswith("Voided") and doc.total == 0 else None
