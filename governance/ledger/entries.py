"""Ledger entries as values: what is asked to be appended, what is committed, what comes back.

An :class:`AppendRequest` is checked once (:func:`prepare`) before it is queued, so nothing invalid
ever reaches the writer. The envelope (:func:`envelope_bytes`) is the leaf: RFC 8785 canonical
JSON of the ledger's own fields, the payload's media type, size and SHA-256, the subjects, and the
kind's non-personal fields. A :class:`Receipt` proves an entry is in the tree of a signed
checkpoint; an :class:`EntryRecord` is an entry as stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from governance import jsondoc
from governance.errors import InputError
from governance.ledger import kinds
from governance.ledger.canonical import canonical_json
from governance.text import check_identifier

#: Envelope fields the ledger owns; kind-specific fields may not use these names.
RESERVED_FIELDS = frozenset({"v", "index", "kind", "prev", "received_at", "payload", "subjects"})

ENVELOPE_VERSION = 1

_MEDIA_TYPE = re.compile(r"^[\x21-\x7e]+/[\x21-\x7e]+(\s*;[\x20-\x7e]*)?$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who asked for an entry: the principal and the key used.

    The principal is an API key's name: a person or a service identity, who may hold several
    keys (one role each). Segregation of duties compares principals, never keys.
    """

    principal: str
    key_id: str

    def fields(self) -> dict[str, str]:
        """The envelope fields naming the submitter: ``submitted_by`` and ``key_id``."""
        return {"submitted_by": self.principal, "key_id": self.key_id}


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One entry to append: its kind, payload bytes and what the envelope says about them.

    ``fields`` are the kind's non-personal envelope fields; ``subjects`` what the entry is about
    (``{"sha256": hex}`` or ``{"name": text}``). The idempotency key defaults to the payload's
    SHA-256: a retry of the same payload returns the first entry. ``context`` is handed to the
    append hooks with the entry (e.g. the document already parsed) and is not stored.
    """

    kind: str
    payload: bytes
    media_type: str
    subjects: Sequence[Mapping[str, str]] = ()
    fields: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    context: Any = None


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An :class:`AppendRequest` that passed every check, with its digests computed."""

    kind: str
    payload: bytes
    media_type: str
    subjects: list[dict[str, str]]
    fields: dict[str, Any]
    #: SHA-256 of the kind and the idempotency key: what makes a retry find its first entry.
    idem: bytes
    payload_sha256: str
    subject_indexed: bool
    context: Any = None


def prepare(request: AppendRequest) -> PreparedEntry:
    """Check ``request``; raises :class:`InputError` naming the first problem."""
    entry_kind = kinds.kind(request.kind)
    if not isinstance(request.payload, bytes | bytearray | memoryview):
        raise InputError("payload must be bytes")
    payload = bytes(request.payload)
    media_type = request.media_type
    if len(media_type) > 255 or not _MEDIA_TYPE.match(media_type):
        raise InputError(f"invalid media type {media_type[:80]!r}")
    extra = dict(request.fields or {})
    clash = RESERVED_FIELDS.intersection(extra)
    if clash:
        raise InputError(f"fields may not use reserved envelope names: {sorted(clash)}")
    if extra:
        try:
            canonical_json(extra)
        except Exception as exc:
            raise InputError(f"fields are not canonicalisable JSON: {exc}") from exc
        # Text that no database column can hold (U+0000) must fail this request here, before
        # it is queued, not the batch it would share with other requests.
        jsondoc.enforce(extra)
    payload_sha = hashlib.sha256(payload).hexdigest()
    key = request.idempotency_key
    if key is None:
        key = f"sha256:{payload_sha}"
    return PreparedEntry(
        kind=entry_kind.name,
        payload=payload,
        media_type=media_type,
        subjects=_checked_subjects(request.subjects),
        fields=extra,
        idem=hashlib.sha256(entry_kind.name.encode() + b"\n" + key.encode()).digest(),
        payload_sha256=payload_sha,
        subject_indexed=entry_kind.subject_indexed,
        context=request.context,
    )


def _checked_subjects(subjects: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    result = []
    for position, subject in enumerate(subjects):
        if len(subject) != 1:
            raise InputError(f"subject {position} must have exactly one of 'sha256' or 'name'")
        ((key, value),) = subject.items()
        if key == "sha256":
            if not isinstance(value, str) or not _HEX64.match(value):
                raise InputError(f"subject {position}: sha256 must be 64 lowercase hex digits")
        elif key == "name":
            if not isinstance(value, str) or not 0 < len(value) <= 1024:
                raise InputError(f"subject {position}: name must be 1-1024 characters")
            check_identifier(value, f"subject {position}")
        else:
            raise InputError(f"subject {position}: unknown subject type {key!r}")
        result.append({key: value})
    return result


def subject_key(subject: Mapping[str, str]) -> str:
    """The indexed form of a subject: ``sha256:<hex>`` or ``name:<name>``."""
    ((key, value),) = subject.items()
    return f"{key}:{value}"


def envelope_bytes(entry: PreparedEntry, index: int, prev: bytes, received_at: str) -> bytes:
    """The canonical envelope of ``entry`` at ``index``, chained to the leaf hash ``prev``."""
    return canonical_json(
        {
            **entry.fields,
            "v": ENVELOPE_VERSION,
            "index": index,
            "kind": entry.kind,
            "prev": prev.hex(),
            "received_at": received_at,
            "payload": {
                "media_type": entry.media_type,
                "size": len(entry.payload),
                "sha256": entry.payload_sha256,
            },
            "subjects": entry.subjects,
        }
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an entry is in the ledger: its leaf, a signed checkpoint, its inclusion path."""

    index: int
    kind: str
    leaf_hash: bytes
    payload_sha256: str
    tree_size: int
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]
    duplicate: bool = False

    def as_duplicate(self) -> Receipt:
        """The same receipt, answering a retry of an entry that was already committed."""
        return replace(self, duplicate=True)

    def to_json(self) -> dict[str, Any]:
        """The receipt as the API returns it."""
        return {
            "index": self.index,
            "kind": self.kind,
            "leaf_hash": self.leaf_hash.hex(),
            "sha256": self.payload_sha256,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One stored entry as read back: envelope bytes exactly as hashed, and its payload state."""

    index: int
    kind: str
    envelope: bytes
    leaf_hash: bytes
    payload_sha256: str
    media_type: str
    erased: bool


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry a batch is about to commit, as handed to an append hook."""

    index: int
    kind: str
    payload: bytes
    #: What the submitter attached to the append (e.g. the already parsed document), or None.
    context: Any = None
    #: The envelope bytes exactly as hashed.
    envelope: bytes = field(default=b"", repr=False)
