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


def test_a_deleted_rows_fields_have_no_conflicts_until_it_is_restored():
    """A collision on a field of a row deleted since (knowingly: the delete
    saw both versions) is no open conflict: the row is on no board, and its
    fields could not be reconciled without restoring it. Restored, the row
    has it again. A delete against a restore, and edits a delete did not
    see, stay conflicts."""
    a, b = h(O1, 2, 10, '"on_scene"'), h(O2, 3, 11, '"returning"')
    delete = h(O1, 4, 12, "true", "delete", prev=((O1, 2), (O2, 3)))
    assert [c.field for c in merge.row_conflicts("units", "r", {"status": [a, b]})] == ["status"]
    assert merge.row_conflicts("units", "r", {"status": [a, b], "deleted": [delete]}) == []
    restored = h(O2, 5, 13, "false", "set", prev=((O1, 4),))
    assert [c.field for c in merge.row_conflicts("units", "r", {"status": [a, b], "deleted": [restored]})] == [
        "status"]
    # Deleted on one console, restored on another at once: the delete shows (the later), and is in conflict.
    restored_apart = h(O2, 5, 11, "false", "set", prev=((O1, 2), (O2, 3)))
    found = merge.row_conflicts("units", "r", {"status": [a, b], "deleted": [delete, restored_apart]})
    assert [(c.field, c.kind) for c in found] == [("deleted", "field")]
    # An edit the delete did not see: the delete's own conflict, not the field's.
    unseen = h(O2, 6, 14, '"available"')
    found = merge.row_conflicts("units", "r", {"status": [a, unseen], "deleted": [delete]})
    assert [(c.field, c.kind) for c in found] == [("deleted", "delete")]


def test_a_stock_item_merged_aways_target_collides_even_deleted_and_is_no_edit_against_the_delete():
    """Two merges of one stock item into different ones: its `merged_into`
    still matters once it is deleted (the item its stock counts in), so
    that collision stays open; and reconciling it after the delete is no
    edit against the delete."""
    into_a = h(O1, 2, 10, '"a"')
    into_b = h(O2, 2, 10, '"b"')
    del_a = h(O1, 3, 11, "true", "delete", prev=((O1, 2),))
    del_b = h(O2, 3, 11, "true", "delete", prev=((O2, 2),))
    found = merge.row_conflicts("resources", "r", {"merged_into": [into_a, into_b], "deleted": [del_a, del_b]})
    assert [(c.field, c.kind) for c in found] == [("merged_into", "field")]
    settled = h(O1, 4, 12, '"b"', "resolve", prev=((O1, 2), (O2, 2)))
    assert merge.row_conflicts("resources", "r", {"merged_into": [settled], "deleted": [del_a, del_b]}) == []
