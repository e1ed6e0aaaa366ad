"""Write requirements.txt for buildpacks (Heroku and the like) from pyproject.toml and the installed versions.

Run ``make requirements`` after changing the dependencies in pyproject.toml; ``tests/test_packaging.py`` fails while
the two disagree. The file pins Tally's runtime dependencies and everything they pull in, then installs Tally itself
(the last line, ``.``), so the buildpack puts the ``tally`` command on the PATH the Procfile uses.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# Generated from pyproject.toml by `make requirements`; do not edit by hand.\n"


def canonical(name: str) -> str:
    """The normalised form of a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """Tally's own runtime dependencies, as pyproject.toml declares them."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """Every distribution the requirements pull in (extras and markers honoured), with its installed version."""
    pinned: dict[str, str] = {}
    pending = [(req, frozenset(req.extras)) for req in requirements if req.marker is None or req.marker.evaluate()]
    while pending:  # markers are evaluated when a requirement is queued, against its parent's extras
        req, extras = pending.pop()
        try:
            found = distribution(req.name)
        except PackageNotFoundError:
            continue  # a dependency for another platform
        key = canonical(req.name)
        if key in pinned and not extras:
            continue
        pinned[key] = found.version
        for line in found.requires or []:
            child = Requirement(line)
            wanted = child.marker is None or any(child.marker.evaluate({"extra": e}) for e in ({""} | set(extras)))
            if wanted:
                pending.append((child, frozenset(child.extras)))
    return pinned


def render(pinned: dict[str, str]) -> str:
    """The requirements.txt text."""
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pinned.items())) + ".\n"


def main() -> None:
    """Write requirements.txt beside pyproject.toml."""
    (ROOT / "requirements.txt").write_text(render(closure(runtime_requirements())))
    sys.stdout.write("wrote requirements.txt\n")


if __name__ == "__main__":
    main()
