"""The web surface as an attacker meets it, over real loopback HTTP: forged, stale, unsigned, malformed and oversized
Slack requests, and the QuickBooks connect flow without a proper link or with another company.

Every case counts what was written: Slack replies (response_url posts, Web API calls) in the Slack sandbox, and
writes in the ConnectWise and QuickBooks sandboxes through their APIs. Expected: nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.processes.web_guard import MAX_SLACK_BODY
from sandbox.quickbooks.oauth import QBOApp
from sync.db import session_scope
from sync.models import QBOConnection, utcnow
from sync.qbo_auth.links import ConnectLinks
from tests.e2e.world import CHANNEL, World, tally_world
from tests.faults.books import counts

pytestmark = pytest.mark.slow
SECRET_WRONG = "not-the-signing-secret"


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def slash_form(world: World, text: str = "check", user: str = "U0ANA") -> str:
    """A slash command's form body with a genuine response_url minted by the Slack sandbox."""
    store = world.slack
    return urlencode(
        {
            "team_id": store.workspace.team_id,
            "channel_id": CHANNEL,
            "user_id": user,
            "command": "/tally",
            "text": text,
            "response_url": store.mint_response_url(world.running.slack.url, user=user, channel=CHANNEL),
            "trigger_id": store.issue_trigger(user),
        }
    )


def click_form(world: World, action_id: int, user: str = "U0ANA") -> str:
    """A click on Approve for ``action_id``, with a genuine response_url."""
    store = world.slack
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": store.workspace.team_id},
        "channel": {"id": CHANNEL},
        "trigger_id": store.issue_trigger(user),
        "response_url": store.mint_response_url(world.running.slack.url, user=user, channel=CHANNEL),
        "actions": [{"action_id": "tally_approve", "block_id": "x", "value": str(action_id), "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def post(
    world: World,
    body: str | bytes,
    *,
    secret: str | None = None,
    timestamp: str | None = None,
    signed: bool = True,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if signed:
        stamp = timestamp or str(int(time.time()))
        sent["X-Slack-Request-Timestamp"] = stamp
        key = (secret or world.running.workspace.signing_secret).encode()
        digest = hmac.new(key, b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        sent["X-Slack-Signature"] = f"v0={digest}"
    return httpx.post(f"{world.url}/slack/events", content=raw, headers=sent, timeout=10)


def slack_writes(world: World) -> tuple[int, int]:
    """What the app said in Slack: (response_url posts and acks recorded, Web API calls other than reads)."""
    calls = [c for c in world.slack.calls if c.method not in ("auth.test", "usergroups.users.list", "users.info")]
    return len(world.slack.responses), len(calls)


def test_forged_stale_unsigned_malformed_and_oversized_requests_are_refused_and_nothing_is_said_or_written(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.check()
    action = world.actions(kind="backflow_payment", status="proposed")[0]
    assert action.id is not None
    books_before = counts(world.running)
    slack_before = slack_writes(world)
    stale = str(int(time.time()) - 6 * 60)
    future = str(int(time.time()) + 6 * 60)
    big = "command=/tally&text=" + "x" * (MAX_SLACK_BODY + 1)
    cases = {
        "forged command": (post(world, slash_form(world), secret=SECRET_WRONG), 401),
        "forged click": (post(world, click_form(world, action.id), secret=SECRET_WRONG), 401),
        "stale click": (post(world, click_form(world, action.id), timestamp=stale), 401),
        "future command": (post(world, slash_form(world), timestamp=future), 401),
        "unsigned click": (post(world, click_form(world, action.id), signed=False), 401),
        "timestamp not a number": (post(world, slash_form(world), timestamp="soon"), 401),
        "signature header only": (
            post(world, slash_form(world), signed=False, headers={"X-Slack-Signature": "v0=0"}),
            401,
        ),
        "unsigned garbage": (post(world, b"\xff\xfe{{{", signed=False), 401),
        "signed payload not JSON": (post(world, "payload=%7Bnot-json"), 400),
        "signed payload not an object": (post(world, "payload=%5B1%2C2%5D"), 400),
        "signed body not UTF-8": (post(world, b"command=/tally&text=\xff"), 400),
        "signed body of nothing Slack sends": (post(world, "hello=world"), 400),
        "oversized, declared": (post(world, big), 413),
        "oversized, chunked": (
            httpx.post(
                f"{world.url}/slack/events",
                content=iter([b"command=/tally&text=", b"x" * (MAX_SLACK_BODY + 1)]),
                timeout=10,
            ),
            413,
        ),
    }
    time.sleep(0.5)  # room for any lazy listener that should not have run
    answered = {name: response.status_code for name, (response, _) in cases.items()}
    assert answered == {name: status for name, (_, status) in cases.items()}
    assert slack_writes(world) == slack_before  # no reply to any response_url, no message, no ephemeral
    assert counts(world.running).minus(books_before) == (0, 0)
    assert world.action(action.id).status == "proposed"
    assert world.events("action.approved") == []
    logged = [r for r in caplog.records if r.name.startswith(("bot.", "slack_bolt", "uvicorn"))]
    assert all(r.exc_info is None for r in logged)
    assert "Traceback" not in caplog.text
    refusals = [r for r in logged if "refused" in r.getMessage()]
    assert len(refusals) == len(cases)  # one line per refused request
    assert all("\n" not in r.getMessage() for r in refusals)


def test_a_genuine_request_still_gets_through_the_guard(world: World) -> None:
    reply = world.driver.command("status")
    assert reply.status_code == 200
    assert world.driver.wait_for(lambda: world.slack.ephemerals("U0ANA"))


OTHER_REALM = "9130350000000002"


def link_from_slack(world: World, user: str) -> str:
    """Run ``/tally connect`` as ``user`` and return the link's token from the ephemeral answer."""
    before = len(world.slack.ephemerals(user))
    assert world.driver.command("connect", user=user).status_code == 200
    shown = world.wait(lambda: world.slack.ephemerals(user)[before:])
    found = re.search(r"/qbo/connect\?link=([A-Za-z0-9_-]+)", shown[-1]["text"])
    assert found, shown[-1]["text"]
    return found.group(1)


def consent(world: World, browser: httpx.Client, token: str) -> str:
    """Open the link in ``browser`` and say yes at (sandbox) Intuit; return the callback's query string."""
    opened = browser.get(f"{world.url}/qbo/connect", params={"link": token})
    assert opened.status_code == 302, opened.text
    answer = httpx.get(opened.headers["location"])
    assert answer.status_code == 302
    return httpx.URL(answer.headers["location"]).query.decode()


def connections(world: World) -> list[tuple[str, int]]:
    """The QuickBooks companies Tally holds tokens for, with each one's token generation."""
    with session_scope(world.engine) as session:
        rows = session.exec(select(QBOConnection).order_by(col(QBOConnection.id))).all()
        return [(row.realm_id, row.generation) for row in rows]


def test_qbo_connect_needs_a_fresh_link_of_ones_own_and_never_swaps_the_company(
    engine: Engine, database_url: str
) -> None:
    realm = QBOApp().realm_id
    with (
        tally_world(engine, database_url, QBO_REALM_ID="", QBO_REFRESH_TOKEN="") as world,
        httpx.Client() as ana_browser,
        httpx.Client() as ben_browser,
    ):
        books_before = counts(world.running)
        links = ConnectLinks(world.engine)
        expired = links.issue("U0ANA", at=utcnow() - timedelta(minutes=11))
        ana, ben = link_from_slack(world, "U0ANA"), link_from_slack(world, "U0BEN")
        pages = {
            "no link": httpx.get(f"{world.url}/qbo/connect"),
            "unknown link": httpx.get(f"{world.url}/qbo/connect", params={"link": "guessed-token"}),
            "expired link": httpx.get(f"{world.url}/qbo/connect", params={"link": expired}),
        }
        ana_query = consent(world, ana_browser, ana)
        pages["used link"] = httpx.get(f"{world.url}/qbo/connect", params={"link": ana})
        consent(world, ben_browser, ben)  # his browser now holds his own link's cookie
        pages["another admin's sign-in"] = ben_browser.get(f"{world.url}/qbo/callback?{ana_query}")
        pages["no link's cookie"] = httpx.get(f"{world.url}/qbo/callback?{ana_query}")
        pages["callback without a link"] = httpx.get(f"{world.url}/qbo/callback?code=x&realmId=1&state=y")
        assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 403)
        assert "/tally connect" in pages["no link"].text
        assert "expired" in pages["expired link"].text
        assert "already used" in pages["used link"].text
        assert "another browser" in pages["another admin's sign-in"].text
        assert connections(world) == []  # nothing refused connected anything

        done = ana_browser.get(f"{world.url}/qbo/callback?{ana_query}")
        assert done.status_code == 200, done.text
        assert connections(world) == [(realm, 1)]
        replayed = ana_browser.get(f"{world.url}/qbo/callback?{ana_query}")
        assert replayed.status_code == 403

        pick = httpx.post(f"{world.running.qbo.url}/_sandbox/consent-company", json={"realm_id": OTHER_REALM})
        assert pick.json() == {"realm_id": OTHER_REALM}  # Ben picks another company at Intuit's consent screen
        other_query = consent(world, ben_browser, link_from_slack(world, "U0BEN"))
        assert f"realmId={OTHER_REALM}" in other_query
        other = ben_browser.get(f"{world.url}/qbo/callback?{other_query}")
        assert other.status_code == 409, other.text
        assert f"connected to company {realm} and will not replace it" in other.text
        assert connections(world) == [(realm, 1)]  # the connected company and its tokens are untouched

        assert counts(world.running).minus(books_before) == (0, 0)
        assert world.channel() == []  # links go to the admin alone
        assert [e.actor for e in world.events("qbo.connect_link_issued")] == ["U0ANA", "U0ANA", "U0BEN", "U0BEN"]
        assert [e.actor for e in world.events("qbo.connected")] == ["U0ANA"]
        assert [e.actor for e in world.events("qbo.connect_refused")] == ["U0BEN"]
        assert [e.detail for e in world.events("qbo.connect_link_refused")] == [
            "no link",
            "unknown link",
            "link expired",
            "link already used",
            "callback in another browser",
            "callback in another browser",
            "callback without a link",
            "callback already used",
        ]
