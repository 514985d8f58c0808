"""Personal keys: each actor's registered public key, and each entry's actor signature.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("actor_signature", sa.LargeBinary(64), nullable=True))
    with op.batch_alter_table("actors") as batch:
        # Hex of the raw Ed25519 public key, and the ledger entry that registered it.
        batch.add_column(sa.Column("public_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("key_index", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.drop_column("key_index")
        batch.drop_column("public_key")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("actor_signature")
