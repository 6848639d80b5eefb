"""Event times as producers send them: RFC 3339, read leniently into UTC with notes.

Each note names one leniency (no zone, no seconds, too many fractional digits, a leap second),
so that a caller can report it where the time came from.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from governance.jsondoc import shorten

__all__ = ["parse_time"]

_TIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_NOTE_NAIVE = "no timezone; read as UTC"
_NOTE_TRUNCATED = "fractional seconds beyond microseconds truncated"
_NOTE_NO_SECONDS = "no seconds; read as :00"
_NOTE_LEAP = "leap second read as :59"


def parse_time(text: str) -> tuple[datetime, list[str]]:
    """Parse an RFC 3339 timestamp leniently into a UTC-aware datetime and notes on leniency.

    Accepted beyond strict RFC 3339, each with a note: no zone (read as UTC, as the Python
    client's old serde fixtures and some Java producers send), more than six fractional digits
    (truncated: Python has microseconds), no seconds (Java's ``ZonedDateTime.toString``) and a
    leap second. Raises ``ValueError`` for anything else.
    """
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {shorten(repr(text), 80)}")
    notes: list[str] = []
    second_text, fraction = match["second"], match["fraction"] or ""
    if second_text is None:
        notes.append(_NOTE_NO_SECONDS)
    second = int(second_text or 0)
    if second == 60:
        notes.append(_NOTE_LEAP)
        second = 59
    if len(fraction) > 6 and fraction[6:].strip("0"):
        notes.append(_NOTE_TRUNCATED)
    microsecond = int(fraction[:6].ljust(6, "0")) if fraction else 0
    zone = match["zone"]
    if zone is None:
        notes.append(_NOTE_NAIVE)
        tz: timezone = UTC
    elif zone in ("Z", "z"):
        tz = UTC
    else:
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"UTC offset out of range: {zone}")
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            second,
            microsecond,
            tzinfo=tz,
        )
        return local.astimezone(UTC), notes
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
        raise ValueError(f"date-time out of range: {text}") from exc
