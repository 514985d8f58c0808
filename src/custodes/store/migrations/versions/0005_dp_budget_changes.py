"""DP budgets: their source and query count; budget changes reviewed by the board.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dp_budgets") as batch:
        batch.add_column(sa.Column("queries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("source", sa.String(120), nullable=False, server_default="grade default")
        )
    op.create_table(
        "dp_budget_changes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("total", sa.String(80), nullable=False),
        sa.Column("previous", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("proposed_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dp_budget_changes")
    with op.batch_alter_table("dp_budgets") as batch:
        batch.drop_column("source")
        batch.drop_column("queries")
