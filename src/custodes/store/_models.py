"""The store's tables (SQLAlchemy 2 declarative); migrations in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "LedgerEntry", "LedgerState", "Meta", "TreeHead"]


class Base(DeclarativeBase):
    """Base of every table."""


class Meta(Base):
    """Facts about the workspace (its ledger key's fingerprint, when it was made)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LedgerState(Base):
    """One row: the ledger's size. Appenders lock it, so indexes never collide or skip."""

    __tablename__ = "ledger_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class LedgerEntry(Base):
    """One entry: its canonical JSON (the leaf's input), leaf hash and signature."""

    __tablename__ = "ledger_entries"
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class TreeHead(Base):
    """A signed tree head: size, root hash, hash of the entry signatures, time, signature."""

    __tablename__ = "tree_heads"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signatures_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
