"""The command line a newcomer meets first: `tally sandbox serve` and `tally demo`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[3]


def test_sandbox_serve_writes_the_configuration_and_serves_until_interrupted(tmp_path: Path) -> None:
    env_file, truth = tmp_path / "sandbox.env", tmp_path / "truth.json"
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "serve",
        "--cw-port",
        "0",
        "--qbo-port",
        "0",
        "--dataset",
        "small",
        "--seed",
        "4",
        "--env-file",
        str(env_file),
        "--truth",
        str(truth),
    ]
    log = tmp_path / "serve.log"
    with log.open("wb") as output, subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=output) as process:
        _check_serving(process, env_file, truth, log)


def _check_serving(process: subprocess.Popen[bytes], env_file: Path, truth: Path, log: Path) -> None:
    try:
        deadline = time.monotonic() + 60
        while "QBO_WEBHOOK_VERIFIER" not in (env_file.read_text() if env_file.exists() else ""):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert {"CW_BASE_URL", "CW_COMPANY_ID", "QBO_ENVIRONMENT", "QBO_REFRESH_TOKEN", "TALLY_SECRET_KEY"} <= set(
            values
        )
        site = values["CW_BASE_URL"].split("/v2025_1/")[0]
        info = httpx.get(f"{site}/login/companyinfo/{values['CW_COMPANY_ID']}").json()
        assert info["Codebase"] == "v2025_1/"
        discovery = httpx.get(values["QBO_ENVIRONMENT"]).json()
        assert discovery["token_endpoint"].startswith(values["QBO_BASE_URL"].removesuffix("/v3"))
        assert '"findings"' in truth.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_sandbox_serve_refuses_an_unknown_dataset() -> None:
    result = CliRunner().invoke(app, ["sandbox", "serve", "--dataset", "huge", "--cw-port", "0", "--qbo-port", "0"])
    assert result.exit_code == 2
    assert "empty, small or large" in result.output


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    found = re.search(
        r"Planted in the books: (\d+); found: (\d+); reported that were not planted: (\d+)", result.output
    )
    assert found is not None
    assert found.group(1) == found.group(2)
    assert found.group(3) == "0"
    assert "0 fixable findings remain" in result.output
    assert "[ Approve ]" in result.output  # the Slack alert, rendered from its Block Kit
    assert "action.succeeded" in result.output
    undone = re.search(r"#(\d+) succeeded: Deleted the \$[\d,.]+ payment \(id \d+\) Tally had recorded", result.output)
    assert undone is not None, "the demo ends with one undo"
    assert "a person undid it on purpose, so only a person approves it again" in result.output
    assert "Demo finished" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


def test_tally_sync_reads_both_systems_and_prints_what_changed(tmp_path: Path) -> None:
    from tests.sandboxes import sandbox

    with sandbox("small", seed=6) as running:
        env = {**running.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}", "COLUMNS": "200"}
        first = CliRunner().invoke(app, ["sync"], env=env)
        second = CliRunner().invoke(app, ["sync"], env=env)
    assert first.exit_code == 0, first.output
    assert "cw.invoices" in first.output
    changed = re.search(r"sync: (\d+) changes", first.output)
    assert changed is not None
    assert int(changed.group(1)) > 1000
    assert second.exit_code == 0, second.output
    assert "0 changes" in second.output


def test_tally_sync_says_what_to_do_when_connectwise_refuses_the_keys(tmp_path: Path) -> None:
    from tests.sandboxes import sandbox

    with sandbox("empty") as running:
        env = {**running.env(), "CW_PRIVATE_KEY": "wrong", "DATABASE_URL": f"sqlite:///{tmp_path / 'tally.db'}"}
        result = CliRunner().invoke(app, ["sync"], env=env)
    assert result.exit_code == 3
    assert "ConnectWise" in result.output
    assert "Traceback" not in result.output
