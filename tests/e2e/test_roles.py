"""Who may see and start what, over real HTTP: a viewer reads but cannot act, a guest is told no (privately) and the
refusal is in the audit trail, and opening reading lets members read but still not guests."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.e2e.world import Message, World, tally_world, text_of
from tests.faults.books import counts

pytestmark = pytest.mark.slow


def answered(world: World, text: str, user: str) -> Message:
    """Run a command as ``user``; return the last ephemeral they see once the app has answered."""
    before = len(world.slack.ephemerals(user))
    reply = world.driver.command(text, user=user)
    assert reply.status_code == 200
    shown: list[Message] = world.wait(lambda: world.slack.ephemerals(user)[before:])
    return shown[-1]


def refusals(world: World) -> list[tuple[str, str, str | None]]:
    return [(e.actor, e.subject, e.detail) for e in world.events("access.refused")]


def test_a_viewer_reads_but_cannot_act_and_a_guest_sees_nothing(engine: Engine, database_url: str) -> None:
    with tally_world(engine, database_url, TALLY_VIEWERS="U0CARL") as world:
        world.check()
        channel_before = len(world.channel())
        books_before = counts(world.running)

        assert "Open AR by customer" in text_of(answered(world, "ar", "U0CARL"))
        assert "action.proposed" in text_of(answered(world, "history 5", "U0CARL"))

        for text in ("check", "digest"):
            refused = world.driver.command(text, user="U0CARL")
            assert refused.json()["response_type"] == "ephemeral"
            assert "only Tally's approvers and admins can start a check" in refused.json()["text"]
        for text in ("ar", "history", "explain 10231", "payments"):
            refused = world.driver.command(text, user="U0GUS")
            assert refused.json()["response_type"] == "ephemeral"
            assert "Ask a Tally admin to add you to TALLY_VIEWERS" in refused.json()["text"]
        shown = world.slack.ephemerals("U0GUS")
        assert len(shown) == 4
        assert all("Sorry" in m["text"] for m in shown)
        assert world.slack.ephemerals("U0GUS", "C0FINANCE") == shown

        assert len(world.channel()) == channel_before  # no check, no digest posted
        assert counts(world.running).minus(books_before) == (0, 0)
        assert refusals(world) == [
            ("U0CARL", "command:check", "act"),
            ("U0CARL", "command:digest", "act"),
            ("U0GUS", "command:ar", "read"),
            ("U0GUS", "command:history", "read"),
            ("U0GUS", "command:explain", "read"),
            ("U0GUS", "command:payments", "read"),
        ]
        help_text = world.driver.command("help", user="U0GUS").json()["text"]
        assert "/tally" in help_text  # help shows nothing of the books, so everyone may read it


def test_open_reading_lets_members_read_but_not_guests(engine: Engine, database_url: str) -> None:
    with tally_world(engine, database_url, TALLY_OPEN_READING="true") as world:
        assert "Tally status" in text_of(answered(world, "status", "U0CARL"))
        refused = world.driver.command("status", user="U0GUS")
        assert "Sorry, Tally shows balances and the audit trail only" in refused.json()["text"]
        acted = world.driver.command("check", user="U0CARL")
        assert "only Tally's approvers and admins" in acted.json()["text"]
        assert refusals(world) == [("U0GUS", "command:status", "read"), ("U0CARL", "command:check", "act")]
        assert [call.body["user"] for call in world.slack.calls_to("users.info")] == ["U0CARL", "U0GUS"]
