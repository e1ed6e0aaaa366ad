"""Settle the writes whose outcome Tally never learned, by looking at the remote system, never by writing again.

A ``pending`` ledger row means Tally committed to a write and then lost track (crash, timeout, dropped
connection, a 5xx). ``settle`` looks for what that write would have made:

- ConnectWise: the invoice's payment rows, for one that was not there before the write (the ledger lists those)
  with the same amount and credit memo;
- QuickBooks: a credit application is a new zero-total payment linking both documents; a mirror is the document
  with that DocNumber whose private note names the ledger's request id.

Found → ledger ``done``, action ``succeeded``, whenever that is. Not found → before the row's ``settle_after``
(the write may still land: a server can finish a request after the client gave up) the action is ``unsure``
and stays so; after it, ledger ``failed`` and action ``failed`` with "was not written; safe to approve again".
The action is not put back to ``approved``: an action executes at most once, and after an unclear outcome a
person should look at a fresh proposal (the next check makes one, with the books re-read) rather than have
Tally retry on its own. Could not look (the system is down) → left as it is, for the next run.

Every process runs it on start and on a schedule; the executor runs it for its own row at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from sync import audit
from sync.actions.lifecycle import fail, get_action, mark_unsure, subject, succeed
from sync.actions.proposals import params_of, report
from sync.actions.recheck import mirror_entity, qbo_numbered
from sync.actions.undo import is_undo, look_undo, report_undo
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import TallyAPIError
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, LedgerEntry, utcnow
from sync.records import QBOInvoice, QBOPayment

log = logging.getLogger(__name__)

# How long an action may sit ``executing`` with no ledger row (re-checking) before the sweep calls it dead; and
# the landing window assumed for ledger rows written before ``settle_after`` existed.
STALE_AFTER = timedelta(minutes=15)
LOST = "Tally lost track of this write (its process stopped, or is still waiting for the answer)."


@dataclass
class SettleReport:
    """What ``settle`` found, by action id."""

    written: list[int] = field(default_factory=list)  # the write had happened: succeeded
    not_written: list[int] = field(default_factory=list)  # it had not, and can no longer land: failed
    waiting: list[int] = field(default_factory=list)  # not there yet, but it may still land: unsure
    unsure: list[int] = field(default_factory=list)  # could not look: left as it was


def settle(
    engine: Engine,
    *,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    actor: str = "recovery",
    older_than: timedelta = STALE_AFTER,
    ledger_id: int | None = None,
    now: datetime | None = None,
) -> SettleReport:
    """Settle pending ledger rows (all, or just ``ledger_id``) by looking remotely; see the module docstring."""
    outcome, now = SettleReport(), now or utcnow()
    for entry in _pending(engine, ledger_id):
        _settle_one(engine, entry, cw=cw, qbo=qbo, actor=actor, now=now, outcome=outcome)
    if ledger_id is None:
        outcome.not_written.extend(_stuck(engine, older_than, actor))
    return outcome


def pending_writes(engine: Engine) -> int:
    """Count what ``settle`` would look at: pending ledger rows and executing actions (cheap; 0 = skip the APIs)."""
    with session_scope(engine) as session:
        ledger = select(func.count()).select_from(LedgerEntry).where(col(LedgerEntry.status) == "pending")
        running = select(func.count()).select_from(Action).where(col(Action.status) == "executing")
        return int(session.execute(ledger).scalar_one()) + int(session.execute(running).scalar_one())


def settles_at(entry: LedgerEntry) -> datetime:
    """The moment after which the write of ``entry`` has landed or never will."""
    if entry.settle_after is not None:
        return entry.settle_after
    assert entry.created_at is not None
    return entry.created_at + STALE_AFTER


def _settle_one(
    engine: Engine,
    entry: LedgerEntry,
    *,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    actor: str,
    now: datetime,
    outcome: SettleReport,
) -> None:
    assert entry.id is not None
    action = get_action(engine, entry.action_id)
    try:
        found = look(action, entry, cw=cw, qbo=qbo)
    except Exception as exc:  # a start-up sweep must not stop on one row; the row stays for the next run
        level = logging.WARNING if isinstance(exc, TallyAPIError) else logging.ERROR
        log.log(level, "could not look for the write of action %s; it stays pending", action.id, exc_info=True)
        outcome.unsure.append(entry.action_id)
        return
    if found is not None:
        balance = json.loads(entry.detail or "{}").get("balance")
        before = None if balance is None else Decimal(balance)
        params = params_of(action)
        written = (
            report_undo(action.kind, params, found)
            if is_undo(action.kind)
            else report(action.kind, params, found, before)
        )
        succeed(engine, entry.id, written, actor=actor)
        outcome.written.append(entry.action_id)
    elif now < settles_at(entry):
        if action.status == "executing":
            mark_unsure(engine, entry.id, LOST, actor=actor)
        outcome.waiting.append(entry.action_id)
    else:
        sentence = f"{action.description} was not written: Tally lost the answer, waited until the write could "
        sentence += "no longer land, looked, and found nothing. "
        if is_undo(action.kind):  # an undo is never proposed by a check: a person asks for it again
            sentence += f"Ask for the undo of fix #{params_of(action)['fix_id']} again if it is still wanted."
        else:
            sentence += "It is safe to approve again when the next check proposes it."
        fail(engine, entry.action_id, sentence, actor=actor, ledger_id=entry.id)
        outcome.not_written.append(entry.action_id)


def look(action: Action, entry: LedgerEntry, *, cw: ConnectWiseClient, qbo: QuickBooksClient) -> str | None:
    """Return the remote id of what ``entry``'s write made, or None if it is not there."""
    if is_undo(action.kind):
        return look_undo(action, cw=cw, qbo=qbo)
    params = params_of(action)
    before = {str(item) for item in json.loads(entry.detail or "{}").get("before", [])}
    amount = Decimal(params["amount"])
    if action.kind in ("backflow_payment", "apply_credit_in_cw"):
        memo = int(params["cw_credit_memo_id"]) if action.kind == "apply_credit_in_cw" else None
        for row in cw.list_payments(int(params["cw_invoice_id"])):
            if str(row.id) not in before and row.amount == amount and row.credit_memo_id == memo:
                return str(row.id)
        return None
    if action.kind == "apply_credit_memo":
        invoice_id, memo_id = params["qbo_invoice_id"], params["qbo_credit_memo_id"]
        for payment_id in qbo.get(QBOInvoice, invoice_id).linked_payment_ids:
            if payment_id in before:
                continue
            payment = qbo.get(QBOPayment, payment_id)
            if payment.applied_to(invoice_id) == amount and payment.applied_to(memo_id, "CreditMemo") == amount:
                return payment.id
        return None
    for doc in qbo_numbered(qbo, mirror_entity(action.kind), params["number"]):
        if doc.id not in before and entry.request_id in (doc.private_note or ""):
            return doc.id
    return None


def _pending(engine: Engine, ledger_id: int | None) -> list[LedgerEntry]:
    with session_scope(engine) as session:
        statement = select(LedgerEntry).where(col(LedgerEntry.status) == "pending").order_by(col(LedgerEntry.id))
        if ledger_id is not None:
            statement = statement.where(col(LedgerEntry.id) == ledger_id)
        return list(session.execute(statement).scalars())


def _stuck(engine: Engine, older_than: timedelta, actor: str) -> list[int]:
    """Fail actions left ``executing`` with no ledger row: the process died before it could write anything."""
    cutoff, failed = utcnow() - older_than, []
    sentence = "Tally stopped before writing anything: nothing was written, and the next check proposes the fix again."
    with session_scope(engine, write_lock=True) as session:
        has_ledger = select(LedgerEntry.id).where(col(LedgerEntry.action_id) == col(Action.id)).exists()
        candidates = select(Action.id).where(
            col(Action.status) == "executing", col(Action.updated_at) <= cutoff, ~has_ledger
        )
        for action_id in list(session.execute(candidates).scalars()):
            # updated_at again: an executor that opened its ledger meanwhile touched the row, and wins.
            statement = (
                update(Action)
                .where(col(Action.id) == action_id, col(Action.status) == "executing", col(Action.updated_at) <= cutoff)
                .values(status="failed", result=sentence, updated_at=utcnow())
            )
            if session.connection().execute(statement).rowcount == 1:
                audit.record(session, actor=actor, verb="action.failed", subject=subject(action_id), detail=sentence)
                failed.append(action_id)
    return failed
