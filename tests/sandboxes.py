"""Test helpers: a running sandbox with seeded books, and Tally's clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from sandbox.cli import RunningSandbox, start_sandbox
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.http import RetryPolicy
from sync.clients.quickbooks import QuickBooksClient
from tests.sync.clients.servers import SandboxTokens


def fast_retry() -> RetryPolicy:
    """Retries without real waiting, for tests."""
    return RetryPolicy(base_delay=0.001, max_delay=0.01, throttle_wait=0.01)


def cw_client(running: RunningSandbox, **options: Any) -> ConnectWiseClient:
    """A ConnectWise client configured like a user would, against the sandbox."""
    creds = running.credentials
    options.setdefault("retry", fast_retry())
    return ConnectWiseClient(
        company_id=creds.company_id,
        public_key=creds.public_key,
        private_key=creds.private_key,
        client_id=creds.client_id,
        base_url=running.cw_base_url,
        **options,
    )


def qbo_client(running: RunningSandbox, tokens: SandboxTokens | None = None, **options: Any) -> QuickBooksClient:
    """A QuickBooks client against the sandbox."""
    options.setdefault("retry", fast_retry())
    return QuickBooksClient(
        base_url=f"{running.qbo.url}/v3",
        realm_id=running.app.realm_id,
        tokens=tokens or SandboxTokens(running.qbo),
        **options,
    )


@contextmanager
def sandbox(dataset: str = "small", seed: int = 3, **options: Any) -> Iterator[RunningSandbox]:
    """Run both sandboxes with seeded books for the duration of a block."""
    running = start_sandbox(dataset=dataset, seed=seed, **options)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()


def served(running: RunningSandbox) -> int:
    """Total API requests both sandboxes have served so far."""
    return sum(httpx.get(f"{server.url}/_sandbox/stats").json()["requests"] for server in (running.cw, running.qbo))
