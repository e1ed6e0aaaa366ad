"""The Slack Web API stand-in through the real slack_sdk WebClient: identity, messages, auth, groups, 429s, admin."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.slack import SlackStore, SlackWorkspace
from sandbox.web import Faults
from tests.sandbox.slack_fixtures import CHANNEL, WORKSPACE, Slack, approval_card, running_slack, section, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def test_auth_test_names_the_bot_and_team(slack: Slack) -> None:
    answer = slack.client().auth_test()
    assert answer["ok"] is True
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == ("T0TALLY", "U0TALLYBOT", "B0TALLYBOT")
    assert answer["url"].startswith("https://")
    assert answer["team"]
    assert answer["user"]


def test_post_then_update_shows_the_new_text_and_keeps_every_version(slack: Slack) -> None:
    client = slack.client()
    posted = client.chat_postMessage(channel=CHANNEL, text="Write off?", blocks=approval_card())
    assert posted["channel"] == CHANNEL
    assert posted["message"]["text"] == "Write off?"
    updated = client.chat_update(channel=CHANNEL, ts=posted["ts"], text="Approved by <@U0ANA>", blocks=[])
    assert (updated["channel"], updated["ts"], updated["text"]) == (CHANNEL, posted["ts"], "Approved by <@U0ANA>")
    (current,) = slack.store.messages(CHANNEL)
    assert current["text"] == "Approved by <@U0ANA>"
    assert "blocks" not in current  # blocks=[] removed them
    versions = slack.store.history(CHANNEL, posted["ts"])
    assert [version["text"] for version in versions] == ["Write off?", "Approved by <@U0ANA>"]
    assert versions[0]["blocks"] == approval_card()


def test_update_without_blocks_keeps_the_blocks(slack: Slack) -> None:
    client = slack.client()
    posted = client.chat_postMessage(channel=CHANNEL, text="Write off?", blocks=approval_card())
    client.chat_update(channel=CHANNEL, ts=posted["ts"], text="Still waiting")
    assert slack.store.messages(CHANNEL)[0]["blocks"] == approval_card()


def test_timestamps_are_unique_and_increasing(slack: Slack) -> None:
    client = slack.client()
    stamps = [client.chat_postMessage(channel=CHANNEL, text=f"n{n}")["ts"] for n in range(5)]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=float)
    assert all(len(stamp.split(".")[1]) == 6 for stamp in stamps)


def test_thread_replies_are_recorded_under_their_thread(slack: Slack) -> None:
    client = slack.client()
    parent = client.chat_postMessage(channel="#finance", text="Digest")
    reply = client.chat_postMessage(channel=CHANNEL, text="details", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert [m["text"] for m in slack.store.replies(CHANNEL, parent["ts"])] == ["details"]
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=CHANNEL, text="lost", thread_ts="1.000001")
    assert refused.value.response["error"] == "thread_not_found"


def test_ephemeral_is_seen_by_its_user_only(slack: Slack) -> None:
    answer = slack.client().chat_postEphemeral(channel=CHANNEL, user="U0BEN", text="Only approvers can do that.")
    (seen,) = slack.store.ephemerals("U0BEN")
    assert seen["ts"] == answer["message_ts"]
    assert seen["text"] == "Only approvers can do that."
    assert slack.store.ephemerals("U0ANA") == []
    assert slack.store.messages(CHANNEL) == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.chat_update(channel=CHANNEL, ts="1700000000.000100", text="x"), "message_not_found"),
        (lambda c: c.chat_postMessage(channel="C0NOWHERE", text="x"), "channel_not_found"),
        (lambda c: c.chat_postEphemeral(channel=CHANNEL, user="U0NOBODY", text="x"), "user_not_found"),
        (lambda c: c.usergroups_users_list(usergroup="S0NOPE"), "no_such_subteam"),
    ],
)
def test_refusals_raise_slack_api_error_with_slacks_code(slack: Slack, call: object, error: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        call(slack.client())  # type: ignore[operator]
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == error
    assert slack.store.messages(CHANNEL) == []


def test_a_message_without_text_or_blocks_is_refused(slack: Slack) -> None:
    with pytest.warns(UserWarning, match="text"), pytest.raises(SlackApiError) as refused:  # slack_sdk warns too
        slack.client().chat_postMessage(channel=CHANNEL)
    assert refused.value.response["error"] == "no_text"
    assert slack.store.messages(CHANNEL) == []


def test_a_message_someone_else_wrote_cannot_be_updated(slack: Slack) -> None:
    human = slack.store.plant_message(CHANNEL, "U0CARL", "hello")
    with pytest.raises(SlackApiError) as refused:
        slack.client().chat_update(channel=CHANNEL, ts=human["ts"], text="edited")
    assert refused.value.response["error"] == "cant_update_message"
    assert slack.store.messages(CHANNEL)[0]["text"] == "hello"


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")])
def test_missing_or_wrong_token_is_refused_with_http_200(slack: Slack, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack.client(token=token).chat_postMessage(channel=CHANNEL, text="x")
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == error
    assert slack.store.messages(CHANNEL) == []
    assert slack.store.calls[-1].error == error


def test_usergroup_members_and_channel_members(slack: Slack) -> None:
    client = slack.client()
    assert client.usergroups_users_list(usergroup="S0APPROVERS")["users"] == ["U0ANA", "U0BEN"]
    members = client.conversations_members(channel=CHANNEL)["members"]
    assert set(members) == {"U0ANA", "U0BEN", "U0CARL", "U0GUS", "U0TALLYBOT"}
    (call,) = slack.store.calls_to("usergroups.users.list")
    assert call.body == {"usergroup": "S0APPROVERS"}


def test_form_bodies_query_strings_and_body_tokens_work_for_every_method(slack: Slack) -> None:
    api = slack.api
    form = {"token": WORKSPACE.bot_token, "channel": CHANNEL, "text": "hi", "blocks": json.dumps([section("hi")])}
    posted = httpx.post(f"{api}chat.postMessage", data=form).json()
    assert posted["ok"] is True
    assert slack.store.messages(CHANNEL)[0]["blocks"] == [section("hi")]
    auth = {"Authorization": f"Bearer {WORKSPACE.bot_token}"}
    listed = httpx.get(f"{api}usergroups.users.list", params={"usergroup": "S0APPROVERS"}, headers=auth).json()
    assert listed["users"] == ["U0ANA", "U0BEN"]
    bad = httpx.post(f"{api}chat.postMessage", data={**form, "blocks": "{not json"}).json()
    assert bad["error"] == "invalid_blocks_format"
    unknown = httpx.post(f"{api}chat.nothing", headers=auth)
    assert (unknown.status_code, unknown.json()["error"]) == (200, "unknown_method")
    assert "token" not in slack.store.calls[0].body


def test_rate_limit_answers_429_with_retry_after() -> None:
    with running_slack(faults=Faults(rate_limit=1)) as limited:
        client = limited.client()
        client.chat_postMessage(channel=CHANNEL, text="first")
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel=CHANNEL, text="second")
        response = refused.value.response
        assert response.status_code == 429
        assert response["error"] == "ratelimited"
        assert int(response.headers["Retry-After"]) >= 1
        assert [m["text"] for m in limited.store.messages(CHANNEL)] == ["first"]
        assert limited.store.calls[-1].error == "ratelimited"
        assert client.auth_test()["ok"] is True  # limits count per method, as Slack's tiers do


def test_rate_limit_retry_handler_rides_out_an_injected_429(slack: Slack) -> None:
    slack.admin("faults", {"fail_next": {"count": 1, "status": 429, "match": "chat.postMessage"}})
    client = slack.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    answer = client.chat_postMessage(channel=CHANNEL, text="eventually")
    assert answer["ok"] is True
    assert time.monotonic() - started >= 1.0  # it honoured Retry-After: 1
    assert [call.error for call in slack.store.calls_to("chat.postMessage")] == ["ratelimited", None]
    assert len(slack.store.messages(CHANNEL)) == 1


def test_admin_endpoints_list_calls_and_messages_and_reset(slack: Slack) -> None:
    slack.client().chat_postMessage(channel=CHANNEL, text="hello")
    calls = httpx.get(f"{slack.server.url}/_sandbox/calls").json()
    assert [(call["method"], call["ok"], call["body"]["text"]) for call in calls] == [
        ("chat.postMessage", True, "hello")
    ]
    listed = httpx.get(f"{slack.server.url}/_sandbox/messages", params={"channel": CHANNEL}).json()
    assert [message["text"] for message in listed] == ["hello"]
    assert slack.admin("reset") == {"ok": True}
    assert slack.store.messages(CHANNEL) == []
    assert slack.store.calls == []
    assert httpx.get(f"{slack.server.url}/_sandbox/messages", params={"channel": "nope"}).status_code == 404


def test_a_custom_workspace_and_a_given_store() -> None:
    workspace = SlackWorkspace(bot_token="xoxb-other", channels={"C0OPS": "ops"}, usergroups={})
    store = SlackStore(workspace)
    with running_slack(store=store) as custom:
        client = custom.client(token="xoxb-other")
        assert client.chat_postMessage(channel="ops", text="hi")["channel"] == "C0OPS"
        assert store.messages("C0OPS")[0]["text"] == "hi"
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel=CHANNEL, text="hi")
    with pytest.raises(ValueError, match="workspace"):
        running_slack(store=store, workspace=SlackWorkspace()).__enter__()


def test_users_info_tells_members_from_guests(slack: Slack) -> None:
    client = slack.client()
    ana = client.users_info(user="U0ANA")["user"]
    gus = client.users_info(user="U0GUS")["user"]
    assert (ana["is_restricted"], ana["is_ultra_restricted"], ana["is_bot"]) == (False, False, False)
    assert (gus["is_restricted"], gus["is_ultra_restricted"]) == (True, False)
    with pytest.raises(SlackApiError) as refused:
        client.users_info(user="U0NOBODY")
    assert refused.value.response["error"] == "user_not_found"
