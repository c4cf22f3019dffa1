"""Hybrid logical clock.

A timestamp is one 64-bit integer: milliseconds since the epoch in the high 48
bits and a logical counter in the low 16. Integers compare in the right order,
index well in SQLite and cost nothing to encode.

The clock never goes backwards, whatever the wall clock does, and it never
adopts a remote time that is further ahead of the wall clock than `max_skew_ms`:
one console with a clock a day fast would otherwise drag every console's clock
(and every later edit's last-writer-wins order) a day ahead.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000


class ClockSkewError(ValueError):
    """A remote timestamp is too far ahead of this console's wall clock."""


def pack(ms: int, counter: int = 0) -> int:
    return (ms << COUNTER_BITS) | counter


def physical_ms(hlc: int) -> int:
    return hlc >> COUNTER_BITS


def to_datetime(hlc: int) -> datetime:
    return datetime.fromtimestamp(physical_ms(hlc) / 1000, tz=UTC)


def to_iso(hlc: int) -> str:
    """The time of `hlc` to the second, as ISO 8601 text in UTC."""
    return _iso_second(physical_ms(hlc) // 1000)


@functools.lru_cache(maxsize=256)
def _iso_second(second: int) -> str:
    # A burst of changes falls within a few seconds: formatting once per
    # second keeps strftime off the bulk write path.
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def utc_text(ms: int) -> str:
    """A wall-clock time in milliseconds as people read it in UTC:
    "2026-11-26 11:05:39 UTC" (a backup's, as restores say it)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def describe_ms(ms: int) -> str:
    """A duration as people say it: 90s, 12m, 3h5m, 1d2h."""
    s = abs(ms) // 1000
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 120:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h else f"{d}d"


class HybridClock:
    """Issues monotonic timestamps and folds in the ones seen from peers."""

    def __init__(
        self,
        last: int = 0,
        *,
        wall: Callable[[], int] = wall_ms,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    ) -> None:
        self.last = last
        self.wall = wall
        self.max_skew_ms = max_skew_ms

    def now(self) -> int:
        """A timestamp greater than every one issued or observed before."""
        ms = self.wall()
        last = self.last
        if ms > last >> COUNTER_BITS:
            last = ms << COUNTER_BITS
        elif last & COUNTER_MAX < COUNTER_MAX:
            last += 1  # the same millisecond: the next count
        else:
            # 65536 events in one millisecond: borrow the next millisecond.
            last = ((last >> COUNTER_BITS) + 1) << COUNTER_BITS
        self.last = last
        return last

    def check(self, remote: int) -> None:
        """Raise ClockSkewError if `remote` is too far in the future to adopt."""
        ahead = physical_ms(remote) - self.wall()
        if ahead > self.max_skew_ms:
            raise ClockSkewError(
                f"timestamp {to_iso(remote)} is {describe_ms(ahead)} ahead of the receiving "
                f"console's clock (limit {describe_ms(self.max_skew_ms)}): one of the two clocks is wrong"
            )

    def observe(self, remote: int) -> None:
        """Fold in a remote timestamp (already checked) so the next local
        timestamp orders after it."""
        if remote > self.last:
            self.last = remote
