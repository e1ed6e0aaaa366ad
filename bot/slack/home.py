"""Publishing the Home tab: ``publish_home`` for one person, ``refresh_homes`` again for everyone who opened it
lately (after a check changed what it shows). The ``app_home_opened`` listener is ``listeners/home.py``."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.slack.blocks.home import MAX_FIXES, HomeData, home_view
from bot.slack.listeners.binding import home_message_key, remember
from bot.slack.listeners.reading import connection_health, cw_configured
from bot.slack.middleware import Approvers
from sync.actions.lifecycle import approvers_of
from sync.db import session_scope
from sync.models import HomeViewer, utcnow
from sync.reports import ar_totals, open_ar, overview
from sync.settings import Settings

log = logging.getLogger(__name__)

KEEP_VIEWERS = timedelta(days=14)  # tabs not opened for this long are left as they are


def home_data(settings: Settings, engine: Engine, approvers: Approvers, user: str) -> HomeData:
    """What ``user``'s Home tab shows now (no ConnectWise or QuickBooks API call: the cache and the database)."""
    view = overview(engine)
    approver = approvers.is_approver(user)
    mine = []
    if approver:
        with session_scope(engine) as session:
            mine = [
                w
                for w in view.waiting
                if w.action.status == "proposed" and user not in approvers_of(session, w.action.id or 0)
            ]
    lines = open_ar(engine, settings)
    return HomeData(
        view=view,
        health=connection_health(settings, engine),
        cw_configured=cw_configured(settings),
        ar=ar_totals(lines) if view.last_check is not None else None,
        approver=approver,
        mine=mine,
    )


def _publish(settings: Settings, engine: Engine, client: WebClient, approvers: Approvers, user: str) -> None:
    data = home_data(settings, engine, approvers, user)
    with session_scope(engine, write_lock=True) as session:  # before it can be clicked: honoured for these only
        remember(session, home_message_key(user), [w.action.id for w in data.mine[:MAX_FIXES]])
    client.views_publish(user_id=user, view=home_view(data, now=utcnow()))


def publish_home(settings: Settings, engine: Engine, client: WebClient, approvers: Approvers, user: str) -> None:
    """Publish ``user``'s Home tab and remember that they look at it."""
    now = utcnow()
    _publish(settings, engine, client, approvers, user)
    with session_scope(engine, write_lock=True) as session:
        row = session.get(HomeViewer, user)
        if row is None:
            session.add(HomeViewer(user=user, opened_at=now))
        else:
            row.opened_at = now


def refresh_homes(settings: Settings, engine: Engine, client: WebClient) -> int:
    """Publish again the Home tab of everyone who opened it lately; return how many were published."""
    since = utcnow() - KEEP_VIEWERS
    with session_scope(engine) as session:
        users = list(session.execute(select(col(HomeViewer.user)).where(col(HomeViewer.opened_at) >= since)).scalars())
    if not users:
        return 0
    approvers = Approvers(settings, engine, client)
    published = 0
    for user in users:
        try:
            _publish(settings, engine, client, approvers, user)
            published += 1
        except SlackApiError as exc:  # the next check tries again
            log.warning("could not refresh the Home tab of %s: %s", user, exc.response.get("error"))
    return published
