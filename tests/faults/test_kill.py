"""kill -9 of the approving process between the remote write and Tally's commit, on the Slack (web) and the terminal
(``tally approve``) paths, then a restart: the write is settled by looking, and exists exactly once.

The sandbox ConnectWise saves the payment and then holds its answer, so the test can kill the process at the one
moment that matters: the payment is in the books, Tally's database still says ``executing`` with a pending ledger
row. Writes are counted through the sandboxes' APIs.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.cli.support import EXIT_FINDINGS
from bot.slack.app import web_client
from bot.slack.jobs import check_and_announce
from sandbox.cli import RunningSandbox
from sandbox.slack.driver import SlackDriver
from sync.db import session_scope
from sync.models import Action, FindingRecord, LedgerEntry
from sync.people import os_login
from sync.settings import Settings
from sync.wiring import clients
from tests.e2e.test_scheduled import free_port, stop, wait_for
from tests.faults.books import Counts, counts, fault
from tests.sync.actions.helpers import count, events, findings_of, first, proposed, status_of, tiny_books

pytestmark = pytest.mark.slow
HELD = {"count": 1, "seconds": 60, "commit": "first", "match": "^POST .*/payments$"}


@pytest.fixture
def running(engine: Engine) -> Iterator[RunningSandbox]:
    with tiny_books() as books:
        yield books


def environment(running: RunningSandbox, database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, **running.env(), "DATABASE_URL": database_url, "TALLY_SYNC_GRACE": "0", **extra}


def start(env: dict[str, str], folder: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (folder / f"{name}.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=folder, env=env, stdout=log, stderr=log)


def kill_once_written(process: subprocess.Popen[bytes], running: RunningSandbox, before: Counts) -> None:
    """Wait until the payment is in ConnectWise (its answer held back), then kill -9 the process."""
    wait_for(lambda: counts(running).minus(before) == (1, 0) or process.poll() is not None, what="the payment")
    assert process.poll() is None, "the process ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def assert_caught_between_write_and_commit(engine: Engine, action_id: int) -> None:
    assert status_of(engine, action_id).status == "executing"
    assert count(engine, LedgerEntry, status="pending") == 1


def test_tally_approve_killed_after_the_write_is_settled_by_the_next_command_written_once(
    engine: Engine, database_url: str, running: RunningSandbox, tmp_path: Path
) -> None:
    env = environment(running, database_url, TALLY_APPROVERS="U0ANA", TALLY_OPERATORS=f"{os_login()}:U0ANA")
    action_id = proposed(engine, first(findings_of(engine, running), "backflow_payment"))
    before = counts(running)
    fault(running.cw.url, hold_next=HELD)
    kill_once_written(start(env, tmp_path, "approve", "approve", str(action_id)), running, before)
    assert_caught_between_write_and_commit(engine, action_id)

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == EXIT_FINDINGS, done.stderr.decode(errors="replace")  # the other tiny-book findings
    assert status_of(engine, action_id).status == "succeeded"
    assert counts(running).minus(before) == (1, 0)
    [settled] = events(engine, action_id, "action.succeeded")
    assert settled.actor == "U0ANA"  # the restarted terminal session (ana's login) looked, and found it


def alert_of(engine: Engine, running: RunningSandbox, key: str) -> dict[str, object]:
    with session_scope(engine) as session:
        row = session.get(FindingRecord, key)
        assert row is not None
        assert row.slack_ts
        channel, ts = str(row.slack_channel), str(row.slack_ts)
    found = running.slack.service.store.message(channel, ts)  # type: ignore[attr-defined]
    assert found is not None
    return dict(found)


def test_the_web_process_killed_after_a_slack_approval_wrote_is_settled_on_restart_written_once(
    engine: Engine, database_url: str, running: RunningSandbox, tmp_path: Path
) -> None:
    env = environment(running, database_url, TALLY_SETTLE_EVERY="1h")  # the restart settles: on start
    settings = Settings(**{name: value for name, value in env.items() if name.isupper()})  # type: ignore[arg-type]
    check_and_announce(
        settings, engine, functools.partial(clients, settings, engine), web_client(settings), actor="scheduler"
    )
    finding = first(findings_of(engine, running), "backflow_payment")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def web() -> subprocess.Popen[bytes]:
        process = start(env, tmp_path, "web", "web", "--host", "127.0.0.1", "--port", str(port))
        wait_for(lambda: answers(url) or process.poll() is not None, what="tally web")
        assert process.poll() is None, (tmp_path / "web.log").read_text(errors="replace")
        return process

    first_web = web()
    before = counts(running)
    fault(running.cw.url, hold_next=HELD)
    with SlackDriver(url, server=running.slack) as driver:
        alert = alert_of(engine, running, finding.key)
        assert driver.click(alert, "tally_approve", user="U0ANA").status_code == 200
    kill_once_written(first_web, running, before)
    action = action_of(engine, finding.key)
    assert action.id is not None
    assert_caught_between_write_and_commit(engine, action.id)

    second_web = web()
    try:
        wait_for(lambda: status_of(engine, action.id or 0).status == "succeeded", what="the restart to settle")
        assert counts(running).minus(before) == (1, 0)
        wait_for(lambda: "Done, approved by" in str(alert_of(engine, running, finding.key)), what="alert")
    finally:
        assert stop(second_web) == 0


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def action_of(engine: Engine, key: str) -> Action:
    """The one action proposed for finding ``key``."""
    with session_scope(engine) as session:
        return session.execute(select(Action).where(col(Action.finding_key) == key)).scalars().one()
