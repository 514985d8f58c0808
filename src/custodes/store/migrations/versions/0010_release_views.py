"""Release views: the SHA-256 of each release's mosaic view.

A file release keeps beside it what the mosaic check reads (each record's
person, class and coded sensitive values: no value); the record and the
ledger's ``request.released`` entry carry the view's SHA-256, so a view
changed on disk is refused. Releases made before this revision have none.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("view_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("view_sha256")
