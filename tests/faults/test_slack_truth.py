"""Slack shows the truth, safely (issue 8 §7), rendered through the real Slack sandbox over loopback HTTP.

- mrkdwn planted in a customer name and a reject reason pings nobody and links nowhere, in any message Tally draws;
- a channel that refuses Tally's posts is reported to the person, in ``status`` and in the digest, with the remedy;
- an alert update still failing after the rate-limit retries is redrawn by the next pass, not dropped;
- a very busy day's digest is accepted by Slack message by message, nothing lost.

Each case counts the writes in ConnectWise and QuickBooks through their APIs: Slack trouble never writes anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.cli import app
from bot.digest.blocks import Activity, CustomerGap, Decision, Fix, Pending, Receivables, digest_messages
from bot.digest.data import gather_digest
from bot.digest.post import digest_day, post_digest
from bot.slack.app import web_client
from bot.slack.blocks.common import MAX_BLOCKS, MESSAGE_BLOCKS_TEXT, text_length
from bot.slack.notify import Notifier
from sandbox.slack import serve_slack
from sync import people
from sync.db import session_scope
from sync.models import FindingRecord, SlackRedraw, utcnow
from tests.bot.digest.test_blocks import busy_day
from tests.e2e.world import CHANNEL, World, tally_world, text_of
from tests.faults.books import counts, fault

pytestmark = pytest.mark.slow
EVIL_NAME = "<!here> & <https://evil.example|click>"
EVIL_REASON = "<!channel> pay me at <https://evil.example|this link>"
PINGS = re.compile(r"<!(here|channel|everyone)|<https?://evil", re.IGNORECASE)


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def everything_shown(world: World) -> list[dict[str, Any]]:
    """Every message the sandbox Slack holds: the channel (threads included) and every person's ephemerals."""
    shown = list(world.slack.messages(CHANNEL))
    for user in world.slack.workspace.users:
        shown += world.slack.ephemerals(user)
    return shown


def answer(world: World, text: str, user: str = "U0ANA", *, saying: str = "") -> dict[str, Any]:
    """Run a command; return the newest ephemeral answer it gave ``user`` (the first one ``saying`` that)."""
    before = len(world.slack.ephemerals(user))
    assert world.driver.command(text, user=user).status_code == 200
    found: list[dict[str, Any]] = world.wait(
        lambda: [m for m in world.slack.ephemerals(user)[before:] if saying in text_of(m)], timeout=30
    )
    return found[-1]


def refuse(world: World, error: str | None) -> None:
    response = httpx.post(f"{world.running.slack.url}/_sandbox/refuse", json={"channel": CHANNEL, "error": error})
    response.raise_for_status()


def test_mrkdwn_in_a_customer_name_and_a_reject_reason_pings_nobody_and_links_nowhere(world: World) -> None:
    cw_store = world.running.cw.service.store  # type: ignore[attr-defined]
    for company in cw_store.companies():
        cw_store.rename_company(company["id"], f"{EVIL_NAME} {company['name']}")
    before = counts(world.running)
    world.check()
    fix = world.actions(kind="backflow_payment", status="proposed")[0]
    world.driver.click(world.alert(fix.finding_key), "tally_reject", user="U0BEN")
    (modal,) = world.wait(lambda: world.slack.open_views)
    assert world.driver.submit_view(modal, {"tally_reason": {"reason": EVIL_REASON}}).status_code == 200
    world.wait(lambda: world.action(fix.id or 0).status == "rejected")
    world.wait(lambda: "pay me at" in text_of(world.alert(fix.finding_key)))
    with session_scope(world.engine) as session:
        row = session.get(FindingRecord, fix.finding_key)
        assert row is not None
        number = json.loads(row.documents)[0]
    for command in ("history", f"explain {number}", "payments", "mirror", "ar", "actions", "status"):
        answer(world, command)
    post_digest(settings=world.settings, engine=world.engine, client=web_client(world.settings), force=True)

    shown = everything_shown(world)
    words = "\n".join(text_of(message) for message in shown)
    assert "&lt;!here&gt; &amp; &lt;https://evil.example|click&gt;" in words  # the name is there, inert
    assert "&lt;!channel&gt; pay me at &lt;https://evil.example|this link&gt;" in words  # and so is the reason
    planted = [message.get("ts") for message in shown if PINGS.search(text_of(message))]
    assert planted == []
    assert counts(world.running).minus(before) == (0, 0)  # a rejection writes nothing


def test_a_refused_channel_is_told_to_the_person_in_status_and_in_the_digest(world: World) -> None:
    before = counts(world.running)
    refuse(world, "not_in_channel")
    reply = answer(world, "check", saying="done")
    assert "The findings were not posted" in text_of(reply)
    assert "invite @tally to <#C0FINANCE>" in text_of(reply)
    assert "posted in <#C0FINANCE>" not in text_of(reply)
    assert world.channel() == []  # nothing there, and nothing claims otherwise
    assert "not posted: Slack refuses Tally's alerts" in (world.events("check.completed")[-1].detail or "")

    status = answer(world, "status")
    assert "invite @tally to <#C0FINANCE>" in text_of(status)
    now = utcnow()
    digest = gather_digest(world.engine, world.settings, day=digest_day(world.settings, now), now=now)
    assert "invite @tally to <#C0FINANCE>" in text_of(digest_messages(digest)[-1].payload())
    with pytest.raises(SlackApiError):
        post_digest(settings=world.settings, engine=world.engine, client=web_client(world.settings), force=True)

    env = {**world.running.env(), "DATABASE_URL": world.settings.database_url, "COLUMNS": "200"}
    with pytest.MonkeyPatch.context() as patch:  # the terminal, as the OS login ana (mapped to U0ANA)
        patch.setattr(people, "os_login", lambda: "ana")
        env |= {"TALLY_OPERATORS": "ana:U0ANA"}
        digest_run = CliRunner().invoke(app, ["digest"], env=env)
        status_run = CliRunner().invoke(app, ["status"], env=env)
    assert digest_run.exit_code == 3, digest_run.output
    assert "The digest was not posted" in digest_run.stderr
    assert "invite @tally to C0FINANCE" in digest_run.stderr
    assert "invite @tally to C0FINANCE" in status_run.stdout

    refuse(world, None)  # someone invited @tally
    result = world.check()
    assert len(world.channel()) >= 1
    posted = {message["ts"] for message in world.channel()}
    assert all(world.alert(f.key)["ts"] in posted for f in result.findings)
    assert "invite @tally" not in text_of(answer(world, "status"))
    assert counts(world.running).minus(before) == (0, 0)


@pytest.mark.parametrize("status", [429, 500, 0])  # 0: the connection drops with no answer
def test_an_alert_update_failing_after_retries_is_redrawn_by_the_next_pass(world: World, status: int) -> None:
    first = world.check()
    before = counts(world.running)
    action = first.actions[next(key for key, a in first.actions.items() if a.kind == "backflow_payment")]
    params = json.loads(action.params)
    with world.cw() as cw:  # someone records the payment by hand: the next check resolves the finding
        cw.create_payment(int(params["cw_invoice_id"]), Decimal(params["amount"]), utcnow().date())
    if status:
        attempts = 3 if status == 429 else 1  # the client waits out two rate limits itself, then gives up
        fault(world.running.slack.url, fail_next={"count": attempts, "status": status, "match": "chat.update"})
    else:  # slack_sdk retries a dropped connection once itself
        fault(world.running.slack.url, timeout_next={"count": 2, "seconds": 0.1, "match": "chat.update"})
    world.check()
    assert "Resolved" not in text_of(world.alert(action.finding_key))  # Slack refused the redraw...
    with session_scope(world.engine) as session:  # ...so it is owed, not forgotten
        assert [row.finding_key for row in session.execute(select(SlackRedraw)).scalars()] == [action.finding_key]
    assert "could not be redrawn yet" in text_of(answer(world, "status"))

    if status == 429:
        world.check()  # the next pass: the next check, books quiet
    else:  # or the clock's job between checks
        assert Notifier(world.settings, world.engine, web_client(world.settings)).redraw_owed() == []
    assert "Resolved" in text_of(world.alert(action.finding_key))
    with session_scope(world.engine) as session:
        assert list(session.execute(select(SlackRedraw)).scalars()) == []
    assert counts(world.running).minus(before) == (1, 0)  # the payment made by hand; Tally wrote nothing


def test_a_very_busy_day_digest_is_accepted_by_slack_and_nothing_is_lost() -> None:
    long_name = "Northwind Traders & Consolidated Holdings of the Greater Metropolitan Area, Incorporated " * 2
    digest = busy_day(400, filler=60)
    digest = type(digest)(
        **{
            **digest.__dict__,
            "activity": Activity(
                fixes=tuple(
                    Fix(f.kind, f"{f.description} for {long_name}", f.amount, f.approvers)
                    for f in digest.activity.fixes
                ),
                failed=digest.activity.failed,
                decisions=tuple(
                    Decision(d.actor, "rejected", d.action_id, d.description, d.amount, f"<!here> {long_name}")
                    for d in digest.activity.decisions
                ),
                payments_received=400,
            ),
            "receivables": Receivables(
                Decimal("1000000"),
                Decimal("900000"),
                tuple(CustomerGap(f"{long_name} {n}", Decimal(100), Decimal(40), ()) for n in range(400)),
            ),
            "pending": tuple(
                Pending(p.action_id, f"{p.description} {long_name}", p.amount, 0, 1, None) for p in digest.pending
            ),
        }
    )
    messages = digest_messages(digest)
    assert sum(text_length(m.blocks) for m in messages) > 12_000  # one message could not have carried it
    server = serve_slack()
    try:
        client = WebClient(token=server.service.store.workspace.bot_token, base_url=f"{server.url}/api/")  # type: ignore[attr-defined]
        posted = [client.chat_postMessage(channel=CHANNEL, **m.payload())["ts"] for m in messages]
        shown = server.service.store.messages(CHANNEL)  # type: ignore[attr-defined]
    finally:
        server.stop()
    assert len(posted) == len(messages)  # every message accepted
    assert [m["blocks"] for m in shown] == [m.blocks for m in messages]  # in order, nothing cut or dropped
    assert all(len(m.blocks) <= MAX_BLOCKS and text_length(m.blocks) <= MESSAGE_BLOCKS_TEXT for m in messages)
    words = "\n".join(json.dumps(m["blocks"], ensure_ascii=False) for m in shown)
    for heading in (
        "Fixes carried out",
        "Who approved what",
        "Fixes that failed",
        "Accounts receivable",
        "Pending approvals",
        "Health",
    ):
        assert heading in words
    assert "…and 375 more" in words  # lists say how much they left out
    assert not PINGS.search(words)
