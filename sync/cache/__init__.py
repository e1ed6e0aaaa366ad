"""The local cache of both books, and ``run_sync`` that keeps it current (full or incremental)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from sync.cache.cw import sync_cw_companies, sync_cw_invoices
from sync.cache.qbo import sync_qbo
from sync.cache.store import Progress, StreamReport, no_progress
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.quickbooks import QuickBooksClient
from sync.models import utcnow

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
) -> SyncReport:
    """Read both systems into the cache, ConnectWise and QuickBooks concurrently."""
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
    report.finished = utcnow()
    return report


__all__ = ["LOOKBACK", "SyncReport", "run_sync"]
