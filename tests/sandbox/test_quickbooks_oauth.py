"""Intuit OAuth endpoints of the sandbox, spoken to with plain httpx the way Intuit's docs describe them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.web import SandboxServer
from tests.sandbox.qbo_fixtures import APP, BASIC, admin, running_qbo

SCOPE = "com.intuit.quickbooks.accounting"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_qbo(access_token_ttl=600) as running:
        yield running


def discovery(server: SandboxServer) -> dict[str, str]:
    answer = httpx.get(f"{server.url}/.well-known/openid_configuration")
    assert answer.status_code == 200
    document: dict[str, str] = answer.json()
    return document


def authorize(server: SandboxServer, **overrides: str) -> httpx.Response:
    params = {
        "client_id": APP.client_id,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": APP.redirect_uri,
        "state": "xyz",
        **overrides,
    }
    return httpx.get(discovery(server)["authorization_endpoint"], params=params)


def code_from(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(APP.redirect_uri + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def token_call(server: SandboxServer, auth: tuple[str, str] = BASIC, **form: str) -> httpx.Response:
    return httpx.post(discovery(server)["token_endpoint"], data=form, auth=auth, headers={"Accept": "application/json"})


def test_discovery_document_names_all_six_endpoints_on_this_server(server: SandboxServer) -> None:
    document = discovery(server)
    keys = ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "jwks_uri")
    for key in (*keys, "userinfo_endpoint"):
        assert document[key].startswith(server.url), key


def test_authorize_redirects_with_code_state_and_realm(server: SandboxServer) -> None:
    params = code_from(authorize(server))
    assert params["state"] == "xyz"
    assert params["realmId"] == APP.realm_id
    assert params["code"]


def test_authorize_checks_client_redirect_and_scope(server: SandboxServer) -> None:
    assert authorize(server, client_id="someone-else").status_code == 400
    assert authorize(server, redirect_uri="https://evil.example/cb").status_code == 400
    assert code_from(authorize(server, scope="openid"))["error"] == "invalid_scope"


def test_code_exchange_gives_bearer_tokens_once(server: SandboxServer) -> None:
    code = code_from(authorize(server))["code"]
    answer = token_call(server, grant_type="authorization_code", code=code, redirect_uri=APP.redirect_uri)
    assert answer.status_code == 200
    assert answer.headers["intuit_tid"]
    body = answer.json()
    assert set(body) == {
        "token_type",
        "access_token",
        "expires_in",
        "refresh_token",
        "x_refresh_token_expires_in",
        "x_refresh_token_hard_expires_in",
    }
    assert (body["token_type"], body["expires_in"]) == ("bearer", 600)
    reused = token_call(server, grant_type="authorization_code", code=code, redirect_uri=APP.redirect_uri)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_refresh_rotates_and_the_old_token_is_dead(server: SandboxServer) -> None:
    first = admin(server, "issue-refresh-token")["refresh_token"]
    rotated = token_call(server, grant_type="refresh_token", refresh_token=first).json()
    assert rotated["refresh_token"] != first
    stale = token_call(server, grant_type="refresh_token", refresh_token=first)
    assert stale.status_code == 400
    assert stale.json() == {"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"}
    again = token_call(server, grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    assert again.status_code == 200


def test_bad_client_credentials_are_refused(server: SandboxServer) -> None:
    refresh = admin(server, "issue-refresh-token")["refresh_token"]
    answer = token_call(server, auth=(APP.client_id, "wrong"), grant_type="refresh_token", refresh_token=refresh)
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")


def test_revoke_kills_the_whole_grant(server: SandboxServer) -> None:
    refresh = admin(server, "issue-refresh-token")["refresh_token"]
    tokens = token_call(server, grant_type="refresh_token", refresh_token=refresh).json()
    api = f"{server.url}/v3/company/{APP.realm_id}/item/1"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(api, headers=bearer).status_code == 200
    revoked = httpx.post(discovery(server)["revocation_endpoint"], json={"token": tokens["refresh_token"]}, auth=BASIC)
    assert revoked.status_code == 200
    assert httpx.get(api, headers=bearer).status_code == 401
    dead = token_call(server, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert dead.status_code == 400


def test_access_token_lifetime_is_configurable_and_measured_on_the_clock(server: SandboxServer) -> None:
    refresh = admin(server, "issue-refresh-token")["refresh_token"]
    access = token_call(server, grant_type="refresh_token", refresh_token=refresh).json()["access_token"]
    api = f"{server.url}/v3/company/{APP.realm_id}/item/1"
    admin(server, "clock", {"advance_seconds": 599})
    assert httpx.get(api, headers={"Authorization": f"Bearer {access}"}).status_code == 200
    admin(server, "clock", {"advance_seconds": 2})
    assert httpx.get(api, headers={"Authorization": f"Bearer {access}"}).status_code == 401
