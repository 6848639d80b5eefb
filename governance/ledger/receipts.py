"""Offline verification of one receipt: no database, no server, only the verifier key.

A receipt (``Receipt.to_json`` as the API returns it) says "entry *i*, of kind *k*, with leaf
hash *h*, is in the tree of size *n* whose root the signed checkpoint names". :func:`verify`
checks that in numbered steps and stops at the first that fails; it never returns a bare
boolean, so a caller reads which step failed and why.

Roots are spelled by :func:`root_text` in hex, as the API and the export bundle give them, and
in base64, as signed checkpoints carry them, so either can be compared by eye.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from governance.errors import CheckpointError, InputError, LedgerError

if TYPE_CHECKING:
    from governance.ledger.checkpoint import Checkpoint, NoteVerifier

__all__ = [
    "RECEIPT_STEPS",
    "Receipt",
    "ReceiptVerification",
    "Step",
    "parse_receipt",
    "root_base64",
    "root_text",
    "verify",
]

#: The steps of :func:`verify`, in order (names as the CLI prints them).
RECEIPT_STEPS = ("checkpoint signature", "tree size", "inclusion proof", "envelope")
_FIELDS = ("index", "kind", "leaf_hash", "sha256", "tree_size", "checkpoint", "inclusion_proof")


def root_base64(root: bytes) -> str:
    """The root as signed checkpoints carry it."""
    return base64.b64encode(root).decode("ascii")


def root_text(root: bytes) -> str:
    """``root <hex> (base64 <base64>)``: the root as the API and as checkpoints spell it."""
    return f"root {root.hex()} (base64 {root_base64(root)})"


@dataclass(frozen=True)
class Receipt:
    """A receipt as the API returns it, read and type-checked."""

    index: int
    kind: str
    leaf_hash: bytes
    sha256: str
    tree_size: int
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]


def _hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise InputError(f"the receipt's {what} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InputError(f"the receipt's {what} is not 64 hex digits") from None


def _count(value: Any, what: str, low: int) -> int:
    # bool is an int subclass: `true` is not an index.
    if type(value) is not int or not low <= value <= 2**64 - 1:
        raise InputError(f"the receipt's {what} is not an integer of at least {low}")
    return value


def parse_receipt(data: bytes) -> Receipt:
    """The receipt in ``data``: alone, or as the ``receipt`` of an API answer.

    Raises ``InputError`` (exit 2) for anything that is not a well-formed receipt.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the receipt is not JSON: {exc}") from None
    if isinstance(document, dict) and "leaf_hash" not in document:
        document = document.get("receipt")
    if not isinstance(document, dict):
        raise InputError(
            "no receipt found",
            hint='give a receipt {"index", "leaf_hash", ...} or an answer with a "receipt"',
        )
    missing = [name for name in _FIELDS if name not in document]
    if missing:
        raise InputError(f"the receipt lacks {', '.join(missing)}")
    proof = document["inclusion_proof"]
    if not isinstance(proof, list):
        raise InputError("the receipt's inclusion_proof is not a list of hashes")
    if not isinstance(document["kind"], str) or not isinstance(document["checkpoint"], str):
        raise InputError("the receipt's kind and checkpoint must be strings")
    sha256 = document["sha256"]
    _hash(sha256, "sha256")
    return Receipt(
        index=_count(document["index"], "index", 0),
        kind=document["kind"],
        leaf_hash=_hash(document["leaf_hash"], "leaf_hash"),
        sha256=sha256,
        tree_size=_count(document["tree_size"], "tree_size", 1),
        checkpoint=document["checkpoint"],
        inclusion_proof=tuple(_hash(h, f"inclusion_proof[{i}]") for i, h in enumerate(proof)),
    )


@dataclass
class Step:
    """One step of :func:`verify` and how it went: ok, failed, skipped or not run."""

    name: str
    status: str = "not run"
    detail: str = ""

    def run(self, check: Callable[[], str]) -> bool:
        """Run ``check``; record its detail, or the error it raised. True when it passed."""
        try:
            self.detail = check()
        except LedgerError as exc:
            self.status, self.detail = "failed", exc.message
            return False
        self.status = "ok"
        return True

    def to_json(self) -> dict[str, str]:
        """``{"step", "status", "detail"}``."""
        return {"step": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class ReceiptVerification:
    """What :func:`verify` found: every step's outcome, and the checkpoint if its note verified."""

    receipt: Receipt
    steps: list[Step] = field(default_factory=list)
    checkpoint: Checkpoint | None = None

    @property
    def failed_step(self) -> str | None:
        """The name of the step that failed, or None when every step run passed."""
        return next((s.name for s in self.steps if s.status == "failed"), None)


def _check_size(receipt: Receipt, checkpoint: Checkpoint) -> str:
    if checkpoint.size != receipt.tree_size:
        raise CheckpointError(
            f"the checkpoint is for {checkpoint.size} entries, the receipt for {receipt.tree_size}"
        )
    return f"{checkpoint.size} entries"


def _check_inclusion(receipt: Receipt, checkpoint: Checkpoint) -> str:
    from governance.ledger import merkle

    proof = receipt.inclusion_proof
    merkle.verify_inclusion(
        receipt.leaf_hash, receipt.index, checkpoint.size, proof, checkpoint.root
    )
    hashes = "1 hash leads" if len(proof) == 1 else f"{len(proof)} hashes lead"
    return f"{hashes} to {root_text(checkpoint.root)}"


def _check_envelope(receipt: Receipt, envelope: bytes) -> str:
    from governance.ledger import merkle

    if merkle.leaf_hash(envelope) != receipt.leaf_hash:
        raise LedgerError("SHA-256(0x00 ‖ envelope) is not the receipt's leaf hash")
    try:
        fields = json.loads(envelope)
        named = (fields["index"], fields["kind"], fields["payload"]["sha256"])
    except (ValueError, TypeError, KeyError) as exc:
        raise LedgerError(f"the envelope is not a ledger envelope: {exc!r}") from None
    expected = (receipt.index, receipt.kind, receipt.sha256)
    for name, got, want in zip(("index", "kind", "payload sha256"), named, expected, strict=True):
        if got != want:
            raise LedgerError(f"the envelope's {name} is {got!r}, the receipt's {want!r}")
    return f"entry {receipt.index}, kind {receipt.kind}, payload sha256 {receipt.sha256}"


def verify(
    receipt: Receipt, verifier: NoteVerifier, envelope: bytes | None = None
) -> ReceiptVerification:
    """Run the steps in order, stopping at the first that fails.

    1. the checkpoint note is signed by the verifier key given out of band;
    2. the checkpoint is for the receipt's ``tree_size``;
    3. the inclusion proof leads from ``leaf_hash`` at ``index`` to the checkpoint's root;
    4. with an envelope: SHA-256(0x00 ‖ envelope) is the leaf hash, and the envelope names the
       receipt's index, kind and payload SHA-256 (otherwise the step is "skipped").
    """
    signature, size, inclusion, envelope_step = steps = [Step(n) for n in RECEIPT_STEPS]
    try:
        checkpoint = verifier.verify(receipt.checkpoint)
    except CheckpointError as exc:
        signature.status, signature.detail = "failed", exc.message
        return ReceiptVerification(receipt, steps, None)
    signature.status, signature.detail = "ok", f"signed by {verifier.name}"
    passed = size.run(lambda: _check_size(receipt, checkpoint)) and inclusion.run(
        lambda: _check_inclusion(receipt, checkpoint)
    )
    if passed and envelope is None:
        envelope_step.status, envelope_step.detail = "skipped", "no envelope given"
    elif passed and envelope is not None:
        envelope_step.run(lambda: _check_envelope(receipt, envelope))
    return ReceiptVerification(receipt, steps, checkpoint)
