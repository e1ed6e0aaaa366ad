"""The Home tab listener: ``app_home_opened`` publishes the tab for the person opening it (``bot.slack.home``)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.slack.home import publish_home
from bot.slack.middleware import tally_of


def register(app: App) -> None:
    """Listen for the Home tab being opened."""
    app.event("app_home_opened")(_opened)


def _opened(event: dict[str, Any], context: BoltContext) -> None:
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    tally = tally_of(context)
    publish_home(tally.settings, tally.engine, tally.client, tally.approvers, str(event["user"]))
