"""Imports point one way: bot -> sync; sync never reaches Slack or the bot; the sandbox stands alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "sync": {"bot", "slack_bolt", "slack_sdk", "sandbox"},
    "sandbox": {"sync", "bot"},
}


def imported_roots(path: Path, package: str) -> set[str]:
    """Return the top-level package of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(package if node.level else (node.module or "").split(".")[0])
    return roots


def violations(package: str, root: Path = ROOT) -> list[str]:
    """List ``file imports module`` for every forbidden import inside ``package``."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for module in sorted(imported_roots(path, package) & FORBIDDEN[package]):
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
