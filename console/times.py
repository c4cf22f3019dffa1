"""Times as the people at a console read them: in the computer's own time
zone, named, and spans as a board shows them. No Qt: the window, the
command line and reports share these."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

# A task still to be done whose due time has passed shows it in red and
# bold; one due within this many seconds, in orange.
DUE_SOON = 30 * 60
OPEN_TASK = frozenset({"open", "assigned", "in_progress"})
DONE_TASK = frozenset({"completed", "cancelled"})
# Status timers: a unit still in a passing status this many minutes after it
# began is flagged for a check (a dispatch not taken up, a unit held up or
# lost on the way). Each console sets its own (the window's View menu).
STATUS_TIMERS = {"dispatched": 10, "en_route": 30, "returning": 30}


def local_time(iso: str | None, *, seconds: bool = True) -> str:
    """A stored time (UTC, as every console keeps them) in this computer's
    own time zone, as the people at it read a clock: 2026-11-26 14:05:09.
    Whatever shows such times names the zone once (`zone_name`)."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso
    # Not strftime: it imports the time module at every call, which under
    # PySide6's import hook took half of the time of exporting a journal.
    day = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} {dt.hour:02d}:{dt.minute:02d}"
    return f"{day}:{dt.second:02d}" if seconds else day


def clock_text(iso: str) -> str:
    """A recent moment, in this computer's zone and named: "14:05:09 CET"
    today, with the date before it on any other day."""
    shown = local_time(iso)
    today = datetime.now().astimezone().strftime("%Y-%m-%d")
    return f"{shown[11:] if shown.startswith(today) else shown} {zone_name()}"


def zone_name() -> str:
    """This computer's time zone as its clock names it now (CET, EST, UTC)."""
    return datetime.now().astimezone().strftime("%Z") or "local time"


def since_text(iso: str | None, now: float | None = None) -> str:
    """How long ago, as people read a board: 45s, 12m, 3h05m, 2d13h."""
    if not iso:
        return ""
    then = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return span_text((now or time.time()) - then)


def span_text(seconds: float) -> str:
    """A length of time as people read a board: 45s, 12m, 3h05m, and from a
    day on in days and hours, 2d13h (not 61h00m: minutes no longer count)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def due_in(task, now: float | None = None) -> float | None:
    """Seconds until a task still to be done is due (negative: overdue), or
    None for a task with no due time, or done with, or cancelled."""
    if not getattr(task, "due", None) or task.status not in OPEN_TASK:
        return None
    due = due_timestamp(task.due)
    return None if due is None else due - (now if now is not None else time.time())


def due_timestamp(iso: str) -> float | None:
    """A stored time as a POSIX timestamp; None if it does not read as one."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def past_timer(unit, timers: Mapping[str, int], now: float | None = None,
               checked: str | None = None) -> float | None:
    """Seconds a unit has been in its status past the minutes `timers`
    set for that status, or None (no timer for it, or not past it). The
    timer runs from the later of the status's time and `checked`, the
    last time the unit checked in (a note about it)."""
    minutes = timers.get(unit.status)
    if not minutes or not unit.status_since:
        return None
    since = due_timestamp(unit.status_since)
    if since is None:
        return None
    if checked and (at := due_timestamp(checked)) is not None:
        since = max(since, at)
    over = (now if now is not None else time.time()) - since - minutes * 60
    return over if over >= 0 else None
