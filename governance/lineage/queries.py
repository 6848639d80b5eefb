"""Lineage questions: graphs up- and downstream, as of a time, and the compliance questions.

:class:`LineageQueries` is the one class the API and the CLI ask. It is made of:

* :mod:`~governance.lineage.traversal` — the job/dataset graph around a node, and Marquez's
  ``GET /api/v1/lineage``;
* :mod:`~governance.lineage.run_graph` — run-level lineage over dataset versions (``type=run``);
* :mod:`~governance.lineage.listings` — pages of namespaces, datasets, jobs and runs;
* :mod:`~governance.lineage.compliance` — downstream reach, personal data upstream, and the
  impact of a consent withdrawal;
* :mod:`~governance.lineage.upstream` — what built a model, for the promotion gate;
* :mod:`~governance.lineage.nodes` — finding nodes by name and reading their data.

The answers are :mod:`~governance.lineage.graph` values (:class:`Graph`, :class:`Node`,
:class:`Edge`), or plain dicts for listings and compliance.
"""

from __future__ import annotations

from governance.lineage.compliance import ComplianceQueries
from governance.lineage.graph import Direction, Edge, Graph, Node, node_key, parse_node_id
from governance.lineage.listings import ListingQueries
from governance.lineage.traversal import MAX_DEPTH
from governance.lineage.upstream import ModelUpstream, UpstreamQueries
from governance.timefmt import FAR_FUTURE

__all__ = [
    # The bench (bench/lineage.py) takes the "as of everything" time from here.
    "FAR_FUTURE",
    "MAX_DEPTH",
    "Direction",
    "Edge",
    "Graph",
    "LineageQueries",
    "ModelUpstream",
    "Node",
    "node_key",
    "parse_node_id",
]


class LineageQueries(ComplianceQueries, ListingQueries, UpstreamQueries):
    """Read-only queries over the projection tables."""
