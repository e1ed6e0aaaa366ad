"""``tally qbo connect`` and ``tally qbo status`` as an admin runs them (typer's CliRunner, real sandbox)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli.qbo import qbo_app
from sandbox.quickbooks import serve_quickbooks
from sandbox.web import SandboxServer
from sync.qbo_auth import QBOAuth, QuickBooksNeedsReconnect
from tests.sync.test_qbo_auth import (
    APP,
    REFUSED,
    expire_locally,
    make_settings,
    settings_values,
    spend_refresh_token,
    stored_refresh_token,
)

runner = CliRunner()


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    started = serve_quickbooks(access_token_ttl=3600)
    yield started
    started.stop()


@pytest.fixture
def env(server: SandboxServer, database_url: str) -> dict[str, str]:
    return settings_values(server, database_url)


def test_connect_prints_the_link_then_completes_from_the_redirect(
    env: dict[str, str], engine: Engine, server: SandboxServer
) -> None:
    first = runner.invoke(qbo_app, ["connect"], env=env)
    assert first.exit_code == 0, first.output
    link = re.search(r"https?://\S+/oauth2/authorize\S+", first.output)
    assert link is not None
    assert "tally qbo connect --redirect" in first.output
    redirect = httpx.get(link.group(0)).headers["location"]

    done = runner.invoke(qbo_app, ["connect", "--redirect", redirect], env=env)

    assert done.exit_code == 0, done.output
    assert f"QuickBooks company {APP.realm_id} is connected until" in done.output
    status = runner.invoke(qbo_app, ["status"], env=env)
    assert status.exit_code == 0
    assert "connected" in status.output
    assert APP.realm_id in status.output
    assert stored_refresh_token(engine, make_settings(env)) not in done.output + status.output


def test_status_after_a_refused_refresh_says_what_to_do(
    env: dict[str, str], engine: Engine, server: SandboxServer
) -> None:
    redirect = httpx.get(_link(env)).headers["location"]
    assert runner.invoke(qbo_app, ["connect", "--redirect", redirect], env=env).exit_code == 0
    spend_refresh_token(server, stored_refresh_token(engine, make_settings(env)))
    expire_locally(engine)
    auth = QBOAuth(make_settings(env), engine)
    with pytest.raises(QuickBooksNeedsReconnect):
        auth.access_token()
    auth.close()

    status = runner.invoke(qbo_app, ["status"], env=env)

    assert status.exit_code == 1
    assert REFUSED in status.output
    assert "Traceback" not in status.output


def test_connect_explains_bad_input_without_a_traceback(env: dict[str, str]) -> None:
    half = runner.invoke(qbo_app, ["connect", "--code", "abc"], env=env)
    assert half.exit_code == 1
    assert "Give both --code and --realm-id" in half.output

    spent = runner.invoke(qbo_app, ["connect", "--code", "abc", "--realm-id", APP.realm_id], env=env)
    assert spent.exit_code == 1
    assert "refused the authorization code (invalid_grant)" in spent.output

    keyless = runner.invoke(qbo_app, ["status"], env={**env, "TALLY_SECRET_KEY": "not-a-key"})
    assert keyless.exit_code == 2  # a configuration error, caught before the command runs
    assert "TALLY_SECRET_KEY: is not a Fernet key" in keyless.output
    assert "Traceback" not in half.output + spent.output + keyless.output


def _link(env: dict[str, str]) -> str:
    result = runner.invoke(qbo_app, ["connect"], env=env)
    found = re.search(r"https?://\S+/oauth2/authorize\S+", result.output)
    assert found is not None, result.output
    return found.group(0)
