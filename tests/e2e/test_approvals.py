"""From Slack to the books: commands, the buttons the bot posted, and the writes they cause in ConnectWise and QBO."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from sync.records.quickbooks import QBOInvoice
from tests.e2e.world import CHANNEL, Message, World, buttons, tally_world, text_of

APPROVE, REJECT, APPROVE_ALL = "tally_approve", "tally_reject", "tally_approve_all"


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    with tally_world(engine, database_url) as running:
        yield running


def preview(world: World, text: str, user: str = "U0ANA") -> Message:
    """Run a preview command and return the preview the person sees."""
    before = len(world.slack.ephemerals(user))
    answer = world.driver.command(text, user=user)
    assert answer.status_code == 200
    assert answer.elapsed.total_seconds() < 3
    assert "Checking ConnectWise and QuickBooks" in answer.text

    def shown() -> list[Message]:
        return [m for m in world.slack.ephemerals(user)[before:] if "tally_preview" in text_of(m)]

    found: list[Message] = world.wait(shown)
    return found[-1]


def current(world: World, message: Message) -> Message:
    """A message as it looks now."""
    found = world.slack.message(message["channel"], message["ts"])
    assert found is not None
    return found


def params(world: World, action_id: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(world.action(action_id).params)
    return loaded


def test_a_payment_backflow_from_command_to_approval_changes_the_connectwise_balance(world: World) -> None:
    shown = preview(world, "payments")
    approve = buttons(shown)[0]
    assert approve["action_id"] == APPROVE
    action = world.action(int(approve["value"]))
    assert action.kind == "backflow_payment"
    assert approve["confirm"]["text"]["text"] == action.description  # the dialog states the exact write
    assert action.description.startswith(f"Record a ${action.amount:,.2f} payment dated ")
    invoice_id = int(params(world, action.id or 0)["cw_invoice_id"])
    with world.cw() as cw:
        before = cw.get_invoice(invoice_id).balance

    world.driver.click(shown, APPROVE, user="U0ANA")

    world.wait(lambda: world.action(action.id or 0).status == "succeeded")
    with world.cw() as cw:
        assert cw.get_invoice(invoice_id).balance == before - action.amount
    world.wait(lambda: "Recorded a" in text_of(current(world, shown)))
    assert approve["value"] not in [b["value"] for b in buttons(current(world, shown))]  # that one is done
    world.wait(lambda: "Done, approved by <@U0ANA>" in text_of(world.alert(action.finding_key)))
    assert [b["action_id"] for b in buttons(world.alert(action.finding_key))] == ["tally_undo"]  # only Undo left


def test_a_credit_memo_application_from_command_to_approval_changes_the_quickbooks_balance(world: World) -> None:
    world.check()
    memo_fix = world.actions(kind="apply_credit_memo", status="proposed")[0]
    fix = params(world, memo_fix.id or 0)
    with world.qbo() as qbo:
        before = qbo.get(QBOInvoice, fix["qbo_invoice_id"]).balance

    shown = preview(world, f"credits {fix['credit_memo']}", user="U0BEN")
    ids = [int(b["value"]) for b in buttons(shown) if b["action_id"] == APPROVE]
    assert memo_fix.id in ids
    assert "in QuickBooks" in text_of(shown)
    if ids[0] == memo_fix.id:
        world.driver.click(shown, APPROVE, user="U0BEN")
    else:  # another fix names the same memo first: ours is approved from its alert
        world.driver.click(world.alert(memo_fix.finding_key), APPROVE, user="U0BEN")

    world.wait(lambda: world.action(memo_fix.id or 0).status == "succeeded")
    with world.qbo() as qbo:
        assert qbo.get(QBOInvoice, fix["qbo_invoice_id"]).balance == before - memo_fix.amount
    assert world.events("action.succeeded", f"action:{memo_fix.id}")[0].actor == "U0BEN"


def test_someone_who_is_not_an_approver_is_refused_privately_and_the_attempt_is_audited(world: World) -> None:
    world.check()
    fix = world.actions(kind="backflow_payment", status="proposed")[0]
    alert = world.alert(fix.finding_key)

    world.driver.click(alert, APPROVE, user="U0CARL")
    told = world.wait(lambda: world.slack.ephemerals("U0CARL"))
    world.driver.click(alert, REJECT, user="U0CARL")
    world.wait(lambda: len(world.slack.ephemerals("U0CARL")) == 2)

    assert "may not approve" in told[0]["text"]
    refused = world.events("action.approval_refused", f"action:{fix.id}")
    assert [(e.actor, e.detail) for e in refused] == [
        ("U0CARL", "tried to approve but is not an approver"),
        ("U0CARL", "tried to reject but is not an approver"),
    ]
    assert world.action(fix.id or 0).status == "proposed"
    assert world.slack.open_views == []
    assert current(world, alert) == alert  # the alert did not change


def test_two_approvers_clicking_the_same_button_at_the_same_moment_make_one_write(world: World) -> None:
    world.check()
    fix = world.actions(kind="backflow_payment", status="proposed", approvals_needed=1)[0]
    alert = world.alert(fix.finding_key)
    invoice_id = int(params(world, fix.id or 0)["cw_invoice_id"])
    with world.cw() as cw:
        rows_before = len(cw.list_payments(invoice_id))
    start = threading.Barrier(2)

    def click(user: str) -> int:
        start.wait()
        return world.driver.click(alert, APPROVE, user=user).status_code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(click, ["U0ANA", "U0BEN"])) == [200, 200]

    world.wait(lambda: world.action(fix.id or 0).status == "succeeded")
    world.wait(lambda: len([c for c in world.slack.calls_to("chat.update") if c.body["ts"] == alert["ts"]]) >= 3)
    assert len(world.events("action.executing", f"action:{fix.id}")) == 1
    assert len(world.events("action.succeeded", f"action:{fix.id}")) == 1
    with world.cw() as cw:
        assert len(cw.list_payments(invoice_id)) == rows_before + 1
    world.wait(lambda: "Done, approved by" in text_of(world.alert(fix.finding_key)))


def test_dual_approval_shows_one_of_two_until_a_second_different_approver(world: World) -> None:
    world.check()
    fix = world.actions(status="proposed", approvals_needed=2)[0]
    alert = world.alert(fix.finding_key)

    world.driver.click(alert, APPROVE, user="U0ANA")
    world.wait(lambda: "1 of 2 approvals" in text_of(world.alert(fix.finding_key)))
    assert [b["action_id"] for b in buttons(world.alert(fix.finding_key))] == [APPROVE, REJECT]
    world.driver.click(world.alert(fix.finding_key), APPROVE, user="U0ANA")
    again = world.wait(lambda: world.slack.ephemerals("U0ANA"))
    assert "Already approved by you" in again[0]["text"]
    assert world.action(fix.id or 0).status == "proposed"

    world.driver.click(world.alert(fix.finding_key), APPROVE, user="U0BEN")
    world.wait(lambda: world.action(fix.id or 0).status == "succeeded")
    world.wait(lambda: "Done, approved by" in text_of(world.alert(fix.finding_key)))
    assert "<@U0ANA>, <@U0BEN>" in text_of(world.alert(fix.finding_key))


def test_reject_asks_for_a_reason_in_a_modal_and_the_alert_says_who_and_why(world: World) -> None:
    world.check()
    fix = world.actions(kind="backflow_payment", status="proposed")[0]
    alert = world.alert(fix.finding_key)

    world.driver.click(alert, REJECT, user="U0BEN")
    (modal,) = world.wait(lambda: world.slack.open_views)
    assert modal["private_metadata"] == str(fix.id)
    blank = world.driver.submit_view(modal, {"tally_reason": {"reason": "   "}})
    assert blank.json()["response_action"] == "errors"
    assert world.slack.open_views  # still open, asking
    assert (
        world.driver.submit_view(modal, {"tally_reason": {"reason": "Paid by card, not by check"}}).status_code == 200
    )

    world.wait(lambda: world.action(fix.id or 0).status == "rejected")
    world.wait(lambda: "Rejected by <@U0BEN>" in text_of(world.alert(fix.finding_key)))
    assert "Paid by card, not by check" in text_of(world.alert(fix.finding_key))
    assert buttons(world.alert(fix.finding_key)) == []
    assert world.events("action.rejected", f"action:{fix.id}")[0].detail == "Paid by card, not by check"
    assert world.events("action.executing", f"action:{fix.id}") == []


def test_approve_all_from_the_summary_runs_every_fix_that_has_its_approvals(world: World) -> None:
    first = world.check()
    summary = next(m for m in world.channel() if any(b["action_id"] == APPROVE_ALL for b in buttons(m)))
    proposed = world.actions(status="proposed")
    assert f"Approve all {len(proposed)}" in text_of(summary)

    world.driver.click(summary, APPROVE_ALL, user="U0ANA")

    report = world.wait(lambda: world.slack.ephemerals("U0ANA"), timeout=30)[0]["text"]
    singles = [a for a in proposed if a.approvals_needed == 1]
    duals = [a for a in proposed if a.approvals_needed == 2]
    assert f"{len(singles)} carried out" in report
    assert f"{len(duals)} waiting for a second, different approver" in report
    assert {world.action(a.id or 0).status for a in singles} == {"succeeded"}
    assert {world.action(a.id or 0).status for a in duals} == {"proposed"}
    assert buttons(current(world, summary)) == []  # the button is replaced by what it did
    assert "Approve all by <@U0ANA>" in text_of(current(world, summary))
    assert len(first.findings) > 5


def test_alerts_are_posted_once_alert_only_ones_without_buttons_and_updated_when_fixed_by_hand(world: World) -> None:
    first = world.check()
    top = [m for m in world.channel() if not m.get("thread_ts")]
    assert len(top) == 1  # many new findings: one summary, details in its thread
    assert len(world.slack.replies(CHANNEL, top[0]["ts"])) == len(first.findings)
    for finding in first.findings:
        shown = [b["action_id"] for b in buttons(world.alert(finding.key))]
        assert shown == ([APPROVE, REJECT] if finding.fix else [])
        assert finding.explanation in text_of(world.alert(finding.key))

    posted = len(world.channel())
    world.check()
    assert len(world.channel()) == posted  # a finding is never posted twice

    fix = world.actions(kind="backflow_payment", status="proposed")[0]
    by_hand = params(world, fix.id or 0)
    with world.cw() as cw:
        cw.create_payment(int(by_hand["cw_invoice_id"]), fix.amount, world.running.clock.now().date())
    world.check()
    alert = world.alert(fix.finding_key)
    assert ":white_check_mark:" in alert["text"] or "resolved" in alert["text"]
    assert "the books agree again" in text_of(alert)
    assert "No longer needed" in text_of(alert)
    assert buttons(alert) == []
    assert world.action(fix.id or 0).status == "superseded"
    assert len(world.channel()) == posted
