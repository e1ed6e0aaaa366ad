"""Refresh tokens die: rolling 100 days, and since 2025 a hard cap. Tally warns two weeks ahead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from sandbox.clock import Clock
from sandbox.quickbooks import QBOStore, QuickBooksService, serve_quickbooks
from sandbox.web import Request, Response, Router, SandboxServer
from sync.qbo_auth import ConnectionState, QBOAuth
from tests.sync.test_qbo_auth import (
    connect,
    expire_locally,
    make_settings,
    settings_values,
    stored_row,
    token_works,
)

HARD_CAP = timedelta(days=9)


class HardCappedTokens:
    """The sandbox's OAuth endpoints, adding ``x_refresh_token_hard_expires_in`` to token answers when asked.

    [U] Intuit (Nov 2025) sends the field when the request carries ``x-include-refresh-token-hard-expires-in``;
    the sandbox does not model the cap, so this wraps its token endpoint and delegates everything else.
    """

    def __init__(self, inner: QuickBooksService) -> None:
        self.inner = inner
        self.asked: list[str | None] = []
        self.router = Router(ignore_case=True)
        oauth = inner.oauth
        self.router.add("GET", r"/\.well-known/openid_configuration", oauth.discovery)
        self.router.add("GET", r"/oauth2/authorize", oauth.authorize)
        self.router.add("POST", r"/oauth2/v1/tokens/bearer", self.token)
        self.router.add("GET", r"/v1/openid_connect/userinfo", oauth.userinfo)

    def token(self, request: Request) -> Response:
        answer = self.inner.oauth.token(request)
        asked = request.header("x-include-refresh-token-hard-expires-in")
        self.asked.append(asked)
        if answer.status != 200 or asked != "true":
            return answer
        body = json.loads(answer.body)
        body["x_refresh_token_hard_expires_in"] = int(HARD_CAP.total_seconds())
        return Response.json(body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # failure, not_found, admin calls ... as the sandbox answers them


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    started = serve_quickbooks(access_token_ttl=3600)
    yield started
    started.stop()


@pytest.fixture
def capped() -> Iterator[SandboxServer]:
    clock = Clock()
    service = HardCappedTokens(QuickBooksService(QBOStore(clock), clock=clock))
    started = SandboxServer(service, clock=clock).start()  # type: ignore[arg-type]
    yield started
    started.stop()


def test_warns_two_weeks_before_the_rolling_expiry(server: SandboxServer, database_url: str, engine: Engine) -> None:
    values = settings_values(server, database_url)
    auth = QBOAuth(make_settings(values), engine)
    auth.connect_from_redirect(connect(auth))
    expires = auth.status().refresh_expires_at
    assert expires is not None
    assert auth.status().warn_reconnect_by is None

    later = QBOAuth(make_settings(values), engine, now=lambda: expires - timedelta(days=10, hours=1))
    health = later.status()

    assert health.state is ConnectionState.EXPIRING
    assert health.ok
    assert health.warn_reconnect_by == expires
    assert health.sentence == (
        f"QuickBooks authorization expires on {expires:%Y-%m-%d} (in 10 days). "
        "An admin should run `tally qbo connect` (or /tally connect) before then."
    )
    expired = QBOAuth(make_settings(values), engine, now=lambda: expires + timedelta(days=1)).status()
    assert expired.state is ConnectionState.NEEDS_RECONNECT
    assert "expired on" in expired.sentence
    auth.close()


def test_a_hard_cap_within_two_weeks_warns_on_the_row_and_in_status(
    capped: SandboxServer, database_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    auth = QBOAuth(make_settings(settings_values(capped, database_url)), engine)
    auth.connect_from_redirect(connect(auth))
    expire_locally(engine)

    assert token_works(capped, auth.access_token())  # still works: a warning, not a failure

    assert capped.service.asked == ["true", "true"]  # type: ignore[attr-defined]
    row = stored_row(engine)
    health = auth.status()
    assert health.state is ConnectionState.EXPIRING
    assert health.refresh_expires_at == row.refresh_expires_at
    assert row.refresh_expires_at is not None
    assert row.updated_at is not None
    assert row.refresh_expires_at - row.updated_at == HARD_CAP  # the cap wins over the rolling 101 days
    assert row.state == "connected"
    assert row.reason == health.sentence
    assert "(in 9 days)" in health.sentence
    assert any("expires on" in record.getMessage() for record in caplog.records)
    auth.close()
