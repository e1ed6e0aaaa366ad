"""writes: unsure writes and their settling

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LIVE = "status IN ('proposed', 'approved', 'executing')"
NEW_LIVE = "status IN ('proposed', 'approved', 'executing', 'unsure')"


def _live_index(where: str, *, create: bool) -> None:
    with op.batch_alter_table("action", schema=None) as batch_op:
        if create:
            batch_op.create_index(
                "uq_action_live_finding",
                ["finding_key"],
                unique=True,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )
        else:
            batch_op.drop_index("uq_action_live_finding", sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade() -> None:
    with op.batch_alter_table("write_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settle_after", sync.db.UTCDateTime(timezone=True), nullable=True))
    # An unsure action is live: while Tally checks whether its write landed, no second fix may be proposed.
    _live_index(OLD_LIVE, create=False)
    _live_index(NEW_LIVE, create=True)


def downgrade() -> None:
    _live_index(NEW_LIVE, create=False)
    _live_index(OLD_LIVE, create=True)
    with op.batch_alter_table("write_ledger", schema=None) as batch_op:
        batch_op.drop_column("settle_after")
