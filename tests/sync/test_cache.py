"""The cache over real loopback HTTP: full and incremental syncs against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sandbox.cli import RunningSandbox
from sync.cache import run_sync
from sync.cache.store import read_cursor, write_cursor
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import ServerError
from sync.clients.quickbooks import QuickBooksClient
from sync.db import session_scope
from sync.models import CWCompany, CWInvoice, CWPayment, QBOCustomer, QBODocument, QBOPayment, QBOPaymentLink, utcnow
from sync.records.quickbooks import DocumentLine
from tests.sandboxes import cw_client, qbo_client, sandbox, served


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with sandbox("small", seed=3) as books:
        yield books


@pytest.fixture
def clients(running: RunningSandbox) -> Iterator[tuple[ConnectWiseClient, QuickBooksClient]]:
    with cw_client(running) as cw, qbo_client(running) as qbo:
        yield cw, qbo


def count(engine: Engine, model: type, **where: object) -> int:
    with session_scope(engine) as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(session.execute(statement).scalar_one())


@pytest.mark.slow  # takes long: runs in make test-all (CI)
def test_full_sync_caches_both_books_exactly(engine: Engine, running: RunningSandbox, clients: tuple) -> None:
    cw, qbo = clients
    report = run_sync(engine, cw, qbo, full=True, all_rows=True)  # the sweep's way: every invoice's credit rows
    cw_store = running.cw.service.store  # type: ignore[attr-defined]
    qbo_books = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
    remote_invoices = cw_store.invoices()
    assert count(engine, CWInvoice) == len(remote_invoices)
    assert count(engine, CWCompany) == len(list(cw.iter_companies())) > 0
    assert count(engine, QBOCustomer) == len(qbo_books.all("Customer"))
    assert count(engine, QBODocument, entity="Invoice") == len(qbo_books.all("Invoice"))
    assert count(engine, QBODocument, entity="CreditMemo") == len(qbo_books.all("CreditMemo"))
    assert count(engine, QBOPayment) == len(qbo_books.all("Payment"))
    assert report.streams["cw.invoices"].created == len(remote_invoices)
    with session_scope(engine) as session:
        cached = {row.id: row for row in session.execute(select(CWInvoice)).scalars()}
        credit_rows = session.execute(select(func.count()).select_from(CWPayment)).scalar_one()
    for invoice in remote_invoices:
        assert cached[invoice["id"]].balance == Decimal(str(invoice["balance"]))
    credited = [i for i in remote_invoices if i["type"] != "CreditMemo" and Decimal(str(i.get("credits") or 0))]
    assert credited
    assert credit_rows >= len(credited)


def test_incremental_sync_with_nothing_changed_costs_at_most_four_calls(
    engine: Engine, running: RunningSandbox, clients: tuple
) -> None:
    cw, qbo = clients
    run_sync(engine, cw, qbo, full=True)
    before = served(running)
    report = run_sync(engine, cw, qbo)
    assert served(running) - before <= 4
    assert report.changed == 0


@pytest.mark.slow  # takes long: runs in make test-all (CI)
def test_incremental_sync_picks_up_creates_payments_and_deletes(engine: Engine, running: RunningSandbox) -> None:
    with sandbox("small", seed=11) as fresh, cw_client(fresh) as cw, qbo_client(fresh) as qbo:
        run_sync(engine, cw, qbo, full=True)
        cw_store = fresh.cw.service.store  # type: ignore[attr-defined]
        open_invoice = next(
            i for i in cw_store.invoices() if Decimal(str(i["balance"])) > 10 and i["type"] != "CreditMemo"
        )
        cw.create_payment(open_invoice["id"], Decimal("10.00"), utcnow().date())
        doomed = next(
            i for i in cw_store.invoices() if not i["payments"] and not i["credits"] and i["id"] != open_invoice["id"]
        )
        creds = fresh.credentials
        deleted = httpx.delete(
            f"{fresh.cw_base_url}/finance/invoices/{doomed['id']}",
            auth=(f"{creds.company_id}+{creds.public_key}", creds.private_key),
            headers={"clientId": creds.client_id},
        )
        assert deleted.status_code == 204
        customers = list(qbo.iter_customers())
        created = qbo.create_invoice("Q-NEW-1", customers[0].id, utcnow().date(), [DocumentLine(Decimal("99.00"))])
        books = fresh.qbo.service.store.company(fresh.app.realm_id)  # type: ignore[attr-defined]
        edited = next(i for i in books.all("Invoice") if not i.get("LinkedTxn"))
        books.update(
            "Invoice", {"Id": edited["Id"], "SyncToken": edited["SyncToken"], "DueDate": "2031-01-31"}, sparse=True
        )
        report = run_sync(engine, cw, qbo)
        with session_scope(engine) as session:
            updated = session.get(QBODocument, ("Invoice", edited["Id"]))
            assert updated is not None
            assert str(updated.due_date) == "2031-01-31"
            paid = session.get(CWInvoice, open_invoice["id"])
            assert paid is not None
            assert paid.payments == Decimal(str(open_invoice["payments"] or 0)) + Decimal("10.00")
            assert session.get(CWInvoice, doomed["id"]) is None
            assert session.get(QBODocument, ("Invoice", created.id)) is not None
        assert report.streams["cw.invoices"].deleted == 1
        assert report.streams["qbo"].created >= 1
        assert report.streams["qbo"].updated >= 1


@pytest.mark.slow  # takes long: runs in make test-all (CI)
def test_a_failed_sync_leaves_the_cursor_and_the_next_run_recovers(engine: Engine, running: RunningSandbox) -> None:
    with sandbox("small", seed=5) as fresh, cw_client(fresh) as cw, qbo_client(fresh) as qbo:
        run_sync(engine, cw, qbo, full=True)
        with session_scope(engine) as session:
            cursor = read_cursor(session, "cw.invoices")
        httpx.post(f"{fresh.cw.url}/_sandbox/faults", json={"fail_next": {"count": 50, "status": 500}})
        with pytest.raises(ServerError):
            run_sync(engine, cw, qbo)
        with session_scope(engine) as session:
            assert read_cursor(session, "cw.invoices") == cursor
        httpx.post(f"{fresh.cw.url}/_sandbox/faults", json={"fail_next": 0})
        assert run_sync(engine, cw, qbo).streams["cw.invoices"].changed == 0


def test_past_cdc_window_falls_back_to_queries_and_still_sees_deletions(engine: Engine) -> None:
    with sandbox("small", seed=8) as fresh, cw_client(fresh) as cw, qbo_client(fresh) as qbo:
        run_sync(engine, cw, qbo, full=True)
        victim = next(i for i in qbo.iter_invoices() if not i.linked_payment_ids)
        token = qbo._tokens.access_token()
        answer = httpx.post(
            f"{fresh.qbo.url}/v3/company/{fresh.app.realm_id}/invoice",
            params={"operation": "delete"},
            json={"Id": victim.id, "SyncToken": victim.sync_token},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        with session_scope(engine) as session:
            write_cursor(session, "qbo.cdc", utcnow() - timedelta(days=40))
        run_sync(engine, cw, qbo)
        with session_scope(engine) as session:
            assert session.get(QBODocument, ("Invoice", victim.id)) is None
            assert read_cursor(session, "qbo.cdc") > utcnow() - timedelta(hours=1)  # type: ignore[operator]
        assert count(engine, QBOPaymentLink) > 0
