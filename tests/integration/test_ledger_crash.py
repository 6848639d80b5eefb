"""A writer process killed with SIGKILL mid-stream loses nothing it acknowledged.

The child appends continuously from several threads and, after each receipt returns, logs
``index leaf_hex payload_sha`` to a file it fsyncs. The parent kills it at some moment, then
"restarts": opens a fresh Runtime on the same database, audits it, checks every acknowledged entry
is stored exactly as acknowledged, and appends more on top. This is repeated several times, each
kill at a different moment, on the same database.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from governance.config import Settings
from governance.ledger.audit import audit_database
from governance.ledger.checkpoint import NoteVerifier, load_or_create_signing_key
from governance.ledger.entries import AppendRequest
from governance.runtime import Runtime
from tests.integration import _workers as workers

if TYPE_CHECKING:
    from tests.conftest import Database

#: (acknowledged receipts at least, seconds after the start at least) before each kill.
KILLS = [(300, 1.0), (200, 1.6), (400, 0.5)]


def _acknowledged(log: Path) -> list[tuple[int, str, str]]:
    """The complete lines of the child's receipt log."""
    data = log.read_bytes() if log.exists() else b""
    lines = data.split(b"\n")[:-1]  # a line cut by the kill has no newline yet
    result = []
    for line in lines:
        index, leaf, sha = line.decode().split(" ")
        result.append((int(index), leaf, sha))
    return result


def _kill_mid_stream(
    children: workers.Children, config: dict[str, object], log: Path, lines: int, seconds: float
) -> None:
    proc = children.spawn("crash", config)
    children.release(Path(str(config["start"])))
    started = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the writer exited on its own:\n{children.stderr(proc)}")
        if time.monotonic() - started > 60:
            raise AssertionError("the writer did not acknowledge enough appends in 60s")
        if time.monotonic() - started >= seconds and len(_acknowledged(log)) >= lines:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _audit_clean(runtime: Runtime, verifier: NoteVerifier) -> int:
    size, _root = runtime.ledger.head()
    report = audit_database(runtime.engine, verifier)
    assert report.ok, report.first.describe() if report.first else report
    assert report.entries == size
    return size


@pytest.mark.slow
def test_sigkilled_writer_loses_no_acknowledged_entry(database: Database, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database.url,
        signing_key_file=tmp_path / "keys" / "checkpoint.key",
        ledger_origin="test.governance/ledger",
        log_json=False,
    )
    load_or_create_signing_key(settings.signing_key_file)
    acknowledged: dict[int, tuple[str, str]] = {}
    expected_size = 0

    for attempt, (lines, seconds) in enumerate(KILLS):
        log = tmp_path / f"receipts-{attempt}.log"
        config = {
            "url": database.url,
            "key": str(settings.signing_key_file),
            "origin": settings.ledger_origin,
            "start": str(tmp_path / f"start-{attempt}"),
            "ready": str(tmp_path / f"ready-{attempt}"),
            "log": str(log),
            "threads": 4,
            "burst": 8,
            "tag": f"attempt-{attempt}",
        }
        with workers.Children(tmp_path) as children:
            _kill_mid_stream(children, config, log, lines, seconds)

        logged = _acknowledged(log)
        assert len(logged) >= lines
        twice = [index for index, _leaf, _sha in logged if index in acknowledged]
        assert len({index for index, _leaf, _sha in logged}) == len(logged)
        assert not twice, f"indexes acknowledged twice: {twice[:10]}"
        acknowledged.update({index: (leaf, sha) for index, leaf, sha in logged})
        # Each kill happened after the previous restart's appends: the chain continued from there.
        assert min(index for index, _leaf, _sha in logged) >= expected_size

        runtime = Runtime.open(settings)  # the restart
        try:
            verifier = NoteVerifier.from_verifier_key(runtime.ledger.verifier_key)
            size = _audit_clean(runtime, verifier)
            assert size > max(acknowledged)
            # Every entry acknowledged before this kill, and a sample of the earlier ones.
            earlier = sorted(set(acknowledged) - {index for index, _leaf, _sha in logged})
            check = [index for index, _leaf, _sha in logged] + random.sample(
                earlier, min(len(earlier), 200)
            )
            for index in check:
                leaf, sha = acknowledged[index]
                record = runtime.ledger.entry(index)
                assert record.leaf_hash.hex() == leaf, f"entry {index} is not what was acknowledged"
                assert record.payload_sha256 == sha
            for index in check[::10]:
                payload = runtime.ledger.payload(index)
                assert payload is not None
                assert hashlib.sha256(payload).hexdigest() == acknowledged[index][1]

            more = [
                runtime.ledger.append(
                    AppendRequest(
                        workers.KIND, f"after restart {attempt} #{n}".encode(), workers.MEDIA_TYPE
                    )
                )
                for n in range(20)
            ]
            assert [r.index for r in more] == list(range(size, size + 20))
            expected_size = _audit_clean(runtime, verifier)
            assert expected_size == size + 20
        finally:
            runtime.close()
        print(
            f"\nkill {attempt}: {len(logged)} acknowledged, {size - max(acknowledged) - 1} "
            f"committed but unacknowledged, ledger now {expected_size} entries"
        )
