"""``tally doctor``: the first-contact self-test, printed as a checklist (or ``--json``); exit 0 when nothing failed.

The checks themselves are in ``sync.doctor`` (ConnectWise, QuickBooks, the database) and ``bot.slack.doctor``.
Exit codes: 0 nothing failed (warnings may remain), 1 at least one check failed.
"""

from __future__ import annotations

import json

import typer
from pydantic import ValidationError

from bot.cli.output import JsonOption
from bot.slack.app import web_client
from bot.slack.doctor import slack_checker
from sync.doctor import Report, Status, check_settings, run_doctor
from sync.models import utcnow
from sync.settings import load_settings

MARKS = {Status.PASS: "✔ pass", Status.WARN: "⚠ warn", Status.FAIL: "✖ fail", Status.SKIP: "– skip"}
COLOURS = {Status.PASS: typer.colors.GREEN, Status.WARN: typer.colors.YELLOW, Status.FAIL: typer.colors.RED}
INTRO = "tally doctor: checking ConnectWise, QuickBooks, Slack and the database (read only)"


def doctor(as_json: JsonOption = False) -> None:
    """Check that ConnectWise, QuickBooks, Slack and the database are as Tally needs them (read only)."""
    settings_checks = check_settings()
    try:
        settings = load_settings()
    except ValidationError:
        report = Report(checks=settings_checks, at=utcnow())  # invalid values: nothing else can be judged
    else:
        checked = run_doctor(settings, extra=[slack_checker(settings, web_client)])
        report = Report(checks=settings_checks + checked.checks, at=checked.at)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        show(report)
    raise typer.Exit(report.exit_code)


def show(report: Report) -> None:
    """Print the checklist, grouped by system, with what to do under each warning and failure."""
    typer.echo(INTRO)
    system = None
    for check in report.checks:
        if check.system != system:
            system = check.system
            typer.secho(f"\n{system}", bold=True)
        mark = typer.style(MARKS[check.status], fg=COLOURS.get(check.status))
        typer.echo(f"  {mark}  {check.title}: {check.detail}")
        if check.remedy:
            typer.echo(f"          -> {check.remedy}")
    verdict = "nothing failed" if not report.failed else "fix the failures above"
    typer.echo(f"\n{report.summary()}: {verdict}.")
