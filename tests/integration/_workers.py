"""Child processes for the ledger's multi-process and crash tests.

Run as ``python -m tests.integration._workers MODE CONFIG_JSON`` from the repository root. Every
mode opens its own :class:`Runtime` on ``config["url"]`` with the shared signing key, touches
``config["ready"]`` once it can append, and waits for ``config["start"]`` to exist before it
starts, so that the parent can release all workers at the same moment.

Modes:

``bulk``
    Appends ``count`` distinct entries from ``threads`` threads (submitting ``chunk`` futures at a
    time, then waiting for them) and writes every receipt to ``config["out"]`` as JSON.
``idem``
    For each of ``rounds`` rounds, every thread appends filler entries around one entry that all
    threads of all processes share (same kind and payload; explicit key ``"<tag>-<round>"``, or
    the default key when ``tag`` is null). Writes every receipt to ``config["out"]`` as JSON.
``crash``
    Appends until killed, from ``threads`` threads; after each receipt returns it writes the line
    ``"<index> <leaf hex> <payload sha256>"`` to ``config["log"]`` and flushes and fsyncs it.
``project``
    Appends OpenLineage events, classifications and attestation verdicts until killed, with the
    projections in the batches (``hooks``) or in the follower only; logs ``"<index> <kind>"``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from governance.attestations.service import AttestationService
from governance.config import Settings
from governance.ledger import kinds
from governance.ledger.entries import AppendRequest, Submitter
from governance.ledger.store import Ledger, Receipt
from governance.lineage.ingest import LineageIngest
from governance.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
KIND = kinds.EVIDENCE.name
MEDIA_TYPE = "application/octet-stream"

RUNNER = Submitter("runner", "k_runner")
STEWARD = Submitter("steward", "k_steward")
CI = Submitter("ci", "k_ci")


def bulk_payload(worker: int, number: int) -> bytes:
    """The payload of entry ``number`` of worker ``worker`` in ``bulk`` mode (distinct)."""
    return f"bulk worker={worker} entry={number}".encode()


def shared_payload(tag: str | None, round_number: int) -> bytes:
    """The payload every caller appends in round ``round_number`` of ``idem`` mode."""
    return f"shared tag={tag} round={round_number}".encode()


def receipt_json(receipt: Receipt, **extra: Any) -> dict[str, Any]:
    """A receipt as the parent reads it back."""
    return {
        "index": receipt.index,
        "leaf": receipt.leaf_hash.hex(),
        "sha256": receipt.payload_sha256,
        "tree_size": receipt.tree_size,
        "checkpoint": receipt.checkpoint,
        "proof": [h.hex() for h in receipt.inclusion_proof],
        "duplicate": receipt.duplicate,
        **extra,
    }


def _open(config: dict[str, Any]) -> Runtime:
    settings = Settings(
        database_url=config["url"],
        signing_key_file=Path(config["key"]),
        ledger_origin=config["origin"],
        log_json=False,
    )
    return Runtime.open(settings)


def _wait_for_start(config: dict[str, Any]) -> None:
    Path(config["ready"]).touch()
    start = Path(config["start"])
    deadline = time.monotonic() + 120
    while not start.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the start signal never came")
        time.sleep(0.001)


def _run_threads(threads: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(number: int) -> None:
        try:
            target(number)
        except BaseException as exc:
            errors.append(exc)
            raise

    workers = [threading.Thread(target=guarded, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if errors:
        raise errors[0]


def run_bulk(config: dict[str, Any]) -> None:
    worker, count, threads, chunk = (
        config["worker"],
        config["count"],
        config["threads"],
        config["chunk"],
    )
    runtime = _open(config)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def append_slice(thread: int) -> None:
        numbers = list(range(thread, count, threads))
        for at in range(0, len(numbers), chunk):
            futures = [
                (
                    n,
                    runtime.ledger.submit(
                        AppendRequest(
                            KIND,
                            bulk_payload(worker, n),
                            MEDIA_TYPE,
                            subjects=[{"name": f"worker-{worker}"}],
                        )
                    ),
                )
                for n in numbers[at : at + chunk]
            ]
            done = [receipt_json(f.result(timeout=120), number=n) for n, f in futures]
            with lock:
                results.extend(done)

    try:
        _wait_for_start(config)
        started = time.time()
        _run_threads(threads, append_slice)
        finished = time.time()
    finally:
        runtime.close()
    Path(config["out"]).write_text(
        json.dumps({"started": started, "finished": finished, "receipts": results})
    )


def run_idem(config: dict[str, Any]) -> None:
    worker, rounds, threads, fillers = (
        config["worker"],
        config["rounds"],
        config["threads"],
        config["fillers"],
    )
    tag: str | None = config["tag"]
    runtime = _open(config)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def filler(thread: int, round_number: int, n: int) -> Future[Receipt]:
        payload = f"filler worker={worker} thread={thread} round={round_number} n={n}".encode()
        return runtime.ledger.submit(AppendRequest(KIND, payload, MEDIA_TYPE))

    def race(thread: int) -> None:
        for round_number in range(rounds):
            before = [filler(thread, round_number, n) for n in range(fillers)]
            shared = runtime.ledger.submit(
                AppendRequest(
                    KIND,
                    shared_payload(tag, round_number),
                    MEDIA_TYPE,
                    idempotency_key=None if tag is None else f"{tag}-{round_number}",
                )
            )
            after = [filler(thread, round_number, fillers + n) for n in range(fillers)]
            done = [receipt_json(shared.result(timeout=120), round=round_number, shared=True)]
            done += [
                receipt_json(f.result(timeout=120), round=round_number, shared=False)
                for f in before + after
            ]
            with lock:
                results.extend(done)

    try:
        _wait_for_start(config)
        _run_threads(threads, race)
    finally:
        runtime.close()
    Path(config["out"]).write_text(json.dumps({"receipts": results}))


def run_crash(config: dict[str, Any]) -> None:
    threads, burst, tag = config["threads"], config["burst"], config["tag"]
    runtime = _open(config)
    log_lock = threading.Lock()
    log_fd = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def acknowledge(receipt: Receipt) -> None:
        line = f"{receipt.index} {receipt.leaf_hash.hex()} {receipt.payload_sha256}\n".encode()
        with log_lock:
            os.write(log_fd, line)
            os.fsync(log_fd)

    def append_forever(thread: int) -> None:
        n = 0
        while True:
            futures = []
            for _ in range(burst):
                payload = f"crash tag={tag} thread={thread} n={n}".encode() + os.urandom(16)
                futures.append(runtime.ledger.submit(AppendRequest(KIND, payload, MEDIA_TYPE)))
                n += 1
            for future in futures:
                acknowledge(future.result(timeout=120))

    _wait_for_start(config)
    # Runs until the parent kills the process; the runtime is never closed on purpose.
    _run_threads(threads, append_forever)


def run_project(config: dict[str, Any]) -> None:
    """Append lineage events, classifications and attestation verdicts until killed.

    With ``hooks`` the appends go through the runtime (each batch projects itself); without,
    through a second ledger with no hooks, and only the runtime's follower (and a thread that
    catches up in a loop) projects them. Each acknowledged entry is logged as ``index kind``.
    """
    settings = Settings(
        database_url=config["url"],
        signing_key_file=Path(config["key"]),
        ledger_origin=config["origin"],
        log_json=False,
        trust_config=Path(config["trust"]),
    )
    runtime = Runtime.open(settings, attestations=True)
    assert runtime.attestations is not None
    ledger = runtime.ledger
    if not config["hooks"]:
        ledger = Ledger(runtime.engine, runtime.signer)
        ledger.start()

        def catch_up_forever() -> None:
            while True:
                runtime.projections.catch_up()

        threading.Thread(target=catch_up_forever, daemon=True).start()
    lineage = LineageIngest(ledger)
    attestations = AttestationService(runtime.engine, ledger, runtime.attestations.verifier)
    log_fd = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    bundles = [(bytes.fromhex(b), purpose, digest) for b, purpose, digest in config["bundles"]]

    def acknowledge(index: int, kind: str) -> None:
        os.write(log_fd, f"{index} {kind}\n".encode())
        os.fsync(log_fd)

    async def forever() -> None:
        n = 0
        while True:
            n += 1
            event = {
                "eventType": "COMPLETE",
                "eventTime": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": "crash", "name": f"job{n % 5}"},
                "inputs": [{"namespace": "crash", "name": f"in{n % 3}"}],
                "outputs": [{"namespace": "crash", "name": f"out{n % 4}"}],
                "producer": "https://example.com/crash",
            }
            receipt = await lineage.ingest(json.dumps(event).encode(), RUNNER)
            acknowledge(receipt.index, kinds.OPENLINEAGE.name)
            if n % 5 == 0:
                receipt = await lineage.classify(
                    "crash", f"in{n % 3}", {"personalData": n % 2 == 0}, STEWARD
                )
                acknowledge(receipt.index, kinds.DATASET_CLASSIFICATION.name)
            if n % 7 == 0:
                bundle, purpose, digest = bundles[n % len(bundles)]
                wrong = "sha256:" + os.urandom(32).hex()  # a failing verdict, a new entry
                outcome = await attestations.submit(
                    bundle, purpose, CI, expected_digest=digest if n % 14 == 0 else wrong
                )
                acknowledge(outcome.receipt.index, kinds.ATTESTATION.name)

    _wait_for_start(config)
    asyncio.run(forever())


# -- the parent's side ------------------------------------------------------------------------


class Children:
    """Worker processes started by a test; every one still alive is SIGKILLed on exit."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: list[tuple[subprocess.Popen[bytes], dict[str, Any], Path]] = []

    def spawn(self, mode: str, config: dict[str, Any]) -> subprocess.Popen[bytes]:
        """Start ``python -m tests.integration._workers MODE CONFIG`` from the repository root."""
        number = len(self.procs)
        stderr_path = self.directory / f"worker-{number}.stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration._workers", mode, json.dumps(config)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        self.procs.append((proc, config, stderr_path))
        return proc

    def stderr(self, proc: subprocess.Popen[bytes]) -> str:
        """What a worker printed (its traceback, if it failed)."""
        for candidate, _config, path in self.procs:
            if candidate is proc:
                return path.read_text(errors="replace")[-4000:]
        return ""

    def _check_alive(self) -> None:
        for proc, _config, _path in self.procs:
            if proc.poll() is not None:
                raise AssertionError(
                    f"worker {proc.pid} exited early with {proc.returncode}:\n{self.stderr(proc)}"
                )

    def release(self, start: Path, timeout: float = 120.0) -> None:
        """Wait until every worker is ready, then let them all start at once."""
        deadline = time.monotonic() + timeout
        for _proc, config, _path in self.procs:
            while not Path(config["ready"]).exists():
                self._check_alive()
                if time.monotonic() > deadline:
                    raise AssertionError("workers did not get ready in time")
                time.sleep(0.01)
        start.touch()

    def wait(self, timeout: float) -> None:
        """Wait for every worker to exit successfully."""
        deadline = time.monotonic() + timeout
        for proc, _config, _path in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"worker {proc.pid} did not finish in time") from None
            if proc.returncode != 0:
                raise AssertionError(
                    f"worker {proc.pid} failed with {proc.returncode}:\n{self.stderr(proc)}"
                )

    def kill_all(self) -> None:
        """SIGKILL and reap every worker that is still running."""
        for proc, _config, _path in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.kill_all()


MODES = {"bulk": run_bulk, "idem": run_idem, "crash": run_crash, "project": run_project}


def main(argv: list[str]) -> None:
    """Entry point: ``MODE CONFIG_JSON``."""
    mode, config = argv[0], json.loads(argv[1])
    MODES[mode](config)


if __name__ == "__main__":
    main(sys.argv[1:])
