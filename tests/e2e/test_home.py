"""The Slack Home tab over loopback: opening it publishes, for the person looking, where the books stand; an
approver sees their fixes with Approve and Reject, a viewer the same picture without buttons; a check refreshes it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from bot.slack.blocks.common import money
from bot.slack.blocks.findings import title
from tests.e2e.world import World, buttons, tally_world, text_of

APPROVER, VIEWER = "U0ANA", "U0CARL"


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def home(world: World, user: str) -> dict[str, object]:
    before = world.slack.home(user)
    answer = world.driver.open_home(user)
    assert answer.status_code == 200
    return dict(world.wait(lambda: (found := world.slack.home(user)) and found != before and found))


def test_an_approver_sees_their_fixes_with_buttons(world: World) -> None:
    result = world.check()
    proposed = world.actions(status="proposed")
    assert proposed
    tab = home(world, APPROVER)
    assert tab["type"] == "home"
    words = text_of(tab)
    assert "Fixes waiting for your approval" in words
    assert "AR difference" in words
    assert "ConnectWise" in words
    assert "QuickBooks" in words
    for kind in {finding.kind for finding in result.findings}:  # every kind, with its count and amount
        found = [f for f in result.findings if f.kind == kind]
        total = sum((f.amount for f in found), Decimal("0.00"))
        assert f"{title(kind)}: {len(found)} ({money(total)})" in words
    approve = [b for b in buttons(tab) if b["action_id"] == "tally_approve"]
    assert approve
    assert {int(b["value"]) for b in approve} <= {a.id for a in proposed}


def test_a_viewer_sees_the_picture_without_buttons(world: World) -> None:
    world.check()
    tab = home(world, VIEWER)
    words = text_of(tab)
    assert "Fixes waiting for approval" in words
    assert "Only approvers can approve fixes" in words
    assert buttons(tab) == []


def test_a_check_refreshes_an_opened_home_tab(world: World) -> None:
    first = home(world, VIEWER)  # before any check: nothing read yet
    assert "not read yet" in text_of(first)
    world.check()
    refreshed = world.slack.home(VIEWER)
    assert refreshed is not None
    assert refreshed["hash"] != first["hash"]
    assert "not read yet" not in text_of(refreshed)


def test_approving_from_the_home_tab_runs_the_fix(world: World) -> None:
    world.check()
    tab = home(world, APPROVER)
    approve = next(b for b in buttons(tab) if b["action_id"] == "tally_approve")
    answer = world.driver.click_home("tally_approve", user=APPROVER, value=approve["value"])
    assert answer.status_code == 200
    world.wait(lambda: world.action(int(approve["value"])).status == "succeeded", timeout=30)
    world.wait(lambda: approve["value"] not in [b["value"] for b in buttons(world.slack.home(APPROVER) or {})])
