"""The gate's tables: decisions, approvals and waivers, each a projection of its ledger entries.

Every row is rebuilt from one entry (:mod:`governance.gate.record`): the ledger is the record,
these tables are how decisions, approvals and waivers are listed and looked up by model digest
and target environment.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

_Key = BigInteger().with_variant(Integer(), "sqlite")


class GateDecisionRow(SQLModel, table=True):
    """One promotion decision (a ``gate-decision`` entry)."""

    __tablename__ = "gate_decisions"
    __table_args__ = (
        Index("ix_gate_decisions_decision_id", "decision_id", unique=True),
        Index("ix_gate_decisions_digest_target", "digest", "target"),
    )

    ledger_index: int = Field(
        sa_column=Column("ledger_index", _Key, primary_key=True, autoincrement=False)
    )
    decision_id: str = Field(sa_column=Column("decision_id", String(36), nullable=False))
    digest: str = Field(sa_column=Column("digest", String(71), nullable=False))
    model_name: str = Field(sa_column=Column("model_name", Text, nullable=False))
    model_version: str = Field(sa_column=Column("model_version", Text, nullable=False))
    target: str = Field(sa_column=Column("target", Text, nullable=False))
    outcome: str = Field(sa_column=Column("outcome", String(8), nullable=False))
    allow: bool = Field(sa_column=Column("allow", Boolean, nullable=False))
    mode: str = Field(sa_column=Column("mode", String(16), nullable=False))
    requested_by: str = Field(sa_column=Column("requested_by", Text, nullable=False))
    evaluated_at: str = Field(sa_column=Column("evaluated_at", String(40), nullable=False))
    #: The envelope's summary, as JSON: violations, warnings, waived, policy, conflicted, …
    summary: str = Field(sa_column=Column("summary", Text, nullable=False))
    #: Every control result, as JSON; ``None`` once the entry's payload is erased.
    results: str | None = Field(default=None, sa_column=Column("results", Text))


class ApprovalRow(SQLModel, table=True):
    """One approval of a promotion (an ``approval`` entry)."""

    __tablename__ = "gate_approvals"
    __table_args__ = (Index("ix_gate_approvals_digest_target", "digest", "target"),)

    ledger_index: int = Field(
        sa_column=Column("ledger_index", _Key, primary_key=True, autoincrement=False)
    )
    digest: str = Field(sa_column=Column("digest", String(71), nullable=False))
    target: str = Field(sa_column=Column("target", Text, nullable=False))
    approver: str = Field(sa_column=Column("approver", Text, nullable=False))
    decision_id: str | None = Field(default=None, sa_column=Column("decision_id", String(36)))
    approved_at: str = Field(sa_column=Column("approved_at", String(40), nullable=False))
    #: ``None`` once the entry's payload is erased.
    comment: str | None = Field(default=None, sa_column=Column("comment", Text))


class WaiverRow(SQLModel, table=True):
    """One waiver of a control (a ``waiver`` entry)."""

    __tablename__ = "gate_waivers"
    __table_args__ = (Index("ix_gate_waivers_digest_target", "digest", "target"),)

    ledger_index: int = Field(
        sa_column=Column("ledger_index", _Key, primary_key=True, autoincrement=False)
    )
    control: str = Field(sa_column=Column("control", String(64), nullable=False))
    digest: str = Field(sa_column=Column("digest", String(71), nullable=False))
    target: str = Field(sa_column=Column("target", Text, nullable=False))
    approver: str = Field(sa_column=Column("approver", Text, nullable=False))
    granted_at: str = Field(sa_column=Column("granted_at", String(40), nullable=False))
    expires_at: str = Field(sa_column=Column("expires_at", String(40), nullable=False))
    #: ``None`` once the entry's payload is erased.
    reason: str | None = Field(default=None, sa_column=Column("reason", Text))
