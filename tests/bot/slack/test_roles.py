"""Who may read, act and connect: the configured roles, open reading for full members only, guests told apart by
asking the Slack sandbox's users.info (cached; refused when Slack cannot say)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.slack.middleware import Approvers
from bot.slack.roles import Need, Roles
from sync.settings import Settings
from tests.bot.records import NOW
from tests.sandbox.slack_fixtures import Slack, slack

__all__ = ["slack"]  # the fixture, imported for pytest

READ, ACT, CONNECT = Need.READ, Need.ACT, Need.CONNECT


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def roles(engine: Engine, slack: Slack, clock: Clock | None = None, **env: str) -> Roles:
    settings = Settings(**{"TALLY_APPROVER_GROUP": "S0APPROVERS", **env})  # type: ignore[arg-type]
    client = slack.client()
    return Roles(settings, Approvers(settings, engine, client), client, now=clock or Clock())


def lookups(slack: Slack) -> int:
    return len(slack.store.calls_to("users.info"))


def table(check: Roles, users: tuple[str, ...]) -> dict[str, tuple[bool, bool, bool]]:
    return {user: (check.may(user, READ), check.may(user, ACT), check.may(user, CONNECT)) for user in users}


def test_by_default_viewers_read_approvers_act_and_nobody_else_sees_anything(engine: Engine, slack: Slack) -> None:
    check = roles(engine, slack, TALLY_VIEWERS="U0CARL", TALLY_ADMINS="U0BEN")
    assert table(check, ("U0ANA", "U0BEN", "U0CARL", "U0GUS", "U0DAVE", "")) == {
        "U0ANA": (True, True, False),  # approver (group)
        "U0BEN": (True, True, True),  # admin
        "U0CARL": (True, False, False),  # viewer
        "U0GUS": (False, False, False),  # guest, in no list
        "U0DAVE": (False, False, False),  # member, in no list
        "": (False, False, False),
    }
    assert lookups(slack) == 0  # reading is not open: Slack is never asked who is a guest


def test_an_admin_who_is_not_an_approver_may_still_check(engine: Engine, slack: Slack) -> None:
    check = roles(engine, slack, TALLY_ADMINS="U0CARL")
    assert table(check, ("U0CARL",)) == {"U0CARL": (True, True, True)}


def test_open_reading_lets_full_members_read_but_not_guests_and_not_act(engine: Engine, slack: Slack) -> None:
    clock = Clock()
    check = roles(engine, slack, clock, TALLY_OPEN_READING="true")
    assert table(check, ("U0CARL", "U0GUS", "U0TALLYBOT", "U0NOBODY")) == {
        "U0CARL": (True, False, False),
        "U0GUS": (False, False, False),
        "U0TALLYBOT": (False, False, False),
        "U0NOBODY": (False, False, False),  # users.info: user_not_found
    }
    asked = lookups(slack)
    assert check.may("U0CARL", READ)
    assert not check.may("U0GUS", READ)
    assert lookups(slack) == asked  # answered from the cache
    clock.now += timedelta(minutes=11)
    assert check.may("U0CARL", READ)
    assert lookups(slack) == asked + 1


def test_a_guest_listed_by_id_has_the_role_an_admin_gave_them(engine: Engine, slack: Slack) -> None:
    check = roles(engine, slack, TALLY_VIEWERS="U0GUS", TALLY_OPEN_READING="true")
    assert table(check, ("U0GUS",)) == {"U0GUS": (True, False, False)}


@pytest.mark.parametrize("cached", [False, True])
def test_when_slack_cannot_say_who_is_a_guest_the_last_answer_or_a_refusal_stands(
    engine: Engine, slack: Slack, cached: bool
) -> None:
    clock = Clock()
    check = roles(engine, slack, clock, TALLY_OPEN_READING="true")
    if cached:
        assert check.may("U0CARL", READ)
        clock.now += timedelta(hours=1)
    slack.server.faults.configure({"fail_next": {"count": 5, "match": "users.info", "status": 500}})
    assert check.may("U0CARL", READ) is cached
