"""The driver plays Slack: what it sends verifies like Slack's signature and parses as bolt expects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.request.payload_utils import (
    is_block_actions,
    is_slash_command,
    is_view_submission,
    to_action,
    to_command,
    to_view,
)
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import sign
from tests.sandbox.slack_fixtures import (
    CHANNEL,
    WORKSPACE,
    Received,
    Slack,
    StartResponse,
    approval_card,
    button,
    driven_app,
    reason_modal,
    section,
    slack,
)

__all__ = ["slack"]  # the fixture, imported for pytest


def bolt_request(received: Received) -> BoltRequest:
    """Parse what the app received the way bolt does."""
    headers: dict[str, str | Sequence[str]] = dict(received.headers)
    return BoltRequest(body=received.body, headers=headers)


def answering(body: bytes, content_type: str = "application/json") -> Any:
    """A WSGI handler answering 200 with ``body``."""

    def handler(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return handler


def post_card(slack: Slack, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Post a card as the bot and return it as stored."""
    ts = slack.client().chat_postMessage(channel=CHANNEL, text="Write off?", blocks=blocks or approval_card())["ts"]
    message = slack.store.message(CHANNEL, ts)
    assert message is not None
    return message


# -- signing -----------------------------------------------------------------------------------------------------
def test_requests_are_signed_like_slack_and_a_forged_or_stale_one_is_not(slack: Slack) -> None:
    verifier = SignatureVerifier(WORKSPACE.signing_secret)
    with driven_app(slack) as (app, driver):
        driver.command("check")
        driver.command("check", secret="forged-secret")
        driver.command("check", timestamp=time.time() - 600)
    good, forged, stale = app.received
    assert verifier.is_valid(good.body, good.headers["x-slack-request-timestamp"], good.headers["x-slack-signature"])
    for bad in (forged, stale):
        ts, signature = bad.headers["x-slack-request-timestamp"], bad.headers["x-slack-signature"]
        assert not verifier.is_valid(bad.body, ts, signature)
    assert sign(WORKSPACE.signing_secret, "1", "body") == SignatureVerifier(
        WORKSPACE.signing_secret
    ).generate_signature(timestamp="1", body="body")


# -- slash commands ----------------------------------------------------------------------------------------------
def test_a_slash_command_carries_what_bolt_needs(slack: Slack) -> None:
    with driven_app(slack) as (app, driver):
        driver.command("check INV-1001", user="U0BEN")
    (received,) = app.received
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    request = bolt_request(received)
    assert is_slash_command(request.body)
    command = to_command(request.body)
    assert command is not None
    assert (command["command"], command["text"], command["user_id"]) == ("/tally", "check INV-1001", "U0BEN")
    assert (command["channel_id"], command["channel_name"], command["team_id"]) == (CHANNEL, "finance", "T0TALLY")
    assert command["response_url"].startswith(f"{slack.server.url}/response/")
    assert (request.context.user_id, request.context.channel_id, request.context.team_id) == (
        "U0BEN",
        CHANNEL,
        "T0TALLY",
    )
    opened = slack.client().views_open(trigger_id=command["trigger_id"], view=reason_modal())
    assert slack.store.view_user(opened["view"]["id"]) == "U0BEN"


def test_an_ack_body_is_shown_like_slack_shows_it(slack: Slack) -> None:
    in_channel = json.dumps({"response_type": "in_channel", "text": "Sync started"}).encode()
    with driven_app(slack, answering(in_channel)) as (_, driver):
        driver.command("sync")
    with driven_app(slack, answering(b"On it", "text/plain")) as (_, driver):
        driver.command("check", user="U0BEN")
    assert [m["text"] for m in slack.store.messages(CHANNEL)] == ["Sync started"]
    assert [m["text"] for m in slack.store.ephemerals("U0BEN")] == ["On it"]
    assert [r["source"] for r in slack.store.responses] == ["ack", "ack"]


# -- clicks ------------------------------------------------------------------------------------------------------
def test_a_click_carries_the_block_actions_payload_bolt_needs(slack: Slack) -> None:
    card = post_card(slack)
    with driven_app(slack) as (app, driver):
        assert driver.click(card, "reject", user="U0BEN").status_code == 200
    request = bolt_request(app.received[-1])
    body = request.body
    assert is_block_actions(body)
    action = to_action(body)
    assert action is not None
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "reject",
        "decide",
        "INV-1001",
        "button",
    )
    assert action["text"] == {"type": "plain_text", "text": "Reject"}
    assert float(action["action_ts"]) > 0
    assert body["user"] == {"id": "U0BEN", "username": "ben", "name": "ben", "team_id": "T0TALLY"}
    assert body["container"] == {
        "type": "message",
        "message_ts": card["ts"],
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    assert body["channel"] == {"id": CHANNEL, "name": "finance"}
    assert (body["message"]["ts"], body["message"]["text"]) == (card["ts"], "Write off?")
    assert body["message"]["blocks"] == approval_card()
    assert body["state"] == {"values": {}}
    assert (request.context.user_id, request.context.channel_id) == ("U0BEN", CHANNEL)
    assert slack.client().views_open(trigger_id=body["trigger_id"], view=reason_modal())["ok"] is True


def test_a_click_on_an_ephemeral_message_has_no_message_and_only_its_user_can_click(slack: Slack) -> None:
    slack.client().chat_postEphemeral(channel=CHANNEL, user="U0ANA", text="Mine", blocks=approval_card())
    (mine,) = slack.store.ephemerals("U0ANA")
    with driven_app(slack) as (app, driver):
        driver.click(mine, "approve", value="forged")
        with pytest.raises(LookupError):
            driver.click(mine, "approve", user="U0BEN")
    (received,) = app.received
    body = bolt_request(received).body
    assert "message" not in body
    assert body["container"]["is_ephemeral"] is True
    assert body["actions"][0]["value"] == "forged"


def test_a_click_needs_the_button_in_the_message_as_it_looks_now(slack: Slack) -> None:
    card = post_card(slack)
    with driven_app(slack) as (app, driver):
        with pytest.raises(LookupError, match="explain"):
            driver.click(card, "explain")
        slack.client().chat_update(channel=CHANNEL, ts=card["ts"], text="Approved", blocks=[section("Approved")])
        with pytest.raises(LookupError, match="approve"):
            driver.click(card, "approve")  # the stale dict still shows the button; Slack no longer does
    assert app.received == []


def test_a_click_in_a_thread_names_the_thread(slack: Slack) -> None:
    client = slack.client()
    parent = client.chat_postMessage(channel=CHANNEL, text="Digest")["ts"]
    client.chat_postMessage(channel=CHANNEL, text="Write off?", blocks=approval_card(), thread_ts=parent)
    (reply,) = slack.store.replies(CHANNEL, parent)
    with driven_app(slack) as (app, driver):
        driver.click(reply, "approve")
    body = bolt_request(app.received[0]).body
    assert body["container"]["thread_ts"] == parent
    assert body["message"]["thread_ts"] == parent


def test_a_section_accessory_button_is_clickable(slack: Slack) -> None:
    card = post_card(slack, [{**section("Details"), "accessory": button("explain", "Why?")}])
    with driven_app(slack) as (app, driver):
        driver.click(card, "explain")
    action = bolt_request(app.received[0]).body["actions"][0]
    assert action["action_id"] == "explain"
    assert action["block_id"].startswith("sandbox-block-")  # Slack fills in a block_id; so does the driver


# -- modal submissions -------------------------------------------------------------------------------------------
def open_modal(slack: Slack, metadata: str = '{"ts": "1"}') -> dict[str, Any]:
    """Open the reason modal for ben."""
    trigger_id = slack.store.issue_trigger("U0BEN")
    view: dict[str, Any] = slack.client().views_open(trigger_id=trigger_id, view=reason_modal(metadata))["view"]
    return view


def test_a_submission_carries_the_view_state_bolt_reads_and_closes_the_modal(slack: Slack) -> None:
    view = open_modal(slack)
    with driven_app(slack) as (app, driver):
        assert driver.submit_view(view, {"r": {"v": "Customer disputes it"}}).status_code == 200
        with pytest.raises(LookupError, match="not open"):
            driver.submit_view(view, {"r": {"v": "again"}})
    body = bolt_request(app.received[0]).body
    assert is_view_submission(body)
    submitted = to_view(body)
    assert submitted is not None
    assert submitted["state"]["values"]["r"]["v"] == {"type": "plain_text_input", "value": "Customer disputes it"}
    assert submitted["state"]["values"]["note"]["n"] == {"type": "plain_text_input", "value": None}
    assert (submitted["callback_id"], submitted["private_metadata"], submitted["id"]) == (
        "reject_reason",
        '{"ts": "1"}',
        view["id"],
    )
    assert body["user"]["id"] == "U0BEN"  # the user the modal was opened for
    assert slack.store.open_views == []


def test_a_submission_must_fill_required_inputs_that_exist(slack: Slack) -> None:
    view = open_modal(slack)
    with driven_app(slack) as (app, driver):
        with pytest.raises(ValueError, match="required"):
            driver.submit_view(view, {"note": {"n": "just a note"}})
        with pytest.raises(LookupError, match="nope"):
            driver.submit_view(view, {"r": {"v": "x"}, "nope": {"v": "x"}})
    assert app.received == []


def test_errors_keep_the_modal_open_and_update_replaces_it(slack: Slack) -> None:
    view = open_modal(slack)
    errors = json.dumps({"response_action": "errors", "errors": {"r": "Please give a reason"}}).encode()
    with driven_app(slack, answering(errors)) as (_, driver):
        driver.submit_view(view, {"r": {"v": "no"}})
    assert [v["id"] for v in slack.store.open_views] == [view["id"]]
    replaced = {**reason_modal(), "title": {"type": "plain_text", "text": "Thanks"}}
    update = json.dumps({"response_action": "update", "view": replaced}).encode()
    with driven_app(slack, answering(update)) as (_, driver):
        driver.submit_view(view, {"r": {"v": "a real reason"}})
    (still_open,) = slack.store.open_views
    assert still_open["title"]["text"] == "Thanks"


# -- waiting -----------------------------------------------------------------------------------------------------
def test_wait_for_returns_the_first_truthy_answer_or_times_out(slack: Slack) -> None:
    with driven_app(slack) as (_, driver):
        slack.client().chat_postMessage(channel=CHANNEL, text="there")
        assert driver.wait_for(lambda: slack.store.messages(CHANNEL))[0]["text"] == "there"
        assert [call.method for call in driver.wait_for_calls("chat.postMessage")] == ["chat.postMessage"]
        with pytest.raises(TimeoutError):
            driver.wait_for(lambda: slack.store.ephemerals("U0ANA"), timeout=0.05)


def test_the_driver_needs_a_slack_sandbox_server(slack: Slack) -> None:
    from sandbox.connectwise import serve_connectwise
    from sandbox.slack import SlackDriver

    other = serve_connectwise()
    try:
        with pytest.raises(TypeError):
            SlackDriver("http://127.0.0.1:9", server=other, workspace=WORKSPACE)
    finally:
        other.stop()
