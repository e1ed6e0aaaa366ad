"""Block Kit limits refused the way Slack refuses them (and nothing stored); modals and their trigger ids."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from tests.sandbox.slack_fixtures import CHANNEL, Slack, actions, button, reason_modal, section, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def confirm(title: str = "Sure?", text: str = "Really?") -> dict[str, Any]:
    """A confirm object."""
    plain = "plain_text"
    return {
        "title": {"type": plain, "text": title},
        "text": {"type": plain, "text": text},
        "confirm": {"type": plain, "text": "Yes"},
        "deny": {"type": plain, "text": "No"},
    }


TOO_BIG: dict[str, tuple[list[dict[str, Any]], str]] = {
    "51 blocks": ([section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
    "3001-char section": (
        [section("x" * 3001)],
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
    ),
    "11 fields": (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    "151-char header": (
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    "76-char button text": (
        [actions(button("go", "b" * 76))],
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    ),
    "2001-char button value": (
        [actions(button("go", value="v" * 2001))],
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    ),
    "256-char action_id": (
        [actions(button("a" * 256))],
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ),
    "256-char block_id": (
        [{**section("x"), "block_id": "b" * 256}],
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
    ),
    "26 action elements": (
        [actions(*[button(f"b{n}") for n in range(26)])],
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ),
    "11 context elements": (
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ),
    "101-char confirm title": (
        [actions(button("go", confirm=confirm(title="t" * 101)))],
        "must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]",
    ),
    "301-char confirm text": (
        [actions(button("go", confirm=confirm(text="t" * 301)))],
        "must be less than 301 characters [json-pointer:/blocks/0/elements/0/confirm/text/text]",
    ),
    "unknown block type": ([{"type": "carousel"}], "unsupported type: carousel [json-pointer:/blocks/0/type]"),
    "plain_text header in mrkdwn": (
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
        "must be one of plain_text [json-pointer:/blocks/0/text/type]",
    ),
}


@pytest.mark.parametrize("case", sorted(TOO_BIG))
def test_blocks_over_a_limit_are_refused_and_not_stored(slack: Slack, case: str) -> None:
    blocks, problem = TOO_BIG[case]
    with pytest.raises(SlackApiError) as refused:
        slack.client().chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    answer = refused.value.response
    assert answer["error"] == "invalid_blocks"
    assert problem in answer["errors"]
    assert f"[ERROR] {problem}" in answer["response_metadata"]["messages"]
    assert slack.store.messages(CHANNEL) == []


def test_blocks_exactly_at_the_limits_are_accepted(slack: Slack) -> None:
    at_limits = [
        section("x" * 3000),
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        actions(*[button(f"b{n}", "b" * 75, "v" * 2000) for n in range(25)]),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 10, "block_id": "b" * 255},
        {"type": "divider"},
    ]
    blocks = at_limits + [section("pad")] * (50 - len(at_limits))
    slack.client().chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    assert len(slack.store.messages(CHANNEL)[0]["blocks"]) == 50


def test_too_long_text_is_msg_too_long(slack: Slack) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack.client().chat_postMessage(channel=CHANNEL, text="x" * 40_001)
    assert refused.value.response["error"] == "msg_too_long"


def test_invalid_blocks_in_an_update_or_ephemeral_change_nothing(slack: Slack) -> None:
    client = slack.client()
    posted = client.chat_postMessage(channel=CHANNEL, text="before", blocks=[section("before")])
    with pytest.raises(SlackApiError) as refused:
        client.chat_update(channel=CHANNEL, ts=posted["ts"], text="after", blocks=[section("x" * 3001)])
    assert refused.value.response["error"] == "invalid_blocks"
    assert len(slack.store.history(CHANNEL, posted["ts"])) == 1
    assert slack.store.messages(CHANNEL)[0]["text"] == "before"
    with pytest.raises(SlackApiError):
        client.chat_postEphemeral(channel=CHANNEL, user="U0ANA", text="x", blocks=[section("x")] * 51)
    assert slack.store.ephemerals("U0ANA") == []


# -- views.open and trigger ids ----------------------------------------------------------------------------------
def test_views_open_with_a_fresh_trigger_id_stores_the_modal(slack: Slack) -> None:
    trigger_id = slack.store.issue_trigger("U0ANA")
    opened = slack.client().views_open(trigger_id=trigger_id, view=reason_modal('{"ts": "1.2"}'))
    view = opened["view"]
    assert view["id"].startswith("V")
    assert (view["callback_id"], view["private_metadata"]) == ("reject_reason", '{"ts": "1.2"}')
    assert view["state"] == {"values": {}}
    assert view["hash"]
    assert slack.store.views == [view]
    assert slack.store.view_user(view["id"]) == "U0ANA"


def test_a_trigger_id_is_good_once(slack: Slack) -> None:
    client = slack.client()
    trigger_id = slack.store.issue_trigger("U0ANA")
    client.views_open(trigger_id=trigger_id, view=reason_modal())
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id=trigger_id, view=reason_modal())
    assert refused.value.response["error"] == "expired_trigger_id"
    assert len(slack.store.views) == 1


def test_a_trigger_id_expires_after_three_seconds(slack: Slack) -> None:
    trigger_id = slack.store.issue_trigger("U0ANA")
    slack.advance(3.5)
    with pytest.raises(SlackApiError) as refused:
        slack.client().views_open(trigger_id=trigger_id, view=reason_modal())
    assert refused.value.response["error"] == "expired_trigger_id"
    assert slack.store.views == []


def test_a_trigger_id_slack_never_issued_is_invalid_arguments(slack: Slack) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack.client().views_open(trigger_id="123.456.abc", view=reason_modal())
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == ["invalid `trigger_id`"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"title": {"type": "plain_text", "text": "t" * 25}},
            "must be less than 25 characters [json-pointer:/view/title/text]",
        ),
        ({"blocks": [section("x")] * 101}, "no more than 100 items allowed [json-pointer:/view/blocks]"),
        ({"callback_id": ""}, "missing required field: callback_id [json-pointer:/view]"),
        ({"submit": None}, "must provide submit when blocks contain input [json-pointer:/view]"),
        ({"private_metadata": "m" * 3001}, "must be less than 3001 characters [json-pointer:/view/private_metadata]"),
    ],
)
def test_an_invalid_modal_is_refused_and_the_trigger_id_survives(
    slack: Slack, change: dict[str, Any], problem: str
) -> None:
    client = slack.client()
    trigger_id = slack.store.issue_trigger("U0ANA")
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id=trigger_id, view={**reason_modal(), **change})
    assert refused.value.response["error"] == "invalid_arguments"
    assert f"[ERROR] {problem}" in refused.value.response["response_metadata"]["messages"]
    assert client.views_open(trigger_id=trigger_id, view=reason_modal())["ok"] is True


def test_views_update_replaces_an_open_modal_and_checks_the_hash(slack: Slack) -> None:
    client = slack.client()
    view = client.views_open(trigger_id=slack.store.issue_trigger("U0ANA"), view=reason_modal())["view"]
    changed = {**reason_modal(), "title": {"type": "plain_text", "text": "Reason, again"}}
    with pytest.raises(SlackApiError) as refused:
        client.views_update(view_id=view["id"], view=changed, hash="stale")
    assert refused.value.response["error"] == "hash_conflict"
    updated = client.views_update(view_id=view["id"], view=changed, hash=view["hash"])["view"]
    assert updated["id"] == view["id"]
    assert slack.store.views[0]["title"]["text"] == "Reason, again"
    with pytest.raises(SlackApiError) as missing:
        client.views_update(view_id="V0NOPE", view=changed)
    assert missing.value.response["error"] == "not_found"
