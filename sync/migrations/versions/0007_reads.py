"""reads: sweeps and what they found

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sync.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sync.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("missed_cw", sa.Integer(), nullable=False),
        sa.Column("missed_qbo", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sweep_run_started_at"), "sweep_run", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sweep_run_started_at"), table_name="sweep_run")
    op.drop_table("sweep_run")
