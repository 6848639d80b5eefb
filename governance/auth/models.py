"""API key table: only a SHA-256 of each key is stored."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, String
from sqlmodel import Field, SQLModel


class ApiKey(SQLModel, table=True):
    """An API key's metadata and hash; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: str = Field(sa_column=Column("id", String(32), primary_key=True))
    name: str = Field(sa_column=Column("name", String(200), nullable=False))
    role: str = Field(sa_column=Column("role", String(32), nullable=False))
    key_hash: bytes = Field(
        sa_column=Column("key_hash", LargeBinary(32), nullable=False, unique=True)
    )
    created_at: str = Field(sa_column=Column("created_at", String(40), nullable=False))
    revoked_at: str | None = Field(default=None, sa_column=Column("revoked_at", String(40)))
