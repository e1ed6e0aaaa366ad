"""Who may approve: configured ids plus the approver group, read from Slack and cached; admins for connect."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot.slack.middleware import Approvers
from sync.settings import Settings
from tests.bot.records import NOW
from tests.sandbox.slack_fixtures import Slack, slack

__all__ = ["slack"]  # the fixture, imported for pytest


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def approvers(engine: Engine, slack: Slack, clock: Clock, **env: str) -> Approvers:
    settings = Settings(**{"TALLY_APPROVER_GROUP": "S0APPROVERS", **env})  # type: ignore[arg-type]
    return Approvers(settings, engine, slack.client(), now=clock)


def group_reads(slack: Slack) -> int:
    return len(slack.store.calls_to("usergroups.users.list"))


def test_the_group_is_read_from_slack_once_per_ten_minutes_and_shared_through_the_database(
    engine: Engine, slack: Slack
) -> None:
    clock = Clock()
    check = approvers(engine, slack, clock, TALLY_APPROVERS="U0CARL")
    assert [check.is_approver(u) for u in ("U0ANA", "U0BEN", "U0CARL", "U0DAVE")] == [True, True, True, False]
    assert approvers(engine, slack, clock).is_approver("U0ANA")  # another process: the cached list
    assert group_reads(slack) == 1
    clock.now += timedelta(minutes=11)
    assert check.is_approver("U0BEN")
    assert group_reads(slack) == 2


def test_when_slack_cannot_answer_the_last_known_group_still_counts(engine: Engine, slack: Slack) -> None:
    clock = Clock()
    check = approvers(engine, slack, clock)
    assert check.is_approver("U0ANA")
    clock.now += timedelta(hours=1)
    slack.server.faults.configure({"fail_next": {"count": 3, "match": "usergroups"}})
    assert check.is_approver("U0ANA")
    assert not check.is_approver("U0CARL")


def test_admins_are_the_configured_ones_or_else_the_approvers(engine: Engine, slack: Slack) -> None:
    clock = Clock()
    assert approvers(engine, slack, clock).is_admin("U0ANA")
    assert not approvers(engine, slack, clock).is_admin("U0CARL")
    only_carl = approvers(engine, slack, clock, TALLY_ADMINS="U0CARL")
    assert only_carl.is_admin("U0CARL")
    assert not only_carl.is_admin("U0ANA")
