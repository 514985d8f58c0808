"""The store: SQLAlchemy 2 with Alembic migrations, SQLite by default, PostgreSQL by URL."""

from custodes.store._models import Base, LedgerEntry, LedgerState, Meta, TreeHead
from custodes.store._store import HEAD_REVISION, Store

__all__ = ["HEAD_REVISION", "Base", "LedgerEntry", "LedgerState", "Meta", "Store", "TreeHead"]
