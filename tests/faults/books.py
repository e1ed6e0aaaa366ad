"""What the fault suite needs: tiny books in both sandboxes, clients with short timeouts, faults, and write counts.

Writes are counted through the sandboxes' own APIs (ConnectWise invoice payment rows, QuickBooks documents and
payments), the way an auditor would count them, not from Tally's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.cli import RunningSandbox
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.http import RetryPolicy, timeout_of
from sync.clients.quickbooks import QuickBooksClient
from tests.sandboxes import cw_client, qbo_client

READ_TIMEOUT = 0.4  # seconds; writes held longer than this are lost to the client
MARGIN = 2.0  # the landing margin: longer than the sandbox holds a late write (HOLD in the tests)
QBO_ENTITIES = ("Invoice", "CreditMemo", "Payment")


def short_retry() -> RetryPolicy:
    """Two attempts, no real waiting between them, and a small landing margin."""
    return RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01, throttle_wait=0.01, land_margin=MARGIN)


@contextmanager
def short_clients(running: RunningSandbox) -> Iterator[tuple[ConnectWiseClient, QuickBooksClient]]:
    """Both clients as Tally builds them, with a short read timeout so a held answer is lost quickly."""
    options: dict[str, Any] = {"timeout": timeout_of(READ_TIMEOUT), "retry": short_retry()}
    with cw_client(running, **options) as cw, qbo_client(running, **options) as qbo:
        yield cw, qbo


def fault(server_url: str, **settings: object) -> dict[str, Any]:
    """Set faults on one sandbox server; return its fault settings."""
    response = httpx.post(f"{server_url}/_sandbox/faults", json=settings)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


@dataclass(frozen=True)
class Counts:
    """Rows that record writes: payment / credit rows on ConnectWise invoices, and QuickBooks records by kind."""

    cw: int
    qbo: dict[str, int]

    def minus(self, before: Counts) -> tuple[int, int]:
        """The writes made since ``before``: (ConnectWise, QuickBooks)."""
        return self.cw - before.cw, sum(self.qbo[name] - before.qbo[name] for name in QBO_ENTITIES)


def counts(running: RunningSandbox) -> Counts:
    """Count, through both APIs, every record a Tally write can make."""
    with cw_client(running) as cw, qbo_client(running) as qbo:
        rows = sum(len(cw.list_payments(invoice_id)) for invoice_id in cw.iter_invoice_ids())
        return Counts(cw=rows, qbo={name: qbo.count(name) for name in QBO_ENTITIES})
