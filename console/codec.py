"""Changes as they travel: to and from plain JSON values, with validation.

The transfer file and the sync protocol carry a change as an 11-element list
`[origin, seq, hlc, table, row, field, kind, value, prev, operator, agency]`.
`decode` accepts only a well-formed change for a known table and field with a
value of the right type; anything else is a ValidationError that names what is
wrong, so nothing from outside reaches the store unchecked.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import orjson

from console import model
from console.merge import KINDS, ROW_FIELD, Change

ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_SEQ = (1 << 62)
MAX_HLC = (1 << 63) - 1
MAX_PREV = 256
MAX_NAME = model.NAME_LIMIT


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
_SORTED = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> str:
    """Canonical JSON: the same value always gives the same text.

    The text is the standard library's compact, key-sorted form; every
    console must produce it byte for byte, because equal texts are equal
    values to the merge. orjson writes the same bytes ten times faster,
    except for floats below 1e-4 or from 1e16 (1e-05 is 1e-5 to orjson), so
    values holding those, and anything orjson refuses, go through the
    standard library.
    tests/test_codec.py compares the two on every code point and on
    random values."""
    return _ENCODER.encode(value) if _may_differ(value) else _sorted(value)


def dumps_row(t: model.Table, value: dict[str, Any]) -> str:
    """Canonical JSON of a validated row of table `t` (see dumps): its
    values are scalars, and only its real-valued fields can hold a float."""
    for name in t.reals:
        v = value.get(name)
        if type(v) is float and _spelled_with_exponent(v):
            return _ENCODER.encode(value)
    return _sorted(value)


def _sorted(value: Any) -> str:
    """orjson's key-sorted text of `value`, or the standard library's for
    what orjson refuses (integers past 64 bits, say)."""
    try:
        return orjson.dumps(value, option=_SORTED).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _ENCODER.encode(value)


def _spelled_with_exponent(v: float) -> bool:
    """Whether Python writes float `v` with an exponent, where orjson's
    spelling differs (1e-05 against 1e-5)."""
    return not (v == 0 or 1e-4 <= abs(v) < 1e16)


def dumps_versions(prev: tuple[tuple[str, int], ...]) -> str:
    """Canonical JSON of a change's `prev`: (origin, seq) pairs, which hold
    no float, so orjson's bytes are the standard library's."""
    return orjson.dumps(prev).decode()


def _may_differ(value: Any) -> bool:
    """Whether orjson might not write the standard library's bytes for
    `value`: a float Python spells with an exponent, or an unusual shape."""
    t = type(value)
    if t is float:
        return _spelled_with_exponent(value)
    if t is dict:
        types = {type(v) for v in value.values()}
        if dict in types or list in types or tuple in types:
            return True
        return float in types and any(type(v) is float and _spelled_with_exponent(v) for v in value.values())
    if t is list or t is tuple:
        return any(_may_differ(v) for v in value)
    return False


def encode(c: Change) -> list:
    return [
        c.origin, c.seq, c.hlc, c.table, c.row, c.field, c.kind, c.value,
        [list(p) for p in c.prev], c.operator, c.agency,
    ]  # fmt: skip


def wire_row(r: tuple) -> str:
    """A change as one JSON text for the wire or a transfer file, from the
    log's row (origin, seq, hlc, table, row, field, kind, value JSON, prev
    JSON, operator, agency): its value and versions go out as the log's own
    text, never decoded. Any valid JSON will do there: the receiver decodes
    it and re-encodes values canonically."""
    o, s, h, t, row, f, kind, value, prev, op, ag = r
    return orjson.dumps(
        [o, s, h, t, row, f, kind, orjson.Fragment(value) if value is not None else None,
         orjson.Fragment(prev), op, ag]
    ).decode()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _id(v: Any, what: str) -> str:
    # strip() leaves nothing of a string made only of hex digits (C speed).
    if type(v) is not str or len(v) != 32 or v.strip(model.HEX_DIGITS):
        raise model.ValidationError(f"{what} must be a 32-digit hex id, not {v!r:.60}")
    return v


def decode(obj: Any) -> Change:
    """A validated Change from its wire form, or a ValidationError."""
    if type(obj) is not list or len(obj) != 11:
        raise model.ValidationError("a change must be a list of 11 values")
    origin, seq, hlc, table, row, field, kind, value, prev, operator, agency = obj
    _id(origin, "origin")
    _id(row, "row id")
    if type(seq) is not int or not 0 < seq < MAX_SEQ:
        raise model.ValidationError(f"seq must be a positive whole number, not {seq!r:.40}")
    if type(hlc) is not int or not 0 <= hlc <= MAX_HLC:
        raise model.ValidationError(f"hlc must be a 63-bit whole number, not {hlc!r:.40}")
    if kind not in KINDS:
        raise model.ValidationError(f"unknown change kind {kind!r:.40}")
    # (isascii first: a C call, where is_text is a Python one)
    if type(operator) is not str or len(operator) > MAX_NAME or not (operator.isascii() or model.is_text(operator)):
        raise model.ValidationError(f"operator must be text of at most {MAX_NAME} characters")
    if type(agency) is not str or len(agency) > MAX_NAME or not (agency.isascii() or model.is_text(agency)):
        raise model.ValidationError(f"agency must be text of at most {MAX_NAME} characters")
    if type(prev) is not list or len(prev) > MAX_PREV:
        raise model.ValidationError(f"prev must be a list of at most {MAX_PREV} versions")
    prevs = []
    for p in prev:
        if not (type(p) is list and len(p) == 2 and type(p[1]) is int and 0 < p[1] < MAX_SEQ):
            raise model.ValidationError("each prev entry must be [origin, seq]")
        prevs.append((_id(p[0], "prev origin"), p[1]))
    t = model.table(table)
    value = check_value(t, field, kind, value)
    return Change(origin, seq, hlc, table, row, field, kind, value, tuple(prevs), operator, agency)


@functools.lru_cache(maxsize=64)
def _delta(field: str) -> model.Field:
    """What a change to counter `field` must be: a finite number no larger
    than a counter may hold, either way."""
    return model.Field(field, "real", minimum=-model.MAX_COUNTER, maximum=model.MAX_COUNTER)


def check_value(t: model.Table, field: str, kind: str, value: Any) -> Any:
    """Validate the (field, kind, value) of a change to table `t`."""
    if kind == "insert":
        if field != ROW_FIELD:
            raise model.ValidationError(f"an insert is filed under field {ROW_FIELD!r}")
        if not isinstance(value, dict):
            raise model.ValidationError("an insert's value must be an object of fields")
        unknown = value.keys() - t.names
        if unknown:
            raise model.ValidationError(
                f"{t.name} has no field {sorted(unknown)[0]!r} (fields: {', '.join(t.names)})"
            )
        row = {f.name: model.check(t, f, value.get(f.name)) for f in t.fields}
        for name in t.times:
            _stored_time(t, name, value.get(name), row[name])
        return row
    if t.append_only:
        raise model.ValidationError(f"{t.name} is append-only: rows are never changed")
    if not isinstance(field, str):
        raise model.ValidationError("field must be text")
    fld = t.field(field)
    if kind == "add":
        if not fld.counter:
            raise model.ValidationError(f"{t.name}.{field} is not a counter")
        if _is_int(value) or isinstance(value, float):
            return model.check(t, _delta(field), value)
        raise model.ValidationError(f"{t.name}.{field}: a counter change must be a number")
    if fld.counter:
        raise model.ValidationError(f"{t.name}.{field} is a counter: change it by adding")
    if kind == "delete" and (field != "deleted" or value is not True):
        raise model.ValidationError("a delete sets field 'deleted' to true")
    if fld.required and value is None:
        raise model.ValidationError(f"{t.name}.{field} is required")
    checked = model.check(t, fld, value)
    if fld.type == "time":
        _stored_time(t, field, value, checked)
    return checked


def _stored_time(t: model.Table, field: str, value: Any, checked: Any) -> None:
    """A time from another console must be in stored form (UTC, to the
    second), as every console writes them. A time without a zone is read in
    the local zone where a person types it, so each receiving console would
    store its own reading of it, and consoles in different zones would
    hold different values for the same change."""
    if value != checked:
        raise model.ValidationError(
            f"{t.name}.{field}: {value!r:.40} is not a time as consoles exchange them (UTC to the second, "
            "e.g. 2026-11-25T18:30:00Z)"
        )
