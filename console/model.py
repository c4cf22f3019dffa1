"""Entities, vocabularies and validation of the operation's data.

Every table is described by a `Table` of `Field`s. The store, the merge rules,
the command line and (later) the sync protocol all read these descriptions, so
a field is declared once and validated the same way everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from console import dates


class ValidationError(ValueError):
    """A value a person or a peer supplied is not acceptable. The message is
    written to be shown as is."""


# Unit dispatch states, each mapped onto its ICS resource-status category.
UNIT_STATUSES: dict[str, str] = {
    "available": "Available",
    "dispatched": "Assigned",
    "en_route": "Assigned",
    "on_scene": "Assigned",
    "returning": "Assigned",
    "out_of_service": "Out of service",
}
TASK_STATUSES = ("open", "assigned", "in_progress", "completed", "cancelled")
PRIORITIES = ("urgent", "high", "normal", "low")

TEXT_LIMIT = 4000
# Stock is counted in units people handle: a trillion of anything is a typo,
# and bounded counters and deltas can never add up past a float's range.
MAX_COUNTER = 1e12
# Counters are summed in whole thousandths, so that every console reaches the
# same total to the bit whatever order and grouping its deltas arrived in
# (float addition is not associative: (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3)).
# A trillion in thousandths is 1e15, below 2**53: every sum is exact.
COUNTER_SCALE = 1000


def counter_units(value: float) -> int:
    """A counter value or delta in whole thousandths (rounded half to even)."""
    return round(value * COUNTER_SCALE)


def check_counter_places(tbl: Table, fld: Field, value: Any) -> Any:
    """Refuse a counter value typed with more than three decimal places
    (values from peers are rounded to the thousandth when merged instead)."""
    if value is not None and counter_units(value) / COUNTER_SCALE != value:
        raise ValidationError(
            f"{tbl.name}.{fld.name}: {value!r} has more than three decimal places (stock counts to the thousandth)"
        )
    return value


@dataclass(frozen=True)
class Field:
    """One column of an entity table and the rule its values obey."""

    name: str
    type: str  # text | int | real | time | enum | ref | counter | bool
    required: bool = False
    choices: tuple[str, ...] = ()
    ref: str | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    # Written by the store itself, never typed: not on the boards, the
    # forms or in CSV files (resources.merged_into, set by a merge).
    hidden: bool = False
    # Text of several lines (a task's description, a unit's notes, a note
    # in the journal); every other text field is one line (see given_text).
    lines: bool = False

    @property
    def counter(self) -> bool:
        return self.type == "counter"

    @property
    def never_empty(self) -> bool:
        """A choice with a default (a unit's status, a task's priority):
        a person may change it, not clear it."""
        return self.type == "enum" and self.default is not None

    @property
    def sql_type(self) -> str:
        return {"int": "INTEGER", "bool": "INTEGER", "real": "REAL", "counter": "REAL"}.get(
            self.type, "TEXT"
        )


@dataclass(frozen=True)
class Table:
    """An entity table: its fields, the field people recognise a row by, and
    whether rows may change after they are written."""

    name: str
    fields: tuple[Field, ...]
    label: str
    append_only: bool = False
    # Columns computed from the merged state, never written by a change:
    # units.status_since is the time of the winning status version.
    derived: tuple[str, ...] = ()
    names: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)  # of the fields, in order
    reals: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)  # fields that hold floats
    times: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)  # fields that hold times

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.fields))
        object.__setattr__(self, "reals", tuple(f.name for f in self.fields if f.type in ("real", "counter")))
        object.__setattr__(self, "times", tuple(f.name for f in self.fields if f.type == "time"))
        by_name = {f.name: f for f in self.fields}
        if not self.append_only:
            by_name["deleted"] = DELETED
        object.__setattr__(self, "_by_name", by_name)

    def field(self, name: str) -> Field:
        f = self._by_name.get(name) if isinstance(name, str) else None
        if f is not None:
            return f
        known = ", ".join(f.name for f in self.fields)
        raise ValidationError(f"{self.name} has no field {name!r} (fields: {known})")


DELETED = Field("deleted", "bool", default=False)

UNITS = Table(
    "units",
    (
        Field("callsign", "text", required=True),
        Field("agency", "text", required=True),
        Field("kind", "text", required=True),
        Field("status", "enum", choices=tuple(UNIT_STATUSES), default="available"),
        Field("task_id", "ref", ref="tasks"),
        Field("location", "text"),
        Field("lat", "real", minimum=-90, maximum=90),
        Field("lon", "real", minimum=-180, maximum=180),
        Field("personnel", "int", minimum=0, maximum=10000),
        Field("notes", "text", lines=True),
    ),
    label="callsign",
    derived=("status_since",),
)
TASKS = Table(
    "tasks",
    (
        Field("title", "text", required=True),
        Field("description", "text", lines=True),
        Field("priority", "enum", choices=PRIORITIES, default="normal"),
        Field("status", "enum", choices=TASK_STATUSES, default="open"),
        Field("location", "text"),
        Field("lead_agency", "text"),
        Field("due", "time"),
    ),
    label="title",
)
RESOURCES = Table(
    "resources",
    (
        Field("name", "text", required=True),
        Field("kind", "text", required=True),
        Field("agency", "text", required=True),
        Field("location", "text"),
        Field("quantity", "counter", default=0, minimum=0, maximum=MAX_COUNTER),
        Field("unit", "text", default="each"),
        # The quantity at or below which the stock is low (to reorder, to
        # send for): none, not watched. See stock_low.
        Field("low_at", "real", minimum=0, maximum=MAX_COUNTER),
        # The stock item this one was merged into (Store.merge_resources):
        # while this row is deleted, its stock counts in that one's.
        Field("merged_into", "ref", ref="resources", hidden=True),
    ),
    label="name",
)
LOW_AT = RESOURCES.field("low_at")
JOURNAL = Table(
    "journal",
    (
        Field("at", "time", required=True),
        Field("console", "text"),
        Field("agency", "text"),
        Field("operator", "text"),
        Field("action", "text", required=True),
        Field("tbl", "text"),
        Field("row_id", "text"),
        Field("text", "text", required=True, lines=True),
    ),
    label="text",
    append_only=True,
)

TABLES: dict[str, Table] = {t.name: t for t in (UNITS, TASKS, RESOURCES, JOURNAL)}


def table(name: str) -> Table:
    """The table called `name`, or a ValidationError naming the known ones."""
    try:
        return TABLES[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown table {name!r} (tables: {', '.join(TABLES)})"
        ) from None


def normalize_choice(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def format_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(raw: str) -> str:
    if raw.endswith("Z"):
        # Times in UTC (as every stored and synced time is) do not depend
        # on the local zone, so their check is remembered: a catch-up
        # carries thousands of journal times from the same few minutes.
        return _parse_utc(raw)
    return _parse_time(raw)


@functools.lru_cache(maxsize=4096)
def _parse_utc(raw: str) -> str:
    return _parse_time(raw)


def _parse_time(raw: str) -> str:
    try:
        dt = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError(
            f"{raw!r} is not a time (use ISO 8601, e.g. 2026-11-25T18:30:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # a bare time is the operator's local time
    return format_time(dt)


# What a person types for a time, besides a whole date and time: a clock
# time (18:30, or 1830 as a dispatcher writes it), a span from now (+45m,
# +2h, in 1h30m, -20m) or "now".
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})|(\d{2})(\d{2})")
_SPAN = re.compile(r"(?:in\s*)?([+-]?)\s*(?:(\d{1,9})\s*h(?:ours?|rs?)?)?\s*(?:(\d{1,9})\s*m(?:in(?:ute)?s?)?)?")
# The farthest a span reaches: a year, past which it is surely a typo.
SPAN_LIMIT_MINUTES = 366 * 24 * 60
TIME_EXAMPLES = "18:30, 1830, +45m, +2h, now, or 2026-11-25 18:30"


def parse_typed_time(raw: str, now: float | None = None) -> str:
    """A time typed by a person, stored form (UTC). Besides ISO 8601 (a
    date and time; without a zone, in this computer's), a clock time alone
    is the nearest such time, within 12 hours either way (at 23:50, "00:30"
    is in 40 minutes; at 14:00, "13:30" was half an hour ago), a span is
    counted from now to the minute, and "now" is now."""
    text = raw.strip().lower()
    at = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    if text == "now":
        return format_time(at.replace(microsecond=0))
    clock = _CLOCK.fullmatch(text)
    if clock:
        hour, minute = (int(g) for g in (clock.groups()[:2] if clock[1] else clock.groups()[2:]))
        if hour > 23 or minute > 59:
            raise ValidationError(f"{raw.strip()!r} is not a time of day (00:00 to 23:59)")
        day = at.date()
        # Built on the local date (not by adding 24 hours), so a day across
        # a change of summer time still reads the same clock time.
        candidates = [datetime(d.year, d.month, d.day, hour, minute).astimezone()
                      for d in (day - timedelta(days=1), day, day + timedelta(days=1))]
        return format_time(min(candidates, key=lambda c: (abs((c - at).total_seconds()), c < at)))
    span = _SPAN.fullmatch(text)
    if span and (span[2] or span[3]):
        minutes = int(span[2] or 0) * 60 + int(span[3] or 0)
        if minutes > SPAN_LIMIT_MINUTES:
            raise ValidationError(f"{raw.strip()!r} is more than a year from now")
        whole = at.replace(second=0, microsecond=0) + timedelta(minutes=1 if at.second >= 30 else 0)
        return format_time(whole + timedelta(minutes=-minutes if span[1] == "-" else minutes))
    try:
        return _parse_time(raw)
    except ValidationError:
        pass
    # A date as the person's region writes it (28.11.2026 18:00, 28 Nov
    # 2026 6:00 PM, 11/28/2026), if it reads one way only.
    try:
        found = dates.readings(raw.strip(), at.date())
    except dates.WrongDay as exc:
        raise ValidationError(str(exc)) from None
    day_first, month_first = found["day-first"], found["month-first"]
    if day_first and month_first and day_first != month_first:
        one, other = (date.fromisoformat(r[:10]) for r in (day_first, month_first))
        raise ValidationError(f"{raw.strip()!r} may be {dates.said(one)} or {dates.said(other)}: write the month "
                              f"by its name ({one.day} {dates.MONTHS[one.month - 1][:3]} {one.year}{day_first[10:]}) "
                              f"or the year first ({day_first})")
    if day_first or month_first:
        return _parse_time(day_first or month_first)
    raise ValidationError(f"{raw.strip()!r} is not a time (e.g. {TIME_EXAMPLES})")


def date_alone(raw: str, now: float | None = None) -> bool:
    """Whether `raw` is a date written without a time (read as midnight at
    its start): one that a time after it would complete, not a clock time,
    a span, "now", or a date and time already. A date that reads two
    ways (03/04/2026, day or month first) is one too."""
    try:
        parse_typed_time(f"{raw.strip()} 12:00", now)
    except ValidationError:
        try:
            return any(dates.readings(f"{raw.strip()} 12:00").values())
        except dates.WrongDay:
            return False
    return True


HEX_DIGITS = "0123456789abcdef"


def is_text(value: str) -> bool:
    """Whether `value` is text that UTF-8 (and so SQLite) can hold: no lone
    surrogates, which is what Python makes of bytes that are not UTF-8 in a
    command-line argument, or of a stray "\\ud800" escape in JSON."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


# The most characters of an operator's or an agency's name: every change
# carries both, and a peer refuses a change whose names are longer.
NAME_LIMIT = 200


# Line breaks (those str.splitlines knows) and tabs: in text of one line,
# a run of spaces holding any of them is one space; in text of several
# lines, each line break is "\n" and tabs stay.
_BREAK = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_ONE_LINE = re.compile(f"\\s*[\t{_BREAK}]\\s*")
_NEW_LINE = re.compile(f"\r\n|[{_BREAK}]")
# The control characters left: C0 but for tab and line breaks, DEL, and C1.
# No one sees them, nor types them on purpose: a NUL from a damaged file, a
# terminal's colour escape or a bell pasted with a callsign.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
# Characters that show as nothing and mean nothing in a callsign, a name
# or a note, which text copied from a web page, an e-mail or a chat brings
# along: a soft hyphen, a zero-width space, a word joiner, a byte-order
# mark. "E-\u200b12" looks like E-12 but would not be found as E-12, nor
# be the same callsign. (The joiners and direction marks that scripts
# need, U+200C, U+200D, U+200E and the like, are kept.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
# And, written out on a terminal with them, the marks that turn the
# direction of the text after them until they are closed (an embedding,
# an override, an isolate): "E\u202e-12" in a callsign turned the rest of
# its row of a table round, the agency and status after it reading
# backwards. (Marks of one place, U+200E and U+200F, are kept.)
_ON_TERMINAL = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")


def given_text(what: str, value: str, *, lines: bool = False) -> str:
    """Text a person gives on this console (typed, pasted, read from a
    spreadsheet), as stored: line breaks and tabs in text of one line made
    a space (a spreadsheet's cell of two lines, "Engine" over "Type 1", is
    "Engine Type 1"); in text of several lines, line breaks written one way;
    characters that show as nothing and mean nothing (a zero-width space
    pasted from a web page) taken out.
    A control character, which no one would see on the boards, is refused,
    naming it. (Values arriving from other consoles are taken as they are:
    see `check`.)"""
    if value.isprintable():  # (no line break, tab or control character: nearly every value)
        return value
    value = _INVISIBLE.sub("", value)
    value = _NEW_LINE.sub("\n", value) if lines else _ONE_LINE.sub(" ", value)
    bad = _CONTROL.search(value)
    if bad:
        raise ValidationError(f"{what} holds the control character U+{ord(bad.group()):04X}, which does not show: "
                              "type the value again without it")
    return value


def one_line(text: str) -> str:
    """Text as one line of a table on a terminal: line breaks and tabs a
    space, control characters and the marks that turn the direction of
    the text after them written out (\\x1b, \\u202e), so that a value from
    another console (which may be of an older release, or have read it
    from a file) neither breaks the table nor drives the terminal."""
    if text.isprintable():
        return text
    return _written_out(_ONE_LINE.sub(" ", text))


def on_terminal(text: str) -> str:
    """Text as the command line writes it to a terminal: a control
    character, or a carriage return (which would let a value write over
    what comes before it on its line), written out (\\x1b); line breaks
    and tabs kept."""
    if text.isprintable():
        return text
    return _written_out(text.replace("\r", "\\x0d"))


class LogFormatter(logging.Formatter):
    """The console's log lines. A message can hold what another console
    said (its agency, its reason for refusing a change), which the wire
    takes as given: a control character in it is written out (\\x1b), so
    that it does not drive the terminal or the program the log is read
    in, and the message's further lines are indented, so that none reads
    as a line of the log of its own. (Tracebacks keep their lines.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = record.message
        if not text.isprintable():
            lines = on_terminal(text).splitlines()
            record.message = "\n    ".join(lines) if len(lines) > 1 else "".join(lines)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return on_terminal(super().formatException(ei))


def _written_out(text: str) -> str:
    return _ON_TERMINAL.sub(lambda m: f"\\x{c:02x}" if (c := ord(m.group())) < 0x100 else f"\\u{c:04x}", text)


def check_name(what: str, value: str) -> str:
    """An operator's or an agency's name, stripped; refused if empty, too
    long for peers to take (NAME_LIMIT), not text, or holding a control
    character (given_text: line breaks and tabs are spaces)."""
    if not isinstance(value, str) or not is_text(value):
        raise not_text(f"the {what} name", value if isinstance(value, str) else repr(value))
    name = given_text(f"the {what} name", value).strip()
    if not name:
        raise ValidationError(f"the {what} name is empty")
    if len(name) > NAME_LIMIT:
        raise ValidationError(f"the {what} name is {len(name)} characters long; other consoles take at most "
                              f"{NAME_LIMIT}")
    return name


def not_text(what: str, value: str) -> ValidationError:
    """The error for a `value` that is not is_text."""
    bad = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), "\ufffd")
    return ValidationError(
        f"{what} is not valid text: it holds U+{ord(bad):04X}, which is not a character (bytes that are not UTF-8?)"
    )


def check(tbl: Table, fld: Field, value: Any) -> Any:
    """Return `value` in its stored form, or raise ValidationError.

    Accepts only the JSON-level types a field can hold, so it serves for values
    typed by a person (after `parse`) and for values arriving from peers.
    """
    if value is None:
        if fld.required:
            raise ValidationError(f"{tbl.name}.{fld.name} is required")
        return None
    kind = fld.type
    # Fast paths for values already in stored form (everything arriving from
    # peers, which checked them before sending); the rest is checked below.
    if type(value) is str and value:
        if kind == "text":
            if (len(value) <= TEXT_LIMIT and not value[0].isspace() and not value[-1].isspace()
                    and (value.isascii() or is_text(value))):
                return value
        elif kind == "enum":
            if value in fld.choices:
                return value
        elif kind == "ref" and len(value) == 32 and not value.strip(HEX_DIGITS):
            return value
    if kind in ("text", "ref", "time", "enum"):
        if not isinstance(value, str):
            raise ValidationError(f"{tbl.name}.{fld.name} must be text, not {type(value).__name__}")
        if fld.type == "text":
            if not is_text(value):
                raise not_text(f"{tbl.name}.{fld.name}", value)
            value = value.strip()
            if fld.required and not value:
                raise ValidationError(f"{tbl.name}.{fld.name} must not be empty")
            if len(value) > TEXT_LIMIT:
                raise ValidationError(f"{tbl.name}.{fld.name} is longer than {TEXT_LIMIT} characters")
        elif fld.type == "enum":
            if value in fld.choices:
                return value
            value = normalize_choice(value)
            if value not in fld.choices:
                shown = ", ".join(c.replace("_", " ") for c in fld.choices)
                raise ValidationError(f"{tbl.name}.{fld.name}: {value!r} is not one of {shown}")
        elif fld.type == "time":
            value = parse_time(value)
        elif fld.type == "ref" and not re.fullmatch(r"[0-9a-f]{32}", value):
            raise ValidationError(f"{tbl.name}.{fld.name}: {value!r} is not a row id")
        return value
    if fld.type == "bool":
        if not isinstance(value, bool):
            raise ValidationError(f"{tbl.name}.{fld.name} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{tbl.name}.{fld.name} must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):  # (ints are finite, and may be past a float's range)
        raise ValidationError(f"{tbl.name}.{fld.name} must be a finite number")
    if fld.type == "int":
        if value != int(value):
            raise ValidationError(f"{tbl.name}.{fld.name} must be a whole number")
        value = int(value)
    if fld.minimum is not None and value < fld.minimum:
        raise ValidationError(f"{tbl.name}.{fld.name} must be at least {fld.minimum:g}, not {_shown(value)}")
    if fld.maximum is not None and value > fld.maximum:
        raise ValidationError(f"{tbl.name}.{fld.name} must be at most {fld.maximum:g}, not {_shown(value)}")
    return value


def check_given(tbl: Table, fld: Field, value: Any) -> Any:
    """`check` for a value a person gives on this console: a field that
    always holds one of its choices (a unit's status) is not cleared, and
    text is `given_text`. (Changes from peers go through `check` alone:
    what they hold merged.)"""
    if value is None and fld.never_empty:
        shown = ", ".join(c.replace("_", " ") for c in fld.choices)
        raise ValidationError(f"{tbl.name}.{fld.name} cannot be left empty: it is one of {shown}")
    if fld.type == "text" and isinstance(value, str) and is_text(value):
        value = given_text(f"{tbl.name}.{fld.name}", value, lines=fld.lines)
    return check(tbl, fld, value)


def plain_number(number: float) -> str:
    """A number written plainly, as a spreadsheet or `parse` reads it back:
    4 (not 4.0), 2.5, 1200 (not 1,200)."""
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


# A cell that begins with one of these is a formula to Excel and LibreOffice
# opening a CSV file: a value from another console or a spreadsheet
# ("=HYPERLINK(...)", which sends what it is given to a web address when
# clicked; a location "+43.65,-79.38", which shows as an error) would be
# worked out rather than shown.
FORMULA_START = frozenset("=+-@\t\r")
_MARKED_FIRST = "=+-@\t\r'"


def as_cell(text: str) -> str:
    """Text as a CSV file written for a spreadsheet holds it: one that a
    spreadsheet would take for a formula is marked as text with an
    apostrophe before it, as people type it there ('=1+1). `from_cell`
    takes the mark off, reading the file back."""
    if text[:1] not in _MARKED_FIRST:  # (nearly every value: at once)
        return text
    return "'" + text if text.lstrip("'")[:1] in FORMULA_START else text  # ('=1 too: from_cell gives it back)


def from_cell(text: str) -> str:
    """A CSV cell's text as written before `as_cell` marked it."""
    return text[1:] if text[:1] == "'" and text.lstrip("'")[:1] in FORMULA_START else text


def _shown(number: float) -> str:
    """A number for an error message (an int past a float's range too)."""
    if isinstance(number, float) or abs(number) < 10**300:
        return f"{number:g}"
    return f"{'-' if number < 0 else ''}a number of more than 300 digits"


def parse(tbl: Table, fld: Field, raw: str, *, now: float | None = None) -> Any:
    """Turn text typed by a person (command line, dialog) into a value for
    `check`. A time may be a clock time or a span from `now` (see
    `parse_typed_time`)."""
    raw = raw.strip()
    if raw == "" and not fld.required and fld.type not in ("text",):
        return None
    if fld.type == "time":
        try:
            return parse_typed_time(raw, now)
        except ValidationError as exc:
            raise ValidationError(f"{tbl.name}.{fld.name}: {exc}") from None
    if fld.type in ("int", "real", "counter"):
        try:
            number = float(raw)
        except ValueError:
            raise ValidationError(f"{tbl.name}.{fld.name}: {raw!r} is not a number") from None
        if not math.isfinite(number):  # "inf", "nan", "1e400"
            raise ValidationError(f"{tbl.name}.{fld.name} must be a finite number, not {raw!r}")
        return int(number) if fld.type == "int" and number == int(number) else number
    if fld.type == "bool":
        low = raw.lower()
        if low in ("1", "true", "yes"):
            return True
        if low in ("0", "false", "no"):
            return False
        raise ValidationError(f"{tbl.name}.{fld.name}: {raw!r} is not true or false")
    return raw


def category(status: str) -> str:
    """The ICS resource-status category of a unit status."""
    return UNIT_STATUSES.get(status, "Unknown")


def label(value: str | None) -> str:
    """A vocabulary key as people read it ("en_route" -> "en route")."""
    return "" if value is None else str(value).replace("_", " ")


# Fields that hold an agency's name. An agency typed in another letter case
# or spacing is written as it is spelled in use (see Store), so that one
# agency never shows as two on the boards and in the counts.
AGENCY_FIELDS = frozenset({"agency", "lead_agency"})


@functools.lru_cache(maxsize=4096)  # (a board's filter asks it of every row: the same few names)
def name_key(name: str) -> str:
    """A name with its letter case and spacing set aside: "county  FIRE "
    and "County Fire" are one."""
    return " ".join(name.split()).casefold()


def spellings(counts: Mapping[str, int]) -> dict[str, str]:
    """Names as the boards group them: each name (as written, with how many
    rows hold it) -> the spelling its group is shown by, the most used of
    the names one but for letter case and spacing (see name_key); of two
    used as often, the first in code-point order. Consoles apart may write
    a new agency two ways ("Metro Fire", "metro  fire")."""
    best: dict[str, str] = {}
    for name in sorted(counts, key=lambda n: (-counts[n], n)):
        best.setdefault(name_key(name), name)
    return {name: best[name_key(name)] for name in counts}


def field_label(name: str) -> str:
    """A field's name as people say it: task_id is the task, lead_agency
    the lead agency."""
    return label(name.removesuffix("_id"))


# Plain records the store hands out. Their fields follow the table
# descriptions above; `id` and `deleted` come first.


@dataclass(frozen=True)
class Unit:
    id: str
    callsign: str | None
    agency: str | None
    kind: str | None
    status: str | None
    task_id: str | None
    location: str | None
    lat: float | None
    lon: float | None
    personnel: int | None
    notes: str | None
    status_since: str | None


@dataclass(frozen=True)
class Task:
    id: str
    title: str | None
    description: str | None
    priority: str | None
    status: str | None
    location: str | None
    lead_agency: str | None
    due: str | None
    assigned_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    id: str
    name: str | None
    kind: str | None
    agency: str | None
    location: str | None
    quantity: float
    unit: str | None
    low_at: float | None = None


@dataclass(frozen=True)
class JournalEntry:
    id: str
    at: str
    console: str | None
    agency: str | None
    operator: str | None
    action: str
    tbl: str | None
    row_id: str | None
    text: str


def stock_low(rec: Resource) -> bool:
    """Whether a stock item is low: at or below the quantity set to watch
    it at (`low_at`), none left included. An item with none set is never
    low, only out of stock once none is left."""
    return rec.low_at is not None and (rec.quantity or 0) <= rec.low_at


def journal_holds(words: str, text: str | None, agency: str | None, operator: str | None) -> bool:
    """Whether a journal entry holds `words` (casefolded, as a search keeps
    them) in its text, its agency or its operator, letter case aside: the
    journal's search, in the window and as an SQL function of the store."""
    return words in f"{text or ''} {agency or ''} {operator or ''}".casefold()


RECORDS = {"units": Unit, "tasks": Task, "resources": Resource, "journal": JournalEntry}


def record_fields(name: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(RECORDS[name]))
