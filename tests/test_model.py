"""Times as people type them: a clock time, a span from now, "now", a date
as their region writes it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_csv_rows import MONTHS

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
        # A date as a region writes it, when it reads one way only: dotted, a day past 12, a month by name.
        ("2026-11-26 14:00:00", "28.11.2026 18:00", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "28.11.26 18:00", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "11/28/2026 6:00 PM", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "28/11/2026 18:00", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "28 Nov 2026 18:00", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "Sa., 28. November 2026, 18:00 Uhr", "2026-11-29T00:00:00Z"),
        ("2026-11-26 14:00:00", "Fri 03/04/2026 8h", "2026-04-03T13:00:00Z"),  # (3 April is a Friday)
        ("2026-11-26 14:00:00", "12/12/2026", "2026-12-12T06:00:00Z"),  # (either way the same)
        # Without its year, as a dispatcher writes it: the year that puts it nearest today.
        ("2026-11-26 14:00:00", "29.11. 15:00", "2026-11-29T21:00:00Z"),
        ("2026-11-26 14:00:00", "2.1. 08:00", "2027-01-02T14:00:00Z"),
        ("2026-11-26 14:00:00", "15.5.", "2027-05-15T05:00:00Z"),  # (170 days on, not 195 ago)
        ("2026-11-26 14:00:00", "29/11 15:00", "2026-11-29T21:00:00Z"),
        ("2026-11-26 14:00:00", "Nov 29 3:00 PM", "2026-11-29T21:00:00Z"),
        ("2026-11-26 14:00:00", "29 Nov 15:00", "2026-11-29T21:00:00Z"),
        ("2026-11-26 14:00:00", "So 29.11. 15:00", "2026-11-29T21:00:00Z"),
        ("2026-01-05 14:00:00", "29.12. 15:00", "2025-12-29T21:00:00Z"),  # (last year's: a week ago)
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
        ("31.02.2026", "'31.02.2026' is not a time \\(e.g. 18:30"),
        ("03/04/2026 18:00", "^'03/04/2026 18:00' may be 3 April 2026 or 4 March 2026: write the month by its name "
                             "\\(3 Apr 2026 18:00\\) or the year first \\(2026-04-03 18:00\\)$"),
        ("Fri 28 Nov 2026", "^'Fri 28 Nov 2026' names a Friday, but 28 November 2026 is a Saturday$"),
        ("10.11", "^'10.11' is not a time \\(e.g. 18:30"),  # (a dotted date without its year ends in a dot)
        ("03/04 8:00", "^'03/04 8:00' may be 3 April (\\d{4}) or 4 March \\d{4}: write the month by its name \\(3 Apr "
                       "\\1 08:00\\) or the year first \\(\\1-04-03 08:00\\)$"),  # (the year nearest today)
    ],
)
def test_typed_times_refused(chicago, typed, message):
    with pytest.raises(model.ValidationError, match=message):
        model.parse_typed_time(typed, at("2026-11-26 14:00:00"))
    with pytest.raises(model.ValidationError, match="^tasks.due: " + message.removeprefix("^")):
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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(at=datetime(2000, 4, 2, 2, 0), form="28.11.2026", language="English", clock=True)  # (a skipped hour)
@given(at=st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2070, 12, 31)).map(
           lambda d: d.replace(second=0, microsecond=0)),
       form=st.sampled_from(["28.11.2026", "28/11/2026", "11/28/2026", "28.11.26", "28 Nov 2026", "Nov 28, 2026"]),
       language=st.sampled_from(["English", "German", "French", "Spanish"]), clock=st.booleans())
def test_a_date_typed_as_a_region_writes_it_is_read_as_meant_or_refused(chicago, at, form, language, clock):
    """A date and time typed as one region or another writes it: read as
    the moment meant, or, where it reads two ways, refused saying both;
    never read as another moment."""
    month = MONTHS[language][1].split()[at.month - 1]
    yy = f"{at.year % 100:02d}"
    typed = {"28.11.2026": f"{at.day}.{at.month}.{at.year}", "28/11/2026": f"{at.day:02d}/{at.month:02d}/{at.year}",
             "11/28/2026": f"{at.month}/{at.day}/{at.year}", "28.11.26": f"{at.day:02d}.{at.month:02d}.{yy}",
             "28 Nov 2026": f"{at.day} {month} {at.year}", "Nov 28, 2026": f"{month} {at.day}, {at.year}"}[form]
    if clock:
        typed += f" {at.hour}:{at.minute:02d}"
    meant = at if clock else at.replace(hour=0, minute=0)
    if meant.astimezone().replace(tzinfo=None) != meant:
        return  # (an hour summer time skips, on the day it begins: no such time here)
    two_ways = form in ("28/11/2026", "11/28/2026") and at.day <= 12 and at.day != at.month
    if form == "28.11.26" and abs(at.year - datetime.now().year) > 49:
        return  # (a year of two digits is the one nearest today)
    try:
        read = model.parse_typed_time(typed)
    except model.ValidationError as exc:
        assert two_ways and " may be " in str(exc), (typed, str(exc))
        return
    assert not two_ways, typed
    assert datetime.fromisoformat(read.replace("Z", "+00:00")).astimezone().replace(tzinfo=None) == meant, typed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(now=datetime(2029, 1, 1, 12), month=2, day=29, hour=8, minute=0, named=False)  # (2028's: 10 months ago)
@given(now=st.datetimes(min_value=datetime(2001, 1, 2), max_value=datetime(2098, 12, 30)),
       month=st.integers(1, 12), day=st.integers(1, 31), hour=st.integers(0, 23), minute=st.integers(0, 59),
       named=st.booleans())
def test_a_date_typed_without_its_year_is_the_nearest_one(chicago, now, month, day, hour, minute, named):
    """29.11. 15:00, or 29 Nov 15:00, typed without its year: that day and
    time, in the year that puts it nearest today (within half a year);
    refused if there is no such day within half a year (29.2.)."""
    typed = (f"{day} {MONTHS['English'][1].split()[month - 1]}" if named else f"{day}.{month}.") + \
        f" {hour}:{minute:02d}"
    try:
        read = model.parse_typed_time(typed, now.timestamp())
    except model.ValidationError:
        years = (now.year - 1, now.year, now.year + 1)
        near = [datetime(y, month, day).date() for y in years if _is_day(y, month, day)]
        assert all(abs((d - now.date()).days) > 184 for d in near), typed  # (none within half a year: 29.2.)
        return
    local = datetime.fromisoformat(read.replace("Z", "+00:00")).astimezone()
    assert (local.month, local.day) == (month, day), typed
    if (local.hour, local.minute) != (hour, minute):  # (only in an hour summer time skips)
        skipped = datetime(local.year, month, day, hour, minute)
        assert skipped.astimezone().replace(tzinfo=None) != skipped
    assert abs((local.date() - now.date()).days) <= 184, (typed, now)


def _is_day(year, month, day):
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True
