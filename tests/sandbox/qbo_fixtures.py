"""Helpers for the QuickBooks sandbox tests: a running server, an authorised httpx client, document builders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx

from sandbox.quickbooks import QBOApp, serve_quickbooks
from sandbox.web import SandboxServer

APP = QBOApp()
BASIC = (APP.client_id, APP.client_secret)


@contextmanager
def running_qbo(**options: Any) -> Iterator[SandboxServer]:
    """Start ``serve_quickbooks(**options)`` on a free port and stop it afterwards."""
    server = serve_quickbooks(**options)
    try:
        yield server
    finally:
        server.stop()


def admin(server: SandboxServer, name: str, body: dict[str, Any] | None = None) -> Any:
    """POST an admin call and return its JSON answer."""
    response = httpx.post(f"{server.url}/_sandbox/{name}", json=body or {})
    response.raise_for_status()
    return response.json()


def access_token(server: SandboxServer, realm: str = APP.realm_id) -> str:
    """Mint a grant for ``realm`` and exchange its refresh token for an access token."""
    refresh = admin(server, "issue-refresh-token", {"realm_id": realm})["refresh_token"]
    answer = httpx.post(
        f"{server.url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=BASIC,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class QBO:
    """An authorised API client for one realm (JSON in, JSON out, money parsed as Decimal)."""

    def __init__(self, server: SandboxServer, realm: str = APP.realm_id, token: str | None = None) -> None:
        self.server = server
        self.realm = realm
        self.http = httpx.Client(
            base_url=f"{server.url}/v3/company/{realm}",
            headers={"Authorization": f"Bearer {token or access_token(server, realm)}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=10,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def post(self, path: str, body: Any, **params: str) -> httpx.Response:
        """POST JSON to ``path`` under the realm."""
        return self.http.post(path, json=_plain(body), params=params)

    def get(self, path: str, **params: str) -> httpx.Response:
        """GET ``path`` under the realm."""
        return self.http.get(path, params=params)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        """Assert a 200 and return the body with money as Decimal."""
        assert response.status_code == 200, response.text
        return _json(response)

    def create(self, entity: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        """Create and return the entity (asserting success)."""
        created: dict[str, Any] = self.ok(self.post(f"/{entity.lower()}", body, **params))[entity]
        return created

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        """Read one entity (asserting success)."""
        found: dict[str, Any] = self.ok(self.get(f"/{entity.lower()}/{entity_id}"))[entity]
        return found

    def query(self, sql: str) -> dict[str, Any]:
        """Run a query and return ``QueryResponse`` (asserting success)."""
        answer: dict[str, Any] = self.ok(self.get("/query", query=sql))["QueryResponse"]
        return answer

    def customer(self, name: str) -> str:
        """Create a customer and return its Id."""
        return str(self.create("Customer", {"DisplayName": name})["Id"])

    def invoice(self, customer_id: str, amount: Decimal | str, **fields: Any) -> dict[str, Any]:
        """Create a one-line invoice."""
        return self.create("Invoice", sales_form(customer_id, amount, **fields))

    def credit_memo(self, customer_id: str, amount: Decimal | str, **fields: Any) -> dict[str, Any]:
        """Create a one-line credit memo."""
        return self.create("CreditMemo", sales_form(customer_id, amount, **fields))


def sales_form(customer_id: str, amount: Decimal | str, **fields: Any) -> dict[str, Any]:
    """Build a one-line Invoice/CreditMemo body."""
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal(amount),
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    return {"CustomerRef": {"value": customer_id}, "Line": [line], **fields}


def payment(customer_id: str, total: Decimal | str, *links: tuple[str, str, Decimal | str]) -> dict[str, Any]:
    """Build a Payment body with one line per (TxnType, TxnId, Amount)."""
    lines = [
        {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]} for kind, txn_id, amount in links
    ]
    return {"CustomerRef": {"value": customer_id}, "TotalAmt": Decimal(total), "Line": lines}


def fault(response: httpx.Response) -> dict[str, Any]:
    """Return the first Fault Error entry of an error answer."""
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _json(response: httpx.Response) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
    return parsed
