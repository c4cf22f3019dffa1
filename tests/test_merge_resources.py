"""Stock entered twice (the same pallet of sandbags added on two consoles
apart, or by two people at once), merged into one (Store.merge_resources):
the first added kept on every console, its quantity theirs added up, the
others deleted naming it; stock drawn from one merged away, on a console
that has not seen the merge, counts in the row kept; two people merging at
once count the stock once; one step to undo."""

import itertools
import time

import pytest
from conftest import as_version, converge, one_by_one, snapshot, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_undo import ticking

from console import clock
from console.model import ValidationError
from console.store import SCHEMA_VERSION, NotFound, Store

NAMES = itertools.count()  # each example of a property test its own files


def stock(store, name, quantity, unit="bags", **values):
    return store.add("resources", {"name": name, "kind": "Supply", "agency": "Public Works", "quantity": quantity,
                                   "unit": unit, **values})


def apart(make_store, wall=None):
    """The EOC and the public-works yard each entered the sandbags filled
    at the yard while the network was down: the EOC's first."""
    wall = wall or ticking()
    n = next(NAMES)
    eoc = make_store(f"eoc{n}", agency="EOC", operator="Capt. Ortiz", wall=wall)
    yard = make_store(f"yard{n}", agency="Public Works", operator="J. Park", wall=wall)
    first = stock(eoc, "Sandbags (filled)", 1200)
    second = stock(yard, "sandbags, filled", 800, location="PW yard, bay 3")
    converge([eoc, yard])
    return eoc, yard, first, second


def quantity(store, row):
    return store.get("resources", row).quantity


def merge_entries(store):
    entries = [e.text for e in store.journal(limit=20) if e.action == "merge"]
    return [t for t in entries if "merged into one" in t], [t for t in entries if "merged into the" in t]


def test_merging_adds_up_the_stock_in_the_first_added_and_deletes_the_other(make_store):
    eoc, yard, first, second = apart(make_store)
    kept = yard.merge_resources([second, first], keep=second)  # in any order, from either console
    assert kept == first
    r = yard.get("resources", first)
    assert (r.name, r.location, r.quantity, r.unit) == ("sandbags, filled", "PW yard, bay 3", 2000, "bags")
    with pytest.raises(NotFound):
        yard.get("resources", second)
    gone = yard.get("resources", second, deleted=True)
    assert gone.quantity == 800  # its own count, kept: an undo gives it back
    (text,), (other,) = merge_entries(yard)
    assert text.startswith("Sandbags (filled): 2 resources merged into one, the one added by EOC (Capt. Ortiz)")
    assert "800 bags counted in from the other (now 2000 bags)" in text
    assert other.startswith("sandbags, filled (added by Public Works (J. Park)")
    assert "it had 800 bags, counted in it" in other
    # The stock tally and a draw's check read the sum.
    assert yard.tally("resources", ["kind"], "quantity") == [("Supply", 1, 2000.0)]
    with pytest.raises(ValidationError, match="only 2000 bags of sandbags, filled on hand"):
        yard.adjust(first, -2001)
    assert yard.adjust(first, -1500) == 500
    sync(yard, eoc)
    assert quantity(eoc, first) == 500
    assert snapshot(eoc) == snapshot(yard)


def test_a_merge_is_undone_in_one_step_and_each_gets_its_own_stock_back(make_store):
    eoc, _, first, second = apart(make_store)
    eoc.merge_resources([first, second])
    merged = eoc.last_operation
    eoc.undo([merged])
    assert quantity(eoc, first) == 1200 and quantity(eoc, second) == 800
    assert eoc.get("resources", second).location == "PW yard, bay 3"


def test_two_people_merging_the_same_stock_at_once_count_it_once(make_store):
    eoc, yard, first, second = apart(make_store)
    assert eoc.merge_resources([first, second]) == yard.merge_resources([second, first], keep=second) == first
    converge([eoc, yard])
    assert snapshot(eoc) == snapshot(yard)
    assert quantity(eoc, first) == 2000
    # Their picks of values meet as a conflict; the stock does not.
    assert {c.field for c in eoc.conflicts()} <= {"name", "location"}
    assert [r.id for r in eoc.list("resources")] == [first]


def test_stock_drawn_from_an_item_merged_away_meanwhile_counts_in_the_one_kept(make_store):
    """The yard, not having seen the EOC merge the two rows, draws 300
    bags from its own for the levee; once they meet, the row kept shows
    the draw, on both, whichever arrives first."""
    eoc, yard, first, second = apart(make_store)
    eoc.merge_resources([first, second])
    yard.adjust(second, -300, "levee breach")
    yard.adjust(second, 50)
    converge([eoc, yard])
    assert quantity(eoc, first) == quantity(yard, first) == 1750
    assert snapshot(eoc) == snapshot(yard)
    assert eoc.open_conflict_count() == 0  # a draw is no edit: nothing to reconcile
    # The row kept's journal holds the draws from the row merged into it.
    about = [e.text for e in eoc.journal(table="resources", row=first)]
    assert "Drew 300 bags from sandbags, filled (now 500) for levee breach" in about
    assert about == [e.text for _, e in yard.journal_page(table="resources", row=first)]
    assert eoc.journal_count(table="resources", row=first) == len(about)
    assert "Sandbags (filled)" not in " ".join(e.text for e in eoc.journal(table="resources", row=second)
                                               if e.action != "merge")
    # The yard takes back its 50 added: from the row it counts in now, and
    # only while that one holds them.
    added = yard.last_operation
    eoc.adjust(first, -1750)
    sync(eoc, yard)
    with pytest.raises(ValidationError, match=r"^sandbags, filled: only 0 on hand; cannot take back the 50 bags added"):
        yard.undo([added])
    eoc.adjust(first, 80)
    sync(eoc, yard)
    assert yard.undo([added]).left == ()
    sync(yard, eoc)
    assert quantity(eoc, first) == quantity(yard, first) == 30


def test_items_merged_on_into_others_count_in_the_last_one_kept(make_store):
    """Three rows of the same stock: the yard merges two, the EOC (apart)
    merges the third into the first added; after they meet, one row holds
    it all, on both."""
    wall = ticking()
    eoc, yard, first, second = apart(make_store, wall)
    third = stock(yard, "Sandbags filled", 100)
    sync(yard, eoc)
    yard.merge_resources([second, third])  # kept: second (added before third)
    merged_at_yard = yard.last_operation
    eoc.merge_resources([first, second])
    converge([eoc, yard])
    assert snapshot(eoc) == snapshot(yard)
    assert [(r.id, r.quantity) for r in eoc.list("resources")] == [(first, 2100)]
    # Undone at the yard, in turn: the third is its own row again.
    yard.undo([merged_at_yard])
    converge([eoc, yard])
    assert sorted((r.id, r.quantity) for r in eoc.list("resources")) == sorted([(first, 2000), (third, 100)])


def test_two_merges_arriving_together_count_an_item_merged_in_then_on_once(make_store):
    """Row ids follow each console's wall clock; the row a merge keeps is
    the first added by the synced clock. With clocks a minute apart, an
    item merged away can have a lower id than the item it went into, so a
    console receiving both merges at once moves the first into the second
    before moving the second on, and the second must take it along."""
    ahead = make_store("ahead", wall=lambda: clock.wall_ms() + 60_000)
    mid = make_store("mid")
    behind = make_store("behind", wall=lambda: clock.wall_ms() - 60_000)
    c = stock(ahead, "Sandbags", 5)  # added first (lowest id), with the latest clock time
    time.sleep(0.002)
    a = stock(mid, "Sandbags", 70)
    time.sleep(0.002)
    z = stock(behind, "Sandbags", 300)  # added last (highest id), with the earliest clock time
    assert c < a < z
    sync(ahead, mid)
    assert mid.merge_resources([c, a]) == a
    sync(mid, behind)
    assert behind.merge_resources([a, z]) == z
    fresh = make_store("fresh")
    changes = [x for part in behind.all_changes() for x in part]
    assert fresh.apply(changes).applied == len(changes)  # one batch, both merges in it
    assert [(r.id, r.quantity) for r in fresh.list("resources")] == [(z, 375)]
    assert snapshot(fresh) == snapshot(behind)


def test_an_item_edited_apart_from_its_merge_is_reconciled_and_its_stock_follows(make_store):
    """The yard moved its sandbags while the EOC merged them away: the
    delete meets the edit as a conflict. Kept, the item holds its own stock
    again; the delete chosen, it counts in the row kept once more."""
    eoc, yard, first, second = apart(make_store)
    eoc.merge_resources([first, second])
    yard.update("resources", second, {"location": "Levee staging"})
    converge([eoc, yard])
    (c,) = eoc.conflicts()
    assert c.kind == "delete" and quantity(eoc, first) == 2000
    merge = next(x for x in c.candidates if x.field == "deleted")
    assert eoc.merge_said(c.table, c.row, merge.origin, merge.seq) == (
        "merged into Sandbags (filled): its 800 bags count there")
    keep_edit = next(i for i, x in enumerate(c.candidates, 1) if x.field == "location")
    eoc.resolve(c.id, keep=keep_edit)
    converge([eoc, yard])
    assert (quantity(yard, first), quantity(yard, second)) == (1200, 800)
    assert snapshot(eoc) == snapshot(yard)
    # Deleted now by hand: its stock goes with it, not into the row it was once merged into.
    yard.delete("resources", second)
    converge([eoc, yard])
    assert quantity(eoc, first) == 1200
    assert eoc.get("resources", second, deleted=True).quantity == 800


def test_stock_and_tasks_entered_on_both_sides_are_said_for_a_person_to_merge(make_store):
    """Once consoles apart meet, the stock of one name (of one agency, in
    one unit) and the tasks still to do of one title that each added are
    said, for a person to merge if they are one; another agency's stock,
    another unit's, a task done, or two added at one console are not."""
    wall = ticking()
    eoc, yard, first, _ = apart(make_store, wall)
    again = stock(yard, "SANDBAGS  (filled)", 40)
    stock(yard, "Sandbags (filled)", 5, agency="County Fire")
    stock(yard, "Sandbags (filled)", 2, unit="pallets")
    levee = eoc.add("tasks", {"title": "Levee breach"})
    levee2 = yard.add("tasks", {"title": "levee breach"})
    done = yard.add("tasks", {"title": "Road closure"})
    eoc.add("tasks", {"title": "Road closure"})
    yard.update("tasks", done, {"status": "completed"})
    eoc.add("tasks", {"title": "Welfare check"})
    eoc.add("tasks", {"title": "Welfare check"})
    converge([eoc, yard])
    said = [(table, [r.id for r in rows]) for table, rows in eoc.entered_apart()]
    assert said == [("tasks", [levee, levee2]), ("resources", [first, again])]
    assert yard.entered_apart() == eoc.entered_apart()
    later = clock.to_iso(clock.pack(wall() + 60_000))
    assert eoc.entered_apart(later) == []
    eoc.merge_resources([first, again])
    assert [table for table, _ in eoc.entered_apart()] == ["tasks"]


def test_a_merge_of_stock_is_refused_with_a_reason_and_changes_nothing(make_store):
    eoc, yard, first, second = apart(make_store)
    pallets = stock(eoc, "Sandbags (filled)", 4, unit="pallets")
    before = snapshot(eoc)
    with pytest.raises(ValidationError, match=r"counted in different units \(bags, pallets\)"):
        eoc.merge_resources([first, pallets])
    with pytest.raises(ValidationError, match="two or more"):
        eoc.merge_resources([first, first])
    with pytest.raises(ValidationError, match="must be one of those merged"):
        eoc.merge_resources([first, second], keep=pallets)
    with pytest.raises(ValidationError, match="set by merging resources"):
        eoc.update("resources", second, {"merged_into": first})
    with pytest.raises(ValidationError, match="set by merging resources"):
        eoc.add("resources", {"name": "x", "kind": "y", "agency": "z", "merged_into": first})
    assert snapshot(eoc) == before
    yard.update("resources", second, {"location": "Bay 4"})
    eoc.update("resources", second, {"location": "Bay 5"})
    converge([eoc, yard])
    before = snapshot(eoc)
    with pytest.raises(ValidationError, match="its location is in conflict; reconcile that first"):
        eoc.merge_resources([first, second])
    assert snapshot(eoc) == before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), both=st.booleans(), keep_second=st.booleans(),
       undo=st.booleans(), draw=st.booleans(), chain=st.booleans())
def test_every_console_shows_the_same_stock_whatever_order_the_changes_arrive_in(
        make_store, order, both, keep_second, undo, draw, chain):
    """Two consoles apart, a merge (made on both at once, or undone, or
    with stock drawn meanwhile from the row merged away, or merged on into
    a third row added earlier on another console), delivered one change at
    a time in any order to a third console: it shows what the two show
    once they have met, and the row kept holds every delta once."""
    wall = ticking()
    n = next(NAMES)
    early = make_store(f"early{n}", agency="County Fire", operator="Lt. Diaz", wall=wall)
    oldest = stock(early, "Sandbags", 10) if chain else None
    eoc, yard, first, second = apart(make_store, wall)
    eoc.merge_resources([first, second], keep=second if keep_second else None)
    if draw:  # the yard has not seen the merge
        yard.adjust(second, -250)
    if both:
        yard.merge_resources([first, second], keep=None if keep_second else second)
    if undo:
        eoc.undo([eoc.last_operation])
    if chain:
        sync(early, eoc)
        eoc.merge_resources([oldest, first])
    converge([eoc, yard, early])
    assert snapshot(eoc) == snapshot(yard) == snapshot(early)
    third = make_store(f"third{n}", wall=wall)
    one_by_one(eoc, third, order)
    assert snapshot(third) == snapshot(eoc)
    assert third._conn.execute("SELECT count(*) FROM superseded").fetchone()[0] == 0
    total = 2000 - 250 * draw + 10 * chain
    assert sum(r.quantity for r in third.list("resources")) == total
    assert len(third.list("resources")) == 1 + undo  # (an undo, the latest write, wins over a merge at once)


def test_a_version_5_database_gets_the_merged_into_column_and_keeps_its_stock(make_store, tmp_path):
    eoc, yard, first, second = apart(make_store)
    path = as_version(eoc, 5, "DROP INDEX IF EXISTS resources_merged", "ALTER TABLE resources DROP COLUMN merged_into")
    with Store(path) as s:
        assert s.info().schema_version == SCHEMA_VERSION
        assert s._conn.execute("SELECT name FROM sqlite_master WHERE name = 'resources_merged'").fetchone()
        assert s.merge_resources([first, second]) == first
        assert s.get("resources", first).quantity == 2000
        sync(s, yard)
        assert yard.get("resources", first).quantity == 2000


def test_stock_added_with_its_quantity_left_empty_holds_0(make_store):
    """A stock item added with the quantity left empty (a form's blank
    field) holds 0, not nothing: a draw's check, a merge and the note on
    a name already on the board all read a number."""
    eoc = make_store("eoc")
    first = eoc.add("resources", {"name": "Cots", "kind": "Shelter", "agency": "Red Cross", "quantity": None})
    assert eoc.get("resources", first).quantity == 0
    second = stock(eoc, "Cots", 40, unit="each", agency="Red Cross")
    assert eoc.get("resources", eoc.merge_resources([first, second])).quantity == 40


def test_a_side_naming_an_item_merged_on_since_is_kept_and_counts_down_the_chain(make_store):
    """The entry merged at once into two items, which are then merged into
    one: keeping the side that names the item merged away since is taken
    (its stock counts where that item's does), not refused as an item that
    is not on the boards."""
    eoc, yard, first, second = apart(make_store)
    third = stock(yard, "Sandbags (filled)", 50)
    converge([eoc, yard])
    eoc.merge_resources([first, third])
    yard.merge_resources([second, third])
    converge([eoc, yard])
    (c,) = eoc.conflicts()
    eoc.merge_resources([first, second])  # the two kept are one too: into the first added
    converge([eoc, yard])
    side = next(i for i, x in enumerate(c.candidates, 1) if x.value == second)
    assert yard.side_said("resources", "merged_into", second) == (
        "sandbags, filled (the one added by Public Works, J. Park)   (now merged into Sandbags (filled) (the one "
        "added by EOC, Capt. Ortiz))")
    yard.resolve(c.id, keep=side)
    converge([eoc, yard])
    assert eoc.conflicts() == yard.conflicts() == []
    assert quantity(eoc, first) == quantity(yard, first) == 2050
    assert snapshot(eoc) == snapshot(yard)
    eoc.delete("resources", first)
    assert eoc.side_said("resources", "merged_into", first) == (
        "Sandbags (filled) (the one added by EOC, Capt. Ortiz)   (now deleted)")


def test_a_side_naming_an_item_deleted_since_is_kept_and_its_stock_shows_when_it_is_restored(make_store):
    """The entry merged at once into two items, each deleted since: no side
    names an item on the boards, and a person must still be able to
    reconcile. Keeping a side counts the entry's stock in that item, as
    its merge alone would have left it: the entry's 50 bags come back on
    the boards with the item, if it is restored."""
    eoc, yard, first, second = apart(make_store)
    third = stock(yard, "Sandbags (filled)", 50)
    converge([eoc, yard])
    eoc.merge_resources([first, third])
    yard.merge_resources([second, third])
    eoc.delete("resources", first)
    yard.delete("resources", second)
    converge([eoc, yard])
    (c,) = eoc.conflicts()
    assert c.field == "merged_into"
    side = next(i for i, x in enumerate(c.candidates, 1) if x.value == second)
    assert eoc.side_said("resources", "merged_into", second) == (
        "sandbags, filled (the one added by Public Works, J. Park)   (now deleted)")
    eoc.resolve(c.id, keep=side)
    assert eoc.journal(limit=1)[0].text == (
        "Reconciled Sandbags (filled): merged into = sandbags, filled (the one added by Public Works, J. Park) "
        "(now deleted: its stock counts there, and shows again if it is restored)")
    converge([eoc, yard])
    assert eoc.conflicts() == yard.conflicts() == []
    yard.update("resources", second, {"deleted": False})
    converge([eoc, yard])
    assert quantity(eoc, second) == quantity(yard, second) == 850
    assert snapshot(eoc) == snapshot(yard)


def test_two_merges_into_different_items_at_once_are_told_apart_by_who_added_each(make_store, tmp_path):
    """The EOC merges its sandbags and the yard's later entry; the yard,
    at once, merges its own and that same entry: the entry merged into
    two items meets as a conflict, whose sides read alike by name alone,
    so each says who added the item it goes into."""
    wall = ticking()
    eoc, yard, first, second = apart(make_store, wall)
    yard.update("resources", second, {"name": "Sandbags (filled)"})
    third = stock(yard, "Sandbags (filled)", 50)
    converge([eoc, yard])
    eoc.merge_resources([first, third])
    yard.merge_resources([second, third])
    converge([eoc, yard])
    (c,) = [c for c in eoc.conflicts() if c.field == "merged_into"]
    said = sorted(eoc.describe("resources", "merged_into", x.value) for x in c.candidates)
    assert said == ["Sandbags (filled) (the one added by EOC, Capt. Ortiz)",
                    "Sandbags (filled) (the one added by Public Works, J. Park)"]
    # Reconciled with the entry still merged away (it was refused, as a field of a deleted row, and the
    # resolution then met the delete as an edit it had not seen): its stock counts in the side kept, once.
    keep = 2 if c.shown == 1 else 1  # the side the boards do not show
    into = c.candidates[keep - 1].value
    counts = {first: 1200, second: 800}
    assert quantity(eoc, first) + quantity(eoc, second) == 2050 and quantity(eoc, into) == counts[into]
    yard.resolve(c.id, keep=keep)
    converge([eoc, yard])
    assert eoc.conflicts() == yard.conflicts() == []
    counts[into] += 50
    for s in (eoc, yard):
        assert {r: quantity(s, r) for r in counts} == counts
        assert s._conn.execute("SELECT merged_into FROM resources WHERE id = ?", (third,)).fetchone() == (into,)
    assert snapshot(eoc) == snapshot(yard)
