"""The check job: sync, reconcile, propose, then tell the channel. The scheduler and ``/tally check`` both run it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.digest.data import CHECK_COMPLETED, CHECK_FAILED
from bot.slack.notify import Notifier
from sync import audit
from sync.cache.store import Progress, no_progress
from sync.checks import CheckResult, run_check
from sync.clients.errors import TallyAPIError
from sync.db import session_scope
from sync.qbo_auth import QuickBooksAuthError
from sync.settings import Settings
from sync.wiring import Clients

log = logging.getLogger(__name__)

ClientsFactory = Callable[[], AbstractContextManager[Clients]]


def check_and_announce(
    settings: Settings,
    engine: Engine,
    clients: ClientsFactory,
    client: WebClient,
    *,
    actor: str,
    progress: Progress = no_progress,
    notifier: Notifier | None = None,
) -> CheckResult:
    """Check both systems, post each new finding once and update the alerts of what changed; audit the outcome."""
    try:
        with clients() as both:
            result = run_check(engine, settings, cw=both.cw, qbo=both.qbo, actor=actor, progress=progress)
        announced = (notifier or Notifier(settings, engine, client)).announce(result)
    except (TallyAPIError, QuickBooksAuthError, SlackApiError) as exc:  # the API errors the digest's health reports
        sentence = str(exc)  # the sentence (and the vendor's request id); never a token
        if isinstance(exc, SlackApiError):
            sentence = f"Slack refused the alerts ({exc.response.get('error')}); the next check posts them."
        record_check(engine, actor=actor, verb=CHECK_FAILED, detail=sentence)
        raise
    undelivered = ""
    if announced.refused is not None:
        undelivered = f"; not posted: {announced.refused.sentence()}"
    elif announced.unposted or announced.owed:
        undelivered = (
            f"; {len(announced.unposted)} alerts not posted and {len(announced.owed)} not redrawn yet "
            "(Slack refused for now; the next pass retries)"
        )
    from bot.slack.home import refresh_homes  # here: the Home tab reads what the listeners read (import cycle)

    try:
        refresh_homes(settings, engine, client)  # the Home tabs show the findings and fixes just changed
    except Exception:  # the alerts are out; a Home tab failing to refresh must not fail the check
        log.exception("could not refresh the Home tabs")
    record_check(
        engine,
        actor=actor,
        verb=CHECK_COMPLETED,
        detail=f"{len(result.findings)} open findings, {len(result.changes.new)} new, "
        f"{len(result.changes.resolved)} resolved{undelivered}",
    )
    log.info(
        "check by %s: %d open findings, %d posted, %d alerts updated",
        actor,
        len(result.findings),
        len(announced.posted),
        len(announced.updated),
    )
    return result


def record_check(engine: Engine, *, actor: str, verb: str, detail: str) -> None:
    """Append a check's outcome to the audit trail."""
    with session_scope(engine) as session:
        audit.record(session, actor=actor, verb=verb, subject="check", detail=detail)
