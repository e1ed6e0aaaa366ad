"""The ``web`` process: Slack over HTTP, the QuickBooks connect flow and webhooks, and ``/healthz``, under uvicorn.

A QuickBooks webhook or a ConnectWise callback answers at once and hands what it names to
``sync.notifications.Listener``: repeats are dropped, a burst coalesces (TALLY_REALTIME_QUIET / _MAX_WAIT) into one
incremental check in a long-lived child process (``CheckWorker``), one at a time. With TALLY_PUBLIC_URL set, the
ConnectWise callback is registered on start (``sync.cw_callbacks.ensure_callback``, idempotent).
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from slack_bolt import App
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette

from bot.digest.data import last_check_at
from bot.processes.scheduled import BackgroundCheck, CheckWorker, check_in_child, settler_for
from bot.processes.web import create_web
from bot.slack.app import create_app
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import TallyAPIError
from sync.crypto import SecretKeyError
from sync.cw_callbacks import ensure_callback
from sync.db import session_scope
from sync.notifications import Listener
from sync.qbo_auth import QBOAuth
from sync.qbo_auth.links import ConnectLinks
from sync.settings import Settings
from sync.wiring import clients, open_engine

log = logging.getLogger(__name__)

WATCHED = frozenset({"Invoice", "CreditMemo", "Payment", "Customer"})  # what reconciliation reads from QuickBooks


@dataclass
class Web:
    """The web process's parts: the ASGI app and what tests and the benchmark look at."""

    asgi: Starlette
    bolt: App
    engine: Engine
    checks: BackgroundCheck
    auth: QBOAuth | None
    listener: Listener
    worker: CheckWorker


def qbo_auth(settings: Settings, engine: Engine) -> QBOAuth | None:
    """The QuickBooks connection, or ``None`` (with a warning) when TALLY_SECRET_KEY is missing."""
    try:
        return QBOAuth(settings, engine)
    except SecretKeyError as exc:
        log.warning("QuickBooks connect and callback are off: %s", exc)
        return None


def build_web(settings: Settings, *, engine: Engine | None = None) -> Web:
    """Wire the web process: engine, Bolt app, QuickBooks auth, background checks, health."""
    engine = engine or open_engine(settings)
    factory = functools.partial(clients, settings, engine)
    bolt = create_app(settings, engine=engine, clients=factory)
    checks = BackgroundCheck(functools.partial(check_in_child, settings))
    auth = qbo_auth(settings, engine)
    verifier = settings.qbo_webhook_verifier.get_secret_value() if settings.qbo_webhook_verifier else ""
    if not verifier:
        log.warning("QBO_WEBHOOK_VERIFIER is not set: every QuickBooks webhook will be refused (401)")

    def on_qbo_change(entities: set[str]) -> None:
        if entities & WATCHED:
            log.info("QuickBooks says %s changed: checking", ", ".join(sorted(entities)))
            checks.request()

    worker = CheckWorker(settings)
    listener = Listener(
        engine,
        worker.run,
        realm_id=settings.qbo_realm_id,
        quiet=settings.realtime_quiet,
        max_wait=settings.realtime_max_wait,
        callback_rate=settings.callback_rate,
    )
    health = functools.partial(health_report, engine, auth, checks, listener)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    asgi = create_web(
        bolt,
        signing_secret=secret,
        auth=auth,
        links=ConnectLinks(engine),
        webhook_verifier=verifier,
        on_qbo_change=on_qbo_change,
        health=health,
        on_qbo_payload=listener.qbo,
        on_cw_callback=listener.cw,
    )
    return Web(asgi=asgi, bolt=bolt, engine=engine, checks=checks, auth=auth, listener=listener, worker=worker)


def health_report(
    engine: Engine, auth: QBOAuth | None, checks: BackgroundCheck, listener: Listener | None = None
) -> dict[str, Any]:
    """What ``/healthz`` says: ok when the database answers, with the last check and the QuickBooks state."""
    try:
        with session_scope(engine) as session:
            last = last_check_at(session)
    except SQLAlchemyError:
        log.exception("health: the database did not answer")
        return {"ok": False, "database": "unreachable"}
    report: dict[str, Any] = {
        "ok": True,
        "last_check": last.isoformat() if last else None,
        "check_running": checks.busy or (listener is not None and listener.coalescer.busy),
        "qbo": "not_configured",
    }
    if auth is not None:
        status = auth.status()
        report.update(qbo=status.state.value, qbo_sentence=status.sentence)
    return report


def run_web(settings: Settings, *, host: str, port: int) -> None:
    """Serve the web process until SIGTERM or SIGINT (uvicorn finishes the requests in flight)."""
    web = build_web(settings)
    if settings.public_url:
        threading.Thread(target=register_callback, args=(settings,), name="tally-cw-callback", daemon=True).start()
    web.worker.start()  # ready before the first notification: a check then costs no interpreter start
    settler = settler_for(settings, web.engine)  # writes whose answer was lost, settled on start and on a schedule
    config = uvicorn.Config(web.asgi, host=host, port=port, log_level="info", access_log=False, lifespan="off")
    log.info("web: serving Slack, QuickBooks and /healthz on %s:%s", host, port)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the handler it found in
    # place: with this one the process then ends normally (exit 0) rather than killed by the signal.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    uvicorn.Server(config).run()
    web.listener.stop()
    web.worker.stop()
    settler.stop()
    web.engine.dispose()


def register_callback(settings: Settings) -> None:
    """Make sure ConnectWise calls ``TALLY_PUBLIC_URL/cw/callbacks`` (idempotent); log, never fail the process."""
    assert settings.public_url
    try:
        with ConnectWiseClient.from_settings(settings) as cw:
            registration = ensure_callback(cw, settings.public_url)
    except TallyAPIError as exc:  # not configured or not reachable: the scheduled check still sweeps
        log.warning("ConnectWise callback not registered: %s", exc)
        return
    verb = "registered" if registration.created else "already registered"
    log.info("ConnectWise callback %s (entry %s)", verb, registration.entry.get("id"))


def _stopped(signum: int, frame: FrameType | None) -> None:
    log.info("web: stopped by %s", signal.Signals(signum).name)
