"""New rows from a spreadsheet: an agency's roster of units, a list of
tasks, a stock list, as a CSV file or an Excel workbook (.xlsx).

The first row that is not blank names the columns (or the first of the
next few that names every column a row needs, below a roster's title:
see _header): a table's fields by name ("callsign", "lead_agency"), as
people write them ("Lead agency", "Due (CET)"), or by another name
agencies give them (ALIASES: "Crew" is a unit's personnel). The
columns that `crisis-console export` (or a board's export in the
window) writes but a new row cannot take (its id, the status-since
time, the unit's task, which is another operation's when a roster is
carried over: assign units on the board) are left out and said so;
any other column that is not a field is refused, or left out when a
person says so (`leave_others`). An empty cell leaves the field to its
default. Every value is checked, and a wrong one is named
by its line (or its sheet's row), before anything is added; then all
rows are added in one transaction, or none.

A CSV file may be UTF-8 with or without a byte-order mark (as Excel saves
"CSV UTF-8"), or UTF-16 with one (Excel's "Unicode Text"), with commas,
semicolons or tabs between cells. Any other encoding is read only when
named (`encoding`): the legacy Windows-1252 of Excel's "CSV (Comma
delimited)" on Western Windows (LEGACY) is the common one; the window
offers it, with the names it read, for a person to see they are right.

Numbers in a CSV file are read as the region of the computer that saved
it has them written: with a decimal point (2.5, 1,200.5) or a decimal
comma (2,5, 1.200,5), thousands set apart by the other mark, a space or
an apostrophe (1'200, in Switzerland). A number that reads one way only
says the mark of the whole file: as written (2,5; 0.75), or as its field
takes it (1.200 people on a unit are 1200: they are whole). Numbers that
read two ways (1.200 litres: 1.2, or 1200) are read with it; a file
that says neither is refused (Ambiguous) until its mark is named
(`decimal`), one that says both is refused, naming a line of each. Dates
alike: the day first (28.11.2026, 28/11/2026) or the month first
(11/28/2026 6:00 PM), a dotted date, a day past 12 or the day of the
week before it (Fri, 03/04/2026) saying which for the file, else named
(`dates`). A year of two digits is the one nearest today; a month by
its name (28 Nov 2026, Nov 28, 2026, 28. November 2026, 28 de
noviembre de 2026: in English, German, French or Spanish) says the date
whatever the order.

Of a workbook, the sheet read is the one named (`sheet`), else the one
shown when it was saved (see `sheets`). Numbers, dates and times are
taken as Excel holds them, not as it shows them: a date is read in this
computer's time zone, as one typed without a zone is. A formula is its
value as last worked out; one Excel could not work out (#N/A), or one
the program that saved the file did not (see _Layout), is refused in a
column read. A cell merged over several rows is read in each of them.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import itertools
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from datetime import time as daytime
from pathlib import Path

from console import dates as written_dates
from console import model
from console.model import ValidationError

MAX_ROWS = 100_000  # a roster or stock list is hundreds; more is a wrong file
MAX_BYTES = 64 * 2**20
IMPORTED = ("units", "tasks", "resources")  # the tables a spreadsheet's rows are added to
# How many rows that are not blank may be above the one naming the columns
# (a roster's title, when and by whom it was made, headings over groups).
HEADER_WITHIN = 10
PROGRESS_EVERY = 1000  # lines (rows) read between reports of progress
# What a workbook's parts may unpack to: its XML is some ten times its
# zipped size; a file that unpacks to more is not a roster (or is a zip bomb).
MAX_UNPACKED = 512 * 2**20
# Columns `export` (and a board's export in the window) writes that a new
# row does not take.
LEFT_OUT = {"id", "deleted"}
LEFT_OUT_OF = {"units": {"task", "task_id", "in_status"}, "tasks": {"assigned_units", "units"}}
# What agencies call a field in their own spreadsheets, of each table, in
# English, German, French and Spanish (as a person writes them: compared
# as column_key has them, "Stärke" as "starke"). A column named so is read
# as the field, and said so, unless another column is named as the field
# itself.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "units": {
        "callsign": ("call sign", "unit", "unit id", "unit name", "radio call sign",
                     "rufname", "funkrufname", "kennung", "indicatif", "indicatif radio", "indicativo"),
        "agency": ("organisation", "organization", "org", "department", "dept",
                   "behörde", "dienststelle", "organisme", "organismo", "organización", "institución"),
        "kind": ("type", "unit type", "vehicle", "vehicle type", "apparatus",
                 "typ", "fahrzeugtyp", "fahrzeug", "art", "type de véhicule", "véhicule", "tipo", "vehículo"),
        "status": ("state", "unit status", "zustand", "statut", "état", "estado"),
        "location": ("station", "home station", "base", "position", "place",
                     "standort", "wache", "ort", "lieu", "caserne", "centre", "ubicación", "lugar"),
        "lat": ("latitude", "breite", "breitengrad", "latitud"),
        "lon": ("longitude", "lng", "long", "länge", "längengrad", "longitud"),
        "personnel": ("crew", "crew size", "staff", "staffing", "persons", "people", "headcount", "pax",
                      "besatzung", "stärke", "personal", "effectif", "équipage", "dotación", "tripulación"),
        "notes": ("note", "remarks", "remark", "comments", "comment",
                  "bemerkung", "bemerkungen", "hinweis", "remarques", "remarque", "observations", "observaciones",
                  "notas"),
    },
    "tasks": {
        "title": ("task", "task name", "name", "incident", "subject",
                  "aufgabe", "auftrag", "titel", "einsatz", "tâche", "titre", "mission", "tarea", "título", "misión"),
        "description": ("details", "desc", "beschreibung", "détails", "descripción", "detalles"),
        "priority": ("prio", "urgency", "priorität", "dringlichkeit", "priorité", "urgence", "prioridad",
                     "urgencia"),
        "status": ("state", "task status", "zustand", "statut", "état", "estado"),
        "location": ("address", "place", "site", "ort", "adresse", "einsatzort", "lieu", "ubicación", "lugar",
                     "dirección"),
        "lead_agency": ("lead", "agency", "lead org", "responsible agency", "responsible",
                        "federführung", "zuständig", "responsable", "pilote"),
        "due": ("due by", "due at", "deadline", "fällig", "frist", "échéance", "délai", "plazo", "vencimiento"),
    },
    "resources": {
        "name": ("item", "item name", "resource", "resource name", "article",
                 "bezeichnung", "artikel", "material", "désignation", "matériel", "artículo", "recurso"),
        "kind": ("type", "category", "resource type", "kategorie", "art", "typ", "catégorie", "categoría", "tipo"),
        "agency": ("owner", "owning agency", "organisation", "organization", "org", "department",
                   "eigentümer", "besitzer", "propriétaire", "organisme", "propietario", "organismo"),
        "location": ("depot", "warehouse", "site", "place", "stored at",
                     "lager", "lagerort", "standort", "dépôt", "entrepôt", "lieu", "almacén", "depósito",
                     "ubicación"),
        "quantity": ("qty", "count", "amount", "stock", "on hand", "menge", "anzahl", "bestand", "quantité",
                     "cantidad", "existencias"),
        "unit": ("uom", "unit of measure", "units", "measure", "einheit", "mengeneinheit", "unité", "unidad"),
        "low_at": ("low", "low mark", "minimum", "min", "min qty", "minimum stock", "min stock", "reorder point",
                   "reorder level", "reorder at", "par", "par level", "mindestbestand", "meldebestand",
                   "stock minimum", "seuil", "seuil d'alerte", "seuil de réapprovisionnement", "stock mínimo",
                   "mínimo", "existencias mínimas", "punto de pedido"),
    },
}
# The encoding a CSV file that is not UTF-8 most likely has: Excel's "CSV
# (Comma delimited)" on Western European and American Windows.
LEGACY = "cp1252"
ENCODING_NAMES = {"cp1252": "Windows-1252 (Western European)"}
SAVE_AS = 'save it as an Excel workbook (.xlsx) or as "CSV UTF-8"'
_ZIP = b"PK\x03\x04"
_SEP = re.compile(r"sep=([,;\t|])[ \t]*(?:\r\n|\n|\r)", re.IGNORECASE)
_OLE = bytes.fromhex("d0cf11e0a1b11ae1")  # Excel 97-2003 (.xls), and any workbook with a password
# The decimal marks a number may be written with, by the name a person gives.
DECIMAL_MARKS = {"point": ".", "comma": ","}
# The word of a row of totals, as column_key has it (letter case and
# accents aside), in English, German, French and Spanish.
TOTAL_WORDS = frozenset({
    "total", "totals", "grand total", "subtotal", "sub total", "sum",
    "summe", "gesamt", "insgesamt", "gesamtsumme", "zwischensumme",
    "somme", "sous total", "total general", "totaux",
    "suma", "suma total", "totales",
})
# What Excel shows in a cell whose formula it could not work out (and
# keeps so in a workbook, and writes so into a CSV file, in the language
# it shows them in: English, German, French, Spanish): a value of no
# field, refused rather than taken as a unit's kind or a task's title.
EXCEL_ERRORS = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!",
    "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
    "#NV", "#WERT!", "#BEZUG!", "#ZAHL!",
    "#VALEUR!", "#NOMBRE!", "#NUL!", "#NOM?",
    "#¡VALOR!", "#¡REF!", "#¡NUM!", "#¡NULO!", "#¡DIV/0!", "#¿NOMBRE?",
})
DATE_ORDERS = written_dates.ORDERS


def _number_form(decimal: str) -> re.Pattern:
    """A number written with the `decimal` mark, its thousands set apart
    (all alike) by the other mark, a space or an apostrophe."""
    group = "," if decimal == "." else "."
    grouped = rf"[1-9]\d{{0,2}}(?P<g>[{group} \u00a0\u202f'’])\d{{3}}(?:(?P=g)\d{{3}})*"
    return re.compile(rf"(?P<sign>[+-]?)(?P<whole>{grouped}|\d*)(?:{re.escape(decimal)}(?P<part>\d+))?", re.ASCII)


_NUMBER_FORMS = {mark: _number_form(mark) for mark in DECIMAL_MARKS.values()}


class NotText(ValidationError):
    """A CSV file that is not text in the encoding it is read in."""


class NotUtf8(NotText):
    """A CSV file in another encoding than UTF-8 (or UTF-16 with its
    byte-order mark): read it again naming its encoding (LEGACY, most
    likely)."""


class OtherColumns(ValidationError):
    """A file with columns that are no field (`columns`): read it again
    leaving them out, if a person says so."""

    def __init__(self, message: str, columns: list[str]) -> None:
        super().__init__(message)
        self.columns = columns


class Ambiguous(ValidationError):
    """A file whose numbers (or dates) read two ways, and nothing in it
    says which (1.200: 1.2 with a decimal point, 1200 with a decimal comma;
    03/04/2026: 3 April, or 4 March): read it again naming its decimal
    mark (or which comes first in its dates). `detail`: the first such
    value as written ("written"), where ("where"), its field ("field"),
    how many more of the file's values read two ways ("more"), the keyword
    of `read` (and option of the command line) that names the way
    ("option": "decimal", "dates"), and what it is each way ("readings",
    as model.parse reads them, and "shown", as people read them: {"point":
    "1.2", "comma": "1200"})."""

    def __init__(self, message: str, detail: dict) -> None:
        super().__init__(message)
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class CsvRows:
    table: str
    rows: list[dict]  # field -> value, as model.parse makes them
    lines: list[str]  # where each row is in the file ("line 7", "row 7"), for errors
    left_out: list[str]  # columns in the file that are not taken (of an export)
    encoding: str | None = None  # a CSV file's, when it was named (not UTF-8)
    sheet: str | None = None  # the sheet read, of a workbook
    decimal: str | None = None  # "point" or "comma": what numbers were read with that might be taken otherwise
    dates: str | None = None  # "day-first" or "month-first": how dates were read, when any read so
    renamed: list = dataclasses.field(default_factory=list)  # [column, field] of each read by another name
    others: list[str] = dataclasses.field(default_factory=list)  # columns left out as no field (leave_others)
    shadowed: list[str] = dataclasses.field(default_factory=list)  # why some of them are: see _Columns
    above: list[str] = dataclasses.field(default_factory=list)  # the rows above its columns' names: see _header
    totals: list[str] = dataclasses.field(default_factory=list)  # rows of totals left out ("line 12 (Total)")
    filled: list[str] = dataclasses.field(default_factory=list)  # cells merged over rows ("Agency (rows 2 to 9)")
    hidden: list[int] = dataclasses.field(default_factory=list)  # of `rows`, those hidden in the sheet
    unshown: int = 0  # how many rows hidden in the sheet were left out (shown())
    hidden_columns: list[str] = dataclasses.field(default_factory=list)  # of the columns read, those hidden
    midnight: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (row, time field) given a date alone

    def midnight_said(self) -> str | None:
        """Which rows were given a date without a time (see `midnight`),
        read as midnight at that day's start: a task "due 28.11.2026" is
        overdue from its first minute, which may not be what was meant.
        None if none was."""
        if not self.midnight:
            return None
        fields = " and ".join(dict.fromkeys(model.field_label(f) for _, f in self.midnight))
        at = [self.lines[i].rsplit(", ", 1)[-1].split() for i in dict.fromkeys(i for i, _ in self.midnight)]
        unit = at[0][0] + ("s" if len(at) > 1 else "")  # ("line", "row")
        numbers = [n for _, n in at]
        where = ", ".join(numbers) if len(numbers) <= 5 else f"{', '.join(numbers[:4])} and {len(numbers) - 4:,} more"
        return (f"{fields} given as a date without a time in {len(at):,} {unit} ({unit} {where}), read as "
                "midnight at the day's start")

    def shown(self) -> CsvRows:
        """These rows but those hidden in the sheet (a filter's: the rows a
        person sees in Excel); the same if none is."""
        if not self.hidden:
            return self
        out = set(self.hidden)
        kept = [i for i in range(len(self.rows)) if i not in out]
        now = {i: k for k, i in enumerate(kept)}  # (a row's index among those kept)
        return dataclasses.replace(self, rows=[self.rows[i] for i in kept], lines=[self.lines[i] for i in kept],
                                   hidden=[], unshown=len(out),
                                   midnight=[(now[i], f) for i, f in self.midnight if i in now])


def encoding_name(encoding: str) -> str:
    """An encoding as people know it: "Windows-1252 (Western European)"."""
    name = codecs.lookup(encoding).name
    return ENCODING_NAMES.get(name, name)


def read(table: str, path: str | os.PathLike, *, encoding: str | None = None, sheet: str | None = None,
         decimal: str | None = None, dates: str | None = None, leave_others: bool = False,
         progress: Callable[[int], None] | None = None) -> CsvRows:
    """Read and check the rows of `path` (CSV, or an .xlsx workbook) for
    `table`; raises ValidationError naming the file and line (or row) of
    the first problem, NotUtf8 for a CSV file whose encoding must be named,
    Ambiguous for one whose decimal mark must be named (`decimal`: "point"
    or "comma"), or which comes first in its dates (`dates`: "day-first"
    or "month-first"),
    OtherColumns for one with columns that are no field, unless
    `leave_others` (then CsvRows.others names them).
    `progress` is told how many lines (rows) are read, every PROGRESS_EVERY."""
    t = model.table(table)
    path = Path(path)
    name = path.name
    if t.append_only:
        raise ValidationError(f"the {t.name} is not imported: its entries are written as things happen")
    if decimal is not None and decimal not in DECIMAL_MARKS:
        raise ValidationError(f"{decimal!r} is not a decimal mark (point or comma)")
    if dates is not None and dates not in DATE_ORDERS:
        raise ValidationError(f"{dates!r} is not an order of dates (day-first or month-first)")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValidationError(f"{encoding!r} is not an encoding Python knows (e.g. {LEGACY}, latin-1, utf-16)") \
                from None
    if path.stat().st_size > MAX_BYTES:
        raise ValidationError(f"{name} is larger than {MAX_BYTES // 2**20} MiB: not a list of {t.name}")
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(_OLE):
        raise ValidationError(f"{name} is an Excel 97-2003 workbook (.xls) or one with a password: open it in "
                              f"Excel and {SAVE_AS}")
    if head.startswith(_ZIP):
        if encoding is not None:
            raise ValidationError(f"{name} is an Excel workbook: it has no encoding to name")
        book = _Workbook(path)
        try:
            ws = book.sheet(sheet)
            place = f"{name}, sheet {ws.title!r}" if len(book.shown) > 1 or sheet is not None else name
            cells = book.cells(ws)
            try:
                found = _rows(t, place, "row", cells, progress, decimal, dates, leave_others, book.layout(ws))
            finally:
                cells.close()  # (a row refused: the sheet's part is closed, and then the file)
        finally:
            book.close()
        return dataclasses.replace(found, sheet=ws.title)
    if sheet is not None:
        raise ValidationError(f"{name} is a CSV file: it has no sheets")
    found = _rows(t, name, "line", _csv_cells(path, encoding), progress, decimal, dates, leave_others)
    return dataclasses.replace(found, encoding=None if encoding is None else codecs.lookup(encoding).name)


def _is_workbook(path: str | os.PathLike) -> bool:
    """Whether `path` is a zip file, as an .xlsx workbook is (False for a
    file that cannot be read: reading it says why)."""
    try:
        with Path(path).open("rb") as f:
            return f.read(4) == _ZIP
    except OSError:
        return False


def sheets(path: str | os.PathLike) -> list[str]:
    """The sheets of a workbook a person can see, the one shown when it was
    saved first (what `read` reads, unless another is named); [] for any
    other file (a CSV file). Raises ValidationError for a damaged
    workbook, OSError for a file that cannot be read."""
    path = Path(path)
    if not _is_workbook(path):
        path.stat()  # (a file not there, or not to be read, is said so)
        return []
    book = _Workbook(path)
    try:
        first = book.sheet(None).title
        return [first] + [ws.title for ws in book.shown if ws.title != first]
    finally:
        book.close()


def _rows(t: model.Table, name: str, unit: str, cells: Iterator[tuple[int, list[str]]],
          progress: Callable[[int], None] | None, decimal: str | None, dates: str | None,
          leave_others: bool, layout: _Layout | None = None) -> CsvRows:
    """A table's checked rows from the cells of each line (or row) of a
    file, below the one naming the columns (see _header); of a workbook,
    with what its `layout` says beside its values."""
    header, at, above, cells = _header(t, cells)
    if header is None:
        raise ValidationError(f"{name} is empty: its first {unit} must name the columns")
    columns = _columns(t, name, header, leave_others)
    fields = columns.fields
    uncomputed = layout.uncomputed if layout else {}
    # Cells merged over rows below the columns' names, in a column read:
    # their value is read in each of those rows, as the sheet shows it.
    starts: dict[int, list[tuple[int, int]]] = {}  # first row -> [(column, last row)]
    filled = []
    unseen = [" ".join(header[i].split()) for i in sorted(layout.hidden_columns if layout else ())
              if i < len(fields) and fields[i] is not None]  # (columns hidden in the sheet, read all the same)
    for column, first, last in sorted(layout.merged if layout else ()):
        if first > at and column < len(fields) and fields[column] is not None:
            starts.setdefault(first, []).append((column, last))
            filled.append(f"{' '.join(header[column].split())} ({unit}s {first} to {last})")
    fills: dict[int, tuple[str, int]] = {}  # column -> (its value, the last row it is merged over)
    numbers, days = _Numbers(t, decimal), _Dates(t, dates)
    two_ways = {"int": numbers, "real": numbers, "counter": numbers, "time": days}  # (by the type of field)
    rows, lines, totals, hidden, midnight = [], [], [], [], []
    unshown = layout.hidden if layout else frozenset()
    for number, row in cells:
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number)
        flagged = None  # (of a workbook: its formulas not worked out in this row, see _Layout)
        if layout is not None:
            if starts or fills:
                _fill(row, number, starts, fills)
            flagged = uncomputed.get(number)
        if not flagged and not any(c.strip() for c in row):
            continue  # a blank line, as spreadsheets leave at the end
        where = f"{name}, {unit} {number}"
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            raise ValidationError(f"{where}: more cells than the first {unit} names columns")
        if len(rows) >= MAX_ROWS:
            raise ValidationError(f"{name}: more than {MAX_ROWS:,} rows: not a list of {t.name}")
        values, alone = {}, []  # (alone: its time fields given a date without a time)
        for f, cell in zip(fields, row, strict=False):
            if f is None or not (text := cell.strip()):
                continue
            if not model.is_text(cell):
                raise ValidationError(f"{where}: {f.name}: not valid text")
            if text in EXCEL_ERRORS:
                raise ValidationError(f"{where}: {f.name}: {text} is what Excel shows for a formula it could not "
                                      "work out: put it right in the spreadsheet, or empty the cell")
            try:
                if f.type in two_ways and not isinstance(cell, _Typed):
                    cell = two_ways[f.type].text(values, f, cell, where)
                    if cell is None:  # (set once the file's way of writing it is known)
                        if f.type == "time" and model.date_alone(text):
                            alone.append(f.name)
                        continue
                values[f.name] = model.parse(t, f, cell)
            except ValidationError as exc:
                raise ValidationError(f"{where}: {exc}") from None
            if f.type == "time" and _midnight(values[f.name]) and model.date_alone(text):
                alone.append(f.name)
        missing = [f.name for f in t.fields if f.required and f.name not in values]
        if missing and (label := _total(row)) is not None:  # ("Total" under a stock list: not an item)
            totals.append(f"{unit} {number} ({label})")
            for way in (numbers, days):  # (its numbers say how the file writes them, but are not asked about)
                way.undecided = [u for u in way.undecided if u[0] is not values]
            continue
        if flagged and (f := next((fields[i] for i in sorted(flagged) if i < len(fields) and fields[i]), None)):
            raise ValidationError(f"{where}: {f.name}: its cell holds a formula the program that saved the file did "
                                  "not work out: open the file in Excel or LibreOffice, and save it again")
        if missing:
            said = f"{where}: no {model.field_label(missing[0])} (a {t.name[:-1]} needs one)"
            if unit == "line" and rows and missing[0] in rows[-1]:  # (a cell merged over rows, saved as CSV)
                said += (f"; {lines[-1].rsplit(', ', 1)[-1]} above has one: a cell merged over several rows is "
                         "written in its first only when a spreadsheet is saved as CSV, so read the workbook "
                         "(.xlsx) itself, or fill the cells")
            raise ValidationError(said)
        if unshown and number in unshown:
            hidden.append(len(rows))
        midnight.extend((len(rows), f) for f in alone)
        rows.append(values)
        lines.append(where)
    if not rows:
        raise ValidationError(f"{name} names its columns but holds no rows")
    return CsvRows(t.name, rows, lines, columns.left_out, decimal=numbers.settle(), dates=days.settle(),
                   renamed=columns.renamed, others=columns.others, shadowed=columns.shadowed, above=above,
                   totals=totals, filled=filled, hidden=hidden, hidden_columns=unseen, midnight=midnight)


def _midnight(stored: str) -> bool:
    """Whether a time as stored is midnight in this computer's time zone,
    as a date without a time is read: asked before the dearer question of
    how it was written (model.date_alone)."""
    at = datetime.fromisoformat(stored).astimezone()
    return at.hour == at.minute == at.second == 0


def _fill(row: list[str], number: int, starts: dict[int, list[tuple[int, int]]],
          fills: dict[int, tuple[str, int]]) -> None:
    """Row `number` with the value of each cell merged over it from a row
    above put in its empty cell (see _rows)."""
    for column, last in starts.pop(number, ()):
        fills[column] = (row[column] if column < len(row) else "", last)
    for column, (value, last) in list(fills.items()):
        if number > last:
            del fills[column]
        elif column < len(row) and not row[column].strip():
            row[column] = value
        elif column >= len(row) and value:
            row.extend([""] * (column - len(row)) + [value])


def _total(row: list[str]) -> str | None:
    """The word of a row of totals ("Total", "Summe", "Sous-total"), as
    written, if that is all the row says in words, beside numbers; else
    None. A row lacking what a row of its table needs is left out as one
    (the numbers in it are read as the file writes them, as any others)."""
    words = [c.strip() for c in row if any(ch.isalpha() for ch in c)]
    if len(words) == 1 and column_key(words[0]).replace("_", " ") in TOTAL_WORDS:
        return " ".join(words[0].split())
    return None


def _header(t: model.Table, cells: Iterator[tuple[int, list[str]]]
            ) -> tuple[list[str] | None, int, list[str], Iterator[tuple[int, list[str]]]]:
    """The row naming the columns, its number, what is above it, and the
    rows below. It is the first that is not blank, unless that one does
    not name every column a row of `t` needs and one of the next few
    does: a roster's title, the date it was made, who made it, or a row
    of headings over groups of columns ("Unit" over Callsign, Agency,
    Kind), above its columns' names. Those are left out, said as written
    (`above`); a row of data is never above the row naming its columns.
    If no row does, the first is taken, for _columns to say what it
    lacks."""
    seen: list[tuple[int, list[str]]] = []
    for number, row in cells:
        if not any(c.strip() for c in row):
            continue
        if _names_needed(t, row):
            said = [" ".join(" ".join(c.split()) for c in r if c.strip()) for _, r in seen]
            header, at, cells = _under(t, row, number, cells)
            return header, at, [s if len(s) <= 80 else s[:79] + "…" for s in said], cells
        seen.append((number, row))
        if len(seen) > HEADER_WITHIN:
            break
    if not seen:
        return None, 0, [], cells
    return seen[0][1], seen[0][0], [], itertools.chain(seen[1:], cells)


def _under(t: model.Table, header: list[str], at: int, cells: Iterator[tuple[int, list[str]]]
           ) -> tuple[list[str], int, Iterator[tuple[int, list[str]]]]:
    """The columns' names of a header in two rows: a heading over a group
    of columns ("Position", merged over two), and under it the names of
    the group's columns ("Lat", "Lon"), in the row below. That row is
    taken as names when each of its cells names a field the row above
    does not, one at least under an empty cell or a heading that is no
    field's name (where a heading merged over several columns leaves
    them), and it has nothing under the columns a row needs (a row of
    data has). The header (its names under a heading put in the heading's
    place), the number of its last row, and the rows below."""
    below = next(((n, r) for n, r in cells if any(c.strip() for c in r)), None)
    if below is None:
        return header, at, cells
    number, row = below
    above = _fields_named(t, header)
    needed = {i for i, k in enumerate(map(column_key, header)) if (f := _field_of(t, k)) and t.field(f).required}
    names = {i: _field_of(t, column_key(c)) for i, c in enumerate(row) if c.strip()}
    grouped = any(i >= len(header) or _field_of(t, column_key(header[i])) is None for i in names)
    if grouped and all(f is not None and f not in above for f in names.values()) and not needed & names.keys():
        return [row[i] if i in names else c for i, c in enumerate(header)] + row[len(header):], number, cells
    return header, at, itertools.chain([(number, row)], cells)


def _field_of(t: model.Table, key: str) -> str | None:
    """The field of `t` a column named `key` (column_key) is, by its name
    or another name of it (ALIASES); None if none (or a hidden one's,
    which no spreadsheet sets)."""
    return key if key in t.names and not t.field(key).hidden else _ALIAS_KEYS.get(t.name, {}).get(key)


def _names_needed(t: model.Table, row: list[str]) -> bool:
    """Whether `row` names every column a row of `t` needs (by the field's
    name, or another name of it: ALIASES)."""
    named = _fields_named(t, row)
    return all(f.name in named for f in t.fields if f.required)


def _named(t: model.Table, row: list[str]) -> int:
    """How many fields of `t` the cells of `row` name."""
    return len(_fields_named(t, row) - {None})


def _fields_named(t: model.Table, row: list[str]) -> set[str | None]:
    return {_field_of(t, k) for k in map(column_key, row)}


class _TwoWays:
    """Values of a file that may read two ways, as the region of the
    computer that saved it writes them (see the module's docstring): each
    read the way the file's values say, once one has; those that read two
    ways before then are set when one does (`settle`), or are asked about
    (Ambiguous)."""

    option = ""  # read()'s keyword, and the command line's option (--decimal)
    ways: tuple[str, str] = ("", "")
    usual: str | None = None  # the way a person takes for granted, not said
    kind = ""  # what the values are, in messages ("number")
    name_it = ""  # what a person names, in messages

    def __init__(self, t: model.Table, named: str | None) -> None:
        self.t = t
        self.named = named  # the way a person said, of `ways`
        self.said: str | None = None  # the way the file's values say (only one ever is: see `text`)
        self.first: tuple[str, str] = ("", "")  # where, and as written, the first value saying it
        self.undecided: list[tuple[dict, model.Field, str, str, dict[str, str]]] = []
        self.told: str | None = None  # the way a value was read a person would not take for granted

    def readings(self, written: str) -> dict[str, str | None]:
        """`written` as model.parse reads it, each way (None: not so)."""
        raise NotImplementedError

    def way(self, way: str) -> str:
        """A way in a message: "a decimal comma"."""
        raise NotImplementedError

    def shown(self, reading: str) -> str:
        """A reading as people read it: 1200, 3 April 2026."""
        raise NotImplementedError

    def text(self, values: dict, f: model.Field, cell: str, where: str) -> str | None:
        """`cell` as model.parse reads it; None for a value that reads two
        ways and must wait for the file's way: `settle` sets it in
        `values` then."""
        written = cell.strip()
        try:
            readings = self.readings(written)
        except written_dates.WrongDay as exc:  # (a date on another day of the week than it names)
            raise ValidationError(f"{self.t.name}.{f.name}: {exc}") from None
        one, other = self.ways
        if readings[one] == readings[other]:
            return cell if readings[one] is None else readings[one]  # (nothing to tell, or not a value)
        known = self.named or self.said
        if known is not None:
            other = one if known == other else other
            if readings[known] is not None and (readings[other] is None or self._fits(f, readings[known])
                                                or not self._fits(f, readings[other])):
                return self._read(known, readings)
            if self.named:
                said = f"{self.way(known)}, as named"
            else:
                first, as_written = self.first
                said = f"{self.way(known)}, as {first.rsplit(', ', 1)[-1]} writes {as_written!r}"
            if readings[known] is None:
                wrong = f"is written with {self.way(other)}, not {said}"
            else:  # (48.856 for a lat, in a file of decimal commas: 48856)
                wrong = f"with {said}, is {self.shown(readings[known])}, which a {f.name} cannot be"
            raise ValidationError(f"{self.t.name}.{f.name}: {written!r} {wrong}: write the {self.kind}s alike")
        only = [way for way in self.ways if readings[way] is not None]
        if len(only) == 2:
            only = [way for way in only if self._fits(f, readings[way])] or only  # (1.200 people: 1200)
        if len(only) == 1:  # (says the file's way)
            self.said, self.first = only[0], (where, written)
            return self._read(only[0], readings)
        self.undecided.append((values, f, written, where, readings))
        return None

    def _read(self, way: str, readings: dict[str, str | None]) -> str:
        if way != self.usual or None not in readings.values():
            self.told = way
        return readings[way]

    def _fits(self, f: model.Field, text: str) -> bool:
        try:
            model.check(self.t, f, model.parse(self.t, f, text))
        except ValidationError:
            return False
        return True

    def settle(self) -> str | None:
        """Set the values that waited for the file's way; the way its
        values were read, when a person would not take it for granted.
        Raises Ambiguous when nothing in the file says it."""
        if not self.undecided:
            return self.told
        way = self.named or self.said
        if way is None:
            _, f, written, where, readings = self.undecided[0]
            one, other = self.ways
            shown = {w: self.shown(readings[w]) for w in self.ways}
            raise Ambiguous(f"{where}: {self.t.name}.{f.name}: {written!r} may be {shown[one]} or {shown[other]}, "
                            f"and no {self.kind} in the file says which: name {self.name_it}",
                            {"where": where, "field": f.name, "written": written, "more": len(self.undecided) - 1,
                             "option": self.option, "readings": readings, "shown": shown})
        for values, f, _, _, readings in self.undecided:
            values[f.name] = model.parse(self.t, f, self._read(way, readings))
        return self.told


class _Numbers(_TwoWays):
    """Numbers, with a decimal point or a decimal comma."""

    option, ways, usual, kind = "decimal", ("point", "comma"), "point", "number"
    name_it = "its decimal mark (point or comma)"

    def readings(self, written: str) -> dict[str, str | None]:
        if written.isdigit() and written.isascii():  # (a count: the most common, read at once)
            return {"point": written, "comma": written}
        return _readings(written)

    def way(self, way: str) -> str:
        return f"a decimal {way}"

    def shown(self, reading: str) -> str:
        return model.plain_number(float(reading))


class _Dates(_TwoWays):
    """Dates (and times), the day or the month first: 28.11.2026 18:00,
    28/11/2026, 11/28/2026 6:00 PM."""

    option, ways, usual, kind = "dates", DATE_ORDERS, None, "date"
    name_it = "which comes first in its dates (day-first or month-first)"

    def readings(self, written: str) -> dict[str, str | None]:
        return written_dates.readings(written)

    def way(self, way: str) -> str:
        return f"the {way.removesuffix('-first')} first"

    def shown(self, reading: str) -> str:
        return written_dates.said(date.fromisoformat(reading[:10]))


def _readings(written: str) -> dict[str, str | None]:
    """`written` (stripped) as float() reads it with a decimal point
    ("point") and with a decimal comma ("comma"); None where it is not a
    number so written."""
    simple = _ONE_MARK.fullmatch(written)
    if simple is None:  # (thousands set apart, or not a number at all)
        return {"point": _reading(written, "."), "comma": _reading(written, ",")}
    whole, mark, part = simple.groups()  # (the most common: 2.5, 48.85661, 1.200, 2,5)
    as_mark = written if mark == "." else written.replace(",", ".")
    if len(part) == 3 and 0 < len(whole) <= 3 and whole[0] != "0":  # (also thousands apart: 1.200 is 1200)
        as_group = written.replace(mark, "")
        return {"point": as_mark, "comma": as_group} if mark == "." else {"point": as_group, "comma": as_mark}
    return {"point": as_mark, "comma": None} if mark == "." else {"point": None, "comma": as_mark}


# A number with one mark, a point or a comma, and digits after it.
_ONE_MARK = re.compile(r"[+-]?(\d*)([.,])(\d+)", re.ASCII)


def _reading(written: str, mark: str) -> str | None:
    """`written` (stripped) as float() reads it, if it is a number written
    with the decimal `mark`, else None."""
    m = _NUMBER_FORMS[mark].fullmatch(written)
    if m is None or not (m["whole"] or m["part"]):
        return None
    if m["g"] is None:  # (no thousands set apart)
        return written if mark == "." else written.replace(",", ".")
    whole = m["whole"].replace(m["g"], "")
    return f"{m['sign']}{whole}" + (f".{m['part']}" if m["part"] else "")


_MARK = re.compile("'[=+\\-@\t\r]")  # (and, now and then, text that only looks so: "it's-")


def _csv_cells(path: Path, encoding: str | None) -> Iterator[tuple[int, list[str]]]:
    """The cells of each row of a CSV file, by the number of the line it starts on."""
    name = path.name
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode Text": says so itself
    elif encoding is None:
        encoding = "utf-8-sig"
        if b"\x00" in data:
            raise ValidationError(f"{name} is not a CSV file (it holds binary data)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8-sig":
            raise NotUtf8(f'{name} is not UTF-8 text: save it as "CSV UTF-8", or name the encoding it is in') \
                from None
        raise NotText(f"{name} is not {encoding_name(encoding)} text (byte {exc.start + 1:,} of it)") from None
    del data
    if "\x00" in text:
        raise ValidationError(f"{name} is not a CSV file (it holds binary data)")
    said = _SEP.match(text)
    skipped = 1 if said else 0  # (lines before the first the reader reads)
    if said:  # "sep=;", as Excel writes (and reads) to say what is between cells
        text = text[said.end():]
        dialect = type("Said", (csv.excel,), {"delimiter": said[1]})
    else:
        try:
            sniffed = csv.Sniffer().sniff(text[:20000], delimiters=",;\t")
        except csv.Error:
            sniffed = csv.excel
        # Of what the sniffer guesses, only what is between cells is taken:
        # quotes are always as Excel (and RFC 4180) writes them, "" for a
        # quote within a quoted cell, which it guesses wrong on a file
        # whose quoted cells end in a quote ("Chef ""Müller""").
        dialect = type("Sniffed", (csv.excel,), {"delimiter": sniffed.delimiter,
                                                  "skipinitialspace": sniffed.skipinitialspace})
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        start = 1 + skipped  # (a cell may hold line breaks: a row is named by the line it starts on)
        # A cell this program marked as text, not a formula (model.as_cell),
        # looked for in the whole text at once: most files have none.
        marked = "'" in text and _MARK.search(text) is not None
        for row in reader:
            yield start, [model.from_cell(c) if c[:1] == "'" else c for c in row] if marked else row
            start = reader.line_num + 1 + skipped
    except csv.Error as exc:
        raise ValidationError(f"{name}, line {reader.line_num + skipped}: not readable as CSV ({exc})") from None


class _Workbook:
    """An .xlsx workbook open to read (openpyxl, read-only: its sheets are
    read as they are iterated). Whatever is wrong with the file is said as
    a ValidationError: openpyxl raises what its parts do."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        try:
            with zipfile.ZipFile(path) as z:
                parts = z.infolist()
                listed = {p.filename for p in parts}
                if "mimetype" in listed and z.read("mimetype").startswith(b"application/vnd.oasis.opendocument"):
                    raise ValidationError(f"{self.name} is an OpenDocument spreadsheet: {SAVE_AS}")
                if "xl/workbook.xml" not in listed:
                    raise ValidationError(f"{self.name} is a zip archive, not an Excel workbook")
                if sum(p.file_size for p in parts) > MAX_UNPACKED:
                    raise ValidationError(f"{self.name} unpacks to more than {MAX_UNPACKED // 2**20} MiB: "
                                          "not a roster or a stock list")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise ValidationError(f"{self.name} is damaged: not readable as an Excel workbook ({exc})") from None
        import openpyxl  # (only for a workbook: a third of a second to import)

        with self._said():
            self.book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        self.shown = [ws for ws in self.book.worksheets if ws.sheet_state == "visible"]
        self.path = path

    def layout(self, ws) -> _Layout:
        """What openpyxl's reading leaves out of sheet `ws` (see _Layout),
        read from its XML."""
        with self._said(), zipfile.ZipFile(self.path) as z:
            part, recalc = _sheet_part(z, ws.title)
            if part is None:
                return _Layout({}, [], frozenset(), frozenset())
            data = z.read(part)
        return _Layout(_uncomputed(data, recalc), _merged(data), _hidden(data), _hidden_columns(data))

    def sheet(self, wanted: str | None):
        """The sheet named `wanted` (letter case and spacing aside), else
        the one shown when the workbook was saved."""
        if wanted is not None:
            key = model.name_key(wanted)
            for ws in self.book.worksheets:
                if model.name_key(ws.title) == key:
                    return ws
            names = ", ".join(repr(ws.title) for ws in self.shown) or "none"
            raise ValidationError(f"{self.name} has no sheet {wanted.strip()!r} (its sheets: {names})")
        active = self.book.active
        if active in self.shown:
            return active
        if not self.shown:
            raise ValidationError(f"{self.name} has no sheet of cells to read")
        return self.shown[0]

    def cells(self, ws) -> Iterator[tuple[int, list[str]]]:
        """The cells of each row of sheet `ws` as text, by row number."""
        ws.reset_dimensions()  # (what some programs write is wrong; every row is read)
        rows = ws.iter_rows(min_row=1, values_only=True)
        number = 0
        try:
            while True:
                with self._said():  # (not across the yield: its warnings filter is the whole program's)
                    values = next(rows, None)
                if values is None:
                    return
                number += 1
                yield number, [_text(v) for v in values]
        finally:
            rows.close()  # (left before the last row: its part of the file is closed now, not when collected)

    def close(self) -> None:
        self.book.close()

    def _said(self):
        return _Said(self.name)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What a sheet's cells hold that openpyxl's values do not say.
    `uncomputed`: the cells holding a formula whose value the program that
    saved the workbook did not work out, {row: its columns, from 0}: those
    a program writes that does not compute formulas (one writing
    workbooks from a script), which read as empty, or as 0, where Excel
    would show a value; a workbook that asks to be worked out again when
    opened (fullCalcOnLoad) has none it can be trusted with. Excel and
    LibreOffice save every value: then there are none. `merged`: the
    cells merged over several rows, (column from 0, first row, last row),
    which show their value in each row and hold it in the first only.
    `hidden`: the rows not shown (a filter's, or hidden by hand), read
    all the same, and said (CsvRows.hidden); `hidden_columns`, the
    columns, read and said alike."""

    uncomputed: dict[int, set[int]]
    merged: list[tuple[int, int, int]]
    hidden: frozenset[int]
    hidden_columns: frozenset[int]  # from 0


# A workbook's XML as _uncomputed, _merged and _hidden read it, a
# namespace's prefix or none: a formula, a cell (its attributes, its
# content), its place (B4), its value; cells merged (B2:B9); a row (its
# attributes), hidden, its number.
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_MERGED = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?\bref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
_ROW = re.compile(rb"<(?:\w+:)?row\s([^>]*)>")
_COLUMNS = re.compile(rb"<(?:\w+:)?col\s([^>]*)>")
_SPAN = re.compile(rb'\bmin="(\d+)"[^>]*?\bmax="(\d+)"|\bmax="(\d+)"[^>]*?\bmin="(\d+)"')
_HIDDEN = re.compile(rb'\bhidden="(?:1|true)"')
_ROW_NUMBER = re.compile(rb'\br="(\d+)"')


def _column(letters: bytes) -> int:
    """A column's number from 0, from its letters (A is 0, AA 26)."""
    n = 0
    for letter in letters:
        n = n * 26 + letter - 64
    return n - 1


def _uncomputed(data: bytes, recalc: bool) -> dict[int, set[int]]:
    """_Layout.uncomputed of a sheet's XML."""
    if b"<f" not in data and b":f>" not in data and b":f " not in data:  # (most: no formula, said at once)
        return {}
    found: dict[int, set[int]] = {}
    for cell in _CELL.finditer(data):
        body = cell[2]
        if not body or _FORMULA.search(body) is None:
            continue
        value = _VALUE.search(body)
        if (recalc or value is None or not value[1].strip()) and (ref := _REF.search(cell[1])) is not None:
            found.setdefault(int(ref[2]), set()).add(_column(ref[1]))
    return found


def _hidden_columns(data: bytes) -> frozenset[int]:
    """_Layout.hidden_columns of a sheet's XML (its columns' widths,
    from 1, min to max, before its cells)."""
    head = data[:data.find(b"sheetData")]
    if b'hidden="' not in head:
        return frozenset()
    out: set[int] = set()
    for col in _COLUMNS.finditer(head):
        if _HIDDEN.search(col[1]) and (span := _SPAN.search(col[1])):
            low, high = (int(span[1]), int(span[2])) if span[1] else (int(span[4]), int(span[3]))
            out.update(range(low - 1, min(high, low + 16384)))
    return frozenset(out)


def _hidden(data: bytes) -> frozenset[int]:
    """_Layout.hidden of a sheet's XML."""
    if b'hidden="' not in data:
        return frozenset()
    return frozenset(int(n[1]) for row in _ROW.finditer(data)
                     if _HIDDEN.search(row[1]) and (n := _ROW_NUMBER.search(row[1])))


def _merged(data: bytes) -> list[tuple[int, int, int]]:
    """_Layout.merged of a sheet's XML: of cells merged over several rows
    (and perhaps columns), the first column's."""
    if b"mergeCell" not in data:
        return []
    return [(_column(m[1]), int(m[2]), int(m[4])) for m in _MERGED.finditer(data) if int(m[4]) > int(m[2])]


def _sheet_part(z: zipfile.ZipFile, title: str) -> tuple[str | None, bool]:
    """The part of workbook `z` holding the sheet called `title`, and
    whether the workbook asks to have its formulas worked out again when
    opened; (None, False) if it does not say (openpyxl reads it as it
    can)."""
    from defusedxml import ElementTree  # (a workbook from outside: no entity bombs)

    try:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None, False
    recalc, rid = False, None
    for e in book.iter():
        tag = e.tag.rsplit("}", 1)[-1]
        if tag == "calcPr":
            recalc = e.get("fullCalcOnLoad") in ("1", "true")
        elif tag == "sheet" and e.get("name") == title:
            rid = next((v for k, v in e.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
    target = next((e.get("Target") for e in rels.iter() if e.get("Id") == rid), None) if rid else None
    if not target:
        return None, recalc
    part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return part if part in z.namelist() else None, recalc


class _Said:
    """Within it, openpyxl's warnings (a style it does not know, a feature
    it drops) are not shown, and what it raises on a damaged or foreign
    file is said as not readable."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.warnings = warnings.catch_warnings()

    def __enter__(self) -> None:
        self.warnings.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, kind, exc, tb) -> bool:
        self.warnings.__exit__(kind, exc, tb)
        if not isinstance(exc, Exception) or isinstance(exc, (ValidationError, MemoryError)):
            return False
        while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
            exc = exc.__cause__ or exc.__context__  # (openpyxl says "invalid XML" over what the parser found)
        said = " ".join(str(exc).split())
        raise ValidationError(f"{self.name} is damaged or not an Excel workbook: not readable "
                              f"({type(exc).__name__}{': ' if said else ''}{said[:200]})") from None


class _Typed(str):
    """A workbook's number as text, as float() reads it: no decimal mark to
    tell (a cell typed as text is read as a CSV file's)."""


def _text(value) -> str:
    """A cell's value as a person would have typed it: 4 (not 4.0), a date
    and time as ISO 8601 (in this computer's time zone, read so again), a
    date at midnight as a date alone (a date typed in a date cell: the
    workbook holds it so, and says nothing of a time)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _Typed(model.plain_number(value))
    if isinstance(value, datetime):
        if value.time() == daytime() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, daytime)):
        return value.isoformat()
    return str(value)


def column_key(column: str) -> str:
    """A column's name as it is compared with fields' names: letter case,
    accents, spacing and punctuation aside, and a unit or a time zone after
    it in parentheses ("Due (CET)" is due, "Quantity (kg)" quantity,
    "Stärke" starke)."""
    column = unicodedata.normalize("NFKD", _AFTER.sub("", column.strip()).casefold())
    column = "".join(c for c in column if not unicodedata.combining(c))
    return "_".join(_APART.sub(" ", column).split())


_AFTER = re.compile(r"\s*\([^()]*\)$")
_APART = re.compile(r"[-_./#:]+")
# ALIASES as columns are compared: table -> column_key -> field.
_ALIAS_KEYS = {table: {column_key(alias): f for f, known in fields.items() for alias in known}
               for table, fields in ALIASES.items()}


@dataclasses.dataclass(frozen=True)
class _Columns:
    fields: list[model.Field | None]  # the field of each column (None: not taken)
    left_out: list[str]  # of an export: what a new row does not take
    renamed: list[list[str]]  # [column, field] of each read as the field it is another name for
    others: list[str]  # neither: no field
    # Of others, those another name of a field another column names, said so:
    # "'Unit' would be the callsign, which 'Callsign' is".
    shadowed: list[str] = dataclasses.field(default_factory=list)


def _columns(t: model.Table, name: str, header: list[str], leave_others: bool) -> _Columns:
    """What each column of `header` is: a field (by its name, as people
    write it, or as agencies call it: ALIASES), a column of an export that
    a new row does not take, or another, refused unless `leave_others`."""
    keys = [column_key(c) for c in header]
    named = {k for k in keys if k in t.names and not t.field(k).hidden}
    found = _Columns([], [], [], [])
    taken: dict[str, str] = {}  # field -> its column
    holders = {k: " ".join(c.split()) for c, k in zip(header, keys, strict=True) if k in named}
    for cell, key in zip(header, keys, strict=True):
        shown = " ".join(cell.split())
        field = _field_of(t, key)
        if not key or key in LEFT_OUT or key in t.derived or key in LEFT_OUT_OF.get(t.name, ()):
            field = None
            if key:
                found.left_out.append(shown)
        elif field is None or (field != key and (field in named or field in taken)):
            if field is not None:  # (another name of a field named by another column: "Unit" beside "Callsign")
                found.shadowed.append(f"{shown!r} would be the {model.field_label(field)}, which "
                                      f"{holders.get(field) or taken[field]!r} is")
            field = None
            found.others.append(shown)
        elif field in taken:
            raise ValidationError(f"{name}: the column {shown!r} appears twice")
        else:
            taken[field] = shown
            if field != key:
                found.renamed.append([shown, field])
        found.fields.append(None if field is None else t.field(field))
    known = ", ".join(f.name for f in t.fields if not f.hidden)
    missing = [f.name for f in t.fields if f.required and f.name not in taken]
    # A list of units read as tasks (the board shown was another): said
    # first, as leaving columns out would not help.
    fits = [o for o in IMPORTED if o != t.name and _names_needed(model.TABLES[o], header)] if missing else []
    other = max(fits, key=lambda o: _named(model.TABLES[o], header), default=None)  # (Name: a task's title too)
    if found.others and not leave_others and other is None:
        what = (f"the column {found.others[0]!r} is not a field" if len(found.others) == 1 else
                f"the columns {', '.join(repr(c) for c in found.others)} are not fields")
        why = f"; {'; '.join(found.shadowed)}" if found.shadowed else ""
        raise OtherColumns(f"{name}: {what} of {t.name} (fields: {known}{why})", found.others)
    if missing:
        others = f"; its other columns: {', '.join(found.others)}" if found.others else ""
        elsewhere = f": its columns are those of {other}, so add it as {other}" if other else ""
        raise ValidationError(f"{name} has no {model.field_label(missing[0])} column (a {t.name[:-1]} needs one"
                              f"{others}){elsewhere}")
    return found


def main(argv: list[str] | None = None) -> int:
    """`python -m console.csv_rows TABLE FILE [--sheet NAME] [--encoding
    NAME] [--decimal point|comma] [--dates day-first|month-first]
    [--leave-out-others] [--unless-sheets]`,
    or `--sheets FILE`: what `read` (or `sheets`) finds, as lines of JSON
    on stdout: {"read": lines} as it goes, then {"found": {...}} (a
    CsvRows' fields), {"sheets": [...]}, or {"error": "...", "kind":
    "NotUtf8"} (the class of the ValidationError raised, or "OSError"; an
    Ambiguous one's "detail" too). With --unless-sheets, a workbook of
    several sheets (and none named) is not read: its sheets are listed, to
    be chosen. The window
    reads spreadsheets this way, in a process of its own: read on a thread
    of its own process, a workbook's Python work would take the
    interpreter lock from the window's thread, and every board painted
    meanwhile waits for it once per cell."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m console.csv_rows")
    parser.add_argument("--sheets", metavar="FILE", help="list a workbook's sheets, the one shown first")
    parser.add_argument("table", nargs="?")
    parser.add_argument("file", nargs="?")
    parser.add_argument("--sheet")
    parser.add_argument("--encoding")
    parser.add_argument("--decimal", choices=sorted(DECIMAL_MARKS))
    parser.add_argument("--dates", choices=DATE_ORDERS)
    parser.add_argument("--leave-out-others", action="store_true")
    parser.add_argument("--unless-sheets", action="store_true",
                        help="of a workbook of several sheets, none named: list them instead, for a person to choose")
    args = parser.parse_args(argv)
    if args.sheets is None and args.file is None:
        parser.error("give TABLE FILE, or --sheets FILE")

    def say(what: dict) -> None:
        sys.stdout.write(json.dumps(what) + "\n")
        sys.stdout.flush()

    try:
        if args.sheets is not None:
            say({"sheets": sheets(args.sheets)})
        elif args.unless_sheets and args.sheet is None and len(names := sheets(args.file)) > 1:
            say({"sheets": names})
        else:
            found = read(args.table, args.file, sheet=args.sheet, encoding=args.encoding, decimal=args.decimal,
                         dates=args.dates, leave_others=args.leave_out_others,
                         progress=lambda lines: say({"read": lines}))
            say({"found": vars(found)})
    except ValidationError as exc:
        say({"error": str(exc), "kind": type(exc).__name__} | ({"detail": exc.detail} if isinstance(exc, Ambiguous)
                                                                else {}))
    except OSError as exc:
        say({"error": f"{Path(exc.filename or args.file or args.sheets).name}: {exc.strerror or exc}",
             "kind": "OSError"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
