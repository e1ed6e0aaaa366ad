"""Connect links: issued to one admin, opened once within ten minutes, finished once in the browser that opened
them; every refusal audited; only hashes stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from sync.db import session_scope
from sync.models import AuditEvent, QBOConnectLink
from sync.qbo_auth.links import ConnectLinks, LinkRefused
from tests.bot.records import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def trail(engine: Engine) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [(e.actor, e.verb, e.detail) for e in events if e.verb.startswith("qbo.")]


def refused(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(LinkRefused) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.why


def test_a_link_opens_once_within_ten_minutes_and_finishes_once_in_its_browser(engine: Engine) -> None:
    clock = Clock()
    links = ConnectLinks(engine, now=clock)
    token = links.issue("U0ANA")
    opened = links.open(token, state="state-1")
    assert opened.admin == "U0ANA"
    assert refused(links.open, token, state="state-2") == "link already used"
    assert refused(links.finish, "state-1", "someone-elses-cookie") == "callback in another browser"
    assert refused(links.finish, "state-1", None) == "callback in another browser"
    assert refused(links.finish, "forged-state", opened.browser_secret) == "callback without a link"
    finishing = links.finish("state-1", opened.browser_secret)
    assert (finishing.link_id, finishing.admin) == (opened.link_id, "U0ANA")
    assert refused(links.finish, "state-1", opened.browser_secret) == "callback already used"
    links.connected(finishing, "9130350000000001")
    assert [verb for _, verb, _ in trail(engine)] == [
        "qbo.connect_link_issued",
        "qbo.connect_link_opened",
        *["qbo.connect_link_refused"] * 5,
        "qbo.connected",
    ]
    assert {actor for actor, verb, _ in trail(engine) if verb != "qbo.connect_link_refused"} == {"U0ANA"}


def test_expired_unknown_and_missing_links_are_refused(engine: Engine) -> None:
    clock = Clock()
    links = ConnectLinks(engine, now=clock)
    token = links.issue("U0BEN")
    clock.now += timedelta(minutes=10, seconds=1)
    assert refused(links.open, token, state="s") == "link expired"
    assert refused(links.open, "made-up", state="s") == "unknown link"
    assert refused(links.open, None, state="s") == "no link"
    assert trail(engine)[1:] == [
        ("U0BEN", "qbo.connect_link_refused", "link expired"),
        ("web", "qbo.connect_link_refused", "unknown link"),
        ("web", "qbo.connect_link_refused", "no link"),
    ]


def test_a_sign_in_that_takes_longer_than_the_link_lasts_is_refused(engine: Engine) -> None:
    clock = Clock()
    links = ConnectLinks(engine, now=clock)
    opened = links.open(links.issue("U0ANA"), state="slow")
    clock.now += timedelta(minutes=11)
    assert refused(links.finish, "slow", opened.browser_secret) == "callback too late"


def test_two_browsers_racing_for_one_link_cannot_both_open_it(engine: Engine) -> None:
    links = ConnectLinks(engine)
    token = links.issue("U0ANA")

    def attempt(n: int) -> bool:
        try:
            links.open(token, state=f"state-{n}")
        except LinkRefused:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(attempt, range(8)))
    assert wins.count(True) == 1


def test_only_hashes_are_stored(engine: Engine) -> None:
    links = ConnectLinks(engine)
    token = links.issue("U0ANA")
    opened = links.open(token, state="the-state")
    with session_scope(engine) as session:
        (row,) = session.exec(select(QBOConnectLink)).all()
        stored = " ".join(str(value) for value in row.model_dump().values())
    for secret in (token, "the-state", opened.browser_secret):
        assert secret not in stored
