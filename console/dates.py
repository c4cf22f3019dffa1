"""Dates as people and spreadsheets of a region write them, read as ISO
8601: the day first (28.11.2026 18:00, 28/11/2026) or the month first
(11/28/2026 6:00 PM), a year of four digits or two (the one nearest
today) or none (29.11. 15:00: the year that puts it nearest today), the
month by name (28 Nov 2026, Nov 28, 2026, 28. November 2026
18:00 Uhr, 28 de noviembre de 2026: in English, German, French or
Spanish, whole or short), perhaps after the day of the week, and a time
of day after it (18:00, 6:00 PM, 18h30). `readings` reads one each way;
a spreadsheet's file says which (csv_rows), a person's typing must
(model.parse_typed_time). No Qt, no store: model imports it."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

ORDERS = ("day-first", "month-first")  # what comes first in a date a region writes


class WrongDay(ValueError):
    """A date on another day of the week than the one written before it.
    The message is written to be shown as is."""


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # (not the computer's language's: the rest of the messages are English)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# A date as a spreadsheet of a region writes it, the year last (of four
# digits or two) or first (of four, with slashes), and perhaps a time of
# day after it.
_DATE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?P<time>.*)|(\d{4})/(\d{1,2})/(\d{1,2})(?P<time2>.*)",
                   re.ASCII | re.DOTALL)
# A date with its month by name: 28 Nov 2026, 28-Nov-26, 28. November
# 2026, 28 de noviembre de 2026, November 28, 2026.
_WORD = r"[^\W\d_]+"
_DAY_NAMED = re.compile(rf"(?P<d>\d{{1,2}})(?:\.|er|st|nd|rd|th)?(?:\s+de)?[\s./-]*(?P<m>{_WORD})\.?(?:\s+de)?"
                        rf"[\s./,-]*(?P<y>\d{{4}}|\d{{2}})(?P<time>.*)", re.DOTALL)
_MONTH_NAMED = re.compile(rf"(?P<m>{_WORD})\.?[\s-]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[\s-]+(?P<y>\d{{4}})(?P<time>.*)",
                          re.DOTALL)
# A date without its year: 29.11. (its last dot written), 29/11, 11/29;
# 29 Nov, 29. November, Nov 29; perhaps a time of day after it.
_YEARLESS = re.compile(r"(\d{1,2})(?:\.(\d{1,2})\.|/(\d{1,2}))(?P<time>.*)", re.ASCII | re.DOTALL)
_DAY_NAMED_YEARLESS = re.compile(rf"(?P<d>\d{{1,2}})(?:\.|er|st|nd|rd|th)?(?:\s+de)?[\s./-]*(?P<m>{_WORD})\.?"
                                 rf"(?P<time>.*)", re.DOTALL)
_MONTH_NAMED_YEARLESS = re.compile(rf"(?P<m>{_WORD})\.?[\s-]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?P<time>.*)",
                                   re.DOTALL)
# The day of the week before a date: "Saturday, ", "Sa. ", "sam. ".
_WEEKDAY = re.compile(rf"(?P<wd>{_WORD})\.?,?\s+")
# A time of day after a date: 18:00, 18:30:15, 6:00 PM, 18:00 Uhr, 18h30.
_CLOCK_TIME = re.compile(r"(?:[ T]+|,\s*)(\d{1,2})(?::(\d{2})(?::(\d{2}))?(?:\s*([AaPp][Mm]))?|[hH](\d{2})?)"
                         r"(?:\s*(?:Uhr|h))?", re.ASCII)


def _names(*names: str) -> dict[str, int]:
    """{a name as compared (see _key): its number, from 1}, of names
    given in their order, each a space-separated list of the ways a
    language writes it (in English, German, French and Spanish)."""
    return {_key(way): n for n, ways in enumerate(names, 1) for way in ways.split()}


def _key(word: str) -> str:
    """A word as month and weekday names are compared: letter case and
    accents aside ("Févr" as "fevr", "März" as "marz")."""
    word = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in word if not unicodedata.combining(c))


_MONTH_NAMES = _names(
    "january jan januar jänner jän janvier janv enero ene",
    "february feb februar février févr fév febrero",
    "march mar märz mär mrz mars marzo",
    "april apr avril avr abril abr",
    "may mai mayo",
    "june jun juni juin junio",
    "july jul juli juillet juil julio",
    "august aug août agosto ago",
    "september sep sept septembre septiembre setiembre set",
    "october oct oktober okt octobre octubre",
    "november nov novembre noviembre",
    "december dec dezember dez décembre déc diciembre dic",
)
_WEEKDAY_NAMES = _names(
    "monday mon montag mo lundi lun lunes",
    "tuesday tue tues dienstag di mardi mar martes",
    "wednesday wed mittwoch mi mercredi mer miércoles mié",
    "thursday thu thur thurs donnerstag do jeudi jeu jueves jue",
    "friday fri freitag fr vendredi ven viernes vie",
    "saturday sat samstag sonnabend sa samedi sam sábado sáb",
    "sunday sun sonntag so dimanche dim domingo dom",
)


def _full_year(written: str, today: date | None) -> int:
    """A year of four digits as written; of two, the one nearest today
    (26 is 2026; 99, in 2026, 1999)."""
    if len(written) == 4:
        return int(written)
    now = (today or date.today()).year
    year = now - now % 100 + int(written)
    return min((year - 100, year, year + 100), key=lambda y: abs(y - now))


def _clock(rest: str) -> str | None:
    """The time of day `rest` says after a date, as ISO 8601 writes it
    after one (" 18:00"); "" for none; None if it is not one."""
    if not rest:
        return ""
    clock = _CLOCK_TIME.fullmatch(rest)
    if clock is None:
        return None
    hour, minute, second, half = int(clock[1]), int(clock[2] or clock[5] or 0), clock[3], clock[4]
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59 or (second is not None and int(second) > 59):
        return None
    return f" {hour:02d}:{minute:02d}" + (f":{second}" if second is not None else "")


def readings(written: str, today: date | None = None) -> dict[str, str | None]:
    """`written` as ISO 8601 (a time without a zone: this computer's),
    with the day first and with the month first; None where it is not a
    date so written (a dotted date is only day first; one that reads alike
    both ways, its month by name or its year first, or none: as written,
    for model.parse to read or refuse). A day of the week before it is
    the date's: a reading on another day is not the date meant, and a
    date on none of the days it reads is refused (WrongDay). A year
    left out, or of two digits, is the one nearest `today` (by default,
    this computer's)."""
    found = _dated(written, today)
    if found is None and (wd := _WEEKDAY.match(written)) is not None \
            and (weekday := _WEEKDAY_NAMES.get(_key(wd["wd"]))) is not None:
        found = _dated(written[wd.end():], today)
        if found is not None and any(found.values()):
            fits = {way: reading if reading is None or date.fromisoformat(reading[:10]).isoweekday() == weekday
                    else None for way, reading in found.items()}
            if not any(fits.values()):
                days = sorted({date.fromisoformat(r[:10]) for r in found.values() if r is not None})
                raise WrongDay(f"{written!r} names a {WEEKDAYS[weekday - 1]}, but " + " and ".join(
                    f"{said(day)} is a {WEEKDAYS[day.weekday()]}" for day in days))
            found = fits
    return found or {"day-first": None, "month-first": None}


def _dated(written: str, today: date | None) -> dict[str, str | None] | None:
    """`written` read as a date each way (see readings), without a
    day of the week before it; None if it is not written as a date."""
    if (m := _DATE.fullmatch(written)) is not None:
        at = _clock(m["time"] if m["time"] is not None else m["time2"])
        if at is None:
            return None

        def iso(year: int, month: str, day: str) -> str | None:
            try:
                return date(year, int(month), int(day)).isoformat() + at
            except ValueError:
                return None

        if m[6] is not None:  # (2026/11/28)
            both = iso(int(m[6]), m[7], m[8])
            return {"day-first": both, "month-first": both}
        year = _full_year(m[4], today)
        return {"day-first": iso(year, m[3], m[1]), "month-first": None if m[2] == "." else iso(year, m[1], m[3])}
    for named in (_DAY_NAMED, _MONTH_NAMED):
        if (m := named.fullmatch(written)) is None or (month := _MONTH_NAMES.get(_key(m["m"]))) is None:
            continue
        at = _clock(m["time"])
        if at is None:
            continue  # (29 Nov 15:00: not the year 2015, and no time ":00")
        try:
            both = date(_full_year(m["y"], today), month, int(m["d"])).isoformat() + at
        except ValueError:
            both = None
        return {"day-first": both, "month-first": both}
    return _yearless(written, today or date.today())


def _yearless(written: str, today: date) -> dict[str, str | None] | None:
    """`written` as a date without its year, as a dispatcher writes one
    (29.11. 15:00, 29/11 15:00, 29 Nov 15:00, Nov 29 3:00 PM), in the year
    that puts it nearest today; None if it is not so written. A dotted one
    ends in a dot (29.11.), as German writes it: 10.11 may be a time of
    day."""
    if (m := _YEARLESS.fullmatch(written)) is not None:
        at = _clock(m["time"])
        if at is None:
            return None
        first, second = int(m[1]), int(m[2] or m[3])
        return {"day-first": _nearest(second, first, at, today),  # (dotted: the day first)
                "month-first": None if m[2] is not None else _nearest(first, second, at, today)}
    for named in (_DAY_NAMED_YEARLESS, _MONTH_NAMED_YEARLESS):
        if (m := named.fullmatch(written)) is None or (month := _MONTH_NAMES.get(_key(m["m"]))) is None:
            continue
        at = _clock(m["time"])
        if at is None:
            return None
        both = _nearest(month, int(m["d"]), at, today)
        return {"day-first": both, "month-first": both}
    return None


def _nearest(month: int, day: int, at: str, today: date) -> str | None:
    """That day of that month, in the year that puts it nearest `today`,
    as ISO 8601 with the time of day `at` after it; None if there is
    none within half a year (29.2., in a year not a leap year's)."""
    days = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            days.append(date(year, month, day))
        except ValueError:
            continue
    nearest = min(days, key=lambda d: abs((d - today).days), default=None)
    if nearest is None or abs((nearest - today).days) > 184:
        return None
    return nearest.isoformat() + at


def said(day: date) -> str:
    """A date as the messages write it: 28 November 2026."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
