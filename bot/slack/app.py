"""``create_app``: the only place a bolt ``App`` is built. Features register themselves on it.

HTTP mode: bolt verifies every request's signature (a forged or stale one is a 401). Listeners ack at once and do
their work in lazy listeners on ``listener_threads`` threads, so nothing waits on Slack's 3-second limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.engine import Engine

from bot.slack import listeners
from bot.slack.errors import handle_error
from bot.slack.middleware import Approvers, Tally, inject
from bot.slack.notify import Notifier
from bot.slack.roles import Roles
from sync.settings import Settings
from sync.wiring import Clients

log = logging.getLogger(__name__)


def web_client(settings: Settings) -> WebClient:
    """A Slack Web API client from settings: ``SLACK_API_URL``, the bot token, and waiting out rate limits."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    client = WebClient(token=token, base_url=base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def create_app(
    settings: Settings,
    *,
    engine: Engine,
    clients: Callable[[], AbstractContextManager[Clients]],
    client: WebClient | None = None,
    listener_threads: int = 16,
    socket_mode: bool = False,
) -> App:
    """Build Tally's Slack app: middleware, the slash command, buttons and modals, one error handler.

    ``socket_mode``: requests come over the WebSocket Tally opened with the app-level token, so there is no
    signature to check and ``SLACK_SIGNING_SECRET`` is not needed (bolt skips the check in Socket Mode).
    """
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise ValueError("SLACK_SIGNING_SECRET is not set: Tally cannot tell Slack's requests from forged ones.")
    client = client or web_client(settings)
    app = App(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,  # no auth.test at construction; bolt calls it on the first request
        listener_executor=ThreadPoolExecutor(max_workers=listener_threads, thread_name_prefix="tally-listener"),
        name="tally",
    )
    notifier = Notifier(settings, engine, client)
    approvers = Approvers(settings, engine, client)
    roles = Roles(settings, approvers, client)
    app.use(inject(Tally(settings, engine, clients, client, notifier, approvers, roles)))
    app.error(handle_error)
    listeners.register(app, command=settings.slash_command)
    return app
