"""A Slack approval whose answer from ConnectWise is lost: the alert says Tally is checking whether the write landed,
nothing is sent again, and once the payment is found the alert says it was done. Over real loopback HTTP."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot.processes.scheduled import settle_writes
from bot.slack.app import web_client
from bot.slack.notify import Notifier
from sync.wiring import clients
from tests.e2e.world import World, tally_world, text_of
from tests.faults.books import fault

pytestmark = pytest.mark.slow
HOLD = 5.0  # the payment lands this long after the click: past TALLY_HTTP_TIMEOUT


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url, TALLY_HTTP_TIMEOUT="2s") as running:
        yield running


def payments_on(world: World, invoice_id: int) -> int:
    """The payment rows ConnectWise shows on one invoice, through its API."""
    with world.cw() as cw:
        return len(cw.list_payments(invoice_id))


def test_an_approval_whose_answer_is_lost_shows_checking_then_done_and_writes_once(world: World) -> None:
    world.check()
    action = world.actions(kind="backflow_payment", status="proposed")[0]
    assert action.id is not None
    invoice_id = int(json.loads(action.params)["cw_invoice_id"])
    before = payments_on(world, invoice_id)
    fault(world.running.cw.url, hold_next={"count": 1, "seconds": HOLD, "commit": "after", "match": "^POST "})

    world.driver.click(world.alert(action.finding_key), "tally_approve", user="U0ANA")

    shown = world.wait(lambda: "whether the write landed" in text_of(world.alert(action.finding_key)), timeout=HOLD)
    assert shown
    assert "It will not be sent again." in text_of(world.alert(action.finding_key))
    assert world.action(action.id).status == "unsure"
    world.wait(lambda: payments_on(world, invoice_id) == before + 1, timeout=HOLD * 2)  # the held payment lands

    factory = functools.partial(clients, world.settings, world.engine)
    redraw = Notifier(world.settings, world.engine, web_client(world.settings)).refresh_action
    report = settle_writes(world.engine, factory, redraw=redraw)  # as the clock's job does
    assert report.written == [action.id]
    world.wait(lambda: "Done, approved by" in text_of(world.alert(action.finding_key)))
    assert world.action(action.id).status == "succeeded"
    assert payments_on(world, invoice_id) == before + 1
