"""The asyncio HTTP load client the benches use when wrk is not installed, in a process of its own.

The bench process calls :func:`run_client` with a target (``"bench.ingest:client_main"``: a
coroutine function taking a :class:`LoadSpec`) and the spec; that starts
``python -m bench._loadclient TARGET SPEC`` from the repository root, which runs the target (on
uvloop when installed) and prints its :class:`LoadResult` as one line of JSON. A target builds
its requests and hands a worker loop (e.g. :func:`raw_socket_workers`) to :func:`measure_load`,
which owns the warm-up, the measured window, the latency record and the CPU sampling.

The client has a process of its own so that the bench measures the server, not the GIL the
client would share with it, and prints the CPU cores both used in the window.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from bench._common import REPO_ROOT, pct


class LoadSpec(TypedDict):
    """What one client process does: ``concurrency`` connections for ``warmup + seconds``."""

    port: int
    server_pid: int
    #: What to send; each target knows its modes (e.g. ``"post"`` or ``"get"``).
    mode: str
    key: str
    seconds: float
    warmup: float
    concurrency: int
    #: Makes this run's bodies differ from every other run's (no idempotent duplicates).
    nonce: str


class LoadResult(TypedDict):
    """Counts over the measured window (``ok_total``: every 2xx, the warm-up's included)."""

    ok: int
    ok_total: int
    errors: int
    window: float
    server_cpu: float
    client_cpu: float
    p50: float
    p99: float


ClientMain = Callable[[LoadSpec], Coroutine[Any, Any, LoadResult]]


def run_client(target: str, spec: LoadSpec, timeout: float) -> LoadResult:
    """Run ``target`` (``module:function``) in a client process; its result."""
    proc = subprocess.run(
        [sys.executable, "-m", __spec__.name, target, json.dumps(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"HTTP client failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return cast(LoadResult, json.loads(lines[-1]))


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


@dataclass
class LoadWindow:
    """A client's measuring window: what it counts inside it (after the warm-up)."""

    measure_from: float
    stop_at: float
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    ok_total: int = 0
    errors: int = 0

    def record(self, started: float, ended: float, status: int) -> None:
        """One request: 2xx in total, and (inside the window) its latency or an error."""
        if 200 <= status < 300:
            self.ok_total += 1
        if started >= self.measure_from and ended <= self.stop_at:
            if 200 <= status < 300:
                self.ok += 1
                self.latencies.append(ended - started)
            else:
                self.errors += 1


async def measure_load(
    spec: LoadSpec, run_workers: Callable[[LoadWindow], Awaitable[object]]
) -> LoadResult:
    """Run ``run_workers`` over the spec's warm-up and window; counts, latency and CPU.

    Server and client CPU are sampled over exactly the measured window.
    """
    measure_from = time.perf_counter() + spec["warmup"]
    window = LoadWindow(measure_from, measure_from + spec["seconds"])
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, window.measure_from - time.perf_counter()))
        cpu["server"] = proc_cpu_seconds(spec["server_pid"])
        cpu["client"] = time.process_time()
        await asyncio.sleep(max(0.0, window.stop_at - time.perf_counter()))
        cpu["server"] = proc_cpu_seconds(spec["server_pid"]) - cpu["server"]
        cpu["client"] = time.process_time() - cpu["client"]

    sampler = asyncio.ensure_future(sample_cpu())
    await run_workers(window)
    await sampler
    window.latencies.sort()
    return {
        "ok": window.ok,
        "ok_total": window.ok_total,
        "errors": window.errors,
        "window": spec["seconds"],
        "server_cpu": cpu["server"],
        "client_cpu": cpu["client"],
        "p50": pct(window.latencies, 50),
        "p99": pct(window.latencies, 99),
    }


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(head[at + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise RuntimeError(f"unframed response: {head[:200]!r}")
    return status


async def raw_socket_workers(
    spec: LoadSpec, window: LoadWindow, request: Callable[[int, int], bytes]
) -> None:
    """``spec["concurrency"]`` keep-alive connections, each sending ``request(worker, seq)``
    (workers and sequence numbers from 1) and reading the response, until the window ends."""

    async def worker(number: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", spec["port"])
        try:
            seq = 0
            while (started := time.perf_counter()) < window.stop_at:
                seq += 1
                writer.write(request(number, seq))
                status = await _read_response(reader)
                window.record(started, time.perf_counter(), status)
        finally:
            writer.close()

    await asyncio.gather(*(worker(w + 1) for w in range(spec["concurrency"])))


def main(argv: list[str]) -> int:
    """``TARGET SPEC``: run the target's coroutine on the spec and print its result as JSON."""
    target, raw_spec = argv
    module, _, name = target.partition(":")
    client_main = cast(ClientMain, getattr(importlib.import_module(module), name))
    spec = cast(LoadSpec, json.loads(raw_spec))
    runner: Callable[[Coroutine[Any, Any, LoadResult]], LoadResult]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(client_main(spec))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
