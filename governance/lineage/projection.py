"""The lineage projection: OpenLineage events and dataset classifications into the lineage tables.

One projection of the framework in :mod:`governance.ledger.projections`, which owns its watermark,
runs it in each ledger batch's transaction, catches it up, isolates an entry that fails and
rebuilds it. A run of entries is applied in three steps: the rows it touches are read once
(:mod:`~governance.lineage.tables`), changed in memory in ledger order
(:mod:`~governance.lineage.fold`) and written back once. Row ids are deterministic (a hash of
the natural key), so a rebuild is identical. Facets and runs fold entries together, so an erased
entry cannot be subtracted: the projection is rebuilt without it.
"""

from __future__ import annotations

import json
from typing import Any

from governance.ledger import kinds
from governance.ledger.projections import Projection, ProjectionBatch, StoredEntry
from governance.lineage.fold import Item, LineageFold, dataset_id, job_id, personal_data, run_pk
from governance.lineage.models import PROJECTION_TABLES
from governance.lineage.tables import LineageTables
from governance.lineage.validation import LineageEvent, validate_event

__all__ = ["LineageProjection", "dataset_id", "decode", "job_id", "personal_data", "run_pk"]


def decode(entry: StoredEntry) -> Item | None:
    """What an entry asks of the projection: ``(index, kind, event or classification)``.

    The event as parsed at ingest is the entry's context on the append hook's path; otherwise
    the payload is parsed again. An erased entry asks for nothing: its lineage is gone with it.
    """
    if entry.kind == kinds.OPENLINEAGE.name:
        parsed: Any = entry.context
        if isinstance(parsed, LineageEvent):
            return entry.index, entry.kind, parsed
        if entry.payload is None:
            return None
        return entry.index, entry.kind, validate_event(json.loads(entry.payload))
    if entry.kind == kinds.DATASET_CLASSIFICATION.name and entry.payload is not None:
        return entry.index, entry.kind, json.loads(entry.payload)
    return None


class LineageProjection(Projection):
    """Namespaces, jobs, runs, datasets, versions, edges, column edges and schema warnings."""

    name = kinds.LINEAGE_PROJECTION
    tables = PROJECTION_TABLES
    on_erasure = "rebuild"

    def apply(self, batch: ProjectionBatch) -> None:
        """Read the rows the entries touch, fold the entries in order, write the changes."""
        items = [item for entry in batch.entries if (item := decode(entry)) is not None]
        if not items:
            return
        tables = LineageTables(batch.cursor, batch.dialect)
        fold = LineageFold(load_folded=lambda jobs: tables.load_folded(fold, jobs))
        tables.load(fold, items)
        fold.apply(items)
        tables.flush(fold)
