"""The daily digest against the sandbox: yesterday's story as the channel reads it, and a post that fails or dies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.digest.post import STALE_CLAIM, post_digest
from sandbox.cli import RunningSandbox
from sync.actions import approve, approver_check, execute, reject
from sync.checks import run_check
from sync.db import session_scope
from sync.models import DigestPost
from sync.settings import Settings, load_settings
from tests.sandboxes import cw_client, qbo_client
from tests.sync.actions.helpers import tiny_books

CHANNEL = "C0FINANCE"


def settings_for(running: RunningSandbox, database_url: str, **extra: str) -> Settings:
    """Settings as the environment of a deployment pointed at the sandbox would give them."""
    env = {**running.env(), "DATABASE_URL": database_url, "TALLY_APPROVERS": "U0ANA,U0BEN", "TALLY_SYNC_GRACE": "0"}
    return load_settings(_env_file=None, **{**env, **extra})


def slack_client(running: RunningSandbox) -> WebClient:
    """The bot's Web API client, pointed at the sandbox Slack."""
    env = running.env()
    return WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


def channel_text(running: RunningSandbox) -> str:
    """Everything the finance channel shows, as one string (message text and every block's text)."""
    messages = running.slack.service.store.messages(CHANNEL)  # type: ignore[attr-defined]
    return "\n".join(
        json.dumps(message.get("blocks"), ensure_ascii=False) + message.get("text", "") for message in messages
    )


def digests(running: RunningSandbox) -> list[dict[str, Any]]:
    """The digest messages in the finance channel."""
    messages = running.slack.service.store.messages(CHANNEL)  # type: ignore[attr-defined]
    return [m for m in messages if str(m.get("text", "")).startswith("Tally daily digest")]


def tomorrow() -> datetime:
    """A moment tomorrow (UTC): its digest reports today, when the test made its history."""
    return datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
def story(engine: Engine, database_url: str) -> Iterator[tuple[RunningSandbox, Settings]]:
    """A day at the office: a check, a payment carried back, a credit applied, a rejection, one fix still waiting."""
    with tiny_books() as running:
        books = running.qbo.service.store.company(running.app.realm_id)  # type: ignore[attr-defined]
        invoice = books.find_by_docnumber("Invoice", "1037")[0]
        body = {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": Decimal("200.00"),
            "TxnDate": f"{datetime.now(UTC):%Y-%m-%d}",
        }
        body["Line"] = [{"Amount": Decimal("200.00"), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]
        books.create("Payment", body)  # received today in QuickBooks
        settings = settings_for(running, database_url)
        allowed = approver_check(settings)
        with cw_client(running) as cw, qbo_client(running) as qbo:
            actions = run_check(engine, settings, cw=cw, qbo=qbo, actor="scheduler").actions
            backflow = actions["payment_not_synced:10231"]
            credit = next(a for a in actions.values() if a.kind == "apply_credit_memo")
            for action, who in ((backflow, "U0ANA"), (credit, "U0BEN")):
                assert action.id is not None
                approve(engine, action.id, approver=who, is_approver=allowed)
                execute(engine, action.id, cw=cw, qbo=qbo, actor=who, tolerance=settings.tolerance)
        memo = next(a for a in actions.values() if a.kind == "mirror_credit_memo")
        big = actions["invoice_missing_in_qbo:10400"]
        assert memo.id is not None
        assert big.id is not None
        reject(engine, memo.id, actor="U0ANA", reason="we void CM10301 instead", is_approver=allowed)
        approve(engine, big.id, approver="U0BEN", is_approver=allowed)
        yield running, settings


def test_the_digest_tells_yesterdays_story(engine: Engine, story: tuple[RunningSandbox, Settings]) -> None:
    running, settings = story
    posted = post_digest(settings=settings, engine=engine, client=slack_client(running), now=tomorrow())
    assert len(posted) == 1
    text = channel_text(running)
    assert "Payments received in QuickBooks: 1 ($200.00)" in text
    assert "Payments carried back to ConnectWise: 1 ($1,234.50)" in text
    assert "Credit memos applied in QuickBooks: 1 ($300.00)" in text
    assert "<@U0ANA> approved fix" in text
    assert "<@U0BEN> approved fix" in text
    assert "<@U0ANA> rejected fix" in text
    assert "we void CM10301 instead" in text
    assert "Record a $1,234.50 payment dated 2026-11-20 on ConnectWise invoice 10231 — approved by <@U0ANA>" in text
    assert "Invoice missing in QuickBooks: 2" in text  # open findings by kind, with amounts
    assert "$10,786.10" in text  # 1,080.10 + 9,706.00
    assert "Pending approvals: 4" in text
    assert "1 of 2 approvals" in text
    assert "ConnectWise $" in text
    assert "QuickBooks $" in text
    assert "difference" in text
    assert "Acme Co" in text  # the customer that explains the difference
    assert "Last good check:" in text
    assert "never" not in text.split("Last good check:")[1][:10]
    assert "QuickBooks company" in text  # the connection sentence


def test_a_failed_post_is_retried_by_the_next_run_and_posts_once(
    engine: Engine, story: tuple[RunningSandbox, Settings]
) -> None:
    running, settings = story
    faults = {"fail_next": {"count": 1, "status": 500, "match": "chat.postMessage"}}
    httpx.post(f"{running.slack.url}/_sandbox/faults", json=faults).raise_for_status()
    with pytest.raises(SlackApiError):
        post_digest(settings=settings, engine=engine, client=slack_client(running), now=tomorrow())
    assert digests(running) == []
    assert post_digest(settings=settings, engine=engine, client=slack_client(running), now=tomorrow())
    assert post_digest(settings=settings, engine=engine, client=slack_client(running), now=tomorrow()) == []
    assert len(digests(running)) == 1


def test_a_claim_left_by_a_dead_process_is_taken_over_only_when_stale(
    engine: Engine, story: tuple[RunningSandbox, Settings]
) -> None:
    running, settings = story
    now = tomorrow()
    with session_scope(engine) as session:
        session.add(DigestPost(channel=CHANNEL, day=now.date(), status="posting", at=now - timedelta(minutes=2)))
    assert post_digest(settings=settings, engine=engine, client=slack_client(running), now=now) == []
    later = now + STALE_CLAIM
    assert post_digest(settings=settings, engine=engine, client=slack_client(running), now=later)
    assert len(digests(running)) == 1


def test_forced_digest_posts_again_and_records_both(engine: Engine, story: tuple[RunningSandbox, Settings]) -> None:
    running, settings = story
    client, now = slack_client(running), tomorrow()
    first = post_digest(settings=settings, engine=engine, client=client, now=now)
    again = post_digest(settings=settings, engine=engine, client=client, now=now, force=True)
    assert first
    assert again
    assert first != again
    assert len(digests(running)) == 2
    with session_scope(engine) as session:
        row = session.execute(select(DigestPost)).scalars().one()
    assert (row.status, json.loads(row.message_ts or "[]")) == ("posted", [*first, *again])


def test_a_forced_digest_before_the_scheduled_time_counts_for_the_day(
    engine: Engine, story: tuple[RunningSandbox, Settings]
) -> None:
    running, settings = story
    client, now = slack_client(running), tomorrow()
    assert post_digest(settings=settings, engine=engine, client=client, now=now, force=True)
    assert post_digest(settings=settings, engine=engine, client=client, now=now + timedelta(hours=1)) == []
    assert len(digests(running)) == 1
