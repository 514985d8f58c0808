"""Alembic environment: migrations run on the connection custodes passes in."""

from __future__ import annotations

from alembic import context

from custodes.store._models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
