"""Customer mapping in Slack (issue 9 rule 8): `/tally map` lists what Tally cannot check, "Map to" confirms it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.slack.ids import ActionId
from sync.db import session_scope
from sync.models import CustomerLink
from tests.e2e.world import Message, World, buttons, tally_world, text_of


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url, TALLY_APPROVERS="U0ANA") as running:
        cw = running.running.cw.service.store  # type: ignore[attr-defined]
        qbo = running.running.qbo.service.store.company(running.running.app.realm_id)  # type: ignore[attr-defined]
        cw.create_company({"identifier": "Brite", "name": "Brightside Dental", "accountNumber": "BRT01"})
        qbo.create("Customer", {"DisplayName": "Brightsyde Dental"})
        body = {"invoiceNumber": "BRT-1", "type": "Standard", "company": {"identifier": "Brite"}}
        cw.create_invoice(body | {"status": {"name": "Sent"}, "date": "2026-11-02T00:00:00Z", "total": Decimal("42")})
        yield running


def ephemeral(world: World, user: str, before: int) -> Message:
    found: list[Message] = world.wait(lambda: world.slack.ephemerals(user)[before:])
    return found[-1]


def test_map_lists_the_company_and_map_to_confirms_the_candidate(world: World) -> None:
    world.check()
    listed = world.driver.command("map")
    assert listed.status_code == 200
    shown = text_of(ephemeral(world, "U0ANA", 0))
    assert "Brightside Dental" in shown
    assert "Brightsyde Dental" in shown
    alert = world.alert("customer_mismatch:BRT01")
    (map_to,) = [b for b in buttons(alert) if b["action_id"] == ActionId.MAP_TO]
    assert map_to["text"]["text"] == "Map to Brightsyde Dental"
    before = len(world.slack.ephemerals("U0ANA"))
    assert world.driver.click(alert, ActionId.MAP_TO).status_code == 200
    assert "mapped ConnectWise company Brightside Dental" in text_of(ephemeral(world, "U0ANA", before))
    with session_scope(world.engine) as session:
        (link,) = session.execute(select(CustomerLink)).scalars().all()
        assert link.confirmed_by == "U0ANA"
    assert world.events("mapping.confirmed")
    result = world.check()
    assert not any(f.key == "customer_mismatch:BRT01" for f in result.findings)
