"""Attestation verdicts: what each ``attestation`` ledger entry verified, for listing and display.

The ledger entry (the raw bundle as payload, the verdict in the envelope) is the record; this
table keeps the verified facts, which may name a person (a signer's e-mail identity) and so stay
out of the envelope.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

_Key = BigInteger().with_variant(Integer(), "sqlite")


class AttestationVerdict(SQLModel, table=True):
    """The outcome of verifying one submitted attestation."""

    __tablename__ = "attestation_verdicts"

    ledger_index: int = Field(
        sa_column=Column("ledger_index", _Key, primary_key=True, autoincrement=False)
    )
    purpose: str = Field(sa_column=Column("purpose", Text, nullable=False))
    verdict: str = Field(sa_column=Column("verdict", String(8), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column("reason", String(64)))
    detail: str | None = Field(default=None, sa_column=Column("detail", Text))
    expected_digest: str | None = Field(default=None, sa_column=Column("expected_digest", Text))
    facts: str | None = Field(default=None, sa_column=Column("facts", Text))
    verified_at: str = Field(sa_column=Column("verified_at", String(40), nullable=False))
