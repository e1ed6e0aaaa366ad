"""The ``tally`` command: one entry point that gathers the core, sandbox and bot commands.

It lives in ``bot`` because it is the one place allowed to see every package: ``sync`` must not import the
sandbox or Slack, and the sandbox must not import Tally.
"""

from __future__ import annotations

import logging

import typer

from bot.demo import demo
from sandbox.cli import app as sandbox_app
from sync import cli as sync_cli

app = typer.Typer(
    help="Tally keeps ConnectWise Manage and QuickBooks Online in agreement.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
sync_cli.register(app)
app.add_typer(sandbox_app, name="sandbox")
app.command()(demo)


def main() -> None:
    """Run the ``tally`` command line."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
