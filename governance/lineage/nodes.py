"""Nodes in the projection: jobs and datasets found by name, and their data read by id.

:class:`NodeQueries` is the base of the lineage query classes (it holds the engine and answers
which ``namespace/name`` split names a dataset); the functions here are the reads they share.
:func:`rows_for_ids` is how every one of them asks for a list of ids: one parameter
(:func:`governance.sql.id_filter`), so the statement is the same whatever the list's length.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from governance.errors import InputError, NotFound
from governance.lineage.projection import dataset_id, job_id
from governance.sql import Dialect

__all__ = [
    "NodeQueries",
    "dataset_data",
    "exists",
    "job_data",
    "node_exists",
    "node_pk",
    "resolve_marquez",
    "rows_for_ids",
]


def rows_for_ids(
    conn: Connection,
    sql: str,
    column: str,
    ids: Iterable[int],
    params: Mapping[str, Any] | None = None,
) -> Sequence[Any]:
    """The rows of ``sql``, whose ``{ids}`` stands for "``column`` is one of ``ids``"."""
    where, value = Dialect.of(conn).id_filter(column, ids)
    return conn.execute(text(sql.format(ids=where)), {**(params or {}), "ids": value}).all()


def exists(conn: Connection, table: str, pk: int) -> bool:
    """Whether projection ``table`` has a row with id ``pk``."""
    # Only the caller's fixed table name is interpolated; the id is a bound parameter.
    statement = text(f"SELECT 1 FROM {table} WHERE id = :id")  # noqa: S608
    return conn.execute(statement, {"id": pk}).first() is not None


def node_pk(kind: str, namespace: str, name: str) -> int:
    """The projection id of the ``dataset`` or ``job`` (``kind``) ``namespace:name``."""
    return dataset_id(namespace, name) if kind == "dataset" else job_id(namespace, name)


def node_exists(conn: Connection, kind: str, namespace: str, name: str) -> bool:
    """Whether the projection has the ``dataset`` or ``job`` (``kind``) ``namespace:name``."""
    table = "lineage_datasets" if kind == "dataset" else "lineage_jobs"
    return exists(conn, table, node_pk(kind, namespace, name))


def resolve_marquez(conn: Connection, kind: str, rest: str) -> tuple[str, str]:
    """The ``(namespace, name)`` of a node whose Marquez id ends in ``rest``.

    The first colon of ``rest`` that splits it into a node of the projection wins.
    """
    position = rest.find(":")
    while position != -1:
        namespace, name = rest[:position], rest[position + 1 :]
        if node_exists(conn, kind, namespace, name):
            return namespace, name
        position = rest.find(":", position + 1)
    raise NotFound(f"no {kind} {rest!r} in the lineage graph")


def dataset_data(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The answer data of the datasets ``ids`` (those in the projection), by id."""
    found: dict[int, dict[str, Any]] = {}
    rows = rows_for_ids(
        conn,
        "SELECT id, namespace, name, classification, tags, is_model, first_index, "
        "last_index, is_personal FROM lineage_datasets WHERE {ids}",
        "id",
        ids,
    )
    for pk, ns, name, classification, tags, is_model, first, last, personal in rows:
        found[int(pk)] = {
            "namespace": ns,
            "name": name,
            "classification": json.loads(classification) if classification else None,
            "tags": json.loads(tags) if tags else [],
            "model": bool(is_model),
            "personal": bool(personal),
            "first_ledger_index": int(first),
            "last_ledger_index": int(last),
        }
    return found


def job_data(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The answer data of the jobs ``ids`` (those in the projection), by id."""
    found: dict[int, dict[str, Any]] = {}
    rows = rows_for_ids(
        conn,
        "SELECT id, namespace, name, job_type, source_code_location, owners, "
        "first_index, last_index FROM lineage_jobs WHERE {ids}",
        "id",
        ids,
    )
    for pk, ns, name, job_type, location, owners, first, last in rows:
        found[int(pk)] = {
            "namespace": ns,
            "name": name,
            "jobType": json.loads(job_type) if job_type else None,
            "sourceCodeLocation": location,
            "owners": json.loads(owners) if owners else [],
            "first_ledger_index": int(first),
            "last_ledger_index": int(last),
        }
    return found


class NodeQueries:
    """Read-only queries over the projection tables, through one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def split_dataset_path(self, path: str) -> tuple[str, str]:
        """``namespace/name`` where either may contain ``/``: prefer a split naming a dataset."""
        positions = [i for i, ch in enumerate(path) if ch == "/"]
        if not positions:
            raise InputError("the path must be {namespace}/{name}")
        with self._engine.connect() as conn:
            for position in positions:
                namespace, name = path[:position], path[position + 1 :]
                if node_exists(conn, "dataset", namespace, name) and namespace and name:
                    return namespace, name
        namespace, name = path[: positions[0]], path[positions[0] + 1 :]
        if not namespace or not name:
            raise InputError("the path must be {namespace}/{name}")
        return namespace, name
