"""Governance: actors, departments, datasets, requests, decisions, fee standards, charges.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("board_role", sa.String(40), nullable=True),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("credential", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "departments",
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("department", sa.String(60), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("grade", sa.String(20), nullable=False),
        sa.Column("grade_reasons", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("preparer", sa.String(100), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=True),
        sa.Column("release", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("reviewer", sa.String(100), primary_key=True),
        sa.Column("board_role", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "fee_standards",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("department", sa.String(60), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("cap", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("proposed_by", sa.String(100), nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "revenue_limits",
        sa.Column("department", sa.String(60), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("fee_standard", sa.String(40), nullable=False),
        sa.Column("department", sa.String(60), nullable=False),
        sa.Column("quantity", sa.String(40), nullable=False),
        sa.Column("unit_price", sa.String(40), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("deducted", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("charged_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "charges",
        "revenue_limits",
        "fee_standards",
        "decisions",
        "requests",
        "datasets",
        "departments",
        "actors",
    ):
        op.drop_table(table)
