"""An action's lifecycle: approvals, rejection, and every state change, each audited in its own transaction.

    proposed ──approve (enough approvers)──> approved ──execute claims──> executing ──> succeeded | failed
        │                                       │                            ├──> superseded (re-check said no)
        └──reject / superseded──────────────────┴──reject                    └──> unsure ──look──> succeeded | failed

``unsure``: the write was sent and its answer was lost (5xx, timeout, dropped connection). It is live — no
second fix is proposed and nothing is re-sent — until ``recovery.settle`` finds the write (succeeded) or, once
it could no longer land, finds nothing (failed, "not written").

Every transition is one conditional ``UPDATE ... WHERE status IN (...)``, so two processes racing on the same
action cannot both move it: the loser sees a row count of 0 and leaves it alone. ``failed`` and the other end
states are final: a fix that failed is proposed afresh (a new action, new approvals) at the next check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from sync import audit
from sync.actions.approving import changed_sentence, complete, counting, progress
from sync.db import session_scope
from sync.models import Action, Approval, LedgerEntry, utcnow
from sync.people import CLI, Actor, as_actor, unmapped_sentence

LIVE = ("proposed", "approved", "executing", "unsure")
FINAL = ("succeeded", "failed", "rejected", "superseded")


CHECKING = "Tally is checking whether the write landed."


class ActionNotFoundError(LookupError):
    """No action has this id; ``sentence`` says so."""

    def __init__(self, action_id: int) -> None:
        self.sentence = f"There is no fix number {action_id}."
        super().__init__(self.sentence)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What an approve or reject click did; ``message`` is the sentence to show the person who clicked."""

    action_id: int
    status: str
    changed: bool
    approvals: int
    needed: int
    message: str

    @property
    def ready(self) -> bool:
        """Whether the action is approved and waiting to be executed."""
        return self.status == "approved"


@dataclass(frozen=True)
class Written:
    """A remote write that happened: the record it made and the sentence that says so."""

    remote_id: str
    result: str
    amount_before: Decimal | None = None
    amount_after: Decimal | None = None
    remote_ids: dict[str, str] = field(default_factory=dict)


def subject(action_id: int) -> str:
    """Name an action in the audit trail."""
    return f"action:{action_id}"


def transition(session: Session, action_id: int, *, source: Iterable[str], target: str, **values: Any) -> bool:
    """Move an action from one of ``source`` to ``target`` with one conditional UPDATE; True if this call won."""
    statement = (
        update(Action)
        .where(col(Action.id) == action_id, col(Action.status).in_(tuple(source)))
        .values(status=target, updated_at=utcnow(), **values)
    )
    won = session.connection().execute(statement).rowcount == 1
    if won:
        session.get(Action, action_id, populate_existing=True)  # refresh the copy this session holds
    return won


def load(session: Session, action_id: int, *, lock: bool = False) -> Action:
    """Read one action (``lock``: ``SELECT ... FOR UPDATE`` on PostgreSQL) or raise ``ActionNotFoundError``."""
    statement = select(Action).where(col(Action.id) == action_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    found = session.execute(statement).scalars().first()
    if found is None:
        raise ActionNotFoundError(action_id)
    return found


def get_action(engine: Engine, action_id: int) -> Action:
    """Read one action as it is now."""
    with session_scope(engine) as session:
        return load(session, action_id)


def approvers_of(session: Session, action_id: int) -> list[str]:
    """Return who has approved an action, in order."""
    statement = select(Approval).where(col(Approval.action_id) == action_id).order_by(col(Approval.id))
    return [row.approver for row in session.execute(statement).scalars()]


def approve(
    engine: Engine, action_id: int, *, approver: str | Actor, is_approver: Callable[[str], bool]
) -> ApprovalOutcome:
    """Count the person's approval once; the action becomes approved when enough different people approved.

    ``approver`` is an ``Actor`` (a person through Slack or the terminal) or, for callers that only know a Slack
    user id, that id.
    """
    actor = as_actor(approver)
    if not is_approver(actor.key):
        return _refuse(engine, action_id, actor, "approve")
    with session_scope(engine, write_lock=True) as session:
        action = load(session, action_id, lock=True)
        approvers = approvers_of(session, action_id)
        if action.status != "proposed":
            return _as_is(session, action, approvers)
        if actor.key in approvers:
            return _outcome(action, approvers, False, f"Already approved by you; {progress(action, approvers)}.")
        if not _add_approval(session, action_id, actor):
            return _outcome(action, approvers, False, "Already approved by you.")
        approvers.append(actor.key)
        done = complete(action, approvers)
        audit.record(
            session,
            actor=actor.key,
            channel=actor.channel,
            verb="action.approved",
            subject=subject(action_id),
            amount_after=action.amount,
            detail=f"{len(counting(approvers, action.approvals_needed))} of {action.approvals_needed} approvals",
        )
        if done:
            transition(session, action_id, source=("proposed",), target="approved")
            action = load(session, action_id)
            return _outcome(action, approvers, True, f"Approved by {_names(approvers)}: {action.description}.")
        note = ""
        if action.approvals_needed > 1 and not actor.counts_as_person and actor.channel == CLI:
            note = f" {unmapped_sentence(actor)}"
        return _outcome(action, approvers, True, f"Approved by you: {progress(action, approvers)}.{note}")


def reject(
    engine: Engine, action_id: int, *, actor: str | Actor, reason: str, is_approver: Callable[[str], bool]
) -> ApprovalOutcome:
    """Reject a proposed or approved action with ``reason``; nothing is written anywhere."""
    who = as_actor(actor)
    if not is_approver(who.key):
        return _refuse(engine, action_id, who, "reject")
    reason = reason.strip() or "no reason given"
    with session_scope(engine, write_lock=True) as session:
        action = load(session, action_id, lock=True)
        approvers = approvers_of(session, action_id)
        result = f"Rejected by {who.key}: {reason}"
        if not transition(session, action_id, source=("proposed", "approved"), target="rejected", result=result):
            return _as_is(session, action, approvers)
        audit.record(
            session,
            actor=who.key,
            channel=who.channel,
            verb="action.rejected",
            subject=subject(action_id),
            detail=reason,
        )
        return _outcome(load(session, action_id), approvers, True, f"{result}. Nothing was written.")


def _refuse(engine: Engine, action_id: int, who: Actor, what: str) -> ApprovalOutcome:
    with session_scope(engine) as session:
        action = load(session, action_id)
        audit.record(
            session,
            actor=who.key,
            channel=who.channel,
            verb="action.approval_refused",
            subject=subject(action_id),
            detail=f"tried to {what} but is not an approver",
        )
        message = (
            f"You may not {what} fixes: only the approvers Tally is configured with (TALLY_APPROVERS or the "
            "approver group) can. Ask one of them."
        )
        if who.channel == CLI and not who.counts_as_person:
            message += f" (This terminal login, {who.login!r}, is not mapped to a person in TALLY_OPERATORS.)"
        return _outcome(action, approvers_of(session, action_id), False, message)


def _add_approval(session: Session, action_id: int, actor: Actor) -> bool:
    """Insert the approval; False if the unique constraint says this person already approved."""
    try:
        with session.begin_nested():
            session.add(Approval(action_id=action_id, approver=actor.key, channel=actor.channel or None, at=utcnow()))
    except IntegrityError:
        return False
    return True


def _names(approvers: list[str]) -> str:
    return " and ".join(approvers) if approvers else "nobody"


def _as_is(session: Session, action: Action, approvers: list[str]) -> ApprovalOutcome:
    """Answer a click on an action that is past proposing with its state; nothing changes."""
    changed = changed_sentence(session, action)
    if changed is not None:
        return _outcome(action, approvers, False, changed)
    state = {
        "approved": f"This fix is already approved by {_names(approvers)}; Tally carries it out once.",
        "executing": "Tally is carrying this fix out right now.",
        "unsure": f"{CHECKING} It will not be sent again. {action.result or ''}".strip(),
        "succeeded": f"This fix was already carried out: {action.result}",
        "failed": f"This fix failed: {action.result}",
        "rejected": f"This fix was rejected: {action.result}",
        "superseded": f"This fix is no longer needed: {action.result}",
    }.get(action.status, f"This fix is {action.status}.")
    return _outcome(action, approvers, False, state)


def _outcome(action: Action, approvers: list[str], changed: bool, message: str) -> ApprovalOutcome:
    assert action.id is not None
    counted = len(counting(approvers, action.approvals_needed))
    return ApprovalOutcome(action.id, action.status, changed, counted, action.approvals_needed, message)


# -- the end of an execution --------------------------------------------------------------------------------------
def succeed(engine: Engine, ledger_id: int, written: Written, *, actor: str) -> Action:
    """Mark the ledger row done and its action succeeded, once, with the audit event (one transaction)."""
    with session_scope(engine, write_lock=True) as session:
        entry = _ledger(session, ledger_id)
        now = utcnow()
        session.connection().execute(
            update(LedgerEntry)
            .where(col(LedgerEntry.id) == ledger_id, col(LedgerEntry.status).in_(("pending", "failed")))
            .values(status="done", remote_id=written.remote_id, settled_at=now)
        )
        # "failed" too: a look that found nothing may have raced a write that then landed; the write wins.
        values = {"result": written.result, "remote_id": written.remote_id, "executed_at": now}
        source = ("executing", "unsure", "failed")
        if transition(session, entry.action_id, source=source, target="succeeded", **values):
            audit.record(
                session,
                actor=actor,
                verb="action.succeeded",
                subject=subject(entry.action_id),
                amount_before=written.amount_before,
                amount_after=written.amount_after,
                remote_ids={**written.remote_ids, "request_id": entry.request_id},
                detail=written.result,
            )
            undone = load(session, entry.action_id).undoes_action_id
            if undone is not None:  # undo (issue 13): the fix's own trail says it was reversed, and by what
                audit.record(
                    session,
                    actor=actor,
                    verb="action.undone",
                    subject=subject(undone),
                    amount_before=written.amount_before,
                    amount_after=written.amount_after,
                    detail=f"Undone by #{entry.action_id}: {written.result}",
                )
        return load(session, entry.action_id)


def fail(
    engine: Engine,
    action_id: int,
    sentence: str,
    *,
    actor: str,
    ledger_id: int | None = None,
    refused: bool = False,
) -> Action:
    """Mark an executing or unsure action failed (and its pending ledger row, if any) with the sentence saying why.

    ``refused``: the target turned the write down on its merits (a validation error, a document gone), so the same
    write would be turned down again: its ledger row says ``refused`` and the fix is not proposed again unchanged.
    Otherwise (throttled, disconnected, settled as not written) the same fix may simply be approved again.
    """
    with session_scope(engine, write_lock=True) as session:
        if ledger_id is not None:
            session.connection().execute(
                update(LedgerEntry)
                .where(col(LedgerEntry.id) == ledger_id, col(LedgerEntry.status) == "pending")
                .values(status="refused" if refused else "failed", settled_at=utcnow())
            )
        if transition(session, action_id, source=("executing", "unsure"), target="failed", result=sentence):
            audit.record(session, actor=actor, verb="action.failed", subject=subject(action_id), detail=sentence)
        return load(session, action_id)


def mark_unsure(
    engine: Engine, ledger_id: int, sentence: str, *, actor: str, settle_after: datetime | None = None
) -> Action:
    """Mark an executing action unsure: its write was sent and the answer lost; look, never re-send."""
    with session_scope(engine, write_lock=True) as session:
        entry = _ledger(session, ledger_id)
        if settle_after is not None and (entry.settle_after is None or entry.settle_after < settle_after):
            session.connection().execute(
                update(LedgerEntry).where(col(LedgerEntry.id) == ledger_id).values(settle_after=settle_after)
            )
        result = f"{CHECKING} {sentence}"
        if transition(session, entry.action_id, source=("executing",), target="unsure", result=result):
            audit.record(session, actor=actor, verb="action.unsure", subject=subject(entry.action_id), detail=sentence)
        return load(session, entry.action_id)


def supersede(engine: Engine, action_id: int, reason: str, *, actor: str) -> Action:
    """Mark an executing action superseded: the re-check found the fix no longer right; nothing was written."""
    with session_scope(engine, write_lock=True) as session:
        if transition(session, action_id, source=("executing",), target="superseded", result=reason):
            audit.record(session, actor=actor, verb="action.superseded", subject=subject(action_id), detail=reason)
        return load(session, action_id)


def _ledger(session: Session, ledger_id: int) -> LedgerEntry:
    entry = session.get(LedgerEntry, ledger_id, populate_existing=True)
    if entry is None:
        raise LookupError(f"no ledger row {ledger_id}")
    return entry
