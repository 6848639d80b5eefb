"""Export bundles, and their offline verification with no database and no server.

A bundle is a directory::

    manifest.json        format, origin, public key, size, root, newest checkpoint, payloads flag
    public-key.txt       the C2SP verifier key (prefer one obtained out of band)
    entries.jsonl        {"index", "kind", "leaf_hash", "envelope": base64 of the exact leaf bytes}
    checkpoints.jsonl    {"size", "root", "note"} for every checkpoint ever signed
    payloads.jsonl       {"index", "data": base64}, omitted with --no-payloads; erased ones absent

Verification re-hashes everything with the same :class:`~governance.ledger.audit.Replay` the
database audit uses.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from governance import timefmt
from governance.errors import CheckpointError, InputError
from governance.ledger import merkle
from governance.ledger.audit import (
    MISSING,
    NOT_CARRIED,
    AuditReport,
    Damage,
    Progress,
    Replay,
    replay_stream,
)
from governance.ledger.checkpoint import NoteVerifier
from governance.sql import Dialect, keyset, keyset_rows, snapshot

FORMAT = "governance-ledger-bundle/1"


def _entry_chunks(cur: Any, dialect: Dialect) -> Iterator[list[tuple[int, str, bytes, bytes]]]:
    """Entries in index order, each with its stored leaf hash (the database's own record)."""
    entries = keyset(
        cur,
        dialect,
        "SELECT idx, kind, envelope FROM ledger_entries "
        "WHERE idx > :after ORDER BY idx LIMIT :limit",
    )
    for chunk in entries:
        rows = [(int(r[0]), str(r[1]), bytes(r[2])) for r in chunk]
        ids = [merkle.node_position(0, r[0]) for r in rows]
        where, value = dialect.id_filter("id", ids)
        # keyset() has fetched the chunk in full, so the cursor is free for the leaves.
        cur.execute(dialect.sql(f"SELECT id, hash FROM ledger_nodes WHERE {where}"), {"ids": value})  # noqa: S608
        leaves = {int(r[0]): bytes(r[1]) for r in cur.fetchall()}
        yield [
            (idx, kind, envelope, leaves.get(node_id) or merkle.leaf_hash(envelope))
            for (idx, kind, envelope), node_id in zip(rows, ids, strict=True)
        ]


def export_bundle(
    engine: Engine,
    verifier_key: str,
    out: Path,
    *,
    payloads: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the whole ledger, as of one snapshot, to the directory ``out``; return the manifest."""
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty", hint="choose a new directory")
    out.mkdir(parents=True, exist_ok=True)
    dialect = Dialect.of(engine)
    with snapshot(engine) as cur:
        cur.execute("SELECT size, root FROM ledger_head WHERE id = 1")
        head = cur.fetchone()
        if head is None:
            raise InputError("the ledger head row is missing; run `governance db upgrade`")
        size, root = int(head[0]), bytes(head[1])
        with (out / "entries.jsonl").open("w") as f:
            for chunk in _entry_chunks(cur, dialect):
                for idx, kind, envelope, leaf in chunk:
                    record = {
                        "index": idx,
                        "kind": kind,
                        "leaf_hash": leaf.hex(),
                        "envelope": base64.b64encode(envelope).decode(),
                    }
                    f.write(json.dumps(record, separators=(",", ":")) + "\n")
                if progress is not None:
                    progress(len(chunk))
        newest = ""
        with (out / "checkpoints.jsonl").open("w") as f:
            for cp_size, cp_root, note in keyset_rows(
                cur,
                dialect,
                "SELECT size, root, note FROM ledger_checkpoints WHERE size > :after "
                "ORDER BY size LIMIT :limit",
            ):
                f.write(
                    json.dumps(
                        {"size": int(cp_size), "root": bytes(cp_root).hex(), "note": note},
                        separators=(",", ":"),
                    )
                    + "\n"
                )
                newest = str(note)
        if payloads:
            with (out / "payloads.jsonl").open("w") as f:
                for idx, data in keyset_rows(
                    cur,
                    dialect,
                    "SELECT idx, data FROM ledger_payloads WHERE idx > :after "
                    "ORDER BY idx LIMIT :limit",
                ):
                    f.write(
                        json.dumps(
                            {"index": int(idx), "data": base64.b64encode(bytes(data)).decode()},
                            separators=(",", ":"),
                        )
                        + "\n"
                    )
    manifest = {
        "format": FORMAT,
        "origin": verifier_key.split("+", 1)[0],
        "public_key": verifier_key,
        "size": size,
        "root": bytes(root).hex(),
        "checkpoint": newest,
        "payloads": payloads,
        "created_at": timefmt.now(),
    }
    (out / "public-key.txt").write_text(verifier_key + "\n")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


class _BundleDamage(Exception):
    """A line of the bundle cannot be read; reported as damage at ``index``."""

    def __init__(self, index: int, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.detail = detail


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as f:
        for number, line in enumerate(f):
            try:
                record = json.loads(line)
            except ValueError:
                raise _BundleDamage(number, f"{path.name} line {number + 1} is not JSON") from None
            if not isinstance(record, dict):
                raise _BundleDamage(number, f"{path.name} line {number + 1} is not an object")
            yield number, record


def _entries(path: Path, payloads: Iterator[tuple[int, bytes]] | None) -> Iterator[Any]:
    pending = next(payloads, None) if payloads is not None else None
    for number, record in _jsonl(path):
        try:
            index = int(record["index"])
            envelope = base64.b64decode(record["envelope"], validate=True)
            leaf = bytes.fromhex(record["leaf_hash"]) if "leaf_hash" in record else None
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise _BundleDamage(number, f"entries.jsonl line {number + 1} is malformed") from None
        payload: Any = NOT_CARRIED
        if payloads is not None:
            while pending is not None and pending[0] < index:
                pending = next(payloads, None)
            payload = pending[1] if pending is not None and pending[0] == index else MISSING
        yield index, envelope, payload, leaf


def _payloads(path: Path) -> Iterator[tuple[int, bytes]]:
    for number, record in _jsonl(path):
        try:
            yield int(record["index"]), base64.b64decode(record["data"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise _BundleDamage(number, f"payloads.jsonl line {number + 1} is malformed") from None


def _checkpoints(path: Path) -> Iterator[tuple[int, bytes | None, str]]:
    for number, record in _jsonl(path):
        try:
            yield int(record["size"]), bytes.fromhex(record["root"]), str(record["note"])
        except (KeyError, TypeError, ValueError):
            raise _BundleDamage(
                number, f"checkpoints.jsonl line {number + 1} is malformed"
            ) from None


def verify_bundle(
    bundle: Path, public_key: str | None = None, *, progress: Progress | None = None
) -> tuple[AuditReport, bool]:
    """Verify an export offline. Returns the report and whether the bundle's own key was trusted.

    Without ``public_key`` the key in the bundle is used, which only proves internal consistency:
    anyone able to rewrite the bundle could re-sign it. Pass the key obtained out of band.
    """
    started = time.perf_counter()
    try:
        manifest = json.loads((bundle / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{bundle} is not a readable ledger bundle: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{bundle} is not a {FORMAT} bundle")
    self_trusted = public_key is None
    key = public_key or (bundle / "public-key.txt").read_text().strip()
    try:
        verifier = NoteVerifier.from_verifier_key(key.strip())
    except CheckpointError as exc:
        raise InputError(f"unusable public key: {exc.message}") from None
    replay = Replay(verifier)
    carried = bool(manifest.get("payloads"))
    payloads = _payloads(bundle / "payloads.jsonl") if carried else None
    try:
        replay_stream(
            replay,
            _entries(bundle / "entries.jsonl", payloads),
            _checkpoints(bundle / "checkpoints.jsonl"),
            progress=progress,
        )
    except _BundleDamage as exc:
        replay.add(exc.index, Damage.ENVELOPE_CHANGED, exc.detail)
        replay.stop()
    except OSError as exc:
        raise InputError(f"cannot read the bundle: {exc}") from None
    report = replay.finish(None)
    if not replay.stopped:
        size = manifest.get("size")
        if size != report.entries or manifest.get("root") != report.root.hex():
            replay.add(
                None, Damage.HEAD_INCONSISTENT, "manifest size or root differs from the entries"
            )
        newest = manifest.get("checkpoint")
        if report.entries and newest:
            try:
                signed = verifier.verify(newest)
                if signed.size != report.entries or signed.root != report.root:
                    raise CheckpointError("it does not sign the bundle's final tree")
            except CheckpointError as exc:
                replay.add(None, Damage.CHECKPOINT_INVALID, f"manifest checkpoint: {exc.message}")
    report.findings.sort(key=lambda f: f.sort_key())
    report.seconds = time.perf_counter() - started
    return report, self_trusted
