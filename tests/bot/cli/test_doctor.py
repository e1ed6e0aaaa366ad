"""``tally doctor`` as a person runs it: the checklist, what to do under each problem, ``--json``, the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.cli import RunningSandbox
from tests.sandboxes import sandbox

pytestmark = pytest.mark.slow  # each test runs `tally db upgrade` and `tally doctor` as processes


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with sandbox("small", seed=3) as started:
        yield started


def doctor(running: RunningSandbox, folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    values = {**os.environ, **running.env(), "DATABASE_URL": f"sqlite:///{folder / 'tally.db'}", **env}
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"], cwd=folder, env=values, capture_output=True, check=True
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor", *args], cwd=folder, env=values, capture_output=True, text=True
    )


def test_all_good_is_a_checklist_and_exit_0(running: RunningSandbox, tmp_path: Path) -> None:
    answer = doctor(running, tmp_path)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].startswith("tally doctor: checking ConnectWise, QuickBooks, Slack and the database")
    for system in ("Settings", "Database", "ConnectWise", "QuickBooks", "Slack"):
        assert system in lines
    assert "  ✔ pass  Custom transaction numbers: On" in answer.stdout
    assert lines[-1].endswith("0 failed: nothing failed.")
    assert "Traceback" not in answer.stderr


def test_a_failure_says_what_to_do_and_exits_1(running: RunningSandbox, tmp_path: Path) -> None:
    httpx.post(f"{running.qbo.url}/_sandbox/switches", json={"qbo_custom_txn_numbers": False}).raise_for_status()
    try:
        answer = doctor(running, tmp_path, QBO_WEBHOOK_VERIFIER="")
    finally:
        httpx.post(f"{running.qbo.url}/_sandbox/switches", json={"qbo_custom_txn_numbers": True}).raise_for_status()
    assert answer.returncode == 1
    out = answer.stdout
    assert "  ✖ fail  Custom transaction numbers: Off" in out
    assert "          -> Turn it on in QuickBooks: Settings > Account and settings > Sales" in out
    assert "  ⚠ warn  Webhook verifier set" in out
    assert "1 warnings, 1 failed: fix the failures above." in out.splitlines()[-1]


def test_json_lists_every_check_with_its_remedy(running: RunningSandbox, tmp_path: Path) -> None:
    answer = doctor(running, tmp_path, "--json", QBO_WEBHOOK_VERIFIER="")
    assert answer.returncode == 0  # a warning is not a failure
    report = json.loads(answer.stdout)
    assert report["ok"] is True
    assert set(report["counts"]) == {"pass", "warn", "fail", "skip"}
    assert report["counts"]["warn"] == 1
    (webhooks,) = [check for check in report["checks"] if check["key"] == "qbo.webhooks"]
    assert webhooks == {
        "system": "QuickBooks",
        "key": "qbo.webhooks",
        "title": "Webhook verifier set",
        "status": "warn",
        "detail": webhooks["detail"],
        "remedy": webhooks["remedy"],
    }
    assert "QBO_WEBHOOK_VERIFIER" in webhooks["remedy"]
    assert all(check["remedy"] for check in report["checks"] if check["status"] in ("warn", "fail"))


def test_an_invalid_setting_is_a_failed_check_not_a_traceback(running: RunningSandbox, tmp_path: Path) -> None:
    answer = doctor(running, tmp_path, TALLY_SECRET_KEY="not-a-key")
    assert answer.returncode == 1
    assert "✖ fail  Setting TALLY_SECRET_KEY" in answer.stdout
    assert "not-a-key" not in answer.stdout  # a secret is never echoed
    assert "Traceback" not in answer.stderr
