import pytest

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
        (wire(field="callsign", value=None), "required"),
        (wire(prev="x"), "prev must be"),
        (wire(prev=[[ORIGIN]]), "prev entry"),
        (wire(prev=[[ORIGIN, 1]] * 300), "at most 256"),
        (wire(operator=None), "operator must be"),
        (wire(agency="x" * 500), "agency must be"),
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


def test_insert_fills_defaults_and_normalises():
    c = codec.decode(wire(field="*", kind="insert", value={"callsign": " E-1 ", "agency": "F", "kind": "E",
                                                             "status": "On Scene"}))
    assert c.value["callsign"] == "E-1" and c.value["status"] == "on_scene" and c.value["lat"] is None
