"""slack delivery: posts to retry, channel health

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_channel_health",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("refused_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.create_table(
        "slack_redraw",
        sa.Column("finding_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("since", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("finding_key"),
    )


def downgrade() -> None:
    op.drop_table("slack_redraw")
    op.drop_table("slack_channel_health")
