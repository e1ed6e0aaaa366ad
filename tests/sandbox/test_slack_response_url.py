"""response_urls the driver hands out, posted to with slack_sdk's WebhookClient (what bolt's ``respond`` uses)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.webhook import WebhookClient

from tests.sandbox.slack_fixtures import CHANNEL, LoopbackApp, Slack, approval_card, driven_app, section, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def last_payload(app: LoopbackApp) -> dict[str, object]:
    """The last form (slash command) or ``payload=`` JSON (interaction) the app received."""
    form = {key: values[0] for key, values in parse_qs(app.received[-1].body).items()}
    if "payload" in form:
        payload: dict[str, object] = json.loads(form["payload"])
        return payload
    return dict(form)


def command_url(slack: Slack) -> str:
    """Run ``/tally`` as ana and return the response_url Slack sent with it."""
    with driven_app(slack) as (app, driver):
        assert driver.command("check").status_code == 200
        return str(last_payload(app)["response_url"])


def click_url(slack: Slack, *, ephemeral: bool = False) -> tuple[str, str]:
    """Post an approval card (to ana only if ``ephemeral``), click Approve as ana; return (response_url, ts)."""
    client = slack.client()
    if ephemeral:
        ts = client.chat_postEphemeral(channel=CHANNEL, user="U0ANA", text="Write off?", blocks=approval_card())[
            "message_ts"
        ]
        message = slack.store.ephemerals("U0ANA")[0]
    else:
        ts = client.chat_postMessage(channel=CHANNEL, text="Write off?", blocks=approval_card())["ts"]
        message = slack.store.messages(CHANNEL)[0]
    with driven_app(slack) as (app, driver):
        assert driver.click(message, "approve").status_code == 200
        return str(last_payload(app)["response_url"]), ts


def test_a_response_is_ephemeral_to_the_user_by_default(slack: Slack) -> None:
    answer = WebhookClient(command_url(slack)).send(text="Checking INV-1001…")
    assert (answer.status_code, json.loads(answer.body)) == (200, {"ok": True})
    assert [m["text"] for m in slack.store.ephemerals("U0ANA", CHANNEL)] == ["Checking INV-1001…"]
    assert slack.store.messages(CHANNEL) == []


def test_an_in_channel_response_is_a_bot_message_everyone_sees(slack: Slack) -> None:
    WebhookClient(command_url(slack)).send(text="Sync started", response_type="in_channel", blocks=[section("go")])
    (message,) = slack.store.messages(CHANNEL)
    assert message["text"] == "Sync started"
    assert message["blocks"] == [section("go")]
    assert message["bot_id"] == slack.store.workspace.bot_id
    assert slack.store.ephemerals("U0ANA") == []


def test_replace_original_rewrites_the_clicked_message(slack: Slack) -> None:
    url, ts = click_url(slack)
    assert WebhookClient(url).send(replace_original=True, text="Approved by <@U0ANA>").status_code == 200
    (message,) = slack.store.messages(CHANNEL)
    assert (message["ts"], message["text"]) == (ts, "Approved by <@U0ANA>")
    assert "blocks" not in message
    assert len(slack.store.history(CHANNEL, ts)) == 2


def test_replace_original_works_on_an_ephemeral_message_too(slack: Slack) -> None:
    url, ts = click_url(slack, ephemeral=True)
    WebhookClient(url).send(replace_original=True, text="Done")
    (message,) = slack.store.ephemerals("U0ANA")
    assert (message["ts"], message["text"]) == (ts, "Done")


def test_delete_original_removes_the_message_but_keeps_its_history(slack: Slack) -> None:
    url, ts = click_url(slack)
    assert WebhookClient(url).send(delete_original=True).status_code == 200
    assert slack.store.messages(CHANNEL) == []
    assert slack.store.history(CHANNEL, ts)[0]["text"] == "Write off?"


def test_without_replace_original_a_click_response_is_a_new_message(slack: Slack) -> None:
    url, _ = click_url(slack)
    WebhookClient(url).send(text="Only approvers can do that.", replace_original=False)
    assert [m["text"] for m in slack.store.ephemerals("U0ANA")] == ["Only approvers can do that."]
    assert slack.store.messages(CHANNEL)[0]["text"] == "Write off?"


def test_replace_original_from_a_slash_command_has_no_original(slack: Slack) -> None:
    answer = WebhookClient(command_url(slack)).send(replace_original=True, text="x")
    assert answer.status_code == 404
    assert json.loads(answer.body)["error"] == "message_not_found"


def test_invalid_blocks_are_a_400_and_change_nothing(slack: Slack) -> None:
    url, _ = click_url(slack)
    answer = WebhookClient(url).send(replace_original=True, text="x", blocks=[section("x" * 3001)])
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"] == "invalid_blocks"
    assert slack.store.messages(CHANNEL)[0]["text"] == "Write off?"
    assert slack.store.responses[-1]["error"] == "invalid_blocks"


def test_a_response_url_takes_five_posts(slack: Slack) -> None:
    hook = WebhookClient(command_url(slack))
    assert [hook.send(text=f"n{n}").status_code for n in range(5)] == [200] * 5
    sixth = hook.send(text="n5")
    assert (sixth.status_code, json.loads(sixth.body)["error"]) == (404, "used_url")
    assert len(slack.store.ephemerals("U0ANA")) == 5


def test_a_response_url_expires_after_thirty_minutes(slack: Slack) -> None:
    url = command_url(slack)
    slack.advance(31 * 60)
    expired = WebhookClient(url).send(text="late")
    assert (expired.status_code, json.loads(expired.body)["error"]) == (404, "expired_url")
    assert slack.store.ephemerals("U0ANA") == []


@pytest.mark.parametrize("body", [b"not json", b"[1]"])
def test_a_body_that_is_not_a_json_object_is_a_400(slack: Slack, body: bytes) -> None:
    answer = httpx.post(command_url(slack), content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_an_unknown_response_url_is_a_404(slack: Slack) -> None:
    assert WebhookClient(f"{slack.server.url}/response/nope").send(text="x").status_code == 404
