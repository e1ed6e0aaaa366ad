"""The ``tally`` command: one entry point that gathers the core, sandbox and bot commands.

It lives in ``bot`` because it is the one place allowed to see every package: ``sync`` must not import the
sandbox or Slack, and the sandbox must not import Tally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

import typer

from bot.demo import demo
from sandbox.cli import app as sandbox_app
from sync import cli as sync_cli
from sync.settings import Settings, load_settings

app = typer.Typer(
    help="Tally keeps ConnectWise Manage and QuickBooks Online in agreement.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
sync_cli.register(app)
app.add_typer(sandbox_app, name="sandbox")
app.command()(demo)


def _run_process(run: Callable[[Settings], None]) -> None:
    """Run a long-lived process; a missing or invalid setting is one sentence and exit 2, not a traceback."""
    logging.getLogger().setLevel(logging.INFO)  # a process says what it does...
    logging.getLogger("httpx").setLevel(logging.WARNING)  # ...without a line per outgoing request
    try:
        run(load_settings())
    except ValueError as exc:  # pydantic's ValidationError and Tally's setting checks are ValueErrors
        typer.echo(f"Cannot start: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def web(
    port: Annotated[int | None, typer.Option(help="port to listen on; default PORT, else 8000")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "0.0.0.0",  # noqa: S104 (a server's job)
) -> None:
    """Serve Slack over HTTP, the QuickBooks connect flow and webhooks, and /healthz."""
    from bot.serve import run_web

    _run_process(lambda settings: run_web(settings, host=host, port=settings.port if port is None else port))


@app.command()
def worker() -> None:
    """Serve Slack over Socket Mode (no public URL needed; needs SLACK_APP_TOKEN)."""
    from bot.worker import run_worker

    _run_process(run_worker)


@app.command()
def clock() -> None:
    """Run the scheduler: checks, the daily digest, settling unsure writes. Run exactly one."""
    from bot.clock import run_clock

    _run_process(run_clock)


def main() -> None:
    """Run the ``tally`` command line."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
