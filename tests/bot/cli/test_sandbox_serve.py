"""Restarting `tally sandbox serve` in a folder keeps its secrets and says what became of its database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from sandbox.cli import read_env_file
from sync.people import os_login

ROOT = Path(__file__).resolve().parents[3]
FREE_PORTS = ["--cw-port", "0", "--qbo-port", "0", "--slack-port", "0", "--dataset", "empty"]


@contextmanager
def serving(env_file: Path, *extra: str) -> Iterator[str]:
    """Run ``tally sandbox serve --env-file`` until the file is written; yield what it said on stderr."""
    before = env_file.read_text() if env_file.exists() else ""
    log = env_file.with_suffix(".log")
    command = [sys.executable, "-m", "bot.cli", "sandbox", "serve", *FREE_PORTS, "--env-file", str(env_file), *extra]
    with log.open("wb") as output, subprocess.Popen(command, cwd=env_file.parent, stderr=output) as process:
        try:
            deadline = time.monotonic() + 60
            while "Ctrl-C stops" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert env_file.read_text() != before
            yield log.read_text()
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 0


def test_a_restart_keeps_the_secret_key_and_the_lines_the_sandbox_did_not_write(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    with serving(env_file):
        first = read_env_file(env_file)
    assert first["TALLY_OPERATORS"] == f"{os_login()}:U0ANA"  # the terminal user is ana, an approver
    assert first["TALLY_APPROVERS"] == "U0ANA,U0BEN"
    text = env_file.read_text().replace(first["TALLY_OPERATORS"], "ana:U0ANA")
    env_file.write_text(text + "TALLY_TIMEZONE=Europe/Paris\n")
    with serving(env_file):
        second = read_env_file(env_file)
    assert second["TALLY_SECRET_KEY"] == first["TALLY_SECRET_KEY"]
    assert second["QBO_WEBHOOK_VERIFIER"] == first["QBO_WEBHOOK_VERIFIER"]
    assert second["TALLY_OPERATORS"] == "ana:U0ANA"  # a person's edit is kept
    assert second["TALLY_TIMEZONE"] == "Europe/Paris"
    assert second["CW_BASE_URL"] != first["CW_BASE_URL"]  # new free ports: the servers' addresses are current


def test_a_database_filled_from_earlier_books_is_named_and_reset_starts_afresh(tmp_path: Path) -> None:
    env_file, database = tmp_path / ".env", tmp_path / "tally.db"
    database.write_bytes(b"earlier run")
    with serving(env_file) as said:
        assert f"{database} was filled from an earlier sandbox run" in said
        assert "--reset" in said
    assert database.exists()
    with serving(env_file, "--reset") as said:
        assert f"removed {database}" in said
    assert not database.exists()


def test_a_busy_port_is_one_sentence_naming_the_port_and_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["sandbox", "serve", "--cw-port", "0", "--qbo-port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} (--qbo-port) is in use" in result.stderr
    assert "0 for a free one" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_the_walkthrough_approves_as_written_the_terminal_user_is_an_approver(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    with serving(env_file, "--dataset", "small"):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "CW_", "QBO_", "SLACK_"))}

        def tally(*args: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "bot.cli", *args]
            return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

        assert tally("check").returncode == 1
        fixes = json.loads(tally("actions", "--json").stdout)["fixes"]
        single = next(fix for fix in fixes if fix["status"] == "proposed" and fix["approvals_needed"] == 1)
        approved = tally("approve", str(single["id"]))
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "succeeded" in approved.stdout
        dual = next((fix for fix in fixes if fix["approvals_needed"] == 2), None)
        if dual is not None:  # ana alone is one of the two people it needs
            half = tally("approve", str(dual["id"]))
            assert "1 of 2 approvals" in half.stdout
