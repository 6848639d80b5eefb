"""Ledger tables. Created only by migrations; ``alembic check`` keeps the two in step.

Every table here except ``ledger_head`` and ``ledger_payloads`` is append-only: database triggers
reject UPDATE and DELETE. Payload rows may be deleted (erasure), never updated; the head row may
only grow.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

# SQLite only makes INTEGER PRIMARY KEY the rowid (fast, append-ordered); BIGINT elsewhere.
_BigKey = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(SQLModel, table=True):
    """One leaf: the canonical envelope bytes exactly as hashed."""

    __tablename__ = "ledger_entries"

    idx: int = Field(sa_column=Column("idx", _BigKey, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column("kind", String(64), nullable=False))
    envelope: bytes = Field(sa_column=Column("envelope", LargeBinary, nullable=False))
    idem: bytes = Field(
        sa_column=Column("idem", LargeBinary(32), nullable=False, unique=True),
        description="SHA-256 of kind and idempotency key",
    )


class LedgerPayload(SQLModel, table=True):
    """The bytes an entry commits to by SHA-256; deletable for erasure."""

    __tablename__ = "ledger_payloads"

    idx: int = Field(sa_column=Column("idx", _BigKey, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column("data", LargeBinary, nullable=False))


class LedgerNode(SQLModel, table=True):
    """Hash of one complete aligned subtree, keyed by its position in append order."""

    __tablename__ = "ledger_nodes"

    id: int = Field(sa_column=Column("id", _BigKey, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column("hash", LargeBinary(32), nullable=False))


class LedgerHead(SQLModel, table=True):
    """The single row describing the committed tree: size, root, frontier and last leaf."""

    __tablename__ = "ledger_head"

    id: int = Field(sa_column=Column("id", Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column("size", BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column("root", LargeBinary(32), nullable=False))
    frontier: bytes = Field(sa_column=Column("frontier", LargeBinary, nullable=False))
    last_leaf: bytes = Field(sa_column=Column("last_leaf", LargeBinary(32), nullable=False))


class LedgerCheckpoint(SQLModel, table=True):
    """A signed checkpoint (C2SP note) for a tree size; one per committed batch, all kept."""

    __tablename__ = "ledger_checkpoints"

    size: int = Field(sa_column=Column("size", _BigKey, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column("root", LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column("note", Text, nullable=False))
    created_at: str = Field(sa_column=Column("created_at", String(40), nullable=False))


class LedgerSubject(SQLModel, table=True):
    """Which entries name which subject (an artifact digest or a name), for lookups."""

    __tablename__ = "ledger_subjects"

    subject: str = Field(sa_column=Column("subject", String(1100), primary_key=True))
    idx: int = Field(sa_column=Column("idx", BigInteger, primary_key=True, autoincrement=False))


class ProjectionState(SQLModel, table=True):
    """How far a projection has applied the ledger: the next index it will look at."""

    __tablename__ = "projection_state"

    name: str = Field(sa_column=Column("name", String(64), primary_key=True))
    next_index: int = Field(sa_column=Column("next_index", BigInteger, nullable=False))


class ProjectionFailure(SQLModel, table=True):
    """An entry a projection could not apply (it stays in the ledger), and why."""

    __tablename__ = "projection_failures"

    projection: str = Field(sa_column=Column("projection", String(64), primary_key=True))
    ledger_index: int = Field(
        sa_column=Column("ledger_index", BigInteger, primary_key=True, autoincrement=False)
    )
    error: str = Field(sa_column=Column("error", Text, nullable=False))
