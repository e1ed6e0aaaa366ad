"""Benchmark the cache sync on the large books with injected latency (run on demand: ``python bench/sync.py``).

The sandbox runs in its own process (``tally sandbox serve --dataset large --latency-ms 50``) so this process's
memory is Tally's alone. Measured:

- API calls of a full sync (every list read at 1,000 a page, the credit rows of the invoices whose credit totals
  disagree between the systems, the one token refresh), and how many invoices with credit it did not need to read;
- wall time of the full sync, and the sum of its requests' latencies, each timed at the transport;
- an incremental sync with nothing changed: API calls and wall time;
- peak resident memory of this process.

Targets (issue 11): at most 400 calls and under 15 s wall for the large books at 50 ms latency; incremental
<= 4 calls, < 1 s; peak memory < 600 MB. Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.cache import SyncReport, run_sync  # noqa: E402
from sync.clients.connectwise import ConnectWiseClient  # noqa: E402
from sync.clients.quickbooks import QuickBooksClient  # noqa: E402
from sync.db import session_scope  # noqa: E402
from sync.models import CWInvoice  # noqa: E402
from sync.qbo_auth import QBOAuth  # noqa: E402
from sync.settings import Settings  # noqa: E402
from sync.wiring import open_engine  # noqa: E402


class TimedTransport(httpx.HTTPTransport):
    """Times every request from send to the last body byte."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        with self._lock:
            self.latencies.append(time.perf_counter() - started)
        return response

    def reset(self) -> None:
        with self._lock:
            self.latencies.clear()


def start_sandbox(workdir: Path, latency_ms: int, dataset: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env_file, truth = workdir / "sandbox.env", workdir / "truth.json"
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "serve",
        "--dataset",
        dataset,
        "--cw-port",
        "0",
        "--qbo-port",
        "0",
        "--latency-ms",
        str(latency_ms),
        "--env-file",
        str(env_file),
        "--truth",
        str(truth),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not env_file.exists() or not env_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"sandbox did not start: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.5)
    time.sleep(0.5)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return process, values


def served(values: dict[str, str]) -> int:
    urls = [values["CW_BASE_URL"].split("/v20")[0], values["QBO_BASE_URL"].removesuffix("/v3")]
    return sum(httpx.get(f"{url}/_sandbox/stats").json()["requests"] for url in urls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="large", choices=["small", "large"])
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tally-bench-"))
    print(f"starting the sandbox ({args.dataset} books, {args.latency_ms} ms latency)…", flush=True)
    started = time.perf_counter()
    process, values = start_sandbox(workdir, args.latency_ms, args.dataset)
    print(f"sandbox ready in {time.perf_counter() - started:.1f}s", flush=True)
    try:
        return run(values, workdir)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(values: dict[str, str], workdir: Path) -> int:
    settings = Settings(**values, DATABASE_URL=f"sqlite:///{workdir / 'tally.db'}")  # type: ignore[arg-type]
    engine = open_engine(settings)
    transport = TimedTransport(limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
    http = httpx.Client(transport=transport, timeout=60)
    auth = QBOAuth(settings, engine)
    cw = ConnectWiseClient.from_settings(settings, http=http)
    qbo = QuickBooksClient.from_settings(settings, auth, http=http)
    process = psutil.Process(os.getpid())
    peak = [process.memory_info().rss]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], process.memory_info().rss)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    before = served(values)
    started = time.perf_counter()
    report = run_sync(engine, cw, qbo, full=True)
    wall = time.perf_counter() - started
    calls = served(values) - before
    latency_sum = sum(transport.latencies)
    minimum = minimum_pages(report)
    transport.reset()
    before = served(values)
    started = time.perf_counter()
    again = run_sync(engine, cw, qbo)
    inc_wall = time.perf_counter() - started
    inc_calls = served(values) - before
    stop.set()
    watcher.join()
    rows = [
        ("full sync: API calls", f"{calls}", f"<= 400 (list pages {minimum})", calls <= 400),
        ("full sync: wall time", f"{wall:.1f} s", "< 15 s", wall < 15),
        ("full sync: sum of request latencies", f"{latency_sum:.1f} s", "", True),
        ("incremental, nothing changed: API calls", f"{inc_calls}", "<= 4", inc_calls <= 4),
        ("incremental, nothing changed: wall time", f"{inc_wall:.2f} s", "< 1 s", inc_wall < 1.0),
        ("incremental: rows changed", f"{again.changed}", "0", again.changed == 0),
        ("peak RSS of the syncing process", f"{peak[0] / 2**20:.0f} MB", "< 600 MB", peak[0] < 600 * 2**20),
    ]
    with session_scope(engine) as session:
        credited = session.execute(
            select(func.count()).select_from(CWInvoice).where(CWInvoice.credits != 0, CWInvoice.type != "CreditMemo")  # type: ignore[arg-type]
        ).scalar_one()
    print(
        f"\nrows cached: {sum(s.created for s in report.streams.values())}; "
        f"credit-row reads: {report.streams['cw.invoices'].api_calls} of {credited} invoices with credit"
    )
    width = max(len(row[0]) for row in rows)
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>10}  {target:<28} {'ok' if ok else 'MISSED'}")
    return 0 if all(row[3] for row in rows) else 1


def minimum_pages(report: SyncReport) -> int:
    """Pages a sync cannot avoid: every list at 1,000 a page (+1 closing page), the credit rows it read, a refresh."""
    created = {name: part.created for name, part in report.streams.items()}
    lists = math.ceil(created["cw.invoices"] / 1000) + math.ceil(created["cw.companies"] / 1000)
    lists += sum(math.ceil(count / 1000) for count in report.streams["qbo"].seen.values())
    return lists + report.streams["cw.invoices"].api_calls + 1


if __name__ == "__main__":
    raise SystemExit(main())
