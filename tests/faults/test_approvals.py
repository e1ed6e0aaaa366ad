"""An approval binds to the exact write shown, and is given by a person (issue 8 §2-3), over real loopback HTTP.

Every case counts the writes in both sandboxes through their APIs (``tests.faults.books.counts``): exactly what
was approved, once, or nothing.

- a proposal restated between display and click (by the scheduler; by ``tally check`` in a terminal): the old
  button writes nothing and says what changed, the alert is redrawn with the new write;
- one person through Slack and the terminal counts once; an unmapped terminal login never makes the second;
- a login trying to be two people (``TALLY_OPERATOR``, one login mapped twice, ``$USER``) is refused;
- a click carrying a fix its message does not show (an alert, a preview) is refused.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.processes.scheduled import settle_writes
from bot.slack.app import web_client
from bot.slack.notify import Notifier
from sync.people import os_login
from sync.wiring import clients
from tests.e2e.world import Message, World, buttons, tally_world, text_of
from tests.faults.books import counts
from tests.sync.actions.helpers import tiny_books

APPROVE = "tally_approve"
MIRROR, DUAL, BACKFLOW = "invoice_missing_in_qbo:10300", "invoice_missing_in_qbo:10400", "payment_not_synced:10231"
CHANGED = "This fix changed from $1,080.10 to $1,180.10 — see the updated alert"


@pytest.fixture
def world(engine: Engine, database_url: str) -> Iterator[World]:
    env = {"TALLY_APPROVERS": "U0ANA,U0BEN", "TALLY_SYNC_GRACE": "0", "TALLY_OPERATORS": f"{os_login()}:U0ANA"}
    with tally_world(engine, database_url, books=tiny_books, **env) as running:
        running.check()
        yield running


@dataclass(frozen=True)
class Said:
    """What a ``tally`` command run in a terminal said."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return " ".join(f"{self.stdout}\n{self.stderr}".split())


def terminal(world: World, *args: str, **env: str) -> Said:
    """Run ``tally`` as a process of this login, against the world's books and database, in an empty folder."""
    settings = world.settings
    assert settings.secret_key is not None
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "CW_", "QBO_", "SLACK_", "DATABASE"))}
    base |= {**world.running.env(), "DATABASE_URL": world.engine.url.render_as_string(hide_password=False)}
    base |= {"TALLY_SECRET_KEY": settings.secret_key.get_secret_value(), "TALLY_APPROVERS": "U0ANA,U0BEN"}
    base |= {"TALLY_SYNC_GRACE": "0", "TALLY_OPERATORS": f"{os_login()}:U0ANA", "COLUMNS": "200"}
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=folder,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    return Said(done.returncode, done.stdout, done.stderr)


def button_id(message: Message) -> int:
    approve = next(b for b in buttons(message) if b["action_id"] == APPROVE)
    return int(approve["value"])


def restate_mirror(world: World) -> None:
    """Someone corrects ConnectWise invoice 10300 from $1,080.10 to $1,180.10 while its mirror waits."""
    store: Any = world.running.cw.service.store  # type: ignore[attr-defined]
    invoice = store.find_invoice("10300")
    time.sleep(1.1)  # a later lastUpdated (whole seconds) than the check that proposed the mirror saw
    store.patch_invoice(invoice["id"], [{"op": "replace", "path": "total", "value": Decimal("1180.10")}])


def told(world: World, user: str, words: str) -> bool:
    return any(words in text_of(message) for message in world.slack.ephemerals(user))


def assert_restated(world: World, old_id: int) -> int:
    old = world.action(old_id)
    assert (old.status, old.amount) == ("superseded", Decimal("1080.10"))
    assert old.replaced_by is not None
    new = world.action(old.replaced_by)
    assert (new.status, new.amount, new.version) == ("proposed", Decimal("1180.10"), 2)
    return old.replaced_by


def test_an_old_button_after_a_scheduled_restatement_writes_nothing_and_says_what_changed(world: World) -> None:
    shown = world.alert(MIRROR)
    old_id = button_id(shown)
    restate_mirror(world)
    world.check()  # the scheduler restates the fix and redraws the alert
    new_id = assert_restated(world, old_id)
    world.wait(lambda: button_id(world.alert(MIRROR)) == new_id)
    assert "$1,180.10" in text_of(world.alert(MIRROR))
    before = counts(world.running)

    world.driver.click(world.alert(MIRROR), APPROVE, user="U0ANA", value=str(old_id))  # clicked the old rendering

    world.wait(lambda: told(world, "U0ANA", CHANGED))
    assert counts(world.running).minus(before) == (0, 0)
    assert world.action(new_id).status == "proposed"  # the old approval did not carry over
    assert world.events("action.approved", f"action:{new_id}") == []


@pytest.mark.slow  # runs tally as separate processes
def test_an_old_button_after_a_terminal_restatement_writes_nothing_and_the_alert_catches_up(world: World) -> None:
    old_id = button_id(world.alert(MIRROR))
    restate_mirror(world)
    assert terminal(world, "check").exit_code == 1  # the terminal cannot reach Slack: the alert still shows $1,080.10
    new_id = assert_restated(world, old_id)
    before = counts(world.running)

    in_terminal = terminal(world, "approve", str(old_id))
    assert in_terminal.exit_code == 1
    assert CHANGED in in_terminal.output
    world.driver.click(world.alert(MIRROR), APPROVE, user="U0BEN")
    world.wait(lambda: told(world, "U0BEN", CHANGED))
    assert counts(world.running).minus(before) == (0, 0)

    notifier = Notifier(world.settings, world.engine, web_client(world.settings))
    factory = functools.partial(clients, world.settings, world.engine)
    settle_writes(world.engine, factory, redraw=notifier.refresh_action, restated=notifier.redraw_restated)
    assert button_id(world.alert(MIRROR)) == new_id  # the web process's settle pass redrew it
    assert "$1,180.10" in text_of(world.alert(MIRROR))


@pytest.mark.slow  # runs tally as separate processes
def test_one_person_through_slack_and_the_terminal_counts_once(world: World) -> None:
    alert = world.alert(DUAL)
    action_id = button_id(alert)
    assert world.action(action_id).approvals_needed == 2
    before = counts(world.running)
    world.driver.click(alert, APPROVE, user="U0ANA")
    world.wait(lambda: len(world.events("action.approved", f"action:{action_id}")) == 1)

    again = terminal(world, "approve", str(action_id))  # ana again, at her terminal
    assert "Already approved by you; 1 of 2 approvals" in again.output
    unmapped = terminal(world, "approve", str(action_id), TALLY_OPERATORS="", TALLY_APPROVERS=f"U0ANA,{os_login()}")
    assert "is not mapped to a person" in unmapped.output
    assert world.action(action_id).status == "proposed"
    assert counts(world.running).minus(before) == (0, 0)

    world.driver.click(world.alert(DUAL), APPROVE, user="U0BEN")  # a second, different person
    world.wait(lambda: world.action(action_id).status == "succeeded")
    assert counts(world.running).minus(before) == (0, 1)
    approvals = [(e.actor, e.channel) for e in world.events("action.approved", f"action:{action_id}")]
    assert approvals == [("U0ANA", "slack"), (f"cli:{os_login()}", "cli"), ("U0BEN", "slack")]


@pytest.mark.slow  # runs tally as a separate process
@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TALLY_OPERATOR": "ben"}, "TALLY_OPERATOR is no longer read"),
        ({"TALLY_OPERATORS": f"{os_login()}:U0ANA,{os_login()}:U0BEN"}, "one login is one person"),
    ],
)
def test_a_login_trying_to_be_two_people_is_refused(world: World, env: dict[str, str], words: str) -> None:
    action_id = button_id(world.alert(DUAL))
    world.driver.click(world.alert(DUAL), APPROVE, user="U0ANA")
    world.wait(lambda: len(world.events("action.approved", f"action:{action_id}")) == 1)
    before = counts(world.running)
    refused = terminal(world, "approve", str(action_id), **env)
    assert refused.exit_code == 2
    assert words in refused.output
    assert world.action(action_id).status == "proposed"
    assert counts(world.running).minus(before) == (0, 0)


@pytest.mark.slow  # runs tally as separate processes
def test_user_and_logname_do_not_change_who_the_terminal_is(world: World) -> None:
    action_id = button_id(world.alert(DUAL))
    world.driver.click(world.alert(DUAL), APPROVE, user="U0ANA")
    world.wait(lambda: len(world.events("action.approved", f"action:{action_id}")) == 1)
    before = counts(world.running)
    pretend = terminal(
        world, "approve", str(action_id), USER="ben", LOGNAME="ben", TALLY_OPERATORS=f"{os_login()}:U0ANA,ben:U0BEN"
    )
    assert "Already approved by you" in pretend.output
    assert world.action(action_id).status == "proposed"
    assert counts(world.running).minus(before) == (0, 0)


def test_a_click_carrying_a_fix_its_alert_does_not_show_is_refused(world: World) -> None:
    other = button_id(world.alert(BACKFLOW))
    before = counts(world.running)
    world.driver.click(world.alert(MIRROR), APPROVE, user="U0ANA", value=str(other))
    world.wait(lambda: told(world, "U0ANA", f"This button is not for fix #{other}"))
    assert world.action(other).status == "proposed"
    assert world.events("action.approved", f"action:{other}") == []
    assert len(world.events("action.click_refused", f"action:{other}")) == 1
    assert counts(world.running).minus(before) == (0, 0)


def test_a_click_carrying_a_fix_its_preview_does_not_show_is_refused(world: World) -> None:
    mirror_id = button_id(world.alert(MIRROR))
    world.driver.command("payments", user="U0ANA")
    preview = world.wait(lambda: [m for m in world.slack.ephemerals("U0ANA") if "tally_preview" in text_of(m)])[-1]
    before = counts(world.running)
    world.driver.click(preview, APPROVE, user="U0ANA", value=str(mirror_id))
    world.wait(lambda: told(world, "U0ANA", f"This button is not for fix #{mirror_id}"))
    assert world.action(mirror_id).status == "proposed"
    assert counts(world.running).minus(before) == (0, 0)
    world.driver.click(preview, APPROVE, user="U0ANA")  # its own fix, the $1,234.50 payment: honoured
    backflow = int(next(b for b in buttons(preview) if b["action_id"] == APPROVE)["value"])
    world.wait(lambda: world.action(backflow).status == "succeeded")
    assert counts(world.running).minus(before) == (1, 0)


def test_approve_all_skips_a_fix_restated_since_the_summary_and_writes_the_rest_once(world: World) -> None:
    summary = next(m for m in world.channel() if "tally_summary" in text_of(m))
    old_id = button_id(world.alert(MIRROR))
    restate_mirror(world)
    world.check()
    new_id = assert_restated(world, old_id)
    before = counts(world.running)

    world.driver.click(summary, "tally_approve_all", user="U0ANA")  # the summary still names the old mirror

    world.wait(lambda: told(world, "U0ANA", "1 changed since shown, nothing written"))
    assert world.action(new_id).status == "proposed"
    assert world.action(world.actions(finding_key=DUAL)[-1].id or 0).status == "proposed"  # needs a second person
    # Carried out once each: the payment and the credit row in ConnectWise; the credit application and the
    # credit memo's copy in QuickBooks. Nothing for the restated mirror.
    assert counts(world.running).minus(before) == (2, 2)
