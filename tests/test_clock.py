import pytest
from conftest import FakeWall

from console import clock


def test_now_is_strictly_increasing_through_a_backwards_jump():
    wall = FakeWall()
    c = clock.HybridClock(wall=wall)
    a = c.now()
    wall.ms -= 3_600_000
    b, d = c.now(), c.now()
    assert a < b < d
    assert clock.physical_ms(d) == clock.physical_ms(a)


def test_counter_overflow_borrows_the_next_millisecond():
    wall = FakeWall()
    c = clock.HybridClock(wall=wall)
    stamps = [c.now() for _ in range(70_000)]
    assert stamps == sorted(set(stamps))


def test_observe_orders_later_local_events_after_remote_ones():
    wall = FakeWall()
    c = clock.HybridClock(wall=wall)
    remote = clock.pack(wall.ms + 1000, 5)
    c.check(remote)
    c.observe(remote)
    assert c.now() > remote


def test_too_far_ahead_is_refused_with_how_far():
    wall = FakeWall()
    c = clock.HybridClock(wall=wall, max_skew_ms=5 * 60_000)
    c.check(clock.pack(wall.ms + 4 * 60_000))
    with pytest.raises(clock.ClockSkewError, match=r"2d3h ahead.*\(limit 5m\)"):
        c.check(clock.pack(wall.ms + 51 * 3_600_000))


def test_describe():
    assert [clock.describe_ms(x) for x in (5_000, 600_000, 7_500_000, 90_000_000)] == ["5s", "10m", "2h5m", "25h"]
