"""Fidelity: clients written against the real Intuit services work, unchanged, against the sandbox.

- ``intuit-oauth``'s ``AuthClient`` (the real library) with only ``environment`` pointed at the sandbox;
- ``python-quickbooks`` with its API base URL pointed at the sandbox. It talks through ``requests_oauthlib``,
  which refuses plain http unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set: the sandbox serves loopback http.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.objects.base import LinkedTxn
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine

from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import APP, running_qbo, sales_form


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_qbo() as running:
        yield running


def auth_client(server: SandboxServer) -> AuthClient:
    return AuthClient(
        APP.client_id,
        APP.client_secret,
        APP.redirect_uri,
        environment=f"{server.url}/.well-known/openid_configuration",
    )


def connect(client: AuthClient) -> None:
    """Run the authorization-code flow: authorize URL → redirect → get_bearer_token."""
    url = client.get_authorization_url([Scopes.ACCOUNTING])
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    params = {key: values[0] for key, values in parse_qs(urlsplit(redirect.headers["location"]).query).items()}
    assert params["state"] == client.state_token
    client.get_bearer_token(params["code"], realm_id=params["realmId"])


def test_intuit_oauth_client_connects_refreshes_and_revokes(server: SandboxServer) -> None:
    client = auth_client(server)
    connect(client)
    assert client.realm_id == APP.realm_id
    assert client.access_token
    assert client.expires_in == 3600
    old_refresh = client.refresh_token
    client.refresh()
    assert client.refresh_token != old_refresh
    with pytest.raises(AuthClientError) as caught:
        client.refresh(refresh_token=old_refresh)
    assert caught.value.status_code == 400
    assert b"invalid_grant" in caught.value.content
    assert caught.value.intuit_tid
    assert client.revoke() is True
    with pytest.raises(AuthClientError):
        client.refresh()


def test_python_quickbooks_pays_an_invoice(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    company = server.service.store.company(APP.realm_id)  # type: ignore[attr-defined]
    customer_id = company.create("Customer", {"DisplayName": "Red Rock Diner"})["Id"]
    company.create("Invoice", sales_form(customer_id, "71", DocNumber="1037"))
    client = auth_client(server)
    connect(client)
    qb = QuickBooks(auth_client=client, refresh_token=client.refresh_token, company_id=client.realm_id, minorversion=75)
    qb.api_url_v3 = f"{server.url}/v3"

    invoices = Invoice.filter(DocNumber="1037", qb=qb)
    assert [invoice.TotalAmt for invoice in invoices] == [71.0]
    assert Invoice.count(qb=qb) == 1

    pay = Payment()
    pay.TotalAmt = 55
    pay.CustomerRef = Customer.get(customer_id, qb=qb).to_ref()
    line = PaymentLine()
    line.Amount = 55
    link = LinkedTxn()
    link.TxnId, link.TxnType = invoices[0].Id, "Invoice"
    line.LinkedTxn.append(link)
    pay.Line.append(line)
    saved = pay.save(qb=qb)
    assert saved.UnappliedAmt == 0

    invoice = Invoice.get(invoices[0].Id, qb=qb)
    assert Decimal(str(invoice.Balance)) == Decimal(16)
    assert [(txn.TxnId, txn.TxnType) for txn in invoice.LinkedTxn] == [(saved.Id, "Payment")]
