"""Alerts in the sandbox Slack channel: posted once whoever announces, summarised when many, redrawn on change."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.slack.notify import Notifier
from sync.actions import approve, approver_check
from sync.checks import CheckResult
from sync.db import session_scope
from sync.findings import FindingChanges
from sync.models import FindingRecord
from sync.settings import Settings
from tests.bot.records import action, finding
from tests.sandbox.slack_fixtures import CHANNEL, Slack, slack

__all__ = ["slack"]  # the fixture, imported for pytest

NOTHING = CheckResult(findings=[], changes=FindingChanges(), sync=None)


@pytest.fixture
def settings(database_url: str) -> Settings:
    values = {"DATABASE_URL": database_url, "TALLY_CHANNEL": CHANNEL, "TALLY_APPROVERS": "cli:ana"}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def notifier(settings: Settings, engine: Engine, slack: Slack) -> Notifier:
    return Notifier(settings, engine, slack.client())


def seed(engine: Engine, count: int, *, fixable_every: int = 2) -> None:
    with session_scope(engine) as session:
        for n in range(1, count + 1):
            fixable = n % fixable_every == 0
            session.add(finding(n, fixable=fixable, kind="payment_not_synced" if fixable else "orphan_in_qbo"))
            if fixable:
                fix = action(n)
                fix.finding_key = f"payment_not_synced:{10000 + n}"
                session.add(fix)


def top_level(slack: Slack) -> list[dict[str, object]]:
    return [m for m in slack.store.messages(CHANNEL) if not m.get("thread_ts")]


def test_a_few_new_findings_are_posted_one_by_one_and_never_again(
    notifier: Notifier, engine: Engine, slack: Slack
) -> None:
    seed(engine, 3)
    first = notifier.announce(NOTHING)
    again = notifier.announce(NOTHING)
    assert len(first.posted) == 3
    assert again.posted == []
    assert len(top_level(slack)) == 3
    with session_scope(engine) as session:
        rows = list(session.execute(select(FindingRecord)).scalars())
    assert all(row.slack_ts and row.slack_channel == CHANNEL for row in rows)


def test_many_new_findings_become_one_summary_with_the_alerts_in_its_thread(
    notifier: Notifier, engine: Engine, slack: Slack
) -> None:
    seed(engine, 8)
    done = notifier.announce(NOTHING)
    (summary,) = top_level(slack)
    assert summary["ts"] == done.summary_ts
    assert "8 new findings" in str(summary["text"])
    assert len(slack.store.replies(CHANNEL, str(summary["ts"]))) == 8
    assert "Approve all 4" in str(summary["blocks"])


def test_two_processes_announcing_at_once_post_each_finding_once(
    settings: Settings, engine: Engine, slack: Slack
) -> None:
    seed(engine, 4)
    start = threading.Barrier(2)

    def announce(_: int) -> int:
        start.wait()
        return len(Notifier(settings, engine, slack.client(), summary_above=100).announce(NOTHING).posted)

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(announce, range(2))) in ([0, 4], [1, 3], [2, 2])
    assert len(slack.store.messages(CHANNEL)) == 4


def test_a_post_slack_refused_is_posted_at_the_next_announce(notifier: Notifier, engine: Engine, slack: Slack) -> None:
    seed(engine, 2)
    slack.server.faults.configure({"fail_next": {"count": 1, "match": "chat.postMessage"}})
    assert len(notifier.announce(NOTHING).posted) == 1
    assert len(notifier.announce(NOTHING).posted) == 1
    assert len(slack.store.messages(CHANNEL)) == 2


def test_a_decision_made_elsewhere_reaches_the_alert_at_the_next_announce(
    notifier: Notifier, settings: Settings, engine: Engine, slack: Slack
) -> None:
    seed(engine, 2)
    notifier.announce(NOTHING)
    approve(engine, 2, approver="cli:ana", is_approver=approver_check(settings))  # from the command line
    done = notifier.announce(NOTHING)
    assert done.updated == ["payment_not_synced:10002"]
    alert = next(m for m in slack.store.messages(CHANNEL) if "10002" in str(m["text"]))
    assert "Approved by cli:ana" in str(alert["blocks"])
    assert "tally_approve" not in str(alert["blocks"])
