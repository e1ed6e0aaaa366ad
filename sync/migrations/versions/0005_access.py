"""access: roles, connect links

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qbo_connect_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("admin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("browser_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("finished_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("qbo_connect_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qbo_connect_link_state_hash"), ["state_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("qbo_connect_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qbo_connect_link_state_hash"))
    op.drop_table("qbo_connect_link")
