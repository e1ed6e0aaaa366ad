"""Reading QuickBooks into the cache: customers, invoices, credit memos, payments and their links.

A full read queries each entity (the four run concurrently, inside the client's limit of 10 in flight). An
incremental read is one change-data-capture call: changed records and tombstones for deletions. Past CDC's
30-day window it falls back to ``LastUpdatedTime`` queries, and compares counts to catch deletions the queries
cannot show, re-reading an entity in full only when its count disagrees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from sync import records as api_records
from sync.cache.cw import chunks
from sync.cache.gone import remember_qbo
from sync.cache.rows import qbo_customer_row, qbo_document_row, qbo_link_rows, qbo_payment_row
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
from sync.clients.errors import CDCWindowError
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import QBOCustomer, QBODocument, QBOPayment, QBOPaymentLink
from sync.records import CDCResult

log = logging.getLogger(__name__)
STREAM = "qbo.cdc"
CDC_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Entity:
    """How one QBO entity is read and written into the cache."""

    name: str
    reader: str  # QuickBooksClient method name
    model: type[SQLModel]
    to_row: Callable[[Any], dict[str, Any]]
    record: type[Any]  # the record a row of the API becomes

    def cached(self, session: Any) -> set[Any]:
        """Ids of this entity already cached."""
        if self.model is QBODocument:
            table = QBODocument.__table__  # type: ignore[attr-defined]
            return {
                row[0]
                for row in session.execute(
                    table.select().with_only_columns(table.c.id).where(table.c.entity == self.name)
                )
            }
        return cached_ids(session, self.model)


ENTITIES = (
    Entity("Customer", "iter_customers", QBOCustomer, qbo_customer_row, api_records.QBOCustomer),
    Entity("Invoice", "iter_invoices", QBODocument, qbo_document_row, api_records.QBOInvoice),
    Entity("CreditMemo", "iter_credit_memos", QBODocument, qbo_document_row, api_records.QBOCreditMemo),
    Entity("Payment", "iter_payments", QBOPayment, qbo_payment_row, api_records.QBOPayment),
)


def sync_qbo(
    engine: Engine, qbo: QuickBooksClient, *, full: bool, lookback: timedelta, now: datetime, progress: Progress
) -> StreamReport:
    """Bring the cached QuickBooks books up to date."""
    with session_scope(engine, write_lock=True) as session:
        cursor = read_cursor(session, STREAM)
    if full or cursor is None:
        return _full(engine, qbo, now=now, lookback=lookback, progress=progress)
    since = cursor - lookback
    if now - since >= CDC_WINDOW - timedelta(minutes=5):
        return _by_queries(engine, qbo, since=since, now=now, lookback=lookback, progress=progress)
    try:
        return _by_cdc(engine, qbo, since=since, now=now, lookback=lookback, progress=progress)
    except CDCWindowError:
        return _by_queries(engine, qbo, since=since, now=now, lookback=lookback, progress=progress)


def _full(
    engine: Engine, qbo: QuickBooksClient, *, now: datetime, lookback: timedelta, progress: Progress
) -> StreamReport:
    def read(entity: Entity) -> tuple[StreamReport, set[str]]:
        return _read_all(engine, qbo, entity, progress)

    with ThreadPoolExecutor(max_workers=len(ENTITIES), thread_name_prefix="qbo-full") as pool:
        results = list(pool.map(read, ENTITIES))
    report = StreamReport()
    with session_scope(engine, write_lock=True) as session:
        for entity, (part, seen) in zip(ENTITIES, results, strict=True):
            report.add(part)
            report.deleted += _delete(session, entity, entity.cached(session) - seen)
        write_cursor(session, STREAM, now - lookback)
    return report


def _read_all(
    engine: Engine, qbo: QuickBooksClient, entity: Entity, progress: Progress
) -> tuple[StreamReport, set[str]]:
    """Read every record of ``entity``, checked against ``select count(*)`` taken before and after."""
    before = qbo.count(entity.name)
    report, seen = _read_entity(engine, entity, qbo.iter_all(entity.record, before), progress)
    report.api_calls += 2
    label = _LABELS.get(entity.name, entity.name.lower() + "s")
    check_complete(system="QuickBooks", what=label, read=len(seen), before=before, after=qbo.count(entity.name))
    return report, seen


_LABELS = {"CreditMemo": "credit memos"}


def _read_entity(
    engine: Engine, entity: Entity, records: Iterator[Any], progress: Progress
) -> tuple[StreamReport, set[str]]:
    report, seen = StreamReport(), set[str]()
    for page in chunks(records):
        with session_scope(engine, write_lock=True) as session:
            _write(session, entity, page, report)
        seen.update(record.id for record in page)
        report.seen[entity.name] = report.seen.get(entity.name, 0) + len(page)
        progress(f"qbo.{entity.name}", len(page), None)
    return report, seen


def _write(session: Any, entity: Entity, records: list[Any], report: StreamReport) -> None:
    rows = [entity.to_row(record) for record in records]
    if entity.model is QBODocument:
        before = _document_versions(session, entity.name, [row["id"] for row in rows])
    else:
        before = existing_versions(session, entity.model, [row["id"] for row in rows])
    count_changes(report, before, rows)
    upsert(session, entity.model, rows)
    if entity.model is QBOPayment:
        ids = [record.id for record in records]
        session.execute(delete(QBOPaymentLink).where(QBOPaymentLink.payment_id.in_(ids)))  # type: ignore[attr-defined]
        upsert(session, QBOPaymentLink, [link for record in records for link in qbo_link_rows(record)])


def _document_versions(session: Any, entity: str, ids: list[str]) -> dict[Any, Any]:
    table = QBODocument.__table__  # type: ignore[attr-defined]
    statement = table.select().with_only_columns(table.c.id, table.c.last_updated)
    return {row[0]: row[1] for row in session.execute(statement.where(table.c.entity == entity, table.c.id.in_(ids)))}


def _delete(session: Any, entity: Entity, ids: set[Any]) -> int:
    if not ids:
        return 0
    remember_qbo(session, entity.name, ids)
    if entity.model is QBOPayment:
        delete_ids(session, QBOPaymentLink, ids, key="payment_id")
    if entity.model is QBODocument:
        table = QBODocument.__table__  # type: ignore[attr-defined]
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            session.execute(
                delete(table).where(table.c.entity == entity.name, table.c.id.in_(id_list[start : start + 500]))
            )
        return len(id_list)
    return delete_ids(session, entity.model, ids)


def _by_cdc(
    engine: Engine, qbo: QuickBooksClient, *, since: datetime, now: datetime, lookback: timedelta, progress: Progress
) -> StreamReport:
    """Read the changes since ``since`` by CDC, never taking a capped answer for the whole window.

    CDC has no upper bound (only ``changedSince``), so a window cannot be narrowed from above, and Intuit does not
    say which objects a capped answer leaves out. A capped answer is therefore thrown away and the window read
    entity by entity; an entity that alone still reaches the cap is read by ``LastUpdatedTime`` query, which pages
    without a cap (its deletions found by comparing counts). The cursor moves to the time of the *first* answer,
    so whatever changed while we were reading is read again next time.
    """
    report = StreamReport()
    result = qbo.cdc([entity.name for entity in ENTITIES], since)
    report.api_calls += 1
    as_of = result.as_of or now
    if result.truncated:
        log.warning(
            "QuickBooks capped the changes since %s at %s objects; reading them entity by entity", since, result.total
        )
        for entity in ENTITIES:
            part = qbo.cdc([entity.name], since)
            report.api_calls += 1
            if part.truncated:
                log.warning("QuickBooks capped the %s changes since %s too; reading them by query", entity.name, since)
                report.add(_catch_up_by_query(engine, qbo, entity, since=since, progress=progress))
                continue
            with session_scope(engine, write_lock=True) as session:
                _apply_cdc(session, part, report)
    else:
        with session_scope(engine, write_lock=True) as session:
            _apply_cdc(session, result, report)
    with session_scope(engine, write_lock=True) as session:
        write_cursor(session, STREAM, as_of)
    progress(STREAM, report.changed, None)
    return report


def _apply_cdc(session: Any, result: CDCResult, report: StreamReport) -> datetime | None:
    by_name = {entity.name: entity for entity in ENTITIES}
    batches: dict[str, list[Any]] = {
        "Customer": result.customers,
        "Invoice": result.invoices,
        "CreditMemo": result.credit_memos,
        "Payment": result.payments,
    }
    newest: datetime | None = None
    for name, records in batches.items():
        if records:
            _write(session, by_name[name], list(records), report)
            stamps = [record.last_updated for record in records if record.last_updated]
            newest = max([*stamps, *([newest] if newest else [])], default=None)
    for name, ids in result.deleted.items():
        if name in by_name:
            report.deleted += _delete(session, by_name[name], set(ids))
    return newest


def _by_queries(
    engine: Engine, qbo: QuickBooksClient, *, since: datetime, now: datetime, lookback: timedelta, progress: Progress
) -> StreamReport:
    log.info("QuickBooks change data capture cannot reach back to %s; reading changes by query", since)
    report = StreamReport()
    for entity in ENTITIES:
        report.add(_catch_up_by_query(engine, qbo, entity, since=since, progress=progress))
    with session_scope(engine, write_lock=True) as session:
        write_cursor(session, STREAM, now - lookback)
    return report


def _catch_up_by_query(
    engine: Engine, qbo: QuickBooksClient, entity: Entity, *, since: datetime, progress: Progress
) -> StreamReport:
    """Read one entity's records changed since ``since`` by query; re-read it in full when the counts disagree."""
    report, _ = _read_entity(engine, entity, getattr(qbo, entity.reader)(updated_since=since), progress)
    report.api_calls += 2
    with session_scope(engine, write_lock=True) as session:
        cached = len(entity.cached(session))
    if qbo.count(entity.name) != cached:
        _, seen = _read_all(engine, qbo, entity, progress)
        with session_scope(engine, write_lock=True) as session:
            report.deleted += _delete(session, entity, entity.cached(session) - seen)
    return report
