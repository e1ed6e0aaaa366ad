"""Imports point one way, package by package; a test fails on the first import against the arrows.

    bot/cli ──▶ bot/processes ──▶ bot/slack ⇄ bot/digest ──▶ sync/        sandbox/ (stands alone)

``sync`` never reaches Slack, the terminal or the bot; the sandbox imports neither ``sync`` nor ``bot``; the Slack
app and the digest never reach the processes or the command line; the processes never reach the command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "sync": {"bot", "slack_bolt", "slack_sdk", "sandbox", "typer", "rich"},
    "sandbox": {"sync", "bot"},
    "bot/slack": {"bot.processes", "bot.cli"},
    "bot/digest": {"bot.processes", "bot.cli"},
    "bot/processes": {"bot.cli"},
}


def imported_modules(path: Path, package: str) -> set[str]:
    """Return the dotted name of every module ``path`` imports (a relative import counts as its own package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.replace("/", ".") if node.level else (node.module or "")
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def forbidden_in(modules: set[str], forbidden: set[str]) -> set[str]:
    """The forbidden names that ``modules`` reach (a name forbids the module and everything below it)."""
    return {name for name in forbidden for module in modules if module == name or module.startswith(f"{name}.")}


def violations(package: str, root: Path = ROOT) -> list[str]:
    """List ``file imports module`` for every forbidden import inside ``package``."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for module in sorted(forbidden_in(imported_modules(path, package), FORBIDDEN[package])):
            found.append(f"{path.relative_to(root)} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layering(package: str) -> None:
    assert violations(package) == []


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    # The check above must be able to fail: a file importing slack_bolt from sync is reported.
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / "probe.py").write_text("from slack_bolt import App\nimport bot.cli\nfrom . import x\n")
    assert violations("sync", tmp_path) == ["sync/probe.py imports bot", "sync/probe.py imports slack_bolt"]


def test_checker_sees_the_slack_app_reaching_a_process(tmp_path: Path) -> None:
    (tmp_path / "bot" / "slack").mkdir(parents=True)
    probe = tmp_path / "bot" / "slack" / "probe.py"
    probe.write_text("from bot.processes.web import create_web\nfrom bot import cli\nimport bot.slackish\n")
    assert violations("bot/slack", tmp_path) == [
        "bot/slack/probe.py imports bot.cli",
        "bot/slack/probe.py imports bot.processes",
    ]
