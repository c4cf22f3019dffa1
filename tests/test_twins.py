"""A callsign on two units (Store.twins), added on consoles that were apart,
and merging them into one (Store.merge_units): the same row kept on every
console, a status taken over keeping its time, one step to undo."""

import itertools

import pytest
from conftest import converge, one_by_one, snapshot, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import task, unit
from test_undo import ticking

from console import codec
from console.model import ValidationError
from console.store import MERGE_LIMIT, NotFound

NAMES = itertools.count()  # each example of a property test its own files


def apart(make_store, wall=None):
    """Two consoles that each added Medic 7 while apart, then met: EMS's
    first (on scene at the levee), the EOC's later (still available). Their
    clock ticks, so that the first added is first to the millisecond."""
    wall = wall or ticking()
    n = next(NAMES)
    ems = make_store(f"ems{n}", agency="County EMS", operator="Sgt. Lee", wall=wall)
    eoc = make_store(f"eoc{n}", agency="EOC", operator="Capt. Ortiz", wall=wall)
    levee = task(ems, "Levee breach")
    sync(ems, eoc)
    first = unit(ems, "Medic 7", agency="County EMS", kind="Ambulance", status="on scene", task_id=levee,
                 personnel=2)
    second = unit(eoc, "medic 7", agency="County EMS", kind="Ambulance", location="Station 2")
    converge([ems, eoc])
    return ems, eoc, levee, first, second


def merged(store):
    """The journal's entries of the last merge: (about the unit kept, about each other)."""
    entries = [e for e in store.journal(limit=20) if e.action == "merge"]
    kept = [e.text for e in entries if "units merged into one" in e.text]
    return kept[0], [e.text for e in entries if "merged into the" in e.text]


def live_callsigns(store):
    return sorted(u.callsign for u in store.list("units"))


def test_a_callsign_added_on_two_consoles_apart_is_listed_on_both(make_store):
    ems, eoc, _, first, second = apart(make_store)
    for s in (ems, eoc):
        (tw,) = s.twins()
        assert s.twin_count() == 1
        assert [t.unit.id for t in tw.units] == [first, second]  # first added first
        assert [(t.agency, t.operator) for t in tw.units] == [("County EMS", ems.operator), ("EOC", eoc.operator)]
        assert tw.units[0].added_at < tw.units[1].added_at
    # On one console the second is refused, as before.
    with pytest.raises(ValidationError, match="already in use"):
        unit(ems, "MEDIC 7")
    # Another callsign, or a deleted twin, is no twin.
    unit(ems, "Medic 8")
    ems.delete("units", second)
    assert ems.twins() == [] and ems.twin_count() == 0


def test_merging_keeps_the_first_added_with_its_values_and_deletes_the_other(make_store):
    ems, eoc, levee, first, second = apart(make_store)
    before = ems.get("units", first)
    kept = eoc.merge_units([second, first])  # in any order
    assert kept == first
    assert eoc.get("units", first) == before
    with pytest.raises(NotFound):
        eoc.get("units", second)
    assert eoc.twins() == [] and live_callsigns(eoc) == ["Medic 7"]
    kept, (other,) = merged(eoc)
    assert kept.startswith("Medic 7: 2 units merged into one, the one added by County EMS (Sgt. Lee)")
    assert kept.endswith("keeping its values")
    assert other.startswith("medic 7 (added by EOC (Capt. Ortiz)")
    assert "merged into the Medic 7 added by County EMS" in other
    converge([ems, eoc])
    assert snapshot(ems) == snapshot(eoc) and ems.twins() == []
    assert eoc.get("tasks", levee).status == "assigned"


def test_merging_with_the_other_units_values_keeps_its_status_time_and_staffs_its_task(make_store):
    """The EOC's Medic 7 is the one dispatchers kept up to date: put on the
    levee, on scene since 14:02. Merged into the EMS row with its values,
    the unit is on scene since 14:02, not since the merge."""
    wall = ticking()
    ems, eoc = make_store("ems", agency="County EMS", wall=wall), make_store("eoc", agency="EOC", wall=wall)
    levee, roads = task(ems, "Levee breach"), task(ems, "Road closures")
    sync(ems, eoc)
    first = unit(ems, "Medic 7", status="dispatched", task_id=roads, location="Station 1")
    second = unit(eoc, "Medic 7", location="Station 2")
    eoc.update("units", second, {"status": "on scene", "task_id": levee})
    on_scene = eoc.get("units", second).status_since
    converge([ems, eoc])
    assert ems.get("tasks", roads).status == "assigned"
    kept = ems.merge_units([first, second], keep=second[-8:])
    assert kept == first
    u = ems.get("units", first)
    assert (u.status, u.task_id, u.location, u.status_since) == ("on_scene", levee, "Station 2", on_scene)
    assert ems.get("tasks", roads).status == "open"  # its only unit left it
    assert ems.get("tasks", levee).status == "assigned"
    text, _ = merged(ems)
    assert "taking the values of the one added by EOC" in text and "status dispatched → on scene" in text
    converge([ems, eoc])
    assert snapshot(ems) == snapshot(eoc)
    assert eoc.get("units", first).status_since == on_scene
    # One step to undo: both units back as they were, times included.
    ems.undo([ems.last_operation])
    a, b = ems.get("units", first), ems.get("units", second)
    assert (a.status, a.task_id, a.location) == ("dispatched", roads, "Station 1")
    assert (b.status, b.task_id, b.status_since) == ("on_scene", levee, on_scene)
    assert ems.get("tasks", roads).status == "assigned" and ems.twin_count() == 1


def test_two_people_merging_at_once_keep_the_same_row_and_their_picks_meet_as_a_conflict(make_store):
    """Each console merges while apart, one keeping each unit's values:
    neither unit is lost (as it would be if each kept its pick and deleted
    the other); the row kept is the same, and its differing values are a
    conflict to reconcile, as any two edits at once."""
    ems, eoc, _, first, second = apart(make_store)
    ems.merge_units([first, second])
    eoc.merge_units([first, second], keep=second)
    converge([ems, eoc])
    assert snapshot(ems) == snapshot(eoc)
    assert live_callsigns(ems) == ["Medic 7"] or live_callsigns(ems) == ["medic 7"]
    assert ems.twins() == []
    fields = {c.field for c in ems.conflicts()}
    assert {"status", "task_id"} <= fields


def test_a_merge_is_refused_with_a_reason_and_changes_nothing(make_store):
    _ems, eoc, _, first, second = apart(make_store)
    other = unit(eoc, "Medic 9")
    n = eoc.info().changes
    with pytest.raises(ValidationError, match="two or more"):
        eoc.merge_units([first, first])
    with pytest.raises(ValidationError, match="must be one of those merged"):
        eoc.merge_units([first, second], keep=other)
    with pytest.raises(NotFound):
        eoc.merge_units([first, "ffffffffffff"])
    # The status a merge writes names each unit's, and the row's heads: within what peers take.
    assert MERGE_LIMIT + 100 <= codec.MAX_PREV
    many = eoc.add_many("units", [{"callsign": f"X-{i}", "agency": "A", "kind": "K"} for i in range(MERGE_LIMIT)])
    n = eoc.info().changes
    with pytest.raises(ValidationError, match=f"{MERGE_LIMIT + 1} units named: at most {MERGE_LIMIT}"):
        eoc.merge_units([first, *many])
    with pytest.raises(ValidationError, match="'Medic 7' is the callsign of 2 units, added on consoles apart"):
        eoc.merge_units(["Medic 7", other])  # a callsign on two units names neither
    assert eoc.info().changes == n
    assert eoc.twin_count() == 1


def test_units_with_a_conflict_open_are_reconciled_before_they_are_merged(make_store):
    """A merge writes the fields the units disagree on: it would settle an
    open conflict on one of them without anyone choosing. It is refused,
    saying which, until that conflict is reconciled."""
    ems, eoc, _, first, second = apart(make_store)
    ems.update("units", second, {"status": "en route"})
    eoc.update("units", second, {"status": "returning"})
    converge([ems, eoc])
    (c,) = eoc.conflicts()
    n = eoc.info().changes
    with pytest.raises(ValidationError, match="medic 7: its status is in conflict; reconcile that first"):
        eoc.merge_units([first, second], keep=second)
    assert eoc.info().changes == n
    eoc.resolve(c.id, keep=1)
    eoc.merge_units([first, second], keep=second)
    assert eoc.twin_count() == 0 and eoc.get("units", first).status == c.candidates[0].value


def test_a_merge_taking_a_callsign_another_unit_has_is_refused(make_store):
    ems, eoc, _, first, second = apart(make_store)
    eoc.update("units", second, {"callsign": "Medic 7B"})
    unit(ems, "Medic 7B")  # added on the other console meanwhile
    converge([ems, eoc])
    (tw,) = ems.twins()
    assert tw.callsign == "Medic 7B"
    n = ems.info().changes
    with pytest.raises(ValidationError, match="'Medic 7B' is already in use"):
        ems.merge_units([first, second], keep=second)
    assert ems.info().changes == n


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), edited=st.booleans(), keep_second=st.booleans(),
       undo=st.booleans())
def test_every_console_shows_the_same_merge_whatever_order_its_changes_arrive_in(make_store, order, edited,
                                                                                 keep_second, undo):
    """The changes of two consoles apart and a merge (undone or not),
    delivered to a third one by one in any order (a status named before it
    arrives, be it an edit or the insert of a unit, as a merge names the
    other unit's status): the third shows what the merging console shows,
    status times included."""
    wall = ticking()
    ems, eoc, levee, first, second = apart(make_store, wall)
    if edited:
        eoc.update("units", second, {"status": "en route", "task_id": levee})
        sync(eoc, ems)
    ems.merge_units([first, second], keep=second if keep_second else None)
    if undo:
        ems.undo([ems.last_operation])
    third = make_store(f"third{next(NAMES)}", wall=wall)
    one_by_one(ems, third, order)
    assert snapshot(third) == snapshot(ems)
    assert [(u.id, u.status, u.status_since) for u in third.list("units")] == \
        [(u.id, u.status, u.status_since) for u in ems.list("units")]
    assert third._conn.execute("SELECT count(*) FROM superseded").fetchone()[0] == 0


def test_the_unit_kept_has_the_history_of_the_units_merged_into_it(make_store):
    """Medic 7 entered at EMS and at the EOC apart: what each did is the one
    unit's history. Merged, the journal of the unit kept (and its activity
    log, ICS 214) holds the other's entries too, merges of merges included;
    undone, each has its own again."""
    from console import report

    ems, eoc, _, first, second = apart(make_store)
    eoc.note("Medic 7 restocked at Station 2", "units", second)
    third = unit(eoc, "Medic 7B", agency="County EMS", kind="Ambulance")
    eoc.note("Medic 7B fuelled", "units", third)
    converge([ems, eoc])
    own = {e.text for e in eoc.journal(table="units", row=first)}
    theirs = {e.text for e in eoc.journal(table="units", row=second)}
    assert "Medic 7 restocked at Station 2" in theirs and "Medic 7 restocked at Station 2" not in own
    eoc.merge_units([second, third])  # a merge, then a merge of that
    eoc.merge_units([first, second])
    whole = [e.text for e in eoc.journal(table="units", row=first, limit=100)]
    assert {"Medic 7 restocked at Station 2", "Medic 7B fuelled"} <= set(whole) and own <= set(whole)
    assert eoc.journal_count(table="units", row=first) == len(whole)
    log = report.build_activity(eoc, first, hours=24)
    assert "Medic 7B fuelled" in [e.text for e in log.entries] and log.entries_total == len(whole)
    converge([ems, eoc])  # every console says the same
    assert [e.text for e in ems.journal(table="units", row=first, limit=100)] == whole
    eoc.undo([eoc.last_operation])  # the second merge taken back: Medic 7's history is its own again
    assert "Medic 7 restocked at Station 2" not in {e.text for e in eoc.journal(table="units", row=first)}
    assert "Medic 7B fuelled" in {e.text for e in eoc.journal(table="units", row=second)}
