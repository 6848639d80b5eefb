r"""RFC 8785 (JCS) canonical JSON for ledger envelopes.

``rfc8785.dumps`` is the reference, but it is pure Python and too slow for the append path.
Ledger envelopes are small trees of ``dict``/``list``/``str``/``int``/``bool``/``None``, and for
exactly those (with the restrictions checked by ``_fast_eligible``) the stdlib C encoder emits
the same bytes as JCS:

* no floats: JCS number formatting (ECMAScript ``Number.prototype.toString``) differs from
  ``repr(float)``, so any float goes to the reference implementation;
* integers within ±(2**53 - 1): outside that range ``rfc8785`` raises, and so must we;
* ``str`` keys only: ``json`` would silently stringify ``int`` keys, JCS rejects them;
* keys sort the same way: JCS orders keys by UTF-16 code units, Python by code points. The two
  orders differ only when a supplementary-plane character (a surrogate pair, 0xD800..0xDBFF as
  its first code unit) is compared with one in U+E000..U+FFFF, so any key containing a code
  point at or above U+D800 takes the slow path;
* the same escapes: with ``ensure_ascii=False`` the C encoder escapes only ``"``, ``\``, and
  control characters below U+0020 (``\b \f \n \r \t`` by name, the rest as lowercase
  ``\u00xx``), which is what RFC 8785 section 3.2.2.2 prescribes;
* no lone surrogates: JCS output is UTF-8, so such strings are errors. Rather than scanning
  every string, the fast path lets ``str.encode`` detect them and then defers to ``rfc8785``
  so the caller sees the reference implementation's own exception.

Types are checked exactly (``type(x) is int``, not ``isinstance``) because subclasses such as
``IntEnum`` or ``OrderedDict`` are where the two encoders could disagree; they simply take the
slow path.
"""

from __future__ import annotations

import json
from typing import Any, cast

import rfc8785

__all__ = ["canonical_json"]

_MAX_SAFE_INT = 2**53 - 1

# A prebuilt encoder skips json.dumps' per-call argument handling; check_circular is off
# because _fast_eligible has already walked the value, and a cycle would have recursed
# without end there (RecursionError, which sends it to the fallback).
_encode = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,
).encode


def _key_sorts_like_utf16(key: str) -> bool:
    # isascii() is O(1) on CPython's compact strings, so the common case costs nothing.
    return key.isascii() or max(key) < "\ud800"


def _fast_eligible(value: object) -> bool:
    """Report whether the stdlib encoder provably produces JCS bytes for ``value``.

    Lone surrogates are not checked here; ``canonical_json`` catches them on encoding.
    """
    # Exact type tests, ordered by how often each occurs in an envelope.
    if type(value) is str or type(value) is bool or value is None:
        return True
    if type(value) is int:
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str or not _key_sorts_like_utf16(k) or not _fast_eligible(v):
                return False
        return True
    if type(value) is list:
        return all(_fast_eligible(item) for item in value)
    return False


def canonical_json(value: object) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Byte-identical to ``rfc8785.dumps(value)`` for every input, and raises whenever it raises
    (``rfc8785.CanonicalizationError`` and its subclasses, e.g. for floats that are NaN or
    infinite, integers beyond ±(2**53 - 1), non-string keys, lone surrogates, unsupported
    types).
    """
    try:
        eligible = _fast_eligible(value)
    except RecursionError:
        # Too deep (or cyclic) for the walk: let the reference implementation decide.
        eligible = False
    if eligible:
        try:
            return _encode(value).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            # A lone surrogate somewhere, or nesting the C encoder refuses: rfc8785 then
            # raises (or succeeds) on its own terms, which keeps the two in lockstep.
            pass
    # rfc8785 validates types at run time and raises for anything outside JSON, which is the
    # error callers should see, so its static parameter type is not imposed on ours.
    result: bytes = rfc8785.dumps(cast("Any", value))
    return result
