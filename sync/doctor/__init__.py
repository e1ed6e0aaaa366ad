"""``tally doctor``: a read-only first-contact self-test of the configured systems.

Each assumption Tally makes about ConnectWise, QuickBooks, Slack and its database is checked against the real
systems and reported as pass / warn / fail (or skip, when what it depends on failed), each warning and failure
with what to do. Nothing is written to ConnectWise, QuickBooks or Slack; the database is not migrated.

Modules::

    model.py        Check, Status, Report (exit code 0 when nothing failed, 1 otherwise), Section
    database.py     reachable and at the newest migration
    connectwise.py  reachable, codebase/API version, closed flag, lastUpdated, memo sign, payments, paging
    quickbooks.py   token health and hard expiry, API, preferences (custom numbers, currency, tax), webhooks

The Slack checks live with the Slack app (``bot/slack/doctor.py``) and are passed in as an extra ``Checker``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sync.config_check import problems
from sync.db import make_engine
from sync.doctor.connectwise import check_connectwise
from sync.doctor.database import check_database
from sync.doctor.model import EXIT_FAILED, EXIT_OK, Check, Checker, Report, Section, Status
from sync.doctor.quickbooks import DEPENDENT as QBO_CHECKS
from sync.doctor.quickbooks import check_quickbooks
from sync.models import utcnow
from sync.settings import Settings

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "Check",
    "Checker",
    "Report",
    "Section",
    "Status",
    "check_settings",
    "run_doctor",
]
log = logging.getLogger(__name__)
SETTINGS_NEEDS = ("settings", "cw", "qbo", "slack")  # what every process needs (Slack's mode is checked with Slack)


def check_settings() -> list[Check]:
    """Every setting that is invalid, or missing for the web, worker and clock processes."""
    section = Section("Settings")
    found = problems(SETTINGS_NEEDS)
    for problem in found:
        section.fail(f"settings.{problem.name}", f"Setting {problem.name}", "Missing or invalid.", problem.remedy)
    if not found:
        section.passed("settings", "Settings", "Every setting the processes need is present and valid.")
    return section.checks


def guarded(system: str, checker: Checker) -> list[Check]:
    """Run one system's checks; a check that crashes is itself a failure, never a traceback for the person."""
    try:
        return checker()
    except Exception as exc:  # the doctor reports; it must not stop half-way
        log.debug("doctor: the %s checks stopped", system, exc_info=True)
        section = Section(system)
        section.fail(
            f"{system.lower()}.crashed",
            f"{system} checks",
            f"The checks stopped on {type(exc).__name__}: {exc}",
            "Fix what the sentence names and re-run doctor; if it persists, report it with the log above.",
        )
        return section.checks


def run_doctor(settings: Settings, extra: Sequence[Checker] = ()) -> Report:
    """Run every check: the database, ConnectWise, QuickBooks, then ``extra`` (Slack), in that order."""
    engine = make_engine(settings.database_url)
    try:
        checks = guarded("Database", lambda: check_database(engine))
        migrated = all(check.status is Status.PASS for check in checks)
        checks += guarded("ConnectWise", lambda: check_connectwise(settings))
        if migrated:
            checks += guarded("QuickBooks", lambda: check_quickbooks(settings, engine))
        else:
            section = Section("QuickBooks")
            section.skip((("qbo.token", "Connected, token healthy"), *QBO_CHECKS), "the database is not migrated.")
            checks += section.checks
        for index, checker in enumerate(extra):
            checks += guarded(f"extra {index + 1}", checker)
    finally:
        engine.dispose()
    return Report(checks=checks, at=utcnow())
