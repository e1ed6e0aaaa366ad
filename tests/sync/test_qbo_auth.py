"""QuickBooks OAuth lifecycle against the sandbox's Intuit endpoints, through the real intuit-oauth client.

The helpers at the top are shared with ``test_qbo_auth_concurrency.py`` and ``test_qbo_auth_cli.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select

from sandbox.quickbooks import QBOApp, serve_quickbooks
from sandbox.web import SandboxServer
from sync.crypto import TokenCipher
from sync.db import session_scope
from sync.models import QBOConnection, utcnow
from sync.qbo_auth import (
    ConnectionState,
    QBOAuth,
    QuickBooksAuthUnavailable,
    QuickBooksConnectError,
    QuickBooksNeedsReconnect,
    QuickBooksOtherCompany,
)
from sync.settings import Settings

APP = QBOApp()
REFUSED = (
    "QuickBooks needs reconnecting: the saved authorization was refused (invalid_grant). "
    "An admin should run `tally qbo connect` (or /tally connect)."
)


# -- helpers shared by the QBO auth test modules --------------------------------------------------------


def settings_values(server: SandboxServer, database_url: str, **overrides: str) -> dict[str, str]:
    """Environment-style values that point Tally at ``server`` and ``database_url``."""
    values = {
        "QBO_CLIENT_ID": APP.client_id,
        "QBO_CLIENT_SECRET": APP.client_secret,
        "QBO_REDIRECT_URI": APP.redirect_uri,
        "QBO_ENVIRONMENT": f"{server.url}/.well-known/openid_configuration",
        "QBO_REALM_ID": APP.realm_id,
        "TALLY_SECRET_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
    }
    values.update(overrides)
    return values


def make_settings(values: dict[str, str]) -> Settings:
    """Build validated Settings from environment-style values."""
    return Settings(**values)  # type: ignore[arg-type]


def token_works(server: SandboxServer, access_token: str) -> bool:
    """Tell whether the sandbox accepts ``access_token`` (OpenID userinfo answers 200)."""
    response = httpx.get(
        f"{server.url}/v1/openid_connect/userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code == 200


def spend_refresh_token(server: SandboxServer, refresh_token: str) -> httpx.Response:
    """Refresh at the sandbox directly, as a second client holding the same token would."""
    basic = base64.b64encode(f"{APP.client_id}:{APP.client_secret}".encode()).decode()
    return httpx.post(
        f"{server.url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
    )


def stored_row(engine: Engine) -> QBOConnection:
    """Read the one connection row."""
    with session_scope(engine) as session:
        return session.exec(select(QBOConnection)).one()


def stored_refresh_token(engine: Engine, settings: Settings) -> str:
    """Decrypt the refresh token the row holds."""
    row = stored_row(engine)
    assert row.refresh_token is not None
    return TokenCipher(settings.secret_key).decrypt(row.refresh_token)


def expire_locally(engine: Engine) -> None:
    """Make the stored access token look expired to Tally (and the sandbox agrees below when asked)."""
    with session_scope(engine) as session:
        row = session.exec(select(QBOConnection)).one()
        row.access_expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)


def admin(server: SandboxServer, name: str, body: dict[str, Any] | None = None) -> None:
    """Call a sandbox admin endpoint."""
    httpx.post(f"{server.url}/_sandbox/{name}", json=body or {}).raise_for_status()


class Clock:
    """A hand-moved clock for ``QBOAuth(now=...)``."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    started = serve_quickbooks(access_token_ttl=3600)
    yield started
    started.stop()


@pytest.fixture
def values(server: SandboxServer, database_url: str) -> dict[str, str]:
    return settings_values(server, database_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(values: dict[str, str], engine: Engine, clock: Clock) -> Iterator[QBOAuth]:
    built = QBOAuth(make_settings(values), engine, now=clock)
    yield built
    built.close()


def connect(auth: QBOAuth, **kwargs: str) -> str:
    """Run the browser's part of the connect flow; return the URL Intuit redirected to."""
    url, _ = auth.authorization_url(**kwargs)
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"]


# -- connecting -----------------------------------------------------------------------------------------


def test_connect_flow_stores_the_tokens_encrypted(
    auth: QBOAuth, engine: Engine, server: SandboxServer, values: dict[str, str]
) -> None:
    assert auth.status().state is ConnectionState.NOT_CONNECTED

    health = auth.connect_from_redirect(connect(auth))

    assert health.state is ConnectionState.CONNECTED
    assert health.realm_id == APP.realm_id
    assert "is connected until" in health.sentence
    access = auth.access_token()
    assert token_works(server, access)
    refresh = stored_refresh_token(engine, make_settings(values))
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT access_token, refresh_token FROM qbo_connection")).one()
    assert access not in raw.access_token
    assert refresh not in raw.refresh_token
    assert refresh not in raw.access_token
    assert access not in raw.refresh_token


def test_connect_refuses_a_foreign_or_spent_redirect(auth: QBOAuth, engine: Engine) -> None:
    redirect = connect(auth, state="state-from-the-bot")
    with pytest.raises(QuickBooksConnectError, match="state does not match"):
        auth.connect_from_redirect(redirect, state="another-state")
    with pytest.raises(QuickBooksConnectError, match="state does not match"):
        auth.connect_from_redirect(redirect)  # a state Tally did not sign
    auth.connect_from_redirect(redirect, state="state-from-the-bot")
    with pytest.raises(QuickBooksConnectError, match=r"refused the authorization code \(invalid_grant\)"):
        auth.connect_from_redirect(redirect, state="state-from-the-bot")  # codes work once
    assert stored_row(engine).state == "connected"


def test_signed_state_expires_after_an_hour(auth: QBOAuth, clock: Clock) -> None:
    redirect = connect(auth)
    clock.at += timedelta(hours=1, minutes=1)
    with pytest.raises(QuickBooksConnectError, match="in the last hour"):
        auth.connect_from_redirect(redirect)


def test_connecting_another_company_than_the_pinned_one_is_refused(values: dict[str, str], engine: Engine) -> None:
    auth = QBOAuth(make_settings({**values, "QBO_REALM_ID": "123"}), engine)
    with pytest.raises(QuickBooksConnectError, match="QBO_REALM_ID is 123"):
        auth.connect_from_redirect(connect(auth))
    auth.close()


def test_without_a_pinned_company_the_first_connected_one_is_never_replaced(
    values: dict[str, str], engine: Engine, server: SandboxServer
) -> None:
    auth = QBOAuth(make_settings({**values, "QBO_REALM_ID": ""}), engine)
    auth.connect_from_redirect(connect(auth))
    generation = stored_row(engine).generation
    auth.connect_from_redirect(connect(auth))  # the same company again: a reconnect, fine
    assert stored_row(engine).generation == generation + 1
    admin(server, "consent-company", {"realm_id": "9130350000000002"})  # the admin picks another company
    with pytest.raises(QuickBooksOtherCompany, match=f"connected to company {APP.realm_id} and will not replace"):
        auth.connect_from_redirect(connect(auth))
    assert (stored_row(engine).realm_id, stored_row(engine).generation) == (APP.realm_id, generation + 1)
    assert auth.status().ok
    auth.close()


def test_bootstrap_from_configured_refresh_token_stores_the_rotated_one(
    server: SandboxServer, database_url: str, engine: Engine
) -> None:
    configured = server.service.issue_refresh_token()  # type: ignore[attr-defined]
    settings = make_settings(settings_values(server, database_url, QBO_REFRESH_TOKEN=configured))
    auth = QBOAuth(settings, engine)

    assert token_works(server, auth.access_token())

    rotated = stored_refresh_token(engine, settings)
    assert rotated != configured
    assert spend_refresh_token(server, configured).json()["error"] == "invalid_grant"
    assert spend_refresh_token(server, rotated).status_code == 200
    auth.close()


# -- keeping the access token valid -----------------------------------------------------------------------


def test_refreshes_ahead_of_expiry_and_not_before(auth: QBOAuth, server: SandboxServer, clock: Clock) -> None:
    auth.connect_from_redirect(connect(auth))
    first = auth.access_token()
    served = server.requests_served

    clock.at += timedelta(minutes=30)
    assert auth.access_token() == first
    assert server.requests_served == served  # no call to Intuit while the token is good

    clock.at += timedelta(minutes=26)  # 4 minutes left: inside the 5-minute margin
    second = auth.access_token()
    assert second != first
    assert token_works(server, second)


def test_short_lived_tokens_are_used_for_half_their_life(database_url: str, engine: Engine, clock: Clock) -> None:
    short = serve_quickbooks(access_token_ttl=60)  # shorter than the 5-minute margin
    auth = QBOAuth(make_settings(settings_values(short, database_url)), engine, now=clock)
    auth.connect_from_redirect(connect(auth))
    first = auth.access_token()
    served = short.requests_served

    clock.at += timedelta(seconds=25)
    assert auth.access_token() == first
    assert short.requests_served == served

    clock.at += timedelta(seconds=10)
    assert auth.access_token() != first
    auth.close()
    short.stop()


def test_a_401_refreshes_once_and_the_old_refresh_token_dies(
    auth: QBOAuth, server: SandboxServer, engine: Engine, values: dict[str, str]
) -> None:
    auth.connect_from_redirect(connect(auth))
    rejected = auth.access_token()
    old_refresh = stored_refresh_token(engine, make_settings(values))
    admin(server, "expire-access-tokens")
    assert not token_works(server, rejected)

    fresh = auth.refresh_after_401(rejected)

    assert fresh != rejected
    assert token_works(server, fresh)
    assert auth.access_token() == fresh
    assert stored_row(engine).generation == 2  # connect, then exactly one refresh
    assert spend_refresh_token(server, old_refresh).json()["error"] == "invalid_grant"


def test_no_refresh_after_a_401_when_another_process_already_refreshed(
    auth: QBOAuth, values: dict[str, str], engine: Engine, server: SandboxServer
) -> None:
    auth.connect_from_redirect(connect(auth))
    rejected = auth.access_token()
    other = QBOAuth(make_settings(values), engine)
    admin(server, "expire-access-tokens")
    replaced = other.refresh_after_401(rejected)
    served, generation = server.requests_served, stored_row(engine).generation

    assert auth.refresh_after_401(rejected) == replaced

    assert server.requests_served == served
    assert stored_row(engine).generation == generation
    other.close()


# -- failures become state and sentences ----------------------------------------------------------------


def test_invalid_grant_marks_the_connection_and_later_calls_fail_fast(
    auth: QBOAuth, engine: Engine, server: SandboxServer, values: dict[str, str]
) -> None:
    auth.connect_from_redirect(connect(auth))
    spend_refresh_token(server, stored_refresh_token(engine, make_settings(values)))  # someone else spent it
    expire_locally(engine)

    with pytest.raises(QuickBooksNeedsReconnect) as refused:
        auth.access_token()

    assert refused.value.sentence == REFUSED
    assert str(refused.value) == REFUSED
    assert refused.value.__cause__ is None
    row = stored_row(engine)
    assert (row.state, row.reason) == ("needs_reconnect", REFUSED)
    served = server.requests_served
    for call in (auth.access_token, lambda: auth.refresh_after_401("whatever")):
        with pytest.raises(QuickBooksNeedsReconnect, match=r"refused \(invalid_grant\)"):
            call()
    assert server.requests_served == served
    health = auth.status()
    assert (health.state, health.sentence, health.ok) == (ConnectionState.NEEDS_RECONNECT, REFUSED, False)

    auth.connect_from_redirect(connect(auth))  # reconnecting heals it
    assert token_works(server, auth.access_token())
    assert auth.status().state is ConnectionState.CONNECTED


def test_disconnect_revokes_the_grant(
    auth: QBOAuth, engine: Engine, server: SandboxServer, values: dict[str, str]
) -> None:
    auth.connect_from_redirect(connect(auth))
    access = auth.access_token()
    refresh = stored_refresh_token(engine, make_settings(values))

    health = auth.disconnect()

    assert health.state is ConnectionState.NEEDS_RECONNECT
    assert "was disconnected on" in health.sentence
    assert not token_works(server, access)
    assert spend_refresh_token(server, refresh).json()["error"] == "invalid_grant"
    with pytest.raises(QuickBooksNeedsReconnect, match="was disconnected"):
        auth.access_token()


def test_token_service_failures_are_sentences_and_change_nothing(
    auth: QBOAuth, engine: Engine, server: SandboxServer, values: dict[str, str]
) -> None:
    auth.connect_from_redirect(connect(auth))
    expire_locally(engine)
    admin(server, "faults", {"fail_next": {"count": 1, "status": 503, "match": "tokens"}})

    with pytest.raises(QuickBooksAuthUnavailable, match=r"could not be used \(HTTP 503\)"):
        auth.access_token()

    assert stored_row(engine).generation == 1
    assert stored_row(engine).state == "connected"
    assert token_works(server, auth.access_token())  # the next run succeeds
    server.stop()  # a new process finds nothing listening (this one's keep-alive connection outlives the stop)
    expire_locally(engine)
    later = QBOAuth(make_settings(values), engine)
    with pytest.raises(QuickBooksAuthUnavailable, match=r"could not be used \(ConnectionError\)"):
        later.access_token()
    later.close()
    assert stored_row(engine).state == "connected"


def test_a_changed_secret_key_asks_for_the_old_key_or_a_reconnect(
    auth: QBOAuth, values: dict[str, str], engine: Engine
) -> None:
    auth.connect_from_redirect(connect(auth))
    rekeyed = QBOAuth(make_settings({**values, "TALLY_SECRET_KEY": Fernet.generate_key().decode()}), engine)

    with pytest.raises(QuickBooksNeedsReconnect, match="cannot be decrypted with the current TALLY_SECRET_KEY"):
        rekeyed.access_token()
    assert rekeyed.status().state is ConnectionState.NEEDS_RECONNECT
    assert auth.status().state is ConnectionState.CONNECTED  # nothing was overwritten
