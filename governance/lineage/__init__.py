"""OpenLineage events → the lineage graph: validation, projection, queries."""
