"""The web process's HTTP surface over real loopback HTTP: Slack signatures, QuickBooks connect and webhooks, health,
and slow Slack listeners that do not hold up anything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.processes.web import create_web
from sandbox.cli import RunningSandbox
from sandbox.slack.driver import SlackDriver
from sync.qbo_auth import QBOAuth
from sync.qbo_auth.links import ConnectLinks
from sync.settings import load_settings
from tests.bot.processes.webproc import serve
from tests.sandboxes import sandbox

VERIFIER = "intuit-verifier-token"
INVOICE_CHANGED = {
    "eventNotifications": [
        {
            "realmId": "9130350000000001",
            "dataChangeEvent": {
                "entities": [
                    {"name": "Invoice", "id": "130", "operation": "Update", "lastUpdated": "2026-11-26T10:00:00Z"},
                    {"name": "Payment", "id": "88", "operation": "Create", "lastUpdated": "2026-11-26T10:00:01Z"},
                ]
            },
        }
    ]
}


def intuit_signature(body: bytes, verifier: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def world() -> Iterator[RunningSandbox]:
    with sandbox("empty") as running:
        yield running


def bolt_app(running: RunningSandbox) -> App:
    """A Bolt app with one slow slash command: it acknowledges after 0.5 s."""
    env = running.env()
    app = App(
        client=WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"]),
        signing_secret=env["SLACK_SIGNING_SECRET"],
        listener_executor=ThreadPoolExecutor(max_workers=32),
    )

    @app.command("/tally")
    def slow(ack: Ack, command: dict[str, Any]) -> None:
        time.sleep(0.5)
        ack(f"on it: {command['text']}")

    return app


@contextmanager
def web(
    running: RunningSandbox,
    *,
    auth: QBOAuth | None = None,
    links: ConnectLinks | None = None,
    health: Callable[[], dict[str, Any]] = lambda: {"ok": True},
) -> Iterator[tuple[str, list[set[str]]]]:
    changes: list[set[str]] = []
    asgi = create_web(
        bolt_app(running),
        signing_secret=running.workspace.signing_secret,
        auth=auth,
        links=links,
        webhook_verifier=VERIFIER,
        on_qbo_change=changes.append,
        health=health,
    )
    with serve(asgi) as url:
        yield url, changes


def test_signed_slash_command_is_acknowledged_and_a_bad_signature_is_401(world: RunningSandbox) -> None:
    with web(world) as (url, _), SlackDriver(url, server=world.slack) as slack:
        good = slack.command("check")
        forged = slack.command("check", secret="not-the-signing-secret")
        stale = slack.command("check", timestamp=time.time() - 6 * 60)
    assert (good.status_code, good.text) == (200, "on it: check")
    assert forged.status_code == 401
    assert stale.status_code == 401


def test_slow_listeners_do_not_hold_up_other_requests(world: RunningSandbox) -> None:
    with web(world) as (url, _), SlackDriver(url, server=world.slack) as slack, ThreadPoolExecutor(20) as pool:
        started = time.monotonic()
        commands = [pool.submit(slack.command, f"check {n}") for n in range(20)]
        time.sleep(0.1)
        health_started = time.monotonic()
        health = httpx.get(f"{url}/healthz")
        health_took = time.monotonic() - health_started
        answers = [future.result() for future in commands]
        took = time.monotonic() - started
    assert health.status_code == 200
    assert health_took < 0.3  # answered while twenty listeners were still sleeping
    assert [answer.status_code for answer in answers] == [200] * 20
    assert took < 2.5  # in parallel: twenty half-second listeners, not ten seconds


def test_quickbooks_webhook_needs_intuits_signature(world: RunningSandbox) -> None:
    body = json.dumps(INVOICE_CHANGED).encode()
    with web(world) as (url, changes):
        unsigned = httpx.post(f"{url}/qbo/webhooks", content=body)
        forged = httpx.post(
            f"{url}/qbo/webhooks", content=body, headers={"intuit-signature": intuit_signature(body, "guess")}
        )
        assert changes == []
        signed = httpx.post(f"{url}/qbo/webhooks", content=body, headers={"intuit-signature": intuit_signature(body)})
    assert (unsigned.status_code, forged.status_code, signed.status_code) == (401, 401, 200)
    assert changes == [{"Invoice", "Payment"}]


def test_cloudevents_webhooks_name_their_entities(world: RunningSandbox) -> None:
    body = json.dumps(
        [
            {"specversion": "1.0", "type": "qbo.creditmemo.created.v1", "id": "1", "intuitentityid": "7"},
            {"specversion": "1.0", "type": "qbo.customer.updated.v1", "id": "2", "intuitentityid": "3"},
        ]
    ).encode()
    with web(world) as (url, changes):
        answer = httpx.post(f"{url}/qbo/webhooks", content=body, headers={"intuit-signature": intuit_signature(body)})
    assert answer.status_code == 200
    assert changes == [{"CreditMemo", "Customer"}]


def test_healthz_reports_and_fails_loudly(world: RunningSandbox) -> None:
    report = {"ok": True, "last_check": "2026-11-26T10:00:00+00:00", "qbo": "connected"}
    with web(world, health=lambda: report) as (url, _):
        assert httpx.get(f"{url}/healthz").json() == report
    with web(world, health=lambda: {"ok": False, "database": "unreachable"}) as (url, _):
        assert httpx.get(f"{url}/healthz").status_code == 503


def test_quickbooks_connect_and_callback_check_the_state(
    world: RunningSandbox, engine: Engine, database_url: str
) -> None:
    env = {k: v for k, v in world.env().items() if k != "QBO_REFRESH_TOKEN"}
    auth = QBOAuth(load_settings(_env_file=None, **env, DATABASE_URL=database_url), engine)
    links = ConnectLinks(engine)
    with web(world, auth=auth, links=links) as (url, _), httpx.Client() as browser:
        connect = browser.get(f"{url}/qbo/connect?link={links.issue('U0ANA')}")
        assert connect.status_code == 302
        consent = httpx.get(connect.headers["location"])  # the admin says yes at Intuit
        assert consent.status_code == 302
        query = httpx.URL(consent.headers["location"]).query.decode()
        forged = browser.get(f"{url}/qbo/callback?{query.replace('state=', 'state=x')}")
        done = browser.get(f"{url}/qbo/callback?{query}")
    assert forged.status_code == 403
    assert "did not start from a Tally connect link" in forged.text
    assert done.status_code == 200
    assert "is connected" in done.text
    assert "go back to Slack" in done.text
    assert auth.status().ok


def test_without_quickbooks_configured_connect_says_so(world: RunningSandbox) -> None:
    with web(world) as (url, _):
        answer = httpx.get(f"{url}/qbo/connect")
    assert answer.status_code == 503
    assert "not configured" in answer.text
