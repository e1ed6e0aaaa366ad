"""The full sweep over loopback HTTP: it catches what incremental syncs cannot see, and says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.cache import run_sync
from sync.clients.errors import ServerError
from sync.db import session_scope
from sync.models import CWInvoice, utcnow
from sync.sweep import SweepView, latest_sweep, run_sweep, sweep_due, sweep_summary
from tests.sandboxes import cw_client, qbo_client, sandbox


@pytest.fixture
def empty() -> Iterator[RunningSandbox]:
    with sandbox("empty") as running:
        yield running


def seed(running: RunningSandbox) -> tuple[Any, int]:
    """An hour-old invoice and a fresh one: the cursor moves past the old one's look-back window."""
    store = running.cw.service.store  # type: ignore[attr-defined]
    past = utcnow() - timedelta(hours=1)
    company = store.create_company({"identifier": "ACME", "name": "Acme Co", "accountNumber": "A1"}, at=past)
    body = {"invoiceNumber": "INV-7", "type": "Standard", "company": {"id": company["id"]}, "total": Decimal(100)}
    invoice = store.create_invoice({**body, "status": {"name": "Closed"}}, at=past)
    store.create_invoice({**body, "invoiceNumber": "INV-8"})
    return store, int(invoice["id"])


def balance(engine: Engine, invoice_id: int) -> Decimal:
    with session_scope(engine) as session:
        row = session.get(CWInvoice, invoice_id)
        assert row is not None
        return row.balance


def test_the_sweep_catches_a_payment_that_did_not_move_last_updated(engine: Engine, empty: RunningSandbox) -> None:
    store, invoice = seed(empty)
    with cw_client(empty) as cw, qbo_client(empty) as qbo:
        run_sync(engine, cw, qbo, full=True)
        httpx.post(f"{empty.cw.url}/_sandbox/switches", json={"cw_payments_touch_last_updated": False})
        store.create_payment(invoice, {"amount": Decimal("40.00")})
        run_sync(engine, cw, qbo)
        assert balance(engine, invoice) == Decimal(100)  # the incremental sync is blind to it
        result = run_sweep(engine, cw, qbo)
    assert balance(engine, invoice) == Decimal(60)
    assert (result.missed_cw, result.missed_qbo) == (1, 0)
    assert result.examples == ["ConnectWise invoice INV-7"]
    with session_scope(engine) as session:
        run = latest_sweep(session)
        assert run is not None
        assert (run.status, run.missed_cw) == ("done", 1)
        summary = sweep_summary(run, now=utcnow())
    assert "found 1 record(s) the incremental syncs had missed: 1 in ConnectWise, 0 in QuickBooks" in summary
    assert "ConnectWise invoice INV-7" in summary


def test_when_payments_move_last_updated_the_sweep_finds_nothing_missed(engine: Engine, empty: RunningSandbox) -> None:
    store, invoice = seed(empty)
    with cw_client(empty) as cw, qbo_client(empty) as qbo:
        run_sync(engine, cw, qbo, full=True)
        store.create_payment(invoice, {"amount": Decimal("40.00")})
        result = run_sweep(engine, cw, qbo)
    assert balance(engine, invoice) == Decimal(60)  # the sweep's own incremental step brought it in
    assert result.missed == 0
    with session_scope(engine) as session:
        assert "found nothing" in sweep_summary(latest_sweep(session), now=utcnow())


def test_a_failed_sweep_is_recorded_with_its_sentence(engine: Engine, empty: RunningSandbox) -> None:
    seed(empty)
    with cw_client(empty) as cw, qbo_client(empty) as qbo:
        httpx.post(f"{empty.cw.url}/_sandbox/faults", json={"fail_next": {"count": 50, "status": 500}})
        with pytest.raises(ServerError):
            run_sweep(engine, cw, qbo)
    with session_scope(engine) as session:
        run = latest_sweep(session)
        assert run is not None
        assert run.status == "failed"
        assert "ConnectWise" in (run.error or "")
        assert sweep_summary(run, now=utcnow()).startswith("The last full sweep failed")


def test_sweep_due_once_a_day_after_its_local_time() -> None:
    zone = ZoneInfo("America/New_York")
    at = time(2, 30)
    before = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 02:00 in New York
    after = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 03:00
    yesterday = SweepView(datetime(2026, 12, 2, 7, 31, tzinfo=UTC), None, "done", 0, 0)
    today = SweepView(datetime(2026, 12, 3, 7, 31, tzinfo=UTC), None, "done", 0, 0)
    assert not sweep_due(at, zone, yesterday, before)
    assert sweep_due(at, zone, yesterday, after)
    assert not sweep_due(at, zone, today, after)
    assert sweep_due(at, zone, None, before)


def test_summary_without_any_sweep() -> None:
    assert "No full sweep has run yet" in sweep_summary(None, now=utcnow())


def test_the_summary_carries_the_sweeps_warnings() -> None:
    run = SweepView(utcnow(), utcnow(), "done", 0, 0, warnings=("ConnectWise sent none of the 3 invoices read",))
    assert "Warning: ConnectWise sent none of the 3 invoices read" in sweep_summary(run, now=utcnow())
