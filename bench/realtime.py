"""Benchmark real time (run on demand: ``python bench/realtime.py --count 20``).

Starts the sandbox (small books) in this process and ``tally web`` as a child process with TALLY_PUBLIC_URL set, so
the QuickBooks sandbox sends it webhooks and the web process registers its ConnectWise callback. No ``tally clock``
runs: every check is one the notifications started. One check runs first (a baseline, as the first sweep would).

1. ``--count`` payments, one after the other, each through the QuickBooks sandbox's API on an open invoice: the time
   from the API call to the alert naming that invoice, with its Approve button, in the sandbox Slack;
2. ``--count`` credit applications ($1.00 of an open credit memo to an open invoice of its company) through the
   ConnectWise sandbox's API: the time until the alert it causes is posted or updated (no button: the seeded memos
   are used up in QuickBooks, so Tally proposes no fix there); an application that changes no alert is reported;
3. 200 QuickBooks changes within 10 s (payments on open invoices, customer updates for the rest): how many checks
   they started, and whether every alert was posted once.

Targets (issue 11 §3): p95 under 10 s for 1 and 2; at most 3 checks and no alert posted twice for 3. Exits non-zero
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.cli import RunningSandbox, start_sandbox  # noqa: E402
from sync.db import make_engine, session_scope  # noqa: E402
from sync.models import AuditEvent, FindingRecord  # noqa: E402
from tests.sandbox.qbo_fixtures import QBO, payment  # noqa: E402
from tests.sandboxes import cw_client  # noqa: E402

P95_TARGET_S = 10.0
BURST, BURST_WINDOW_S, BURST_CHECKS = 200, 10.0, 3
APPROVE = "tally_approve"
CREDIT = Decimal("1.00")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class Bench:
    """The running sandbox, ``tally web`` and ways to look at what happened."""

    def __init__(self, running: RunningSandbox, workdir: Path) -> None:
        self.running = running
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"sqlite:///{workdir / 'tally.db'}"
        self.env = {**os.environ, **running.env(), "DATABASE_URL": self.database, "TALLY_PUBLIC_URL": self.url}
        self.workdir = workdir
        running.qbo_webhooks(url=f"{self.url}/qbo/webhooks", delay_seconds=0.5)
        self.process: subprocess.Popen[bytes] | None = None
        self.engine = make_engine(self.database)

    def start(self) -> None:
        command = [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(self.port)]
        log = (self.workdir / "web.log").open("wb")
        self.process = subprocess.Popen(command, cwd=self.workdir, env=self.env, stdout=log, stderr=log)

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait(healthy, 60, "tally web")
        with cw_client(self.running) as cw:
            wait(cw.list_callbacks, 30, "the ConnectWise callback to be registered")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def baseline(self) -> None:
        """One check before measuring, through the CLI (it announces as the scheduler would)."""
        env = {**self.env}
        subprocess.run([sys.executable, "-c", _BASELINE], cwd=self.workdir, env=env, check=True, capture_output=True)

    def checks(self) -> int:
        with session_scope(self.engine) as session:
            rows = session.query(AuditEvent).filter(AuditEvent.verb == "check.completed").count()  # type: ignore[arg-type]
            return int(rows)

    def open_keys(self) -> set[str]:
        with session_scope(self.engine) as session:
            return {row.key for row in session.query(FindingRecord).filter(FindingRecord.status == "open")}  # type: ignore[arg-type]

    def alert_for(self, number: str, *, approve: bool = True) -> bool:
        """Whether an open finding naming ``number`` has its alert (with an Approve button) in Slack."""
        with session_scope(self.engine) as session:
            rows = session.query(FindingRecord).filter(FindingRecord.status == "open").all()  # type: ignore[arg-type]
            targets = [(r.slack_channel, r.slack_ts) for r in rows if number in json.loads(r.documents)]
        store = self.running.slack.service.store  # type: ignore[attr-defined]
        for channel, ts in targets:
            if not ts or ts.startswith("posting"):
                continue
            message = store.message(str(channel), str(ts))
            if message is not None and (not approve or APPROVE in json.dumps(message.get("blocks") or [])):
                return True
        return False

    def alert_since(self, index: int) -> bool:
        """Whether an alert was posted or updated in Slack after the ``index``-th Web API call (nothing else runs
        meanwhile: the change just made caused it)."""
        store = self.running.slack.service.store  # type: ignore[attr-defined]
        return any(call.ok and call.method in ("chat.postMessage", "chat.update") for call in store.calls[index:])

    def call_count(self) -> int:
        return len(self.running.slack.service.store.calls)  # type: ignore[attr-defined]

    def posts_per_finding(self) -> Counter[str]:
        store = self.running.slack.service.store  # type: ignore[attr-defined]
        bodies = [json.dumps(c.body, ensure_ascii=False) for c in store.calls_to("chat.postMessage") if c.ok]
        with session_scope(self.engine) as session:
            keys = [row.key for row in session.query(FindingRecord)]
        return Counter({key: sum(f"`{key}`" in body for body in bodies) for key in keys})


_BASELINE = """
import functools
from bot.slack.app import web_client
from bot.slack.jobs import check_and_announce
from sync.settings import load_settings
from sync.wiring import clients, open_engine
settings = load_settings()
engine = open_engine(settings)
check_and_announce(settings, engine, functools.partial(clients, settings, engine), web_client(settings), actor="bench")
"""


def open_invoices(qbo: QBO, skip: set[str]) -> list[dict[str, Any]]:
    invoices = qbo.query("select * from Invoice maxresults 1000")["Invoice"]
    return [
        inv
        for inv in invoices
        if Decimal(str(inv["Balance"])) > 0 and inv.get("DocNumber") and not any(inv["DocNumber"] in k for k in skip)
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def qbo_payments(bench: Bench, count: int) -> list[float]:
    qbo = QBO(bench.running.qbo, realm=bench.running.app.realm_id)
    latencies = []
    try:
        candidates = open_invoices(qbo, bench.open_keys())
        for invoice in candidates[:count]:
            amount = Decimal(str(invoice["Balance"]))
            started = time.monotonic()
            qbo.create("Payment", payment(invoice["CustomerRef"]["value"], amount, ("Invoice", invoice["Id"], amount)))
            wait(lambda inv=invoice: bench.alert_for(inv["DocNumber"]), 60, f"the alert of {invoice['DocNumber']}")
            latencies.append(time.monotonic() - started)
    finally:
        qbo.close()
    return latencies


def cw_credits(bench: Bench, count: int) -> list[float]:
    """Apply $1.00 of an open ConnectWise credit memo to one open invoice of its company at a time (the small books
    have few open memos; a memo with credit left is applied again to the next invoice), timing each to its alert."""
    latencies: list[float] = []
    used: set[int] = set()
    with cw_client(bench.running) as cw:
        while len(latencies) < count:
            invoices = list(cw.iter_invoices())
            memos = [inv for inv in invoices if inv.is_credit_memo and inv.balance >= CREDIT]
            skip = bench.open_keys()
            pairs = [
                (memo, inv)
                for memo in memos
                for inv in invoices
                if not inv.is_credit_memo
                and inv.id not in used
                and inv.company_id == memo.company_id
                and inv.balance >= CREDIT
                and not any(inv.number in key for key in skip)
            ]
            if not pairs:
                break
            memo, target = pairs[0]
            used.add(target.id)
            index, started = bench.call_count(), time.monotonic()
            cw.create_payment(target.id, CREDIT, datetime.now(UTC).date(), credit_memo_id=memo.id)
            # the application may open a finding or change one already alerted: its alert posted or updated
            try:
                wait(lambda i=index: bench.alert_since(i), 30, f"the alert of {target.number}")
            except TimeoutError:
                print(f"  no alert changed within 30 s after applying {memo.number} to {target.number}")
                continue
            latencies.append(time.monotonic() - started)
    return latencies


def burst(bench: Bench) -> tuple[int, float, int]:
    """200 QuickBooks changes within 10 s; return (checks they started, seconds taken, alerts posted twice)."""
    qbo = QBO(bench.running.qbo, realm=bench.running.app.realm_id)
    try:
        time.sleep(3)  # let earlier checks finish
        before = bench.checks()
        invoices = open_invoices(qbo, bench.open_keys())
        customers = qbo.query("select * from Customer maxresults 1000")["Customer"]
        started = time.monotonic()
        for index in range(BURST):
            if index < len(invoices):
                invoice = invoices[index]
                amount = Decimal(str(invoice["Balance"]))
                body = payment(invoice["CustomerRef"]["value"], amount, ("Invoice", invoice["Id"], amount))
                qbo.create("Payment", body)
            else:
                customer = customers[index % len(customers)]
                current = qbo.read("Customer", customer["Id"])
                note = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True, "Notes": f"b{index}"}
                qbo.ok(qbo.post("/customer", note))
        took = time.monotonic() - started

        def settled() -> bool:
            health = httpx.get(f"{bench.url}/healthz").json()
            return not health.get("check_running")

        time.sleep(3)
        wait(settled, 120, "the burst's checks")
        checks = bench.checks() - before
    finally:
        qbo.close()
    twice = sum(1 for count in bench.posts_per_finding().values() if count > 1)
    return checks, took, twice


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20, help="payments and credit applications to time")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep tally web's folder (database, web.log) here")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        running = start_sandbox(dataset="small", seed=args.seed)
        bench = Bench(running, folder)
        try:
            bench.start()
            bench.baseline()
            runs: list[tuple[str, Callable[[], list[float]]]] = [
                ("QBO payment → alert", lambda: qbo_payments(bench, args.count)),
                ("CW credit memo applied → alert", lambda: cw_credits(bench, args.count)),
            ]
            for name, run in runs:
                latencies = run()
                p50, p95 = statistics.median(latencies), pct(latencies, 0.95)
                met = p95 < P95_TARGET_S and len(latencies) >= min(args.count, 10)  # the small books hold ~19 pairs
                ok &= met
                print(
                    f"{name}: n={len(latencies)} of {args.count} p50={p50:.2f}s p95={p95:.2f}s "
                    f"max={max(latencies):.2f}s "
                    f"(target p95 < {P95_TARGET_S:.0f}s: {'met' if met else 'MISSED'})"
                )
            checks, took, twice = burst(bench)
            met = checks <= BURST_CHECKS and took <= BURST_WINDOW_S and twice == 0
            ok &= met
            print(
                f"{BURST} QBO changes in {took:.1f}s → {checks} checks, {twice} alerts posted twice "
                f"(target ≤ {BURST_CHECKS} checks, each alert once: {'met' if met else 'MISSED'})"
            )
        finally:
            bench.stop()
            running.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
