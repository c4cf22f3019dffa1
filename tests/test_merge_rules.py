from console import merge
from console.merge import Head

O1, O2 = "1" * 32, "2" * 32


def h(origin, seq, hlc, value, kind="set", prev=()):
    return Head(origin, seq, hlc, kind, value, prev)


def test_winner_is_last_writer_ties_broken_by_origin():
    assert merge.winner([h(O1, 1, 10, '"a"'), h(O2, 1, 9, '"b"')]).value == '"a"'
    assert merge.winner([h(O1, 1, 10, '"a"'), h(O2, 1, 10, '"b"')]).value == '"b"'


def test_field_conflict_needs_differing_values_and_is_order_free():
    a, b = h(O1, 2, 10, '"on_scene"'), h(O2, 3, 11, '"returning"')
    assert merge.field_conflict("units", "r", "status", [a]) is None
    assert merge.field_conflict("units", "r", "status", [a, h(O2, 3, 11, '"on_scene"')]) is None
    c1 = merge.field_conflict("units", "r", "status", [a, b])
    c2 = merge.field_conflict("units", "r", "status", [b, a])
    assert c1 == c2 and [x[1] for x in c1.candidates] == [a, b]


def test_concurrent_resolutions_do_not_reopen_the_conflict():
    r1, r2 = h(O1, 5, 20, '"a"', "resolve"), h(O2, 5, 21, '"b"', "resolve")
    assert merge.field_conflict("units", "r", "status", [r1, r2]) is None
    assert merge.field_conflict("units", "r", "status", [r1, h(O2, 6, 22, '"c"')]) is not None


def test_delete_conflict_only_for_edits_the_delete_did_not_see():
    seen_edit = h(O1, 2, 10, '"x"')
    unseen_edit = h(O2, 4, 12, '"y"')
    delete = h(O1, 3, 11, "true", "delete", prev=((O1, 2),))
    assert merge.delete_conflict("units", "r", {"deleted": [delete], "notes": [seen_edit]}) is None
    c = merge.delete_conflict("units", "r", {"deleted": [delete], "notes": [seen_edit], "status": [unseen_edit]})
    assert c.kind == "delete" and [f for f, _ in c.candidates] == ["deleted", "status"]
    restored = h(O2, 5, 13, "false", "set", prev=((O1, 3),))
    assert merge.delete_conflict("units", "r", {"deleted": [restored], "status": [unseen_edit]}) is None
