"""What a person types after /tally, read into a subcommand, or refused with the reason and the usage to show."""

from __future__ import annotations

import pytest

from bot.slack.errors import UsageError
from bot.slack.listeners.parsing import Parsed, parse


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", Parsed("help")),
        ("   ", Parsed("help")),
        ("HELP payments", Parsed("help", "payments")),
        ("status", Parsed("status")),
        ("check", Parsed("check")),
        ("payments", Parsed("payments")),
        ("payments 10231", Parsed("payments", "10231")),
        ("payments Acme  Holdings", Parsed("payments", "Acme Holdings")),
        ("credits CM-10393", Parsed("credits", "CM-10393")),
        ("mirror", Parsed("mirror")),
        ("explain 10231", Parsed("explain", "10231")),
        ("ar acme", Parsed("ar", "acme")),
        ("actions", Parsed("actions")),
        ("actions Failed", Parsed("actions", "failed")),
        ("history", Parsed("history", "20")),
        ("history 100", Parsed("history", "100")),
        ("digest", Parsed("digest")),
        ("connect", Parsed("connect")),
    ],
)
def test_what_is_understood(text: str, parsed: Parsed) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("frobnicate", None),
        ("explain", "explain"),
        ("explain 1 2", "explain"),
        ("history -3", "history"),
        ("history 101", "history"),
        ("history ten", "history"),
        ("actions pending", "actions"),
        ("check now", "check"),
        ("connect quickbooks", "connect"),
        ("payments " + "x" * 200, "payments"),
    ],
)
def test_what_is_refused_names_the_command_it_was_meant_for(text: str, topic: str | None) -> None:
    with pytest.raises(UsageError) as refused:
        parse(text)
    assert refused.value.topic == topic
    assert refused.value.sentence
