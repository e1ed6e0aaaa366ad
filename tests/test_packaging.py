"""What a buildpack deploy reads stays in step with pyproject.toml: requirements.txt, .python-version, Procfile."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from typer import _click as click
from typer.main import get_command

from bot.cli import app
from tools.requirements import canonical, closure, runtime_requirements

ROOT = Path(__file__).resolve().parent.parent


def pins(text: str) -> dict[str, str]:
    """The ``name==version`` lines of a requirements file."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#") and line != "."]
    assert all("==" in line for line in lines), lines
    return {canonical(name): version for name, version in (line.split("==") for line in lines)}


def test_requirements_pin_every_runtime_dependency_within_pyproject_bounds() -> None:
    text = (ROOT / "requirements.txt").read_text()
    pinned = pins(text)
    for requirement in runtime_requirements():
        name = canonical(requirement.name)
        assert name in pinned, f"{name} is in pyproject.toml but not in requirements.txt: run make requirements"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} breaks {requirement}"
    assert text.splitlines()[-1] == "."  # installs Tally itself, so `tally` is on the PATH


def test_requirements_list_exactly_what_the_dependencies_pull_in() -> None:
    pinned = pins((ROOT / "requirements.txt").read_text())
    assert set(pinned) == set(closure(runtime_requirements())), "run make requirements"
    assert "psycopg-binary" in pinned  # an extra's dependency (psycopg[binary]) is not lost
    assert "pytest" not in pinned  # dev tools stay out of production


def test_a_dependency_added_to_pyproject_is_caught(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["httpx>=0.28", "hypothesis>=6"]\n')
    pinned = pins((ROOT / "requirements.txt").read_text())
    missing = [r.name for r in runtime_requirements(pyproject) if canonical(r.name) not in pinned]
    assert missing == ["hypothesis"]


def test_python_version_satisfies_requires_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = (ROOT / ".python-version").read_text().strip()
    assert SpecifierSet(project["requires-python"]).contains(f"{version}.0")


def test_every_procfile_process_is_a_tally_command() -> None:
    root = get_command(app)
    context = click.Context(root)
    for line in (ROOT / "Procfile").read_text().splitlines():
        _process, command = line.split(": ", 1)
        words = command.split()
        assert words[0] == "tally", line
        group = root.get_command(context, words[1])  # type: ignore[attr-defined]
        assert group is not None, line
        if len(words) > 2:
            assert group.get_command(context, words[2]) is not None, line
