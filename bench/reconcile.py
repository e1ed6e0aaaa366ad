"""Benchmark reconciling the large books from the cache (run on demand: ``python bench/reconcile.py``).

Steps: generate and load the ``large`` books into the sandbox in this process, full-sync them over loopback HTTP into
a temporary SQLite cache, stop the sandbox, then measure — in a fresh interpreter, so memory the sandbox freed cannot
hide in the resident set — what ``tally check`` does on every run: read the cache back (``load_snapshot``) and
``reconcile`` it:

- wall time of load + reconcile (one pass, no tracer running), with the split between the two;
- peak memory: the resident-set growth during that pass (psutil, sampled every 10 ms) and the tracemalloc peak of a
  second pass;
- whether the findings are exactly the manifest's (kind and key): how many missed, how many extra.

Also shown, not a target: ``ar_by_customer`` on the same snapshot. Targets: < 10 s and < 600 MB. Exits non-zero
when a target is missed or the findings differ. ``--profile`` prints where the time goes (cProfile, on stderr).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.cli import start_sandbox  # noqa: E402
from sandbox.dataset import Manifest  # noqa: E402
from sync.cache import run_sync  # noqa: E402
from sync.cache.snapshot import load_snapshot  # noqa: E402
from sync.db import make_engine, session_scope  # noqa: E402
from sync.migrate import upgrade  # noqa: E402
from sync.reconcile import Finding, Policy, reconcile  # noqa: E402
from sync.reconcile.ar import ar_by_customer  # noqa: E402
from tests.sandboxes import cw_client, qbo_client  # noqa: E402

SECONDS, MEGABYTES = 10.0, 600
MB = 2**20


def prepare(url: str, seed: int) -> Manifest:
    """Serve the large books, full-sync them into the cache at ``url``; return the ground truth."""
    started = time.perf_counter()
    running = start_sandbox(dataset="large", seed=seed)
    print(f"sandbox: large books (seed {seed}) generated and loaded in {time.perf_counter() - started:.1f} s")
    try:
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        with cw_client(running) as cw, qbo_client(running) as qbo:
            report = run_sync(engine, cw, qbo, full=True)
        rows = sum(stream.created for stream in report.streams.values())
        print(f"full sync: {rows} rows cached in {time.perf_counter() - started:.1f} s")
        engine.dispose()
        return running.books.manifest
    finally:
        running.stop()


@contextmanager
def rss_watch() -> Iterator[list[int]]:
    """Yield ``[start, peak]`` resident-set sizes, the peak sampled while the block runs."""
    process = psutil.Process(os.getpid())
    sizes = [process.memory_info().rss] * 2
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.01):
            sizes[1] = max(sizes[1], process.memory_info().rss)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield sizes
    finally:
        stop.set()
        watcher.join()
        sizes[1] = max(sizes[1], process.memory_info().rss)


def check(url: str, policy: Policy, timings: dict[str, float]) -> list[Finding]:
    """Read the cache and reconcile it, recording the time of each step (and of ``ar_by_customer`` if asked)."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with session_scope(engine) as session:
            snapshot = load_snapshot(session)
        loaded = time.perf_counter()
        findings = reconcile(snapshot, policy)
        timings["load_snapshot"], timings["reconcile"] = loaded - started, time.perf_counter() - loaded
        if "ar_by_customer" in timings:
            started = time.perf_counter()
            ar_by_customer(snapshot, findings, policy)
            timings["ar_by_customer"] = time.perf_counter() - started
        return findings
    finally:
        engine.dispose()


def measure(url: str, now: datetime, profile: bool) -> dict[str, Any]:
    """In a fresh process: time one pass with RSS watched, then trace one pass's allocations."""
    policy = Policy(now=now, tolerance=Decimal("0.05"), grace=timedelta(minutes=30))
    timings: dict[str, float] = {}
    gc.collect()
    with rss_watch() as rss:
        findings = check(url, policy, timings)
    gc.collect()
    tracemalloc.start()
    check(url, policy, {})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    check(url, policy, ar_timing := {"ar_by_customer": 0.0})
    timings["ar_by_customer"] = ar_timing["ar_by_customer"]
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(check, url, policy, {})
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return {
        **timings,
        "rss_growth": rss[1] - rss[0],
        "traced_peak": peak,
        "findings": sorted([f.kind, f.key] for f in findings),
    }


def in_child(url: str, now: datetime, profile: bool) -> dict[str, Any]:
    """Run ``measure`` in a new interpreter, so no memory the sandbox freed is reused and hidden from the RSS."""
    command = [sys.executable, __file__, "--measure", url, "--now", now.isoformat()]
    done = subprocess.run(command + (["--profile"] if profile else []), capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode:
        raise SystemExit(f"the measuring process failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def report(result: dict[str, Any], manifest: Manifest) -> bool:
    """Print the measurements against the targets; return whether all were met."""
    found = {(kind, key) for kind, key in result["findings"]}
    truth = {(f.kind, f.key) for f in manifest.findings}
    missed, extra = truth - found, found - truth
    print(f"\nfindings: {len(found)} reported, {len(truth)} in the manifest")
    for label, pairs in (("missed", missed), ("extra", extra)):
        for kind, key in sorted(pairs)[:20]:
            print(f"  {label}: {kind} {key}")
    wall, rss, peak = result["load_snapshot"] + result["reconcile"], result["rss_growth"], result["traced_peak"]
    rows = [
        ("load_snapshot + reconcile: wall time", f"{wall:.2f} s", f"< {SECONDS:.0f} s", wall < SECONDS),
        ("  of which load_snapshot", f"{result['load_snapshot']:.2f} s", "", True),
        ("  of which reconcile", f"{result['reconcile']:.2f} s", "", True),
        ("peak traced memory (tracemalloc)", f"{peak / MB:.0f} MB", f"< {MEGABYTES} MB", peak < MEGABYTES * MB),
        ("resident-set growth (psutil)", f"{rss / MB:.0f} MB", f"< {MEGABYTES} MB", rss < MEGABYTES * MB),
        ("findings (kind + key)", f"{len(missed)} missed, {len(extra)} extra", "0, 0", not missed and not extra),
        ("ar_by_customer (not a target)", f"{result['ar_by_customer']:.2f} s", "", True),
    ]
    width = max(len(row[0]) for row in rows)
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>18}  {target:<10} {'ok' if ok else 'MISSED'}")
    return all(row[3] for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest calls of load + reconcile")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, datetime.fromisoformat(args.now), args.profile)))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="tally-bench-reconcile-"))
    url = f"sqlite:///{workdir / 'tally.db'}"
    manifest = prepare(url, args.seed)
    try:
        return 0 if report(in_child(url, datetime.now(UTC), args.profile), manifest) else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
