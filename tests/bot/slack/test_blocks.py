"""Every reply the bot renders stays within Block Kit's limits, however many findings or however long the text."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.slack.blocks.common import Message
from bot.slack.blocks.findings import ActionView, finding_message, status_line, summary_message
from bot.slack.blocks.help import help_message, usage_message
from bot.slack.blocks.modals import reject_modal
from bot.slack.blocks.previews import preview_message, read_preview_block_id
from bot.slack.blocks.reports import actions_message, ar_message, history_message
from sandbox.slack.blockkit import message_problems, view_problems
from sync.reconcile.ar import CustomerAR, Explained
from tests.bot.records import action, event, finding


def valid(message: Message) -> Message:
    assert message_problems(message.blocks) == []
    assert message.text
    block_ids = [block["block_id"] for block in message.blocks if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))  # Slack refuses duplicate block ids
    return message


def customer(n: int) -> CustomerAR:
    explained = tuple(
        Explained(f"payment_not_synced:{n}{i}", "payment_not_synced", Decimal("10.00")) for i in range(30)
    )
    return CustomerAR(
        company_id=n,
        account=f"ACME{n}",
        name=f"Acme Holdings {n} " * 10,
        qbo_customer_id=str(n),
        qbo_name=None,
        cw_open=Decimal("1000.00"),
        qbo_open=Decimal("500.00"),
        explained=explained,
        pending=Decimal("0.00"),
        rounding=Decimal("0.00"),
    )


@pytest.mark.parametrize("count", [1, 6, 50, 400])
def test_a_summary_of_many_findings_fits_and_approve_all_names_only_ids(count: int) -> None:
    items = [(finding(n, long=True), ActionView(action(n * 1000))) for n in range(count)]
    message = valid(summary_message(items))
    (button,) = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    ids = button["value"].split(",")
    assert all(part.isdigit() for part in ids)
    assert button["text"]["text"] == f"Approve all {len(ids)}"
    assert len(button["value"]) <= 2000


def test_one_alert_with_very_long_text_fits_and_its_confirm_states_the_exact_write() -> None:
    fix = action(7, long=True)
    message = valid(finding_message(finding(7, long=True), ActionView(fix)))
    approve = next(e for b in message.blocks if b["type"] == "actions" for e in b["elements"])
    assert approve["confirm"]["text"]["text"] == fix.description[:299] + "…"
    short = valid(finding_message(finding(8), ActionView(action(8))))
    confirm = next(e for b in short.blocks if b["type"] == "actions" for e in b["elements"])["confirm"]
    assert confirm["text"]["text"] == "Record a $1,234.50 payment dated 2026-11-20 on ConnectWise invoice 10008"


def test_alert_only_findings_have_no_buttons_and_dual_approval_reads_one_of_two() -> None:
    alert_only = valid(finding_message(finding(1, kind="orphan_in_qbo", fixable=False), None))
    assert not [b for b in alert_only.blocks if b["type"] == "actions"]
    assert "someone needs to look at it" in json.dumps(alert_only.blocks)
    assert "1 of 2 approvals" in status_line(ActionView(action(2, needed=2), ("U0ANA",)))
    assert "<@U0ANA>" in status_line(ActionView(action(2, needed=2), ("U0ANA",)))
    assert "Rejected by <@U0ANA>" in status_line(ActionView(action(3, status="rejected")))


@pytest.mark.parametrize(
    ("status", "result", "shown"),
    [
        ("approved", None, "Approved by <@U0BEN> — running now."),
        ("succeeded", "Recorded a $1,234.50 payment (payment id 77).", "Done, approved by <@U0BEN>. Recorded"),
        ("failed", "ConnectWise refused the payment: the invoice is closed.", "Failed (approved by <@U0BEN>): Conn"),
        ("superseded", "The books agree again without it (someone fixed it by hand).", "No longer needed: The books"),
        (
            "unsure",
            "Tally is checking whether the write landed. The answer was lost: ConnectWise kept failing.",
            "Approved by <@U0BEN>. Tally is checking whether the write landed. The answer was lost: ConnectWise kept "
            "failing. It will not be sent again.",
        ),
    ],
)
def test_an_alert_says_where_its_fix_stands(status: str, result: str | None, shown: str) -> None:
    fix = action(4, status=status)
    fix.result = result
    message = valid(finding_message(finding(4), ActionView(fix, ("U0BEN",))))
    assert shown in json.dumps(message.blocks, ensure_ascii=False)
    assert not [b for b in message.blocks if b["type"] == "actions"]  # decided: no buttons any more


@pytest.mark.parametrize("count", [0, 1, 45, 300])
def test_previews_fit_and_every_row_can_be_redrawn(count: int) -> None:
    views = [ActionView(action(n, long=True)) for n in range(1, count + 1)]
    message = valid(preview_message("payments", "acme " * 60, views, command="/tally", note="x" * 5000))
    for block in message.blocks:
        if "block_id" in block:
            assert read_preview_block_id(block["block_id"]) is not None


def test_long_lists_fit_with_what_was_left_out_counted() -> None:
    many = valid(actions_message([action(n, long=True) for n in range(500)], None))
    assert "more" in json.dumps(many.blocks[-1])
    valid(history_message([event(n, long=True) for n in range(100)]))
    valid(ar_message([customer(n) for n in range(300)], None, command="/tally"))
    valid(ar_message([], "nobody", command="/tally"))


def test_help_usage_and_the_reject_modal_fit() -> None:
    valid(help_message("/tally"))
    valid(usage_message("/tally", "I don't know the command `x`."))
    assert view_problems(reject_modal(action(1, long=True))) == []
