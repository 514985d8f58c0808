"""The store's tables (SQLAlchemy 2 declarative); migrations in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
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
    "TreeHead",
    "WebAccount",
    "WebToken",
    "timestamp",
]


def timestamp() -> str:
    """The time now as the store's rows hold it: UTC, to the second, ISO 8601 with a Z."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    actor_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)
    """The acting actor's signature of its chain at the entry (None: a tool's record, such
    as a scan)."""
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    """The signing actor (as the entry names it), to find its previous entry."""
    actor_chain: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    """The actor's chain at the entry (``custodes.ledger.actor_chain``), which it signed."""


class TreeHead(Base):
    """A signed tree head: size, root hash, hash of the entry signatures, time, signature."""

    __tablename__ = "tree_heads"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signatures_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class Actor(Base):
    """Someone who acts in custodes, with roles and a verified identity record."""

    __tablename__ = "actors"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    roles: Mapped[str] = mapped_column(Text)
    """JSON list of roles."""
    board_role: Mapped[str | None] = mapped_column(String(40), nullable=True)
    organisation: Mapped[str] = mapped_column(String(200))
    credential: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The actor's registered Ed25519 public key (hex of 32 bytes); None: none or revoked."""
    key_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The ledger entry that registered ``public_key``."""


class Department(Base):
    """A department that owns data systems and datasets."""

    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Dataset(Base):
    """One version of a registered dataset."""

    __tablename__ = "datasets"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(60))
    system: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[str] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(20))
    grade_reasons: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))
    has_header: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    """Whether the source's first row is a header (None: detected when read)."""


class Request(Base):
    """A release request and where it is in the workflow."""

    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(40))
    requester: Mapped[str] = mapped_column(String(100))
    dataset: Mapped[str] = mapped_column(String(100))
    dataset_version: Mapped[int] = mapped_column(Integer)
    details: Mapped[str] = mapped_column(Text)
    preparer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    plan: Mapped[str | None] = mapped_column(Text, nullable=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    release: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))


class Decision(Base):
    """A review board member's decision on a request, with the written rationale."""

    __tablename__ = "decisions"
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(100), primary_key=True)
    round: Mapped[int] = mapped_column(
        Integer, primary_key=True, default=1, server_default="1", autoincrement=False
    )
    """The review round: a request sent back and resubmitted is reviewed anew."""
    board_role: Mapped[str] = mapped_column(String(40))
    decision: Mapped[str] = mapped_column(String(10))
    rationale: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))


class FeeStandard(Base):
    """A fee standard: product, charging unit, cap price, approval."""

    __tablename__ = "fee_standards"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(60))
    product: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20))
    cap: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(20))
    proposed_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))


class RevenueLimit(Base):
    """The maximum permitted revenue of a department in a year."""

    __tablename__ = "revenue_limits"
    department: Mapped[str] = mapped_column(String(60), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))


class Charge(Base):
    """A fee charged for a release."""

    __tablename__ = "charges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(40))
    fee_standard: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(60))
    quantity: Mapped[str] = mapped_column(String(40))
    unit_price: Mapped[str] = mapped_column(String(40))
    amount: Mapped[str] = mapped_column(String(40))
    deducted: Mapped[str] = mapped_column(String(40))
    """The part above the year's permitted revenue, deducted from next year's."""
    currency: Mapped[str] = mapped_column(String(3))
    year: Mapped[int] = mapped_column(Integer)
    charged_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    """Why a release charged already is charged again (None for its first charge)."""


class DPConfig(Base):
    """How a dataset answers DP queries: privacy unit, bounds, public group domains."""

    __tablename__ = "dp_configs"
    dataset: Mapped[str] = mapped_column(String(100), primary_key=True)
    config: Mapped[str] = mapped_column(Text)


class DPBudget(Base):
    """A privacy budget in rho-zCDP (exact fractions as text): per recipient, or '*' global."""

    __tablename__ = "dp_budgets"
    dataset: Mapped[str] = mapped_column(String(100), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100), primary_key=True)
    total: Mapped[str] = mapped_column(String(80))
    spent: Mapped[str] = mapped_column(String(80))
    queries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Queries answered and paid from this budget."""
    source: Mapped[str] = mapped_column(
        String(120), default="grade default", server_default="grade default"
    )
    """Where the total came from: the grade default, an approved change, a steward's lowering."""


class DPBudgetChange(Base):
    """A proposal to raise a DP budget, reviewed by the board like a request."""

    __tablename__ = "dp_budget_changes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(100))
    total: Mapped[str] = mapped_column(String(80))
    """The proposed total (rho, an exact fraction as text)."""
    previous: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    """under_review, approved or rejected."""
    proposed_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))


class Release(Base):
    """A release record: who received what, at which generalization, under which terms.

    One row per delivered copy of a request's approved artifact. The approved
    artifact's hash and the delivered copy's hash may differ once copies are
    fingerprinted. ``generalization`` is JSON: per quasi-identifier its level
    (or ``"local"``) and its hierarchy's SHA-256; ``local_cuts`` (JSON) holds the
    labels of local recoding per quasi-identifier. Records made by migration
    0007 from earlier releases have no generalization (``null``).
    """

    __tablename__ = "releases"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(200), index=True)
    dataset: Mapped[str] = mapped_column(String(100))
    dataset_version: Mapped[int] = mapped_column(Integer)
    sharing_model: Mapped[str] = mapped_column(String(40))
    generalization: Mapped[str | None] = mapped_column(Text, nullable=True)
    local_cuts: Mapped[str | None] = mapped_column(Text, nullable=True)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivered_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    terms: Mapped[str] = mapped_column(Text)
    term_end: Mapped[str] = mapped_column(String(40))
    """The expiry date (YYYY-MM-DD) of the terms."""
    released_at: Mapped[str] = mapped_column(String(40))
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The ledger entry of the release (its ``request.released`` event)."""
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revocation_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the written reason of the revocation."""
    view_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the release's mosaic view (``view.npz`` beside the file; None: no file,
    or released before views were kept)."""
    expired_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class WebAccount(Base):
    """An actor's login to the web interface (``custodes serve``).

    ``password_hash`` is an argon2id hash of the password. ``sealed_key`` (JSON) is
    the actor's private signing key sealed under a key stretched from the same
    password with argon2id (its own salt): the server can sign as the actor only
    while the actor is logged in, and the store alone never can. Nothing here is
    on the ledger; a login without the actor's registered key signs nothing.
    """

    __tablename__ = "web_accounts"
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    sealed_key: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))
    """Base64 of the sealed key's public half, checked against the actor's registered key."""
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))


class WebToken(Base):
    """An API token of an actor: only its SHA-256 is kept, and the actor's signing key sealed
    under a key derived from the token itself (256 random bits), so the store alone cannot
    use it."""

    __tablename__ = "web_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
