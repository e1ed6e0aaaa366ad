"""Intuit's OAuth 2.0 endpoints through the official ``intuit-oauth`` client, its failures mapped once.

``AuthClient`` is a ``requests.Session`` whose constructor fetches the discovery document, and every call
stores the answer as attributes on the client. So a process builds one lazily, reuses it, and takes a lock
around each call (threads would otherwise read each other's tokens).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from sync.qbo_auth.errors import (
    QuickBooksAuthError,
    QuickBooksAuthUnavailable,
    QuickBooksMisconfigured,
    unreachable,
)
from sync.settings import Settings

log = logging.getLogger(__name__)

# Intuit documents a 3600 s access token; used only if an answer leaves ``expires_in`` out.
DEFAULT_ACCESS_SECONDS = 3600
_ANSWER_FIELDS = (
    "access_token",
    "refresh_token",
    "expires_in",
    "x_refresh_token_expires_in",
    "x_refresh_token_hard_expires_in",
)


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint handed out, with lifetimes turned into times."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime | None


class InvalidGrant(Exception):
    """Intuit answered ``invalid_grant``: the code or refresh token is spent, revoked or expired."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


class _TimedAuthClient(AuthClient):  # type: ignore[misc]  # intuitlib ships no type hints
    """An ``AuthClient`` whose requests time out: a refresh holds a database lock while it waits."""

    timeout: float = 20.0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class IntuitTokens:
    """Authorization URLs, code exchange, refresh and revoke against Intuit's token service."""

    def __init__(self, settings: Settings, *, timeout: float = 20.0) -> None:
        self._settings = settings
        self._timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def authorization_url(self, state: str) -> str:
        """Build the URL an admin opens to grant Tally access to the accounting data."""
        return str(self._call(lambda client: client.get_authorization_url([Scopes.ACCOUNTING], state)))

    def exchange_code(self, code: str, realm_id: str, *, now: datetime) -> TokenGrant:
        """Trade an authorization code (single use) for tokens."""
        return self._grant(lambda client: client.get_bearer_token(code, realm_id=realm_id), now)

    def refresh(self, refresh_token: str, *, now: datetime) -> TokenGrant:
        """Spend ``refresh_token`` for a new access token and (maybe rotated) refresh token."""
        return self._grant(lambda client: client.refresh(refresh_token=refresh_token), now)

    def revoke(self, token: str) -> None:
        """Revoke the grant ``token`` (a refresh token) belongs to."""
        self._call(lambda client: client.revoke(token=token))

    def close(self) -> None:
        """Close the client's connections; the next call builds a new client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _grant(self, action: Callable[[Any], object], now: datetime) -> TokenGrant:
        def act(client: Any) -> TokenGrant:
            for name in _ANSWER_FIELDS:  # the client keeps the previous answer's values otherwise
                setattr(client, name, None)
            action(client)
            return _read_grant(client, now)

        grant: TokenGrant = self._call(act)
        return grant

    def _call(self, action: Callable[[Any], Any]) -> Any:
        with self._lock:
            try:
                return action(self._built())
            except AuthClientError as exc:
                raise _mapped(exc) from None  # the chained error would print the response body
            except OSError as exc:  # requests' errors are OSErrors: refused, reset, timed out, bad JSON
                raise QuickBooksAuthUnavailable(unreachable(type(exc).__name__)) from None

    def _built(self) -> Any:
        if self._client is None:
            self._client = _connect(self._settings, self._timeout)
        return self._client


def _connect(settings: Settings, timeout: float) -> Any:
    missing = [
        name
        for name, value in (
            ("QBO_CLIENT_ID", settings.qbo_client_id),
            ("QBO_CLIENT_SECRET", settings.qbo_client_secret),
            ("QBO_REDIRECT_URI", settings.qbo_redirect_uri),
        )
        if not value
    ]
    if missing or settings.qbo_client_secret is None:
        raise QuickBooksMisconfigured(
            f"QuickBooks is not configured: set {', '.join(missing)} (from the Keys tab of the Intuit app)."
        )
    try:
        client = _TimedAuthClient(
            settings.qbo_client_id,
            settings.qbo_client_secret.get_secret_value(),
            settings.qbo_redirect_uri,
            settings.qbo_environment,
        )
    except AuthClientError as exc:
        raise _discovery_failed(settings.qbo_environment, exc.status_code) from None
    except KeyError as exc:
        raise QuickBooksMisconfigured(
            f"The discovery document for QBO_ENVIRONMENT={settings.qbo_environment} lacks {exc}: "
            "use production, sandbox or the URL of an OpenID discovery document."
        ) from None
    client.timeout = timeout  # the discovery GET above used the class default
    # [U] intuit-oauth 1.2.7 sends this header when ``include_refresh_token_hard_expires_in`` is set; 1.2.6
    # (the version installed) does not know the attribute, so the header goes on the session for both.
    client.include_refresh_token_hard_expires_in = True
    client.headers["x-include-refresh-token-hard-expires-in"] = "true"
    return client


def _discovery_failed(environment: str, status: int) -> QuickBooksAuthError:
    if status >= 500 or status == 429:
        return QuickBooksAuthUnavailable(unreachable(f"discovery document: HTTP {status}"))
    return QuickBooksMisconfigured(
        f"Intuit's discovery document for QBO_ENVIRONMENT={environment} answered HTTP {status}: "
        "use production, sandbox or the URL of an OpenID discovery document."
    )


def _mapped(exc: AuthClientError) -> Exception:
    status = int(exc.status_code)
    error = _error_code(exc.content)
    log.warning("Intuit token service answered HTTP %s (%s), intuit_tid %s", status, error, exc.intuit_tid)
    if error == "invalid_grant":
        return InvalidGrant(error)
    if error == "invalid_client" or status == 401:
        return QuickBooksMisconfigured(
            "Intuit refused Tally's app credentials (invalid_client): check QBO_CLIENT_ID and "
            "QBO_CLIENT_SECRET against the Keys tab of the Intuit app."
        )
    if status >= 500 or status == 429:
        return QuickBooksAuthUnavailable(unreachable(f"HTTP {status}"))
    return QuickBooksAuthError(
        f"Intuit refused Tally's token request (HTTP {status}, {error or 'no reason given'}); "
        "check QBO_REDIRECT_URI matches the Intuit app's redirect URI."
    )


def _error_code(content: bytes | None) -> str | None:
    try:
        body = json.loads(content or b"")
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else None


def _read_grant(client: Any, now: datetime) -> TokenGrant:
    if not client.access_token or not client.refresh_token:
        raise QuickBooksAuthUnavailable(unreachable("the answer held no tokens"))
    lifetimes = [
        seconds
        for seconds in (
            _seconds(client.x_refresh_token_expires_in),
            _seconds(client.x_refresh_token_hard_expires_in),
        )
        if seconds is not None
    ]
    return TokenGrant(
        access_token=str(client.access_token),
        refresh_token=str(client.refresh_token),
        access_expires_at=now + timedelta(seconds=_seconds(client.expires_in) or DEFAULT_ACCESS_SECONDS),
        refresh_expires_at=now + timedelta(seconds=min(lifetimes)) if lifetimes else None,
    )


def _seconds(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
