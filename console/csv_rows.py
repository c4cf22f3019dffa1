"""New rows from a CSV file: an agency's roster of units, a list of
tasks, a stock list, as a spreadsheet saves them.

The first line names the columns: a table's fields by name ("callsign",
"lead_agency") or as people write them ("Lead agency"). The columns that
`crisis-console export` writes but a new row cannot take (its id, the
status-since time, the unit's task, which is another operation's when a
roster is carried over: assign units on the board) are left out and said
so; any other column that is not a field is refused. An empty cell leaves the field to
its default. Every value is checked, and a wrong one is named by its line,
before anything is added; then all rows are added in one transaction, or
none. The file may be UTF-8 with or without a byte-order mark (as Excel
saves "CSV UTF-8"), with commas, semicolons or tabs between cells.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from console import model
from console.model import ValidationError

MAX_ROWS = 100_000  # a roster or stock list is hundreds; more is a wrong file
MAX_BYTES = 64 * 2**20
# Columns `export` writes that a new row does not take.
LEFT_OUT = {"id", "deleted", "status_since", "task", "task_id", "assigned_units"}


@dataclass(frozen=True)
class CsvRows:
    table: str
    rows: list[dict]  # field -> value, as model.parse makes them
    lines: list[str]  # where each row is in the file ("line 7"), for errors
    left_out: list[str]  # columns in the file that are not taken


def read(table: str, path: str | os.PathLike) -> CsvRows:
    """Read and check the rows of `path` for `table`; raises
    ValidationError naming the file and line of the first problem."""
    t = model.table(table)
    path = Path(path)
    name = path.name
    if t.append_only:
        raise ValidationError(f"the {t.name} is not imported: its entries are written as things happen")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValidationError(f"{name} is larger than {MAX_BYTES // 2**20} MiB: not a list of {t.name}")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{name} is not UTF-8 text: save it as \"CSV UTF-8\"") from None
    if "\x00" in text:
        raise ValidationError(f"{name} is not a CSV file (it holds binary data)")
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader, None)
        if not header or not any(c.strip() for c in header):
            raise ValidationError(f"{name} is empty: its first line must name the columns")
        fields, left_out = _columns(t, name, header)
        rows, lines = [], []
        for row in reader:
            if not any(c.strip() for c in row):
                continue  # a blank line, as spreadsheets leave at the end
            where = f"{name}, line {reader.line_num}"
            if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
                raise ValidationError(f"{where}: more cells than the first line names columns")
            if len(rows) >= MAX_ROWS:
                raise ValidationError(f"{name}: more than {MAX_ROWS:,} rows: not a list of {t.name}")
            values = {}
            for f, cell in zip(fields, row, strict=False):
                if f is None or not cell.strip():
                    continue
                if not model.is_text(cell):
                    raise ValidationError(f"{where}: {f.name}: not valid text")
                try:
                    values[f.name] = model.parse(t, f, cell)
                except ValidationError as exc:
                    raise ValidationError(f"{where}: {exc}") from None
            missing = [f.name for f in t.fields if f.required and f.name not in values]
            if missing:
                raise ValidationError(f"{where}: no {model.field_label(missing[0])} (a {t.name[:-1]} needs one)")
            rows.append(values)
            lines.append(where)
    except csv.Error as exc:
        raise ValidationError(f"{name}, line {reader.line_num}: not readable as CSV ({exc})") from None
    if not rows:
        raise ValidationError(f"{name} names its columns but holds no rows")
    return CsvRows(t.name, rows, lines, left_out)


def _columns(t: model.Table, name: str, header: list[str]) -> tuple[list[model.Field | None], list[str]]:
    """The field of each column (None: left out), and the columns left out."""
    fields: list[model.Field | None] = []
    left_out: list[str] = []
    seen: set[str] = set()
    for cell in header:
        key = "_".join(cell.strip().lower().replace("-", " ").split())
        if key in LEFT_OUT or key in t.derived or not key:
            fields.append(None)
            if key:
                left_out.append(cell.strip())
            continue
        if key not in t.names:
            known = ", ".join(t.names)
            raise ValidationError(f"{name}: the column {cell.strip()!r} is not a field of {t.name} (fields: {known})")
        if key in seen:
            raise ValidationError(f"{name}: the column {cell.strip()!r} appears twice")
        seen.add(key)
        fields.append(t.field(key))
    return fields, left_out
