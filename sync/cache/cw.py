"""Reading ConnectWise into the cache: invoices (with their credit rows) and companies.

Incremental reads ask for records whose ``lastUpdated`` is past the cursor minus a look-back window (clocks and
same-second updates), and de-duplicate by id. An invoice's credit rows (which memo, how much) cost one call per
invoice, so they are not read with the list: the cached rows of an invoice that changed are dropped, and once both
systems are read ``settle_credit_rows`` reads the rows only of invoices whose credit totals disagree with
QuickBooks (``sync/reconcile/credit_rows.py``). ConnectWise is taken to touch an invoice's ``lastUpdated`` when a
payment or credit row changes; that is unverified [U]: if it does not, the scheduled full sweep (``sync.sweep``)
sees what the incremental reads missed and counts it. A full read checks its row count against ``/count`` before
it deletes anything (``check_complete``). Deletions: a full read drops what it did not see; an incremental one
compares ConnectWise's count with the cache and scans ids only when they differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from sync.cache.gone import remember_cw
from sync.cache.rows import cw_company_row, cw_invoice_row, cw_payment_row
from sync.cache.store import (
    Progress,
    StreamReport,
    cached_ids,
    check_complete,
    count_changes,
    delete_ids,
    existing_versions,
    read_cursor,
    upsert,
    write_cursor,
)
from sync.clients.connectwise import ConnectWiseClient
from sync.db import session_scope
from sync.models import CWCompany, CWInvoice, CWPayment, utcnow
from sync.records import CWInvoice as CWInvoiceRecord

log = logging.getLogger(__name__)
PAGE = 1000


def chunks(items: Iterable[Any], size: int = PAGE) -> Iterator[list[Any]]:
    """Yield lists of up to ``size`` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def sync_cw_invoices(
    engine: Engine, cw: ConnectWiseClient, *, full: bool, lookback: timedelta, progress: Progress
) -> StreamReport:
    """Bring cached CW invoices and credit memos up to date (their credit rows: ``settle_credit_rows``)."""
    stream = "cw.invoices"
    with session_scope(engine, write_lock=True) as session:
        cursor = read_cursor(session, stream)
    since = None if full or cursor is None else cursor - lookback
    report, seen = StreamReport(), set[int]()
    newest = cursor
    before = cw.count_invoices() if since is None else 0
    flagless = 0
    for page in chunks(cw.iter_invoices(updated_since=since)):
        flagless += sum(1 for record in page if not record.closed_flag)
        _write_invoice_page(engine, page, report)
        seen.update(record.id for record in page)
        newest = max([newest, *(r.last_updated for r in page if r.last_updated)], default=None, key=_when)
        progress(stream, len(page), None)
    if since is None:  # a full read: every invoice there throughout must have come (checked before any delete)
        report.api_calls += 2
        check_complete(system="ConnectWise", what="invoices", read=len(seen), before=before, after=cw.count_invoices())
    if seen and flagless == len(seen):
        report.warnings.append(closed_flag_warning(len(seen), cw.closed_statuses))
        log.warning("%s", report.warnings[-1])
    with session_scope(engine, write_lock=True) as session:
        stale = _gone_invoices(session, cw, seen, full=since is None, report=report)
        if stale:
            remember_cw(session, stale)
            session.execute(delete(CWPayment).where(CWPayment.invoice_id.in_(stale)))  # type: ignore[attr-defined]
            report.deleted += delete_ids(session, CWInvoice, stale)
        if newest is not None:
            write_cursor(session, stream, newest)
    return report


def closed_flag_warning(invoices: int, closed_statuses: Iterable[str]) -> str:
    """The sentence for a read in which no invoice carried ``status.isClosed``."""
    names = ", ".join(closed_statuses) or "(none)"
    return (
        f"ConnectWise sent none of the {invoices:,} invoices read with a closed flag (status.isClosed), so Tally "
        f"took the billing statuses {names} as closed (TALLY_CW_CLOSED_STATUSES). If your closed statuses are "
        "named otherwise, set TALLY_CW_CLOSED_STATUSES, or every invoice counts as a draft and nothing reconciles."
    )


def _when(value: datetime | None) -> datetime:
    return value or datetime.min.replace(tzinfo=utcnow().tzinfo)


def _write_invoice_page(engine: Engine, page: list[CWInvoiceRecord], report: StreamReport) -> None:
    """Upsert one page; drop the cached rows of invoices whose credit may have changed (settled later)."""
    rows = [cw_invoice_row(record) for record in page]
    with session_scope(engine, write_lock=True) as session:
        table = CWInvoice.__table__  # type: ignore[attr-defined]
        ids = [row["id"] for row in rows]
        before = {
            row[0]: (row[1], row[2])
            for row in session.execute(
                select(table.c.id, table.c.last_updated, table.c.credits).where(table.c.id.in_(ids))
            )
        }
        count_changes(report, {key: value[0] for key, value in before.items()}, rows)
        upsert(session, CWInvoice, rows)
        changed = [r["id"] for r in rows if r["id"] in before and before[r["id"]] != (r["last_updated"], r["credits"])]
        if changed:
            session.execute(delete(CWPayment).where(CWPayment.invoice_id.in_(changed)))  # type: ignore[attr-defined]


def settle_credit_rows(
    engine: Engine, cw: ConnectWiseClient, wanted: Callable[[], Iterable[int]], *, workers: int = 6
) -> int:
    """Read the credit rows ``wanted()`` names, until it names none; return how many invoices were read.

    Reading one invoice's rows changes which memo ConnectWise is seen to have applied where, which can change how a
    QuickBooks payment's credit is attributed to its other invoices: so ask again, at most three rounds.
    """
    read: set[int] = set()
    for _ in range(3):
        ids = sorted(set(wanted()) - read)
        if not ids:
            break
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-rows") as pool:
            rows = dict(zip(ids, pool.map(cw.list_payments, ids), strict=True))
        with session_scope(engine, write_lock=True) as session:
            for invoice_id, payments in rows.items():
                session.execute(delete(CWPayment).where(CWPayment.invoice_id == invoice_id))  # type: ignore[arg-type]
                upsert(session, CWPayment, [cw_payment_row(payment) for payment in payments])
        read.update(ids)
    return len(read)


def _gone_invoices(
    session: Any, cw: ConnectWiseClient, seen: set[int], *, full: bool, report: StreamReport
) -> list[int]:
    cached = cached_ids(session, CWInvoice)
    if full:
        return sorted(cached - seen)
    report.api_calls += 1
    remote_count = cw.count_invoices()
    if remote_count == len(cached):
        return []
    log.info("ConnectWise holds %s invoices, the cache %s: scanning ids for deletions", remote_count, len(cached))
    remote = set(cw.iter_invoice_ids())
    report.api_calls += 1
    # A scan that lost ids would delete cached invoices that still exist: check it before trusting it.
    check_complete(
        system="ConnectWise", what="invoice ids", read=len(remote), before=remote_count, after=cw.count_invoices()
    )
    return sorted(cached - remote)


def sync_cw_companies(
    engine: Engine, cw: ConnectWiseClient, *, full: bool, lookback: timedelta, progress: Progress
) -> StreamReport:
    """Bring cached CW companies up to date (deletions are seen by full syncs)."""
    stream = "cw.companies"
    with session_scope(engine, write_lock=True) as session:
        cursor = read_cursor(session, stream)
    since = None if full or cursor is None else cursor - lookback
    report, seen, newest = StreamReport(), set[int](), cursor
    before = cw.count_companies() if since is None else 0
    for page in chunks(cw.iter_companies(updated_since=since)):
        rows = [cw_company_row(record) for record in page]
        with session_scope(engine, write_lock=True) as session:
            count_changes(report, existing_versions(session, CWCompany, [row["id"] for row in rows]), rows)
            upsert(session, CWCompany, rows)
        seen.update(row["id"] for row in rows)
        newest = max([newest, *(r.last_updated for r in page if r.last_updated)], default=None, key=_when)
        progress(stream, len(page), None)
    if since is None:
        report.api_calls += 2
        after = cw.count_companies()
        check_complete(system="ConnectWise", what="companies", read=len(seen), before=before, after=after)
    with session_scope(engine, write_lock=True) as session:
        if since is None:
            report.deleted += delete_ids(session, CWCompany, cached_ids(session, CWCompany) - seen)
        if newest is not None:
            write_cursor(session, stream, newest)
    return report
