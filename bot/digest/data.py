"""Read what a daily digest says from the database: the audit trail, findings, actions, the cache, the QBO grant.

Yesterday's activity comes from audit events of that local day (``action.succeeded`` with the action's kind,
``action.approved`` with its actor, ...). Health reads ``check.completed`` / ``check.failed`` events, which the
scheduled and webhook-triggered checks record (``bot.processes.scheduled``), and falls back on the sync cursors
for checks run elsewhere (``tally check``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.digest.blocks import (
    ZERO,
    Activity,
    CustomerGap,
    Decision,
    Digest,
    Fix,
    Health,
    KindTotal,
    Pending,
    Receivables,
)
from sync.cache.snapshot import load_snapshot
from sync.checks import policy_of, stored_mapping
from sync.crypto import SecretKeyError
from sync.db import session_scope
from sync.delivery import delivery_line
from sync.findings import open_findings
from sync.mapping import unmapped_in
from sync.models import Action, Approval, AuditEvent, QBOPayment, SyncCursor
from sync.notifications import CW, QBO, source_sentence, sources
from sync.qbo_auth import QBOAuth
from sync.reconcile import reconcile
from sync.reconcile.ar import ar_by_customer
from sync.reports import ar_totals
from sync.settings import Settings
from sync.sweep import latest_sweep, sweep_summary

log = logging.getLogger(__name__)

CHECK_COMPLETED, CHECK_FAILED = "check.completed", "check.failed"
DECISIONS = {"action.approved": "approved", "action.auto_approved": "auto_approved", "action.rejected": "rejected"}
VERBS = (
    "action.succeeded",
    "action.failed",
    *DECISIONS,
    "finding.opened",
    "finding.reopened",
    "finding.resolved",
    CHECK_FAILED,
)
READ_STREAMS = or_(col(SyncCursor.stream).startswith("cw."), col(SyncCursor.stream).startswith("qbo."))
AR_CUSTOMERS = 200  # the renderer shows fewer; this only bounds the work


def day_window(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """The local day ``day`` in the configured timezone, as an aware [start, end) range."""
    zone = settings.zone
    return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)


def gather_digest(engine: Engine, settings: Settings, *, day: date, now: datetime) -> Digest:
    """Read everything the digest for local day ``day`` (yesterday) says, as of ``now``."""
    start, end = day_window(day, settings)
    with session_scope(engine) as session:
        events = list(
            session.execute(
                select(AuditEvent)
                .where(col(AuditEvent.at) >= start, col(AuditEvent.at) < end, col(AuditEvent.verb).in_(VERBS))
                .order_by(col(AuditEvent.id))
            ).scalars()
        )
        activity = _activity(session, events, day)
        kinds = _open_by_kind(session)
        pending = _pending(session)
        receivables = _receivables(session, settings, now)
        last_check = last_check_at(session)
        sweep = latest_sweep(session)
    errors = tuple(event.detail or "a check failed" for event in events if event.verb == CHECK_FAILED)
    return Digest(
        day=day,
        zone=settings.zone,
        activity=activity,
        open_by_kind=kinds,
        receivables=receivables,
        pending=pending,
        health=replace(
            _health(settings, engine, last_check, errors),
            sweep=sweep_summary(sweep, now=now),
            sweep_missed=sweep.missed if sweep is not None else 0,
        ),
    )


def _action_id(subject: str) -> int | None:
    prefix, _, number = subject.partition(":")
    return int(number) if prefix == "action" and number.isdigit() else None


def _activity(session: Session, events: Sequence[AuditEvent], day: date) -> Activity:
    ids = {number for event in events if (number := _action_id(event.subject)) is not None}
    actions = {a.id: a for a in session.execute(select(Action).where(col(Action.id).in_(ids))).scalars()}
    approvers: dict[int, list[str]] = defaultdict(list)
    statement = select(Approval).where(col(Approval.action_id).in_(ids)).order_by(col(Approval.id))
    for approval in session.execute(statement).scalars():
        approvers[approval.action_id].append(approval.approver)
    fixes: list[Fix] = []
    failed: list[Fix] = []
    decisions: list[Decision] = []
    for event in events:
        action = actions.get(_action_id(event.subject))
        if action is None or action.id is None:
            continue
        fix = Fix(action.kind, action.description, action.amount, tuple(approvers[action.id]), event.detail or "")
        if event.verb == "action.succeeded":
            fixes.append(fix)
        elif event.verb == "action.failed":
            failed.append(fix)
        elif event.verb in DECISIONS:
            decisions.append(
                Decision(event.actor, DECISIONS[event.verb], action.id, action.description, action.amount, fix.result)
            )
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(col(QBOPayment.total)), 0)).where(
            col(QBOPayment.txn_date) == day, col(QBOPayment.total) > 0
        )
    ).one()
    return Activity(
        fixes=tuple(fixes),
        failed=tuple(failed),
        decisions=tuple(decisions),
        payments_received=int(count),
        payments_total=Decimal(total).quantize(Decimal("0.01")),  # SUM keeps the Money type: dollars
        opened=sum(1 for e in events if e.verb in ("finding.opened", "finding.reopened")),
        resolved=sum(1 for e in events if e.verb == "finding.resolved"),
    )


def _open_by_kind(session: Session) -> tuple[KindTotal, ...]:
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in open_findings(session):
        counts[row.kind] += 1
        amounts[row.kind] += row.amount
    ordered = sorted(counts, key=lambda kind: (-amounts[kind], kind))
    return tuple(KindTotal(kind, counts[kind], amounts[kind]) for kind in ordered)


def _pending(session: Session) -> tuple[Pending, ...]:
    waiting = list(
        session.execute(
            select(Action).where(col(Action.status) == "proposed").order_by(col(Action.created_at), col(Action.id))
        ).scalars()
    )
    counts: dict[int, int] = defaultdict(int)
    ids = [action.id for action in waiting]
    for (action_id,) in session.execute(select(col(Approval.action_id)).where(col(Approval.action_id).in_(ids))):
        counts[action_id] += 1
    return tuple(
        Pending(a.id, a.description, a.amount, counts[a.id], a.approvals_needed, a.created_at)
        for a in waiting
        if a.id is not None
    )


def _receivables(session: Session, settings: Settings, now: datetime) -> Receivables | None:
    if session.execute(select(func.count()).select_from(SyncCursor).where(READ_STREAMS)).scalar_one() == 0:
        return None  # nothing was ever read from either system
    snapshot = load_snapshot(session, customer_map=stored_mapping(session))
    policy = policy_of(settings, now)
    rows = ar_by_customer(snapshot, reconcile(snapshot, policy), policy)
    gaps = []
    for row in rows[:AR_CUSTOMERS]:
        by_kind: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for part in row.explained:
            by_kind[part.kind] += part.amount
        explained = tuple((kind, amount) for kind, amount in by_kind.items() if amount)
        gaps.append(CustomerGap(row.name, row.cw_open, row.qbo_open, explained, row.pending, row.unexplained))
    cw_total, qbo_total = ar_totals(rows)
    unchecked = tuple((row.company.name, row.label, row.open_amount) for row in unmapped_in(snapshot))
    return Receivables(cw_total=cw_total, qbo_total=qbo_total, customers=tuple(gaps), unchecked=unchecked)


def last_check_at(session: Session) -> datetime | None:
    """When a check last read both systems: a recorded check, or the newest sync cursor (``tally check``)."""
    completed = session.execute(
        select(func.max(col(AuditEvent.at))).where(col(AuditEvent.verb) == CHECK_COMPLETED)
    ).scalar_one()
    synced = session.execute(select(func.max(col(SyncCursor.updated_at))).where(READ_STREAMS)).scalar_one()
    times = [moment for moment in (completed, synced) if moment is not None]
    return max(times) if times else None


def _health(settings: Settings, engine: Engine, last_check: datetime | None, errors: tuple[str, ...]) -> Health:
    slack = delivery_line(engine, settings.channel, channel_label=f"<#{settings.channel}>")
    pushed = sources(engine)
    pushes = tuple(source_sentence(system, pushed.get(system), settings.zone) for system in (QBO, CW))
    try:
        status = QBOAuth(settings, engine).status()
    except SecretKeyError as exc:
        return Health(last_check, errors, False, str(exc), slack=slack, pushes=pushes)
    return Health(last_check, errors, status.ok, status.sentence, status.warn_reconnect_by, slack=slack, pushes=pushes)
