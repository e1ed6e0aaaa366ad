"""The bodies of Tally's periodic work, as plain functions: the clock registers them, the web process reuses one.

Each body does one thing and says how it went: a check records ``check.completed`` or ``check.failed`` in the audit
trail (the digest's health section reads them), the digest goes out once a day, and ``settle`` looks for writes
whose answer was lost (unsure) or that a crashed process left behind. The clock runs ``settle_writes`` as a job;
the web and worker processes run it in a ``Settler`` thread, on start and every ``TALLY_SETTLE_EVERY``.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.digest.post import post_digest
from bot.slack.app import web_client
from bot.slack.jobs import ClientsFactory, check_and_announce
from bot.slack.notify import Notifier
from sync.actions import SettleReport, pending_writes, settle
from sync.checks import CheckResult
from sync.clients.errors import TallyAPIError
from sync.db import make_engine
from sync.models import utcnow
from sync.qbo_auth import QuickBooksAuthError
from sync.settings import Settings
from sync.sweep import SweepResult, run_sweep
from sync.wiring import clients

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"


def scheduled_check(
    settings: Settings,
    engine: Engine,
    clients: ClientsFactory,
    client: WebClient,
    *,
    actor: str = SCHEDULER,
    now: datetime | None = None,
    business_hours: bool = True,
) -> CheckResult | None:
    """Run a check and announce what it found (outside business hours: skip); record how it went."""
    if business_hours and not settings.in_business_hours(now or utcnow()):
        log.info("scheduled check skipped: outside business hours (%s)", settings.business_hours)
        return None
    try:
        return check_and_announce(settings, engine, clients, client, actor=actor)
    except (TallyAPIError, QuickBooksAuthError, SlackApiError) as exc:  # recorded for the digest by the job itself
        log.warning("check failed: %s", exc)
        return None


def scheduled_sweep(engine: Engine, clients: ClientsFactory) -> SweepResult | None:
    """Run the daily full sweep (``sync.sweep``); a failure is recorded on its ``sweep_run`` row and logged."""
    try:
        with clients() as both:
            return run_sweep(engine, both.cw, both.qbo)
    except (TallyAPIError, QuickBooksAuthError) as exc:  # the next day's sweep tries again; status shows it
        log.warning("the full sweep failed: %s", exc)
        return None


def check_in_child(settings: Settings) -> None:
    """Run ``scheduled_check`` in a child process and wait for it.

    The web process uses this for webhook-triggered checks: a check is CPU-bound Python for a while, and in a thread
    it would hold the GIL against the threads acknowledging Slack (measured: 50 concurrent acks went from ~60 ms to
    ~280 ms p50). A child has its own interpreter; the parent's thread just waits.
    """
    child = multiprocessing.get_context("spawn").Process(
        target=_child_check, args=(settings,), name="tally-check", daemon=True
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        log.error("the check process ended with exit code %s", child.exitcode)


def _child_check(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    engine = make_engine(settings.database_url)  # the parent ran the migrations
    try:
        scheduled_check(settings, engine, functools.partial(clients, settings, engine), web_client(settings))
    finally:
        engine.dispose()


class CheckWorker:
    """Run checks in one long-lived child process, one at a time, on request (``run`` blocks until done).

    ``check_in_child`` starts a fresh interpreter per check, and importing Tally costs seconds of wall time on a
    busy machine; a notification-started check should not pay that each time. The worker is started ahead
    (``start``), restarted if it died, and ends with the web process (daemon).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Any = None

    def start(self) -> CheckWorker:
        """Start the worker process now (so the first check finds it ready); return self."""
        with self._lock:
            self._ensure()
        return self

    def run(self) -> None:
        """Run one check in the worker and wait for it."""
        with self._lock:
            self._ensure()
            try:
                self._conn.send("check")
                self._conn.recv()
            except (EOFError, OSError):
                log.error("the check worker ended during a check; the next check starts a new one")
                self._process = None

    def stop(self) -> None:
        """End the worker."""
        with self._lock:
            if self._process is not None and self._process.is_alive():
                self._conn.close()
                self._process.join(timeout=5)
                if self._process.is_alive():
                    self._process.terminate()
            self._process = None

    def _ensure(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_check_worker, args=(self._settings, child), name="tally-check-worker", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent


def _check_worker(settings: Settings, conn: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    engine = make_engine(settings.database_url)  # the parent ran the migrations
    factory = functools.partial(clients, settings, engine)
    client = web_client(settings)
    try:
        while True:
            try:
                conn.recv()
            except (EOFError, OSError):  # the web process went away
                return
            try:
                scheduled_check(settings, engine, factory, client)
            except Exception:  # a worker has no caller: log, answer, serve the next one
                log.exception("the check failed")
            conn.send(True)
    finally:
        engine.dispose()


def digest_due(settings: Settings, now: datetime) -> bool:
    """Tell whether today's digest time has come (in the configured timezone)."""
    local = now.astimezone(settings.zone)
    return local.time() >= time(settings.digest_at.hour, settings.digest_at.minute)


def daily_digest(settings: Settings, engine: Engine, client: WebClient, *, now: datetime | None = None) -> list[str]:
    """Post today's digest if its time has come and it is not out yet; return the ``ts`` posted."""
    now = now or utcnow()
    if not digest_due(settings, now):
        return []
    return post_digest(settings=settings, engine=engine, client=client, now=now)


def settle_writes(
    engine: Engine,
    clients: ClientsFactory,
    *,
    redraw: Callable[[int], object] = lambda action_id: None,
    restated: Callable[[], object] = lambda: None,
) -> SettleReport:
    """Settle unsure writes by looking at ConnectWise and QuickBooks; ``redraw`` each action that changed.

    ``restated`` first redraws the alerts of fixes restated where Slack was out of reach (``tally check``).
    """
    try:
        restated()
    except SlackApiError as exc:  # the next run tries again
        log.warning("could not redraw restated alerts: %s", exc)
    if not pending_writes(engine):
        return SettleReport()  # the usual case: no API call at all
    try:
        with clients() as both:
            report = settle(engine, cw=both.cw, qbo=both.qbo, actor=SCHEDULER)
    except (TallyAPIError, QuickBooksAuthError) as exc:  # not configured, or not reachable: the next run tries again
        log.warning("could not settle unsure writes: %s", exc)
        return SettleReport()
    if report.written or report.not_written or report.unsure:
        log.info("settled: written %s, not written %s, unsure %s", report.written, report.not_written, report.unsure)
    for action_id in [*report.written, *report.not_written, *report.waiting]:
        try:
            redraw(action_id)
        except SlackApiError as exc:  # the alert catches up at the next check
            log.warning("could not redraw the alert of action %s: %s", action_id, exc)
    return report


class Settler:
    """Settle unsure writes in a daemon thread: once at start, then every ``every``, until ``stop``."""

    def __init__(self, run: Callable[[], object], *, every: timedelta) -> None:
        self._run = run
        self._every = every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tally-settle", daemon=True)

    def start(self) -> Settler:
        """Start the thread and return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end after the settle it may be running."""
        self._stopping.set()

    def _loop(self) -> None:
        while True:
            try:
                self._run()
            except Exception:  # a background thread has no caller: log and try again next time
                log.exception("settling unsure writes failed")
            if self._stopping.wait(self._every.total_seconds()):
                return


def settler_for(settings: Settings, engine: Engine) -> Settler:
    """The web or worker process's settler, started; it redraws the alerts of what it settles."""
    factory = functools.partial(clients, settings, engine)
    notifier = Notifier(settings, engine, web_client(settings))
    run = functools.partial(
        settle_writes, engine, factory, redraw=notifier.refresh_action, restated=notifier.redraw_restated
    )
    return Settler(run, every=settings.settle_every).start()


class BackgroundCheck:
    """Run a check in a background thread on request: one at a time, and a burst of requests runs it once more."""

    def __init__(self, run: Callable[[], object], *, name: str = "tally-check") -> None:
        self._run = run
        self._name = name
        self._lock = threading.Lock()
        self._running = False
        self._pending = False
        self.runs = 0

    def request(self) -> None:
        """Ask for a check; return at once."""
        with self._lock:
            if self._running:
                self._pending = True  # the running check may have read before this change: run once more after it
                return
            self._running = True
        threading.Thread(target=self._loop, name=self._name, daemon=True).start()

    @property
    def busy(self) -> bool:
        """Tell whether a check is running."""
        with self._lock:
            return self._running

    def _loop(self) -> None:
        while True:
            try:
                self._run()
            except Exception:  # a background thread has no caller: log and keep serving
                log.exception("background check failed")
            with self._lock:
                self.runs += 1
                if not self._pending:
                    self._running = False
                    return
                self._pending = False
