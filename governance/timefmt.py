"""Time as the service writes it: one RFC 3339 text form, which is also its sort key.

Envelopes (``received_at``), the projections (event times, verdicts), the queries' bounds (``as
of``, ``since``) and verified facts all use :func:`format_time`: UTC, a four-digit year, six
fractional digits and ``Z``, e.g. ``0999-01-31T12:00:00.000000Z``. Every such text has the same
width and its fields run from most to least significant, so comparing two texts compares the
instants they name, on any database, for years 0001 to 9999. ``strftime("%Y")`` is not used: it
does not pad years below 1000 on every platform, and ``999-…`` sorts after ``1999-…``.

A caller's time becomes a query bound through :func:`time_key`, which refuses what cannot be
written in this form (no zone, or outside years 0001-9999 once in UTC) with :class:`InputError`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from governance.errors import InputError

__all__ = [
    "FAR_FUTURE",
    "format_optional",
    "format_time",
    "now",
    "policy_time",
    "time_key",
    "utc",
]


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; raises ``ValueError`` without a zone, ``OverflowError`` out of range."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError("a time without a timezone names no instant")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """The fixed-width RFC 3339 text of an aware ``moment`` (see the module docstring)."""
    t = utc(moment)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}Z"
    )


def format_optional(moment: datetime | None) -> str | None:
    """:func:`format_time` of ``moment``, or ``None`` for none (optional fields of facts)."""
    return None if moment is None else format_time(moment)


def policy_time(moment: datetime) -> str:
    """:func:`format_time` with the offset written ``+00:00`` instead of ``Z``.

    The form of every time in a policy input document: the embedded Rego engine's
    ``time.parse_rfc3339_ns`` rejects ``Z``; both engines accept ``+00:00``. Same width, so it
    still sorts as text.
    """
    return format_time(moment)[:-1] + "+00:00"


def now() -> str:
    """The current time in the service's form."""
    return format_time(datetime.now(UTC))


#: Later than every time the form can hold: the bound of "as of now and forever".
FAR_FUTURE = format_time(datetime.max.replace(tzinfo=UTC))


def time_key(moment: datetime | None, *, name: str = "time") -> str:
    """A caller's ``moment`` as a bound that compares with stored times; ``None`` is no bound.

    Raises :class:`InputError` (400) for a time without a zone or outside years 0001-9999 in
    UTC (``0001-01-01T00:00:00+01:00`` is a year-0 instant); ``name`` says which parameter.
    """
    if moment is None:
        return FAR_FUTURE
    try:
        return format_time(moment)
    except ValueError:
        raise InputError(
            f"{name} must carry a timezone (RFC 3339, e.g. 2026-01-31T12:00:00Z)"
        ) from None
    except OverflowError:
        raise InputError(
            f"{name} is out of range: it must fall within years 0001-9999 in UTC"
        ) from None
