"""A real slack_bolt App against the sandbox, end to end over loopback HTTP: command, card, click, modal, update.

This is the proof that an app written for Slack cannot tell the sandbox from it on this path: bolt calls
``auth.test`` at start, verifies the driver's signatures, and its ``client``/``respond`` reach the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from sandbox.slack import SlackDriver
from tests.sandbox.slack_fixtures import CHANNEL, WORKSPACE, Slack, approval_card, driven_app, reason_modal, slack

__all__ = ["slack"]  # the fixture, imported for pytest

APPROVERS = "S0APPROVERS"


def build_app(slack: Slack, *, process_before_response: bool) -> App:
    """A small approval bot: /tally posts a card; approvers approve or reject with a reason."""
    app = App(
        client=WebClient(token=WORKSPACE.bot_token, base_url=slack.api),
        signing_secret=WORKSPACE.signing_secret,
        process_before_response=process_before_response,
    )

    @app.command("/tally")
    def tally(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack(text=f"Checking {command['text']}…")
        client.chat_postMessage(channel=command["channel_id"], text="Write off INV-1001?", blocks=approval_card())

    def approvers_only(body: dict[str, Any], client: WebClient, respond: Respond, ack: Ack, next: Any) -> Any:
        if body["user"]["id"] in client.usergroups_users_list(usergroup=APPROVERS)["users"]:
            return next()
        respond(text="Only approvers can do that.", response_type="ephemeral", replace_original=False)
        return ack()

    @app.action("approve", middleware=[approvers_only])
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(replace_original=True, text=f"Approved by <@{body['user']['id']}>")

    @app.action("reject", middleware=[approvers_only])
    def reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        metadata = json.dumps({"ch": body["channel"]["id"], "ts": body["message"]["ts"]})
        client.views_open(trigger_id=body["trigger_id"], view=reason_modal(metadata))

    @app.view("reject_reason")
    def reason(ack: Ack, view: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        text = view["state"]["values"]["r"]["v"]["value"]
        if len(text) < 5:
            ack(response_action="errors", errors={"r": "Please give a reason"})
            return
        ack()
        meta = json.loads(view["private_metadata"])
        client.chat_update(
            channel=meta["ch"], ts=meta["ts"], text=f"Rejected by <@{body['user']['id']}>: {text}", blocks=[]
        )

    return app


@pytest.fixture(params=[True, False], ids=["process_before_response", "ack_first"])
def driver(slack: Slack, request: pytest.FixtureRequest) -> Iterator[SlackDriver]:
    """A driver towards the bolt app, served by bolt's WSGI adapter on loopback."""
    app = build_app(slack, process_before_response=request.param)
    with driven_app(slack, SlackRequestHandler(app)) as (_, running):
        yield running


def test_bolt_starts_against_the_sandbox_with_auth_test(slack: Slack, driver: SlackDriver) -> None:
    assert [call.method for call in slack.store.calls] == ["auth.test"]


def test_command_posts_a_card_and_an_approver_approves_it(slack: Slack, driver: SlackDriver) -> None:
    assert driver.command("check INV-1001").status_code == 200
    (card,) = driver.wait_for(lambda: slack.store.messages(CHANNEL))
    assert [m["text"] for m in slack.store.ephemerals("U0ANA")] == ["Checking check INV-1001…"]
    assert driver.click(card, "approve", user="U0BEN").status_code == 200
    driver.wait_for(lambda: slack.store.messages(CHANNEL)[0]["text"].startswith("Approved"))
    (approved,) = slack.store.messages(CHANNEL)
    assert approved["text"] == "Approved by <@U0BEN>"
    assert "blocks" not in approved
    with pytest.raises(LookupError):
        driver.click(approved, "approve")  # the buttons are gone


def test_a_non_approver_is_told_privately_and_nothing_changes(slack: Slack, driver: SlackDriver) -> None:
    driver.command("check INV-1001")
    (card,) = driver.wait_for(lambda: slack.store.messages(CHANNEL))
    driver.click(card, "approve", user="U0CARL")
    (told,) = driver.wait_for(lambda: slack.store.ephemerals("U0CARL"))
    assert told["text"] == "Only approvers can do that."
    assert slack.store.messages(CHANNEL)[0]["text"] == "Write off INV-1001?"


def test_reject_asks_for_a_reason_in_a_modal_then_updates_the_card(slack: Slack, driver: SlackDriver) -> None:
    driver.command("check INV-1001")
    (card,) = driver.wait_for(lambda: slack.store.messages(CHANNEL))
    driver.click(card, "reject", user="U0ANA")
    (modal,) = driver.wait_for(lambda: slack.store.open_views)
    too_short = driver.submit_view(modal, {"r": {"v": "no"}})
    assert too_short.json() == {"response_action": "errors", "errors": {"r": "Please give a reason"}}
    assert [view["id"] for view in slack.store.open_views] == [modal["id"]]
    assert driver.submit_view(modal, {"r": {"v": "Customer paid by card"}}).status_code == 200
    driver.wait_for(lambda: slack.store.messages(CHANNEL)[0]["text"].startswith("Rejected"))
    assert slack.store.messages(CHANNEL)[0]["text"] == "Rejected by <@U0ANA>: Customer paid by card"
    assert slack.store.open_views == []


def test_bolt_refuses_a_forged_signature(slack: Slack, driver: SlackDriver) -> None:
    assert driver.command("check", secret="forged").status_code == 401
    assert slack.store.messages(CHANNEL) == []
