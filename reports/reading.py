"""The statements a report runs, on one consistent snapshot of the database.

The projections' tables (the gate's decisions, approvals and waivers, the attestation verdicts),
the checkpoint, the payloads of the entries whose projection does not keep what the report needs,
and the leaf hashes of the cited entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from governance.errors import Conflict, InputError, IntegrityError, Unavailable
from governance.ledger import kinds, merkle
from governance.sql import Dialect, keyset, select_by_ids

#: Payloads (recorded inputs) read per statement.
PAYLOAD_CHUNK = 200
#: Cited entries looked up per statement.
_EVIDENCE_CHUNK = 2000
#: The projections a report reads, which must have applied every entry below its checkpoint.
_PROJECTIONS = (kinds.GATE_PROJECTION, kinds.VERDICTS_PROJECTION)

DECISIONS_SQL = (
    "SELECT ledger_index, decision_id, digest, model_name, model_version, target, outcome, "
    "allow, mode, requested_by, evaluated_at, summary, results FROM gate_decisions "
    "WHERE ledger_index > :after AND ledger_index < :size "
    "AND evaluated_at >= :start AND evaluated_at < :end ORDER BY ledger_index LIMIT :limit"
)
COUNT_DECISIONS_SQL = (
    "SELECT count(*) FROM gate_decisions WHERE ledger_index < :size "
    "AND evaluated_at >= :start AND evaluated_at < :end"
)
APPROVALS_SQL = (
    "SELECT ledger_index, digest, target, approver, decision_id, approved_at FROM gate_approvals "
    "WHERE ledger_index > :after AND ledger_index < :size "
    "AND approved_at >= :start AND approved_at < :end ORDER BY ledger_index LIMIT :limit"
)
WAIVERS_SQL = (
    "SELECT ledger_index, control, digest, target, approver, granted_at, expires_at, reason "
    "FROM gate_waivers WHERE ledger_index > :after AND ledger_index < :size "
    "AND granted_at < :end AND expires_at > :start ORDER BY ledger_index LIMIT :limit"
)
VERDICTS_SQL = (
    "SELECT ledger_index, purpose, verdict, reason, expected_digest, facts, verified_at "
    "FROM attestation_verdicts WHERE ledger_index > :after AND ledger_index < :size "
    "AND verified_at >= :start AND verified_at < :end ORDER BY ledger_index LIMIT :limit"
)


class Reader:
    """Statements on one consistent snapshot of the database."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def one(self, statement: str, params: Mapping[str, Any]) -> Any:
        """The first row of ``statement`` (``None`` when there is none)."""
        self.cursor.execute(self.dialect.sql(statement), dict(params))
        return self.cursor.fetchone()

    def all(self, statement: str, params: Mapping[str, Any]) -> list[Any]:
        """Every row of ``statement`` (for small answers)."""
        self.cursor.execute(self.dialect.sql(statement), dict(params))
        return list(self.cursor.fetchall())

    def chunks(
        self, statement: str, params: Mapping[str, Any], chunk: int
    ) -> Iterator[Sequence[Any]]:
        """The rows of a keyset-paginated ``statement``, ``chunk`` rows at a time."""
        return keyset(self.cursor, self.dialect, statement, params, chunk=chunk)

    def rows(self, statement: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """The rows of a keyset-paginated ``statement``, one at a time."""
        for chunk in self.chunks(statement, params, 5000):
            yield from chunk

    def by_ids(self, statement: str, column: str, ids: Iterable[int]) -> list[Any]:
        """The rows of ``statement`` whose ``column`` is one of ``ids``."""
        return select_by_ids(self.cursor, self.dialect, [(statement, column, ids)])[0]


def read_checkpoint(reader: Reader, size: int | None) -> tuple[int, bytes, str, str]:
    """Step 1: the checkpoint (size, root, note, created_at)."""
    if size is None:
        row = reader.one(
            "SELECT size, root, note, created_at FROM ledger_checkpoints "
            "ORDER BY size DESC LIMIT 1",
            {},
        )
        if row is None:
            raise InputError("the ledger is empty: no checkpoint has been signed yet")
    else:
        row = reader.one(
            "SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = :size",
            {"size": size},
        )
        if row is None:
            raise InputError(
                f"no checkpoint of size {size}",
                hint="one checkpoint is signed per committed batch; "
                "`governance ledger checkpoint` prints the newest",
            )
    return int(row[0]), bytes(row[1]), str(row[2]), str(row[3])


def check_projections(reader: Reader, size: int) -> None:
    """Step 1: every entry below the checkpoint is in the tables the report reads."""
    marks = ", ".join(f":p{i}" for i in range(len(_PROJECTIONS)))
    names = {f"p{i}": name for i, name in enumerate(_PROJECTIONS)}
    watermarks = dict(
        reader.all(f"SELECT name, next_index FROM projection_state WHERE name IN ({marks})", names)  # noqa: S608
    )
    for name in _PROJECTIONS:
        if int(watermarks.get(name, 0)) < size:
            raise Unavailable(
                f"the {name} projection has not yet applied every entry of the checkpoint "
                f"({size} entries)",
                hint="retry in a moment; `governance ledger status` shows its progress",
            )
    failed = reader.all(
        "SELECT projection, ledger_index FROM projection_failures "  # noqa: S608
        f"WHERE projection IN ({marks}) AND ledger_index < :size ORDER BY ledger_index LIMIT 5",
        {**names, "size": size},
    )
    if failed:
        shown = ", ".join(f"{i} ({p})" for p, i in failed)
        raise Conflict(
            f"entries the report would cite could not be projected: {shown}",
            hint="`governance ledger status` lists them; a report would silently omit them",
        )


def read_payloads(reader: Reader, indexes: Sequence[int]) -> Iterator[tuple[int, bytes | None]]:
    """Step 5: each entry's payload (``None`` once erased), a chunk at a time."""
    for start in range(0, len(indexes), PAYLOAD_CHUNK):
        chunk = indexes[start : start + PAYLOAD_CHUNK]
        found = {
            int(i): bytes(data)
            for i, data in reader.by_ids(
                "SELECT idx, data FROM ledger_payloads WHERE {ids}", "idx", chunk
            )
        }
        for index in chunk:
            yield index, found.get(index)


def read_leaves(reader: Reader, indexes: Sequence[int]) -> dict[int, tuple[str, bytes]]:
    """Step 6: the kind and leaf hash of each of ``indexes``."""
    found: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(indexes), _EVIDENCE_CHUNK):
        chunk = indexes[start : start + _EVIDENCE_CHUNK]
        positions = {merkle.node_position(0, i): i for i in chunk}
        entries, nodes = select_by_ids(
            reader.cursor,
            reader.dialect,
            [
                ("SELECT idx, kind FROM ledger_entries WHERE {ids}", "idx", chunk),
                ("SELECT id, hash FROM ledger_nodes WHERE {ids}", "id", positions),
            ],
        )
        kinds_ = {int(i): str(k) for i, k in entries}
        for node, leaf in nodes:
            index = positions[int(node)]
            found[index] = (kinds_[index], bytes(leaf))
    missing = [i for i in indexes if i not in found]
    if missing:
        raise IntegrityError(
            f"cited ledger entries or their leaves are missing: {missing[:5]}",
            hint="run `governance ledger audit`",
        )
    return found
