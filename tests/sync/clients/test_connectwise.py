"""ConnectWiseClient against the ConnectWise sandbox over loopback HTTP: every endpoint, paging, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.web import SandboxServer
from sync.clients import cw_conditions as cw
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import (
    AuthError,
    NotConfiguredError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    ValidationError,
)
from sync.records import CWInvoice
from sync.settings import load_settings
from tests.sync.clients.servers import (
    RecordingTransport,
    Sleeps,
    admin,
    close_clients,
    cw_client,
    policy,
    served,
    start_cw,
)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    running = start_cw()
    yield running
    close_clients()
    running.stop()


def store(server: SandboxServer) -> Any:
    return server.service.store  # type: ignore[attr-defined]


def seed_company(server: SandboxServer, name: str = "Acme Co", identifier: str = "Acme") -> dict[str, Any]:
    company: dict[str, Any] = store(server).create_company(
        {"identifier": identifier, "name": name, "accountNumber": f"{identifier.upper()}01"}
    )
    return company


def seed_invoice(
    server: SandboxServer, company: dict[str, Any], total: str, *, at: datetime | None = None, **body: Any
) -> dict[str, Any]:
    invoice: dict[str, Any] = store(server).create_invoice(
        {"company": {"id": company["id"]}, "type": "Standard", "total": total, **body}, at=at
    )
    return invoice


def test_base_url_is_looked_up_from_the_site_and_company(server: SandboxServer) -> None:
    client = cw_client(server)
    assert client.base_url == f"{server.url}/v2025_1/apis/3.0"


def test_unknown_company_says_which_setting_to_check(server: SandboxServer) -> None:
    client = cw_client(server, company_id="nobody")
    with pytest.raises(NotFoundError) as caught:
        next(client.iter_invoices())
    assert "CW_COMPANY_ID" in str(caught.value)


def test_from_settings_needs_every_key() -> None:
    settings = load_settings(CW_BASE_URL="https://api-na.myconnectwise.net/v4_6_release/apis/3.0", _env_file=None)
    with pytest.raises(NotConfiguredError, match="CW_COMPANY_ID, CW_PUBLIC_KEY, CW_PRIVATE_KEY, CW_CLIENT_ID"):
        ConnectWiseClient.from_settings(settings)


def test_2500_invoices_come_in_three_forward_only_pages(server: SandboxServer) -> None:
    company = seed_company(server)
    for number in range(2500):
        seed_invoice(server, company, "10.00", invoiceNumber=f"INV{number}")
    transport = RecordingTransport()
    client = cw_client(server, transport)
    assert client.base_url  # the codebase lookup is not part of the count
    before = served(server)
    invoices = list(client.iter_invoices())
    assert served(server) - before == 3
    assert len(invoices) == 2500 == len({invoice.id for invoice in invoices})
    pages = [sent.url.params for sent in transport.sent[1:]]
    assert [page.get("pageId") for page in pages] == [None, str(invoices[999].id), str(invoices[1999].id)]
    assert all(page["pageSize"] == "1000" for page in pages)
    assert all(sent.url.params.get("page") is None for sent in transport.sent)


def test_conditions_are_kept_on_every_page(server: SandboxServer) -> None:
    company = seed_company(server)
    for number in range(2100):
        seed_invoice(server, company, "5", type="CreditMemo" if number % 3 == 0 else "Standard")
    transport = RecordingTransport()
    memos = list(cw_client(server, transport).iter_invoices(types=["CreditMemo"]))
    assert len(memos) == 700
    assert all(memo.is_credit_memo for memo in memos)
    assert all('type in ("CreditMemo")' in sent.url.params["conditions"] for sent in transport.sent[1:])


def test_updated_since_returns_only_later_changes(server: SandboxServer) -> None:
    company = seed_company(server)
    now = datetime.now(UTC)
    seed_invoice(server, company, "1", invoiceNumber="OLD", at=now - timedelta(days=3))
    seed_invoice(server, company, "2", invoiceNumber="NEW", at=now - timedelta(hours=1))
    client = cw_client(server)
    assert [i.number for i in client.iter_invoices(updated_since=now - timedelta(days=1))] == ["NEW"]
    assert [c.identifier for c in client.iter_companies(updated_since=now + timedelta(days=1))] == []
    assert [c.account_number for c in client.iter_companies()] == ["ACME01"]


def test_count_ids_and_get(server: SandboxServer) -> None:
    company = seed_company(server)
    created = [seed_invoice(server, company, "100.10", invoiceNumber=f"N{n}") for n in range(3)]
    store(server).delete_invoice(created[1]["id"])
    client = cw_client(server)
    assert client.count_invoices() == 2
    assert client.count_invoices(conditions=cw.eq("invoiceNumber", "N2")) == 1
    assert list(client.iter_invoice_ids()) == [created[0]["id"], created[2]["id"]]
    invoice = client.get_invoice(created[2]["id"])
    assert (invoice.number, invoice.company_identifier, invoice.total) == ("N2", "Acme", Decimal("100.10"))
    assert invoice.account_number == "ACME01"
    assert invoice.last_updated is not None


def test_payments_and_credits_are_recorded_listed_and_removed(server: SandboxServer) -> None:
    company = seed_company(server)
    invoice = seed_invoice(server, company, "250.00", invoiceNumber="10231")
    memo = seed_invoice(server, company, "40.00", invoiceNumber="CM1", type="CreditMemo")
    client = cw_client(server)
    paid = client.create_payment(invoice["id"], Decimal("100.25"), date(2024, 2, 1))
    credit = client.create_payment(invoice["id"], Decimal("40.00"), date(2024, 2, 2), credit_memo_id=memo["id"])
    assert (paid.amount, paid.payment_date, paid.credit_memo_id) == (Decimal("100.25"), date(2024, 2, 1), None)
    assert credit.credit_memo_id == memo["id"]
    assert [p.id for p in client.list_payments(invoice["id"])] == [paid.id, credit.id]
    after = client.get_invoice(invoice["id"])
    assert (after.payments, after.credits, after.balance) == (Decimal("100.25"), Decimal("40"), Decimal("109.75"))
    client.delete_payment(invoice["id"], paid.id)
    assert client.get_invoice(invoice["id"]).balance == Decimal("210.00")
    assert client.get_invoice(memo["id"]).balance == Decimal(0)


def test_a_refused_write_is_not_retried_and_says_why(server: SandboxServer) -> None:
    company = seed_company(server)
    invoice = seed_invoice(server, company, "10.00")
    memo = seed_invoice(server, company, "5.00", type="CreditMemo", invoiceNumber="CM9")
    transport, sleeps = RecordingTransport(), Sleeps()
    client = cw_client(server, transport, retry=policy(sleeps))
    with pytest.raises(ValidationError) as caught:
        client.create_payment(invoice["id"], Decimal("6.00"), date(2024, 1, 1), credit_memo_id=memo["id"])
    assert len(transport.sent) == 2
    assert sleeps.waits == []
    error = caught.value
    assert error.status == 400
    assert error.request_id
    assert error.request_id in str(error)
    assert "CM9" in error.sentence
    assert "usable balance" in error.sentence


def test_wrong_keys_and_client_id_name_the_settings(server: SandboxServer) -> None:
    with pytest.raises(AuthError) as caught:
        cw_client(server, private_key="wrong-private-key").count_invoices()
    assert "CW_PUBLIC_KEY / CW_PRIVATE_KEY" in str(caught.value)
    assert caught.value.request_id
    assert "wrong-private-key" not in str(caught.value) + repr(caught.value)
    with pytest.raises(ValidationError, match="CW_CLIENT_ID"):
        cw_client(server, client_id="not-registered").count_invoices()


def test_a_429_storm_is_ridden_out_honouring_retry_after(server: SandboxServer) -> None:
    company = seed_company(server)
    seed_invoice(server, company, "1.00")
    sleeps = Sleeps(calm_after=3, calm=lambda: admin(server, "faults", {"rate_limit": None}))
    client = cw_client(server, retry=policy(sleeps))
    assert client.base_url  # looked up before the faults are set
    admin(server, "faults", {"rate_limit": 1})
    client.count_invoices()  # uses the one request this minute allows
    assert [invoice.total for invoice in client.iter_invoices()] == [Decimal("1.00")]
    assert len(sleeps.waits) == 3
    assert all(30 <= wait <= 61 for wait in sleeps.waits)


def test_throttling_that_never_ends_gives_up_with_a_sentence(server: SandboxServer) -> None:
    client = cw_client(server, retry=policy(Sleeps(), attempts=3))
    assert client.base_url  # looked up before the faults are set
    admin(server, "faults", {"rate_limit": 1})
    client.count_invoices()
    with pytest.raises(RateLimitedError, match="try again in a few minutes"):
        client.count_invoices()


def test_server_errors_and_a_read_timeout_are_retried(server: SandboxServer) -> None:
    seed_invoice(server, seed_company(server), "3.00")
    sleeps = Sleeps()
    client = cw_client(server, retry=policy(sleeps, base_delay=0.01), timeout=0.3)
    assert client.base_url  # looked up before the faults are set
    admin(server, "faults", {"fail_next": {"count": 2, "status": 503}})
    assert client.count_invoices() == 1
    admin(server, "faults", {"fail_next": {"count": 1, "status": 500}, "timeout_next": {"count": 1, "seconds": 1}})
    assert [i.total for i in client.iter_invoices()] == [Decimal("3.00")]
    assert sleeps.waits == [0.01, 0.02, 0.01, 0.02]  # full jitter drawn at its top: base * 2**(n-1)


def test_a_payment_whose_answer_is_lost_is_not_sent_twice(server: SandboxServer) -> None:
    invoice = seed_invoice(server, seed_company(server), "50.00")
    sleeps = Sleeps()
    client = cw_client(server, retry=policy(sleeps))
    admin(server, "faults", {"drop_next": {"count": 1, "match": "POST .*/payments"}})
    with pytest.raises(TransportError, match="got no answer from ConnectWise"):
        client.create_payment(invoice["id"], Decimal("20.00"), date(2024, 3, 1))
    assert sleeps.waits == []
    assert len(store(server).payments(invoice["id"])) == 1
    assert client.get_invoice(invoice["id"]).balance == Decimal("30.00")


def test_records_are_typed(server: SandboxServer) -> None:
    invoice = seed_invoice(server, seed_company(server), "80.00", invoiceNumber="T1")
    record = cw_client(server).get_invoice(invoice["id"])
    assert isinstance(record, CWInvoice)
    assert isinstance(record.total, Decimal)
    assert record.last_updated is not None
    assert record.last_updated.tzinfo is not None
