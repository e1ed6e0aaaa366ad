"""Read-only reports over the cache and the findings: open AR per customer, and where Tally stands (``status``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from sync.actions.lifecycle import approvers_of
from sync.actions.listing import WAITING
from sync.cache.snapshot import load_snapshot
from sync.checks import policy_of, stored_mapping
from sync.db import session_scope
from sync.findings import open_findings
from sync.models import Action, FindingRecord, NotificationSource, SyncCursor, utcnow
from sync.notifications import sources
from sync.reconcile import reconcile
from sync.reconcile.ar import CustomerAR, ar_by_customer
from sync.settings import Settings
from sync.sweep import SweepView, latest_sweep


def open_ar(
    engine: Engine, settings: Settings, *, customer: str | None = None, now: datetime | None = None
) -> list[CustomerAR]:
    """Open AR per customer from the cache, largest difference first; ``customer`` filters by name or account."""
    with session_scope(engine) as session:
        snapshot = load_snapshot(session, customer_map=stored_mapping(session))
    policy = policy_of(settings, now or utcnow())
    lines = ar_by_customer(snapshot, reconcile(snapshot, policy), policy)
    if customer:
        needle = customer.strip().lower()
        lines = [line for line in lines if needle in f"{line.name} {line.account or ''}".lower()]
    return lines


def ar_totals(lines: list[CustomerAR]) -> tuple[Decimal, Decimal]:
    """Open AR in ConnectWise and in QuickBooks over ``lines``: the one total the demo, ``ar`` and the digest use."""
    cw = sum((line.cw_open for line in lines), Decimal("0.00"))
    return cw, sum((line.qbo_open for line in lines), Decimal("0.00"))


@dataclass(frozen=True)
class Waiting:
    """A fix waiting for a decision (or about to run), with how many approvals it has."""

    action: Action
    approvals: int


@dataclass(frozen=True)
class Overview:
    """Where Tally stands: when it last read each system and checked, what is open, what waits for people."""

    last_read: dict[str, datetime | None]  # "ConnectWise" / "QuickBooks" -> newest cursor move
    last_check: datetime | None
    open_by_kind: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    waiting: list[Waiting] = field(default_factory=list)
    sweep: SweepView | None = None  # the latest full sweep (issue 10 §1)
    pushes: dict[str, NotificationSource] = field(default_factory=dict)  # "qbo" / "cw" -> what it pushed (issue 11)

    @property
    def open_count(self) -> int:
        """How many findings are open."""
        return sum(count for count, _ in self.open_by_kind.values())


def overview(engine: Engine) -> Overview:
    """Summarise the cache, the findings and the fixes waiting for approval."""
    with session_scope(engine) as session:
        read = {
            system: session.execute(
                select(func.max(SyncCursor.updated_at)).where(col(SyncCursor.stream).like(f"{prefix}.%"))
            ).scalar()
            for system, prefix in (("ConnectWise", "cw"), ("QuickBooks", "qbo"))
        }
        last_seen = session.execute(select(func.max(FindingRecord.last_seen))).scalar()
        counts: Counter[str] = Counter()
        amounts: dict[str, Decimal] = {}
        for row in open_findings(session):
            counts[row.kind] += 1
            amounts[row.kind] = amounts.get(row.kind, Decimal("0.00")) + row.amount
        pending = session.execute(select(Action).where(col(Action.status).in_(WAITING)).order_by(col(Action.id)))
        waiting = [Waiting(a, len(set(approvers_of(session, a.id or 0)))) for a in pending.scalars()]
        sweep = latest_sweep(session)
    times = [t for t in (*read.values(), last_seen) if t is not None]
    return Overview(
        last_read=read,
        last_check=max(times) if times else None,
        open_by_kind={kind: (counts[kind], amounts[kind]) for kind in sorted(counts)},
        waiting=waiting,
        sweep=sweep,
        pushes=sources(engine),
    )
