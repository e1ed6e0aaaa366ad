"""Hostile values in both query languages: the builders escape them, and each round-trips to the right record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sandbox.web import SandboxServer
from sync.clients import cw_conditions as cw
from sync.clients import qbo_query as q
from tests.sync.clients.servers import close_clients, cw_client, qbo_client, qbo_company, start_cw, start_qbo

HOSTILE = [
    'Acme "Quoted" Co',
    "Back\\slash Ltd",
    "Trailing backslash \\",
    'Escaped \\" quote',
    "O'Brien's Diner",
    "O’Brien’s Diner",  # curly apostrophes
    "Smith – Jones",  # en dash
    "50% Off & Co",
    "Parens (and) or and",
    "Ünïcödé GmbH",
]


# -- ConnectWise conditions -----------------------------------------------------------------------------------
def test_cw_literals() -> None:
    assert cw.quote('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert cw.literal(datetime(2024, 1, 15, 5, 6, 7, 890, tzinfo=timezone(timedelta(hours=-5)))) == (
        "[2024-01-15T10:06:07Z]"
    )
    assert cw.literal(date(2024, 1, 15)) == "[2024-01-15T00:00:00Z]"
    assert (cw.literal(True), cw.literal(None), cw.literal(12)) == ("True", "null", "12")
    assert cw.where(cw.eq("type", "CreditMemo"), None, cw.in_("id", [1, 2])) == 'type = "CreditMemo" and id in (1, 2)'
    assert cw.where() is None


def test_cw_refuses_what_it_cannot_render_safely() -> None:
    with pytest.raises(ValueError, match="naive"):
        cw.literal(datetime(2024, 1, 1))  # noqa: DTZ001 -- the point of the test
    with pytest.raises(ValueError, match="field path"):
        cw.eq('name = "x" or id', 1)
    with pytest.raises(ValueError, match="empty"):
        cw.in_("id", [])


@pytest.fixture
def cw_server() -> Iterator[SandboxServer]:
    running = start_cw()
    yield running
    close_clients()
    running.stop()


def test_cw_hostile_names_find_exactly_their_company(cw_server: SandboxServer) -> None:
    store = cw_server.service.store  # type: ignore[attr-defined]
    ids = {name: store.create_company({"identifier": f"C{n}", "name": name})["id"] for n, name in enumerate(HOSTILE)}
    for company_id in ids.values():
        store.create_invoice({"company": {"id": company_id}, "type": "Standard", "total": "1"})
    client = cw_client(cw_server)
    for name, company_id in ids.items():
        found = [row["id"] for row in client.iter_rows("/company/companies", conditions=cw.eq("name", name))]
        assert found == [company_id], name
        assert client.count_invoices(conditions=cw.eq("company/name", name)) == 1, name


# -- QuickBooks queries ---------------------------------------------------------------------------------------
def test_qbo_literals() -> None:
    assert q.quote("O'Brien \\ Co") == "'O\\'Brien \\\\ Co'"
    assert q.literal(datetime(2024, 1, 15, 10, 0, tzinfo=UTC)) == "'2024-01-15T10:00:00+00:00'"
    assert q.literal(date(2024, 1, 15)) == "'2024-01-15'"
    assert q.literal(False) == "false"
    query = q.select("Invoice", q.eq("DocNumber", "1001"), None, q.in_("Id", ["1", "2"]), order_by="Id")
    assert query.sql() == "SELECT * FROM Invoice WHERE DocNumber = '1001' AND Id IN ('1', '2') ORDERBY Id"
    assert query.count_sql() == "SELECT COUNT(*) FROM Invoice WHERE DocNumber = '1001' AND Id IN ('1', '2')"
    assert q.paged(query.sql(), 1001, 1000).endswith("ORDERBY Id STARTPOSITION 1001 MAXRESULTS 1000")


def test_qbo_never_sends_characters_its_lexer_rejects() -> None:
    condition = q.eq("DisplayName", "O’Brien’s – Diner")
    assert condition.sql == "DisplayName LIKE 'O%Brien%s % Diner'"
    assert not condition.exact
    assert condition.matches({"DisplayName": "O’Brien’s – Diner"})
    assert not condition.matches({"DisplayName": "O'Brien's - Diner"})
    with pytest.raises(ValueError, match="lexer"):
        q.in_("DisplayName", ["O’Brien"])
    with pytest.raises(ValueError, match="naive"):
        q.literal(datetime(2024, 1, 1))  # noqa: DTZ001 -- the point of the test
    with pytest.raises(ValueError, match="field"):
        q.eq("DisplayName = 'x' OR Id", "1")


@pytest.fixture
def qbo_server() -> Iterator[SandboxServer]:
    running = start_qbo()
    yield running
    close_clients()
    running.stop()


def test_qbo_hostile_names_find_exactly_their_customer(qbo_server: SandboxServer) -> None:
    company = qbo_company(qbo_server)
    names = [*HOSTILE, "O'Brien's Diner (copy)", "O'Brien’s Diner"]  # near-misses of the curly one
    ids = {name: company.create("Customer", {"DisplayName": name})["Id"] for name in names}
    client = qbo_client(qbo_server)
    for name, customer_id in ids.items():
        assert [row["Id"] for row in client.iter_query(q.select("Customer", q.eq("DisplayName", name)))] == [
            customer_id
        ], name
        assert client.count("Customer", [q.eq("DisplayName", name)]) == 1, name


def test_qbo_hostile_document_numbers_round_trip(qbo_server: SandboxServer) -> None:
    company = qbo_company(qbo_server)
    customer = company.create("Customer", {"DisplayName": "Acme"})["Id"]
    line = {"DetailType": "SalesItemLineDetail", "Amount": "1", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
    numbers = ["CM'1", "INV\\2", "A’3"]
    ids = {
        n: company.create("Invoice", {"DocNumber": n, "CustomerRef": {"value": customer}, "Line": [line]})["Id"]
        for n in numbers
    }
    client = qbo_client(qbo_server)
    for number, invoice_id in ids.items():
        assert [row["Id"] for row in client.iter_query(q.select("Invoice", q.eq("DocNumber", number)))] == [invoice_id]
