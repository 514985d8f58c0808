"""The ledger: entries, signed tree heads, its size, and workspace facts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.create_table(
        "tree_heads",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signatures_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.execute("INSERT INTO ledger_state (id, size) VALUES (1, 0)")


def downgrade() -> None:
    for table in ("tree_heads", "ledger_entries", "ledger_state", "meta"):
        op.drop_table(table)
