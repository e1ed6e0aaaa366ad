"""realtime: notifications received, their news per document, and who opened the Slack Home tab

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_source",
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_received_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_check_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("system"),
    )
    op.create_table(
        "notification_seen",
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stamp", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", "key"),
    )
    op.create_index(op.f("ix_notification_seen_seen_at"), "notification_seen", ["seen_at"], unique=False)
    op.create_table(
        "home_viewer",
        sa.Column("user", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("opened_at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user"),
    )


def downgrade() -> None:
    op.drop_table("home_viewer")
    op.drop_index(op.f("ix_notification_seen_seen_at"), table_name="notification_seen")
    op.drop_table("notification_seen")
    op.drop_table("notification_source")
