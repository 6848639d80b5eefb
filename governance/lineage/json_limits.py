"""A request body decoded as strict JSON and held to structural :class:`Limits`.

A body that is not UTF-8 JSON, or breaks a limit on its shape, is refused with
:class:`~governance.errors.InputError` (HTTP 400); one that breaks a size limit, with
:class:`~governance.errors.PayloadTooLarge` (HTTP 413). Either names where, by JSON path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from governance.errors import InputError, PayloadTooLarge
from governance.lineage.events import Problem, _segment, _shorten

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Structural limits on a decoded body, enforced before any validation.

    The HTTP layer already caps bodies at 32 MiB, so these only stop shapes that are cheap to
    send but expensive to process (deep nesting, one enormous array or string).
    """

    max_depth: int = 64
    max_array: int = 100_000
    # Generous on purpose: SQL text and Spark plans in facets are legitimately megabytes long.
    max_string: int = 16 * 1024 * 1024


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON (and the canonical form the ledger hashes) does not.
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> Any:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # RFC 8259 §8.1: a parser may ignore a UTF-8 byte order mark
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"invalid UTF-8 at byte {exc.start}"
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        # The C decoder recurses per nesting level; ~1000 levels exhaust the interpreter's
        # recursion limit long before memory. Far beyond any Limits.max_depth anyway.
        detail = "JSON nesting is too deep"
        raise InputError(detail, errors=[Problem("$", detail).to_json()]) from exc
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc
    except ValueError as exc:  # NaN/Infinity, or an integer over the 4300-digit conversion limit
        detail = _shorten(str(exc))
        raise InputError(
            f"body is not valid UTF-8 JSON: {detail}", errors=[Problem("$", detail).to_json()]
        ) from exc


def _bad_unicode(text: str) -> bool:
    # JSON escapes can smuggle lone surrogates ("\ud800") into a str; they cannot be encoded as
    # UTF-8, so storing or hashing the event later would fail with a 500 instead of a 400 now.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class _Violation:
    too_large: bool  # a size limit (413) rather than a shape problem (400)
    path: str
    message: str


def _scalar_violation(value: Any, limits: Limits) -> tuple[bool, str] | None:
    if type(value) is str:
        if len(value) > limits.max_string:
            return True, f"string longer than {limits.max_string} characters"
        if not value.isascii() and _bad_unicode(value):
            return False, "string contains a lone surrogate (not valid Unicode)"
    elif type(value) is float and not math.isfinite(value):
        return False, "number out of range (not finite)"
    return None


def _first_violation(value: Any, limits: Limits, track: bool) -> _Violation | None:
    """The first limit violation in a depth-first walk (iterative: no recursion limit).

    Paths are only built when ``track`` is set: the fast pass runs on every body, the tracking
    pass only on a body already known to be bad, to say where.
    """
    top = _scalar_violation(value, limits)
    if top is not None:
        return _Violation(top[0], "$", top[1])
    stack: list[tuple[Any, int, str]] = [(value, 1, "$")]
    while stack:
        node, depth, path = stack.pop()
        if depth > limits.max_depth:
            return _Violation(False, path, f"nesting deeper than {limits.max_depth} levels")
        children: Iterable[tuple[str | int, Any]]
        if type(node) is dict:
            children = node.items()
        elif type(node) is list:
            if len(node) > limits.max_array:
                return _Violation(True, path, f"array longer than {limits.max_array} items")
            children = enumerate(node)
        else:
            continue
        for key, child in children:
            child_path = path + _segment(key) if track else path
            if type(key) is str:
                found = _scalar_violation(key, limits)
                if found is not None:
                    return _Violation(found[0], child_path, "object key: " + found[1])
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1, child_path))
            else:
                found = _scalar_violation(child, limits)
                if found is not None:
                    return _Violation(found[0], child_path, found[1])
    return None


def _enforce(value: Any, limits: Limits) -> None:
    if _first_violation(value, limits, track=False) is None:
        return
    violation = _first_violation(value, limits, track=True)
    assert violation is not None  # the walk is deterministic
    errors = [Problem(violation.path, violation.message).to_json()]
    if violation.too_large:
        raise PayloadTooLarge(f"body over a limit: {violation.message}", errors=errors)
    raise InputError(f"body not accepted: {violation.message}", errors=errors)
