"""The ``tally`` command: one entry point that gathers the core, sandbox and bot commands.

It lives in ``bot`` because it is the one place allowed to see every package: ``sync`` must not import the
sandbox or Slack, and the sandbox must not import Tally.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.lazy import COMMANDS, lazy_group

if TYPE_CHECKING:
    from sync.settings import Settings

EXIT_CONFIG = 2


# Commands import their modules only when they run, so `tally --help` starts in a fraction of a second.
app = typer.Typer(
    cls=lazy_group(COMMANDS, lambda typer_app, prefix: guard_commands(typer_app, prefix)),
    help="Tally keeps ConnectWise Manage and QuickBooks Online in agreement.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        typer.echo(f"tally {version('tally')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Tally keeps ConnectWise Manage and QuickBooks Online in agreement."""


def _run_process(run: Callable[[Settings], None]) -> None:
    """Run a long-lived process; a missing or invalid setting is one sentence and exit 2, not a traceback."""
    logging.getLogger().setLevel(logging.INFO)  # a process says what it does...
    logging.getLogger("httpx").setLevel(logging.WARNING)  # ...without a line per outgoing request
    from sync.settings import load_settings

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
    from bot.processes.serve import run_web

    _run_process(lambda settings: run_web(settings, host=host, port=settings.port if port is None else port))


@app.command()
def worker() -> None:
    """Serve Slack over Socket Mode (no public URL needed; needs SLACK_APP_TOKEN)."""
    from bot.processes.worker import run_worker

    _run_process(run_worker)


@app.command()
def clock() -> None:
    """Run the scheduler: checks, the daily digest, settling unsure writes. Run exactly one."""
    from bot.processes.clock import run_clock

    _run_process(run_clock)


# What each command needs configured, from the arguments it was given (``sync.config_check.NEEDS``).
_API = ("cw", "qbo")
COMMAND_NEEDS: dict[str, Callable[[dict[str, Any]], tuple[str, ...]]] = {
    "check": lambda args: () if args.get("offline") else _API,
    "sync": lambda args: _API,
    "sweep": lambda args: _API,
    "approve": lambda args: _API,
    "payments": lambda args: _API if args.get("apply") else (),
    "credits": lambda args: _API if args.get("apply") else (),
    "mirror": lambda args: _API if args.get("apply") else (),
    "qbo connect": lambda args: ("qbo", "qbo_connect"),
    "qbo status": lambda args: ("qbo",),
    "web": lambda args: (*_API, "slack", "slack_http"),
    "worker": lambda args: (*_API, "slack", "socket_mode"),
    "clock": lambda args: (*_API, "slack"),
    "digest": lambda args: () if args.get("print_only") else ("slack",),
}
UNCHECKED = {"sandbox", "demo", "doctor"}  # they configure themselves, or report on the configuration


def preflight(command: str, needs: tuple[str, ...]) -> None:
    """Stop before anything is opened when settings are missing or invalid: list them all, exit 2."""
    from sync.config_check import problems

    found = problems(("settings", *needs))
    if not found:
        return
    lines = "\n".join(f"  {problem.line()}" for problem in found)
    typer.echo(
        f"tally {command} cannot run; {len(found)} setting(s) to fix:\n{lines}\n"
        "Set them in the environment or in .env in this folder "
        "(`tally sandbox serve --env-file .env` writes a complete one for the local sandbox).",
        err=True,
    )
    raise typer.Exit(EXIT_CONFIG)


def _settings_only(args: dict[str, Any]) -> tuple[str, ...]:
    return ()


def _guarded(name: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    needs = COMMAND_NEEDS.get(name, _settings_only)

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        preflight(name, needs(kwargs))
        return callback(*args, **kwargs)

    return run


def guard_commands(typer_app: typer.Typer, prefix: str = "") -> None:
    """Put the configuration pre-flight in front of every command that reads the settings."""
    for info in typer_app.registered_commands:
        if info.callback is None:
            continue
        name = f"{prefix}{info.name or info.callback.__name__.replace('_', '-')}"
        if name.split()[0] not in UNCHECKED:
            info.callback = _guarded(name, info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None and group.name not in UNCHECKED:
            guard_commands(group.typer_instance, f"{prefix}{group.name} ")


guard_commands(app)


def main() -> None:
    """Run the ``tally`` command line."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()
