"""Accepting OpenLineage events: decode, validate, append to the ledger, project.

The raw request bytes (after gunzip) are the ledger payload, so the default idempotency key (their
SHA-256) makes a client's retry of the same event a no-op that still succeeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from governance.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from governance.ledger import kinds
from governance.ledger.entries import Submitter
from governance.ledger.store import AppendRequest, Ledger, Receipt
from governance.lineage.validation import (
    Limits,
    LineageEvent,
    parse_batch,
    parse_event,
    validate_event,
)

log = logging.getLogger(__name__)

#: Bodies larger than this are parsed in a worker thread, not on the event loop.
_INLINE_PARSE_BYTES = 64 * 1024
#: At most this many subjects (jobs, runs, datasets) are indexed per event.
_MAX_SUBJECTS = 256
_JSON_TYPES = ("application/json", "text/json", "text/plain")


def decode_body(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body after ``Content-Encoding`` (identity or gzip), bounded by ``max_bytes``.

    A gzip body must be exactly one gzip member: a second member (which ``gunzip`` would
    concatenate, and a streaming reader would drop) or bytes after the member are refused, so
    what is stored is all the client sent.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}; use gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise InputError(f"the gzip body is corrupt: {exc}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body exceeds the limit of {max_bytes} bytes")
    if not inflater.eof:
        raise InputError("the gzip body is truncated")
    if inflater.unused_data:
        if inflater.unused_data.startswith(b"\x1f\x8b"):
            raise InputError("the gzip body holds more than one gzip member; send one event")
        raise InputError(
            f"the gzip body is followed by {len(inflater.unused_data)} bytes that are not gzip"
        )
    return data


def check_content_type(content_type: str | None) -> None:
    """Accept JSON bodies (with or without a charset); no header is taken as JSON."""
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or media.endswith("+json"):
        return
    raise UnsupportedMediaType(f"expected application/json, got {media!r}")


def subjects_of(event: LineageEvent) -> list[dict[str, str]]:
    """What an event is about, for lookups: its job, run and datasets (bounded)."""
    names: list[str] = []
    if event.job is not None:
        names.append(f"job:{event.job[0]}:{event.job[1]}")
    if event.run_id is not None:
        names.append(f"run:{event.run_id}")
    refs = (*event.inputs, *event.outputs, *((event.dataset,) if event.dataset else ()))
    names.extend(f"dataset:{r.namespace}:{r.name}" for r in refs)
    unique = list(dict.fromkeys(n for n in names if len(n) <= 1024))
    return [{"name": n} for n in unique[:_MAX_SUBJECTS]]


@dataclass(frozen=True)
class BatchItem:
    """The outcome for one event of a batch."""

    position: int
    status: int
    receipt: Receipt | None = None
    errors: list[dict[str, str]] | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The per-event result the batch endpoint returns."""
        data: dict[str, Any] = {"position": self.position, "status": self.status}
        if self.receipt is not None:
            data["index"] = self.receipt.index
            data["duplicate"] = self.receipt.duplicate
        if self.detail:
            data["detail"] = self.detail
        if self.errors:
            data["errors"] = self.errors
        return data


class LineageIngest:
    """Validates events and records them; the ledger hook projects them before the 201."""

    def __init__(self, ledger: Ledger, limits: Limits | None = None) -> None:
        self._ledger = ledger
        self._limits = limits or Limits()

    async def _record(
        self, raw: bytes, event: LineageEvent, submitter: Submitter, key: str | None
    ) -> Receipt:
        fields: dict[str, Any] = {
            "event": event.kind,
            "event_time": event.event_time_text,
            "warnings": len(event.warnings),
            **submitter.fields(),
        }
        if event.event_type is not None:
            fields["event_type"] = event.event_type
        # The ledger's append hook projects the event in the same transaction, from the parsed
        # form handed over here; the 201 follows the commit.
        return await self._ledger.append_async(
            AppendRequest(
                kinds.OPENLINEAGE.name,
                raw,
                "application/json",
                subjects_of(event),
                fields,
                key,
                context=event,
            )
        )

    async def ingest(self, raw: bytes, submitter: Submitter, key: str | None = None) -> Receipt:
        """Validate one event and append it; :class:`InputError` (nothing stored) when invalid."""
        if len(raw) > _INLINE_PARSE_BYTES:
            event = await asyncio.to_thread(parse_event, raw, self._limits)
        else:
            event = parse_event(raw, self._limits)
        return await self._record(raw, event, submitter, key)

    async def ingest_batch(self, raw: bytes, submitter: Submitter) -> list[BatchItem]:
        """Validate and append each event of a JSON array; one result per event, in order.

        Each accepted event's payload is its compact JSON serialisation (the array's own bytes
        for one element are not kept separately).
        """
        values = await asyncio.to_thread(parse_batch, raw, self._limits)
        results = []
        for position, value in enumerate(values):
            try:
                event = validate_event(value)
            except InputError as exc:
                results.append(BatchItem(position, 400, errors=exc.errors, detail=exc.message))
                continue
            payload = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
            receipt = await self._record(payload, event, submitter, None)
            results.append(BatchItem(position, 201, receipt=receipt))
        return results

    async def classify(
        self,
        namespace: str,
        name: str,
        classification: dict[str, Any],
        submitter: Submitter,
        key: str | None = None,
    ) -> Receipt:
        """Record a data owner's classification of a dataset (it outranks facet values).

        Each call is a new decision, so by default it is a new entry even when the body repeats
        an earlier one (A, then B, then A again ends at A); an ``Idempotency-Key`` makes a retry
        of one decision safe.
        """
        payload = json.dumps(
            {"namespace": namespace, "name": name, "classification": classification},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        return await self._ledger.append_async(
            AppendRequest(
                kinds.DATASET_CLASSIFICATION.name,
                payload,
                "application/json",
                [{"name": f"dataset:{namespace}:{name}"}],
                submitter.fields(),
                key or f"decision:{uuid.uuid4()}",
            )
        )
