"""Progress of a long check: one channel message, updated as streams are read, replaced by the result."""

from __future__ import annotations

from bot.slack.blocks.common import Message
from bot.slack.progress import SlackProgress
from tests.sandbox.slack_fixtures import CHANNEL, Slack, slack

__all__ = ["slack"]  # the fixture, imported for pytest


def test_progress_updates_one_message_then_the_result_replaces_it(slack: Slack) -> None:
    progress = SlackProgress(slack.client(), channel=CHANNEL, actor="U0ANA", every=0)
    assert progress.start()
    progress("cw.invoices", 1000, None)
    progress("qbo.cdc", 40, None)
    assert progress.finish(Message(text="Check done"))
    progress("cw.invoices", 5, None)  # too late: nothing lands after the result
    (message,) = slack.store.messages(CHANNEL)
    versions = [version["text"] for version in slack.store.history(CHANNEL, message["ts"])]
    assert versions == ["Checking ConnectWise and QuickBooks…"] * 3 + ["Check done"]
    assert "cw.invoices 1,000 · qbo.cdc 40" in str(slack.store.history(CHANNEL, message["ts"])[2]["blocks"])


def test_where_the_bot_cannot_post_there_is_no_progress_and_no_error(slack: Slack) -> None:
    progress = SlackProgress(slack.client(), channel="C0NOWHERE", actor="U0ANA", every=0)
    assert not progress.start()
    progress("cw.invoices", 10, None)
    assert not progress.finish(Message(text="Check done"))
