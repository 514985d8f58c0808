"""Actor chains: each signed entry's actor and the actor's chain at it.

An actor's signature covers its chain (``custodes.ledger.actor_chain``): the
chain at the actor's previous entry, that entry's actor signature and this
entry's leaf. The ledger finds an actor's previous entry by ``actor``; entries
signed before this revision get their actor and chain computed here, in index
order (they keep their signatures of the leaf alone, which still verify).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CHAIN_DOMAIN = b"custodes-actor-chain-v1\x00"  # as custodes.ledger.actor_chain


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("actor", sa.String(200), nullable=True))
        batch.add_column(sa.Column("actor_chain", sa.LargeBinary(32), nullable=True))
    op.create_index("ix_ledger_entries_actor", "ledger_entries", ["actor"])
    entries = sa.table(
        "ledger_entries",
        sa.column("idx", sa.BigInteger()),
        sa.column("entry", sa.Text()),
        sa.column("leaf_hash", sa.LargeBinary(32)),
        sa.column("actor_signature", sa.LargeBinary(64)),
        sa.column("actor", sa.String(200)),
        sa.column("actor_chain", sa.LargeBinary(32)),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(entries.c.idx, entries.c.entry, entries.c.leaf_hash, entries.c.actor_signature)
        .where(entries.c.actor_signature.is_not(None))
        .order_by(entries.c.idx)
    ).all()
    last: dict[str, tuple[bytes, bytes]] = {}
    updates = []
    for index, text, leaf, signature in rows:
        actor = str(json.loads(text)["actor"])
        chain, before = last.get(actor, (bytes(32), b""))
        chain = hashlib.sha256(_CHAIN_DOMAIN + chain + before + bytes(leaf)).digest()
        last[actor] = (chain, bytes(signature))
        updates.append({"i": index, "a": actor, "c": chain})
    if updates:
        connection.execute(
            entries.update()
            .where(entries.c.idx == sa.bindparam("i"))
            .values(actor=sa.bindparam("a"), actor_chain=sa.bindparam("c")),
            updates,
        )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_actor", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("actor_chain")
        batch.drop_column("actor")
