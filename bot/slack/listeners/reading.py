"""What several listeners read from ``sync`` and render the same way: fixes with their approvers, previews, health."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from bot.slack.blocks.common import Message
from bot.slack.blocks.findings import ActionView
from bot.slack.blocks.previews import MAX_ROWS, preview_message
from bot.slack.listeners.binding import new_preview_token, remember_preview
from bot.slack.middleware import Tally
from bot.slack.notify import view_of
from sync.actions import GROUPS, WAITING, list_actions
from sync.clients.connectwise import ConnectWiseClient
from sync.clients.errors import NotConfiguredError
from sync.crypto import CipherError
from sync.db import session_scope
from sync.models import Action
from sync.qbo_auth import ConnectionHealth, ConnectionState, QBOAuth, QuickBooksAuthError
from sync.settings import Settings


def action_views(tally: Tally, actions: Sequence[Action]) -> list[ActionView]:
    """Actions with who approved each."""
    with session_scope(tally.engine) as session:
        return [view for view in (view_of(session, action) for action in actions) if view is not None]


def preview_for(tally: Tally, group: str, arg: str | None, *, note: str | None = None) -> Message:
    """The preview of one group of fixes (payments, credits, mirror), filtered by ``arg``."""
    rows = list_actions(tally.engine, kinds=GROUPS[group], status=(*WAITING, "executing", "unsure"), text=arg)
    token = new_preview_token()
    remember_preview(tally.engine, token, [row.id for row in rows[:MAX_ROWS]])
    views = action_views(tally, rows)
    return preview_message(group, arg, views, command=tally.settings.slash_command, note=note, shown=token)


def qbo_health(settings: Settings, tally: Tally) -> ConnectionHealth:
    """The QuickBooks connection's health, or why it cannot be read."""
    return connection_health(settings, tally.engine)


def connection_health(settings: Settings, engine: Engine) -> ConnectionHealth:
    """The QuickBooks connection's health from the database, or why it cannot be read (no request is made)."""
    try:
        auth = QBOAuth(settings, engine)
    except CipherError as exc:
        return ConnectionHealth(ConnectionState.NOT_CONNECTED, exc.sentence)
    try:
        return auth.status()
    except QuickBooksAuthError as exc:
        return ConnectionHealth(ConnectionState.NEEDS_RECONNECT, exc.sentence)
    finally:
        auth.close()


def cw_configured(settings: Settings) -> bool:
    """Whether ConnectWise is configured (no request is made)."""
    try:
        ConnectWiseClient.from_settings(settings).close()
    except NotConfiguredError:
        return False
    return True
