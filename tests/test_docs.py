"""The README and docs/ stand alone: every relative link resolves to a file inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(path: Path) -> list[str]:
    """Return the link targets in ``path`` that are not web addresses or in-page anchors."""
    targets = [m.group(1) for m in LINK.finditer(path.read_text())]
    return [t for t in targets if not re.match(r"^(https?:|mailto:|#)", t)]


def broken(path: Path, root: Path = ROOT) -> list[str]:
    """List the links of ``path`` that leave ``root`` or name nothing."""
    bad = []
    for target in relative_links(path):
        resolved = (path.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(root) or not resolved.exists():
            bad.append(target)
    return bad


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(path: Path) -> None:
    assert broken(path) == []


def test_a_link_outside_the_repository_is_caught(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "beside-the-repo.md").write_text("outside")
    (repo / "README.md").write_text("readme")
    probe = repo / "docs" / "page.md"
    probe.write_text(
        "[brief](../../beside-the-repo.md) [gone](missing.md) [ok](../README.md#top) [web](https://x.example)"
    )
    assert broken(probe, repo) == ["../../beside-the-repo.md", "missing.md"]


def test_the_docs_are_reachable_from_the_readme() -> None:
    assert "docs/vocabulary.md" in relative_links(ROOT / "README.md")
    index = relative_links(ROOT / "docs" / "README.md")
    assert sorted(index) == sorted(["vocabulary.md", "architecture.md", "guarantees.md", "json.md", "../README.md"])
