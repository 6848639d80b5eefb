"""The shape of a lineage answer: nodes, edges and the graph they make, and Marquez node ids.

A node is a job, a dataset (or one version of it) or a run; an edge says which ledger entries
assert it and when it was first seen. These are plain values: the queries that fill them live in
:mod:`governance.lineage.traversal` and :mod:`governance.lineage.run_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from governance.errors import InputError

__all__ = ["Direction", "Edge", "Graph", "Node", "node_key", "parse_node_id"]


class Direction(StrEnum):
    """Which way to walk the graph."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"

    def walks(self) -> list[Direction]:
        """The one-way walks this direction takes: both of them for :attr:`BOTH`."""
        if self == Direction.BOTH:
            return [Direction.UPSTREAM, Direction.DOWNSTREAM]
        return [self]


@dataclass
class Edge:
    """One graph edge with the ledger indexes asserting it and its earliest event time."""

    origin: str
    destination: str
    first_seen: str
    ledger_indexes: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The edge as the API returns it."""
        return {
            "origin": self.origin,
            "destination": self.destination,
            "first_seen": self.first_seen,
            "ledger_indexes": self.ledger_indexes,
        }


@dataclass
class Node:
    """A job, dataset or run in an answer."""

    id: str
    type: str
    data: dict[str, Any]
    in_edges: list[Edge] = field(default_factory=list)
    out_edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Marquez's node shape (``id``, ``type``, ``data``, ``inEdges``, ``outEdges``)."""
        return {
            "id": self.id,
            "type": self.type,
            "data": self.data,
            "inEdges": [e.to_json() for e in self.in_edges],
            "outEdges": [e.to_json() for e in self.out_edges],
        }


@dataclass
class Graph:
    """Nodes keyed by id, with each edge attached to both of its ends."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def add_edge(self, edge: Edge) -> None:
        """Add ``edge``, whose two ends are already nodes of the graph, and attach it to them."""
        self.edges[(edge.origin, edge.destination)] = edge
        self.nodes[edge.origin].out_edges.append(edge)
        self.nodes[edge.destination].in_edges.append(edge)

    def to_json(self) -> dict[str, Any]:
        """``{"graph": [node, ...]}``, nodes in a stable order."""
        return {"graph": [self.nodes[k].to_json() for k in sorted(self.nodes)]}


def node_key(kind: str, namespace: str, name: str) -> str:
    """Marquez node ids: ``dataset:<ns>:<name>`` and ``job:<ns>:<name>``."""
    return f"{kind}:{namespace}:{name}"


def parse_node_id(node: str) -> tuple[str, str]:
    """Split a Marquez ``nodeId`` into its type and the rest, ``<namespace>:<name>``.

    Both halves of the rest may contain colons (namespaces are often URIs such as
    ``postgres://host:5432``), so which colon separates them is decided against the projection.
    """
    kind, _, rest = node.partition(":")
    if kind not in ("dataset", "job") or ":" not in rest:
        raise InputError(
            "nodeId must look like dataset:<namespace>:<name> or job:<namespace>:<name>",
            errors=[{"path": "nodeId", "message": f"got {node[:200]!r}"}],
        )
    return kind, rest
