"""The full sweep: re-read both systems from scratch and count what the incremental syncs had missed.

Incremental syncs read ConnectWise by ``lastUpdated``. Whether ConnectWise moves an invoice's ``lastUpdated`` when a
payment or credit row is added or removed is unverified [U] (no public source says; the sandbox plays both readings
with the ``cw_payments_touch_last_updated`` switch). If it does not, an incremental sync never sees the payment, and
the invoice's balance in Tally's copy stays wrong. The sweep, run daily at ``TALLY_SWEEP_AT`` by the clock (or by
``tally sweep``), guards against that and anything like it:

1. an incremental sync first, so what merely changed since the last check is not counted as missed;
2. a fingerprint of every cached record (the amounts and states reconciliation reads);
3. a full sync (every page checked against the systems' counts);
4. the records whose fingerprint changed, appeared or vanished are what the incremental syncs had missed.

Each sweep is a ``sweep_run`` row: ``tally status`` and the digest's health section report the latest one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from sync.cache import SYNC_LOCK, SyncReport, run_sync
from sync.cache.store import Progress, no_progress
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import TallyAPIError
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import (
    CWCompany,
    CWInvoice,
    CWPayment,
    QBOCustomer,
    QBODocument,
    QBOPayment,
    QBOPaymentLink,
    SweepRun,
    utcnow,
)

log = logging.getLogger(__name__)
EXAMPLES = 10  # how many missed records a sweep names


@dataclass
class SweepResult:
    """What one sweep found."""

    run_id: int
    missed_cw: int = 0
    missed_qbo: int = 0
    examples: list[str] = field(default_factory=list)  # e.g. "ConnectWise invoice 1042"
    warnings: list[str] = field(default_factory=list)
    sync: SyncReport | None = None

    @property
    def missed(self) -> int:
        """Records the incremental syncs had missed, both systems."""
        return self.missed_cw + self.missed_qbo


Fingerprints = dict[tuple[str, Any], tuple[Any, ...]]


def run_sweep(
    engine: Engine,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    *,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> SweepResult:
    """Sweep (see the module docstring); a failure is recorded on the run and raised."""
    with session_scope(engine, write_lock=True) as session:
        run = SweepRun(started_at=now or utcnow(), status="running")
        session.add(run)
        session.flush()
        assert run.id is not None
        run_id = run.id
    try:
        with SYNC_LOCK:  # no other sync of this process may land between the two fingerprints
            run_sync(engine, cw, qbo, full=False, progress=progress)
            before = fingerprints(engine)
            report = run_sync(engine, cw, qbo, full=True, progress=progress, all_rows=True)
            after = fingerprints(engine)
    except TallyAPIError as exc:
        _finish(engine, run_id, status="failed", error=str(exc))
        raise
    result = SweepResult(run_id=run_id, sync=report)
    for key in sorted(set(before) | set(after), key=str):
        if before.get(key) == after.get(key):
            continue
        if key[0].startswith("ConnectWise"):
            result.missed_cw += 1
        else:
            result.missed_qbo += 1
        if len(result.examples) < EXAMPLES:
            result.examples.append(f"{key[0]} {after.get(key, before.get(key, ('?',)))[0]}")
    result.warnings = [warning for part in report.streams.values() for warning in part.warnings]
    if result.missed:
        log.warning(
            "the full sweep found %s record(s) the incremental syncs had missed (ConnectWise %s, QuickBooks %s): %s",
            result.missed,
            result.missed_cw,
            result.missed_qbo,
            ", ".join(result.examples),
        )
    _finish(
        engine,
        run_id,
        status="done",
        missed_cw=result.missed_cw,
        missed_qbo=result.missed_qbo,
        detail=json.dumps({"examples": result.examples, "warnings": result.warnings}),
    )
    return result


def _finish(engine: Engine, run_id: int, **values: Any) -> None:
    with session_scope(engine, write_lock=True) as session:
        run = session.get(SweepRun, run_id)
        assert run is not None
        for name, value in values.items():
            setattr(run, name, value)
        run.finished_at = utcnow()


def fingerprints(engine: Engine) -> Fingerprints:
    """Every cached record, keyed by (kind, id), as the tuple of what reconciliation reads (its label first)."""
    found: Fingerprints = {}
    with session_scope(engine) as session:
        credit_rows: dict[int, list[tuple[Any, ...]]] = {}
        for payment in _all(session, CWPayment):
            credit_rows.setdefault(payment.invoice_id, []).append((payment.id, payment.amount, payment.credit_memo_id))
        for invoice in _all(session, CWInvoice):
            kind = "ConnectWise credit memo" if invoice.type == "CreditMemo" else "ConnectWise invoice"
            found[(kind, invoice.id)] = (
                invoice.number,
                invoice.total,
                invoice.payments,
                invoice.credits,
                invoice.balance,
                invoice.is_closed,
                invoice.company_id,
                tuple(sorted(credit_rows.get(invoice.id, []))),
            )
        for company in _all(session, CWCompany):
            found[("ConnectWise company", company.id)] = (company.identifier, company.name, company.account_number)
        for document in _all(session, QBODocument):
            kind = "QuickBooks credit memo" if document.entity == "CreditMemo" else "QuickBooks invoice"
            found[(kind, document.id)] = (
                document.doc_number or document.id,
                document.total,
                document.balance,
                document.remaining_credit,
                document.customer_id,
            )
        links: dict[str, list[tuple[Any, ...]]] = {}
        for link in _all(session, QBOPaymentLink):
            links.setdefault(link.payment_id, []).append((link.txn_type, link.txn_id, link.amount))
        for payment in _all(session, QBOPayment):
            found[("QuickBooks payment", payment.id)] = (
                payment.id,
                payment.total,
                payment.unapplied,
                tuple(sorted(links.get(payment.id, []))),
            )
        for customer in _all(session, QBOCustomer):
            found[("QuickBooks customer", customer.id)] = (customer.display_name, customer.balance, customer.active)
    return found


def _all(session: Session, model: type[Any]) -> Iterable[Any]:
    return session.execute(select(model)).scalars()


@dataclass(frozen=True)
class SweepView:
    """The latest sweep as status and the digest show it (detached from the database session)."""

    started_at: datetime | None
    finished_at: datetime | None
    status: str
    missed_cw: int
    missed_qbo: int
    examples: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def missed(self) -> int:
        """Records the incremental syncs had missed, both systems."""
        return self.missed_cw + self.missed_qbo


def latest_sweep(session: Session) -> SweepView | None:
    """The newest sweep run, finished or not."""
    statement = select(SweepRun).order_by(col(SweepRun.started_at).desc(), col(SweepRun.id).desc()).limit(1)
    run = session.execute(statement).scalars().first()
    if run is None:
        return None
    detail = json.loads(run.detail or "{}")
    return SweepView(
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        missed_cw=run.missed_cw,
        missed_qbo=run.missed_qbo,
        examples=tuple(detail.get("examples") or ()),
        warnings=tuple(detail.get("warnings") or ()),
        error=run.error,
    )


def sweep_summary(run: SweepView | None, *, now: datetime) -> str:
    """One sentence on the latest sweep, for ``tally status`` and the digest's health section."""
    if run is None:
        return "No full sweep has run yet (it runs daily at TALLY_SWEEP_AT; `tally sweep` runs one now)."
    when = _ago(now - (run.finished_at or run.started_at or now))
    if run.status == "failed":
        return f"The last full sweep failed {when}: {run.error or 'no reason recorded'}"
    if run.status == "running":
        return f"A full sweep has been running since {when}."
    missed = run.missed
    warned = "".join(f" Warning: {warning}" for warning in run.warnings)
    if missed == 0:
        return f"The last full sweep ({when}) found nothing the incremental syncs had missed.{warned}"
    named = f" ({', '.join(run.examples[:3])})" if run.examples else ""
    return (
        f"The last full sweep ({when}) found {missed} record(s) the incremental syncs had missed: "
        f"{run.missed_cw} in ConnectWise, {run.missed_qbo} in QuickBooks{named}. Tally's copy is now complete; if "
        f"this repeats, ConnectWise may not move lastUpdated when payments change (`tally doctor` checks).{warned}"
    )


def sweep_due(at: time, zone: Any, last: SweepView | None, now: datetime) -> bool:
    """Tell whether today's sweep time (local ``at`` in ``zone``) has passed with no sweep started since."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    if local < today:
        today -= timedelta(days=1)
    started = last.started_at if last is not None else None
    return started is None or started < today


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 90:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 36 else f"{hours // 24} days ago"
