"""The HTTP server ``governance serve`` runs: uvicorn with httptools, and bounded request heads.

uvicorn bounds nothing in a request head under httptools: a header value of any size is buffered
(httptools joins its pieces, so the time grows with the square of the size and stalls the event
loop), a request may carry any number of header fields, and a client that never finishes its head
holds the connection for ever. :class:`HeadLimitedProtocol` adds the three :class:`HeadLimits`
and answers them with small ``application/problem+json`` documents, like the rest of the service:

- a head (request line and header fields) over ``max_bytes``: 431, connection closed;
- more than ``max_fields`` header fields: 431, connection closed;
- a head not complete ``timeout_seconds`` after the connection opened, or after the previous
  response was sent: 408, connection closed (closed silently when not a byte of it came);
- trailer fields (after a chunked body) over the same size and number: connection closed.

:func:`build_server` builds the uvicorn server with these limits from the settings; :func:`serve`
runs the service's app on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from governance.api.app import create_app
from governance.api.errors import PROBLEM_BASE, PROBLEM_JSON
from governance.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadLimits:
    """Limits on one request head: the request line and the header fields."""

    max_bytes: int
    max_fields: int
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        """The limits in ``max_header_bytes``, ``max_headers`` and ``header_timeout_seconds``."""
        return cls(settings.max_header_bytes, settings.max_headers, settings.header_timeout_seconds)


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration, serving with :class:`HeadLimitedProtocol` and its limits."""

    def __init__(self, app: ASGIApp, head_limits: HeadLimits, **options: Any) -> None:
        super().__init__(app, http=HeadLimitedProtocol, **options)
        self.head_limits = head_limits


class _Refusal(Exception):
    """Why a request head is refused; raised in a parser callback, it also stops the parser."""

    def __init__(self, status: HTTPStatus, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail

    def response(self, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        """A complete ``Connection: close`` response carrying an RFC 9457 problem document."""
        problem = {
            "type": f"{PROBLEM_BASE}{self.code}",
            "title": self.status.phrase,
            "status": self.status.value,
            "detail": self.detail,
        }
        body = json.dumps(problem).encode()
        lines = [STATUS_LINE[self.status.value]]
        lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
        lines += [
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        return b"".join(lines)


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with each request head bounded in bytes, fields and time.

    Bytes are counted as they arrive, in :meth:`data_received`, while a head is incomplete: the
    parser is given at most what is left of ``max_bytes``, so a huge value is refused before it
    is buffered. Once the head is complete, the rest of a read (the body) goes to the parser
    uncounted, so bodies cost nothing extra. A pipelined head that starts in such a read escapes
    that count there, so the parser's own report of each head (URL, field names and values) is
    counted against the same limit too: such a head is refused when its fields are parsed, and
    the parser has buffered at most one read of it.

    The clock starts when the connection opens, and again when it is the client's turn: the
    previous request was received whole and every response owed was sent. It stops when a head
    is complete, so it never runs while the app handles a request, a pipelined request waits, or
    a body streams in; and bytes arriving do not restart it, or a client sending one byte at a
    time would hold the connection for ever. On expiry a connection with part of a request gets
    408; an idle one is closed without an answer, as uvicorn closes idle keep-alive connections,
    so that a client never reads a 408 as the answer to a request it is sending at that moment.

    A refusal behind pipelined requests still being answered waits for their responses: written
    at once, it would be read as the answer to the first of them.

    Trailer fields, after the last chunk of a chunked body, are buffered by the parser like a
    head, so they are counted the same way, from each chunk header to the chunk's data (the
    parser does not say which chunk is the last). Over a limit, the connection is closed without
    an answer: the request's answer is the app's, already sent or under way.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, ServerConfig):
            raise TypeError("HeadLimitedProtocol needs a ServerConfig, which carries its limits")
        self.limits = config.head_limits
        self._timer: asyncio.TimerHandle | None = None
        # The answer to a head over a limit; once set, nothing more is parsed.
        self._refusal: bytes | None = None
        self._open_head()

    def _open_head(self) -> None:
        """Start counting a new head: the connection is open, or the previous request is in."""
        self._reading_head = True
        self._in_trailers = False
        self._head_began = False
        self._open_section()

    def _open_section(self) -> None:
        """Start counting a new head or trailer section."""
        self._section_bytes = 0
        self._parsed_bytes = 0
        self._fields = 0

    # The clock.

    def _start_clock_if_waiting(self) -> None:
        """Start the head clock if it is the client's turn (see the class docstring)."""
        if (
            self._reading_head
            and self._refusal is None
            and (self.cycle is None or self.cycle.response_complete)
            and not self.transport.is_closing()
        ):
            self._stop_clock()
            self._timer = self.loop.call_later(self.limits.timeout_seconds, self._clock_expired)

    def _stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _clock_expired(self) -> None:
        self._timer = None
        if self._head_began:
            detail = f"the request head did not arrive within {self.limits.timeout_seconds:g} s"
            self._refuse(_Refusal(HTTPStatus.REQUEST_TIMEOUT, "request-head-timeout", detail))
        else:
            self.transport.close()

    # Connection events.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection and start the head clock."""
        super().connection_made(transport)
        self._start_clock_if_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection, and its clock."""
        self._stop_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse ``data``, counting the bytes of a head or trailers against ``max_bytes``."""
        if self._refusal is not None or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        view = memoryview(data)
        while view:
            if not (self._reading_head or self._in_trailers):
                self._feed(view)
                return
            allowance = self.limits.max_bytes - self._section_bytes
            if allowance <= 0:
                self._refuse(self._too_large())
                return
            piece, view = view[:allowance], view[allowance:]
            self._section_bytes += len(piece)
            if not self._feed(piece):
                return

    def _feed(self, data: memoryview) -> bool:
        """Give ``data`` to the parser; False when the rest of the read is to be dropped.

        This is uvicorn's own ``data_received``, except that a limit reached inside a parser
        callback is answered as such, not as a malformed request.
        """
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # httptools reports an exception raised in a callback as the context of its own.
            if isinstance(exc.__context__, _Refusal):
                self._refuse(exc.__context__)
            else:
                message = "Invalid HTTP request received."
                self.logger.warning(message)
                self.send_400_response(message)
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return True

    def _section(self) -> str:
        return "head" if self._reading_head else "trailer section"

    def _too_large(self) -> _Refusal:
        detail = f"the request {self._section()} is over {self.limits.max_bytes} bytes"
        return _Refusal(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request-head-too-large", detail
        )

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer ``refusal`` and close, once the responses owed before it are sent."""
        self._stop_clock()
        log.info(
            "request refused", extra={"status": refusal.status.value, "detail": refusal.detail}
        )
        if not self._reading_head:
            # Trailers: the request has its answer from the app (see the class docstring).
            self.transport.close()
            return
        self._refusal = refusal.response(self.server_state.default_headers)
        if self.cycle is None or self.cycle.response_complete:
            self._send_refusal()
        else:
            # Nothing more is parsed, so there is nothing to read until the refusal is sent.
            self.flow.pause_reading()

    def _send_refusal(self) -> None:
        if self._refusal is not None and not self.transport.is_closing():
            self.transport.write(self._refusal)
            self.transport.close()

    def on_response_complete(self) -> None:
        """Start the next pipelined request, send a refusal that waited, or start the clock."""
        super().on_response_complete()
        if self._refusal is None:
            self._start_clock_if_waiting()
        elif self.cycle.response_complete:
            self._send_refusal()

    # Parser callbacks.

    def on_message_begin(self) -> None:
        """A request line starts: from now on, running out of time is a 408."""
        super().on_message_begin()
        self._head_began = True

    def on_url(self, url: bytes) -> None:
        """Count a piece of the URL (see the class docstring) and keep it."""
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header field and its size, and keep it."""
        self._fields += 1
        if self._fields > self.limits.max_fields:
            detail = f"the request {self._section()} has more than {self.limits.max_fields} fields"
            raise _Refusal(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too-many-headers", detail)
        self._count_parsed(len(name) + len(value))
        super().on_header(name, value)

    def _count_parsed(self, size: int) -> None:
        self._parsed_bytes += size
        if self._parsed_bytes > self.limits.max_bytes:
            raise self._too_large()

    def on_headers_complete(self) -> None:
        """The head is complete: stop the clock and the counting, and start the request."""
        self._reading_head = False
        self._stop_clock()
        super().on_headers_complete()

    def on_chunk_header(self) -> None:
        """A chunk starts: until its data, what comes may be the trailer section."""
        self._in_trailers = True
        self._open_section()

    def on_body(self, body: bytes) -> None:
        """Body bytes: not trailers, so no longer counted."""
        self._in_trailers = False
        super().on_body(body)

    def on_chunk_complete(self) -> None:
        """The end of a chunk, or of the trailer section."""
        self._in_trailers = False

    def on_message_complete(self) -> None:
        """The request is in: the next head may start, and the clock when the client's turn."""
        super().on_message_complete()
        self._open_head()
        self._start_clock_if_waiting()


def build_server(
    app: ASGIApp, settings: Settings, *, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """The uvicorn server for ``app``: httptools with the head limits of ``settings``.

    ``host`` and ``port`` override the settings' (port 0: any free port).
    """
    config = ServerConfig(
        app,
        HeadLimits.from_settings(settings),
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        # The service configures logging itself, and its middleware logs each request.
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the service's app until a signal stops it (what ``uvicorn.run`` would do)."""
    server = build_server(create_app(settings, freeze_heap=True), settings, host=host, port=port)
    # After a SIGINT, uvicorn shuts down and re-raises it: Ctrl-C is how serving ends.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
