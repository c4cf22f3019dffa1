"""Times as people type them: a clock time, a span from now, "now"."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console import model


@pytest.fixture
def chicago(monkeypatch):
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def at(text: str) -> float:
    """A moment given in this computer's zone."""
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    "now, typed, stored",
    [
        # A clock time is the nearest one, within 12 hours either way.
        ("2026-11-26 23:50:20", "00:30", "2026-11-27T06:30:00Z"),  # in 40 minutes, tomorrow
        ("2026-11-26 14:00:00", "13:30", "2026-11-26T19:30:00Z"),  # half an hour ago
        ("2026-11-26 14:00:00", "1830", "2026-11-27T00:30:00Z"),  # as a dispatcher writes it
        ("2026-11-26 14:00:00", " 7:05 ", "2026-11-26T13:05:00Z"),
        ("2026-11-26 14:00:00", "01:59", "2026-11-27T07:59:00Z"),  # 11h59m ahead, not 12h01m ago
        ("2026-11-26 14:00:00", "02:01", "2026-11-26T08:01:00Z"),  # 11h59m ago
        # A span is counted from now, to the nearest minute.
        ("2026-11-26 14:00:20", "+45m", "2026-11-26T20:45:00Z"),
        ("2026-11-26 14:00:40", "+45m", "2026-11-26T20:46:00Z"),
        ("2026-11-26 14:00:00", "+2h", "2026-11-26T22:00:00Z"),
        ("2026-11-26 14:00:00", "in 1h30m", "2026-11-26T21:30:00Z"),
        ("2026-11-26 14:00:00", "+1 hour 5 min", "2026-11-26T21:05:00Z"),
        ("2026-11-26 14:00:00", "90m", "2026-11-26T21:30:00Z"),
        ("2026-11-26 14:00:00", "-20m", "2026-11-26T19:40:00Z"),
        ("2026-11-26 14:00:07", "NOW", "2026-11-26T20:00:07Z"),
        # A date and time as before: in this computer's zone, or as zoned.
        ("2026-11-26 14:00:00", "2026-11-27 08:00", "2026-11-27T14:00:00Z"),
        ("2026-11-26 14:00:00", "2026-11-27T08:00:00Z", "2026-11-27T08:00:00Z"),
        # Summer time begins at 02:00 on 8 March 2026: the next morning's 08:00 is 11 hours ahead.
        ("2026-03-07 20:00:00", "08:00", "2026-03-08T13:00:00Z"),
    ],
)
def test_typed_times(chicago, now, typed, stored):
    assert model.parse_typed_time(typed, at(now)) == stored
    # The command line, a dialog and a CSV file read times through `parse`.
    assert model.parse(model.TASKS, model.TASKS.field("due"), typed, now=at(now)) == stored


@pytest.mark.parametrize(
    "typed, message",
    [
        ("24:00", "'24:00' is not a time of day"),
        ("1860", "'1860' is not a time of day"),
        ("99999h", "'99999h' is more than a year from now"),
        ("tomorrow", "'tomorrow' is not a time \\(e.g. 18:30, 1830, \\+45m"),
        ("45", "'45' is not a time"),
        ("+", "'\\+' is not a time"),
        ("in", "'in' is not a time"),
        ("2026-13-01 10:00", "'2026-13-01 10:00' is not a time"),
    ],
)
def test_typed_times_refused(chicago, typed, message):
    with pytest.raises(model.ValidationError, match=message):
        model.parse_typed_time(typed, at("2026-11-26 14:00:00"))
    with pytest.raises(model.ValidationError, match="^tasks.due: " + message):
        model.parse(model.TASKS, model.TASKS.field("due"), typed)


def test_values_from_peers_are_not_read_as_typed():
    # A change from a peer holds a stored time, never "18:30": the merge's check refuses it.
    with pytest.raises(model.ValidationError, match="is not a time"):
        model.check(model.TASKS, model.TASKS.field("due"), "18:30")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(now=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
       hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_a_clock_time_is_the_nearest_one(chicago, now, hour, minute):
    then = model.parse_typed_time(f"{hour:02d}:{minute:02d}", now.timestamp())
    local = datetime.fromisoformat(then.replace("Z", "+00:00")).astimezone()
    # Within 12 hours either way (13 across a change of summer time) ...
    assert abs(local.timestamp() - now.timestamp()) <= 13 * 3600
    # ... and it reads as typed on the clock, unless summer time skipped that hour that day.
    if (local.hour, local.minute) != (hour, minute):
        skipped = datetime(local.year, local.month, local.day, hour, minute)
        assert skipped.astimezone().replace(tzinfo=None) != skipped
    # No nearer one: the same clock time a day earlier or later is farther.
    for days in (-1, 1):
        other = (local.replace(tzinfo=None) + timedelta(days=days)).astimezone()
        assert abs(other.timestamp() - now.timestamp()) >= abs(local.timestamp() - now.timestamp())


def test_names_one_but_for_case_and_spacing_are_shown_the_most_used_way():
    assert model.spellings({"Metro Fire": 2, "metro  FIRE": 1, "EMS": 4}) == {
        "Metro Fire": "Metro Fire", "metro  FIRE": "Metro Fire", "EMS": "EMS"}
    # As often: the first in code-point order, the same on every console.
    assert model.spellings({"metro fire": 1, "Metro Fire": 1})["metro fire"] == "Metro Fire"
    assert model.spellings({}) == {}
