"""The embedded policy engine: rego-cpp (``regopy``) in worker processes the service supervises.

Each worker (:mod:`adapters.regopy_worker`) holds the bundle and evaluates one decision at a time.
A decision waits for a free worker; a worker that crashes (rego-cpp aborts or segfaults on some
constructs), answers garbage, or overruns the timeout is killed, the decision is an error, and a
new worker (with the bundle loaded again) takes its place for the next decision.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.regopy_worker import frame
from governance.policy.bundle import PolicyBundle
from governance.policy.engine import DECISION_QUERY, EngineInfo, PolicyEngineError

_ROOT = Path(__file__).resolve().parent.parent
#: How long a new worker may take to start and load the bundle.
_LOAD_SECONDS = 60.0


class _Timeout(Exception):
    pass


class _Process:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), *sys.path])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.regopy_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._in = self.proc.stdin
        self._out = self.proc.stdout
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)

    def _read(self, count: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        needed = count
        while needed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise _Timeout
            chunk = os.read(self._out.fileno(), needed)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            needed -= len(chunk)
        return b"".join(chunks)

    def call(self, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its reply; raises on timeout, EOF or garbage."""
        deadline = time.monotonic() + timeout
        self._in.write(frame(request))
        self._in.flush()
        length = int.from_bytes(self._read(4, deadline), "big")
        reply = json.loads(self._read(length, deadline))
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise ValueError("the worker's reply is not a reply")
        return reply

    def kill(self) -> None:
        """Stop the worker at once (its whole process group)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._selector.close()
        for pipe in (self._in, self._out):
            # A request the dead worker never read stays buffered: closing flushes it, raises
            # BrokenPipeError, and closes the descriptor anyway.
            with contextlib.suppress(OSError):
                pipe.close()

    def close(self) -> None:
        """Let the worker exit (end of its input), then make sure it has."""
        try:
            self._in.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class EmbeddedEngine:
    """Evaluates decisions with ``regopy`` in ``workers`` supervised worker processes."""

    name = "embedded"

    def __init__(self, workers: int = 1) -> None:
        self._bundle: PolicyBundle | None = None
        self._idle: queue.LifoQueue[_Process | None] = queue.LifoQueue()
        self._size = max(1, workers)
        self._version = "regopy (not started)"
        for _ in range(self._size):
            self._idle.put(None)  # a slot; its process starts with its first decision

    @property
    def info(self) -> EngineInfo:
        """``embedded`` and rego-cpp's build."""
        return EngineInfo(self.name, self._version)

    def load(self, bundle: PolicyBundle) -> None:
        """Use ``bundle`` from now on (workers load it when they next start); checks it loads."""
        self._bundle = bundle
        probe = self._start()
        self._release(probe)

    def _start(self) -> _Process:
        if self._bundle is None:
            raise PolicyEngineError("no policy bundle is loaded")
        process = _Process()
        request = {
            "op": "load",
            "modules": dict(self._bundle.modules),
            "data": self._bundle.data,
            "query": DECISION_QUERY,
        }
        try:
            reply = process.call(request, _LOAD_SECONDS)
        except (_Timeout, EOFError, OSError, ValueError) as exc:
            process.kill()
            raise PolicyEngineError(
                f"the embedded engine did not start: {_describe(exc)}"
            ) from None
        if not reply["ok"]:
            process.kill()
            raise PolicyEngineError(f"the bundle does not load: {reply.get('error')}")
        self._version = f"regopy {reply.get('version', '?')}"
        return process

    def _release(self, process: _Process | None) -> None:
        self._idle.put(process)

    def evaluate(self, document: Mapping[str, Any], timeout: float) -> Any:
        """The decision document; a crash or timeout kills the worker and raises."""
        process: _Process | None = self._idle.get()
        try:
            if process is None:
                process = self._start()
            reply = process.call(
                {"op": "eval", "query": DECISION_QUERY, "input": document}, timeout
            )
        except _Timeout:
            # Out of the pool first: whatever happens next, a failed worker never goes back.
            failed, process = process, None
            self._discard(failed)
            raise PolicyEngineError(
                f"the embedded engine did not decide within {timeout:g} s (worker restarted)"
            ) from None
        except (EOFError, OSError, ValueError) as exc:
            failed, process = process, None
            self._discard(failed)
            raise PolicyEngineError(
                f"the embedded engine failed ({_describe(exc)}); worker restarted"
            ) from None
        finally:
            self._release(process)
        if not reply["ok"]:
            raise PolicyEngineError(str(reply.get("error")))
        return reply.get("result")

    @staticmethod
    def _discard(process: _Process | None) -> None:
        if process is not None:
            process.kill()

    def close(self) -> None:
        """Stop every worker."""
        for _ in range(self._size):
            process = self._idle.get()
            if process is not None:
                process.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the worker process exited"
    return f"{type(exc).__name__}: {exc}"[:300]
