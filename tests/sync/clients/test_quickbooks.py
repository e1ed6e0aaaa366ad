"""QuickBooksClient against the QuickBooks sandbox over loopback HTTP: reads, paging, CDC, creates, auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.web import SandboxServer
from sync.clients import qbo_query as q
from sync.clients.errors import (
    AuthError,
    CDCWindowError,
    DuplicateDocumentError,
    NotConfiguredError,
    NotFoundError,
    ValidationError,
)
from sync.clients.quickbooks import QuickBooksClient
from sync.records import DocumentLine, LinkedTxn, QBOCreditMemo, QBOCustomer, QBOInvoice
from sync.settings import load_settings
from tests.sync.clients.servers import (
    RecordingTransport,
    SandboxTokens,
    Sleeps,
    admin,
    close_clients,
    policy,
    qbo_client,
    qbo_company,
    sales_line,
    served,
    start_qbo,
)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    running = start_qbo()
    yield running
    close_clients()
    running.stop()


def seed_customer(server: SandboxServer, name: str = "Acme Co", **body: Any) -> str:
    return str(qbo_company(server).create("Customer", {"DisplayName": name, **body})["Id"])


def seed_invoice(server: SandboxServer, customer: str, number: str, amount: str = "100.00", **options: Any) -> str:
    body = {"DocNumber": number, "CustomerRef": {"value": customer}, "Line": [sales_line(amount)]}
    return str(qbo_company(server).create("Invoice", body, **options)["Id"])


def test_2500_invoices_come_in_three_query_pages(server: SandboxServer) -> None:
    customer = seed_customer(server)
    for number in range(2500):
        seed_invoice(server, customer, f"INV{number}")
    transport = RecordingTransport()
    client = qbo_client(server, transport)
    client._tokens.access_token()  # the token request is not part of the count
    before = served(server)
    invoices = list(client.iter_invoices())
    assert served(server) - before == 3
    assert len({invoice.id for invoice in invoices}) == 2500
    queries = [sent.url.params["query"] for sent in transport.sent]
    assert [query.split("STARTPOSITION")[1] for query in queries] == [
        " 1 MAXRESULTS 1000",
        " 1001 MAXRESULTS 1000",
        " 2001 MAXRESULTS 1000",
    ]
    assert all(sent.url.params["minorversion"] == "75" for sent in transport.sent)


@pytest.mark.parametrize(("count", "calls"), [(2500, 3), (2000, 3), (2000 - 1, 2)])
def test_a_full_read_reads_its_pages_at_once_in_order_with_no_page_lost(
    server: SandboxServer, count: int, calls: int
) -> None:
    customer = seed_customer(server)
    for number in range(count):
        seed_invoice(server, customer, f"INV{number}")
    client = qbo_client(server, RecordingTransport())
    client._tokens.access_token()
    expected = client.count("Invoice")
    before = served(server)
    invoices = list(client.iter_all(QBOInvoice, expected))
    assert served(server) - before == calls  # an exactly full last page is followed by the empty one that ends it
    assert [invoice.id for invoice in invoices] == sorted((i.id for i in invoices), key=int)  # in Id order
    assert len({invoice.id for invoice in invoices}) == count


def test_a_full_read_that_grew_meanwhile_reads_on_page_by_page(server: SandboxServer) -> None:
    customer = seed_customer(server)
    for number in range(1500):
        seed_invoice(server, customer, f"INV{number}")
    client = qbo_client(server, RecordingTransport())
    stale_count = 900  # counted before 600 more arrived
    assert len(list(client.iter_all(QBOInvoice, stale_count))) == 1500


def test_updated_since_filters_every_kind(server: SandboxServer) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=10)
    company = qbo_company(server)
    old_customer = company.create("Customer", {"DisplayName": "Old"}, at=long_ago)["Id"]
    new_customer = seed_customer(server, "New")
    seed_invoice(server, old_customer, "OLD-1", at=long_ago)
    seed_invoice(server, new_customer, "NEW-1")
    company.create(
        "CreditMemo", {"DocNumber": "CM-1", "CustomerRef": {"value": new_customer}, "Line": [sales_line("5")]}
    )
    company.create("Payment", {"CustomerRef": {"value": new_customer}, "TotalAmt": "7.00"})
    client = qbo_client(server)
    since = datetime.now(UTC) - timedelta(days=1)
    assert [i.doc_number for i in client.iter_invoices(updated_since=since)] == ["NEW-1"]
    assert [i.doc_number for i in client.iter_invoices()] == ["OLD-1", "NEW-1"]
    assert [c.display_name for c in client.iter_customers(updated_since=since)] == ["New"]
    assert [m.doc_number for m in client.iter_credit_memos(updated_since=since)] == ["CM-1"]
    assert [p.total for p in client.iter_payments(updated_since=since)] == [Decimal("7.00")]


def test_get_and_count(server: SandboxServer) -> None:
    customer = seed_customer(server)
    first = seed_invoice(server, customer, "1001", "12.34")
    seed_invoice(server, customer, "1002")
    client = qbo_client(server)
    invoice = client.get(QBOInvoice, first)
    assert (invoice.doc_number, invoice.total, invoice.balance, invoice.customer_name) == (
        "1001",
        Decimal("12.34"),
        Decimal("12.34"),
        "Acme Co",
    )
    assert client.count(QBOInvoice) == 2
    assert client.count("Invoice", [q.eq("DocNumber", "1002")]) == 1
    assert client.get(QBOCustomer, customer).display_name == "Acme Co"
    with pytest.raises(NotFoundError) as caught:
        client.get(QBOInvoice, "9999")
    assert "QuickBooks has no invoice id 9999" in str(caught.value)
    assert f"(request id {caught.value.request_id})" in str(caught.value)


def test_cdc_reports_changes_and_deletions(server: SandboxServer) -> None:
    customer = seed_customer(server)
    kept = seed_invoice(server, customer, "K1")
    gone = seed_invoice(server, customer, "G1")
    qbo_company(server).delete("Invoice", {"Id": gone, "SyncToken": "0"})
    client = qbo_client(server)
    result = client.cdc([QBOInvoice, QBOCustomer, "Payment"], datetime.now(UTC) - timedelta(hours=1))
    assert [i.id for i in result.invoices] == [kept]
    assert result.deleted == {"Invoice": [gone]}
    assert [c.id for c in result.customers] == [customer]
    assert result.payments == []
    assert not result.truncated


def test_cdc_older_than_30_days_asks_for_a_full_read(server: SandboxServer) -> None:
    transport = RecordingTransport()
    client = qbo_client(server, transport)
    with pytest.raises(CDCWindowError, match="last 30 days"):
        client.cdc([QBOInvoice], datetime.now(UTC) - timedelta(days=31))
    assert transport.sent == []  # refused before asking
    admin(server, "clock", {"advance_seconds": 31 * 86400})  # QuickBooks' clock is ahead of ours
    with pytest.raises(CDCWindowError):
        client.cdc([QBOInvoice], datetime.now(UTC) - timedelta(days=1))


def test_mirrors_payments_and_credit_application(server: SandboxServer) -> None:
    customer = seed_customer(server)
    client = qbo_client(server)
    lines = [DocumentLine(Decimal("100.00"), "Managed services"), DocumentLine(Decimal("20.10"))]
    invoice = client.create_invoice("10231", customer, date(2024, 1, 15), lines, Decimal("9.60"), date(2024, 2, 14))
    assert (invoice.doc_number, invoice.customer_id, invoice.txn_date, invoice.due_date) == (
        "10231",
        customer,
        date(2024, 1, 15),
        date(2024, 2, 14),
    )
    assert invoice.total == Decimal("129.70") == invoice.balance
    memo = client.create_credit_memo("CM10231", customer, date(2024, 1, 20), [DocumentLine(Decimal("29.70"))])
    applied = client.apply_credit_memo(memo, invoice, Decimal("29.70"))
    assert applied.total == 0
    assert [line.links for line in applied.lines] == [
        [LinkedTxn(invoice.id, "Invoice")],
        [LinkedTxn(memo.id, "CreditMemo")],
    ]
    paid = client.create_payment(
        customer, Decimal("150.00"), date(2024, 2, 1), [(invoice.id, Decimal("100.00"))], ref="CHK 1"
    )
    assert (paid.unapplied, paid.reference, paid.applied_to(invoice.id)) == (Decimal("50"), "CHK 1", Decimal("100"))
    assert client.get(QBOInvoice, invoice.id).balance == 0
    assert client.get(QBOCreditMemo, memo.id).remaining_credit == 0
    assert sorted(client.get(QBOInvoice, invoice.id).linked_payment_ids) == sorted([applied.id, paid.id])


def test_every_create_carries_a_fresh_requestid(server: SandboxServer) -> None:
    customer = seed_customer(server)
    transport = RecordingTransport()
    client = qbo_client(server, transport)
    client.create_invoice("A1", customer, date(2024, 1, 1), [DocumentLine(Decimal("1"))])
    client.create_payment(customer, Decimal("1"), date(2024, 1, 2), [])
    request_ids = [sent.url.params.get("requestid") for sent in transport.sent if sent.method == "POST"]
    assert len(request_ids) == 2
    assert all(len(rid or "") == 36 for rid in request_ids)
    assert len(set(request_ids)) == 2


def test_a_create_whose_answer_is_lost_is_retried_and_made_once(server: SandboxServer) -> None:
    customer = seed_customer(server)
    transport, sleeps = RecordingTransport(), Sleeps()
    client = qbo_client(server, transport, retry=policy(sleeps, base_delay=0.01))
    admin(server, "faults", {"drop_next": {"count": 1, "match": "POST .*/invoice"}})
    invoice = client.create_invoice("DROP-1", customer, date(2024, 1, 1), [DocumentLine(Decimal("75.00"))])
    posts = [sent for sent in transport.sent if sent.method == "POST"]
    assert [sent.status for sent in posts] == [None, 200]
    assert sleeps.waits == [0.01]
    assert posts[0].url.params["requestid"] == posts[1].url.params["requestid"]
    assert client.count(QBOInvoice, [q.eq("DocNumber", "DROP-1")]) == 1
    assert [i.id for i in client.iter_invoices()] == [invoice.id]


def test_a_duplicate_number_is_refused_once_with_its_own_error(server: SandboxServer) -> None:
    customer = seed_customer(server)
    seed_invoice(server, customer, "DUP-1")
    transport = RecordingTransport()
    client = qbo_client(server, transport)
    with pytest.raises(DuplicateDocumentError) as caught:
        client.create_invoice("DUP-1", customer, date(2024, 1, 1), [DocumentLine(Decimal("5"))])
    assert len(transport.sent) == 1
    assert caught.value.code == "6140"
    assert "duplicate" in caught.value.sentence
    assert caught.value.request_id


def test_an_expired_access_token_is_refreshed_once(server: SandboxServer) -> None:
    customer = seed_customer(server)
    tokens = SandboxTokens(server)
    client = qbo_client(server, tokens=tokens)
    assert client.get(QBOCustomer, customer).id == customer
    admin(server, "expire-access-tokens", {})
    assert client.get(QBOCustomer, customer).id == customer
    assert tokens.refreshes == 1


class RejectedTokens(SandboxTokens):
    """A token source whose refreshed tokens are refused too (the connection was revoked)."""

    def access_token(self) -> str:
        return "revoked-access-token-0123456789"

    def refresh_after_401(self, rejected: str) -> str:
        self.refreshes += 1
        return "still-revoked-token-0123456789"


@pytest.mark.parametrize("lowercase", [False, True])
def test_a_second_401_asks_for_reconnection(server: SandboxServer, lowercase: bool) -> None:
    admin(server, "auth-fault-body", {"lowercase": lowercase})
    tokens = RejectedTokens(server)
    transport = RecordingTransport()
    with pytest.raises(AuthError) as caught:
        qbo_client(server, transport, tokens=tokens).count(QBOInvoice)
    error = caught.value
    assert tokens.refreshes == 1
    assert transport.statuses() == [401, 401]
    assert error.sentence.startswith("QuickBooks needs reconnecting")
    assert error.code == "3200"
    assert "revoked" not in str(error) + (error.detail or "")


def test_a_token_for_another_company_is_not_refreshed(server: SandboxServer) -> None:
    tokens = SandboxTokens(server)
    client = QuickBooksClient(base_url=f"{server.url}/v3", realm_id="123", tokens=tokens)
    with pytest.raises(AuthError, match="admin of this company"):
        client.count(QBOInvoice)
    client.close()
    assert tokens.refreshes == 0


def test_refused_writes_are_not_retried(server: SandboxServer) -> None:
    transport = RecordingTransport()
    client = qbo_client(server, transport)
    with pytest.raises(ValidationError) as caught:
        client.create_payment("999", Decimal("1"), date(2024, 1, 1), [])
    assert len(transport.sent) == 1
    assert caught.value.status == 400
    assert caught.value.sentence.startswith("QuickBooks refused the payment")


def test_from_settings_defaults_the_base_url_from_the_environment() -> None:
    settings = load_settings(QBO_ENVIRONMENT="sandbox", QBO_REALM_ID="42", _env_file=None)
    client = QuickBooksClient.from_settings(settings, SandboxTokens.__new__(SandboxTokens))
    assert client._company_url == "https://sandbox-quickbooks.api.intuit.com/v3/company/42"
    client.close()
    with pytest.raises(NotConfiguredError, match="QBO_REALM_ID"):
        QuickBooksClient.from_settings(load_settings(_env_file=None), SandboxTokens.__new__(SandboxTokens))
