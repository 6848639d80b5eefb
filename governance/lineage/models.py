"""Lineage projection tables: derived from ledger entries, rebuilt exactly by ``ledger reindex``.

Row ids are deterministic (a 63-bit hash of the natural key), never sequence values, so a rebuild
on any backend produces the same rows as the live projection. Every edge row names the ledger index
of the event that asserted it.
"""

from __future__ import annotations

import functools
import hashlib

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

_Big = BigInteger()
_Key = BigInteger().with_variant(Integer(), "sqlite")


@functools.lru_cache(maxsize=1 << 16)
def stable_id(*parts: str) -> int:
    """A deterministic positive 63-bit id for a natural key (recent ones are remembered)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class LineageNamespace(SQLModel, table=True):
    """A namespace seen in any job or dataset."""

    __tablename__ = "lineage_namespaces"

    name: str = Field(sa_column=Column("name", Text, primary_key=True))
    first_index: int = Field(sa_column=Column("first_index", _Big, nullable=False))


class LineageJob(SQLModel, table=True):
    """A job, with its latest facets and the facets governance reads."""

    __tablename__ = "lineage_jobs"
    __table_args__ = (Index("ix_lineage_jobs_name", "namespace", "name", unique=True),)

    id: int = Field(sa_column=Column("id", _Key, primary_key=True, autoincrement=False))
    namespace: str = Field(sa_column=Column("namespace", Text, nullable=False))
    name: str = Field(sa_column=Column("name", Text, nullable=False))
    job_type: str | None = Field(default=None, sa_column=Column("job_type", Text))
    source_code_location: str | None = Field(
        default=None, sa_column=Column("source_code_location", Text)
    )
    owners: str | None = Field(default=None, sa_column=Column("owners", Text))
    facets: str = Field(sa_column=Column("facets", Text, nullable=False))
    facets_time: str = Field(sa_column=Column("facets_time", String(40), nullable=False))
    first_index: int = Field(sa_column=Column("first_index", _Big, nullable=False))
    last_index: int = Field(sa_column=Column("last_index", _Big, nullable=False))


class LineageRun(SQLModel, table=True):
    """A run of a job: its state (robust to out-of-order delivery), times and parent/root runs."""

    __tablename__ = "lineage_runs"
    __table_args__ = (
        Index("ix_lineage_runs_run_id", "run_id", unique=True),
        Index("ix_lineage_runs_job", "job_id", "last_event_time"),
        # Most runs have no parent: only those that do are indexed (a row per root run was a
        # random insert into the NULL range on every new run).
        Index(
            "ix_lineage_runs_parent",
            "parent_run_id",
            sqlite_where=text("parent_run_id IS NOT NULL"),
            postgresql_where=text("parent_run_id IS NOT NULL"),
        ),
    )

    id: int = Field(sa_column=Column("id", _Key, primary_key=True, autoincrement=False))
    run_id: str = Field(sa_column=Column("run_id", Text, nullable=False))
    job_id: int = Field(sa_column=Column("job_id", _Big, nullable=False))
    state: str = Field(sa_column=Column("state", String(16), nullable=False))
    state_time: str = Field(sa_column=Column("state_time", String(40), nullable=False))
    started_at: str | None = Field(default=None, sa_column=Column("started_at", String(40)))
    ended_at: str | None = Field(default=None, sa_column=Column("ended_at", String(40)))
    first_event_time: str = Field(sa_column=Column("first_event_time", String(40), nullable=False))
    last_event_time: str = Field(sa_column=Column("last_event_time", String(40), nullable=False))
    parent_run_id: str | None = Field(default=None, sa_column=Column("parent_run_id", Text))
    root_run_id: str | None = Field(default=None, sa_column=Column("root_run_id", Text))
    facets: str = Field(sa_column=Column("facets", Text, nullable=False))
    first_index: int = Field(sa_column=Column("first_index", _Big, nullable=False))
    last_index: int = Field(sa_column=Column("last_index", _Big, nullable=False))


class LineageDataset(SQLModel, table=True):
    """A dataset with its latest facets and its governance classification."""

    __tablename__ = "lineage_datasets"
    __table_args__ = (Index("ix_lineage_datasets_name", "namespace", "name", unique=True),)

    id: int = Field(sa_column=Column("id", _Key, primary_key=True, autoincrement=False))
    namespace: str = Field(sa_column=Column("namespace", Text, nullable=False))
    name: str = Field(sa_column=Column("name", Text, nullable=False))
    facets: str = Field(sa_column=Column("facets", Text, nullable=False))
    facets_time: str = Field(sa_column=Column("facets_time", String(40), nullable=False))
    classification: str | None = Field(default=None, sa_column=Column("classification", Text))
    classification_index: int | None = Field(
        default=None, sa_column=Column("classification_index", _Big)
    )
    classification_source: str | None = Field(
        default=None,
        sa_column=Column("classification_source", String(16)),
        description="facet (from an event's governance facet) or steward (set explicitly)",
    )
    tags: str | None = Field(default=None, sa_column=Column("tags", Text))
    is_model: int = Field(default=0, sa_column=Column("is_model", Integer, nullable=False))
    is_personal: int = Field(default=0, sa_column=Column("is_personal", Integer, nullable=False))
    first_index: int = Field(sa_column=Column("first_index", _Big, nullable=False))
    last_index: int = Field(sa_column=Column("last_index", _Big, nullable=False))


class LineageDatasetFacets(SQLModel, table=True):
    """Facet history: the facets an event asserted for a dataset.

    One row for each event that asserted something new: a facet, or a value of one, that the
    dataset's facets did not hold. Events that repeat what is known add no row.
    """

    __tablename__ = "lineage_dataset_facets"

    dataset_id: int = Field(sa_column=Column("dataset_id", _Big, primary_key=True))
    ledger_index: int = Field(sa_column=Column("ledger_index", _Big, primary_key=True))
    event_time: str = Field(sa_column=Column("event_time", String(40), nullable=False))
    facets: str = Field(sa_column=Column("facets", Text, nullable=False))


class LineageDatasetVersion(SQLModel, table=True):
    """A version of a dataset: its ``datasetVersion`` facet, or one per run that wrote it."""

    __tablename__ = "lineage_dataset_versions"
    __table_args__ = (Index("ix_lineage_versions_dataset", "dataset_id", "event_time"),)

    id: int = Field(sa_column=Column("id", _Key, primary_key=True, autoincrement=False))
    dataset_id: int = Field(sa_column=Column("dataset_id", _Big, nullable=False))
    version: str = Field(sa_column=Column("version", Text, nullable=False))
    run_id: str | None = Field(default=None, sa_column=Column("run_id", Text))
    event_time: str = Field(sa_column=Column("event_time", String(40), nullable=False))
    ledger_index: int = Field(sa_column=Column("ledger_index", _Big, nullable=False))


class LineageEdge(SQLModel, table=True):
    """A run read or wrote a dataset, as asserted by one event (one row per asserting event)."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        Index("ix_lineage_edges_dataset", "dataset_id", "direction", "event_time"),
        Index("ix_lineage_edges_job", "job_id", "direction", "event_time"),
    )

    run_pk: int = Field(sa_column=Column("run_pk", _Big, primary_key=True))
    dataset_id: int = Field(sa_column=Column("dataset_id", _Big, primary_key=True))
    direction: str = Field(sa_column=Column("direction", String(8), primary_key=True))
    ledger_index: int = Field(sa_column=Column("ledger_index", _Big, primary_key=True))
    job_id: int = Field(sa_column=Column("job_id", _Big, nullable=False))
    version_id: int | None = Field(default=None, sa_column=Column("version_id", _Big))
    event_time: str = Field(sa_column=Column("event_time", String(40), nullable=False))


#: Asserting edges kept on a job-dataset edge (``lineage_job_dataset_edges.evidence_*``).
EVIDENCE_PER_EDGE = 20


class LineageJobDatasetEdge(SQLModel, table=True):
    """A job read or wrote a dataset: all of its runs' edges folded into one row.

    This is what dataset and job graphs walk: one row per job-dataset pair and direction,
    however many runs asserted it. ``first_time`` is the earliest event time of any asserting
    edge, ``evidence_count`` how many asserting edges there are, and ``evidence_indexes`` and
    ``evidence_times`` the ledger indexes and event times of the first :data:`EVIDENCE_PER_EDGE`
    of them in (event time, ledger index) order, space-separated, so that the ones asserted by
    any time T are a prefix.
    """

    __tablename__ = "lineage_job_dataset_edges"
    __table_args__ = (
        Index("ix_lineage_job_dataset_edges_dataset", "dataset_id", "direction", "job_id"),
    )

    job_id: int = Field(sa_column=Column("job_id", _Big, primary_key=True))
    direction: str = Field(sa_column=Column("direction", String(8), primary_key=True))
    dataset_id: int = Field(sa_column=Column("dataset_id", _Big, primary_key=True))
    first_time: str = Field(sa_column=Column("first_time", String(40), nullable=False))
    evidence_count: int = Field(sa_column=Column("evidence_count", Integer, nullable=False))
    evidence_indexes: str = Field(sa_column=Column("evidence_indexes", Text, nullable=False))
    evidence_times: str = Field(sa_column=Column("evidence_times", Text, nullable=False))


class LineageColumnEdge(SQLModel, table=True):
    """Column lineage: an output field derived from an input field (``columnLineage`` facet)."""

    __tablename__ = "lineage_column_edges"

    dataset_id: int = Field(sa_column=Column("dataset_id", _Big, primary_key=True))
    field: str = Field(sa_column=Column("field", Text, primary_key=True))
    input_dataset_id: int = Field(sa_column=Column("input_dataset_id", _Big, primary_key=True))
    input_field: str = Field(sa_column=Column("input_field", Text, primary_key=True))
    ledger_index: int = Field(sa_column=Column("ledger_index", _Big, primary_key=True))
    transformation: str | None = Field(default=None, sa_column=Column("transformation", Text))


class LineageWarning(SQLModel, table=True):
    """Schema warnings recorded for an event (kept out of the envelope: they may quote values)."""

    __tablename__ = "lineage_warnings"

    ledger_index: int = Field(sa_column=Column("ledger_index", _Big, primary_key=True))
    position: int = Field(sa_column=Column("position", Integer, primary_key=True))
    path: str = Field(sa_column=Column("path", Text, nullable=False))
    message: str = Field(sa_column=Column("message", Text, nullable=False))


PROJECTION_TABLES = (
    "lineage_namespaces",
    "lineage_jobs",
    "lineage_runs",
    "lineage_datasets",
    "lineage_dataset_facets",
    "lineage_dataset_versions",
    "lineage_edges",
    "lineage_job_dataset_edges",
    "lineage_column_edges",
    "lineage_warnings",
)
