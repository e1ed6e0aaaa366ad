"""Shared fixtures: a database per test on SQLite, and on PostgreSQL when TALLY_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from sync.db import make_engine, normalise_url

POSTGRES_URL = os.environ.get("TALLY_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_engine(schema: str) -> Engine:
    """An engine whose connections live in ``schema`` of the test PostgreSQL."""
    assert POSTGRES_URL
    return make_engine(normalise_url(POSTGRES_URL), connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of an empty database: a fresh SQLite file, or a fresh schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'tally.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TALLY_TEST_DATABASE_URL is not set (CI always sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{normalise_url(POSTGRES_URL)}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    from sync.migrate import upgrade

    built = make_engine(database_url)
    upgrade(built)
    yield built
    built.dispose()


# Whole flows over loopback (tests/e2e) and the fault suite (tests/faults) start several servers and processes per
# test: they run in `make test-all` (CI), so `make test` stays under three minutes on two cores.
WHOLE_FLOWS = ("e2e", "faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e and tests/faults slow."""
    for item in items:
        if item.path.parent.name in WHOLE_FLOWS and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.slow)
