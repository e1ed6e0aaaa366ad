"""The database check: reachable, and migrated to the newest revision this Tally ships (read only: no upgrade)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from sync.doctor.model import Check, Section
from sync.migrate import alembic_config

SYSTEM = "Database"
TITLE = "Database migrated"


def head_revision(url: str) -> str | None:
    """The newest migration this Tally ships."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_database(engine: Engine) -> list[Check]:
    """Whether the database answers and is at the newest migration."""
    section = Section(SYSTEM)
    url = engine.url.render_as_string(hide_password=True)
    head = head_revision(engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        section.fail(
            "db.migrated",
            TITLE,
            f"Cannot open the database at {url} ({type(exc).__name__}).",
            "Check DATABASE_URL and that the database server is running and reachable from here.",
        )
        return section.checks
    if current == head:
        section.passed("db.migrated", TITLE, f"{url} is at the newest migration ({head}).")
    elif current is None:
        section.fail(
            "db.migrated",
            TITLE,
            f"{url} has no Tally tables yet.",
            "Run `tally db upgrade` (the release process does it on each deploy).",
        )
    else:
        section.fail(
            "db.migrated",
            TITLE,
            f"{url} is at migration {current}; this Tally needs {head}.",
            "Run `tally db upgrade` (the release process does it on each deploy) before starting the processes.",
        )
    return section.checks
