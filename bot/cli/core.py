"""Core ``tally`` commands (no Slack): database and cache. ``bot.cli`` gathers them into one command."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.progress import SyncProgress
from bot.cli.support import stop_on_api_errors
from sync.cache import SyncReport, run_sync
from sync.db import session_scope
from sync.models import utcnow
from sync.settings import load_settings
from sync.sweep import latest_sweep, run_sweep, sweep_summary
from sync.wiring import clients, open_engine

db_app = typer.Typer(help="Tally's own database.", no_args_is_help=True)
console = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate Tally's tables (the release process runs this)."""
    engine = open_engine(load_settings())
    typer.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


def sync(full: Annotated[bool, typer.Option("--full", help="re-read everything, not only changes")] = False) -> None:
    """Read ConnectWise and QuickBooks into Tally's cache and print what changed."""
    settings = load_settings()
    engine = open_engine(settings)
    with stop_on_api_errors("Sync"), clients(settings, engine) as both, SyncProgress() as progress:
        report = run_sync(engine, both.cw, both.qbo, full=full, progress=progress, cw_workers=settings.cw_concurrency)
    console.print(report_table(report))
    for part in report.streams.values():
        for warning in part.warnings:
            typer.secho(f"Warning: {warning}", fg=typer.colors.YELLOW, err=True)


def sweep() -> None:
    """Re-read everything now, as the nightly sweep does, and say what the incremental syncs had missed."""
    settings = load_settings()
    engine = open_engine(settings)
    with stop_on_api_errors("Sweep"), clients(settings, engine) as both, SyncProgress() as progress:
        result = run_sweep(engine, both.cw, both.qbo, progress=progress)
    with session_scope(engine) as session:
        typer.echo(sweep_summary(latest_sweep(session), now=utcnow()))
    for warning in result.warnings:
        typer.secho(f"Warning: {warning}", fg=typer.colors.YELLOW, err=True)


def report_table(report: SyncReport) -> Table:
    """Render what a sync changed."""
    took = (report.finished - report.started).total_seconds() if report.finished else 0.0
    table = Table(title=f"{'Full' if report.full else 'Incremental'} sync: {report.changed} changes in {took:.1f}s")
    for column in ("stream", "created", "updated", "deleted"):
        table.add_column(column, justify="left" if column == "stream" else "right")
    for name, part in report.streams.items():
        table.add_row(name, str(part.created), str(part.updated), str(part.deleted))
    return table
