"""Erasing an entry's payload and what the projections derived from it, as one step.

The ledger keeps the envelope (so the chain, the tree and every proof still verify) and records
the erasure as an entry of its own, with the reason; the payload bytes are deleted. In the same
transaction every projection that read the entry forgets what its payload said
(:meth:`~governance.ledger.projections.Projections.forget`): the attestation verdicts rewrite the
entry's row from its envelope alone, and the lineage projection, which folds entries together, is
emptied to be rebuilt without it. ``governance ledger erase`` rebuilds at once with a progress bar;
the HTTP route leaves the rebuild to the server's follower.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from governance.ledger.entries import Submitter
from governance.ledger.projections import Projections
from governance.ledger.store import Ledger, Receipt
from governance.sql import Dialect


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the entry, its kind, the erasure entry's receipt, the rebuilds."""

    index: int
    kind: str
    receipt: Receipt
    #: Projections emptied to be rebuilt without the entry (caught up afterwards).
    rebuilding: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As the API and ``governance ledger erase --json`` show it."""
        return {
            "erased": self.index,
            "kind": self.kind,
            "receipt": self.receipt.to_json(),
            "rebuilding": list(self.rebuilding),
        }


class ErasureService:
    """Erases payloads; the one implementation behind the CLI and the HTTP route."""

    def __init__(self, ledger: Ledger, projections: Projections) -> None:
        self._ledger = ledger
        self._projections = projections

    def erase(self, index: int, reason: str, submitter: Submitter | None = None) -> Erasure:
        """Erase entry ``index``'s payload, recording ``reason``; see the module docstring.

        Running it again for the same entry changes nothing and returns the first erasure's
        receipt (marked as a duplicate); after a crash between the erasure entry and the
        deletion, running it again completes the erasure.
        """
        record = self._ledger.entry(index)
        rebuilding: list[str] = []

        def forget(cursor: Any, dialect: Dialect) -> None:
            rebuilding.extend(self._projections.forget(cursor, dialect, index, record.kind))

        receipt = self._ledger.erase(
            index, reason, submitter=submitter, also=None if record.erased else forget
        )
        if rebuilding:
            self._projections.notify()
        return Erasure(index, record.kind, receipt, rebuilding)

    def finish(self, erasure: Erasure, progress: Callable[[int], None] | None = None) -> None:
        """Rebuild, now and in this thread, the projections the erasure emptied."""
        for name in erasure.rebuilding:
            self._projections.catch_up(name, progress)
