"""Times as a console shows them: in the computer's own zone."""

import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.times import local_time, span_text

# POSIX zone strings: no time zone database needed on the machine.
NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"
KOLKATA = "IST-5:30"


@pytest.fixture
def zone(monkeypatch):
    def set_zone(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("tz, stored, shown", [
    ("UTC0", "2026-11-27T20:00:05Z", "2026-11-27 20:00:05"),
    (KOLKATA, "2026-11-27T20:00:05Z", "2026-11-28 01:30:05"),  # the next day there
    (NEW_YORK, "2026-03-08T06:59:59Z", "2026-03-08 01:59:59"),  # the last second of winter time
    (NEW_YORK, "2026-03-08T07:00:00Z", "2026-03-08 03:00:00"),  # summer time: 02:00 never shows
    (NEW_YORK, "2026-11-01T05:30:00Z", "2026-11-01 01:30:00"),  # 01:30 twice: summer time,
    (NEW_YORK, "2026-11-01T06:30:00Z", "2026-11-01 01:30:00"),  # then winter time
])
def test_a_stored_time_is_shown_in_this_computer_s_zone(zone, tz, stored, shown):
    zone(tz)
    assert local_time(stored) == shown
    assert local_time(stored, seconds=False) == shown[:-3]


def test_what_is_not_a_time_is_shown_as_it_is(zone):
    zone(NEW_YORK)
    assert local_time(None) == local_time("") == ""
    assert local_time("soon") == "soon"
    assert local_time("2026-13-01T00:00:00Z") == "2026-13-01T00:00:00Z"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(second=st.integers(min_value=0, max_value=4_102_444_799))  # 1970 to the end of 2099
def test_local_time_agrees_with_the_c_library(zone, second):
    """As the C library's own localtime and strftime put it (and as the
    datetime strftime it replaced did, slower)."""
    zone(NEW_YORK)
    stored = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert local_time(stored) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))


@pytest.mark.parametrize("seconds, shown", [
    (-5, "0s"), (0, "0s"), (59.9, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h00m"), (3 * 3600 + 5 * 60, "3h05m"),
    (86399, "23h59m"), (86400, "1d00h"), (2 * 86400 + 13 * 3600 + 59 * 60, "2d13h"), (40 * 86400, "40d00h"),
])
def test_a_span_reads_as_a_board_shows_it(seconds, shown):
    """From a day on, in days and hours: a unit out since the day before
    yesterday reads 2d13h, not 61h00m."""
    assert span_text(seconds) == shown
