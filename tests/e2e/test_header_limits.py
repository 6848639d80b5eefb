"""Request heads are bounded in bytes, in fields and in time (``governance.api.server``).

``governance serve`` runs in a process with small limits (through ``GOVERNANCE_*``) for the limits
themselves, keep-alive, pipelining, slow uploads and a flood beside ``/healthz``. The same server
builder runs in a thread around a small app with a slow route, for what happens while the app is
busy: the clock must not run then, and a refusal must wait for the answers owed before it.
Requests are written byte for byte on plain sockets: no HTTP client sends these heads.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from governance.api.server import build_server
from governance.config import Settings
from tests.e2e._server import Server, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MiB = 1024 * 1024
MAX_BYTES = 8 * 1024
MAX_FIELDS = 20
TIMEOUT = 1.0
# The event loop's clock runs a little ahead or behind ours; it also serves other connections.
EARLY, LATE = 0.05, 1.5
PROBLEM_TYPE = "urn:governance-audit:problem:"

Address = tuple[str, int]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(
        tmp_path_factory.mktemp("header-limits"),
        max_header_bytes=MAX_BYTES,
        max_headers=MAX_FIELDS,
        header_timeout_seconds=TIMEOUT,
    ) as server:
        yield server
        # Refusals are logged as such, never as errors, and nothing printed a traceback.
        logs = server.logs()
        assert '"level": "error"' not in logs
        assert "Traceback" not in logs


# ------------------------------------------------------------------------------ raw HTTP/1.1


def head(path: str = "/healthz", *fields: tuple[str, str], method: str = "GET") -> bytes:
    """A request head: the request line, ``Host`` and ``fields``."""
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *(f"{n}: {v}" for n, v in fields)]
    return "".join(f"{line}\r\n" for line in lines).encode() + b"\r\n"


def head_of_size(size: int, path: str = "/healthz") -> bytes:
    """A head of exactly ``size`` bytes, padded with an ``X-Pad`` field."""
    padding = size - len(head(path, ("X-Pad", "")))
    request = head(path, ("X-Pad", "p" * padding))
    assert len(request) == size
    return request


def post_with_body(size: int) -> bytes:
    """A POST to ``/fast`` with a body of ``size`` bytes."""
    return head("/fast", ("Content-Length", str(size)), method="POST") + b"b" * size


def too_many_fields(path: str = "/healthz") -> bytes:
    return head(path, *((f"X-Field-{i}", "v") for i in range(MAX_FIELDS)))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document


class Connection:
    """One client connection: writes raw bytes, reads responses one after the other."""

    def __init__(self, address: Address) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.reader = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> Answer:
        status_line = self.reader.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.reader.read(int(headers["content-length"]))
        return Answer(int(status_line.split()[1]), headers, body)

    def readable(self, within: float) -> bool:
        return bool(select.select([self.sock], [], [], within)[0])

    def rest(self, size: int = 13) -> bytes:
        """The first ``size`` bytes of what is left to read, until the server closes."""
        try:
            rest = self.reader.read()
        except ConnectionResetError:
            rest = b""
        return rest[:size]

    def closed(self) -> bool:
        """Whether the server closed the connection with nothing more to read."""
        try:
            return self.reader.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@contextmanager
def connect(address: Address) -> Iterator[Connection]:
    connection = Connection(address)
    try:
        yield connection
    finally:
        connection.close()


def assert_refused(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["connection"] == "close"
    problem = answer.problem()
    assert set(problem) == {"type", "title", "status", "detail"}, problem
    assert problem["type"] == PROBLEM_TYPE + code
    assert problem["status"] == status


def send_until_refused(sock: socket.socket, prefix: bytes, size: int) -> int:
    """``prefix`` then up to ``size`` bytes of one header value, until the server hangs up.

    Returns how many bytes of the value the kernel took.
    """
    chunk = b"v" * MiB
    sent = 0
    with suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(prefix)
        while sent < size:
            sent += sock.send(chunk)
    return sent


# ------------------------------------------------------------------------------ bytes, fields


def test_heads_up_to_the_byte_limit_are_served_and_one_byte_more_is_431(live: Server) -> None:
    with connect(live.address) as conn:
        # On one connection: the count starts again with every request.
        for _ in range(3):
            conn.send(head_of_size(MAX_BYTES))
            assert conn.answer().status == 200
        conn.send(head_of_size(MAX_BYTES + 1))
        refused = conn.answer()
        assert_refused(refused, 431, "request-head-too-large")
        assert refused.problem()["title"] == "Request Header Fields Too Large"
        assert conn.closed()


def test_a_huge_header_value_is_refused_at_once(live: Server) -> None:
    # The report: a 128 MiB value was read whole (22 s) while /healthz stalled.
    with connect(live.address) as conn:
        started = time.monotonic()
        sent = send_until_refused(conn.sock, b"GET /healthz HTTP/1.1\r\nX-Big: ", 128 * MiB)
        assert_refused(conn.answer(), 431, "request-head-too-large")
        assert time.monotonic() - started < LATE
        assert conn.closed()
    # The server hung up long before: what the kernel buffered is all that was sent.
    assert sent < 32 * MiB


def test_header_fields_up_to_the_limit_are_served_and_one_more_is_431(live: Server) -> None:
    with connect(live.address) as conn:
        # Host and MAX_FIELDS - 1 more.
        fields = [(f"X-Field-{i}", "v") for i in range(MAX_FIELDS - 1)]
        for _ in range(2):
            conn.send(head("/healthz", *fields))
            assert conn.answer().status == 200
        conn.send(too_many_fields())
        refused = conn.answer()
        assert_refused(refused, 431, "too-many-headers")
        assert str(MAX_FIELDS) in refused.problem()["detail"]
        assert conn.closed()


def chunked_post(path: str, *trailers: tuple[str, str]) -> bytes:
    """A chunked POST of two chunks, then ``trailers``."""
    fields = "".join(f"{name}: {value}\r\n" for name, value in trailers)
    return (
        head(path, ("Transfer-Encoding", "chunked"), method="POST")
        + b"3\r\nabc\r\n2\r\nde\r\n0\r\n"
        + fields.encode()
        + b"\r\n"
    )


def test_a_huge_trailer_value_closes_the_connection(live: Server) -> None:
    # Trailers are buffered like a head: unbounded, they were the same fault after any body.
    with connect(live.address) as conn:
        started = time.monotonic()
        prefix = chunked_post("/api/v1/evidence")[: -len(b"\r\n")] + b"X-Big: "
        sent = send_until_refused(conn.sock, prefix, 128 * MiB)
        # Unauthenticated, the request gets a 401 without its body being read, unless the
        # connection is dropped before the app has answered.
        assert conn.rest() in (b"", b"HTTP/1.1 401 ")
        assert time.monotonic() - started < LATE
    assert sent < 32 * MiB


# ------------------------------------------------------------------------------------- time


def trickle(conn: Connection, data: bytes, interval: float) -> int:
    """Send ``data`` a byte every ``interval`` until the server answers; bytes sent."""
    for sent in range(len(data)):
        if conn.readable(within=0 if sent == 0 else interval):
            return sent
        conn.send(data[sent : sent + 1])
    return len(data)


def about_the_timeout(elapsed: float) -> bool:
    return TIMEOUT - EARLY <= elapsed < TIMEOUT + LATE


def test_a_head_trickled_a_byte_at_a_time_gets_408(live: Server) -> None:
    # Each byte arrives well within the timeout: the clock runs from the connection's opening,
    # not from the last byte, or a slow client would hold the connection for ever.
    with connect(live.address) as conn:
        started = time.monotonic()
        sent = trickle(conn, head(), interval=TIMEOUT / 4)
        timed_out = conn.answer()
        elapsed = time.monotonic() - started
        assert_refused(timed_out, 408, "request-head-timeout")
        assert timed_out.problem()["title"] == "Request Timeout"
        assert 3 <= sent < len(head())
        assert about_the_timeout(elapsed)
        assert conn.closed()


def test_a_keep_alive_head_gets_408_counted_from_the_previous_response(live: Server) -> None:
    with connect(live.address) as conn:
        conn.send(head())
        assert conn.answer().status == 200
        finished = time.monotonic()
        trickle(conn, head(), interval=TIMEOUT / 4)
        assert_refused(conn.answer(), 408, "request-head-timeout")
        assert about_the_timeout(time.monotonic() - finished)


def test_an_idle_connection_is_closed_without_an_answer(live: Server) -> None:
    # A 408 nobody asked for could be read as the answer to the next request.
    with connect(live.address) as conn:
        started = time.monotonic()
        assert conn.closed()
        assert about_the_timeout(time.monotonic() - started)
    with connect(live.address) as conn:
        conn.send(head())
        assert conn.answer().status == 200
        assert conn.closed()


def test_requests_on_one_connection_are_not_cut_by_the_clock(live: Server) -> None:
    # Five requests over ~3.5 s, each head sent in two parts, each within the timeout.
    with connect(live.address) as conn:
        for _ in range(5):
            time.sleep(TIMEOUT * 0.4)
            request = head()
            conn.send(request[:10])
            time.sleep(TIMEOUT * 0.3)
            conn.send(request[10:])
            assert conn.answer().status == 200


def test_pipelined_requests_are_all_answered(live: Server) -> None:
    # Twelve heads of 1 KiB in one write: more than MAX_BYTES in one read, and each is counted
    # alone.
    batch = head_of_size(1024) * 12
    assert len(batch) > MAX_BYTES
    with connect(live.address) as conn:
        for _ in range(3):
            conn.send(batch)
            assert [conn.answer().status for _ in range(12)] == [200] * 12
            time.sleep(TIMEOUT * 0.6)


def test_a_slow_upload_is_not_cut_by_the_clock(live: Server) -> None:
    key = live.key("ingest")
    document = f"evidence {uuid.uuid4()} sent slowly\n".encode()
    upload = head(
        "/api/v1/evidence",
        ("Authorization", f"Bearer {key}"),
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(document))),
        method="POST",
    )
    with connect(live.address) as conn:
        conn.send(upload)
        started = time.monotonic()
        for i in range(len(document)):
            conn.send(document[i : i + 1])
            time.sleep(0.1)
        assert time.monotonic() - started > 2 * TIMEOUT
        stored = conn.answer()
        assert stored.status == 201, stored

        # A chunked body whose chunks come half a timeout apart, on the same connection.
        chunked = head(
            "/api/v1/evidence",
            ("Authorization", f"Bearer {key}"),
            ("Content-Type", "text/plain"),
            ("Transfer-Encoding", "chunked"),
            method="POST",
        )
        conn.send(chunked)
        for _ in range(5):
            time.sleep(TIMEOUT / 2)
            piece = f"{uuid.uuid4()}\n".encode()
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        stored = conn.answer()
        assert stored.status == 201, stored


# -------------------------------------------------------------------- while the app is busy

SLOW = 2 * TIMEOUT


async def _fast(request: Request) -> Response:
    await request.body()
    return PlainTextResponse("fast")


async def _slow(request: Request) -> Response:
    await asyncio.sleep(SLOW)
    return PlainTextResponse("slow")


@pytest.fixture(scope="module")
def busy() -> Iterator[Address]:
    """The server builder around an app with a route slower than the timeout, in a thread."""
    app = Starlette(routes=[Route("/fast", _fast, methods=["GET", "POST"]), Route("/slow", _slow)])
    settings = Settings(
        max_header_bytes=MAX_BYTES, max_headers=MAX_FIELDS, header_timeout_seconds=TIMEOUT
    )
    server = build_server(app, settings, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, name="busy-app-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_clock_does_not_run_while_the_app_answers(busy: Address) -> None:
    with connect(busy) as conn:
        conn.send(head("/slow"))
        assert conn.answer().body == b"slow"
        conn.send(head("/fast"))
        assert conn.answer().body == b"fast"


def test_requests_pipelined_behind_a_slow_one_wait_without_a_clock(busy: Address) -> None:
    with connect(busy) as conn:
        conn.send(head("/slow") + head("/fast") * 3 + head("/slow") + head("/fast"))
        bodies = [conn.answer().body for _ in range(6)]
        assert bodies == [b"slow", b"fast", b"fast", b"fast", b"slow", b"fast"]


@pytest.mark.parametrize(
    ("refused", "code"),
    [
        (too_many_fields("/fast"), "too-many-headers"),
        (head_of_size(2 * MAX_BYTES, "/fast"), "request-head-too-large"),
        # Read with the end of a body, it is counted by the parser (see HeadLimitedProtocol).
        (
            post_with_body(MAX_BYTES) + head_of_size(2 * MAX_BYTES, "/fast"),
            "request-head-too-large",
        ),
    ],
    ids=["fields", "bytes", "bytes-after-a-body"],
)
def test_a_refusal_waits_for_the_answers_owed_before_it(
    busy: Address, refused: bytes, code: str
) -> None:
    with connect(busy) as conn:
        conn.send(head("/slow") + head("/fast") + refused)
        # Written at once, the refusal would be read as the answer to the slow request.
        assert conn.answer().body == b"slow"
        assert conn.answer().body == b"fast"
        if refused.startswith(b"POST"):
            assert conn.answer().body == b"fast"
        assert_refused(conn.answer(), 431, code)
        assert conn.closed()


def test_trailers_are_counted_like_a_head(busy: Address) -> None:
    fields = [(f"X-Trailer-{i}", "v") for i in range(MAX_FIELDS)]
    with connect(busy) as conn:
        for _ in range(2):
            conn.send(chunked_post("/fast", *fields))
            assert conn.answer().body == b"fast"
        conn.send(chunked_post("/fast", *fields, ("X-One-Too-Many", "v")))
        # The app was reading the body: it is told the client left, and nothing is answered.
        assert conn.closed()


# ------------------------------------------------------------------------------------ flood


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n


def status_or_reset(sock: socket.socket) -> str:
    try:
        reply = sock.recv(64)
    except ConnectionResetError:
        return "reset"
    return reply.split(b" ", 2)[1].decode() if reply else "closed"


def flood_huge_values(address: Address, stop: threading.Event, tally: Tally) -> None:
    """Unauthenticated heads with a 64 MiB value, one connection after another."""
    while not stop.is_set():
        with socket.create_connection(address, timeout=10) as sock:
            tally.add("bytes", send_until_refused(sock, b"GET / HTTP/1.1\r\nX-Big: ", 64 * MiB))
            tally.add(status_or_reset(sock))


def flood_slow_heads(address: Address, stop: threading.Event, tally: Tally) -> None:
    """Twenty connections at a time, each sending its head a byte every 50 ms."""
    request = head()
    while not stop.is_set():
        socks = [socket.create_connection(address, timeout=10) for _ in range(20)]
        for i in range(len(request)):
            if not socks or stop.is_set():
                break
            time.sleep(0.05)
            for sock in select.select(socks, [], [], 0)[0]:
                tally.add(status_or_reset(sock))
                socks.remove(sock)
                sock.close()
            for sock in socks:
                with suppress(OSError):
                    sock.send(request[i : i + 1])
        for sock in socks:
            sock.close()


def probe(address: Address) -> float:
    """Seconds for ``GET /healthz`` on a new connection, connecting included."""
    started = time.perf_counter()
    with connect(address) as conn:
        conn.send(head())
        assert conn.answer().status == 200
    return time.perf_counter() - started


def test_healthz_stays_fast_while_clients_flood_heads(live: Server) -> None:
    for _ in range(5):
        probe(live.address)
    with connect(live.address) as conn:
        send_until_refused(conn.sock, b"GET / HTTP/1.1\r\nX-Big: ", 4 * MiB)
    time.sleep(0.2)
    before = rss(live.process.pid)

    stop, tally = threading.Event(), Tally()
    floods = [
        *(
            threading.Thread(target=flood_huge_values, args=(live.address, stop, tally))
            for _ in range(4)
        ),
        *(
            threading.Thread(target=flood_slow_heads, args=(live.address, stop, tally))
            for _ in range(2)
        ),
    ]
    for thread in floods:
        thread.start()
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(20):
            latencies.append(probe(live.address))
            time.sleep(0.1)
        time.sleep(TIMEOUT)
    finally:
        stop.set()
        for thread in floods:
            thread.join(timeout=30)
    grown = rss(live.process.pid) - before

    counts = tally.counts
    print(
        f"\nflood: worst /healthz {max(latencies) * 1000:.1f} ms, "
        f"median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms; "
        f"RSS {grown / MiB:+.2f} MiB; {counts['bytes'] / MiB:.0f} MiB of header values sent; "
        f"answers {dict((k, v) for k, v in counts.items() if k != 'bytes')}"
    )
    # The flood was real: huge values refused, slow heads timed out.
    assert counts["431"] >= 10, counts
    assert counts["408"] >= 20, counts
    assert counts["bytes"] > 100 * MiB, counts
    assert max(latencies) < 0.1, latencies
    assert grown < 4 * MiB, grown
    assert live.process.poll() is None
