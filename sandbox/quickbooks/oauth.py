"""Intuit OAuth 2.0 as ``intuit-oauth``'s ``AuthClient`` sees it: discovery, authorize, token, revoke.

Point ``AuthClient(environment=f"{server.url}/.well-known/openid_configuration")`` here. The consent screen is
skipped: ``/oauth2/authorize`` redirects straight back with ``code``, ``state`` and ``realmId``.

- authorization codes are single use (a reuse is ``invalid_grant``) and live 10 minutes [I];
- every refresh rotates the refresh token; the previous one is then ``invalid_grant`` (real Intuit rotates
  about daily, so a client that always stores the latest token behaves correctly against both);
- revoking any token of a grant (refresh or access) kills the whole grant; unknown tokens revoke fine
  (RFC 7009);
- access tokens live ``access_token_ttl`` seconds on the sandbox clock, refresh tokens a rolling 100 days, and
  every grant at most five years from its consent: token answers carry ``x_refresh_token_hard_expires_in``
  (Intuit, "Important changes to refresh token policy", blogs.intuit.com, 2025-11-12). Intuit's intuit-oauth
  1.2.7 asks for the field with ``x-include-refresh-token-hard-expires-in: true``; whether Intuit sends it without
  that header is unverified [U]: the sandbox always does. The ``qbo_hard_expiry_days`` switch shortens the cap;
- the client authenticates with HTTP Basic or, as the discovery document advertises (``client_secret_post``),
  with ``client_id`` and ``client_secret`` in the form body (RFC 6749 §2.3.1);
- revoke takes the RFC 7009 form body (``token=...``, as node-quickbooks sends it) or intuit-oauth's JSON
  ``{"token": ...}``;
- no ``id_token`` is issued, so ``AuthClient`` never needs JWKS.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from sandbox.clock import Clock
from sandbox.switches import Switches, qbo_switches
from sandbox.web import Request, Response, Router

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
REFRESH_TTL = 8_726_400  # seconds, as Intuit reports it (about 101 days)
CODE_TTL = 600
INVALID_REFRESH = {"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"}


@dataclass(frozen=True)
class QBOApp:
    """The one Intuit app the sandbox knows, and the company it connects to."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - a sandbox credential, published on purpose
    redirect_uri: str = "http://127.0.0.1:3000/qbo/callback"
    realm_id: str = "9130350000000001"


@dataclass
class _Grant:
    realm_id: str
    scope: str
    refresh_token: str
    refresh_expires: datetime
    created: datetime
    revoked: bool = False


@dataclass
class _Code:
    grant_scope: str
    redirect_uri: str
    realm_id: str
    expires: datetime
    used: bool = False


@dataclass
class _Access:
    grant: _Grant
    expires: datetime


class OAuthProvider:
    """Grants, codes and tokens for ``QBOApp``, with the HTTP endpoints ``AuthClient`` calls."""

    def __init__(self, app: QBOApp, clock: Clock, access_token_ttl: int, switches: Switches | None = None) -> None:
        self.app = app
        self.clock = clock
        self.switches = switches or qbo_switches()
        self.access_token_ttl = access_token_ttl
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        # The company the person picks on the consent screen (real Intuit lists the ones they may connect);
        # ``None``: the app's own. Set through ``/_sandbox/consent-company``.
        self.consent_realm: str | None = None

    def register(self, router: Router) -> None:
        """Add the discovery, authorize, token, revoke, userinfo and JWKS routes."""
        router.add("GET", r"/\.well-known/openid(?:_sandbox)?_configuration", self.discovery)
        router.add("GET", r"(?:/oauth2/authorize|/connect/oauth2)", self.authorize)
        router.add("POST", r"/oauth2/v1/tokens/bearer", self.token)
        router.add("POST", r"(?:/oauth2/v1/tokens/revoke|/v2/oauth2/tokens/revoke)", self.revoke)
        router.add("GET", r"/v1/openid_connect/userinfo", self.userinfo)
        router.add("GET", r"/op/v1/jwks", lambda request: Response.json({"keys": []}))

    # -- tokens -------------------------------------------------------------------------------------------
    def issue_refresh_token(self, realm_id: str | None = None) -> str:
        """Mint a grant for the app (and realm) and return its refresh token."""
        with self._lock:
            grant = self._new_grant(realm_id or self.app.realm_id, ACCOUNTING_SCOPE)
            return grant.refresh_token

    def access_realm(self, token: str) -> tuple[str | None, str]:
        """Return (realm id, "") for a live access token, else (None, why it is refused)."""
        with self._lock:
            access = self._access.get(token)
            if access is None or access.grant.revoked:
                return None, "Token invalid"
            if self.clock.now() >= access.expires:
                return None, f"Token expired: {token[:12]}..."
            return access.grant.realm_id, ""

    def expire_access_tokens(self) -> int:
        """Expire every access token issued so far; return how many were live."""
        now = self.clock.now()
        with self._lock:
            live = [access for access in self._access.values() if access.expires > now]
            for access in live:
                access.expires = now
            return len(live)

    def _new_grant(self, realm_id: str, scope: str) -> _Grant:
        token = "AB11" + secrets.token_urlsafe(36)
        now = self.clock.now()
        grant = _Grant(realm_id, scope, token, now + timedelta(seconds=REFRESH_TTL), created=now)
        self._refresh[token] = grant
        return grant

    def _token_answer(self, grant: _Grant) -> dict[str, Any]:
        now = self.clock.now()
        hard = self._hard_expiry(grant)
        access = "eyJ" + secrets.token_urlsafe(48)
        self._access[access] = _Access(grant, now + timedelta(seconds=self.access_token_ttl))
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "refresh_token": grant.refresh_token,
            "x_refresh_token_expires_in": max(0, int((min(grant.refresh_expires, hard) - now).total_seconds())),
            "x_refresh_token_hard_expires_in": max(0, int((hard - now).total_seconds())),
        }

    def _hard_expiry(self, grant: _Grant) -> datetime:
        days = int(self.switches.get("qbo_hard_expiry_days", grant.realm_id))
        return grant.created + timedelta(days=days)

    # -- endpoints ----------------------------------------------------------------------------------------
    def discovery(self, request: Request) -> Response:
        """Serve the OpenID discovery document with this server's endpoints."""
        base = _base_url(request)
        return Response.json(
            {
                "issuer": f"{base}/op/v1",
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
                "jwks_uri": f"{base}/op/v1/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile", "address", "phone"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
            }
        )

    def authorize(self, request: Request) -> Response:
        """Consent at once: redirect to ``redirect_uri`` with ``code``, ``state`` and ``realmId``."""
        if request.arg("client_id") != self.app.client_id:
            return Response.json({"error": "invalid_client", "error_description": "Invalid client_id"}, status=400)
        redirect_uri = request.arg("redirect_uri")
        if redirect_uri != self.app.redirect_uri:
            return Response.json({"error": "invalid_request", "error_description": "Invalid redirect_uri"}, 400)
        state = request.arg("state") or ""
        scope = request.arg("scope") or ""
        if request.arg("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        if ACCOUNTING_SCOPE not in scope.split():
            return _redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        code = "AB11" + secrets.token_urlsafe(30)
        with self._lock:
            expires = self.clock.now() + timedelta(seconds=CODE_TTL)
            realm = self.consent_realm or self.app.realm_id
            self._codes[code] = _Code(scope, redirect_uri, realm, expires)
        return _redirect(redirect_uri, {"code": code, "state": state, "realmId": realm})

    def token(self, request: Request) -> Response:
        """Exchange an authorization code or a refresh token (form body, Basic or form client auth)."""
        form = _form(request)
        if not self._client_ok(request, form):
            return Response.json({"error": "invalid_client"}, status=401)
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                answer = self._exchange_code(form.get("code", ""), form.get("redirect_uri", ""))
            elif grant_type == "refresh_token":
                answer = self._rotate(form.get("refresh_token", ""))
            else:
                return Response.json({"error": "unsupported_grant_type"}, status=400)
        if "error" in answer:
            return Response.json(answer, status=400)
        return Response.json(answer, headers=[("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache")])

    def _exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        found = self._codes.get(code)
        if found is None or found.used or found.expires <= self.clock.now() or found.redirect_uri != redirect_uri:
            return {"error": "invalid_grant"}
        found.used = True
        return self._token_answer(self._new_grant(found.realm_id, found.grant_scope))

    def _rotate(self, refresh_token: str) -> dict[str, Any]:
        grant = self._refresh.get(refresh_token)
        now = self.clock.now()
        if grant is None or grant.revoked or grant.refresh_token != refresh_token or grant.refresh_expires <= now:
            return dict(INVALID_REFRESH)
        if self._hard_expiry(grant) <= now:
            return dict(INVALID_REFRESH)  # past the five-year cap: the company must be connected again
        grant.refresh_token = "AB11" + secrets.token_urlsafe(36)
        grant.refresh_expires = now + timedelta(seconds=REFRESH_TTL)
        self._refresh[grant.refresh_token] = grant
        return self._token_answer(grant)

    def revoke(self, request: Request) -> Response:
        """Revoke the grant behind a refresh or access token (JSON ``{"token"}`` or form ``token=``); answer 200."""
        as_json = "json" in (request.header("content-type") or "").lower()
        form = {} if as_json else _form(request)
        if not self._client_ok(request, form):
            return Response.json({"error": "invalid_client"}, status=401)
        if as_json:
            try:
                body = request.json() or {}
                token = str(body.get("token", ""))
            except (ValueError, AttributeError):
                return Response.json({"error": "invalid_request"}, status=400)
        else:
            token = form.get("token", "")
        if not token:
            return Response.json({"error": "invalid_request", "error_description": "token is required"}, status=400)
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None and token in self._access:
                grant = self._access[token].grant
            if grant is not None:
                grant.revoked = True
        return Response(status=200)

    def userinfo(self, request: Request) -> Response:
        """Answer the OpenID userinfo call for a live access token."""
        token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        realm, _ = self.access_realm(token)
        if realm is None:
            return Response.json({"error": "invalid_token"}, status=401)
        return Response.json(
            {
                "sub": f"sandbox-user-{realm}",
                "email": "owner@example.com",
                "emailVerified": True,
                "givenName": "Sandbox",
                "familyName": "Owner",
            }
        )

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        header = request.header("authorization") or ""
        if not header.startswith("Basic "):
            if "client_id" in form and "client_secret" in form:  # client_secret_post
                return secrets.compare_digest(form["client_id"], self.app.client_id) and secrets.compare_digest(
                    form["client_secret"], self.app.client_secret
                )
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.app.client_id) and secrets.compare_digest(
            secret, self.app.client_secret
        )


def _form(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body as a dict (first value of each name)."""
    return {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}


def _redirect(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return Response(status=302, headers=[("Location", f"{uri}{separator}{urlencode(params)}")])


def _base_url(request: Request) -> str:
    host = request.header("host")
    if host:
        return f"http://{host}"
    return request.url.split("/", 3)[0] + "//" + request.url.split("/", 3)[2]
