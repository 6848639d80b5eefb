"""Listings of the lineage projection: namespaces, datasets, jobs and runs, a page at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from governance.lineage.nodes import NodeQueries, dataset_data, job_data
from governance.lineage.projection import job_id

__all__ = ["ListingQueries"]


class ListingQueries(NodeQueries):
    """Pages of namespaces, datasets, jobs and runs, in a stable order."""

    def namespaces(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Namespaces in name order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT name, first_index FROM lineage_namespaces ORDER BY name "
                    "LIMIT :l OFFSET :o"
                ),
                {"l": limit, "o": offset},
            )
            return [{"name": n, "first_ledger_index": int(i)} for n, i in rows]

    def datasets(
        self,
        namespace: str | None = None,
        *,
        personal: bool | None = None,
        model: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Datasets in (namespace, name) order, optionally filtered."""
        clauses, params = ["1 = 1"], {"l": limit, "o": offset}
        if namespace is not None:
            clauses.append("namespace = :ns")
            params["ns"] = namespace  # type: ignore[assignment]
        if model is not None:
            clauses.append("is_model = :m")
            params["m"] = 1 if model else 0
        if personal is not None:
            clauses.append("is_personal = :p")
            params["p"] = 1 if personal else 0
        with self._engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    text(
                        # Only the fixed clauses above are interpolated; values are parameters.
                        f"SELECT id FROM lineage_datasets WHERE {' AND '.join(clauses)} "  # noqa: S608
                        "ORDER BY namespace, name LIMIT :l OFFSET :o"
                    ),
                    params,
                )
            ]
            data = dataset_data(conn, ids)
        return [data[i] for i in ids if i in data]

    def jobs(
        self, namespace: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Jobs in (namespace, name) order."""
        clause = "WHERE namespace = :ns" if namespace is not None else ""
        with self._engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    text(
                        # Only the fixed clause above is interpolated; values are parameters.
                        f"SELECT id FROM lineage_jobs {clause} "  # noqa: S608
                        "ORDER BY namespace, name LIMIT :l OFFSET :o"
                    ),
                    {"ns": namespace, "l": limit, "o": offset},
                )
            ]
            data = job_data(conn, ids)
        return [data[i] for i in ids if i in data]

    def runs(
        self,
        namespace: str | None = None,
        job: str | None = None,
        *,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally of one job or in one state."""
        clauses, params = ["1 = 1"], {"l": limit, "o": offset}
        if namespace is not None and job is not None:
            clauses.append("r.job_id = :job")
            params["job"] = job_id(namespace, job)
        elif namespace is not None:
            clauses.append("j.namespace = :ns")
            params["ns"] = namespace  # type: ignore[assignment]
        if state is not None:
            clauses.append("r.state = :state")
            params["state"] = state.upper()  # type: ignore[assignment]
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    # Only the fixed clauses above are interpolated (in WHERE); values are
                    # parameters.
                    "SELECT r.run_id, r.state, r.started_at, r.ended_at, r.last_event_time, "  # noqa: S608
                    "r.parent_run_id, r.root_run_id, j.namespace, j.name, r.first_index, "
                    "r.last_index FROM lineage_runs r JOIN lineage_jobs j ON j.id = r.job_id "
                    f"WHERE {' AND '.join(clauses)} "
                    "ORDER BY r.last_event_time DESC, r.run_id LIMIT :l OFFSET :o"
                ),
                params,
            )
            return [
                {
                    "runId": rid,
                    "state": st,
                    "startedAt": started,
                    "endedAt": ended,
                    "eventTime": last,
                    "parentRunId": parent,
                    "rootRunId": root,
                    "job": {"namespace": ns, "name": name},
                    "first_ledger_index": int(first),
                    "last_ledger_index": int(lastidx),
                }
                for rid, st, started, ended, last, parent, root, ns, name, first, lastidx in rows
            ]
