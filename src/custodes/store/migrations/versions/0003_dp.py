"""Differential privacy: per-dataset settings and privacy budgets.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dp_configs",
        sa.Column("dataset", sa.String(100), primary_key=True),
        sa.Column("config", sa.Text(), nullable=False),
    )
    op.create_table(
        "dp_budgets",
        sa.Column("dataset", sa.String(100), primary_key=True),
        sa.Column("recipient", sa.String(100), primary_key=True),
        sa.Column("total", sa.String(80), nullable=False),
        sa.Column("spent", sa.String(80), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dp_budgets")
    op.drop_table("dp_configs")
