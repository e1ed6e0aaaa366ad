"""The real ``tally worker`` process over a real WebSocket to the sandbox Slack: commands, clicks, refreshes, drops.

The worker runs as a subprocess with the sandbox's settings minus ``SLACK_SIGNING_SECRET`` (Socket Mode needs none);
the sandbox plays Slack's side of Socket Mode (``sandbox/slack/socket_mode.py``) and the books behind it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.cli import RunningSandbox
from sandbox.slack import SlackService, SocketModeDriver
from sandbox.slack.socket_mode import SocketModeHub
from sync.db import make_engine, session_scope
from sync.models import Action
from tests.e2e.world import CHANNEL, Message, buttons, text_of
from tests.sandboxes import cw_client, sandbox

APPROVE = "tally_approve"


@dataclass
class Worker:
    """A running ``tally worker`` and the sandbox it talks to."""

    running: RunningSandbox
    process: subprocess.Popen[bytes]
    log: Path
    driver: SocketModeDriver
    database_url: str

    @property
    def hub(self) -> SocketModeHub:
        service = self.running.slack.service
        assert isinstance(service, SlackService)
        return service.socket_mode

    def action(self, action_id: int) -> Action:
        """One action in the worker's database, as it is now."""
        engine = make_engine(self.database_url)
        try:
            with session_scope(engine) as session:
                found = session.get(Action, action_id)
                assert found is not None
                session.expunge(found)
                return found
        finally:
            engine.dispose()

    def output(self) -> str:
        return self.log.read_text()

    def wait(self, predicate: object, timeout: float = 20.0) -> object:
        return self.driver.wait_for(predicate, timeout=timeout)  # type: ignore[arg-type]


def worker_env(running: RunningSandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", **extra}
    env.pop("SLACK_SIGNING_SECRET")  # the worker must not need it
    return env


def start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], cwd=cwd, env=env, stderr=output)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    with sandbox("small", seed=3) as running:
        log = tmp_path / "worker.log"
        env = worker_env(running, tmp_path)
        process = start_worker(env, tmp_path, log)
        try:
            with SocketModeDriver(running.slack) as driver:
                found = Worker(running, process, log, driver, env["DATABASE_URL"])
                deadline = time.monotonic() + 30
                while not found.hub.open_connections():
                    assert process.poll() is None, found.output()
                    assert time.monotonic() < deadline, f"the worker did not connect:\n{found.output()}"
                    time.sleep(0.05)
                yield found
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert "Traceback" not in log.read_text()


def status_answered(worker: Worker, user: str = "U0ANA") -> Message:
    """Run ``/tally status`` over the WebSocket and wait for the answer the person sees."""
    before = len(worker.driver.store.ephemerals(user))
    assert worker.driver.command("status", user=user) == {}  # acked at once, answered through the response_url

    def shown() -> list[Message]:
        return [m for m in worker.driver.store.ephemerals(user)[before:] if "QuickBooks" in text_of(m)]

    found: list[Message] = worker.wait(shown)  # type: ignore[assignment]
    return found[-1]


@pytest.mark.slow
def test_a_command_and_a_click_on_a_button_the_bot_posted(worker: Worker) -> None:
    ack = worker.driver.command("payments")
    assert "Checking ConnectWise and QuickBooks" in ack["text"]  # the ack's payload is the immediate answer

    def preview() -> list[Message]:
        return [m for m in worker.driver.store.ephemerals("U0ANA") if "tally_preview" in text_of(m)]

    shown = worker.wait(preview)[-1]  # type: ignore[index]
    approve = buttons(shown)[0]
    assert approve["action_id"] == APPROVE
    action = worker.action(int(approve["value"]))
    invoice_id = int(json.loads(action.params)["cw_invoice_id"])
    with cw_client(worker.running) as cw:
        before = cw.get_invoice(invoice_id).balance

    assert worker.driver.click(shown, APPROVE) == {}  # a click acks with no payload

    def recorded() -> bool:
        current = worker.driver.store.message(shown["channel"], shown["ts"])
        return current is not None and "Recorded a" in text_of(current)

    worker.wait(recorded)
    assert worker.action(action.id or 0).status == "succeeded"
    with cw_client(worker.running) as cw:
        assert cw.get_invoice(invoice_id).balance == before - action.amount
    assert len(worker.hub.connections) == 1


@pytest.mark.slow
def test_a_refresh_mid_command_loses_nothing(worker: Worker) -> None:
    ack = worker.driver.command("check")
    assert "Checking" in ack["text"]
    assert worker.hub.refresh() == 1  # Slack asks for a new connection while the check runs
    first, second = worker.hub.wait_for_connections(2, timeout=15)

    def summary() -> list[Message]:
        return [m for m in worker.driver.store.messages(CHANNEL) if "Check by <@U0ANA> done" in text_of(m)]

    done: list[Message] = worker.wait(summary, timeout=60)  # type: ignore[assignment]
    assert len(done) == 1, "the check ran once and its result replaced the progress message"
    worker.wait(lambda: not first.open, timeout=15)  # the worker closed the old connection itself
    status_answered(worker)  # and answers over the new one
    assert second.open
    assert worker.hub.tickets_issued == 2


@pytest.mark.slow
def test_a_silent_drop_is_noticed_within_15_seconds_and_commands_are_answered_again(worker: Worker) -> None:
    status_answered(worker)
    (first,) = worker.hub.connections
    assert worker.hub.go_silent() == 1  # the path dies without a FIN: no pongs, no acks
    dropped = time.monotonic()
    _, second = worker.hub.wait_for_connections(2, timeout=30)
    noticed = time.monotonic() - dropped
    print(f"silent drop noticed and replaced after {noticed:.1f} s")
    assert noticed <= 15, f"the worker took {noticed:.1f} s to notice the dead connection"
    assert second.open
    worker.wait(lambda: not first.open, timeout=5)
    status_answered(worker)


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("xoxb-sandbox-token", "SLACK_APP_TOKEN holds a bot token (xoxb-)"),
        ("xapp-1-A0TALLY-revoked", "Slack does not know SLACK_APP_TOKEN (invalid_auth)"),
        ("", "SLACK_APP_TOKEN: an app-level token (xapp-…) with connections:write"),  # the pre-flight
    ],
)
def test_a_wrong_app_token_is_one_sentence_and_exit_2(tmp_path: Path, token: str, says: str) -> None:
    with sandbox("empty", seed=1) as running:
        env = worker_env(running, tmp_path, SLACK_APP_TOKEN=token)
        answer = subprocess.run(
            [sys.executable, "-m", "bot.cli", "worker"], cwd=tmp_path, env=env, capture_output=True, timeout=60
        )
    stderr = answer.stderr.decode()
    assert answer.returncode == 2, stderr
    assert says in stderr
    assert "Traceback" not in stderr
    assert token == "" or token not in stderr  # a secret is never echoed
