"""``tally callbacks``: Tally's ConnectWise callback entry: list it, register it, remove it.

``tally web`` registers the entry itself when TALLY_PUBLIC_URL is set; ``remove`` is how it goes away (before a
move to another URL, or when real-time is no longer wanted: the scheduled check keeps sweeping either way).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.output import JsonOption, console, print_json
from bot.cli.support import EXIT_USAGE, err, stop_on_api_errors
from sync.settings import load_settings

app = typer.Typer(help="Tally's ConnectWise callback (real-time notifications).", no_args_is_help=True)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Show the ConnectWise callback entries that point at Tally."""
    from sync.clients.connectwise import ConnectWiseClient  # imported here: `tally --help` touches no API
    from sync.cw_callbacks import tallys

    settings = load_settings()
    with stop_on_api_errors("Listing callbacks"), ConnectWiseClient.from_settings(settings) as cw:
        entries = tallys(cw, None)
    if as_json:
        print_json(
            {"callbacks": [{k: e.get(k) for k in ("id", "url", "type", "level", "inactiveFlag")} for e in entries]}
        )
        return
    if not entries:
        console.print("No ConnectWise callback points at Tally.")
        return
    for entry in entries:
        state = "inactive" if entry.get("inactiveFlag") else "active"
        console.print(
            f"{entry.get('id')}  {entry.get('type')}/{entry.get('level')}  {state}  {escape(str(entry.get('url')))}"
        )


@app.command()
def register() -> None:
    """Register Tally's callback for TALLY_PUBLIC_URL now (``tally web`` also does it on start)."""
    from sync.clients.connectwise import ConnectWiseClient
    from sync.cw_callbacks import callback_url, ensure_callback

    settings = load_settings()
    if not settings.public_url:
        err.print("Set TALLY_PUBLIC_URL (the address ConnectWise can reach Tally's web process at) first.")
        raise typer.Exit(EXIT_USAGE)
    with stop_on_api_errors("Registering the callback"), ConnectWiseClient.from_settings(settings) as cw:
        registration = ensure_callback(cw, settings.public_url)
    verb = "Registered" if registration.created else "Already registered"
    console.print(f"{verb}: entry {registration.entry.get('id')} → {escape(callback_url(settings.public_url))}")


@app.command()
def remove(
    every: Annotated[
        bool, typer.Option("--all", help="remove every entry pointing at a Tally, whatever its URL")
    ] = False,
) -> None:
    """Remove Tally's callback entry (for TALLY_PUBLIC_URL, or with --all every Tally entry)."""
    from sync.clients.connectwise import ConnectWiseClient
    from sync.cw_callbacks import remove_callbacks

    settings = load_settings()
    if not every and not settings.public_url:
        err.print("Set TALLY_PUBLIC_URL, or pass --all to remove every entry pointing at a Tally.")
        raise typer.Exit(EXIT_USAGE)
    with stop_on_api_errors("Removing callbacks"), ConnectWiseClient.from_settings(settings) as cw:
        removed = remove_callbacks(cw, None if every else settings.public_url)
    console.print(f"Removed {len(removed)} callback entr{'y' if len(removed) == 1 else 'ies'}.")
