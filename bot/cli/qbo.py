"""``tally qbo``: connect Tally to a QuickBooks company and check the connection."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from sync.crypto import CipherError
from sync.db import make_engine
from sync.migrate import upgrade
from sync.qbo_auth import ConnectionHealth, QBOAuth, QuickBooksAuthError
from sync.settings import load_settings

qbo_app = typer.Typer(
    help="Connect Tally to QuickBooks Online and check the connection.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)

RedirectOption = Annotated[
    str | None,
    typer.Option("--redirect", help="The full URL the browser was sent to after authorizing Tally."),
]
CodeOption = Annotated[str | None, typer.Option("--code", help="The authorization code (with --realm-id).")]
RealmOption = Annotated[str | None, typer.Option("--realm-id", help="The company id (realmId) for --code.")]


@contextmanager
def _opened() -> Iterator[QBOAuth]:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        auth = QBOAuth(settings, engine)
        try:
            yield auth
        finally:
            auth.close()
    finally:
        engine.dispose()


def _fail(sentence: str) -> typer.Exit:
    typer.echo(sentence, err=True)
    return typer.Exit(code=1)


@qbo_app.command()
def connect(redirect: RedirectOption = None, code: CodeOption = None, realm_id: RealmOption = None) -> None:
    """Print the link that authorizes Tally, then store the tokens from the redirect (or a code)."""
    try:
        with _opened() as auth:
            health = _connect(auth, redirect=redirect, code=code, realm_id=realm_id)
    except (QuickBooksAuthError, CipherError) as exc:
        raise _fail(exc.sentence) from None
    if health is not None:
        _show(health)


def _connect(auth: QBOAuth, *, redirect: str | None, code: str | None, realm_id: str | None) -> ConnectionHealth | None:
    if redirect:
        return auth.connect_from_redirect(redirect)
    if code or realm_id:
        if not (code and realm_id):
            raise _fail("Give both --code and --realm-id, or the whole redirected URL with --redirect.")
        return auth.connect_with_code(code, realm_id)
    url, state = auth.authorization_url()
    typer.echo("Open this link as a QuickBooks admin, choose the company and allow Tally access:\n")
    typer.echo(f"  {url}\n")
    if not sys.stdin.isatty():
        typer.echo("Then run: tally qbo connect --redirect '<the full address the browser was sent to>'")
        return None
    pasted = typer.prompt("Paste the full address the browser was sent to")
    return auth.connect_from_redirect(pasted, state=state)


@qbo_app.command()
def status() -> None:
    """Show whether QuickBooks is connected and when the authorization expires."""
    try:
        with _opened() as auth:
            health = auth.status()
    except CipherError as exc:
        raise _fail(exc.sentence) from None
    _show(health)
    if not health.ok:
        raise typer.Exit(code=1)


def _show(health: ConnectionHealth) -> None:
    typer.echo(health.sentence)
    rows = [
        ("state", health.state.value),
        ("company (realm)", health.realm_id),
        ("access token until", health.access_expires_at),
        ("authorization until", health.refresh_expires_at),
        ("reconnect by", health.warn_reconnect_by),
    ]
    for label, value in rows:
        if value is not None:
            shown = value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value)
            typer.echo(f"  {label:<20} {shown}")
