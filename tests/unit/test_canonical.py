"""canonical_json must be byte-identical to rfc8785.dumps and fail exactly when it fails."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from typing import Any, cast

import pytest
import rfc8785
from hypothesis import event, given, settings
from hypothesis import strategies as st

from governance.ledger.canonical import _fast_eligible, canonical_json

MAX_SAFE = 2**53 - 1

# --- strategies -------------------------------------------------------------------------------

# Characters that matter for escaping and for UTF-16 vs code point ordering, mixed into
# otherwise arbitrary Unicode so hypothesis hits them often.
_interesting_chars = st.sampled_from(
    [
        *map(chr, range(0x20)),
        '"',
        "\\",
        "/",
        "\x7f",
        "\x80",
        "\u2028",
        "\u2029",
        "\ud7ff",
        "\ue000",
        "\ufb33",
        "\ufeff",
        "\ufffd",
        "\uffff",
        "\U00010000",
        "\U0001f600",
        "\U0010ffff",
    ]
)
_clean_char = st.one_of(st.characters(codec="utf-8"), _interesting_chars)
_clean_text = st.text(_clean_char, max_size=12)
# Lone surrogates: UTF-8 cannot encode them, so JCS must reject these strings.
_surrogate_text = st.text(
    st.one_of(_clean_char, st.integers(0xD800, 0xDFFF).map(chr)), min_size=1, max_size=6
)
_text = st.one_of(_clean_text, _clean_text, _clean_text, _surrogate_text)

_ints = st.one_of(
    st.integers(-1000, 1000),
    st.integers(),
    st.integers(-(2**60), 2**60),
    st.sampled_from([MAX_SAFE, -MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE - 1, 2**64, -(2**64)]),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _ints,
    _text,
    st.floats(),  # includes nan/inf, which rfc8785 rejects
)
_keys = st.one_of(_clean_text, _clean_text, _clean_text, _clean_text, _surrogate_text)
_odd_keys = st.one_of(st.integers(-3, 3), st.none(), st.booleans())

_json_like = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(_keys, children, max_size=5),
        st.dictionaries(_clean_text, children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(st.one_of(_keys, _odd_keys), children, min_size=1, max_size=3),
    ),
    max_leaves=25,
)

# Mostly values the predicate should accept, with the boundary cases (unsafe ints, keys with
# code points >= U+D800) mixed in, so the soundness test is not starved by assume().
_bmp_low_key = st.text(
    st.one_of(st.characters(max_codepoint=0xD7FF), st.sampled_from(list(map(chr, range(0x20))))),
    max_size=8,
)
_near_eligible = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-MAX_SAFE, MAX_SAFE),
        st.sampled_from([MAX_SAFE, -MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE - 1]),
        _clean_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(_bmp_low_key, _bmp_low_key, _bmp_low_key, _keys), children, max_size=5
        ),
    ),
    max_leaves=25,
)


def _hex64() -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=64, max_size=64)


_envelopes = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "index": st.integers(0, MAX_SAFE),
        "kind": st.sampled_from(["evidence", "decision", "attestation"]),
        "prev": _hex64(),
        "received_at": st.datetimes().map(lambda d: d.isoformat() + "Z"),
        "payload": st.fixed_dictionaries(
            {
                "media_type": st.sampled_from(["application/pdf", "text/plain; charset=utf-8"]),
                "size": st.integers(0, 2**40),
                "sha256": _hex64(),
                "title": st.text(st.characters(codec="utf-8"), max_size=20),
            }
        ),
        "subjects": st.lists(st.fixed_dictionaries({"sha256": _hex64()}), max_size=3),
        "note": st.none() | st.booleans(),
    }
)

TYPICAL_ENVELOPE: dict[str, Any] = {
    "v": 1,
    "index": 123456,
    "kind": "evidence",
    "prev": "ab" * 32,
    "received_at": "2026-11-26T22:13:24.123456Z",
    "payload": {"media_type": "application/pdf", "size": 12345, "sha256": "cd" * 32},
    "subjects": [{"sha256": "ef" * 32}],
}


def _reference(value: object) -> bytes | BaseException:
    try:
        result: bytes = rfc8785.dumps(cast(Any, value))
    except (ValueError, RecursionError) as exc:
        return exc
    return result


# --- differential tests -----------------------------------------------------------------------


@settings(max_examples=600)
@given(_json_like)
def test_matches_rfc8785_or_raises_the_same_error(value: Any) -> None:
    expected = _reference(value)
    if isinstance(expected, BaseException):
        with pytest.raises(type(expected)) as info:
            canonical_json(value)
        assert type(info.value) is type(expected)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=800)
@given(st.one_of(_near_eligible, _near_eligible, _near_eligible, _json_like))
def test_fast_path_is_sound_whenever_eligible(value: Any) -> None:
    # Checks the predicate itself: canonical_json would mask a wrong "eligible" only if
    # the stdlib output also happened to fail, so compare the raw stdlib bytes directly.
    # (A plain early return rather than assume(): filtering made this test slow.)
    eligible = _fast_eligible(value)
    event(f"eligible={eligible}")
    if not eligible:
        return
    try:
        fast = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates are caught by canonical_json's encode step, not by the predicate.
        with pytest.raises((rfc8785.CanonicalizationError, UnicodeEncodeError)):
            rfc8785.dumps(value)
        return
    assert fast == rfc8785.dumps(value)


@given(_envelopes)
def test_envelopes_take_the_fast_path_and_match(envelope: dict[str, Any]) -> None:
    assert _fast_eligible(envelope)
    assert canonical_json(envelope) == rfc8785.dumps(envelope)


# --- explicit cases ---------------------------------------------------------------------------

_NAMED_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _expected_escape(c: str) -> str:
    # RFC 8785 section 3.2.2.2, written out independently of both encoders.
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    if ord(c) < 0x20:
        return f"\\u{ord(c):04x}"
    if c in '"\\':
        return "\\" + c
    return c


@pytest.mark.parametrize(
    "code_point", [*range(0x80), 0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x10FFFF], ids=hex
)
def test_escape_of_every_ascii_char_and_notable_others(code_point: int) -> None:
    c = chr(code_point)
    want = ('"' + _expected_escape(c) + '"').encode("utf-8")
    assert canonical_json(c) == want == rfc8785.dumps(c)
    as_key = {c: c, "k": c}
    assert canonical_json(as_key) == rfc8785.dumps(as_key)


def test_rfc8785_section_3_2_3_key_ordering_example() -> None:
    # The sorting example from RFC 8785: the emoji (a surrogate pair in UTF-16) sorts before
    # U+FB33 even though its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    want = "{" + ",".join(
        f'"{_expected_escape(k) if k == chr(13) else k}":"{value[k]}"' for k in order
    )
    want += "}"
    assert canonical_json(value) == want.encode("utf-8") == rfc8785.dumps(value)
    assert not _fast_eligible(value)


@pytest.mark.parametrize(
    "keys",
    [
        ["\ue000", "\U0001f600"],
        ["\uffff", "\U00010000"],
        ["a\ufb33", "a\U0001f600", "a"],
        ["\U0010ffff", "\ud7ff", "\ue000"],
    ],
)
def test_supplementary_plane_keys_sort_by_utf16(keys: list[str]) -> None:
    value = dict.fromkeys(keys, 0)
    assert canonical_json(value) == rfc8785.dumps(value)
    # Python's code point order disagrees here, which is why such keys leave the fast path.
    naive = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert naive.encode("utf-8") != canonical_json(value)


@pytest.mark.parametrize("n", [0, 1, -1, MAX_SAFE, -MAX_SAFE, 2**31, -(2**31)])
def test_safe_integers(n: int) -> None:
    assert canonical_json({"n": n}) == f'{{"n":{n}}}'.encode() == rfc8785.dumps({"n": n})


@pytest.mark.parametrize("n", [MAX_SAFE + 1, -MAX_SAFE - 1, 2**64, -(2**100)])
def test_unsafe_integers_raise_like_rfc8785(n: int) -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": [n]})


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        {"a": float("-inf")},
        {1: "int key"},
        {"a": {None: 1}},
        "lone \ud800 surrogate",
        {"k": ["\udfff"]},
        {"\udc00": 1},
        b"bytes",
        {"set": {1, 2}},
    ],
    ids=repr,
)
def test_rejected_inputs_raise_the_same_error_as_rfc8785(value: object) -> None:
    expected = _reference(value)
    assert isinstance(expected, BaseException)
    with pytest.raises(type(expected)):
        canonical_json(value)


def test_lone_surrogate_in_key_raises_unicode_error_like_rfc8785() -> None:
    # rfc8785 sorts keys via .encode("utf-16be") before its own UTF-8 check, so a lone
    # surrogate in a key surfaces as UnicodeEncodeError, not CanonicalizationError.
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"\ud800": 1})


def test_floats_use_jcs_number_formatting() -> None:
    value = {"a": 1.0, "b": 1e21, "c": 1e-7, "d": 0.1, "e": -0.0, "f": 1e20}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert (
        canonical_json(value)
        == b'{"a":1,"b":1e+21,"c":1e-7,"d":0.1,"e":0,"f":100000000000000000000}'
    )


def test_bool_and_none_are_not_numbers() -> None:
    assert canonical_json([True, False, None, 1, 0]) == b"[true,false,null,1,0]"


def test_tuples_and_subclasses_fall_back_but_match() -> None:
    class Color(enum.IntEnum):
        RED = 1

    class Name(enum.StrEnum):
        ALICE = "alice"

    values: list[Any] = [
        (1, "a"),
        OrderedDict([("b", 1), ("a", 2)]),
        {"c": Color.RED},
        {"n": Name.ALICE},
    ]
    for value in values:
        assert not _fast_eligible(value)
        assert canonical_json(value) == rfc8785.dumps(value)


def test_deep_nesting_matches() -> None:
    value: Any = "leaf"
    for i in range(200):
        value = [value] if i % 2 else {"k": value}
    assert canonical_json(value) == rfc8785.dumps(value)


def test_cycles_raise() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        rfc8785.dumps(cyclic)
    with pytest.raises(RecursionError):
        canonical_json(cyclic)


# --- the fast-path predicate ------------------------------------------------------------------


def test_typical_envelope_takes_the_fast_path() -> None:
    assert _fast_eligible(TYPICAL_ENVELOPE)
    assert canonical_json(TYPICAL_ENVELOPE) == rfc8785.dumps(TYPICAL_ENVELOPE)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        "",
        {"": ""},
        {"é": "中", "中": ["\U0001f600"]},  # non-ASCII keys below U+D800, any value text
        {"a": [None, True, False, MAX_SAFE, -MAX_SAFE]},
    ],
    ids=repr,
)
def test_fast_eligible_accepts(value: object) -> None:
    assert _fast_eligible(value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5},
        [0.0],
        {"n": MAX_SAFE + 1},
        [-MAX_SAFE - 1],
        {1: 1},
        {"\ue000": 1},
        {"x\U0001f600": 1},
        (1,),
        OrderedDict(a=1),
        {"b": b"x"},
    ],
    ids=repr,
)
def test_fast_eligible_rejects(value: object) -> None:
    assert not _fast_eligible(value)
