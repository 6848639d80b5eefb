"""The embedded engine's worker: rego-cpp (``regopy``) in a process of its own.

Run as ``python -m adapters.regopy_worker`` by :mod:`adapters.regopy_engine`. Some Rego constructs
crash rego-cpp (a native abort or segmentation fault) or run for minutes; in this process they
take only the worker down, and the service starts another.

The protocol on stdin/stdout is a sequence of frames, each a 4-byte big-endian length and that
many bytes of JSON. Requests: ``{"op": "load", "modules": {path: text}, "data": {...},
"query": "data.x.y"}`` (compiles the modules and data for that one query, once) and
``{"op": "eval", "input": {...}}`` (evaluates the compiled query on the input). Replies:
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Native code that prints to stdout
cannot corrupt a frame: the frames go to a private copy of the stdout descriptor, and
descriptor 1 is pointed at stderr.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> Any:
    """One frame's JSON value, or ``None`` at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body)


def frame(value: Any) -> bytes:
    """``value`` as one frame."""
    body = json.dumps(value, separators=(",", ":")).encode()
    return _LENGTH.pack(len(body)) + body


class _Worker:
    def __init__(self) -> None:
        import regopy

        self._regopy = regopy
        self._interpreter: Any = None
        self._compiled: Any = None
        self.version = f"{regopy.rego_version()} (rego-cpp)"

    def load(self, modules: dict[str, str], data: dict[str, Any], query: str) -> dict[str, Any]:
        interpreter = self._regopy.Interpreter()
        for path, text in sorted(modules.items()):
            interpreter.add_module(path, text)
        interpreter.add_data_json(json.dumps(data))
        # Compiled once: evaluating the compiled plan is a fraction of a millisecond where a
        # fresh query recompiles every module first. The answer is bound to a variable: asking
        # an output for a binding it does not have aborts the process.
        compiled = interpreter.build(f"decision := {query}")
        if not compiled.ok():
            return {"ok": False, "error": "the bundle does not compile"}
        self._interpreter, self._compiled = interpreter, compiled
        return {"ok": True, "version": self.version}

    def evaluate(self, document: Any) -> dict[str, Any]:
        if self._interpreter is None:
            return {"ok": False, "error": "no bundle is loaded"}
        interpreter = self._interpreter
        interpreter.set_input_term(json.dumps(document))
        output = interpreter.query_bundle(self._compiled)
        text = str(output)
        if not output.ok():
            return {"ok": False, "error": f"the engine reported an error: {text[:2000]}"}
        if text == "undefined":
            return {"ok": True, "result": None}
        return {"ok": True, "result": json.loads(output.binding("decision").json())}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "load":
            return self.load(request["modules"], request["data"], request["query"])
        if op == "eval":
            return self.evaluate(request["input"])
        return {"ok": False, "error": f"unknown request {op!r}"}


def main() -> None:
    """Serve frames until stdin closes."""
    frames = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    worker = _Worker()
    while True:
        request = read_frame(requests)
        if request is None:
            return
        try:
            reply = worker.handle(request)
        except Exception as exc:  # noqa: BLE001 - any failure is the caller's error decision
            reply = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
        frames.write(frame(reply))


if __name__ == "__main__":
    main()
