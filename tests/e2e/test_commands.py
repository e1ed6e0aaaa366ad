"""The slash command over real HTTP: signatures, usage help, a check's progress, the read-only answers, connect."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.e2e.world import CHANNEL, PUBLIC_URL, Message, World, tally_world, text_of


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def answers(world: World, text: str, user: str = "U0ANA") -> Message:
    """Run a command and return the one ephemeral answer it adds for ``user``."""
    before = len(world.slack.ephemerals(user))
    reply = world.driver.command(text, user=user)
    assert reply.status_code == 200
    assert reply.elapsed.total_seconds() < 3
    found: list[Message] = world.wait(lambda: world.slack.ephemerals(user)[before:])
    return found[-1]


def test_a_forged_or_stale_signature_is_refused_with_401(world: World) -> None:
    assert world.driver.command("status", secret="not-the-signing-secret").status_code == 401
    assert world.driver.command("status", timestamp=time.time() - 6 * 60).status_code == 401
    assert world.driver.command("status", timestamp=time.time() + 6 * 60).status_code == 401
    assert world.slack.ephemerals("U0ANA") == []
    assert world.channel() == []


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("frobnicate", "I don't know the command `frobnicate`", "/tally payments [invoice|customer]"),
        ("explain", "`explain` needs one invoice or credit memo number", "/tally explain NUMBER"),
        ("explain 10231 10232", "`explain` needs one invoice", "/tally explain NUMBER"),
        ("history lots", "`history` takes a count from 1 to 100", "/tally history [count]"),
        ("history 0", "`history` takes a count", "/tally history [count]"),
        ("actions maybe", "`maybe` is not a status", "/tally actions [status]"),
        ("status please", "`status` takes nothing after it", "/tally status"),
    ],
)
def test_malformed_input_is_answered_at_once_with_usage_help(world: World, text: str, problem: str, usage: str) -> None:
    reply = world.driver.command(text)
    assert reply.status_code == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert problem in text_of(body)
    assert usage in text_of(body)
    (shown,) = world.slack.ephemerals("U0ANA")
    assert problem in text_of(shown)
    assert world.slack.calls_to("chat.postMessage") == []


def test_help_lists_every_command(world: World) -> None:
    body = world.driver.command("").json()
    for name in ("status", "check", "payments", "credits", "mirror", "explain", "ar", "actions", "history", "digest"):
        assert f"/tally {name}" in text_of(body)
    assert "/tally connect" in text_of(world.driver.command("help connect").json())


def test_check_shows_progress_in_one_channel_message_then_what_it_found(world: World) -> None:
    reply = world.driver.command("check")
    assert reply.elapsed.total_seconds() < 3
    assert reply.json() == {"response_type": "ephemeral", "text": ":hourglass: Checking ConnectWise and QuickBooks…"}

    def finished() -> list[Message]:
        return [m for m in world.channel() if m["text"].startswith("Check done")]

    (done,) = world.wait(finished)
    versions = world.slack.history(CHANNEL, done["ts"])
    assert versions[0]["text"] == "Checking ConnectWise and QuickBooks…"
    assert "<@U0ANA> started a check" in text_of(versions[0])
    assert len(versions) >= 2
    assert "open findings" in text_of(done)
    assert f"<#{CHANNEL}>" in text_of(done)
    alerts = [m for m in world.channel() if m["ts"] != done["ts"]]
    assert alerts  # new findings were posted as alerts
    with pytest.raises(TimeoutError):  # and the command itself posted nothing else
        world.wait(lambda: len([m for m in world.channel() if m["text"].startswith("Check done")]) > 1, timeout=0.3)


def test_slow_books_do_not_slow_the_ack_and_the_check_reports_progress_as_it_reads(world: World) -> None:
    world.running.cw.faults.configure({"latency_ms": 700})  # every ConnectWise call now takes 0.7 s
    started = time.monotonic()
    reply = world.driver.command("check")
    assert reply.status_code == 200
    assert reply.elapsed.total_seconds() < 1

    (done,) = world.wait(lambda: [m for m in world.channel() if m["text"].startswith("Check done")], timeout=60)
    assert time.monotonic() - started > 3  # the work took longer than Slack waits for an answer
    versions = world.slack.history(CHANNEL, done["ts"])
    read_so_far = [v for v in versions if "Read so far" in text_of(v)]
    assert read_so_far  # progress shown while it read


def test_status_explain_ar_actions_and_history_answer_the_person_privately(world: World) -> None:
    result = world.check()
    number = next(f.invoice_number for f in result.findings if f.kind == "payment_not_synced")

    status = text_of(answers(world, "status"))
    assert "Open findings" in status
    assert f"{len(result.findings)}" in status
    assert "Approvals waiting" in status
    assert "QuickBooks token" in status
    assert "ConnectWise" in status

    explained = text_of(answers(world, f"explain {number}"))
    assert "ConnectWise and QuickBooks side by side" in explained
    assert "Payment not carried back to ConnectWise" in explained
    assert "No invoice or credit memo numbered NOPE-1" in text_of(answers(world, "explain NOPE-1"))

    assert "Open AR by customer" in text_of(answers(world, "ar"))
    assert "Record a $" in text_of(answers(world, "actions proposed"))
    history = text_of(answers(world, "history 5"))
    assert "Audit trail" in history
    assert "action.proposed" in history or "finding.opened" in history
    assert world.channel() == [m for m in world.channel() if m.get("bot_id")]  # nothing new for everyone


def test_connect_gives_admins_the_link_and_refuses_anyone_else(world: World) -> None:
    refused = world.driver.command("connect", user="U0CARL")
    assert refused.status_code == 200
    assert "Only Tally's admins can connect QuickBooks" in refused.json()["text"]
    assert [(e.actor, e.subject) for e in world.events("access.refused")] == [("U0CARL", "command:connect")]

    link = text_of(answers(world, "connect", user="U0BEN"))
    assert f"{PUBLIC_URL}/qbo/connect" in link


def test_digest_posts_the_digest_to_the_channel_now(world: World) -> None:
    world.check()
    before = len(world.channel())
    told = text_of(answers(world, "digest"))
    assert f"Posted the digest to <#{CHANNEL}>" in told
    assert len(world.channel()) > before


def test_an_unexpected_error_shows_a_reference_that_is_in_the_log(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.check()
    world.engine.dispose()
    with world.engine.connect() as connection:  # break one table the command reads: an error nobody foresaw
        connection.exec_driver_sql("ALTER TABLE audit_event RENAME TO audit_event_gone")
        connection.commit()
    try:
        told = answers(world, "history")
    finally:
        with world.engine.connect() as connection:
            connection.exec_driver_sql("ALTER TABLE audit_event_gone RENAME TO audit_event")
            connection.commit()
    assert told["text"].startswith("Something went wrong (ref ")
    ref = told["text"].split("(ref ")[1][:6]
    assert any(ref in record.getMessage() for record in caplog.records)
    assert json.dumps(told).count("SELECT") == 0  # no SQL or internals shown to the person
