"""``governance gate`` against a stand-in gate: every failure exits 2 and says what happened.

A small HTTP server in a thread plays the gate: it answers a canned decision, hangs after reading
the request, closes the connection without answering, or answers 2xx with something that is not a
decision. The command runs in-process through :func:`governance.cli.main.main`.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from governance.cli.main import main
from governance.gate.client import DECISIONS_PATH, GateCallFailed, request_decision

DIGEST = "sha256:" + "ab" * 32
DENY: dict[str, Any] = {
    "decision_id": "0b9c6d1e-6f0e-4a55-9d1a-3f4a6c2b7e10",
    "index": 7,
    "allow": False,
    "outcome": "deny",
    "mode": "enforce",
    "break_glass": False,
    "evaluated": ["iso27001"],
    "evaluated_at": "2026-12-01T00:00:00.000000+00:00",
    "error": None,
    "violations": [
        {"control": "iso-a8.32", "article": "A.8.32", "message": "no change record"},
        {"control": "iso-a5.3", "article": "A.5.3", "message": "0 independent approval(s)"},
    ],
    "warnings": [],
    "waived": [],
    "policy": {"bundle_digest": "sha256:" + "cd" * 32, "engine": "embedded", "engine_version": "1"},
}


@dataclass
class Answer:
    """What the stand-in does with the next request: ``act`` gets the handler."""

    act: Callable[[BaseHTTPRequestHandler], None]


@dataclass
class FakeGate:
    url: str
    answer: Answer
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def respond(status: int, body: bytes, content_type: str = "application/json") -> Answer:
    def act(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return Answer(act)


def decision(**changes: Any) -> Answer:
    return respond(201, json.dumps({**DENY, **changes}).encode())


@pytest.fixture
def gate() -> Iterator[FakeGate]:
    state: dict[str, FakeGate] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake = state["gate"]
            length = int(self.headers["Content-Length"])
            fake.received.append(
                {
                    "path": self.path,
                    "authorization": self.headers["Authorization"],
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            fake.answer.act(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["gate"] = FakeGate(f"http://127.0.0.1:{server.server_port}", decision())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state["gate"]
    finally:
        state["gate"].release.set()
        server.shutdown()
        server.server_close()


def hang(fake: FakeGate) -> Answer:
    """Read the request, then answer nothing until the test ends."""

    def act(_handler: BaseHTTPRequestHandler) -> None:
        fake.release.wait(30)

    return Answer(act)


def close_without_answer(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def run_gate(url: str, *extra: str) -> int:
    return main(
        [
            "gate",
            "--url",
            url,
            "--api-key",
            "gov_test_key",
            "--model",
            "churn",
            "--version",
            "3.0.0",
            "--digest",
            DIGEST,
            "--target",
            "production",
            *extra,
        ]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- exit codes


def test_a_deny_exits_1_naming_each_failed_control_and_article(
    gate: FakeGate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_gate(gate.url, "--initiator", "octocat", "--change-ref", "CHG-1") == 1
    out = capsys.readouterr().out
    assert out.startswith(f"DENY — decision {DENY['decision_id']}")
    assert "  violation: iso-a8.32 A.8.32 — no change record" in out
    assert "  violation: iso-a5.3 A.5.3 — 0 independent approval(s)" in out
    (request,) = gate.received
    assert request["path"] == DECISIONS_PATH
    assert request["authorization"] == "Bearer gov_test_key"
    assert request["body"]["initiator"] == "octocat"
    assert request["body"]["change_ref"] == "CHG-1"
    assert request["body"]["model"]["digest"] == DIGEST


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"allow": True, "outcome": "allow", "violations": []}, 0),
        ({"allow": True, "mode": "dry_run"}, 0),
        ({"allow": True, "mode": "break_glass", "break_glass": True}, 0),
        ({"outcome": "error", "violations": [], "error": "worker restarted"}, 2),
    ],
)
def test_exit_codes_follow_allow_and_outcome(
    gate: FakeGate, answer: dict[str, Any], code: int
) -> None:
    gate.answer = decision(**answer)
    assert run_gate(gate.url) == code


def test_json_prints_the_decision(gate: FakeGate, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gate(gate.url, "--json") == 1
    assert json.loads(capsys.readouterr().out) == DENY


# --------------------------------------------------------------------------- transport


def test_a_timeout_after_the_request_was_sent_says_so(
    gate: FakeGate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.answer = hang(gate)
    assert run_gate(gate.url, "--timeout", "0.5") == 2
    err = capsys.readouterr().err
    assert "timed out after 0.5 s waiting for the decision" in err
    assert "could not reach" not in err
    assert "may have been recorded" in err
    assert len(gate.received) == 1  # the gate did get the request


def test_nothing_listening_is_could_not_reach(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gate(f"http://127.0.0.1:{free_port()}") == 2
    err = capsys.readouterr().err
    assert "could not reach the gate" in err
    assert "timed out" not in err


def test_a_connection_closed_without_an_answer(
    gate: FakeGate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.answer = Answer(close_without_answer)
    assert run_gate(gate.url) == 2
    err = capsys.readouterr().err
    assert "broke before it answered" in err
    assert "could not reach" not in err


def test_a_problem_is_reported_with_its_status_and_hint(
    gate: FakeGate, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "bad key"}
    gate.answer = respond(401, json.dumps(problem).encode(), "application/problem+json")
    assert run_gate(gate.url) == 2
    err = capsys.readouterr().err
    assert "the gate refused the request (401): bad key" in err
    assert "hint: check the API key" in err


# --------------------------------------------------------------------------- malformed answers


MALFORMED: dict[str, bytes] = {
    "html": b"<html><body>Welcome to nginx</body></html>",
    "empty": b"",
    "array": b"[]",
    "only allow": b'{"allow": false}',
    "only allow true": b'{"allow": true}',
    "allow as text": json.dumps({**DENY, "allow": "false"}).encode(),
    "unknown outcome": json.dumps({**DENY, "outcome": "maybe"}).encode(),
    "unknown mode": json.dumps({**DENY, "mode": "yolo"}).encode(),
    "no decision id": json.dumps({k: v for k, v in DENY.items() if k != "decision_id"}).encode(),
    "no policy": json.dumps({k: v for k, v in DENY.items() if k != "policy"}).encode(),
    "policy without engine": json.dumps({**DENY, "policy": {"bundle_digest": "x"}}).encode(),
    "violation without control": json.dumps({**DENY, "violations": [{"article": "A"}]}).encode(),
    "violations not a list": json.dumps({**DENY, "violations": "iso-a8.32"}).encode(),
    "evaluated not names": json.dumps({**DENY, "evaluated": [1]}).encode(),
    "allow despite deny": json.dumps({**DENY, "allow": True}).encode(),
    "deny despite allow": json.dumps({**DENY, "outcome": "allow", "violations": []}).encode(),
    "dry run that denies": json.dumps({**DENY, "mode": "dry_run"}).encode(),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_2xx_answer_exits_2(
    gate: FakeGate, capsys: pytest.CaptureFixture[str], body: bytes
) -> None:
    gate.answer = respond(201, body)
    assert run_gate(gate.url) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no ALLOW or DENY line
    assert "is not a decision" in captured.err or "not JSON" in captured.err


def test_request_decision_raises_for_a_malformed_answer(gate: FakeGate) -> None:
    gate.answer = respond(200, b'{"allow": true, "outcome": "allow"}')
    with pytest.raises(GateCallFailed, match="not a decision: decision_id is missing"):
        request_decision(gate.url, "k", {}, timeout=5)
