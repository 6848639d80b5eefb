"""The report index table: one row per ``report`` ledger entry (a projection of the ledger)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

_Key = BigInteger().with_variant(Integer(), "sqlite")


class ReportRow(SQLModel, table=True):
    """One issued report: what it covers, the checkpoint it is computed as of, its digests."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_report_id", "report_id"),)

    ledger_index: int = Field(
        sa_column=Column("ledger_index", _Key, primary_key=True, autoincrement=False)
    )
    #: ``sha256:`` of the report's options (framework, period, checkpoint size).
    report_id: str = Field(sa_column=Column("report_id", String(71), nullable=False))
    framework: str = Field(sa_column=Column("framework", String(16), nullable=False))
    period_start: str = Field(sa_column=Column("period_start", String(40), nullable=False))
    period_end: str = Field(sa_column=Column("period_end", String(40), nullable=False))
    checkpoint_size: int = Field(sa_column=Column("checkpoint_size", BigInteger, nullable=False))
    #: SHA-256 (hex) of ``report-data.json``: the report's data digest.
    data_sha256: str = Field(sa_column=Column("data_sha256", String(64), nullable=False))
    #: SHA-256 (hex) of the bundle's ``manifest.json`` (the entry's payload).
    manifest_sha256: str = Field(sa_column=Column("manifest_sha256", String(64), nullable=False))
    #: The principal that issued it; ``None`` when issued from the command line.
    issued_by: str | None = Field(default=None, sa_column=Column("issued_by", Text))
    issued_at: str = Field(sa_column=Column("issued_at", String(40), nullable=False))
