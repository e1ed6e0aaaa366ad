"""mapping: confirmed customer mappings and planning state (documents and payments that disappeared)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gone_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("remote_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("number_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_gone_record_remote_id"), "gone_record", ["remote_id"], unique=False)
    op.create_index(op.f("ix_gone_record_number_key"), "gone_record", ["number_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gone_record_number_key"), table_name="gone_record")
    op.drop_index(op.f("ix_gone_record_remote_id"), table_name="gone_record")
    op.drop_table("gone_record")
