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
from sync.cache.cw import sync_cw_invoices
from sync.cache.qbo import STREAM, sync_qbo
from sync.cache.store import no_progress, read_cursor
from sync.clients.errors import IncompleteReadError
from sync.db import session_scope
from sync.models import CWInvoice, QBODocument, utcnow
from tests.sandboxes import cw_client, qbo_client, sandbox


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


# -- full reads cross-checked against the systems' counts ----------------------------------------------------------
def seed_cw(running: RunningSandbox, invoices: int = 7) -> Any:
    store = running.cw.service.store  # type: ignore[attr-defined]
    company = store.create_company({"identifier": "ACME", "name": "Acme Co", "accountNumber": "ACME01"})
    for number in range(invoices):
        store.create_invoice(
            {
                "invoiceNumber": f"INV-{number}",
                "type": "Standard",
                "company": {"id": company["id"]},
                "total": Decimal("10.00"),
            }
        )
    return store


def cached_invoices(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(CWInvoice)).scalar_one())


def test_a_cw_page_that_loses_a_row_fails_the_full_read_and_deletes_nothing(
    engine: Engine, empty: RunningSandbox
) -> None:
    seed_cw(empty)
    with cw_client(empty, page_size=3) as cw:
        sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
        assert cached_invoices(engine) == 7
        with session_scope(engine) as session:
            cursor = read_cursor(session, "cw.invoices")
        switch(empty.cw, cw_drop_row=2)
        with pytest.raises(IncompleteReadError) as caught:
            sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
    assert "ConnectWise counts 7 invoices but sent only" in caught.value.sentence
    assert cached_invoices(engine) == 7  # the rows the lossy read did not see were not deleted
    with session_scope(engine) as session:
        assert read_cursor(session, "cw.invoices") == cursor


def test_a_first_cw_read_that_loses_a_row_writes_no_cursor(engine: Engine, empty: RunningSandbox) -> None:
    seed_cw(empty)
    switch(empty.cw, cw_drop_row=1)
    with cw_client(empty) as cw, pytest.raises(IncompleteReadError):
        sync_cw_invoices(engine, cw, full=False, lookback=timedelta(minutes=5), progress=no_progress)
    with session_scope(engine) as session:
        assert read_cursor(session, "cw.invoices") is None  # the next run reads everything again


def test_a_qbo_query_page_that_loses_a_row_fails_the_full_read(engine: Engine, empty: RunningSandbox) -> None:
    company = books(empty)
    customer = company.create("Customer", {"DisplayName": "Acme"})["Id"]
    for _ in range(4):
        company.create("Invoice", form(customer))
    switch(empty.qbo, qbo_drop_row=3)
    with qbo_client(empty) as qbo, pytest.raises(IncompleteReadError) as caught:
        sync_qbo(engine, qbo, full=True, lookback=timedelta(minutes=5), now=utcnow(), progress=no_progress)
    assert "QuickBooks counts 4 invoices but sent only 3" in caught.value.sentence
    with session_scope(engine) as session:
        assert read_cursor(session, STREAM) is None


@pytest.mark.parametrize(("style", "forward_only"), [("rel", True), ("bare", True), ("rel", False), ("bare", False)])
def test_every_link_form_and_paging_style_reads_every_invoice(
    engine: Engine, empty: RunningSandbox, style: str, forward_only: bool
) -> None:
    seed_cw(empty, invoices=11)
    switch(empty.cw, cw_link_style=style, cw_forward_only=forward_only)
    with cw_client(empty, page_size=4) as cw:
        report = sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
    assert report.created == 11
    assert cached_invoices(engine) == 11


# -- credit memo signs and the closed flag ----------------------------------------------------------------------
@pytest.mark.parametrize("negative", [False, True])
def test_credit_memos_read_the_same_under_either_sign(engine: Engine, empty: RunningSandbox, negative: bool) -> None:
    store = seed_cw(empty, invoices=0)
    company = store.find_company("ACME")["id"]
    memo = store.create_invoice(
        {"invoiceNumber": "CM-1", "type": "CreditMemo", "company": {"id": company}, "total": Decimal("40.00")}
    )
    invoice = store.create_invoice(
        {"invoiceNumber": "INV-9", "type": "Standard", "company": {"id": company}, "total": Decimal("100.00")}
    )
    store.create_payment(invoice["id"], {"amount": Decimal("15.00"), "credit": {"id": memo["id"]}})
    switch(empty.cw, cw_credit_memo_negative=negative)
    with cw_client(empty) as cw:
        assert cw.get_invoice(memo["id"]).total == Decimal("40")
        sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
        rows = [(row.credit_memo_id, row.amount) for row in cw.list_payments(invoice["id"])]
    served = httpx.get(
        f"{empty.cw_base_url}/finance/invoices/{memo['id']}",
        auth=(f"{empty.credentials.company_id}+{empty.credentials.public_key}", empty.credentials.private_key),
        headers={"clientId": empty.credentials.client_id},
    ).json()
    assert (Decimal(str(served["total"])) < 0) is negative  # the sandbox really served that sign
    with session_scope(engine) as session:
        cached_memo = session.get(CWInvoice, memo["id"])
        cached_invoice = session.get(CWInvoice, invoice["id"])
    assert cached_memo is not None
    assert cached_invoice is not None
    assert (cached_memo.total, cached_memo.credits, cached_memo.balance) == (Decimal(40), Decimal(15), Decimal(25))
    assert (cached_invoice.credits, cached_invoice.balance) == (Decimal(15), Decimal(85))
    assert rows == [(memo["id"], Decimal(15))]


@pytest.mark.parametrize("flag", ["missing", "null"])
def test_without_is_closed_the_configured_status_names_decide_and_a_warning_says_so(
    engine: Engine, empty: RunningSandbox, flag: str
) -> None:
    store = seed_cw(empty, invoices=0)
    company = store.find_company("ACME")["id"]
    ids = {}
    for status in ("New", "Sent", "Closed", "Paid"):
        body = {"invoiceNumber": f"INV-{status}", "type": "Standard", "company": {"id": company}, "total": 5}
        ids[status] = store.create_invoice({**body, "status": {"name": status}})["id"]
    switch(empty.cw, cw_closed_flag=flag)
    with cw_client(empty, closed_statuses=["Sent", "Closed"]) as cw:
        report = sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
    with session_scope(engine) as session:
        closed = {status: session.get(CWInvoice, ids[status]).is_closed for status in ids}  # type: ignore[union-attr]
    assert closed == {"New": False, "Sent": True, "Closed": True, "Paid": False}
    assert len(report.warnings) == 1
    assert "none of the 4 invoices" in report.warnings[0]
    assert "TALLY_CW_CLOSED_STATUSES" in report.warnings[0]


def test_with_is_closed_present_the_flag_decides_and_nothing_is_warned(engine: Engine, empty: RunningSandbox) -> None:
    store = seed_cw(empty, invoices=0)
    company = store.find_company("ACME")["id"]
    sent = store.create_invoice(
        {
            "invoiceNumber": "INV-S",
            "type": "Standard",
            "company": {"id": company},
            "total": 5,
            "status": {"name": "Sent"},
        }
    )
    with cw_client(empty, closed_statuses=[]) as cw:
        report = sync_cw_invoices(engine, cw, full=True, lookback=timedelta(minutes=5), progress=no_progress)
    with session_scope(engine) as session:
        assert session.get(CWInvoice, sent["id"]).is_closed is True  # type: ignore[union-attr]
    assert report.warnings == []
