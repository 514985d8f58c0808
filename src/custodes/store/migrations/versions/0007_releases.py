"""Release records: who received what, at which generalization, under which terms.

Until 0006 a release was a JSON string inside its request's row. This
revision adds the ``releases`` table and backfills one record per released
request from that string (generalization levels were not kept then: null).
Requests revoked or expired since are marked so (when: the request's last
update).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    releases = op.create_table(
        "releases",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("sharing_model", sa.String(40), nullable=False),
        sa.Column("generalization", sa.Text(), nullable=True),
        sa.Column("local_cuts", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=True),
        sa.Column("delivered_sha256", sa.String(64), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("term_end", sa.String(40), nullable=False),
        sa.Column("released_at", sa.String(40), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.Column("revocation_sha256", sa.String(64), nullable=True),
        sa.Column("expired_at", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
    )
    op.create_index("ix_releases_request_id", "releases", ["request_id"])
    op.create_index("ix_releases_recipient", "releases", ["recipient"])
    requests = sa.table(
        "requests",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("dataset", sa.String),
        sa.column("dataset_version", sa.Integer),
        sa.column("details", sa.Text),
        sa.column("release", sa.Text),
        sa.column("updated_at", sa.String),
    )
    rows = op.get_bind().execute(
        sa.select(requests).where(requests.c.release.is_not(None)).order_by(requests.c.id)
    )
    records = []
    for row in rows:
        release = json.loads(row.release)
        details = json.loads(row.details)
        records.append(
            {
                "id": row.id,  # the one release of a request made before 0007
                "request_id": row.id,
                "recipient": release["recipient"],
                "dataset": row.dataset,
                "dataset_version": row.dataset_version,
                "sharing_model": details.get("sharing_model", ""),
                "generalization": None,
                "local_cuts": None,
                "artifact_sha256": release.get("artifact_sha256"),
                "delivered_sha256": release.get("artifact_sha256"),
                "terms": release["terms"],
                "term_end": release.get("term_end") or details.get("term_end", ""),
                "released_at": release.get("released_at", row.updated_at),
                "ledger_index": None,
                "revoked_at": row.updated_at if row.state == "revoked" else None,
                "revocation_sha256": None,
                "expired_at": row.updated_at if row.state == "expired" else None,
            }
        )
    if records:
        op.bulk_insert(releases, records)


def downgrade() -> None:
    op.drop_index("ix_releases_recipient", table_name="releases")
    op.drop_index("ix_releases_request_id", table_name="releases")
    op.drop_table("releases")
