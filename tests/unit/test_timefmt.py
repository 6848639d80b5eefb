"""The one time form: stored and queried texts sort like the instants they name, years 1-9999."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.errors import InputError
from governance.lineage.validation import parse_time
from governance.timefmt import FAR_FUTURE, format_time, now, time_key

# Every instant the form can hold: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


def in_zone(moment: datetime, zone: timezone) -> datetime | None:
    """``moment`` (naive, read as UTC) expressed in ``zone``, if that stays in years 1-9999."""
    try:
        return moment.replace(tzinfo=UTC).astimezone(zone)
    except OverflowError:
        return None


@settings(max_examples=500)
@given(a=instants, b=instants, zone_a=offsets, zone_b=offsets)
def test_text_order_is_time_order(
    a: datetime, b: datetime, zone_a: timezone, zone_b: timezone
) -> None:
    local_a, local_b = in_zone(a, zone_a), in_zone(b, zone_b)
    if local_a is None or local_b is None:
        return
    # what a query is given (any zone) and what the projection stored (an event's time, parsed
    # leniently from its RFC 3339 text) are the same text for the same instant
    stored_a = format_time(parse_time(local_a.isoformat())[0])
    queried_a = time_key(local_a)
    assert stored_a == queried_a
    queried_b = time_key(local_b)
    assert (queried_a < queried_b) == (local_a < local_b)
    assert (queried_a == queried_b) == (local_a == local_b)
    assert len(queried_a) == len(queried_b) == len(FAR_FUTURE)
    assert queried_a <= FAR_FUTURE


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), FAR_FUTURE),
        (
            datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
            "2026-01-01T00:00:00.000000Z",
        ),
    ],
)
def test_fixed_width_with_zero_padded_years(moment: datetime, text: str) -> None:
    assert format_time(moment) == text
    assert "0999-12-31T23:59:59.999999Z" < "1000-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # year 0 in UTC
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),  # year 10000
    ],
)
def test_out_of_range_bounds_are_input_errors(moment: datetime) -> None:
    with pytest.raises(InputError, match="as_of is out of range"):
        time_key(moment, name="as_of")


def test_a_bound_needs_a_zone() -> None:
    with pytest.raises(InputError, match="since must carry a timezone"):
        time_key(datetime(2026, 1, 1), name="since")
    assert time_key(None) == FAR_FUTURE


def test_now_is_in_the_form() -> None:
    text = now()
    assert len(text) == len(FAR_FUTURE)
    assert text.endswith("Z")
    assert parse_time(text)[1] == []
