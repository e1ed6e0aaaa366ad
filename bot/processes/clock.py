"""The ``clock`` process: Tally's one scheduler. It only registers jobs; ``bot.processes.scheduled`` has their bodies.

Jobs (stable ids, ``max_instances=1``, ``coalesce=True``):

- ``tally-check``: every ``TALLY_CHECK_EVERY``, a check that announces new findings (skipped outside business hours);
- ``tally-digest``: the daily digest at ``TALLY_DIGEST_AT`` in ``TALLY_TIMEZONE``;
- ``tally-digest-catch-up``: every 15 minutes, posts today's digest if its time has passed and it is not out yet
  (the clock was down at that time, or posting failed); the ``digest_post`` row makes it a no-op otherwise;
- ``tally-sweep``: the daily full sweep at ``TALLY_SWEEP_AT`` in ``TALLY_TIMEZONE`` (``sync.sweep``): everything
  re-read, and what the incremental syncs had missed counted for ``status`` and the digest;
- ``tally-settle``: on start and every ``TALLY_SETTLE_EVERY``, settles unsure writes by looking (and redraws their
  alerts); it calls no API while nothing is unsure.

Run exactly one clock per deployment (APScheduler cannot share a job store). A second one does no harm to the
digest — it is claimed in the database before posting — but doubles the checks. SIGTERM or SIGINT shuts the
scheduler down, waiting for running jobs, and the process exits 0.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent  # type: ignore[import-untyped]
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.blocking import BlockingScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.processes.scheduled import daily_digest, scheduled_check, scheduled_sweep, settle_writes
from bot.slack.app import web_client
from bot.slack.jobs import ClientsFactory
from bot.slack.notify import Notifier
from sync.models import utcnow
from sync.settings import Settings
from sync.wiring import clients, open_engine

log = logging.getLogger(__name__)

CHECK_JOB, DIGEST_JOB, CATCH_UP_JOB, SETTLE_JOB = "tally-check", "tally-digest", "tally-digest-catch-up", "tally-settle"
SWEEP_JOB = "tally-sweep"
FIRST_CHECK_AFTER = timedelta(seconds=2)  # a moment to settle, so a deploy's quick SIGTERM stops an idle clock


def slack_client(settings: Settings) -> WebClient:
    """The bot's Web API client for jobs (no request to reply to); it waits out rate limits."""
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set: the clock posts alerts and the digest with the bot's token")
    return web_client(settings)


def register_jobs(
    scheduler: BaseScheduler, settings: Settings, engine: Engine, factory: ClientsFactory, client: WebClient
) -> None:
    """Add Tally's jobs to ``scheduler``."""
    now = utcnow()
    common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    every = settings.check_every.total_seconds()
    scheduler.add_job(
        functools.partial(scheduled_check, settings, engine, factory, client),
        IntervalTrigger(seconds=every),
        id=CHECK_JOB,
        name="scheduled check",
        next_run_time=now + FIRST_CHECK_AFTER,
        misfire_grace_time=max(1, int(every / 2)),
        **common,
    )
    digest = functools.partial(daily_digest, settings, engine, client)
    at = settings.digest_at
    scheduler.add_job(
        digest,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.zone),
        id=DIGEST_JOB,
        name="daily digest",
        misfire_grace_time=3600,
        **common,
    )
    scheduler.add_job(
        digest,
        IntervalTrigger(minutes=15),
        id=CATCH_UP_JOB,
        name="daily digest catch-up",
        next_run_time=now + FIRST_CHECK_AFTER,
        misfire_grace_time=600,
        **common,
    )
    sweep_at = settings.sweep_at
    scheduler.add_job(
        functools.partial(scheduled_sweep, engine, factory),
        CronTrigger(hour=sweep_at.hour, minute=sweep_at.minute, timezone=settings.zone),
        id=SWEEP_JOB,
        name="daily full sweep",
        misfire_grace_time=6 * 3600,  # a clock that was down at the time still sweeps that night
        **common,
    )
    notifier = Notifier(settings, engine, client)
    settle_every = settings.settle_every.total_seconds()

    def settle_and_redraw() -> None:
        settle_writes(engine, factory, redraw=notifier.refresh_action, restated=notifier.redraw_restated)
        notifier.redraw_owed()  # alerts Slack refused to redraw (issue 8 §7c): shown well within a check interval

    scheduler.add_job(
        settle_and_redraw,
        IntervalTrigger(seconds=settle_every),
        id=SETTLE_JOB,
        name="settle unsure writes",
        next_run_time=now + FIRST_CHECK_AFTER,
        misfire_grace_time=max(1, int(settle_every)),
        **common,
    )


def stop_on_signals(scheduler: BaseScheduler) -> None:
    """Shut ``scheduler`` down (waiting for running jobs) on SIGTERM or SIGINT, even one arriving before it starts."""
    requested = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("clock: %s received, waiting for running jobs and stopping", signal.Signals(signum).name)
        requested.set()
        if scheduler.state != STATE_STOPPED:
            scheduler.shutdown(wait=True)

    def started(event: SchedulerEvent) -> None:
        if requested.is_set():  # the signal came while starting: the handler saw nothing to stop yet
            scheduler.shutdown(wait=False)

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run_clock(settings: Settings) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT."""
    scheduler = BlockingScheduler(timezone=settings.zone)
    stop_on_signals(scheduler)  # first: a SIGTERM during the migrations below still ends in a clean exit
    client = slack_client(settings)
    engine = open_engine(settings)
    register_jobs(scheduler, settings, engine, functools.partial(clients, settings, engine), client)
    scheduler.add_listener(lambda event: _announce(settings), EVENT_SCHEDULER_STARTED)
    scheduler.start()  # blocks until a signal shuts the scheduler down
    engine.dispose()
    log.info("clock stopped")


def _announce(settings: Settings) -> None:
    log.info(
        "clock started: check every %s, digest at %s, sweep at %s %s, business hours %s",
        settings.check_every,
        settings.digest_at.strftime("%H:%M"),
        settings.sweep_at.strftime("%H:%M"),
        settings.timezone,
        settings.business_hours or "always",
    )
