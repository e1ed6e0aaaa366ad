"""Benchmark the sandbox at full size: generate and load the large books, then page through both APIs.

Run on demand (not part of the tests)::

    .venv/bin/python bench/sandbox.py [--seed N] [--requests 30]

Targets (exit status 1 if one is missed): generate + load under 60 s, peak memory under 1.5 GB, and a median under
100 ms for fetching one 1,000-invoice page from each server.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.clock import Clock
from sandbox.connectwise import CWCredentials, CWStore, serve_connectwise
from sandbox.dataset import generate, load
from sandbox.quickbooks import QBOApp, QBOStore, QuickBooksService, serve_quickbooks
from sandbox.web import SandboxServer

LOAD_TARGET_S = 60.0
MEMORY_TARGET_MB = 1536.0
PAGE_TARGET_MS = 100.0


@dataclass
class Row:
    """One line of the results table."""

    what: str
    value: float
    unit: str
    target: float

    @property
    def ok(self) -> bool:
        """Whether the measurement meets its target."""
        return self.value < self.target


def peak_rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB (the kernel's high-water mark)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in kilobytes on Linux


def timed_requests(fetch: Callable[[int], httpx.Response], count: int, items: Callable[[Any], int]) -> list[float]:
    """Call ``fetch(i)`` ``count`` times and return each call's wall time in milliseconds."""
    first = fetch(0)  # warm up: connection, first query parse; and check a page really holds 1,000 invoices
    first.raise_for_status()
    if items(first.json()) != 1000:
        raise SystemExit(f"expected a page of 1000 invoices, got {items(first.json())}: {first.text[:200]}")
    times = []
    for i in range(count):
        start = time.perf_counter()
        response = fetch(i)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def cw_fetcher(server: SandboxServer, client: httpx.Client, pages: int) -> Callable[[int], httpx.Response]:
    """Return a fetch of CW invoice page ``i`` (cycling over ``pages``)."""
    creds = CWCredentials()
    base = f"{server.url}/{creds.codebase}apis/3.0"
    auth = httpx.BasicAuth(f"{creds.company_id}+{creds.public_key}", creds.private_key)
    headers = {"clientId": creds.client_id, "Accept": "application/json"}

    def fetch(i: int) -> httpx.Response:
        params = {"pageSize": 1000, "page": i % pages + 1}
        return client.get(f"{base}/finance/invoices", params=params, auth=auth, headers=headers)

    return fetch


def qbo_fetcher(server: SandboxServer, client: httpx.Client, pages: int) -> Callable[[int], httpx.Response]:
    """Return a fetch of QBO invoice page ``i`` (cycling over ``pages``), after an OAuth refresh."""
    app = QBOApp()
    refresh = cast(QuickBooksService, server.service).issue_refresh_token()
    answer = client.post(
        f"{server.url}/oauth2/v1/tokens/bearer",
        auth=(app.client_id, app.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Accept": "application/json"}
    url = f"{server.url}/v3/company/{app.realm_id}/query"

    def fetch(i: int) -> httpx.Response:
        query = f"select * from Invoice STARTPOSITION {(i % pages) * 1000 + 1} MAXRESULTS 1000"  # noqa: S608
        return client.get(url, params={"query": query, "minorversion": "75"}, headers=headers)

    return fetch


def page_rows(name: str, times: list[float]) -> list[Row]:
    """Median and p95 rows for one server."""
    p95 = statistics.quantiles(times, n=20)[-1]
    return [
        Row(f"{name} page median", statistics.median(times), "ms", PAGE_TARGET_MS),
        Row(f"{name} page p95", p95, "ms", float("inf")),
    ]


def build(seed: int) -> tuple[Clock, CWStore, QBOStore, list[Row]]:
    """Generate and load the large books; return the stores and the timing rows."""
    clock = Clock()
    start = time.perf_counter()
    books = generate("large", seed, now=clock.now())
    generated = time.perf_counter()
    cw, qbo = CWStore(clock), QBOStore(clock)
    load(books, cw, qbo.company(QBOApp().realm_id))
    loaded = time.perf_counter()
    summary = books.summary()
    print(f"books: {summary['cw']['invoices']} CW invoices, {summary['cw']['payments']} CW payment rows, "
          f"{summary['qbo']['payments']} QBO payments, {len(books.manifest.findings)} planted findings")  # fmt: skip
    rows = [
        Row("generate", generated - start, "s", float("inf")),
        Row("load", loaded - generated, "s", float("inf")),
        Row("generate + load", loaded - start, "s", LOAD_TARGET_S),
    ]
    return clock, cw, qbo, rows


def main() -> int:
    """Run the benchmark, print the table and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    clock, cw, qbo, rows = build(args.seed)
    cw_server = serve_connectwise(store=cw, clock=clock)
    qbo_server = serve_quickbooks(store=qbo, clock=clock)
    try:
        with httpx.Client(timeout=30) as client:
            cw_times = timed_requests(cw_fetcher(cw_server, client, 100), args.requests, len)
            qbo_page = qbo_fetcher(qbo_server, client, 100)
            qbo_times = timed_requests(qbo_page, args.requests, lambda body: len(body["QueryResponse"]["Invoice"]))
            rows += page_rows("CW", cw_times) + page_rows("QBO", qbo_times)
    finally:
        cw_server.stop()
        qbo_server.stop()
    rows.append(Row("peak memory", peak_rss_mb(), "MB", MEMORY_TARGET_MB))
    print(f"{'measure':<20} {'value':>10}  {'target':>10}  ok")
    for row in rows:
        target = "-" if row.target == float("inf") else f"< {row.target:g} {row.unit}"
        print(f"{row.what:<20} {row.value:>7.1f} {row.unit:<2}  {target:>10}  {'yes' if row.ok else 'NO'}")
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
