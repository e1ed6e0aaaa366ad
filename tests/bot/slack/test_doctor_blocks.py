"""``/tally doctor``'s message: text from the systems made inert, within Block Kit's limits, remedies shown."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.blocks.doctor import doctor_message
from sync.doctor import Check, Report, Status


def test_outside_text_is_escaped_and_remedies_follow_their_check() -> None:
    checks = [
        Check(
            "ConnectWise",
            "cw.closed_flag",
            "Invoices carry status.isClosed",
            Status.WARN,
            "Statuses seen: <!channel> & Sent.",
            "List them in TALLY_CW_CLOSED_STATUSES.",
        ),
        Check("Slack", "slack.token", "Bot token works", Status.PASS, "Signed in as @tally."),
    ]
    message = doctor_message(Report(checks=checks, at=datetime(2026, 12, 3, 14, 0, tzinfo=UTC)))
    words = " ".join(block["text"]["text"] for block in message.blocks if block["type"] == "section")
    assert "<!channel>" not in words
    assert "&lt;!channel&gt; &amp; Sent" in words
    assert ":warning: *Invoices carry status.isClosed*" in words
    assert "→ List them in TALLY_CW_CLOSED_STATUSES." in words
    assert message.text == "Tally doctor: 1 passed, 1 warnings, 0 failed"


def test_many_checks_stay_within_the_block_limits() -> None:
    checks = [Check(f"System {n % 5}", f"k{n}", f"Check {n}", Status.FAIL, "x" * 400, "y" * 400) for n in range(80)]
    message = doctor_message(Report(checks=checks, at=datetime(2026, 12, 3, tzinfo=UTC)))
    assert len(message.blocks) <= 50
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in message.blocks)
