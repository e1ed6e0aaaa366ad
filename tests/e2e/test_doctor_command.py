"""``/tally doctor`` over real HTTP: admins get the checklist privately, anyone else is refused (and audited)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.e2e.world import Message, World, tally_world, text_of


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def test_an_admin_gets_the_checklist_with_what_to_do(world: World) -> None:
    httpx.post(f"{world.running.cw.url}/_sandbox/switches", json={"cw_closed_flag": "null"}).raise_for_status()
    reply = world.driver.command("doctor", user="U0ANA")
    assert reply.status_code == 200
    assert reply.elapsed.total_seconds() < 3

    def checklist() -> list[Message]:
        return [m for m in world.slack.ephemerals("U0ANA") if "Tally doctor" in text_of(m)]

    shown: Message = world.wait(checklist, timeout=30)[-1]
    words = text_of(shown)
    assert "0 failed" in shown["text"]
    assert ":warning: *Invoices carry status.isClosed*" in words
    assert "TALLY_CW_CLOSED_STATUSES" in words
    assert "Read only: nothing was written anywhere." in words
    assert world.channel() == [], "the doctor posts nothing in the channel"
    assert len(shown["blocks"]) <= 50
    assert all(len(json.dumps(block)) < 3500 for block in shown["blocks"])


def test_anyone_else_is_refused_and_audited(world: World) -> None:
    refused = world.driver.command("doctor", user="U0CARL")
    assert refused.status_code == 200
    assert "Only Tally's admins can connect QuickBooks or run the doctor" in refused.json()["text"]
    assert [event.actor for event in world.events("access.refused")] == ["U0CARL"]
