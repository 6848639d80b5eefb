"""The compliance questions, each answered from a lineage graph.

What a dataset reached downstream, which personal data lies upstream of a dataset or model, and
what a consent withdrawal touches (everything derived from a dataset since a time, with the runs
that did it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from governance.lineage.graph import Direction, Graph, Node, node_key
from governance.lineage.nodes import rows_for_ids
from governance.lineage.projection import job_id
from governance.lineage.traversal import GraphQueries
from governance.timefmt import time_key

__all__ = ["ComplianceQueries"]


class ComplianceQueries(GraphQueries):
    """Downstream reach, personal data upstream, and the impact of a consent withdrawal."""

    def downstream_of_dataset(
        self, namespace: str, name: str, *, depth: int = 20, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """Models and datasets downstream of a dataset (what it reached)."""
        graph = self.graph(
            "dataset", namespace, name, direction=Direction.DOWNSTREAM, depth=depth, as_of=as_of
        )
        datasets = _other_datasets(graph, namespace, name)
        return {
            "dataset": {"namespace": namespace, "name": name},
            "models": [_summary(n) for n in datasets if n.data["model"]],
            "datasets": [_summary(n) for n in datasets],
            "jobs": [_summary(n) for n in graph.nodes.values() if n.type == "JOB"],
            "edges": [e.to_json() for e in graph.edges.values()],
        }

    def personal_data_upstream(
        self,
        namespace: str,
        name: str,
        *,
        kind: str = "dataset",
        depth: int = 20,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """Personal data (by classification or tags) upstream of a dataset or model."""
        graph = self.graph(
            kind, namespace, name, direction=Direction.UPSTREAM, depth=depth, as_of=as_of
        )
        personal = [n for n in graph.nodes.values() if n.type == "DATASET" and n.data["personal"]]
        return {
            "target": {"type": kind, "namespace": namespace, "name": name},
            "personal_datasets": [_summary(n) for n in personal],
            "edges": [e.to_json() for e in graph.edges.values()],
        }

    def consent_withdrawal_impact(
        self, namespace: str, name: str, since: datetime, *, depth: int = 20
    ) -> dict[str, Any]:
        """What a consent withdrawal for a dataset touches: everything derived from it since."""
        graph = self.graph(
            "dataset", namespace, name, direction=Direction.DOWNSTREAM, depth=depth, since=since
        )
        datasets = _other_datasets(graph, namespace, name)
        jobs = [n for n in graph.nodes.values() if n.type == "JOB"]
        with self._engine.connect() as conn:
            rows = rows_for_ids(
                conn,
                "SELECT DISTINCT r.run_id, r.state, r.last_event_time, j.namespace, j.name "
                "FROM lineage_edges e JOIN lineage_runs r ON r.id = e.run_pk "
                "JOIN lineage_jobs j ON j.id = e.job_id "
                "WHERE {ids} AND e.event_time >= :since "
                "ORDER BY r.last_event_time, r.run_id",
                "e.job_id",
                [job_id(n.data["namespace"], n.data["name"]) for n in jobs],
                {"since": time_key(since, name="since")},
            )
        runs = [
            {"runId": r, "state": s, "eventTime": t, "job": {"namespace": ns, "name": n}}
            for r, s, t, ns, n in rows
        ]
        return {
            "dataset": {"namespace": namespace, "name": name},
            "since": time_key(since, name="since"),
            "datasets": [_summary(n) for n in datasets],
            "models": [_summary(n) for n in datasets if n.data["model"]],
            "jobs": [_summary(n) for n in jobs],
            "runs": runs,
            "edges": [e.to_json() for e in graph.edges.values()],
        }


def _other_datasets(graph: Graph, namespace: str, name: str) -> list[Node]:
    """The graph's datasets other than ``namespace:name``, the one it was drawn around."""
    start = node_key("dataset", namespace, name)
    return [n for k, n in graph.nodes.items() if n.type == "DATASET" and k != start]


def _summary(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        **{
            k: v
            for k, v in node.data.items()
            if k in ("namespace", "name", "classification", "tags", "model")
        },
    }
