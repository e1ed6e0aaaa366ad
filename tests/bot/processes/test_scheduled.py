"""The settling sweep the web, worker and clock processes run: on start, on a schedule, and cheap when idle."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.processes.scheduled import Settler, settle_writes
from sync.actions import SettleReport
from sync.wiring import Clients


def no_clients() -> AbstractContextManager[Clients]:
    raise AssertionError("nothing is unsure: the sweep must not build clients or call an API")


def test_the_sweep_calls_no_api_while_nothing_is_unsure(engine: Engine) -> None:
    assert settle_writes(engine, no_clients) == SettleReport()


def test_a_settler_settles_at_once_on_start_then_every_interval_until_stopped() -> None:
    runs: list[float] = []
    started = time.monotonic()
    settler = Settler(lambda: runs.append(time.monotonic()), every=timedelta(seconds=0.05)).start()
    deadline = started + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    settler.stop()
    assert len(runs) >= 3
    assert runs[0] - started < 1  # on start, not after the first interval
    time.sleep(0.2)
    stopped_at = len(runs)
    time.sleep(0.2)
    assert len(runs) == stopped_at


def test_a_failing_sweep_is_logged_and_tried_again() -> None:
    runs: list[int] = []

    def flaky() -> None:
        runs.append(1)
        raise RuntimeError("the database blinked")

    settler = Settler(flaky, every=timedelta(seconds=0.02)).start()
    deadline = time.monotonic() + 5
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    settler.stop()
    assert len(runs) >= 2
