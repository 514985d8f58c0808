"""The store: SQLAlchemy 2 with Alembic migrations, SQLite by default, PostgreSQL by URL."""

from custodes.store._models import (
    Actor,
    Base,
    Charge,
    Dataset,
    Decision,
    Department,
    DPBudget,
    DPBudgetChange,
    DPConfig,
    FeeStandard,
    LedgerEntry,
    LedgerState,
    Meta,
    Release,
    Request,
    RevenueLimit,
    TreeHead,
)
from custodes.store._store import HEAD_REVISION, Store

__all__ = [
    "HEAD_REVISION",
    "Actor",
    "Base",
    "Charge",
    "DPBudget",
    "DPBudgetChange",
    "DPConfig",
    "Dataset",
    "Decision",
    "Department",
    "FeeStandard",
    "LedgerEntry",
    "LedgerState",
    "Meta",
    "Release",
    "Request",
    "RevenueLimit",
    "Store",
    "TreeHead",
]
