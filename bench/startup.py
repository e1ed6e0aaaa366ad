"""Benchmark how fast ``tally`` starts for commands that touch no API (run on demand: ``python bench/startup.py``).

Each command runs ``--runs`` times in a fresh interpreter (``.venv/bin/tally``, as a user types it); the median and
the slowest wall time are printed. Target: the median under 0.4 s for ``tally --help``, ``tally --version`` and a
command's own ``--help``. Exits non-zero when a target is missed. Run it on a quiet machine: the numbers are wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.4
COMMANDS = (("--help",), ("--version",), ("findings", "--help"), ("sandbox", "--help"))


def tally() -> str:
    """The ``tally`` beside this interpreter (the project's venv)."""
    return str(Path(sys.executable).with_name("tally"))


def timed(args: tuple[str, ...], runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([tally(), *args], capture_output=True, check=True)
        took.append(time.perf_counter() - started)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    timed(("--help",), 1)  # the first run fills the bytecode cache; a user's second run is the one that matters
    missed = 0
    for args in COMMANDS:
        took = timed(args, runs)
        median = statistics.median(took)
        missed += median >= TARGET_SECONDS
        flag = "ok" if median < TARGET_SECONDS else "SLOW"
        print(f"tally {' '.join(args):<18} median {median:.3f} s  max {max(took):.3f} s  ({runs} runs)  {flag}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
