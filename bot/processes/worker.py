"""The ``worker`` process: the same Slack app over Socket Mode, for teams without a public URL.

Slack opens a WebSocket to Tally instead of sending HTTP requests, so no request URL, no signing secret check
(Bolt skips it in Socket Mode) and nothing to expose. QuickBooks webhooks and the OAuth callback still need HTTP:
without ``web``, connect QuickBooks with ``tally qbo connect`` and rely on the clock's scheduled checks.
"""

from __future__ import annotations

import functools
import logging
import signal
from types import FrameType

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.processes.scheduled import settler_for
from bot.slack.app import create_app
from sync.db import make_engine
from sync.settings import Settings
from sync.wiring import clients, open_engine

log = logging.getLogger(__name__)

SOCKET_MODE_HELP = (
    "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (it starts with xapp-). In your Slack app's "
    "settings, turn on Socket Mode and create a token with the connections:write scope under Basic Information -> "
    "App-Level Tokens; or run `tally web` behind a public URL instead."
)


def socket_mode_handler(settings: Settings) -> SocketModeHandler:
    """Build the Bolt app and its Socket Mode connection (not yet connected)."""
    if settings.slack_app_token is None or not settings.slack_app_token.get_secret_value().strip():
        raise ValueError(SOCKET_MODE_HELP)
    engine = open_engine(settings)
    app = create_app(settings, engine=engine, clients=functools.partial(clients, settings, engine))
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value().strip())


def run_worker(settings: Settings) -> None:
    """Connect to Slack over Socket Mode and serve until SIGTERM or SIGINT."""
    handler = socket_mode_handler(settings)
    settler_for(settings, make_engine(settings.database_url))  # unsure writes: on start, then on a schedule

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("worker: %s received, closing the Socket Mode connection", signal.Signals(signum).name)
        handler.close()  # type: ignore[no-untyped-call]
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker: connecting to Slack over Socket Mode")
    handler.start()  # type: ignore[no-untyped-call]  # blocks
