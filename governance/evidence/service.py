"""Keeping evidence documents in the ledger and serving them back by SHA-256.

A document is one ``evidence`` entry whose payload is the document's bytes, as sent, with its media
type in the envelope and its SHA-256 as the subject, so the subject index finds it again. The
default idempotency key is the SHA-256 too: sending the same document again returns the original
receipt.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from governance.errors import InputError, NotFound, UnsupportedMediaType
from governance.ledger import kinds
from governance.ledger.entries import Submitter
from governance.ledger.store import AppendRequest, Ledger, Receipt

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document: where it is in the ledger, its media type, and its bytes."""

    sha256: str
    index: int
    media_type: str
    #: The bytes; ``None`` once the document was erased.
    data: bytes | None


class EvidenceService:
    """Stores documents as ledger entries and reads them back."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def store(
        self,
        body: bytes,
        media_type: str | None,
        submitter: Submitter,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Append ``body`` as an evidence entry; a duplicate returns the first receipt."""
        if not media_type:
            raise UnsupportedMediaType("a Content-Type header is required for evidence documents")
        if not body:
            raise InputError("the evidence document is empty")
        digest = hashlib.sha256(body).hexdigest()
        return await self._ledger.append_async(
            AppendRequest(
                kinds.EVIDENCE.name,
                body,
                media_type,
                subjects=[{"sha256": digest}],
                fields=submitter.fields(),
                idempotency_key=idempotency_key,
            )
        )

    async def fetch(self, sha256: str) -> Document:
        """The first document stored with this SHA-256; :class:`NotFound` when there is none."""
        if not _SHA256.match(sha256):
            raise InputError("the digest must be 64 lowercase hex digits")
        return await asyncio.to_thread(self._fetch, sha256)

    def _fetch(self, sha256: str) -> Document:
        ledger = self._ledger
        indexes = ledger.indexes_for_subject({"sha256": sha256}, kinds.EVIDENCE.name)
        if not indexes:
            raise NotFound(f"no evidence document with SHA-256 {sha256}")
        index = indexes[0]
        record = ledger.entry(index)
        return Document(sha256, index, record.media_type, ledger.payload(index))
