"""Helpers shared by the client tests: sandbox servers, a token source, and seams that record what happened.

Nothing here fakes a server: ``RecordingTransport`` is a real ``httpx.HTTPTransport`` that also notes each
request and how many were in flight at once; ``Sleeps`` is the injected ``sleep`` that records the waits the
retry policy chose (and can end an injected fault, standing in for the time that would have passed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.connectwise import CWCredentials, serve_connectwise
from sandbox.quickbooks import QBOApp, serve_quickbooks
from sandbox.web import SandboxServer
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.http import RateLimiter, RetryPolicy
from sync.clients.quickbooks import QuickBooksClient

FAST_TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=5.0)
_OPEN: list[httpx.Client] = []


def http_client(transport: httpx.BaseTransport | None, timeout: Any) -> httpx.Client:
    """Return an ``httpx.Client`` on a recording transport; ``close_clients`` closes it after the test."""
    client = httpx.Client(transport=transport or RecordingTransport(), timeout=timeout)
    _OPEN.append(client)
    return client


def close_clients() -> None:
    """Close every client the helpers opened."""
    while _OPEN:
        _OPEN.pop().close()


@dataclass
class Sent:
    method: str
    url: httpx.URL
    status: int | None  # None when no response came back


class RecordingTransport(httpx.HTTPTransport):
    """A real transport that records every request and the peak number in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        status: int | None = None
        try:
            response = super().handle_request(request)
            status = response.status_code
            return response
        finally:
            with self._lock:
                self.in_flight -= 1
                self.sent.append(Sent(request.method, request.url, status))

    def statuses(self) -> list[int | None]:
        """Return the status of every request sent so far, in order."""
        return [sent.status for sent in self.sent]


@dataclass
class Sleeps:
    """Injected ``sleep``: records each wait; after ``calm_after`` waits it runs ``calm`` (the storm ends)."""

    waits: list[float] = field(default_factory=list)
    calm_after: int | None = None
    calm: Callable[[], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.calm is not None and self.calm_after is not None and len(self.waits) >= self.calm_after:
            self.calm()


def policy(sleeps: Sleeps, **options: Any) -> RetryPolicy:
    """Return a retry policy that records its waits and always draws the top of the jitter range."""
    return RetryPolicy(sleep=sleeps, random=lambda: 1.0, **options)


def admin(server: SandboxServer, name: str, body: dict[str, Any] | None = None) -> Any:
    """POST (or GET without a body) a ``/_sandbox/<name>`` admin call and return its JSON."""
    url = f"{server.url}/_sandbox/{name}"
    response = httpx.post(url, json=body) if body is not None else httpx.get(url)
    response.raise_for_status()
    return response.json()


def served(server: SandboxServer) -> int:
    """Return how many API requests the sandbox has served."""
    return int(admin(server, "stats")["requests"])


# -- ConnectWise ----------------------------------------------------------------------------------------------
def start_cw() -> SandboxServer:
    """Start a ConnectWise sandbox."""
    return serve_connectwise()


def cw_client(server: SandboxServer, transport: httpx.BaseTransport | None = None, **options: Any) -> ConnectWiseClient:
    """Build a client for the sandbox, finding the codebase through ``/login/companyinfo`` as in production."""
    credentials = CWCredentials()
    http = http_client(transport, options.pop("timeout", FAST_TIMEOUT))
    keys = {
        "company_id": credentials.company_id,
        "public_key": credentials.public_key,
        "private_key": credentials.private_key,
        "client_id": credentials.client_id,
    }
    return ConnectWiseClient(site=server.url, http=http, **{**keys, **options})


# -- QuickBooks -----------------------------------------------------------------------------------------------
REALM = QBOApp().realm_id


class SandboxTokens:
    """A ``TokenSource`` that gets tokens from the sandbox's Intuit token endpoint."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.refresh_token = str(server.service.issue_refresh_token())  # type: ignore[attr-defined]
        self.token: str | None = None
        self.refreshes = 0
        self._lock = threading.Lock()

    def _fetch(self) -> str:
        app = QBOApp()
        response = httpx.post(
            f"{self.server.url}/oauth2/v1/tokens/bearer",
            auth=(app.client_id, app.client_secret),
            data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
        )
        response.raise_for_status()
        body = response.json()
        self.refresh_token, self.token = body["refresh_token"], body["access_token"]
        return str(self.token)

    def access_token(self) -> str:
        with self._lock:
            return self.token or self._fetch()

    def refresh_after_401(self, rejected: str) -> str:
        with self._lock:
            if self.token != rejected:  # another thread already refreshed
                return str(self.token)
            self.refreshes += 1
            return self._fetch()


def start_qbo(**options: Any) -> SandboxServer:
    """Start a QuickBooks sandbox."""
    return serve_quickbooks(**options)


def qbo_client(
    server: SandboxServer,
    transport: httpx.BaseTransport | None = None,
    tokens: SandboxTokens | None = None,
    **options: Any,
) -> QuickBooksClient:
    """Build a client for the sandbox's realm with its own limiter (tests must not share one)."""
    http = http_client(transport, options.pop("timeout", FAST_TIMEOUT))
    options.setdefault("limiter", RateLimiter())
    return QuickBooksClient(
        base_url=f"{server.url}/v3", realm_id=REALM, tokens=tokens or SandboxTokens(server), http=http, **options
    )


def qbo_company(server: SandboxServer) -> Any:
    """Return the sandbox store's company for the test realm (to seed data directly)."""
    return server.service.store.company(REALM)  # type: ignore[attr-defined]


def sales_line(amount: str) -> dict[str, Any]:
    """Return one QBO SalesItem line for seeding."""
    return {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
