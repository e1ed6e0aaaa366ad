"""Two processes (or many threads) needing a refresh at once spend the refresh token exactly once.

The sandbox rotates the refresh token on every refresh and refuses the previous one with ``invalid_grant``, so
a second refresh with the same token would surface as ``QuickBooksNeedsReconnect`` in one of the workers.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from sandbox.quickbooks import serve_quickbooks
from sandbox.web import SandboxServer
from sync.db import make_engine
from sync.qbo_auth import QBOAuth
from tests.sync.test_qbo_auth import (
    admin,
    expire_locally,
    make_settings,
    settings_values,
    spend_refresh_token,
    stored_refresh_token,
    stored_row,
    token_works,
)


def refresh_in_a_process(values: dict[str, str], barrier: Barrier, results: Any) -> None:
    """Build a QBOAuth like a separate Tally process would, wait for the others, then ask for a token."""
    settings = make_settings(values)
    engine = make_engine(settings.database_url)
    auth = QBOAuth(settings, engine)
    try:
        auth.authorization_url()  # build the Intuit client (a network GET) before the race starts
        barrier.wait(timeout=20)
        results.put(("ok", auth.access_token()))
    except Exception as exc:
        results.put(("error", f"{type(exc).__name__}: {getattr(exc, 'sentence', exc)}"))
    finally:
        auth.close()
        engine.dispose()


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    started = serve_quickbooks(access_token_ttl=3600)
    yield started
    started.stop()


@pytest.fixture
def values(server: SandboxServer, database_url: str) -> dict[str, str]:
    """Settings for a connection bootstrapped from a sandbox refresh token, with an expired access token."""
    refresh_token = server.service.issue_refresh_token()  # type: ignore[attr-defined]
    return settings_values(server, database_url, QBO_REFRESH_TOKEN=refresh_token)


def prepared(values: dict[str, str], engine: Engine, server: SandboxServer) -> int:
    """Connect, then expire the access token everywhere; return the generation before the race."""
    auth = QBOAuth(make_settings(values), engine)
    auth.access_token()
    auth.close()
    admin(server, "expire-access-tokens")
    expire_locally(engine)
    # Slow token answers widen the window in which an unlocked second refresher would read the same token.
    admin(server, "faults", {"latency_ms": 150})
    return stored_row(engine).generation


def assert_one_refresh(tokens: list[str], generation: int, engine: Engine, server: SandboxServer) -> None:
    """Everyone got the one new token, one refresh happened, and the row holds the live refresh token."""
    assert len(set(tokens)) == 1
    assert token_works(server, tokens[0])
    assert stored_row(engine).generation == generation + 1
    assert stored_row(engine).state == "connected"


@pytest.mark.slow
def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
    values: dict[str, str], engine: Engine, server: SandboxServer
) -> None:
    generation = prepared(values, engine, server)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=refresh_in_a_process, args=(values, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert [status for status, _ in outcomes] == ["ok", "ok"], outcomes
    assert_one_refresh([token for _, token in outcomes], generation, engine, server)
    settings = make_settings(values)
    assert spend_refresh_token(server, stored_refresh_token(engine, settings)).status_code == 200


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "instance-per-thread"])
def test_threads_refreshing_at_once_spend_the_refresh_token_once(
    values: dict[str, str], engine: Engine, server: SandboxServer, shared: bool
) -> None:
    generation = prepared(values, engine, server)
    count = 6
    auths = [QBOAuth(make_settings(values), engine)] * count if shared else []
    auths = auths or [QBOAuth(make_settings(values), engine) for _ in range(count)]
    barrier = threading.Barrier(count)
    tokens: list[str] = []
    failures: list[BaseException] = []

    def work(auth: QBOAuth) -> None:
        try:
            barrier.wait(timeout=20)
            tokens.append(auth.access_token())
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(auth,)) for auth in auths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for auth in set(auths):
        auth.close()

    assert failures == []
    assert len(tokens) == count
    assert_one_refresh(tokens, generation, engine, server)
