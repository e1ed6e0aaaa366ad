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
from slack_sdk.errors import SlackApiError

from bot.processes.scheduled import settler_for
from bot.slack.app import create_app
from bot.slack.tokens import REFUSED, app_token_problem
from sync.db import make_engine
from sync.settings import Settings
from sync.wiring import clients, open_engine

log = logging.getLogger(__name__)

# The SDK pings every PING_INTERVAL s and gives a connection up when no pong came for more than 4 intervals
# (slack_sdk/socket_mode/builtin/connection.py ``check_state``), checking once per interval; closing the socket then
# waits for the reader's 3 s receive timeout. A connection that died without a FIN is so replaced 10-14 s after its
# last pong; bolt's default (10 s) would take over 40 s.
PING_INTERVAL = 2.0


def socket_mode_handler(settings: Settings) -> SocketModeHandler:
    """Build the Bolt app and its Socket Mode connection (not yet connected)."""
    problem = app_token_problem(settings)
    if problem is not None:
        raise ValueError(problem)
    assert settings.slack_app_token is not None  # checked above
    engine = open_engine(settings)
    app = create_app(settings, engine=engine, clients=functools.partial(clients, settings, engine), socket_mode=True)
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value().strip(), ping_interval=PING_INTERVAL)


def first_url(handler: SocketModeHandler, settings: Settings) -> str:
    """Ask Slack for the first WebSocket URL, turning a refusal into a sentence (``ValueError``)."""
    try:
        return str(handler.client.issue_new_wss_url())
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        raise ValueError(REFUSED.get(error, f"Slack refused to open a Socket Mode connection ({error}).")) from None
    except OSError as exc:
        raise ValueError(
            f"Cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__}); check the network "
            "(and SLACK_API_URL, if set)."
        ) from None


def run_worker(settings: Settings) -> None:
    """Connect to Slack over Socket Mode and serve until SIGTERM or SIGINT."""
    handler = socket_mode_handler(settings)
    handler.client.wss_uri = first_url(handler, settings)  # a wrong token stops here, with a sentence
    settler_for(settings, make_engine(settings.database_url))  # unsure writes: on start, then on a schedule

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("worker: %s received, closing the Socket Mode connection", signal.Signals(signum).name)
        handler.close()  # type: ignore[no-untyped-call]
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker: connecting to Slack over Socket Mode")
    handler.start()  # type: ignore[no-untyped-call]  # blocks
