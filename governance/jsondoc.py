"""JSON documents as the service accepts them: strict, bounded, and storable on every database.

Every JSON body the service reads (OpenLineage events, attestation submissions, classifications,
any other request document) goes through :func:`load`, which refuses with
:class:`~governance.errors.InputError` (HTTP 400) — or :class:`~governance.errors.PayloadTooLarge`
(413) for a size limit — anything that is not plainly one JSON value:

* bytes that are not UTF-8 (a leading byte order mark is allowed, RFC 8259 §8.1);
* ``NaN``/``Infinity`` and integers too long to convert (not JSON; the ledger hashes canonical
  JSON, RFC 8785, which has neither);
* an object with the same key twice: parsers disagree on which value wins, so a document whose
  stored bytes say two things is refused rather than read one way here and another way by an
  auditor (RFC 8259 §4 leaves it undefined);
* a string or key holding U+0000 (PostgreSQL text cannot store it) or a lone surrogate (it has no
  UTF-8 form, so the document could not be stored or hashed);
* shapes over :class:`Limits`: deep nesting, one enormous array or string.

Each refusal names where, by a JSONPath-like path (``$.inputs[0].name``), in ``errors``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from governance.errors import InputError, PayloadTooLarge

__all__ = [
    "Limits",
    "enforce",
    "json_path",
    "json_type",
    "load",
    "parse",
    "path_segment",
    "shorten",
]

#: Longest message kept in a refusal or warning (messages may quote the offending value).
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Limits:
    """Structural limits on a decoded document, enforced before any validation.

    The HTTP layer already caps bodies (32 MiB by default), so these only stop shapes that are
    cheap to send but expensive to process (deep nesting, one enormous array or string).
    """

    max_depth: int = 64
    max_array: int = 100_000
    # Generous on purpose: SQL text and Spark plans in facets are legitimately megabytes long.
    max_string: int = 16 * 1024 * 1024


_DEFAULT_LIMITS = Limits()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def path_segment(key: str | int) -> str:
    """One step of a JSONPath-like path: ``[3]``, ``.name`` or ``['odd key']``."""
    if isinstance(key, int):
        return f"[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f".{key}"
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


def json_path(parts: Iterable[str | int]) -> str:
    """The path ``$`` followed by ``parts``."""
    return "$" + "".join(path_segment(part) for part in parts)


def shorten(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` bounded to ``limit`` characters, keeping both ends."""
    if len(message) <= limit:
        return message
    # Keep both ends: jsonschema puts the offending value first and the rule last
    # ("{...} is not of type 'string'"), and the rule is the useful part.
    head = (limit - 5) * 2 // 3
    tail = limit - 5 - head
    return f"{message[:head]} ... {message[-tail:]}"


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for messages."""
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


def _refuse(detail: str, path: str = "$") -> InputError:
    return InputError(
        f"body is not valid UTF-8 JSON: {detail}", errors=[{"path": path, "message": detail}]
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {shorten(repr(key), 80)} appears twice in one object")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_reject_constant)


def parse(raw: bytes) -> Any:
    """Decode ``raw`` as one strict JSON value (see the module docstring); no limits checked."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"invalid UTF-8 at byte {exc.start}") from exc
    try:
        return _DECODER.decode(text)
    except RecursionError as exc:
        # The C decoder recurses per nesting level; ~1000 levels exhaust the interpreter's
        # recursion limit long before memory. Far beyond any Limits.max_depth anyway.
        detail = "JSON nesting is too deep"
        raise InputError(detail, errors=[{"path": "$", "message": detail}]) from exc
    except json.JSONDecodeError as exc:
        raise _refuse(
            f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from exc
    except _DuplicateKey as exc:
        detail = str(exc)
        raise InputError(
            f"body not accepted: {detail}", errors=[{"path": "$", "message": detail}]
        ) from exc
    except ValueError as exc:  # NaN/Infinity, or an integer over the 4300-digit conversion limit
        raise _refuse(shorten(str(exc))) from exc


def load(raw: bytes, limits: Limits = _DEFAULT_LIMITS) -> Any:
    """Decode ``raw`` strictly and hold it to ``limits`` (see the module docstring)."""
    value = parse(raw)
    enforce(value, limits)
    return value


def _bad_unicode(text: str) -> bool:
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
        if "\x00" in value:
            return False, "string contains U+0000 (NUL), which cannot be stored"
        if not value.isascii() and _bad_unicode(value):
            return False, "string contains a lone surrogate (not valid Unicode)"
    elif type(value) is float and not math.isfinite(value):
        return False, "number out of range (not finite)"
    return None


def _first_violation(value: Any, limits: Limits, track: bool) -> _Violation | None:
    """The first limit violation in a depth-first walk (iterative: no recursion limit).

    Paths are only built when ``track`` is set: the fast pass runs on every document, the
    tracking pass only on one already known to be bad, to say where.
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
            child_path = path + path_segment(key) if track else path
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


def enforce(value: Any, limits: Limits = _DEFAULT_LIMITS) -> None:
    """Raise (400, or 413 for a size limit) naming the first place ``value`` breaks ``limits``."""
    if _first_violation(value, limits, track=False) is None:
        return
    violation = _first_violation(value, limits, track=True)
    assert violation is not None  # the walk is deterministic
    errors = [{"path": violation.path, "message": violation.message}]
    if violation.too_large:
        raise PayloadTooLarge(f"body over a limit: {violation.message}", errors=errors)
    raise InputError(f"body not accepted: {violation.message}", errors=errors)
