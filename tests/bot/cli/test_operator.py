"""Who may approve from a terminal: the login's person, as TALLY_APPROVERS or the approver group names them."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine

from bot.cli.actions import operator, operator_check
from sync.db import session_scope
from sync.models import SlackApproverCache, utcnow
from sync.people import os_login
from sync.settings import load_settings


def test_a_mapped_login_approves_as_its_person_listed_directly_or_in_the_cached_group(engine: Engine) -> None:
    settings = load_settings(
        _env_file=None, TALLY_OPERATORS=f"{os_login()}:U0CARL", TALLY_APPROVERS="U0ANA", TALLY_APPROVER_GROUP="S0X"
    )
    assert operator(settings).key == "U0CARL"
    assert not operator_check(settings, engine)("U0CARL")  # not an approver yet: Slack never said so
    with session_scope(engine) as session:
        session.add(SlackApproverCache(usergroup="S0X", members=json.dumps(["U0CARL"]), fetched_at=utcnow()))
    assert operator_check(settings, engine)("U0CARL")
    assert operator_check(settings, engine)("U0ANA")


def test_an_unmapped_login_approves_only_when_listed_by_its_login() -> None:
    listed = load_settings(_env_file=None, TALLY_APPROVERS=f"U0ANA,{os_login()}")
    assert operator(listed).key == f"cli:{os_login()}"
    assert operator_check(listed)(f"cli:{os_login()}")
    assert not operator_check(load_settings(_env_file=None, TALLY_APPROVERS="U0ANA"))(f"cli:{os_login()}")
