import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from console import codec, model
from console.merge import Change

ORIGIN = "a" * 32
R = "b" * 32


def wire(**kw):
    base = dict(origin=ORIGIN, seq=1, hlc=5, table="units", row=R, field="status", kind="set", value="on_scene",
                prev=[[ORIGIN, 1]], operator="op", agency="Fire")
    base.update(kw)
    return [base[k] for k in Change._fields]


def test_round_trip():
    c = codec.decode(wire())
    assert codec.decode(codec.encode(c)) == c
    assert c.prev == ((ORIGIN, 1),)


@pytest.mark.parametrize(
    "obj, message",
    [
        ("not a list", "list of 11"),
        ([1, 2, 3], "list of 11"),
        (wire(origin="zz"), "origin must be"),
        (wire(row=5), "row id must be"),
        (wire(seq=0), "seq must be"),
        (wire(seq=True), "seq must be"),
        (wire(seq="1"), "seq must be"),
        (wire(hlc=-1), "hlc must be"),
        (wire(hlc=1 << 64), "hlc must be"),
        (wire(kind="explode"), "unknown change kind"),
        (wire(table="weapons"), "unknown table"),
        (wire(table=["units"]), "unknown table"),
        (wire(field="colour"), "no field 'colour'"),
        (wire(value="flying"), "not one of"),
        (wire(value=7), "must be text"),
        (wire(field="personnel", value="4"), "must be a number"),
        (wire(field="personnel", value=2.5), "whole number"),
        (wire(field="lat", value=10**400), "at most 90"),
        (wire(field="personnel", value=-(10**400)), "at least 0"),
        (wire(field="callsign", value=None), "required"),
        (wire(prev="x"), "prev must be"),
        (wire(prev=[[ORIGIN]]), "prev entry"),
        (wire(prev=[[ORIGIN, 1]] * 300), "at most 256"),
        (wire(operator=None), "operator must be"),
        (wire(agency="x" * 500), "agency must be"),
        (wire(operator="Dana \udcff"), "operator must be"),
        (wire(table="resources", field="quantity", kind="add", value=1e300), "at most 1e\\+12"),
        (wire(table="resources", field="quantity", kind="add", value=-1e13), "at least -1e\\+12"),
        (wire(agency="\ud800"), "agency must be"),
        (wire(field="location", value="Main \udcff St"), "units.location is not valid text"),
        (wire(field="*", kind="insert", value="row"), "must be an object"),
        (wire(field="*", kind="insert", value={"callsign": "X", "agency": "F", "kind": "E", "gun": 1}), "no field"),
        (wire(field="*", kind="insert", value={"agency": "F", "kind": "E"}), "required"),
        (wire(field="status", kind="insert", value={}), "filed under"),
        (wire(kind="add", value=1), "not a counter"),
        (wire(table="resources", field="quantity", value=3), "is a counter"),
        (wire(table="resources", field="quantity", kind="add", value="3"), "must be a number"),
        (wire(table="resources", field="quantity", kind="add", value=float("inf")), "finite"),
        (wire(table="journal", field="text", value="rewritten"), "append-only"),
        (wire(kind="delete", value=True), "a delete sets field 'deleted'"),
        (wire(field="deleted", value="yes"), "true or false"),
    ],
)
def test_malformed_changes_are_refused_with_a_reason(obj, message):
    with pytest.raises(model.ValidationError, match=message):
        codec.decode(obj)


def test_times_from_other_consoles_must_be_in_stored_form():
    """A time without a zone would be read in each receiving console's own
    zone, and consoles in different zones would then hold different values
    for the same change: refused, as is any other spelling of a time."""
    task = dict(table="tasks", field="due", kind="set", prev=[])
    assert codec.decode(wire(**task, value="2026-11-25T18:30:00Z")).value == "2026-11-25T18:30:00Z"
    assert codec.decode(wire(**task, value=None)).value is None
    for spelled in ("2026-11-25 18:30", "2026-11-25T18:30:00", "2026-11-25T20:30:00+02:00", "2026-11-25T18:30Z",
                    "2026-11-25T18:30:00.000Z"):
        with pytest.raises(model.ValidationError, match="not a time as consoles exchange them"):
            codec.decode(wire(**task, value=spelled))
        with pytest.raises(model.ValidationError, match=r"tasks\.due: .* not a time as consoles exchange them"):
            codec.decode(wire(**{**task, "field": "*", "kind": "insert"}, value={"title": "Pump", "due": spelled}))
    # What a person types at a console is still read in its zone, and stored in UTC.
    t = model.table("tasks")
    assert model.check(t, t.field("due"), "2026-11-25 18:30").endswith(":30:00Z")


def test_insert_fills_defaults_and_normalises():
    c = codec.decode(wire(field="*", kind="insert", value={"callsign": " E-1 ", "agency": "F", "kind": "E",
                                                             "status": "On Scene"}))
    assert c.value["callsign"] == "E-1" and c.value["status"] == "on_scene" and c.value["lat"] is None


# The canonical text decides whether two versions hold the same value, so
# dumps must give the standard library's bytes whichever encoder it uses.
STDLIB = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def test_dumps_matches_the_standard_library_on_every_code_point():
    for start in range(0, 0x110000, 4096):
        text = "".join(chr(cp) for cp in range(start, start + 4096) if not 0xD800 <= cp <= 0xDFFF)
        assert codec.dumps(text) == STDLIB.encode(text)
        assert codec.dumps({"k": text, "n": 1}) == STDLIB.encode({"k": text, "n": 1})


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False,
                    allow_infinity=False), st.text())
values = st.one_of(scalars, st.dictionaries(st.text(max_size=8), scalars, max_size=8),
                   st.lists(st.tuples(st.text(max_size=4), st.integers(0, 2**62)), max_size=4),
                   st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                                | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10))


@given(values)
@settings(max_examples=500)
def test_dumps_matches_the_standard_library(value):
    assert codec.dumps(value) == STDLIB.encode(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=2000)
def test_dumps_matches_the_standard_library_on_floats(x):
    assert codec.dumps(x) == STDLIB.encode(x)
    assert codec.dumps({"lat": x, "name": "E-1"}) == STDLIB.encode({"lat": x, "name": "E-1"})


def test_dumps_spells_floats_like_the_standard_library():
    for x in (1e-05, -4.0015552639689235e-07, 5.875806061435594e17, 1e16, 9999999999999998.0, 1e-4, 0.0, -0.0,
              0.1, 12.5, 46.87812, {"lat": 1e-05, "lon": 0.5}, {"lat": 46.8}, [[1e-7]], [0.25]):
        assert codec.dumps(x) == STDLIB.encode(x)


def rows_of(t):
    """Rows as validation leaves them: each field holds its own type."""
    def field(f):
        if f.type in ("real", "counter"):
            return st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**40), 2**40)
        if f.type == "int":
            return st.none() | st.integers(-(2**70), 2**70)
        if f.type == "bool":
            return st.none() | st.booleans()
        return st.none() | st.text()
    return st.fixed_dictionaries({}, optional={f.name: field(f) for f in t.fields})


@given(rows_of(model.UNITS), rows_of(model.RESOURCES), rows_of(model.JOURNAL))
@settings(max_examples=500)
def test_dumps_row_matches_the_standard_library(unit, resource, entry):
    assert codec.dumps_row(model.UNITS, unit) == STDLIB.encode(unit)
    assert codec.dumps_row(model.RESOURCES, resource) == STDLIB.encode(resource)
    assert codec.dumps_row(model.JOURNAL, entry) == STDLIB.encode(entry)


@given(st.lists(st.tuples(rows_of(model.UNITS), st.sampled_from(["set", "delete"]),
                          st.lists(st.tuples(st.just(ORIGIN), st.integers(1, 2**40)), max_size=3)),
                min_size=1, max_size=20))
@settings(max_examples=300)
def test_wire_row_is_the_change_in_wire_form(items):
    """Senders write a change's wire text from the log's own JSON (value and
    versions spliced in undecoded): it must read as the change's wire form."""
    for seq, (row, kind, prev) in enumerate(items, 1):
        value = codec.dumps_row(model.UNITS, row) if kind == "set" else codec.dumps(True)
        stored = (ORIGIN, seq, 7 + seq, "units", R, "*", kind, value, codec.dumps(prev), "op\u00e9\"", "Fire\n")
        change = Change(*stored[:7], json.loads(value), tuple(tuple(p) for p in prev), *stored[9:])
        assert json.loads(codec.wire_row(stored)) == json.loads(json.dumps(codec.encode(change)))


def _field_values(f):
    """Values in stored form for field `f`, and values that are not."""
    good = {
        "text": st.text(min_size=1).map(str.strip).filter(bool),
        "enum": st.sampled_from(f.choices or ("x",)),
        "ref": st.text("0123456789abcdef", min_size=32, max_size=32),
        "time": st.datetimes(timezones=st.just(model.UTC)).map(model.format_time),
        "bool": st.booleans(),
        "int": st.integers(-(2**70), 2**70),
        "real": st.floats() | st.integers(-(2**70), 2**70),
        "counter": st.floats() | st.integers(-(2**70), 2**70),
    }[f.type]
    odd = (st.none() | st.text() | st.booleans() | st.integers() | st.floats() | st.lists(st.integers(), max_size=2)
           | st.sampled_from([" on_scene", "On Scene", "Main \udcff St", "2026-11-25T18:30:00+00:00",
                              "2026-11-25 18:30Z", "x" * 4001, "1" * 32 + " ", 10**30, 10**400, -0.0]))
    return good | odd


@st.composite
def wire_changes(draw):
    """Changes in wire form, mostly well formed, some not in many ways."""
    t = draw(st.sampled_from(list(model.TABLES.values())))
    kind = draw(st.sampled_from(["insert"] * 3 + ["set", "add", "delete", "resolve"]))
    fields = list(t.fields) + ([] if t.append_only else [model.DELETED])
    if kind == "insert":
        field = codec.ROW_FIELD
        names = draw(st.lists(st.sampled_from(fields), unique=True))
        value = {f.name: draw(_field_values(f)) for f in names}
        if draw(st.integers(0, 9)) == 0:
            value[draw(st.text(max_size=5))] = 1
    else:
        f = draw(st.sampled_from(fields))
        field, value = f.name, draw(_field_values(f) | st.just(True))
    ids = st.text("0123456789abcdef", min_size=32, max_size=32)
    change = [draw(ids), draw(st.integers(1, 2**40)), draw(st.integers(0, 2**62)), t.name, draw(ids), field, kind,
              value, draw(st.lists(st.lists(ids, min_size=1, max_size=1).map(lambda x: [x[0], 7]), max_size=2)),
              draw(st.sampled_from(["dana", "Dana Ölund", "x" * 201])), "Fire"]
    if draw(st.integers(0, 9)) == 0:
        change[draw(st.integers(0, 10))] = draw(st.none() | st.integers() | st.text(max_size=3) | st.booleans())
    return change


@given(wire_changes())
@example(wire(field="lat", value=10**400))
@example(wire(table="resources", field="quantity", kind="add", value=None))
@settings(max_examples=2000)
def test_decode_returns_a_valid_change_or_refuses_with_a_reason(obj):
    """Whatever arrives, decode gives a change that decodes to itself again,
    or a ValidationError: never another exception."""
    try:
        c = codec.decode(obj)
    except model.ValidationError as exc:
        assert str(exc)
        return
    assert repr(codec.decode(json.loads(json.dumps(codec.encode(c))))) == repr(c)
