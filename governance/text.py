"""Identifiers: the names, namespaces and ids the service stores, looks up and shows.

An identifier may hold any printable character but no control character (U+0000-U+001F and
U+007F-U+009F): PostgreSQL cannot store U+0000 at all, and the others make a name that prints
differently from how it compares (a line break in a dataset name, an escape sequence in a job
name). The rule is checked where text enters the service, before anything is stored: OpenLineage
identity fields, path and query parameters, attestation purposes, key names.
"""

from __future__ import annotations

import re

from governance.errors import InputError

__all__ = ["check_identifier", "identifier_problem"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def identifier_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable identifier, or ``None`` when it is."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X} at position {found.start()}"


def check_identifier(value: str, what: str) -> str:
    """``value``, or :class:`InputError` (400) naming ``what`` when it holds a control character."""
    problem = identifier_problem(value)
    if problem is not None:
        raise InputError(f"{what} {problem}", errors=[{"path": what, "message": problem}])
    return value
