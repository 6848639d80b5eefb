"""RFC 9162 Merkle tree hashing, proof construction and proof verification.

Everything here is pure: no I/O, no clock, no database. The store keeps the hash of every
complete aligned subtree, addressed as ``(level, index)``, covering leaves
``[index << level, (index + 1) << level)``. Proofs are built in two phases so that the
database can fetch every node a proof needs in one query:

1. ``inclusion_ranges`` / ``consistency_ranges`` name the leaf ranges whose Merkle tree
   hashes (MTH) make up the proof, and ``needed_subtrees`` turns those ranges into the
   stored subtrees that have to be fetched;
2. ``inclusion_proof`` / ``consistency_proof`` fold the fetched subtrees into the proof.

Verification follows the RFC 9162 algorithms (§2.1.3.2 and §2.1.4.2) literally and raises
``ProofError`` naming the step that failed; it never returns a boolean, so a forgotten
check cannot silently pass.

A caveat that is inherent to RFC 9162 rather than to this code: an inclusion or
consistency proof binds the tree size only through the *shape* of the path. Two sizes
whose paths combine hashes in the same order (index 4 in trees of 7 and 8 leaves, say)
accept the same proof against the same root. The root is what commits to the size, which
is why checkpoints sign the size and the root together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256

from governance.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "NodeLookup",
    "Subtree",
    "consistency_proof",
    "consistency_ranges",
    "hash_range",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "needed_subtrees",
    "node_hash",
    "node_id",
    "range_subtrees",
    "root_from_inclusion",
    "root_from_leaf_hashes",
    "split_node_id",
    "verify_consistency",
    "verify_inclusion",
]

#: Length in bytes of every hash in the tree (SHA-256).
HASH_SIZE: int = 32

#: Root hash of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT: bytes = sha256(b"").digest()

#: A stored complete aligned subtree, as ``(level, index)``.
Subtree = tuple[int, int]

#: Returns the stored hash of the subtree ``(level, index)``; may raise ``KeyError``.
NodeLookup = Callable[[int, int], bytes]

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# node_id packs the index into the low 56 bits: 2**56 leaves is far beyond any ledger this
# service will hold, and it keeps the packed id inside a signed 64-bit primary key.
_INDEX_BITS = 56
_INDEX_LIMIT = 1 << _INDEX_BITS
_MAX_LEVEL = 63
_NODE_ID_LIMIT = (_MAX_LEVEL + 1) << _INDEX_BITS


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 ‖ data)``."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 ‖ left ‖ right)``."""
    return sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of leaf hashes; ``EMPTY_ROOT`` for none.

    Raises ``ValueError`` if any leaf hash is not ``HASH_SIZE`` bytes.
    """
    if not leaves:
        return EMPTY_ROOT
    for position, leaf in enumerate(leaves):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} is {len(leaf)} bytes, not {HASH_SIZE}")
    # Pairing level by level and carrying an odd last node up unchanged gives exactly the
    # RFC split (largest power of two on the left), and keeps the loop in C-level list ops.
    level = list(leaves)
    prefix = _NODE_PREFIX
    while len(level) > 1:
        paired = [
            sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def node_id(level: int, index: int) -> int:
    """Pack ``(level, index)`` into one non-negative integer below ``2**63``.

    The result is ``(level << 56) | index``, suitable as a BIGINT primary key. Raises
    ``ValueError`` if ``level`` is outside ``0..63`` or ``index`` outside ``0..2**56 - 1``.
    """
    if not 0 <= level <= _MAX_LEVEL:
        raise ValueError(f"subtree level {level} is outside 0..{_MAX_LEVEL}")
    if not 0 <= index < _INDEX_LIMIT:
        raise ValueError(f"subtree index {index} is outside 0..2**{_INDEX_BITS} - 1")
    return (level << _INDEX_BITS) | index


def node_position(level: int, index: int) -> int:
    """Position of subtree (level, index) in the order appends complete subtrees.

    Appending leaf ``i`` completes its leaf and then one subtree per trailing one bit of ``i``;
    numbering them in that order makes the node table append-only in key order, so inserts go to
    the end of the index and an audit reads nodes in the same order it recomputes them. With
    ``m = (index + 1) << level`` leaves in the tree when the subtree completes, ``2m - popcount(m)``
    subtrees exist then, and the subtree is ``trailing_zeros(m) - level`` places from the last.
    """
    if level < 0 or index < 0:
        raise ValueError("level and index must be non-negative")
    m = (index + 1) << level
    trailing = (m & -m).bit_length() - 1
    return 2 * m - m.bit_count() - 1 - (trailing - level)


def split_node_id(node_id: int) -> Subtree:
    """Unpack a value made by ``node_id`` back into ``(level, index)``.

    Raises ``ValueError`` for a value ``node_id`` cannot produce.
    """
    if not 0 <= node_id < _NODE_ID_LIMIT:
        raise ValueError(f"{node_id} is not a packed subtree id")
    return node_id >> _INDEX_BITS, node_id & (_INDEX_LIMIT - 1)


def range_subtrees(start: int, end: int) -> list[Subtree]:
    """Decompose the leaf range ``[start, end)`` into complete aligned subtrees, largest first.

    The pieces are the set bits of ``end - start``; right-folding their hashes gives the
    MTH of the range. ``start`` must be a multiple of the largest piece (always true for
    the ranges the proof functions produce), otherwise the pieces would not be stored
    subtrees and ``ValueError`` is raised, as it is for an empty or negative range.
    """
    if not 0 <= start < end:
        raise ValueError(f"[{start}, {end}) is not a non-empty leaf range")
    count = end - start
    top = count.bit_length() - 1
    if start & ((1 << top) - 1):
        raise ValueError(f"[{start}, {end}) does not start on a {1 << top}-leaf boundary")
    pieces: list[Subtree] = []
    position = start
    for level in range(top, -1, -1):
        if count >> level & 1:
            pieces.append((level, position >> level))
            position += 1 << level
    return pieces


def _split(count: int) -> int:
    """Return the largest power of two strictly below ``count`` (``count`` >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return RFC 9162 ``PATH(index, D[size])`` as ``[start, end)`` leaf ranges.

    The ranges are ordered leaf to root, which is the order proofs are serialised in.
    Raises ``ValueError`` unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of {size} leaves")
    siblings: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        middle = low + _split(high - low)
        if index < middle:
            siblings.append((middle, high))
            high = middle
        else:
            siblings.append((low, middle))
            low = middle
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return RFC 9162 ``PROOF(old_size, D[new_size])`` as ``[start, end)`` leaf ranges.

    The ranges are in proof order. The proof is empty when ``old_size`` is 0 or equals
    ``new_size``. Raises ``ValueError`` unless ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove a tree of {old_size} leaves grew into {new_size}")
    if old_size in (0, new_size):
        return []
    siblings: list[tuple[int, int]] = []
    low, high = 0, new_size
    # Tracks SUBPROOF's ``b``: once the walk turns right, the old tree is no longer a
    # prefix the verifier already holds, so the node where the walk stops must be sent.
    old_root_known = True
    while old_size != high:
        middle = low + _split(high - low)
        if old_size <= middle:
            siblings.append((middle, high))
            high = middle
        else:
            siblings.append((low, middle))
            low = middle
            old_root_known = False
    siblings.reverse()
    if old_root_known:
        return siblings
    return [(low, high), *siblings]


def needed_subtrees(ranges: Iterable[tuple[int, int]]) -> list[Subtree]:
    """Return every stored subtree needed to hash ``ranges``, deduplicated.

    The order is first appearance, so the same ranges always give the same list.
    """
    seen: dict[Subtree, None] = {}
    for start, end in ranges:
        for subtree in range_subtrees(start, end):
            seen[subtree] = None
    return list(seen)


def hash_range(start: int, end: int, lookup: NodeLookup) -> bytes:
    """Return the MTH of leaves ``[start, end)`` from stored subtree hashes.

    ``KeyError`` from ``lookup`` propagates: a missing node is the store's problem to
    report, not a proof failure.
    """
    pieces = range_subtrees(start, end)
    level, index = pieces[-1]
    digest = lookup(level, index)
    for position in range(len(pieces) - 2, -1, -1):
        level, index = pieces[position]
        digest = sha256(_NODE_PREFIX + lookup(level, index) + digest).digest()
    return digest


def inclusion_proof(index: int, size: int, lookup: NodeLookup) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    return [hash_range(start, end, lookup) for start, end in inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, lookup: NodeLookup) -> list[bytes]:
    """Return the proof that the tree of ``old_size`` leaves is a prefix of ``new_size``."""
    return [hash_range(start, end, lookup) for start, end in consistency_ranges(old_size, new_size)]


def _check_hash(value: bytes, what: str, step: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{step}: {what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` gives for leaf hash ``leaf`` at ``index`` of ``size``.

    This is steps 1-4 of RFC 9162 §2.1.3.2 plus the ``sn == 0`` half of step 5. Raises
    ``ProofError`` for an index outside the tree, a hash of the wrong length, or a proof
    of the wrong length for ``index`` and ``size``.
    """
    if not 0 <= index < size:
        raise ProofError(f"inclusion step 1: leaf index {index} is not below tree size {size}")
    _check_hash(leaf, "leaf hash", "inclusion step 1")
    fn = index
    sn = size - 1
    digest = leaf
    prefix = _NODE_PREFIX
    for position, sibling in enumerate(proof):
        if sn == 0:
            raise ProofError(
                f"inclusion step 4a: proof has {len(proof)} hashes, the path ends after {position}"
            )
        _check_hash(sibling, f"proof[{position}]", "inclusion step 4")
        if fn & 1 or fn == sn:
            digest = sha256(prefix + sibling + digest).digest()
            # A right-edge node with no sibling at a level is promoted unchanged.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            digest = sha256(prefix + digest + sibling).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion step 5: proof has {len(proof)} hashes, too few for leaf {index} "
            f"of a tree of {size}"
        )
    return digest


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf hash ``leaf`` is at ``index`` in the tree of ``size`` with ``root``.

    Implements RFC 9162 §2.1.3.2. ``leaf`` is the leaf *hash* (``leaf_hash(data)``).
    Returns nothing on success; raises ``ProofError`` naming the failing step otherwise.
    """
    _check_hash(root, "root hash", "inclusion step 5")
    computed = root_from_inclusion(leaf, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion step 5: proof for leaf {index} of {size} gives root "
            f"{computed.hex()}, not {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of ``new_size``.

    Implements RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; an
    empty old tree needs an empty proof and ``EMPTY_ROOT`` as its root. Returns nothing on
    success; raises ``ProofError`` naming the failing step otherwise.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(
            f"consistency step 0: a tree of {old_size} leaves cannot grow into {new_size}"
        )
    _check_hash(old_root, "old root hash", "consistency step 0")
    _check_hash(new_root, "new root hash", "consistency step 0")
    if old_size == new_size:
        if proof:
            raise ProofError(
                f"consistency step 0: equal sizes need an empty proof, got {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ProofError(f"consistency step 0: two roots for the same size {old_size}")
        return
    if old_size == 0:
        # Every tree extends the empty one, but a caller that believes the empty tree has
        # some other root is holding a false checkpoint, so that is still refused.
        if proof:
            raise ProofError(
                f"consistency step 0: an empty old tree needs an empty proof, "
                f"got {len(proof)} hashes"
            )
        if old_root != EMPTY_ROOT:
            raise ProofError("consistency step 0: the empty tree's root is not EMPTY_ROOT")
        return
    if not proof:
        raise ProofError("consistency step 1: the proof is empty")
    for position, element in enumerate(proof):
        _check_hash(element, f"proof[{position}]", "consistency step 1")

    path: Sequence[bytes] = proof
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a node of the new one; the prover omits its hash.
        path = [old_root, *proof]
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_root = second_root = path[0]
    prefix = _NODE_PREFIX
    for position in range(1, len(path)):
        if sn == 0:
            raise ProofError(
                f"consistency step 6a: proof has {len(proof)} hashes, more than the "
                f"{old_size} -> {new_size} path needs"
            )
        element = path[position]
        if fn & 1 or fn == sn:
            first_root = sha256(prefix + element + first_root).digest()
            second_root = sha256(prefix + element + second_root).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            second_root = sha256(prefix + second_root + element).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"consistency step 7: proof has {len(proof)} hashes, too few for "
            f"{old_size} -> {new_size}"
        )
    if first_root != old_root:
        raise ProofError(
            f"consistency step 7: proof gives old root {first_root.hex()}, not {old_root.hex()}"
        )
    if second_root != new_root:
        raise ProofError(
            f"consistency step 7: proof gives new root {second_root.hex()}, not {new_root.hex()}"
        )


class Frontier:
    """Compact range [0, size): the maximal complete aligned subtrees, left to right.

    The ledger keeps one in its head row, which is all it needs to append a leaf, to
    report every stored node the append completes, and to compute the current root.
    """

    __slots__ = ("_hashes", "size")

    size: int

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Build a frontier of ``size`` leaves from its subtree hashes, largest first.

        There is one hash per set bit of ``size``. Raises ``ValueError`` for a negative
        size, the wrong number of hashes, or a hash that is not ``HASH_SIZE`` bytes.
        """
        if size < 0:
            raise ValueError(f"frontier size {size} is negative")
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a frontier of {size} leaves has {size.bit_count()} subtrees, "
                f"got {len(hashes)} hashes"
            )
        for position, digest in enumerate(hashes):
            if len(digest) != HASH_SIZE:
                raise ValueError(
                    f"frontier hash {position} is {len(digest)} bytes, not {HASH_SIZE}"
                )
        self.size = size
        # Largest first is also stack order: appends only ever touch the smallest subtrees.
        self._hashes: list[bytes] = [bytes(digest) for digest in hashes]

    @property
    def hashes(self) -> list[bytes]:
        """Hashes of the frontier subtrees, largest first (a copy)."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add leaf hash ``leaf`` and return every subtree it completes.

        The result is ``(level, index, hash)`` from the leaf itself, ``(0, old_size,
        leaf)``, up to the largest subtree completed. Raises ``ValueError`` if ``leaf`` is
        not ``HASH_SIZE`` bytes.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")
        stack = self._hashes
        index = self.size
        digest = bytes(leaf)
        completed = [(0, index, digest)]
        level = 0
        # Each trailing one bit of the old size is a left sibling waiting for this leaf.
        while index & 1:
            digest = sha256(_NODE_PREFIX + stack.pop() + digest).digest()
            index >>= 1
            level += 1
            completed.append((level, index, digest))
        stack.append(digest)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """Return the root of the tree of ``size`` leaves; ``EMPTY_ROOT`` when empty."""
        stack = self._hashes
        if not stack:
            return EMPTY_ROOT
        digest = stack[-1]
        for position in range(len(stack) - 2, -1, -1):
            digest = sha256(_NODE_PREFIX + stack[position] + digest).digest()
        return digest

    def subtrees(self) -> list[tuple[int, int, bytes]]:
        """Return the frontier subtrees as ``(level, index, hash)``, largest first."""
        result: list[tuple[int, int, bytes]] = []
        position = 0
        hashes = iter(self._hashes)
        for level in range(self.size.bit_length() - 1, -1, -1):
            if self.size >> level & 1:
                result.append((level, position >> level, next(hashes)))
                position += 1 << level
        return result

    def to_bytes(self) -> bytes:
        """Return the subtree hashes concatenated, largest first."""
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Rebuild a frontier of ``size`` leaves from ``to_bytes`` output.

        Raises ``ValueError`` if ``data`` is not one hash per set bit of ``size``.
        """
        if size < 0:
            raise ValueError(f"frontier size {size} is negative")
        expected = size.bit_count() * HASH_SIZE
        if len(data) != expected:
            raise ValueError(f"a frontier of {size} leaves is {expected} bytes, got {len(data)}")
        view = bytes(data)
        return cls(size, [view[i : i + HASH_SIZE] for i in range(0, expected, HASH_SIZE)])

    def copy(self) -> Frontier:
        """Return an independent copy."""
        return Frontier(self.size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self.size == other.size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Frontier(size={self.size}, hashes=[{len(self._hashes)} hashes])"


def batch_inclusion_proofs(old: Frontier, leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Inclusion proofs of every leaf appended to ``old``, in the tree after the append.

    One pass instead of one proof at a time: the tree is built level by level over the part the
    new leaves touch, with an odd last node carried up unchanged (which gives RFC 9162's tree),
    and every proof reads its siblings by position. Left siblings that lie wholly before the
    batch are complete subtrees of ``old``, i.e. its frontier nodes.
    """
    start = old.size
    size = start + len(leaves)
    if not leaves:
        return []
    known = {(level, index): digest for level, index, digest in old.subtrees()}
    # levels[L] holds the nodes of level L from position offsets[L] up to the right edge.
    offsets: list[int] = []
    levels: list[list[bytes]] = []
    offset = start & ~1
    current = ([known[(0, start - 1)]] if offset < start else []) + list(leaves)
    width = size
    level = 0
    while True:
        offsets.append(offset)
        levels.append(current)
        if width <= 1:
            break
        parent_width = (width + 1) // 2
        parent_offset = (start >> (level + 1)) & ~1
        parents: list[bytes] = []
        for position in range(parent_offset, parent_width):
            if (position + 1) << (level + 1) <= start:
                parents.append(known[(level + 1, position)])
                continue
            left = 2 * position - offset
            if 2 * position + 1 < width:
                parents.append(node_hash(current[left], current[left + 1]))
            else:
                parents.append(current[left])
        level += 1
        offset, current, width = parent_offset, parents, parent_width
    proofs = []
    for leaf_index in range(start, size):
        proof = []
        position = leaf_index
        for depth in range(len(levels) - 1):
            sibling = position ^ 1
            row = levels[depth]
            if sibling - offsets[depth] < len(row):
                proof.append(row[sibling - offsets[depth]])
            position >>= 1
        proofs.append(proof)
    return proofs
