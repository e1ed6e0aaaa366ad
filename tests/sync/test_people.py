"""People, not strings: the terminal is the OS login, mapped to one person; settings cannot make it two."""

from __future__ import annotations

import os
import pwd

import pytest

from sync.people import as_actor, os_login, parse_operators, slack_actor, terminal_actor
from sync.settings import load_settings


def test_the_terminal_login_is_asked_of_the_system_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    assert os_login() == pwd.getpwuid(os.getuid()).pw_name != "someone-else"


def test_a_mapped_login_is_its_person_and_an_unmapped_one_counts_as_nobody() -> None:
    operators = parse_operators("ana:U0ANA, ben:U0BEN")
    assert operators == {"ana": "U0ANA", "ben": "U0BEN"}
    ana = terminal_actor(operators, login="ana")
    assert (ana.key, ana.person, ana.channel, ana.counts_as_person) == ("U0ANA", "U0ANA", "cli", True)
    carl = terminal_actor(operators, login="carl")
    assert (carl.key, carl.person, carl.counts_as_person) == ("cli:carl", None, False)
    assert ana.key == slack_actor("U0ANA").key  # the same person, whichever way they came


def test_one_login_cannot_be_two_people() -> None:
    with pytest.raises(ValueError, match="one login is one person"):
        parse_operators("ana:U0ANA,ana:U0BEN")
    assert parse_operators("ana:U0ANA,ana:U0ANA") == {"ana": "U0ANA"}  # said twice, still one person


@pytest.mark.parametrize("value", ["ana", "ana:", ":U0ANA", "ana:ben"])
def test_a_mapping_that_names_no_slack_user_is_refused_with_the_form_to_use(value: str) -> None:
    with pytest.raises(ValueError, match="LOGIN:SLACK_USER_ID"):
        parse_operators(value)


def test_tally_operator_is_refused_pointing_at_tally_operators() -> None:
    with pytest.raises(ValueError, match="TALLY_OPERATORS=ana:U0ANA"):
        load_settings(_env_file=None, TALLY_OPERATOR="ben")


def test_settings_name_the_terminal_as_its_person() -> None:
    login = os_login()
    assert load_settings(_env_file=None, TALLY_OPERATORS=f"{login}:U0ANA").operator == "U0ANA"
    assert load_settings(_env_file=None).operator == f"cli:{login}"


def test_names_given_by_key_become_actors() -> None:
    assert as_actor("U0ANA").channel == "slack"
    assert (as_actor("cli:ana").channel, as_actor("cli:ana").counts_as_person) == ("cli", False)
    assert as_actor("scheduler").counts_as_person is False
