"""Graph answers are encoded by pydantic-core: byte for byte what the standard library writes."""

from __future__ import annotations

import json
from typing import Any

from governance.api.lineage import GraphResponse


def test_graph_response_bytes_equal_the_standard_encoders() -> None:
    content: dict[str, Any] = {
        "graph": [
            {
                "id": 'dataset:s3://bucket:5432:naïve/é/中 "quoted" \\ \n\t\u0001',
                "type": "DATASET",
                "data": {"fields": [], "personal": None, "model": True, "big": 2**63 - 1},
                "inEdges": [{"first_seen": "2026-01-01T00:00:00Z", "ledger_indexes": [0, 7]}],
                "outEdges": [],
            }
        ]
    }
    body = GraphResponse(content).body
    expected = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert body == expected.encode("utf-8")
    assert json.loads(bytes(body)) == content
