"""`tally --help` lists every command without importing what the commands need."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.lazy import COMMANDS, load

HEAVY = ("sqlalchemy", "sqlmodel", "httpx", "slack_bolt", "slack_sdk", "alembic", "sync.models", "sandbox.cli")


def first_line(target: str) -> str:
    found = load(target)
    text = found.info.help if isinstance(found, typer.Typer) else inspect.getdoc(found)
    assert text, f"{target} has no help"
    return text.splitlines()[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.name)
def test_the_listed_help_is_the_commands_own(command: object) -> None:
    assert command.help == first_line(command.target)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.name)
def test_every_listed_command_loads_and_shows_its_help(command: object) -> None:
    result = CliRunner().invoke(app, [command.name, "--help"])  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert f"{command.name} [OPTIONS]" in result.output  # type: ignore[attr-defined]


def test_top_level_help_lists_every_command_and_imports_none_of_them() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "print(result.output)\n"
        f"print('HEAVY', sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    for command in (*COMMANDS, *(c for c in ("web", "worker", "clock"))):
        name = command if isinstance(command, str) else command.name
        assert f"│ {name} " in out
    assert out.rstrip().endswith("HEAVY []"), out.splitlines()[-1]
