"""The ``governance`` command line, run in-process through ``main(argv)``, on both backends.

Settings come from ``GOVERNANCE_*`` variables exactly as in production; each test gets a migrated
database (the ``database`` fixture) and its own checkpoint key file.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.auth.keys import KeyStore, Role
from governance.cli.common import EXIT_ERROR, EXIT_FAILED_CHECK, EXIT_OK
from governance.cli.main import main
from governance.config import Settings
from governance.db import DatabaseAddress, connect
from governance.errors import Unauthenticated
from governance.ledger import merkle
from governance.ledger.checkpoint import NoteSigner, NoteVerifier
from governance.ledger.entries import AppendRequest
from governance.ledger.store import Receipt
from governance.runtime import Runtime
from governance.sql import Dialect
from tests.conftest import Database

ORIGIN = "cli.test/ledger"
ENTRIES = 6
TAMPERED = 2  # the entry the tampering tests damage (not the first, not the last)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


class Cli(Protocol):
    """``governance ARGS...``, run in-process (the ``cli`` fixture)."""

    def __call__(self, *argv: str) -> Result: ...


@dataclass(frozen=True)
class Env:
    database_url: str
    key_file: Path
    tmp: Path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database: Database, tmp_path: Path) -> Env:
    for name in list(os.environ):
        if name.startswith("GOVERNANCE_") and name != "GOVERNANCE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    key_file = tmp_path / "keys" / "checkpoint.key"
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", database.url)
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setenv("GOVERNANCE_LEDGER_ORIGIN", ORIGIN)
    monkeypatch.setenv("GOVERNANCE_LOG_JSON", "false")
    monkeypatch.setenv("NO_COLOR", "1")
    return Env(database.url, key_file, tmp_path)


@pytest.fixture
def cli(env: Env, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``governance ARGS...`` in-process; returns its exit code and captured output."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def key_store(env: Env) -> KeyStore:
    database = DatabaseAddress.from_url(env.database_url)
    return KeyStore(lambda: connect(database), Dialect(database.backend), cache_seconds=0)


@pytest.fixture
def receipts(env: Env) -> list[Receipt]:
    """ENTRIES evidence-like entries appended through a Runtime built from the same environment."""
    rt = Runtime.open(Settings())
    try:
        return [
            rt.ledger.append(
                AppendRequest(
                    "evidence",
                    f"report {i}\n".encode() + bytes(range(256)),
                    "application/octet-stream",
                    subjects=[{"name": f"report-{i}"}],
                )
            )
            for i in range(ENTRIES)
        ]
    finally:
        rt.close()


def assert_check_failed(result: Result) -> None:
    """`ledger audit` / `ledger verify` exit 1 (not 0, not 2) when they find damage."""
    assert result.code == EXIT_FAILED_CHECK, result


def public_key(cli: Cli) -> str:
    result = cli("ledger", "public-key")
    assert result.code == EXIT_OK, result
    return result.lines[-1].strip()


def export(cli: Cli, out: Path) -> Path:
    result = cli("ledger", "export", "--out", str(out))
    assert result.code == EXIT_OK, result
    assert f"exported {ENTRIES} entries to {out}" in result.out
    for name in ("manifest.json", "public-key.txt", "entries.jsonl", "checkpoints.jsonl"):
        assert (out / name).is_file(), name
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


def flip_bit(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


# ------------------------------------------------------------------------------------ db and keys


def test_db_upgrade(cli: Cli) -> None:
    for _ in range(2):  # the database is already migrated: upgrading again is harmless
        result = cli("db", "upgrade")
        assert result.code == EXIT_OK, result
        assert "database at revision head" in result.out


def test_keys_create_prints_the_key_alone_on_the_last_line(cli: Cli, key_store: KeyStore) -> None:
    result = cli("keys", "create", "--role", "ingest", "--name", "ci")

    assert result.code == EXIT_OK, result
    key = result.out.rstrip("\n").split("\n")[-1]
    assert key.startswith("gov_")
    assert key == key.strip()
    assert " " not in key
    assert key not in "\n".join(result.out.splitlines()[:-1])  # shown exactly once
    principal = key_store.authenticate(key)
    assert principal.role is Role.INGEST
    assert principal.name == "ci"
    assert principal.key_id in result.out


def test_keys_create_with_an_unknown_role(cli: Cli, key_store: KeyStore) -> None:
    result = cli("keys", "create", "--role", "nope", "--name", "ci")

    assert result.code == EXIT_ERROR, result
    assert "nope" in result.err
    for role in Role:
        assert role.value in result.err
    assert "gov_" not in result.out
    assert key_store.list() == []


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "create", "--role", "ingest"],
        ["ledger", "erase", "--index", "x", "--reason", "typo"],
        ["ledger", "verify", "--bundel", "/tmp"],
        ["no-such-command"],
        ["keys"],
        [],
    ],
    ids=["missing-option", "bad-integer", "unknown-option", "unknown-command", "group", "none"],
)
def test_usage_errors_exit_2(cli: Cli, key_store: KeyStore, argv: list[str]) -> None:
    result = cli(*argv)
    assert result.code == EXIT_ERROR, result
    assert "Traceback" not in result.err
    assert key_store.list() == []


def test_keys_list_and_revoke(cli: Cli, key_store: KeyStore) -> None:
    created = cli("keys", "create", "--role", "auditor", "--name", "ci auditor")
    key = created.lines[-1]
    key_id = key_store.authenticate(key).key_id
    other = cli("keys", "create", "--role", "admin", "--name", "ops").lines[-1]

    listed = cli("keys", "list")
    assert listed.code == EXIT_OK, listed
    assert key not in listed.out  # never the secret
    row = next(line for line in listed.lines if line.startswith(key_id))
    assert "auditor" in row
    assert row.endswith("ci auditor")
    assert row.split()[3] == "-"  # not revoked

    revoked = cli("keys", "revoke", key_id)
    assert revoked.code == EXIT_OK, revoked
    assert f"revoked {key_id}" in revoked.out
    with pytest.raises(Unauthenticated):
        key_store.authenticate(key)
    assert key_store.authenticate(other).role is Role.ADMIN

    row = next(line for line in cli("keys", "list").lines if line.startswith(key_id))
    assert row.split()[3] != "-"

    assert cli("keys", "revoke", key_id).code == EXIT_OK  # revoking twice is harmless


def test_keys_in_json(cli: Cli, key_store: KeyStore) -> None:
    created = cli("keys", "create", "--role", "gate", "--name", "ci", "--json")
    assert created.code == EXIT_OK, created
    document = json.loads(created.out)
    assert key_store.authenticate(document["key"]).key_id == document["id"]
    assert (document["role"], document["name"], document["revoked_at"]) == ("gate", "ci", None)
    listed = json.loads(cli("keys", "list", "--json").out)
    assert [k["id"] for k in listed] == [document["id"]]
    assert "key" not in listed[0]  # never the secret
    revoked = json.loads(cli("keys", "revoke", document["id"], "--json").out)
    assert revoked["revoked_at"] is not None


def test_keys_on_a_database_without_schema_say_what_to_run(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for argv in (("keys", "list"), ("keys", "create", "--role", "admin", "--name", "me")):
        result = cli(*argv)
        assert result.code == EXIT_ERROR, result
        assert "the database has no schema yet" in result.err
        assert "governance db upgrade" in result.err
        assert "Traceback" not in result.err
        assert "sqlalchemy" not in result.err.lower()


def test_keys_revoke_an_unknown_id(cli: Cli) -> None:
    result = cli("keys", "revoke", "000000000000")
    assert result.code == EXIT_ERROR, result
    assert "000000000000" in result.err


# ---------------------------------------------------------------------------------------- ledger


def test_ledger_checkpoint(cli: Cli, receipts: list[Receipt]) -> None:
    verifier = NoteVerifier.from_verifier_key(public_key(cli))
    assert verifier.name == ORIGIN

    result = cli("ledger", "checkpoint")

    assert result.code == EXIT_OK, result
    checkpoint = verifier.verify(result.out)
    assert checkpoint.origin == ORIGIN
    assert checkpoint.size == ENTRIES
    assert checkpoint.root == merkle.root_from_leaf_hashes([r.leaf_hash for r in receipts])

    older = cli("ledger", "checkpoint", "--size", "2")
    assert older.code == EXIT_OK, older
    assert verifier.verify(older.out).size == 2
    assert verifier.verify(older.out).root == merkle.root_from_leaf_hashes(
        [r.leaf_hash for r in receipts[:2]]
    )


def test_ledger_checkpoint_of_an_empty_ledger(cli: Cli) -> None:
    result = cli("ledger", "checkpoint")
    assert result.code == EXIT_ERROR, result
    assert "empty" in result.err


def test_ledger_audit_of_a_clean_ledger(cli: Cli, receipts: list[Receipt]) -> None:
    result = cli("ledger", "audit")
    assert result.code == EXIT_OK, result
    assert f"audit: {ENTRIES} entries, {ENTRIES} checkpoints" in result.out
    assert "OK: no damage found" in result.out

    as_json = cli("ledger", "audit", "--json")
    assert as_json.code == EXIT_OK, as_json
    report = json.loads(as_json.out)
    assert report["ok"] is True
    assert report["entries"] == ENTRIES
    assert report["first_problem"] is None
    assert report["root"] == merkle.root_from_leaf_hashes([r.leaf_hash for r in receipts]).hex()


def test_export_and_verify(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    bundle = export(cli, env.tmp / "bundle")
    key = public_key(cli)
    assert (bundle / "public-key.txt").read_text().strip() == key
    entries = read_jsonl(bundle / "entries.jsonl")
    assert [e["index"] for e in entries] == list(range(ENTRIES))
    assert [e["leaf_hash"] for e in entries] == [r.leaf_hash.hex() for r in receipts]

    result = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", key)

    assert result.code == EXIT_OK, result
    assert f"verify: {ENTRIES} entries" in result.out
    assert "OK: no damage found" in result.out
    assert "warning" not in result.err

    self_trusted = cli("ledger", "verify", "--bundle", str(bundle))
    assert self_trusted.code == EXIT_OK, self_trusted
    assert "no --public-key given" in self_trusted.err


def test_export_refuses_a_non_empty_directory(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    out = env.tmp / "occupied"
    out.mkdir()
    (out / "something").write_text("keep me")
    result = cli("ledger", "export", "--out", str(out))
    assert result.code == EXIT_ERROR, result
    assert (out / "something").read_text() == "keep me"


def _tamper_envelope(bundle: Path) -> None:
    path = bundle / "entries.jsonl"
    records = read_jsonl(path)
    envelope = base64.b64decode(records[TAMPERED]["envelope"])
    # One bit inside the timestamp: still a well-formed envelope, but no longer the hashed one.
    position = envelope.index(b'"received_at":"') + len(b'"received_at":"') + 3
    records[TAMPERED]["envelope"] = base64.b64encode(flip_bit(envelope, position)).decode()
    write_jsonl(path, records)


def _tamper_payload(bundle: Path) -> None:
    path = bundle / "payloads.jsonl"
    records = read_jsonl(path)
    assert records[TAMPERED]["index"] == TAMPERED
    data = base64.b64decode(records[TAMPERED]["data"])
    records[TAMPERED]["data"] = base64.b64encode(flip_bit(data, 100)).decode()
    write_jsonl(path, records)


def _delete_entry(bundle: Path) -> None:
    path = bundle / "entries.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    del lines[TAMPERED]
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("tamper", "damage"),
    [
        (_tamper_envelope, "envelope_changed"),
        (_tamper_payload, "payload_changed"),
        (_delete_entry, "entry_missing"),
    ],
    ids=["envelope", "payload", "missing-entry"],
)
def test_verify_finds_a_damaged_bundle(
    cli: Cli, env: Env, receipts: list[Receipt], tamper: Callable[[Path], None], damage: str
) -> None:
    bundle = export(cli, env.tmp / "bundle")
    key = public_key(cli)
    assert cli("ledger", "verify", "--bundle", str(bundle), "--public-key", key).code == EXIT_OK
    tamper(bundle)

    result = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", key)

    assert f"FAILED: first problem at index {TAMPERED}: {damage}" in result.out, result
    assert "OK: no damage found" not in result.out
    as_json = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", key, "--json")
    report = json.loads(as_json.out)
    assert report["ok"] is False
    assert report["first_problem"]["index"] == TAMPERED
    assert report["first_problem"]["damage"] == damage
    assert_check_failed(result)
    assert_check_failed(as_json)


def test_verify_with_another_key(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    bundle = export(cli, env.tmp / "bundle")
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier_key
    assert impostor != public_key(cli)

    result = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", impostor)

    assert "checkpoint_invalid" in result.out, result
    assert "FAILED: first problem at index 0: checkpoint_invalid" in result.out
    assert_check_failed(result)


def test_verify_with_a_malformed_key(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    bundle = export(cli, env.tmp / "bundle")
    result = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", "not+a+key")
    assert result.code == EXIT_ERROR, result
    assert "public key" in result.err


def test_erase(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    erased = 1
    result = cli("ledger", "erase", "--index", str(erased), "--reason", "GDPR Art. 17 request")
    assert result.code == EXIT_OK, result
    assert f"erased payload of entry {erased}; erasure recorded as entry {ENTRIES}" in result.out

    audit = cli("ledger", "audit")
    assert audit.code == EXIT_OK, audit
    assert f"audit: {ENTRIES + 1} entries" in audit.out
    assert f"erased (payload deleted on record, not tampering): {erased}" in audit.out
    assert "OK: no damage found" in audit.out
    assert json.loads(cli("ledger", "audit", "--json").out)["erased"] == [erased]

    # Erasing again completes nothing new: still one erasure entry.
    again = cli("ledger", "erase", "--index", str(erased), "--reason", "GDPR Art. 17 request")
    assert again.code == EXIT_OK, again
    assert f"erasure recorded as entry {ENTRIES}" in again.out

    bundle = env.tmp / "after-erase"
    exported = cli("ledger", "export", "--out", str(bundle))
    assert exported.code == EXIT_OK, exported
    payloads = [r["index"] for r in read_jsonl(bundle / "payloads.jsonl")]
    assert erased not in payloads
    verified = cli("ledger", "verify", "--bundle", str(bundle), "--public-key", public_key(cli))
    assert verified.code == EXIT_OK, verified
    assert f"erased (payload deleted on record, not tampering): {erased}" in verified.out
    assert "OK: no damage found" in verified.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "999", "--reason", "x"], "999"),
        (["--index", "0", "--reason", "   "], "reason"),
    ],
)
def test_erase_refuses(cli: Cli, receipts: list[Receipt], args: list[str], message: str) -> None:
    result = cli("ledger", "erase", *args)
    assert result.code == EXIT_ERROR, result
    assert message in result.err
    assert cli("ledger", "audit").out.count("erased") == 0


def test_verify_a_missing_bundle(cli: Cli) -> None:
    result = cli("ledger", "verify", "--bundle", "/nonexistent")
    assert result.code == EXIT_ERROR, result
    assert "/nonexistent" in result.err
    assert "Traceback" not in result.err


# ------------------------------------------------------------------------ roots in base64


def test_roots_are_shown_in_hex_and_base64(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    root = merkle.root_from_leaf_hashes([r.leaf_hash for r in receipts])
    both = f"root {root.hex()} (base64 {base64.b64encode(root).decode()})"

    readable: list[tuple[str, ...]] = [
        ("audit",),
        ("status",),
        ("export", "--out", str(env.tmp / "b1")),
    ]
    for argv in readable:
        result = cli("ledger", *argv)
        assert result.code == EXIT_OK, result
        assert both in result.out, (argv, result.out)
    verified = cli(
        "ledger", "verify", "--bundle", str(env.tmp / "b1"), "--public-key", public_key(cli)
    )
    assert both in verified.out

    as_json: list[tuple[str, ...]] = [
        ("audit", "--json"),
        ("status", "--json"),
        ("export", "--out", str(env.tmp / "b2"), "--json"),
        ("verify", "--bundle", str(env.tmp / "b2"), "--json"),
    ]
    for argv in as_json:
        result = cli("ledger", *argv)
        assert result.code == EXIT_OK, result
        document = json.loads(result.out)
        assert document["root"] == root.hex(), argv  # unchanged
        assert base64.b64decode(document["root_base64"]) == root, argv
        keys = list(document)
        assert keys.index("root_base64") == keys.index("root") + 1, argv
    exported = json.loads(cli("ledger", "export", "--out", str(env.tmp / "b3"), "--json").out)
    assert exported["bundle"] == str(env.tmp / "b3")
    assert exported["size"] == ENTRIES


# ------------------------------------------------------------------------ verify-receipt


def write_receipt(env: Env, document: Any, name: str = "receipt.json") -> Path:
    path = env.tmp / name
    path.write_text(json.dumps(document))
    return path


def verify_receipt(cli: Cli, path: Path, key: str, *args: str) -> Result:
    return cli("ledger", "verify-receipt", str(path), "--public-key", key, *args)


def envelope_file(env: Env, index: int) -> Path:
    """The exact envelope bytes of an entry, as the entries API gives them (base64-decoded)."""
    rt = Runtime.open(Settings())
    try:
        envelope = rt.ledger.entry(index).envelope
    finally:
        rt.close()
    path = env.tmp / f"envelope-{index}"
    path.write_bytes(envelope)
    return path


def test_verify_receipt_of_real_appends(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    key = public_key(cli)
    for receipt in receipts:
        result = verify_receipt(cli, write_receipt(env, receipt.to_json()), key)
        assert result.code == EXIT_OK, result
        assert result.lines[-1] == "verified"
        assert "SKIPPED: envelope" in result.out

    receipt = receipts[TAMPERED]
    with_envelope = verify_receipt(
        cli,
        write_receipt(env, receipt.to_json()),
        key,
        "--envelope",
        str(envelope_file(env, receipt.index)),
        "--json",
    )
    assert with_envelope.code == EXIT_OK, with_envelope
    document = json.loads(with_envelope.out)
    assert document["verified"] is True
    assert document["failed_step"] is None
    assert [s["status"] for s in document["steps"]] == ["ok", "ok", "ok", "ok"]
    checkpoint = NoteVerifier.from_verifier_key(key).verify(receipt.checkpoint)
    assert document["root"] == checkpoint.root.hex()
    assert base64.b64decode(document["root_base64"]) == checkpoint.root
    assert (document["index"], document["tree_size"]) == (receipt.index, receipt.tree_size)


def test_verify_receipt_inside_an_api_answer(
    cli: Cli, env: Env, receipts: list[Receipt], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {"verdict": "pass", "receipt": receipts[-1].to_json()}
    key = public_key(cli)
    assert verify_receipt(cli, write_receipt(env, answer), key).code == EXIT_OK
    # From standard input, as in `curl … | governance ledger verify-receipt -`.
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(answer).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli("ledger", "verify-receipt", "-", "--public-key", key).code == EXIT_OK


def test_verify_receipt_needs_no_database(
    cli: Cli, env: Env, receipts: list[Receipt], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = public_key(cli)
    path = write_receipt(env, receipts[-1].to_json())
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    monkeypatch.setenv("GOVERNANCE_SIGNING_KEY_FILE", str(env.tmp / "nowhere" / "key"))
    result = verify_receipt(cli, path, key)
    assert result.code == EXIT_OK, result
    assert not (env.tmp / "nowhere").exists()


def _flip_hex(value: str) -> str:
    return ("0" if value[0] != "0" else "1") + value[1:]


def _tamper_leaf(receipt: dict[str, Any]) -> None:
    receipt["leaf_hash"] = _flip_hex(receipt["leaf_hash"])


def _tamper_proof(receipt: dict[str, Any]) -> None:
    receipt["inclusion_proof"][0] = _flip_hex(receipt["inclusion_proof"][0])


def _tamper_note(receipt: dict[str, Any]) -> None:
    # Another root in the signed text: the signature no longer covers it.
    origin, size, _root, rest = receipt["checkpoint"].split("\n", 3)
    changed = base64.b64encode(bytes(32)).decode()
    receipt["checkpoint"] = "\n".join([origin, size, changed, rest])


def _tamper_size(receipt: dict[str, Any]) -> None:
    receipt["tree_size"] += 1


def _tamper_index(receipt: dict[str, Any]) -> None:
    receipt["index"] -= 1


@pytest.mark.parametrize(
    ("tamper", "step"),
    [
        (_tamper_leaf, "inclusion proof"),
        (_tamper_proof, "inclusion proof"),
        (_tamper_note, "checkpoint signature"),
        (_tamper_size, "tree size"),
        (_tamper_index, "inclusion proof"),
    ],
    ids=["leaf-hash", "proof-hash", "note", "tree-size", "index"],
)
def test_verify_receipt_finds_tampering(
    cli: Cli,
    env: Env,
    receipts: list[Receipt],
    tamper: Callable[[dict[str, Any]], None],
    step: str,
) -> None:
    document = receipts[TAMPERED].to_json()
    assert document["inclusion_proof"], "the receipt needs a proof to tamper with"
    tamper(document)
    path = write_receipt(env, document)
    key = public_key(cli)

    result = verify_receipt(cli, path, key)

    assert_check_failed(result)
    assert f"FAILED: {step}: " in result.out, result
    assert result.lines[-1] == "NOT verified"
    as_json = verify_receipt(cli, path, key, "--json")
    assert_check_failed(as_json)
    answer = json.loads(as_json.out)
    assert answer["verified"] is False
    assert answer["failed_step"] == step


def test_verify_receipt_with_another_key(cli: Cli, env: Env, receipts: list[Receipt]) -> None:
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier_key
    result = verify_receipt(cli, write_receipt(env, receipts[-1].to_json()), impostor)
    assert_check_failed(result)
    assert "FAILED: checkpoint signature: " in result.out, result


def test_verify_receipt_with_the_wrong_envelope(
    cli: Cli, env: Env, receipts: list[Receipt]
) -> None:
    receipt = receipts[TAMPERED]
    path = write_receipt(env, receipt.to_json())
    key = public_key(cli)
    other = verify_receipt(cli, path, key, "--envelope", str(envelope_file(env, 0)))
    assert_check_failed(other)
    assert "FAILED: envelope: SHA-256(0x00 ‖ envelope) is not the receipt's leaf hash" in other.out

    # The right envelope, but the receipt names another payload: the leaf still matches.
    document = {**receipt.to_json(), "sha256": "0" * 64}
    mismatch = verify_receipt(
        cli,
        write_receipt(env, document, "other-payload.json"),
        key,
        "--envelope",
        str(envelope_file(env, receipt.index)),
    )
    assert_check_failed(mismatch)
    assert "FAILED: envelope: the envelope's payload sha256 is" in mismatch.out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the receipt"),
        ("not json", "not JSON"),
        ("[1, 2]", "no receipt found"),
        ('{"receipt": "x"}', "no receipt found"),
        ('{"index": 0, "leaf_hash": "00"}', "lacks kind, sha256, tree_size"),
    ],
    ids=["missing", "not-json", "a-list", "not-an-object", "incomplete"],
)
def test_verify_receipt_of_unreadable_input(
    cli: Cli, env: Env, receipts: list[Receipt], content: str | None, message: str
) -> None:
    path = env.tmp / "input.json"
    if content is not None:
        path.write_text(content)
    result = verify_receipt(cli, path, public_key(cli))
    assert result.code == EXIT_ERROR, result
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("index", "2"),
        ("index", True),
        ("index", -1),
        ("tree_size", 0),
        ("leaf_hash", "zz" * 32),
        ("sha256", "ab"),
        ("inclusion_proof", "ab"),
        ("checkpoint", 7),
    ],
)
def test_verify_receipt_of_malformed_fields(
    cli: Cli, env: Env, receipts: list[Receipt], field: str, value: Any
) -> None:
    document = {**receipts[TAMPERED].to_json(), field: value}
    result = verify_receipt(cli, write_receipt(env, document), public_key(cli))
    assert result.code == EXIT_ERROR, result
    assert field in result.err


def test_verify_receipt_with_a_malformed_key_or_envelope_path(
    cli: Cli, env: Env, receipts: list[Receipt]
) -> None:
    path = write_receipt(env, receipts[-1].to_json())
    malformed = verify_receipt(cli, path, "not+a+key")
    assert malformed.code == EXIT_ERROR, malformed
    assert "public key" in malformed.err
    missing = verify_receipt(cli, path, public_key(cli), "--envelope", str(env.tmp / "none"))
    assert missing.code == EXIT_ERROR, missing
    assert "cannot read the envelope" in missing.err
