"""undo: reverse writes linked to the fix they undo

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undoes_action_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_action_undoes_action_id"), ["undoes_action_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_undoes_action_id"))
        batch_op.drop_column("undoes_action_id")
