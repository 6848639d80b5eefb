"""Tampering done directly in the database, with the append-only triggers dropped.

Each case changes one thing the way an attacker with database access would, then runs the real
``governance ledger audit`` command and checks it names the exact first bad index and the kind of
damage. The same damage made to an export bundle must fail ``governance ledger verify`` likewise.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from governance.cli.main import main
from governance.config import Settings
from governance.ledger import merkle
from governance.ledger.entries import AppendRequest
from governance.runtime import Runtime
from tests.conftest import Database

ENTRIES = 40


@pytest.fixture
def ledger_env(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A ledger of 40 entries in several batches, and the CLI pointed at the same database."""
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(settings.signing_key_file))
    monkeypatch.setenv("GOVERNANCE_LEDGER_ORIGIN", settings.ledger_origin)
    rt = Runtime.open(settings)
    try:
        for start, stop in ((0, 1), (1, 8), (8, 21), (21, 22), (22, ENTRIES)):
            futures = [
                rt.ledger.submit(
                    AppendRequest(
                        "evidence",
                        f"document {i}".encode() * 5,
                        "text/plain",
                        subjects=[{"name": f"doc-{i}"}],
                    )
                )
                for i in range(start, stop)
            ]
            for future in futures:
                future.result()
        assert rt.ledger.head()[0] == ENTRIES
        yield rt
    finally:
        rt.close()


def _drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        for (name,) in list(names):
            conn.execute(text(f'DROP TRIGGER "{name}"'))
    else:
        rows = conn.execute(
            text(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            )
        )
        for name, table in list(rows):
            conn.execute(text(f'DROP TRIGGER "{name}" ON "{table}"'))


def _tamper(rt: Runtime, statements: Callable[[Connection], None]) -> None:
    with rt.engine.begin() as conn:
        _drop_triggers(conn)
        statements(conn)


def _one(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar_one()


def _flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# -- the tampering cases: each returns the expected (first bad index, damage) ----------------


def change_payload_byte(conn: Connection) -> tuple[int, str]:
    data = bytes(_one(conn, "SELECT data FROM ledger_payloads WHERE idx = 7"))
    conn.execute(
        text("UPDATE ledger_payloads SET data = :d WHERE idx = 7"), {"d": _flip_byte(data, 3)}
    )
    return 7, "payload_changed"


def change_envelope_byte(conn: Connection) -> tuple[int, str]:
    envelope = bytes(_one(conn, "SELECT envelope FROM ledger_entries WHERE idx = 11"))
    # Flip a digit of the timestamp: still valid JSON, still names its own index and prev.
    position = envelope.index(b'"received_at":"') + len(b'"received_at":"') + 3
    conn.execute(
        text("UPDATE ledger_entries SET envelope = :e WHERE idx = 11"),
        {"e": _flip_byte(envelope, position)},
    )
    return 11, "envelope_changed"


def break_envelope_json(conn: Connection) -> tuple[int, str]:
    envelope = bytes(_one(conn, "SELECT envelope FROM ledger_entries WHERE idx = 30"))
    conn.execute(
        text("UPDATE ledger_entries SET envelope = :e WHERE idx = 30"), {"e": envelope[:-1]}
    )
    return 30, "envelope_changed"


def delete_entry(conn: Connection) -> tuple[int, str]:
    conn.execute(text("DELETE FROM ledger_entries WHERE idx = 13"))
    return 13, "entry_missing"


def delete_last_entry(conn: Connection) -> tuple[int, str]:
    conn.execute(text(f"DELETE FROM ledger_entries WHERE idx = {ENTRIES - 1}"))
    return ENTRIES - 1, "entry_missing"


def swap_entries(conn: Connection) -> tuple[int, str]:
    rows = {
        idx: (kind, bytes(envelope), bytes(idem))
        for idx, kind, envelope, idem in conn.execute(
            text("SELECT idx, kind, envelope, idem FROM ledger_entries WHERE idx IN (5, 9)")
        )
    }
    payloads = {
        idx: bytes(data)
        for idx, data in conn.execute(
            text("SELECT idx, data FROM ledger_payloads WHERE idx IN (5, 9)")
        )
    }
    conn.execute(text("DELETE FROM ledger_entries WHERE idx IN (5, 9)"))
    conn.execute(text("DELETE FROM ledger_payloads WHERE idx IN (5, 9)"))
    for target, source in ((5, 9), (9, 5)):
        kind, envelope, idem = rows[source]
        conn.execute(
            text("INSERT INTO ledger_entries (idx, kind, envelope, idem) VALUES (:i, :k, :e, :m)"),
            {"i": target, "k": kind, "e": envelope, "m": idem},
        )
        conn.execute(
            text("INSERT INTO ledger_payloads (idx, data) VALUES (:i, :d)"),
            {"i": target, "d": payloads[source]},
        )
    return 5, "entry_reordered"


def _alter_node(conn: Connection, level: int, index: int) -> None:
    node_id = merkle.node_position(level, index)
    digest = bytes(_one(conn, "SELECT hash FROM ledger_nodes WHERE id = :i", i=node_id))
    conn.execute(
        text("UPDATE ledger_nodes SET hash = :h WHERE id = :i"),
        {"h": _flip_byte(digest, 0), "i": node_id},
    )


def alter_leaf_node(conn: Connection) -> tuple[int, str]:
    _alter_node(conn, 0, 17)
    return 17, "node_inconsistent"


def alter_inner_node(conn: Connection) -> tuple[int, str]:
    # Subtree (level 2, index 5) covers entries 20-23; it is completed by appending entry 23.
    _alter_node(conn, 2, 5)
    return 23, "node_inconsistent"


def alter_checkpoint_signature(conn: Connection) -> tuple[int, str]:
    note = str(_one(conn, "SELECT note FROM ledger_checkpoints WHERE size = 21"))
    body, _, signature_line = note.rpartition("— ")
    name, encoded = signature_line.strip().split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 0x01
    forged = f"{body}— {name} {base64.b64encode(bytes(raw)).decode()}\n"
    conn.execute(text("UPDATE ledger_checkpoints SET note = :n WHERE size = 21"), {"n": forged})
    return 20, "checkpoint_invalid"


def alter_checkpoint_root(conn: Connection) -> tuple[int, str]:
    root = bytes(_one(conn, "SELECT root FROM ledger_checkpoints WHERE size = 8"))
    conn.execute(
        text("UPDATE ledger_checkpoints SET root = :r WHERE size = 8"), {"r": _flip_byte(root, 5)}
    )
    return 7, "checkpoint_invalid"


def delete_payload_without_erasure(conn: Connection) -> tuple[int, str]:
    conn.execute(text("DELETE FROM ledger_payloads WHERE idx = 2"))
    return 2, "payload_missing"


def alter_head(conn: Connection) -> tuple[int | None, str]:
    root = bytes(_one(conn, "SELECT root FROM ledger_head WHERE id = 1"))
    conn.execute(text("UPDATE ledger_head SET root = :r WHERE id = 1"), {"r": _flip_byte(root, 1)})
    return None, "head_inconsistent"


CASES = [
    change_payload_byte,
    change_envelope_byte,
    break_envelope_json,
    delete_entry,
    delete_last_entry,
    swap_entries,
    alter_leaf_node,
    alter_inner_node,
    alter_checkpoint_signature,
    alter_checkpoint_root,
    delete_payload_without_erasure,
    alter_head,
]


def _audit(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["ledger", "audit", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_untouched_ledger_audits_clean(
    ledger_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _audit(capsys)
    assert code == 0, report
    assert report["ok"] is True
    assert report["entries"] == ENTRIES
    assert report["checkpoints"] == 5
    assert report["root"] == ledger_env.ledger.head()[1].hex()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_audit_names_first_bad_index_and_damage(
    ledger_env: Runtime,
    capsys: pytest.CaptureFixture[str],
    case: Callable[[Connection], tuple[int | None, str]],
) -> None:
    expected: list[tuple[int | None, str]] = []
    _tamper(ledger_env, lambda conn: expected.append(case(conn)))
    code, report = _audit(capsys)
    assert code == 1, report
    index, damage = expected[0]
    assert report["first_problem"]["damage"] == damage, report
    assert report["first_problem"]["index"] == index, report


def test_append_only_triggers_reject_changes(ledger_env: Runtime) -> None:
    statements = [
        "UPDATE ledger_entries SET kind = 'x' WHERE idx = 1",
        "DELETE FROM ledger_entries WHERE idx = 1",
        "UPDATE ledger_nodes SET hash = hash WHERE id = 1",
        "DELETE FROM ledger_nodes WHERE id = 1",
        "DELETE FROM ledger_checkpoints WHERE size = 1",
        "UPDATE ledger_checkpoints SET note = 'x' WHERE size = 1",
        "UPDATE ledger_payloads SET data = data WHERE idx = 1",
        "UPDATE ledger_head SET size = 3 WHERE id = 1",
        "DELETE FROM ledger_head",
        "DELETE FROM ledger_subjects",
    ]
    for statement in statements:
        with (
            pytest.raises(Exception, match=r"append-only|may only grow|never changed|cannot be"),
            ledger_env.engine.begin() as conn,
        ):
            conn.execute(text(statement))
    assert ledger_env.ledger.head()[0] == ENTRIES


def test_erased_payload_is_reported_as_erased_not_tampered(
    ledger_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = ledger_env.ledger.erase(6, "data subject request 42")
    assert receipt.index == ENTRIES
    assert ledger_env.ledger.payload(6) is None
    assert ledger_env.ledger.entry(6).erased is True
    code, report = _audit(capsys)
    assert code == 0, report
    assert report["erased"] == [6]
    # Erasing again is idempotent: the same erasure entry, nothing new appended.
    assert ledger_env.ledger.erase(6, "data subject request 42").index == ENTRIES
    assert ledger_env.ledger.head()[0] == ENTRIES + 1


# -- the same damage to an export bundle ------------------------------------------------------


def _export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / "bundle"
    assert main(["ledger", "export", "--out", str(out)]) == 0
    assert main(["ledger", "public-key"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    return out, key


def _verify(bundle: Path, key: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["ledger", "verify", "--bundle", str(bundle), "--public-key", key, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _rewrite(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    change(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _b64_flip(value: str, position: int) -> str:
    return base64.b64encode(_flip_byte(base64.b64decode(value), position)).decode()


def _bundle_payload_byte(records: list[dict[str, Any]]) -> None:
    records[7]["data"] = _b64_flip(records[7]["data"], 2)


def _bundle_envelope_byte(records: list[dict[str, Any]]) -> None:
    envelope = base64.b64decode(records[11]["envelope"])
    position = envelope.index(b'"received_at":"') + len(b'"received_at":"') + 3
    records[11]["envelope"] = base64.b64encode(_flip_byte(envelope, position)).decode()


def _bundle_envelope_and_leaf(records: list[dict[str, Any]]) -> None:
    # A careful forger also recomputes the recorded leaf: the chain still gives them away.
    envelope = _flip_byte(base64.b64decode(records[11]["envelope"]), 40)
    records[11]["envelope"] = base64.b64encode(envelope).decode()
    records[11]["leaf_hash"] = merkle.leaf_hash(envelope).hex()


def _bundle_delete_entry(records: list[dict[str, Any]]) -> None:
    del records[13]


def _bundle_swap(records: list[dict[str, Any]]) -> None:
    records[5], records[9] = records[9], records[5]
    records[5]["index"], records[9]["index"] = 5, 9


def _bundle_checkpoint(records: list[dict[str, Any]]) -> None:
    records[2]["root"] = "00" * 32


BUNDLE_CASES: list[tuple[str, Callable[[list[dict[str, Any]]], None], int, str]] = [
    ("payloads.jsonl", _bundle_payload_byte, 7, "payload_changed"),
    ("entries.jsonl", _bundle_envelope_byte, 11, "envelope_changed"),
    ("entries.jsonl", _bundle_envelope_and_leaf, 11, "envelope_changed"),
    ("entries.jsonl", _bundle_delete_entry, 13, "entry_missing"),
    ("entries.jsonl", _bundle_swap, 5, "entry_reordered"),
    ("checkpoints.jsonl", _bundle_checkpoint, 20, "checkpoint_invalid"),
]


def test_untouched_export_verifies(
    ledger_env: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, key = _export(tmp_path, capsys)
    code, report = _verify(bundle, key, capsys)
    assert code == 0, report
    assert report["entries"] == ENTRIES


@pytest.mark.parametrize(
    ("file", "change", "index", "damage"), BUNDLE_CASES, ids=[c[1].__name__ for c in BUNDLE_CASES]
)
def test_modified_bundle_fails_verify(
    ledger_env: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    change: Callable[[list[dict[str, Any]]], None],
    index: int,
    damage: str,
) -> None:
    bundle, key = _export(tmp_path, capsys)
    _rewrite(bundle / file, change)
    code, report = _verify(bundle, key, capsys)
    assert code == 1, report
    assert report["first_problem"]["damage"] == damage, report
    assert report["first_problem"]["index"] == index, report
