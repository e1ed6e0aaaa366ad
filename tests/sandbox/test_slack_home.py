"""views.publish in the Slack sandbox: a ``home`` view per user, validated like Slack does, replaced on republish."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from tests.sandbox.slack_fixtures import Slack, section, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def test_a_published_home_tab_is_what_that_user_sees(slack: Slack) -> None:
    client = slack.client()
    first = client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [section("Hello")]})
    assert first["view"]["type"] == "home"
    again = client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [section("Again")]})
    assert again["view"]["id"] == first["view"]["id"]
    shown = slack.store.home("U0ANA")
    assert shown is not None
    assert shown["blocks"][0]["text"]["text"] == "Again"
    assert slack.store.home("U0BEN") is None


def test_a_modal_unknown_user_or_bad_block_is_refused(slack: Slack) -> None:
    client = slack.client()
    with pytest.raises(SlackApiError) as modal:
        client.views_publish(user_id="U0ANA", view={"type": "modal", "blocks": []})
    assert modal.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as nobody:
        client.views_publish(user_id="U0NOBODY", view={"type": "home", "blocks": []})
    assert nobody.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as bad:
        client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [{"type": "nonsense"}]})
    assert bad.value.response["error"] == "invalid_arguments"
