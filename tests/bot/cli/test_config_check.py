"""A command run with missing or invalid settings lists every problem at once, exits 2, and creates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from sync.settings import Settings

API_SETTINGS = [
    "CW_BASE_URL (or CW_SITE)",
    "CW_COMPANY_ID",
    "CW_PUBLIC_KEY",
    "CW_PRIVATE_KEY",
    "CW_CLIENT_ID",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "TALLY_SECRET_KEY",
]


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no .env, and an environment without any Tally setting."""
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tally(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def named(result: Result) -> list[str]:
    """The setting names the refusal lists, in order."""
    return [line.strip().split(": ")[0] for line in result.stderr.splitlines() if line.startswith("  ")]


def test_check_with_nothing_configured_lists_every_missing_setting_and_creates_nothing(empty_folder: Path) -> None:
    result = tally("check")
    assert result.exit_code == 2
    assert named(result) == API_SETTINGS
    assert "Traceback" not in result.output
    assert "tally sandbox serve --env-file .env" in result.stderr
    assert list(empty_folder.iterdir()) == []  # no stray tally.db


def test_invalid_values_are_listed_with_the_missing_ones_in_one_pass(empty_folder: Path) -> None:
    result = tally("sync", TALLY_TOLERANCE="abc", TALLY_TIMEZONE="Mars", TALLY_CHECK_EVERY="soon")
    assert result.exit_code == 2
    assert named(result)[:3] == ["TALLY_TIMEZONE", "TALLY_CHECK_EVERY", "TALLY_TOLERANCE"]
    assert named(result)[3:] == API_SETTINGS
    assert "'Mars' is not a timezone name" in result.stderr
    assert "Value error" not in result.stderr


def test_a_secret_that_is_not_a_fernet_key_is_named_but_never_echoed(empty_folder: Path) -> None:
    result = tally("qbo", "status", TALLY_SECRET_KEY="hunter2-not-a-key")
    assert result.exit_code == 2
    assert "TALLY_SECRET_KEY: is not a Fernet key" in result.stderr
    assert "hunter2" not in result.output


def test_each_process_asks_for_its_own_slack_settings(empty_folder: Path) -> None:
    web, worker = tally("web"), tally("worker")
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TALLY_CHANNEL"} <= set(named(web))
    assert "SLACK_APP_TOKEN" not in named(web)
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TALLY_CHANNEL"} <= set(named(worker))
    assert "SLACK_SIGNING_SECRET" not in named(worker)  # Socket Mode requests are not signed


def test_an_offline_check_and_a_preview_need_no_api_settings(empty_folder: Path) -> None:
    offline = tally("check", "--offline")
    assert offline.exit_code != 2, offline.output
    assert "cannot run" not in offline.output
    applying = tally("payments", "--apply")
    assert applying.exit_code == 2
    assert named(applying) == API_SETTINGS
