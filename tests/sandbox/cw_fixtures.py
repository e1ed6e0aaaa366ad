"""Shared helpers for the ConnectWise sandbox tests: a running server, an authenticated client, seed data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.connectwise import ConnectWiseService, CWCredentials, CWStore, serve_connectwise
from sandbox.web import SandboxServer

CREDS = CWCredentials()


@dataclass
class CW:
    """A running ConnectWise sandbox and a client pointed at its API base."""

    server: SandboxServer
    store: CWStore
    client: httpx.Client
    base: str

    def admin(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Call a ``/_sandbox/`` admin endpoint."""
        answer = httpx.post(f"{self.server.url}/_sandbox/{name}", json=body)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward."""
        self.admin("clock", {"advance_seconds": seconds})


def api_client(base: str, **overrides: Any) -> httpx.Client:
    """Return an httpx client with the sandbox's Basic auth and clientId."""
    auth = (f"{CREDS.company_id}+{CREDS.public_key}", CREDS.private_key)
    settings: dict[str, Any] = {"base_url": base, "auth": auth, "headers": {"clientId": CREDS.client_id}, "timeout": 10}
    settings.update(overrides)
    return httpx.Client(**settings)


@contextmanager
def running_cw() -> Iterator[CW]:
    """Serve a fresh ConnectWise sandbox for the duration of the block."""
    server = serve_connectwise()
    base = f"{server.url}/{CREDS.codebase}apis/3.0"
    client = api_client(base)
    service = server.service
    assert isinstance(service, ConnectWiseService)
    try:
        yield CW(server=server, store=service.store, client=client, base=base)
    finally:
        client.close()
        server.stop()


@pytest.fixture
def cw() -> Iterator[CW]:
    """A fresh ConnectWise sandbox per test."""
    with running_cw() as env:
        yield env


@pytest.fixture(scope="module")
def shared_cw() -> Iterator[CW]:
    """One ConnectWise sandbox for a whole module (hypothesis tests create their own records)."""
    with running_cw() as env:
        yield env


def seed_company(store: CWStore, identifier: str = "ACME", name: str = "Acme Co", account: str = "ACME01") -> int:
    """Create a company in the store and return its id."""
    company: dict[str, Any] = store.create_company({"identifier": identifier, "name": name, "accountNumber": account})
    return int(company["id"])


def seed_invoice(store: CWStore, company_id: int, number: str, total: str, kind: str = "Standard", **extra: Any) -> int:
    """Create an invoice in the store and return its id."""
    body = {"invoiceNumber": number, "type": kind, "company": {"id": company_id}, "total": Decimal(total), **extra}
    return int(store.create_invoice(body)["id"])
