"""People, not strings: who is acting, whichever way they reach Tally.

- A **person** is a Slack user id (``U0ANA``). Approvals are counted per person.
- A **terminal operator** is the OS login of the process (``pwd.getpwuid(os.getuid())``: the kernel's answer, not
  ``$USER`` or ``$LOGNAME``, which any shell can set). ``TALLY_OPERATORS=ana:U0ANA,ben:U0BEN`` maps logins to people;
  ana approving in Slack and again in the terminal is one approval.
- A login mapped to nobody is still named in the audit trail (``cli:<login>``), but its approval never counts toward
  dual approval: Tally cannot tell which person it is, so it cannot tell that person from the other approver.
- No setting lets one login act as two people: a login mapped twice is refused, and ``TALLY_OPERATOR`` (which once
  named the terminal operator freely) is refused with the sentence pointing at ``TALLY_OPERATORS``.
"""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass

SLACK = "slack"
CLI = "cli"
POLICY = "policy"
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")


@dataclass(frozen=True)
class Actor:
    """Who does something and how they reached Tally.

    ``key`` is what approvals and the audit trail record: the person's Slack user id, or ``cli:<login>`` for a
    terminal login mapped to nobody. ``person`` is the Slack user id when Tally knows it.
    """

    key: str
    channel: str
    person: str | None = None
    login: str | None = None

    @property
    def counts_as_person(self) -> bool:
        """Whether an approval from this actor counts toward dual approval (Tally knows which person it is)."""
        return self.person is not None


def is_person(key: str) -> bool:
    """Tell whether an approval key names a person (a Slack user id) rather than an unmapped login."""
    return bool(_SLACK_USER.match(key))


def os_login() -> str:
    """The login of the user this process runs as, asked of the system by uid (environment variables ignored)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers): name it by number, mapped to nobody
        return f"uid{os.getuid()}"


def parse_operators(value: object) -> dict[str, str]:
    """Parse ``ana:U0ANA,ben:U0BEN`` into login -> Slack user id; a login mapped twice is refused."""
    if isinstance(value, dict):
        pairs = [f"{login}:{person}" for login, person in value.items()]
    else:
        pairs = [part.strip() for part in str(value or "").split(",") if part.strip()]
    mapping: dict[str, str] = {}
    for pair in pairs:
        login, _, person = (piece.strip() for piece in pair.partition(":"))
        if not login or not _SLACK_USER.match(person):
            raise ValueError(f"{pair!r} is not LOGIN:SLACK_USER_ID, e.g. ana:U0ANA")
        if login in mapping and mapping[login] != person:
            raise ValueError(
                f"login {login!r} is mapped to both {mapping[login]} and {person}: one login is one person"
            )
        mapping[login] = person
    return mapping


def slack_actor(user_id: str) -> Actor:
    """A person clicking or typing in Slack."""
    return Actor(key=user_id, channel=SLACK, person=user_id)


def as_actor(who: str | Actor) -> Actor:
    """An ``Actor`` for a caller that names someone by key: a Slack user id, ``cli:<login>``, or ``scheduler``."""
    if isinstance(who, Actor):
        return who
    if is_person(who):
        return slack_actor(who)
    if who.startswith("cli:"):
        return Actor(key=who, channel=CLI, login=who.removeprefix("cli:"))
    return Actor(key=who, channel="")


def terminal_actor(operators: dict[str, str], login: str | None = None) -> Actor:
    """The person at the terminal: the OS login, mapped through ``TALLY_OPERATORS`` (``cli:<login>`` if unmapped)."""
    login = login or os_login()
    person = operators.get(login)
    return Actor(key=person or f"cli:{login}", channel=CLI, person=person, login=login)


def unmapped_sentence(actor: Actor) -> str:
    """Say why an unmapped terminal login's approval does not count toward dual approval, and what to set."""
    return (
        f"The terminal login {actor.login!r} is not mapped to a person, so its approval does not count toward the "
        f"two different people this fix needs; map it with TALLY_OPERATORS={actor.login}:<your Slack user id>."
    )
