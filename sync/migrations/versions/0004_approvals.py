"""approvals: proposal versions and people

A restated proposal is a new action (``version``, ``replaced_by``, ``planned_on``); approvals and audit events name
the channel a person used (slack / cli); ``shown_action`` remembers which fixes each Slack message shows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("replaced_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("planned_on", sa.Text(), nullable=True))
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    # audit_event refuses UPDATE and DELETE (triggers); adding a nullable column rewrites no row on PostgreSQL,
    # and on SQLite a plain ADD COLUMN keeps the table (and its triggers) as they are.
    op.add_column("audit_event", sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_table(
        "shown_action",
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message", "action_id"),
    )


def downgrade() -> None:
    op.drop_table("shown_action")
    op.drop_column("audit_event", "channel")
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_column("planned_on")
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("version")
