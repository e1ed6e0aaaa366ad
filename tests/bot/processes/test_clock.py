"""The clock: its jobs, when they run, what they record, and a process that stops cleanly on SIGTERM."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.digest.data import CHECK_COMPLETED, CHECK_FAILED
from bot.digest.post import post_digest
from bot.processes.clock import CATCH_UP_JOB, CHECK_JOB, DIGEST_JOB, SETTLE_JOB, SWEEP_JOB, register_jobs
from bot.processes.scheduled import BackgroundCheck, daily_digest, scheduled_check
from sandbox.cli import RunningSandbox
from sync.db import session_scope
from sync.models import AuditEvent
from sync.settings import Settings, load_settings
from sync.wiring import clients
from tests.sandboxes import sandbox

CHANNEL = "C0FINANCE"
SATURDAY_NOON_UTC = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def world() -> Iterator[RunningSandbox]:
    with sandbox("small", seed=11) as running:
        yield running


def settings_for(running: RunningSandbox, database_url: str, **extra: str) -> Settings:
    return load_settings(_env_file=None, **{**running.env(), "DATABASE_URL": database_url, **extra})


def slack(running: RunningSandbox) -> WebClient:
    env = running.env()
    return WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


def posted(running: RunningSandbox) -> int:
    return len(running.slack.service.store.calls_to("chat.postMessage"))  # type: ignore[attr-defined]


def checks(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        statement = select(AuditEvent).where(col(AuditEvent.subject) == "check").order_by(col(AuditEvent.id))
        return list(session.execute(statement).scalars())


def test_jobs_have_stable_ids_and_never_pile_up(engine: Engine, world: RunningSandbox, database_url: str) -> None:
    settings = settings_for(world, database_url, TALLY_CHECK_EVERY="10m")
    scheduler = BackgroundScheduler(timezone=settings.zone)
    register_jobs(scheduler, settings, engine, functools.partial(clients, settings, engine), slack(world))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {CHECK_JOB, DIGEST_JOB, CATCH_UP_JOB, SETTLE_JOB, SWEEP_JOB}
    assert {(job.max_instances, job.coalesce) for job in jobs.values()} == {(1, True)}
    assert all(job.misfire_grace_time for job in jobs.values())
    assert jobs[CHECK_JOB].trigger.interval.total_seconds() == 600
    assert jobs[SETTLE_JOB].trigger.interval.total_seconds() == 60  # TALLY_SETTLE_EVERY's default: unsure writes


def test_the_sweep_fires_nightly_at_its_local_time(engine: Engine, world: RunningSandbox, database_url: str) -> None:
    settings = settings_for(world, database_url, TALLY_TIMEZONE="America/New_York", TALLY_SWEEP_AT="02:30")
    scheduler = BackgroundScheduler(timezone=settings.zone)
    register_jobs(scheduler, settings, engine, functools.partial(clients, settings, engine), slack(world))
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    fires = scheduler.get_job(SWEEP_JOB).trigger.get_next_fire_time(None, now)
    assert fires == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)  # 02:30 EST the next night


@pytest.mark.parametrize(
    ("now", "fires"),
    [
        (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), datetime(2026, 11, 26, 13, 0, tzinfo=UTC)),  # EST: UTC-5
        (datetime(2026, 7, 1, 12, 30, tzinfo=UTC), datetime(2026, 7, 2, 12, 0, tzinfo=UTC)),  # EDT, 08:00 passed
    ],
)
def test_the_digest_fires_at_local_time(
    engine: Engine, world: RunningSandbox, database_url: str, now: datetime, fires: datetime
) -> None:
    settings = settings_for(world, database_url, TALLY_TIMEZONE="America/New_York", TALLY_DIGEST_AT="08:00")
    scheduler = BackgroundScheduler(timezone=settings.zone)
    register_jobs(scheduler, settings, engine, functools.partial(clients, settings, engine), slack(world))
    assert scheduler.get_job(DIGEST_JOB).trigger.get_next_fire_time(None, now) == fires


def test_scheduled_checks_keep_to_business_hours(engine: Engine, world: RunningSandbox, database_url: str) -> None:
    settings = settings_for(world, database_url, TALLY_BUSINESS_HOURS="Mon-Fri 08:00-18:00")
    factory = functools.partial(clients, settings, engine)
    assert scheduled_check(settings, engine, factory, slack(world), now=SATURDAY_NOON_UTC) is None
    assert checks(engine) == []
    assert posted(world) == 0
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    result = scheduled_check(settings, engine, factory, slack(world), now=monday)
    assert result is not None
    assert result.findings
    assert [event.verb for event in checks(engine)] == [CHECK_COMPLETED]
    assert posted(world) > 0  # the new findings were announced


def test_a_failed_check_is_recorded_and_the_digest_reports_it(
    engine: Engine, world: RunningSandbox, database_url: str
) -> None:
    settings = settings_for(world, database_url, CW_PRIVATE_KEY="not-the-key")
    assert scheduled_check(settings, engine, functools.partial(clients, settings, engine), slack(world)) is None
    (event,) = checks(engine)
    assert event.verb == CHECK_FAILED
    assert event.detail
    assert "ConnectWise" in event.detail
    post_digest(settings=settings, engine=engine, client=slack(world), now=datetime.now(UTC) + timedelta(days=1))
    (digest,) = world.slack.service.store.messages(CHANNEL)  # type: ignore[attr-defined]
    health = digest["blocks"][-1]["text"]["text"]
    assert "API errors yesterday: 1" in health
    assert event.detail in health


def test_the_digest_job_waits_for_its_time_and_posts_once(
    engine: Engine, world: RunningSandbox, database_url: str
) -> None:
    settings = settings_for(world, database_url, TALLY_TIMEZONE="Europe/Paris", TALLY_DIGEST_AT="08:00")
    early, due, later = (
        datetime(2026, 11, 26, hour, minute, tzinfo=UTC) for hour, minute in ((6, 59), (7, 0), (7, 15))
    )
    assert daily_digest(settings, engine, slack(world), now=early) == []  # 07:59 in Paris
    assert posted(world) == 0
    assert daily_digest(settings, engine, slack(world), now=due)
    assert daily_digest(settings, engine, slack(world), now=later) == []  # the catch-up run finds it out
    assert posted(world) == 1


def test_a_burst_of_webhooks_runs_the_check_at_most_twice() -> None:
    release, started = threading.Event(), threading.Event()

    def slow_check() -> None:
        started.set()
        release.wait(5)

    checker = BackgroundCheck(slow_check)
    checker.request()
    assert started.wait(5)
    for _ in range(10):
        checker.request()  # arrive while the first check runs
    release.set()
    deadline = time.monotonic() + 5
    while checker.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (checker.busy, checker.runs) == (False, 2)


@pytest.mark.parametrize("when", ["clock started", "INFO"])  # running, or still migrating the database
def test_the_clock_process_stops_cleanly_on_sigterm(world: RunningSandbox, tmp_path: Path, when: str) -> None:
    env = {**os.environ, **world.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "TALLY_CHECK_EVERY": "1h"}
    log = tmp_path / "clock.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "clock"], cwd=tmp_path, env=env, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while when not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the clock did not start"
            time.sleep(0.05)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert code == 0, log.read_text()
    assert time.monotonic() - sent < 5
    assert "clock stopped" in log.read_text()
    assert "Traceback" not in log.read_text()
