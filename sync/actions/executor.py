"""Execute an approved action exactly once: claim, re-check, write the ledger, write remotely, record.

1. Claim: one conditional ``UPDATE action SET status='executing' WHERE id=? AND status='approved'``. Whoever
   gets row count 1 goes on; every other caller (thread, process, second click) gets the action as it is.
2. Re-check the live documents (``recheck``): no longer right → ``superseded`` with the reason, no write.
3. Ledger: a ``pending`` row with a fresh request id, what existed before the write, and ``settle_after`` (the
   moment anything this write sends has landed or never will), COMMITTED before the call, so a crash after the
   call leaves a trace that ``recovery.settle`` can look up.
4. The call (QBO creates carry the ledger's request id as ``requestid``). Success → ledger ``done`` and action
   ``succeeded`` in one transaction with the audit event. A refusal that proves nothing ran (4xx, a 429, a
   connection that never opened, and no earlier attempt that may have run) → ``failed``, "Nothing was
   written". Anything else (timeout, dropped connection, any 5xx) → ``unsure``: the ledger stays ``pending``,
   ``settle`` looks at once and again later; found → ``succeeded``, and "not written" only once it has looked
   after ``settle_after``. Nothing is ever sent twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from sync import audit
from sync.actions.lifecycle import Written, fail, get_action, mark_unsure, subject, succeed, supersede, transition
from sync.actions.proposals import params_of, report
from sync.actions.recheck import Check, mirror_entity, recheck
from sync.actions.recovery import settle
from sync.actions.undo import OPERATIONS as UNDO_OPERATIONS
from sync.actions.undo import is_undo, recheck_undo, write_undo
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import (
    AuthError,
    NotConfiguredError,
    NotFoundError,
    RateLimitedError,
    TallyAPIError,
    ValidationError,
)
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import Action, LedgerEntry, utcnow
from sync.records import DocumentLine

log = logging.getLogger(__name__)

# Refused before anything was done: the request was invalid, unauthorised, aimed at nothing, or throttled —
# unless an earlier attempt of the same call may have run (``maybe_done``). A 5xx or a lost answer is not here.
DEFINITE = (ValidationError, AuthError, NotFoundError, NotConfiguredError, RateLimitedError)
OPERATIONS = {
    "backflow_payment": ("ConnectWise", "create_payment"),
    "apply_credit_in_cw": ("ConnectWise", "apply_credit"),
    "apply_credit_memo": ("QuickBooks", "apply_credit_memo"),
    "mirror_invoice": ("QuickBooks", "create_invoice"),
    "mirror_credit_memo": ("QuickBooks", "create_credit_memo"),
    **UNDO_OPERATIONS,
}


def execute(
    engine: Engine,
    action_id: int,
    *,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    actor: str,
    tolerance: Decimal,
    after_remote_write: Callable[[], None] = lambda: None,
) -> Action:
    """Carry out an approved action at most once, whoever calls and however often; return it as it ends up."""
    if not _claim(engine, action_id, actor):
        return get_action(engine, action_id)
    action = get_action(engine, action_id)
    try:
        check = (recheck_undo if is_undo(action.kind) else recheck)(action, cw=cw, qbo=qbo, tolerance=tolerance)
    except Exception as exc:  # nothing is written yet, so failing here is always safe
        log.warning("could not re-check action %s", action_id, exc_info=True)
        why = exc.sentence if isinstance(exc, TallyAPIError) else "an unexpected error (logged)"
        sentence = f"Tally could not re-check the documents before writing: {why} Nothing was written."
        return fail(engine, action_id, sentence, actor=actor)
    if check.reason is not None:
        return supersede(engine, action_id, check.reason, actor=actor)
    window = _window(action.kind, cw=cw, qbo=qbo)
    entry = _open_ledger(engine, action, check, window=window)
    if entry is None:  # recovery gave up on this action while we re-checked
        return get_action(engine, action_id)
    assert entry.id is not None
    try:
        written = write(action, check, entry.request_id, cw=cw, qbo=qbo)
    except Exception as exc:
        if _nothing_ran(exc):
            sentence = exc.sentence if isinstance(exc, TallyAPIError) else str(exc)
            refused = isinstance(exc, ValidationError | NotFoundError)  # on its merits: the same write fails again
            return fail(
                engine, action_id, f"{sentence} Nothing was written.", actor=actor, ledger_id=entry.id, refused=refused
            )
        return _unsure(engine, entry, exc, window=window, cw=cw, qbo=qbo, actor=actor)
    after_remote_write()
    return succeed(engine, entry.id, written, actor=actor)


def _nothing_ran(exc: Exception) -> bool:
    """Whether the failure proves the write never reached the application.

    Anything but an API refusal (a bug, an answer that would not parse) may have come after the write ran,
    so it is looked into like a lost answer rather than called "not written".
    """
    return isinstance(exc, DEFINITE) and not exc.maybe_done


def _unsure(
    engine: Engine,
    entry: LedgerEntry,
    exc: Exception,
    *,
    window: timedelta,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    actor: str,
) -> Action:
    """The write may have run: mark the action unsure, look once now, and leave "not found" for later."""
    assert entry.id is not None
    log.warning("the write of action %s may have happened; looking instead of retrying", entry.action_id, exc_info=True)
    why = exc.sentence if isinstance(exc, TallyAPIError) else "Tally could not read the answer (logged)."
    mark_unsure(engine, entry.id, f"The answer was lost: {why}", settle_after=utcnow() + window, actor=actor)
    settle(engine, cw=cw, qbo=qbo, actor=actor, ledger_id=entry.id)  # found now: settled now; else it waits
    return get_action(engine, entry.action_id)


def _window(kind: str, *, cw: ConnectWiseClient, qbo: QuickBooksClient) -> timedelta:
    """How long a write of ``kind`` may still land after it starts (its system's timeouts x attempts + margin)."""
    return cw.write_window if OPERATIONS[kind][0] == "ConnectWise" else qbo.write_window


def write(action: Action, check: Check, request_id: str, *, cw: ConnectWiseClient, qbo: QuickBooksClient) -> Written:
    """Make the one remote write ``action`` describes; return what it created."""
    if is_undo(action.kind):
        return write_undo(action, check, request_id, cw=cw, qbo=qbo)
    params = params_of(action)
    amount = Decimal(params["amount"])
    if action.kind in ("backflow_payment", "apply_credit_in_cw"):
        credit = int(params["cw_credit_memo_id"]) if action.kind == "apply_credit_in_cw" else None
        day = date.fromisoformat(params["date"])
        row = cw.create_payment(int(params["cw_invoice_id"]), amount, day, credit_memo_id=credit)
        remote_id = str(row.id)
    elif action.kind == "apply_credit_memo":
        assert check.qbo_memo is not None
        assert check.qbo_invoice is not None
        payment = qbo.apply_credit_memo(check.qbo_memo, check.qbo_invoice, amount, request_id=request_id)
        remote_id = payment.id
    else:
        remote_id = _mirror(action.kind, params, check, request_id, qbo)
    return report(action.kind, params, remote_id, check.balance)


def mirror_note(word: str, number: str, request_id: str) -> str:
    """The private note a mirror carries: it names the request, so a later look can tell it is Tally's."""
    return f"Tally: copy of ConnectWise {word} {number} (request {request_id})"


def _mirror(kind: str, params: dict[str, str], check: Check, request_id: str, qbo: QuickBooksClient) -> str:
    doc = check.cw_doc
    assert doc is not None
    entity, number, customer = mirror_entity(kind), params["number"], params["qbo_customer_id"]
    word = "credit memo" if entity == "CreditMemo" else "invoice"
    total, tax = abs(Decimal(params["amount"])), abs(doc.sales_tax)
    # One summarised line: the mirror must agree on number, customer, date and total, not line by line.
    lines = [DocumentLine(total - tax, f"ConnectWise {word} {number}")]
    day, note = date.fromisoformat(params["date"]), mirror_note(word, number, request_id)
    if entity == "CreditMemo":
        return qbo.create_credit_memo(number, customer, day, lines, tax, private_note=note, request_id=request_id).id
    created = qbo.create_invoice(
        number, customer, day, lines, tax, doc.due_date, private_note=note, request_id=request_id
    )
    return created.id


def _claim(engine: Engine, action_id: int, actor: str) -> bool:
    with session_scope(engine, write_lock=True) as session:
        won = transition(session, action_id, source=("approved",), target="executing")
        if won:
            audit.record(session, actor=actor, verb="action.executing", subject=subject(action_id))
        return won


def _open_ledger(engine: Engine, action: Action, check: Check, *, window: timedelta) -> LedgerEntry | None:
    """Commit the pending ledger row, touching the action so a recovery sweep cannot fail it meanwhile."""
    assert action.id is not None
    system, operation = OPERATIONS[action.kind]
    detail = {"before": list(check.before), "balance": None if check.balance is None else str(check.balance)}
    with session_scope(engine, write_lock=True) as session:
        touched = session.connection().execute(
            update(Action)
            .where(col(Action.id) == action.id, col(Action.status) == "executing")
            .values(updated_at=utcnow())
        )
        if touched.rowcount != 1:
            return None
        entry = LedgerEntry(
            action_id=action.id,
            system=system,
            operation=operation,
            request_id=str(uuid.uuid4()),
            status="pending",
            detail=json.dumps(detail),
            created_at=utcnow(),
            settle_after=utcnow() + window,
        )
        session.add(entry)
        session.flush()
        return entry
