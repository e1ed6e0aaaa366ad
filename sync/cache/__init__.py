"""The local cache of both books, and ``run_sync`` that keeps it current (full or incremental)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from sync.cache.cw import settle_credit_rows, sync_cw_companies, sync_cw_invoices
from sync.cache.qbo import sync_qbo
from sync.cache.snapshot import load_snapshot
from sync.cache.store import Progress, StreamReport, no_progress, read_cursor, write_cursor
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import SyncCursor, utcnow
from sync.reconcile.credit_rows import unread_credit_rows
from sync.reconcile.engine import credit_rows_wanted
from sync.reconcile.model import Policy

LOOKBACK = timedelta(minutes=5)


@dataclass
class SyncReport:
    """What a sync changed, stream by stream."""

    full: bool
    streams: dict[str, StreamReport] = field(default_factory=dict)
    started: datetime = field(default_factory=utcnow)
    finished: datetime | None = None

    @property
    def changed(self) -> int:
        """Rows changed across all streams."""
        return sum(report.changed for report in self.streams.values())


def run_sync(
    engine: Engine,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    *,
    full: bool = False,
    lookback: timedelta = LOOKBACK,
    progress: Progress = no_progress,
    all_rows: bool = False,
    cw_workers: int = 8,
) -> SyncReport:
    """Read both systems into the cache, ConnectWise and QuickBooks concurrently, then the credit rows needed.

    ``all_rows`` reads the credit rows of every invoice with credit whose rows are not cached, agreeing or not (the
    nightly sweep: it sees what totals cannot, such as two memos swapped between two invoices).
    """
    with SYNC_LOCK:
        return _run_sync(
            engine, cw, qbo, full=full, lookback=lookback, progress=progress, all_rows=all_rows, cw_workers=cw_workers
        )


# One sync at a time per process: the clock's check and its nightly sweep share the cache, and a sweep holds this
# across its two reads so a check's changes landing between them are not counted as missed (re-entrant for it).
SYNC_LOCK = threading.RLock()


def _run_sync(
    engine: Engine,
    cw: ConnectWiseClient,
    qbo: QuickBooksClient,
    *,
    full: bool,
    lookback: timedelta,
    progress: Progress,
    all_rows: bool,
    cw_workers: int,
) -> SyncReport:
    report = SyncReport(full=full)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="sync") as pool:
        jobs: dict[str, Future[StreamReport]] = {
            "cw.invoices": pool.submit(sync_cw_invoices, engine, cw, full=full, lookback=lookback, progress=progress),
            "cw.companies": pool.submit(sync_cw_companies, engine, cw, full=full, lookback=lookback, progress=progress),
            "qbo": pool.submit(
                sync_qbo, engine, qbo, full=full, lookback=lookback, now=report.started, progress=progress
            ),
        }
        for name, job in jobs.items():
            report.streams[name] = job.result()
    report.streams["cw.invoices"].api_calls += _credit_rows(
        engine, cw, changed=report.changed > 0, all_rows=all_rows, workers=cw_workers
    )
    report.finished = utcnow()
    return report


SETTLED = "cw.credit_rows"  # a cursor row written once the credit rows a sync needed are all read


def _credit_rows(engine: Engine, cw: ConnectWiseClient, *, changed: bool, all_rows: bool, workers: int) -> int:
    """Read the CW credit rows the books now need (``sync/reconcile/credit_rows.py``); return the calls made.

    Nothing to do when nothing changed since the last sync that read them all; a sync that stopped half-way left no
    mark, so the next one looks again.
    """
    with session_scope(engine, write_lock=True) as session:
        if not (changed or all_rows) and read_cursor(session, SETTLED) is not None:
            return 0
        marker = session.get(SyncCursor, SETTLED)
        if marker is not None:
            session.delete(marker)

    def wanted() -> frozenset[int]:
        with session_scope(engine) as session:
            snapshot = load_snapshot(session)
        if all_rows:
            return unread_credit_rows(snapshot.cw_docs, snapshot.cw_credits)
        return credit_rows_wanted(snapshot, Policy(now=utcnow()))

    calls = settle_credit_rows(engine, cw, wanted, workers=workers)
    with session_scope(engine, write_lock=True) as session:
        write_cursor(session, SETTLED, utcnow())
    return calls


__all__ = ["LOOKBACK", "SYNC_LOCK", "SyncReport", "run_sync"]
