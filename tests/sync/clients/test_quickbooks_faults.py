"""QuickBooksClient under throttling, server errors, timeouts and concurrency, against the sandbox."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from sandbox.web import SandboxServer
from sync.clients.errors import RateLimitedError
from sync.clients.http import RateLimiter
from sync.records import QBOCustomer, QBOInvoice
from tests.sync.clients.servers import (
    RecordingTransport,
    SandboxTokens,
    Sleeps,
    admin,
    close_clients,
    policy,
    qbo_client,
    qbo_company,
    start_qbo,
)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    running = start_qbo()
    yield running
    close_clients()
    running.stop()


@pytest.mark.parametrize("xml", [False, True])
def test_a_429_storm_waits_the_throttle_pause_and_recovers(server: SandboxServer, xml: bool) -> None:
    admin(server, "throttle-body", {"xml": xml})
    sleeps = Sleeps(calm_after=2, calm=lambda: admin(server, "faults", {"rate_limit": None}))
    transport = RecordingTransport()
    client = qbo_client(server, transport, retry=policy(sleeps), throttle_wait=7.5)
    client._tokens.access_token()
    admin(server, "faults", {"rate_limit": 1})
    assert client.count(QBOInvoice) == 0  # the one request this minute allows
    assert client.count(QBOInvoice) == 0
    assert sleeps.waits == [7.5, 7.5]
    assert transport.statuses() == [200, 429, 429, 200]


@pytest.mark.parametrize("xml", [False, True])
def test_throttling_that_never_ends_reports_the_fault(server: SandboxServer, xml: bool) -> None:
    admin(server, "throttle-body", {"xml": xml})
    client = qbo_client(server, retry=policy(Sleeps(), attempts=2), throttle_wait=0.0)
    client._tokens.access_token()
    admin(server, "faults", {"rate_limit": 1})
    client.count(QBOInvoice)
    with pytest.raises(RateLimitedError) as caught:
        client.count(QBOInvoice)
    error = caught.value
    assert (error.status, error.code) == (429, "3001")
    assert "request limit was reached" in (error.detail or "")
    assert "500 requests a minute" in error.sentence
    assert error.request_id


def test_server_errors_and_a_read_timeout_are_retried(server: SandboxServer) -> None:
    customer = qbo_company(server).create("Customer", {"DisplayName": "Acme"})["Id"]
    sleeps = Sleeps()
    transport = RecordingTransport()
    client = qbo_client(server, transport, retry=policy(sleeps, base_delay=0.01), timeout=0.3)
    client._tokens.access_token()
    admin(server, "faults", {"fail_next": {"count": 2, "status": 503}, "timeout_next": {"count": 1, "seconds": 1}})
    assert client.get(QBOCustomer, customer).display_name == "Acme"
    assert sleeps.waits == [0.01, 0.02, 0.04]
    assert transport.statuses() == [503, 503, None, 200]


def concurrent_reads(server: SandboxServer, limiter: RateLimiter, threads: int) -> RecordingTransport:
    """Read one customer from ``threads`` threads at once through one client; return its transport."""
    customer = qbo_company(server).create("Customer", {"DisplayName": "Busy"})["Id"]
    transport = RecordingTransport()
    client = qbo_client(server, transport, tokens=SandboxTokens(server), limiter=limiter, retry=policy(Sleeps()))
    client._tokens.access_token()
    admin(server, "faults", {"latency_ms": 100})
    start = threading.Barrier(threads)

    def read() -> None:
        start.wait()
        with contextlib.suppress(RateLimitedError):  # only the unlimited control run can be refused
            client.get(QBOCustomer, customer)

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return transport


def test_the_limiter_keeps_at_most_ten_requests_in_flight(server: SandboxServer) -> None:
    transport = concurrent_reads(server, RateLimiter(), threads=25)
    assert transport.peak == 10
    assert transport.statuses() == [200] * 25


def test_without_the_limiter_quickbooks_would_throttle(server: SandboxServer) -> None:
    # The control for the test above: the sandbox does refuse an eleventh concurrent request.
    transport = concurrent_reads(server, RateLimiter(in_flight=25), threads=25)
    assert transport.peak > 10
    assert 429 in transport.statuses()
