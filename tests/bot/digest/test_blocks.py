"""The digest's Block Kit: within Slack's limits however busy the day, and plain when nothing happened."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.digest.blocks import (
    Activity,
    CustomerGap,
    Decision,
    Digest,
    Fix,
    Health,
    KindTotal,
    Pending,
    Receivables,
    capped,
    digest_messages,
)
from bot.slack.blocks.common import MAX_BLOCKS, SECTION_TEXT, Message
from sandbox.slack.blockkit import message_problems

DAY = date(2026, 11, 25)
ZONE = ZoneInfo("America/New_York")
HEALTHY = Health(datetime(2026, 11, 26, 13, 0, tzinfo=UTC), (), True, "QuickBooks company 123 is connected.")


def quiet_day(**changes: Any) -> Digest:
    values: dict[str, Any] = {
        "day": DAY,
        "zone": ZONE,
        "activity": Activity(),
        "open_by_kind": (),
        "receivables": None,
        "pending": (),
        "health": HEALTHY,
    }
    return Digest(**{**values, **changes})


def busy_day(size: int, *, filler: int = 0) -> Digest:
    """A day with ``size`` of everything, each line ``filler`` characters longer than usual."""
    words = "Record a payment on ConnectWise invoice {n} for a customer whose name is rather long, Incorporated"
    words += " " + "x" * filler
    fixes = tuple(Fix("backflow_payment", words.format(n=n), Decimal("1234.56"), ("U0ANA",)) for n in range(size))
    decisions = tuple(Decision("U0BEN", "approved", n, words.format(n=n), Decimal("10.00")) for n in range(size))
    kinds = tuple(KindTotal(f"kind_{n}", n + 1, Decimal(n)) for n in range(11))
    gaps = tuple(
        CustomerGap(f"Customer {n}", Decimal("100"), Decimal("40"), (("payment_not_synced", Decimal("60")),))
        for n in range(size)
    )
    pending = tuple(Pending(n, words.format(n=n), Decimal("5"), 0, 1, None) for n in range(size))
    errors = tuple(f"ConnectWise answered 503 ({n})" for n in range(size))
    return quiet_day(
        activity=Activity(fixes=fixes, failed=fixes, decisions=decisions, payments_received=size),
        open_by_kind=kinds,
        receivables=Receivables(Decimal("100") * size, Decimal("40") * size, gaps),
        pending=pending,
        health=Health(None, errors, False, "QuickBooks needs reconnecting.", datetime(2026, 12, 1, tzinfo=UTC)),
    )


def texts(messages: list[Message]) -> str:
    return "\n".join(json.dumps(message.blocks, ensure_ascii=False) for message in messages)


def test_a_busy_day_splits_into_messages_slack_accepts() -> None:
    messages = digest_messages(busy_day(400, filler=2800))
    assert len(messages) >= 3
    assert [m.text for m in messages] == [
        f"Tally daily digest for Thu 26 Nov 2026 ({n} of {len(messages)})" for n in range(1, len(messages) + 1)
    ]
    assert all(message_problems(message.blocks) == [] for message in messages)  # the sandbox applies Slack's rules
    assert all(len(message.blocks) <= MAX_BLOCKS for message in messages)
    sections = [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]
    assert max(len(text) for text in sections) <= SECTION_TEXT


def test_split_messages_keep_the_digest_in_order() -> None:
    messages = digest_messages(busy_day(30, filler=2800))
    text = texts(messages)
    shown = [n for n in range(30) if f"invoice {n} for" in text]
    assert shown == list(range(25))  # capped at 25 lines, the rest counted
    positions = [text.index(f"Record a payment on ConnectWise invoice {n} for") for n in shown]
    assert positions == sorted(positions)
    assert text.index("*Open findings") < text.index("*Accounts receivable*") < text.index("*Health*")


def test_every_list_says_how_much_it_left_out() -> None:
    text = texts(digest_messages(busy_day(40)))
    assert text.count("…and 15 more") == 5  # fixes, failures, decisions, pending, customers: 25 lines each
    assert "…and 15 more customers" in text
    assert "…and 35 more errors" in text
    assert "Reconnect QuickBooks before" in text
    assert "Last good check: never" in text


def test_a_quiet_day_says_so() -> None:
    messages = digest_messages(quiet_day())
    assert len(messages) == 1
    assert messages[0].text == "Tally daily digest for Thu 26 Nov 2026"
    text = texts(messages)
    assert "Payments received in QuickBooks: 0 ($0.00)" in text
    assert "None: the two systems agree" in text
    assert "*Pending approvals*\\nNone." in text
    assert "Not known yet: no check has read both systems" in text
    assert "Last good check: Thu 26 Nov 08:00" in text  # 13:00 UTC in New York
    assert "API errors yesterday: none" in text


def test_receivables_show_both_systems_and_who_explains_the_difference() -> None:
    gap = CustomerGap(
        "Acme Co",
        Decimal("1500.00"),
        Decimal("265.50"),
        (("payment_not_synced", Decimal("1234.50")),),
        unexplained=Decimal("0.00"),
    )
    quiet = CustomerGap("Calm Ltd", Decimal("10"), Decimal("10"), ())
    digest = quiet_day(receivables=Receivables(Decimal("1510.00"), Decimal("275.50"), (gap, quiet)))
    text = texts(digest_messages(digest))
    assert "ConnectWise $1,510.00 · QuickBooks $275.50 · difference $1,234.50" in text
    assert "Acme Co: $1,234.50 — Payment not carried back to ConnectWise $1,234.50" in text
    assert "Calm Ltd" not in text  # agrees: nothing to explain


def test_people_are_mentioned_and_processes_named() -> None:
    decisions = (
        Decision("U0ANA", "approved", 7, "Apply credit", Decimal("300")),
        Decision("cli:ben", "rejected", 8, "Mirror invoice 10400", Decimal("9706"), "duplicate of 10399"),
        Decision("scheduler", "auto_approved", 9, "Record payment", Decimal("20")),
    )
    text = texts(digest_messages(quiet_day(activity=Activity(decisions=decisions))))
    assert "<@U0ANA> approved fix 7: Apply credit ($300.00)" in text
    assert "cli:ben rejected fix 8: Mirror invoice 10400 ($9,706.00) — duplicate of 10399" in text
    assert "scheduler auto-approved (policy) fix 9" in text


def test_capped_keeps_short_lists_whole() -> None:
    assert capped(["a", "b"], limit=2) == ["a", "b"]
    assert capped(["a", "b", "c"], limit=2) == ["a", "b", "…and 1 more"]


def test_pending_shows_local_waiting_time() -> None:
    since = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    digest = quiet_day(pending=(Pending(3, "Create invoice 10400", Decimal("9706"), 1, 2, since),))
    text = texts(digest_messages(digest))
    assert "Fix 3: Create invoice 10400 ($9,706.00) — 1 of 2 approvals, waiting since Tue 24 Nov 10:30" in text


def test_the_digest_lists_the_companies_tally_cannot_check_with_their_open_amounts() -> None:
    unchecked = (("Brightside <Dental>", "BRT01", Decimal("420.00")), ("Zed Widgets", "ZED01", Decimal("80.50")))
    digest = quiet_day(receivables=Receivables(Decimal("500.50"), Decimal("0"), (), unchecked))
    text = texts(digest_messages(digest))
    assert "Companies Tally cannot check (2, $500.50 open in ConnectWise)" in text
    assert "Brightside &lt;Dental&gt; (BRT01): $420.00" in text
    assert "Zed Widgets (ZED01): $80.50" in text
