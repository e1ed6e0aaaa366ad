"""Reads that never lose data silently, over loopback HTTP: capped CDC answers, count cross-checks, paging forms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.cache.qbo import STREAM, sync_qbo
from sync.cache.store import no_progress, read_cursor
from sync.db import session_scope
from sync.models import QBODocument, utcnow
from tests.sandboxes import qbo_client, sandbox


@pytest.fixture
def empty() -> Iterator[RunningSandbox]:
    with sandbox("empty") as running:
        yield running


def books(running: RunningSandbox) -> Any:
    return running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]


def documents(engine: Engine, entity: str) -> int:
    with session_scope(engine) as session:
        statement = select(func.count()).select_from(QBODocument).where(QBODocument.entity == entity)  # type: ignore[arg-type]
        return int(session.execute(statement).scalar_one())


def form(customer: str, amount: str = "10.00") -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal(amount),
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    return {"CustomerRef": {"value": customer}, "Line": [line]}


def switch(server: Any, **values: object) -> None:
    httpx.post(f"{server.url}/_sandbox/switches", json=values).raise_for_status()


def test_cdc_capped_across_entities_reads_every_change(engine: Engine, empty: RunningSandbox) -> None:
    """700 invoices and 700 memos in one window: Intuit sends 1,000 in all, so neither entity alone looks capped."""
    company = books(empty)
    customer = company.create("Customer", {"DisplayName": "Acme"})["Id"]
    with qbo_client(empty) as qbo:
        sync_qbo(engine, qbo, full=True, lookback=timedelta(minutes=5), now=utcnow(), progress=no_progress)
        for _ in range(700):
            company.create("Invoice", form(customer))
        for _ in range(700):
            company.create("CreditMemo", form(customer, "5.00"))
        raw = qbo.cdc(["Invoice", "CreditMemo"], utcnow() - timedelta(hours=1))
        assert raw.total == 1000  # the sandbox caps the whole answer, as Intuit does
        assert len(raw.invoices) < 1000
        assert len(raw.credit_memos) < 1000
        assert raw.truncated
        started = utcnow()
        report = sync_qbo(engine, qbo, full=False, lookback=timedelta(minutes=5), now=started, progress=no_progress)
    assert documents(engine, "Invoice") == 700
    assert documents(engine, "CreditMemo") == 700
    assert report.created == 1400
    with session_scope(engine) as session:
        cursor = read_cursor(session, STREAM)
    assert cursor is not None
    assert started - timedelta(minutes=1) <= cursor <= utcnow()  # the first answer's time, not past unread changes


def test_one_entity_over_the_cap_is_read_by_query_and_deletions_still_seen(
    engine: Engine, empty: RunningSandbox
) -> None:
    company = books(empty)
    customer = company.create("Customer", {"DisplayName": "Acme"})["Id"]
    doomed = company.create("Invoice", form(customer))
    with qbo_client(empty) as qbo:
        sync_qbo(engine, qbo, full=True, lookback=timedelta(minutes=5), now=utcnow(), progress=no_progress)
        switch(empty.qbo, qbo_cdc_cap=20)
        qbo.cdc_cap = 20
        for _ in range(30):
            company.create("Invoice", form(customer))
        for _ in range(5):
            company.create("CreditMemo", form(customer))
        company.delete("Invoice", {"Id": doomed["Id"], "SyncToken": doomed["SyncToken"]})
        report = sync_qbo(engine, qbo, full=False, lookback=timedelta(minutes=5), now=utcnow(), progress=no_progress)
    assert documents(engine, "Invoice") == 30
    assert documents(engine, "CreditMemo") == 5
    assert report.deleted == 1
