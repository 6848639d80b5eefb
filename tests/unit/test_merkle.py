"""Tests for the RFC 9162 Merkle tree module.

The reference vectors are the RFC 6962 test data published with Certificate Transparency
(transparency-dev/merkle ``proof/verify_test.go``, google/certificate-transparency-go
``merkletree``). Everything else is checked against a direct, recursive transcription of
the RFC definitions, which shares no code with the module under test.
"""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.errors import ProofError
from governance.ledger import merkle
from governance.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeLookup,
    consistency_proof,
    consistency_ranges,
    hash_range,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    needed_subtrees,
    node_hash,
    node_id,
    range_subtrees,
    root_from_inclusion,
    root_from_leaf_hashes,
    split_node_id,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- reference data

RFC6962_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
RFC6962_LEAVES = [leaf_hash(bytes.fromhex(data)) for data in RFC6962_INPUTS]
RFC6962_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (index, size, proof); the upstream vectors number leaves from 1, these from 0.
RFC6962_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
RFC6962_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# ------------------------------------------------------- independent reference implementation


def _k(n: int) -> int:
    """Largest power of two strictly below n, by counting rather than bit tricks."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


MAX_SIZE = 300
LEAVES = [_ref_leaf(b"entry %d" % i) for i in range(MAX_SIZE)]


@cache
def ref_mth(start: int, end: int) -> bytes:
    """RFC 9162 §2.1.1 MTH of LEAVES[start:end], recursively."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[start]
    k = _k(n)
    return _ref_node(ref_mth(start, start + k), ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[start:end])."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if b else [ref_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, b), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


def ref_proof(m: int, n: int) -> list[bytes]:
    return ref_subproof(m, 0, n, True) if 0 < m < n else []


# ---------------------------------------------------- shared fixtures, built once per module

NODES: dict[tuple[int, int], bytes] = {}
FRONTIER_ROOTS: list[bytes] = []
APPENDED: list[list[tuple[int, int, bytes]]] = []


def _build() -> None:
    frontier = Frontier()
    FRONTIER_ROOTS.append(frontier.root())
    for leaf in LEAVES:
        completed = frontier.append(leaf)
        APPENDED.append(completed)
        for level, index, digest in completed:
            NODES[(level, index)] = digest
        FRONTIER_ROOTS.append(frontier.root())


_build()
ROOTS = [root_from_leaf_hashes(LEAVES[:size]) for size in range(MAX_SIZE + 1)]


def lookup(level: int, index: int) -> bytes:
    return NODES[(level, index)]


def fetched_lookup(ranges: list[tuple[int, int]], size: int) -> NodeLookup:
    """A lookup holding only what needed_subtrees asked for, as the database would."""
    needed = needed_subtrees(ranges)
    for level, index in needed:
        assert (index + 1) << level <= size, (level, index, size)
    fetched = {key: NODES[key] for key in needed}
    return lambda level, index: fetched[(level, index)]


def flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# ------------------------------------------------------------------------ reference vectors


def test_hash_primitives() -> None:
    assert HASH_SIZE == 32
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


def test_rfc6962_roots() -> None:
    for size, expected in enumerate(RFC6962_ROOTS):
        assert root_from_leaf_hashes(RFC6962_LEAVES[:size]).hex() == expected, size
    frontier = Frontier()
    assert frontier.root().hex() == RFC6962_ROOTS[0]
    for size, leaf in enumerate(RFC6962_LEAVES, start=1):
        frontier.append(leaf)
        assert frontier.root().hex() == RFC6962_ROOTS[size], size


def _rfc6962_lookup() -> dict[tuple[int, int], bytes]:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    for leaf in RFC6962_LEAVES:
        for level, index, digest in frontier.append(leaf):
            nodes[(level, index)] = digest
    return nodes


@pytest.mark.parametrize(("index", "size", "expected"), RFC6962_INCLUSION)
def test_rfc6962_inclusion_vectors(index: int, size: int, expected: list[str]) -> None:
    nodes = _rfc6962_lookup()
    proof = inclusion_proof(index, size, lambda level, i: nodes[(level, i)])
    assert [h.hex() for h in proof] == expected
    root = bytes.fromhex(RFC6962_ROOTS[size])
    verify_inclusion(RFC6962_LEAVES[index], index, size, proof, root)
    assert root_from_inclusion(RFC6962_LEAVES[index], index, size, proof) == root


@pytest.mark.parametrize(("old", "new", "expected"), RFC6962_CONSISTENCY)
def test_rfc6962_consistency_vectors(old: int, new: int, expected: list[str]) -> None:
    nodes = _rfc6962_lookup()
    proof = consistency_proof(old, new, lambda level, i: nodes[(level, i)])
    assert [h.hex() for h in proof] == expected
    old_root = bytes.fromhex(RFC6962_ROOTS[old])
    new_root = bytes.fromhex(RFC6962_ROOTS[new])
    verify_consistency(old, new, old_root, new_root, proof)


# ------------------------------------------------------------------ exhaustive small trees


def test_roots_match_rfc_definition() -> None:
    for size in range(MAX_SIZE + 1):
        assert ROOTS[size] == ref_mth(0, size), size
        assert FRONTIER_ROOTS[size] == ROOTS[size], size


def test_all_inclusion_proofs_verify() -> None:
    for size in range(1, MAX_SIZE + 1):
        root = ROOTS[size]
        for index in range(size):
            ranges = inclusion_ranges(index, size)
            for start, end in ranges:
                assert 0 <= start < end <= size
                assert not start <= index < end
            proof = inclusion_proof(index, size, fetched_lookup(ranges, size))
            assert len(proof) == len(ranges)
            verify_inclusion(LEAVES[index], index, size, proof, root)


def test_all_consistency_proofs_verify() -> None:
    for new in range(MAX_SIZE + 1):
        new_root = ROOTS[new]
        for old in range(new + 1):
            ranges = consistency_ranges(old, new)
            if old in (0, new):
                assert ranges == []
            for start, end in ranges:
                assert 0 <= start < end <= new
            proof = consistency_proof(old, new, fetched_lookup(ranges, new))
            verify_consistency(old, new, ROOTS[old], new_root, proof)


def test_proofs_equal_rfc_definition() -> None:
    for size in range(1, 70):
        for index in range(size):
            assert inclusion_proof(index, size, lookup) == ref_path(index, 0, size), (index, size)
        for old in range(size + 1):
            assert consistency_proof(old, size, lookup) == ref_proof(old, size), (old, size)


def test_hash_range_and_decomposition() -> None:
    assert range_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_subtrees(8, 16) == [(3, 1)]
    assert range_subtrees(12, 15) == [(1, 6), (0, 14)]
    for bad in [(1, 3), (2, 7), (5, 5), (6, 5), (-1, 0)]:
        with pytest.raises(ValueError, match=r"\["):
            range_subtrees(*bad)
    for size in range(1, 70):
        for start, end in inclusion_ranges(size // 2, size) + consistency_ranges(size // 3, size):
            assert hash_range(start, end, lookup) == ref_mth(start, end)
        assert hash_range(0, size, lookup) == ROOTS[size]


def test_needed_subtrees_is_deduplicated_and_deterministic() -> None:
    assert needed_subtrees([(0, 4), (0, 4), (4, 7)]) == [(2, 0), (1, 2), (0, 6)]
    assert needed_subtrees([]) == []
    ranges = inclusion_ranges(5, 13) + consistency_ranges(6, 13)
    assert needed_subtrees(ranges) == needed_subtrees(list(ranges))
    assert len(set(needed_subtrees(ranges))) == len(needed_subtrees(ranges))


def test_proofs_stay_logarithmic_in_huge_trees() -> None:
    # A tree of identical leaves has one hash per level, so it can be stored as a list.
    levels = [_ref_leaf(b"same")]
    for _ in range(60):
        levels.append(_ref_node(levels[-1], levels[-1]))
    calls = 0

    def counting(level: int, index: int) -> bytes:
        nonlocal calls
        calls += 1
        return levels[level]

    old, new = (1 << 40) + 12345, (1 << 45) + 987654321
    for size in (old, new):
        index = size - 3
        calls = 0
        proof = inclusion_proof(index, size, counting)
        assert calls <= 2 * size.bit_length()
        verify_inclusion(levels[0], index, size, proof, hash_range(0, size, counting))
    calls = 0
    proof = consistency_proof(old, new, counting)
    assert calls <= 3 * new.bit_length()
    verify_consistency(old, new, hash_range(0, old, counting), hash_range(0, new, counting), proof)


# -------------------------------------------------------------- tampering is always caught


@st.composite
def inclusion_case(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    size = draw(st.integers(min_size, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(2, MAX_SIZE))
    return draw(st.integers(1, new - 1)), new


def _inclusion(index: int, size: int) -> list[bytes]:
    return inclusion_proof(index, size, lookup)


def _inclusion_shape(index: int, size: int) -> tuple[bool, ...] | None:
    """Which side each sibling is on: all the RFC verifier learns from index and size."""
    if not 0 <= index < size:
        return None
    return tuple(start < index for start, _ in inclusion_ranges(index, size))


def _consistency_shape(old: int, new: int) -> tuple[bool, tuple[bool, ...]] | None:
    if not 0 < old < new:
        return None
    ranges = consistency_ranges(old, new)
    return old & (old - 1) == 0, tuple(end <= old for _, end in ranges)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(inclusion_case(min_size=2), st.data())
def test_inclusion_rejects_any_flipped_bit(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    proof = _inclusion(index, size)
    bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1))
    target = data.draw(st.sampled_from(["proof", "root", "leaf"]))
    leaf, root = LEAVES[index], ROOTS[size]
    if target == "proof":
        position = data.draw(st.integers(0, len(proof) - 1))
        proof[position] = flip(proof[position], bit)
    elif target == "root":
        root = flip(root, bit)
    else:
        leaf = flip(leaf, bit)
    with pytest.raises(ProofError, match="inclusion step"):
        verify_inclusion(leaf, index, size, proof, root)


@FAST
@given(inclusion_case(), st.integers(0, MAX_SIZE + 5))
def test_inclusion_rejects_wrong_index(case: tuple[int, int], wrong: int) -> None:
    index, size = case
    if wrong == index:
        wrong = index + 1
    with pytest.raises(ProofError, match="inclusion step"):
        verify_inclusion(LEAVES[index], wrong, size, _inclusion(index, size), ROOTS[size])


@FAST
@given(inclusion_case(), st.integers(0, MAX_SIZE + 5))
def test_inclusion_wrong_size_is_rejected_unless_the_path_shape_matches(
    case: tuple[int, int], wrong: int
) -> None:
    # RFC 9162 proofs bind the size only through the path shape (the root commits to the
    # size); a size with the same shape runs the identical computation, so it must pass,
    # and any other size must fail.
    index, size = case
    if wrong == size:
        wrong = size + 1
    proof, root = _inclusion(index, size), ROOTS[size]
    if _inclusion_shape(index, wrong) == _inclusion_shape(index, size):
        verify_inclusion(LEAVES[index], index, wrong, proof, root)
    else:
        with pytest.raises(ProofError, match="inclusion step"):
            verify_inclusion(LEAVES[index], index, wrong, proof, root)


def test_inclusion_size_ambiguity_example() -> None:
    # Index 4 has siblings right, right, left in trees of both 7 and 8 leaves.
    proof = _inclusion(4, 7)
    verify_inclusion(LEAVES[4], 4, 8, proof, ROOTS[7])
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[4], 4, 6, proof, ROOTS[7])


@FAST
@given(inclusion_case(), st.data())
def test_inclusion_rejects_truncated_or_extended_proof(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof = _inclusion(index, size)
    extra = data.draw(st.sampled_from([ROOTS[size], LEAVES[index], b"\x00" * 32]))
    variants = [[*proof, extra], [extra, *proof]]
    if proof:
        variants += [proof[:-1], proof[1:]]
    for variant in variants:
        with pytest.raises(ProofError, match="inclusion step"):
            verify_inclusion(LEAVES[index], index, size, variant, ROOTS[size])


@FAST
@given(consistency_case(), st.data())
def test_consistency_rejects_any_flipped_bit(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = consistency_proof(old, new, lookup)
    bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1))
    target = data.draw(st.sampled_from(["proof", "old", "new"]))
    old_root, new_root = ROOTS[old], ROOTS[new]
    if target == "proof":
        position = data.draw(st.integers(0, len(proof) - 1))
        proof[position] = flip(proof[position], bit)
    elif target == "old":
        old_root = flip(old_root, bit)
    else:
        new_root = flip(new_root, bit)
    with pytest.raises(ProofError, match="consistency step"):
        verify_consistency(old, new, old_root, new_root, proof)


@FAST
@given(consistency_case(), st.integers(-1, MAX_SIZE + 5), st.booleans())
def test_consistency_wrong_size_is_rejected_unless_the_path_shape_matches(
    case: tuple[int, int], wrong: int, change_old: bool
) -> None:
    old, new = case
    proof = consistency_proof(old, new, lookup)
    claimed_old, claimed_new = (wrong, new) if change_old else (old, wrong)
    if (claimed_old, claimed_new) == (old, new):
        claimed_new += 1
    if claimed_new >= 0 and _consistency_shape(claimed_old, claimed_new) == _consistency_shape(
        old, new
    ):
        verify_consistency(claimed_old, claimed_new, ROOTS[old], ROOTS[new], proof)
    else:
        with pytest.raises(ProofError, match="consistency step"):
            verify_consistency(claimed_old, claimed_new, ROOTS[old], ROOTS[new], proof)


@FAST
@given(consistency_case(), st.data())
def test_consistency_rejects_truncated_extended_or_swapped(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(old, new, lookup)
    old_root, new_root = ROOTS[old], ROOTS[new]
    extra = data.draw(st.sampled_from([old_root, new_root, proof[0], b"\x00" * 32]))
    variants = [[*proof, extra], [extra, *proof], proof[:-1], proof[1:], []]
    for variant in variants:
        with pytest.raises(ProofError, match="consistency step"):
            verify_consistency(old, new, old_root, new_root, variant)
    with pytest.raises(ProofError, match="consistency step"):
        verify_consistency(old, new, new_root, old_root, proof)


def test_inclusion_structural_failures() -> None:
    proof = _inclusion(3, 10)
    leaf, root = LEAVES[3], ROOTS[10]
    with pytest.raises(ProofError, match="step 1: leaf index 10 is not below tree size 10"):
        verify_inclusion(leaf, 10, 10, proof, root)
    with pytest.raises(ProofError, match="step 1"):
        verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="step 1"):
        verify_inclusion(leaf, -1, 10, proof, root)
    with pytest.raises(ProofError, match="leaf hash is 31 bytes"):
        verify_inclusion(leaf[:31], 3, 10, proof, root)
    with pytest.raises(ProofError, match="root hash is 33 bytes"):
        verify_inclusion(leaf, 3, 10, proof, root + b"\x00")
    with pytest.raises(ProofError, match=r"proof\[1\] is 0 bytes"):
        verify_inclusion(leaf, 3, 10, [proof[0], b"", *proof[2:]], root)
    with pytest.raises(ProofError, match="step 5: proof has"):
        verify_inclusion(leaf, 3, 10, proof[:-1], root)
    with pytest.raises(ProofError, match="step 4a"):
        verify_inclusion(leaf, 3, 10, [*proof, root], root)
    # A one-leaf tree: the leaf is the root and the proof is empty.
    verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    with pytest.raises(ProofError, match="step 5"):
        verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[1])


def test_consistency_trivial_cases() -> None:
    root = ROOTS[5]
    verify_consistency(5, 5, root, root, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, root, [])
    with pytest.raises(ProofError, match="two roots for the same size"):
        verify_consistency(5, 5, root, ROOTS[4], [])
    with pytest.raises(ProofError, match="equal sizes need an empty proof"):
        verify_consistency(5, 5, root, root, [root])
    with pytest.raises(ProofError, match="empty old tree needs an empty proof"):
        verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    with pytest.raises(ProofError, match="not EMPTY_ROOT"):
        verify_consistency(0, 5, root, root, [])
    with pytest.raises(ProofError, match="cannot grow"):
        verify_consistency(6, 5, ROOTS[6], root, [])
    with pytest.raises(ProofError, match="cannot grow"):
        verify_consistency(-1, 5, EMPTY_ROOT, root, [])
    with pytest.raises(ProofError, match="step 1: the proof is empty"):
        verify_consistency(4, 5, ROOTS[4], root, [])
    with pytest.raises(ProofError, match="new root hash is 0 bytes"):
        verify_consistency(5, 5, root, b"", [])
    with pytest.raises(ProofError, match=r"proof\[0\] is 31 bytes"):
        verify_consistency(3, 5, ROOTS[3], root, [root[:31]])


def test_proof_builders_reject_bad_arguments() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 5)]:
        with pytest.raises(ValueError, match="leaf index"):
            inclusion_ranges(index, size)
    for old, new in [(6, 5), (-1, 5)]:
        with pytest.raises(ValueError, match="cannot prove"):
            consistency_ranges(old, new)
    assert consistency_ranges(0, 9) == []
    assert consistency_ranges(9, 9) == []
    with pytest.raises(KeyError):
        inclusion_proof(0, MAX_SIZE + 2, lookup)


# ----------------------------------------------------------------------------- Frontier


def test_frontier_append_reports_every_completed_subtree() -> None:
    expected = {
        (level, index)
        for level in range(MAX_SIZE.bit_length())
        for index in range(MAX_SIZE >> level)
    }
    assert set(NODES) == expected
    assert sum(len(completed) for completed in APPENDED) == len(expected)
    for old_size, completed in enumerate(APPENDED):
        assert completed[0] == (0, old_size, LEAVES[old_size])
        assert [level for level, _, _ in completed] == list(range(len(completed)))
        for level, index, digest in completed:
            assert digest == ref_mth(index << level, (index + 1) << level)


def test_frontier_state_round_trips_at_every_size() -> None:
    frontier = Frontier()
    for size in range(MAX_SIZE + 1):
        assert frontier.size == size
        subtrees = frontier.subtrees()
        assert len(subtrees) == size.bit_count()
        assert [digest for _, _, digest in subtrees] == frontier.hashes
        covered = 0
        for level, index, digest in subtrees:
            assert index << level == covered
            assert digest == NODES[(level, index)]
            covered += 1 << level
        assert covered == size
        restored = Frontier.from_bytes(size, frontier.to_bytes())
        assert restored == frontier
        assert restored.root() == ROOTS[size]
        assert Frontier(size, frontier.hashes) == frontier
        if size < MAX_SIZE:
            # A restored frontier must carry on exactly as the original does.
            assert restored.append(LEAVES[size]) == frontier.append(LEAVES[size])
            assert restored == frontier


def test_frontier_copy_is_independent() -> None:
    frontier = Frontier()
    for leaf in LEAVES[:5]:
        frontier.append(leaf)
    clone = frontier.copy()
    clone.append(LEAVES[5])
    assert frontier.size == 5
    assert frontier.root() == ROOTS[5]
    assert clone.root() == ROOTS[6]
    hashes = frontier.hashes
    hashes.clear()
    assert frontier.root() == ROOTS[5]


def test_frontier_validation() -> None:
    digest = LEAVES[0]
    assert Frontier().root() == EMPTY_ROOT
    assert Frontier().to_bytes() == b""
    with pytest.raises(ValueError, match="negative"):
        Frontier(-1)
    with pytest.raises(ValueError, match="has 2 subtrees, got 1"):
        Frontier(3, [digest])
    with pytest.raises(ValueError, match="has 0 subtrees, got 1"):
        Frontier(0, [digest])
    with pytest.raises(ValueError, match="31 bytes"):
        Frontier(1, [digest[:31]])
    with pytest.raises(ValueError, match="is 64 bytes, got 32"):
        Frontier.from_bytes(3, digest)
    with pytest.raises(ValueError, match="is 0 bytes, got 1"):
        Frontier.from_bytes(0, b"\x00")
    with pytest.raises(ValueError, match="negative"):
        Frontier.from_bytes(-1, b"")
    with pytest.raises(ValueError, match="33 bytes"):
        Frontier().append(digest + b"\x00")
    assert Frontier(1, [digest]) != Frontier(1, [LEAVES[1]])


# ---------------------------------------------------------------------------- node ids


@given(st.integers(0, 63), st.integers(0, 2**56 - 1))
def test_node_id_round_trips(level: int, index: int) -> None:
    packed = node_id(level, index)
    assert 0 <= packed < 2**63
    assert split_node_id(packed) == (level, index)


def test_node_id_layout_and_limits() -> None:
    assert node_id(0, 0) == 0
    assert node_id(1, 2) == (1 << 56) | 2
    assert node_id(63, 2**56 - 1) == (63 << 56) | (2**56 - 1)
    for level, index in [(64, 0), (-1, 0), (0, 2**56), (0, -1)]:
        with pytest.raises(ValueError, match="outside"):
            node_id(level, index)
    for packed in [-1, 64 << 56, 2**63]:
        with pytest.raises(ValueError, match="not a packed subtree id"):
            split_node_id(packed)


def test_node_position_numbers_subtrees_in_the_order_appends_complete_them() -> None:
    frontier = merkle.Frontier()
    expected = 0
    for i in range(1, 600):
        for level, index, _digest in frontier.append(merkle.leaf_hash(i.to_bytes(4, "big"))):
            assert merkle.node_position(level, index) == expected
            expected += 1
    with pytest.raises(ValueError, match="non-negative"):
        merkle.node_position(-1, 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=600), st.integers(min_value=1, max_value=300))
def test_batch_inclusion_proofs_match_single_proofs(start: int, count: int) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(start + count)]
    frontier = merkle.Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for leaf in leaves[:start]:
        for level, index, digest in frontier.append(leaf):
            nodes[(level, index)] = digest
    old = frontier.copy()
    for leaf in leaves[start:]:
        for level, index, digest in frontier.append(leaf):
            nodes[(level, index)] = digest
    size = start + count
    root = frontier.root()
    proofs = merkle.batch_inclusion_proofs(old, leaves[start:])
    assert len(proofs) == count
    for offset, proof in enumerate(proofs):
        index = start + offset
        assert proof == merkle.inclusion_proof(index, size, lambda lv, ix: nodes[(lv, ix)])
        merkle.verify_inclusion(leaves[index], index, size, proof, root)


def test_batch_inclusion_proofs_of_nothing() -> None:
    assert merkle.batch_inclusion_proofs(merkle.Frontier(), []) == []
