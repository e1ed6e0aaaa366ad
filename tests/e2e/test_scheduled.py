"""Tally's processes as deployed, over real loopback HTTP: ``tally web`` on a port and ``tally clock``, both as child
processes, against the sandbox ConnectWise, QuickBooks and Slack.

- a QuickBooks webhook with a bad signature is refused (401); a signed one starts a check that posts the alerts;
- ``/healthz`` reports the last check and the QuickBooks connection;
- the clock's scheduled checks post each finding's alert once, however often they run;
- two clocks started at once post the day's digest once;
- the clock exits 0 on SIGTERM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from slack_bolt import BoltRequest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli import app
from bot.processes.worker import socket_mode_handler
from bot.slack.ids import ActionId
from sandbox.cli import RunningSandbox
from sandbox.slack.driver import SlackDriver
from sync.db import session_scope
from sync.models import Action, AuditEvent, FindingRecord
from sync.settings import load_settings
from tests.sandboxes import sandbox

T = TypeVar("T")
CHANNEL = "C0FINANCE"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEBHOOK = {
    "eventNotifications": [
        {
            "realmId": "9130350000000001",
            "dataChangeEvent": {"entities": [{"name": "Payment", "id": "9", "operation": "Create"}]},
        }
    ]
}


@dataclass
class Deployment:
    """The sandbox, the environment Tally's processes get, and where the web process listens."""

    running: RunningSandbox
    env: dict[str, str]
    engine: Engine
    folder: Path
    url: str = ""

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        """Start ``tally NAME ARGS`` with this deployment's environment; its log goes to ``NAME.log``."""
        command = [sys.executable, "-m", "bot.cli", *args]
        with (self.folder / f"{name}.log").open("wb") as log:  # the child keeps its own handle
            return subprocess.Popen(command, cwd=self.folder, env={**self.env, **extra}, stdout=log, stderr=log)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def checks(self, verb: str) -> list[AuditEvent]:
        with session_scope(self.engine) as session:
            statement = select(AuditEvent).where(col(AuditEvent.verb) == verb).order_by(col(AuditEvent.id))
            return list(session.execute(statement).scalars())

    def posts(self) -> list[dict[str, Any]]:
        """Every chat.postMessage the sandbox Slack accepted."""
        calls = self.running.slack.service.store.calls_to("chat.postMessage")  # type: ignore[attr-defined]
        return [call.body for call in calls if call.ok]


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, and the exit code (a process that does not stop within 10 s is killed and fails the test)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture
def deployment(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    with sandbox("small", seed=3) as running:
        env = {**os.environ, **running.env(), "DATABASE_URL": database_url}
        yield Deployment(running=running, env=env, engine=engine, folder=tmp_path)


@pytest.fixture
def web(deployment: Deployment) -> Iterator[Deployment]:
    port = free_port()
    process = deployment.start("web", "web", "--host", "127.0.0.1", "--port", str(port))
    deployment.url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, deployment.log("web")
        try:
            return httpx.get(f"{deployment.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout=90, what="tally web to answer /healthz")  # a loaded CI machine starts it slowly
        yield deployment
    finally:
        code = stop(process)
    assert code == 0, deployment.log("web")


def signed(body: bytes, verifier: str) -> dict[str, str]:
    return {"intuit-signature": base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()}


def test_webhooks_need_intuits_signature_and_start_a_check(web: Deployment) -> None:
    health = httpx.get(f"{web.url}/healthz").json()
    assert health["ok"] is True
    assert health["last_check"] is None
    assert health["qbo"] == "connected"
    body = json.dumps(WEBHOOK).encode()
    forged = httpx.post(f"{web.url}/qbo/webhooks", content=body, headers=signed(body, "a-guess"))
    assert forged.status_code == 401
    assert web.checks("check.completed") == []
    started = time.monotonic()
    accepted = httpx.post(f"{web.url}/qbo/webhooks", content=body, headers=signed(body, web.running.webhook_verifier))
    assert accepted.status_code == 200
    assert time.monotonic() - started < 1  # Intuit wants an answer within 3 s: the check runs afterwards
    wait_for(lambda: web.checks("check.completed"), what="the webhook's check")
    assert web.posts()  # the findings were announced
    assert httpx.get(f"{web.url}/healthz").json()["last_check"] is not None


def alerts_per_finding(deployment: Deployment) -> dict[str, int]:
    with session_scope(deployment.engine) as session:
        keys = [row.key for row in session.execute(select(FindingRecord)).scalars()]
    bodies = [json.dumps(body, ensure_ascii=False) for body in alerts(deployment)]
    return {key: sum(f"`{key}`" in body for body in bodies) for key in keys}


def alerts(deployment: Deployment) -> list[dict[str, Any]]:
    """The messages posted that are not the digest."""
    return [body for body in deployment.posts() if not str(body.get("text", "")).startswith("Tally daily digest")]


def jobs_ran(deployment: Deployment, name: str, count: int) -> bool:
    return deployment.log(name).count("executed successfully") >= count


def approve_one_payment(web: Deployment) -> int:
    """Click Approve, as an approver, on the alert of a payment to carry back; return the action id."""
    with session_scope(web.engine) as session:
        statement = select(Action).where(col(Action.kind) == "backflow_payment", col(Action.approvals_needed) == 1)
        action: Action | None = session.execute(statement.order_by(col(Action.id))).scalars().first()
        assert action is not None
        finding = session.get(FindingRecord, action.finding_key)
        assert finding is not None
        assert finding.slack_ts
    with SlackDriver(web.url, server=web.running.slack) as driver:
        alert = driver.store.message(CHANNEL, finding.slack_ts)
        assert alert is not None
        assert driver.click(alert, ActionId.APPROVE, user="U0ANA").status_code == 200
    assert action.id is not None
    return action.id


def status_of(deployment: Deployment, action_id: int) -> str:
    with session_scope(deployment.engine) as session:
        action = session.get(Action, action_id)
        assert action is not None
        return action.status


@pytest.mark.slow  # takes long: runs in make test-all (CI)
def test_scheduled_checks_post_each_alert_once(web: Deployment) -> None:
    clock = web.start("clock", "clock", TALLY_CHECK_EVERY="2s")
    try:
        wait_for(lambda: len(web.checks("check.completed")) >= 2, what="two scheduled checks")
        posted_after_two = len(alerts(web))
        wait_for(lambda: len(web.checks("check.completed")) >= 3, what="a third scheduled check")
        assert len(alerts(web)) == posted_after_two  # the third check found nothing new to post
        action_id = approve_one_payment(web)  # the web process takes the click while the clock keeps checking
        wait_for(lambda: status_of(web, action_id) == "succeeded", what="the approved payment to be carried back")
    finally:
        code = stop(clock)
    assert code == 0, web.log("clock")
    counts = alerts_per_finding(web)
    assert counts
    assert set(counts.values()) == {1}, counts  # every finding alerted, none twice


def test_two_clocks_post_the_digest_once(deployment: Deployment) -> None:
    not_today = DAYS[(datetime.now(UTC).weekday() + 3) % 7]  # keep the checks out of the way: digest only
    env = {"TALLY_DIGEST_AT": "00:00", "TALLY_BUSINESS_HOURS": f"{not_today} 00:00-00:01"}
    clocks = [deployment.start(f"clock{n}", "clock", **env) for n in (1, 2)]
    try:
        wait_for(lambda: jobs_ran(deployment, "clock1", 2) and jobs_ran(deployment, "clock2", 2), what="both clocks")
    finally:
        codes = [stop(clock) for clock in clocks]
    assert codes == [0, 0], deployment.log("clock1") + deployment.log("clock2")
    digests = [body for body in deployment.posts() if str(body.get("text", "")).startswith("Tally daily digest")]
    assert len(digests) == 1
    assert "Last good check" in json.dumps(digests[0]["blocks"])
    assert deployment.checks("check.completed") == []  # outside business hours: no check ran


def test_a_process_missing_its_slack_settings_says_which(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    worker = CliRunner().invoke(app, ["worker"], env=env)
    web = CliRunner().invoke(app, ["web", "--port", "0"], env=env)
    assert worker.exit_code == 2
    assert "  SLACK_APP_TOKEN: " in worker.output
    assert web.exit_code == 2
    assert "  SLACK_SIGNING_SECRET: " in web.output
    assert "Traceback" not in worker.output + web.output


def test_the_worker_answers_commands_over_socket_mode_without_signatures(tmp_path: Path) -> None:
    with sandbox("empty") as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "SLACK_APP_TOKEN": "xapp-1-test"}
        handler = socket_mode_handler(load_settings(_env_file=None, **env))
        # what Slack's WebSocket envelope carries for a slash command: the same fields, no signature
        body = {"command": "/tally", "text": "help", "user_id": "U0ANA", "channel_id": CHANNEL, "team_id": "T0TALLY"}
        try:
            answer = handler.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        finally:
            handler.close()  # type: ignore[no-untyped-call]
    assert handler.client.app_token == "xapp-1-test"
    assert answer.status == 200
    assert "/tally check" in answer.body
