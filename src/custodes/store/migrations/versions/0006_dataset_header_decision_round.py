"""Datasets keep their header choice; decisions belong to a review round.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _decisions(name: str, key: list[str]) -> None:
    """Copy the decisions into a new table ``name`` whose primary key is ``key``."""
    columns: list[sa.Column[Any]] = [
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("board_role", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    ]
    if "round" in key:
        columns.append(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"))
    kept = "request_id, reviewer, board_role, decision, rationale, created_at"
    op.execute(f"INSERT INTO {name} ({kept}) SELECT {kept} FROM decisions")
    op.drop_table("decisions")
    op.rename_table(name, "decisions")


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("has_header", sa.Boolean(), nullable=True))
    # A request sent back, prepared again and resubmitted is reviewed in a new round: the
    # same reviewer decides again, and only the decisions of the current round count.
    _decisions("decisions_by_round", ["request_id", "reviewer", "round"])


def downgrade() -> None:
    # Only the newest round's decision of each reviewer can be kept under the old key.
    op.execute(
        "DELETE FROM decisions WHERE round < (SELECT MAX(d.round) FROM decisions d "
        "WHERE d.request_id = decisions.request_id AND d.reviewer = decisions.reviewer)"
    )
    _decisions("decisions_by_reviewer", ["request_id", "reviewer"])
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("has_header")
