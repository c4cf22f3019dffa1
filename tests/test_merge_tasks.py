"""Tasks that are one task, entered twice (on two consoles apart, or by two
dispatchers at once), merged into one (Store.merge_tasks): the first added
kept on every console, the units on the others moved onto it, the others
deleted with what they said kept in the journal, one step to undo."""

import dataclasses
import itertools

import pytest
from conftest import as_version, converge, one_by_one, snapshot, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import task, unit
from test_undo import ticking

from console.model import ValidationError
from console.store import MERGE_LIMIT, SCHEMA_VERSION, NotFound, Store

NAMES = itertools.count()  # each example of a property test its own files


def apart(make_store, wall=None):
    """The EOC and the fire post each entered the Elm Street evacuation
    while the network was down and sent units to it: the EOC's first."""
    wall = wall or ticking()
    n = next(NAMES)
    eoc = make_store(f"eoc{n}", agency="EOC", operator="Capt. Ortiz", wall=wall)
    fire = make_store(f"fire{n}", agency="County Fire", operator="Sgt. Lee", wall=wall)
    e12, e14, amb = unit(eoc, "E-12"), unit(eoc, "E-14"), unit(eoc, "Amb 31", agency="County EMS", kind="ALS")
    sync(eoc, fire)
    first = task(eoc, "Evacuate Elm St", location="Elm St mobile home park", priority="high")
    eoc.update("units", e12, {"task_id": first, "status": "on scene"})
    second = task(fire, "evacuate elm st", location="Elm Street MHP", priority="urgent",
                  description="42 trailers; 3 residents need lifts", due="2099-11-26T18:30:00Z")
    fire.update_many("units", [e14, amb], {"task_id": second})
    converge([eoc, fire])
    return eoc, fire, first, second, (e12, e14, amb)


def merge_entries(store):
    """The journal's entries of the last merge: (about the task kept, about each other)."""
    entries = [e for e in store.journal(limit=20) if e.action == "merge"]
    kept = [e.text for e in entries if "tasks merged into one" in e.text]
    return kept[0], [e.text for e in entries if "merged into the" in e.text]


def test_merging_keeps_the_first_added_moves_the_units_onto_it_and_deletes_the_other(make_store):
    eoc, fire, first, second, (e12, e14, amb) = apart(make_store)
    statuses = {u: eoc.get("units", u).status for u in (e12, e14, amb)}
    before = eoc.get("tasks", first)
    kept = fire.merge_tasks([second, first])  # in any order, from either console
    assert kept == first
    assert fire.get("tasks", first) == dataclasses.replace(before, assigned_units=("Amb 31", "E-12", "E-14"))
    with pytest.raises(NotFound):
        fire.get("tasks", second)
    assert {u.id for u in fire.units_on(first)} == {e12, e14, amb}
    # Moved as they are: a unit on scene stays on scene, since when it was.
    assert {u: fire.get("units", u).status for u in (e12, e14, amb)} == statuses
    text, (other,) = merge_entries(fire)
    assert text.startswith("Evacuate Elm St: 2 tasks merged into one, the one added by EOC (Capt. Ortiz)")
    assert "keeping its values" in text and "2 units moved onto it from the other: Amb 31, E-14" in text
    # What the deleted task said that the kept one does not is in the journal.
    assert other.startswith("evacuate elm st (added by County Fire (Sgt. Lee)")
    assert "merged into the Evacuate Elm St added by EOC" in other
    assert "and deleted; it had description 42 trailers; 3 residents need lifts; priority urgent" in other
    assert "location Elm Street MHP" in other
    converge([eoc, fire])
    assert snapshot(eoc) == snapshot(fire) and eoc.conflicts() == []
    # One step to undo: the task back, and its units on it.
    fire.undo([fire.last_operation])
    assert fire.get("tasks", second).title == "evacuate elm st"
    assert {u.id for u in fire.units_on(second)} == {e14, amb}
    assert [u.id for u in fire.units_on(first)] == [e12]
    converge([eoc, fire])
    assert snapshot(eoc) == snapshot(fire)


def test_merging_with_the_other_tasks_values_takes_them_and_keeps_the_status_true(make_store):
    eoc, _, first, second, _ = apart(make_store)
    eoc.merge_tasks([first, second], keep=second[-8:])
    t = eoc.get("tasks", first)
    assert (t.title, t.priority, t.location, t.due) == ("evacuate elm st", "urgent", "Elm Street MHP",
                                                        "2099-11-26T18:30:00Z")
    assert t.description.startswith("42 trailers") and t.status == "assigned"
    text, (other,) = merge_entries(eoc)
    assert "taking the values of the one added by County Fire (Sgt. Lee)" in text
    assert "priority high → urgent" in text
    assert other.startswith("evacuate elm st (added by County Fire") and "it had" not in other


def test_a_task_left_open_with_units_on_it_is_assigned_and_one_left_assigned_with_none_open(make_store):
    s = make_store(agency="EOC")
    a, b = task(s, "Road closure Rt 9"), task(s, "Rt 9 closure")
    u = unit(s, "PW-3", agency="Public Works", kind="Truck")
    s.update("units", u, {"task_id": b})
    assert s.get("tasks", b).status == "assigned"
    s.merge_tasks([a, b])  # the open task's values: assigned, PW-3 is on it
    assert s.get("tasks", a).status == "assigned" and [x.id for x in s.units_on(a)] == [u]
    c, d = task(s, "Sandbag Main St"), task(s, "Sandbags Main")
    s.update("tasks", c, {"status": "assigned"})  # by hand, with no unit on it
    s.merge_tasks([c, d], keep=c)
    assert s.get("tasks", c).status == "open"  # staffed by none
    e, f = task(s, "Shelter check"), task(s, "Shelter welfare check")
    s.update("tasks", f, {"status": "completed"})
    s.merge_tasks([e, f], keep=f)
    assert s.get("tasks", e).status == "completed"  # a decision kept as it is


def test_two_people_merging_at_once_keep_the_same_row_and_lose_no_unit(make_store):
    eoc, fire, first, second, units = apart(make_store)
    eoc.merge_tasks([first, second])
    fire.merge_tasks([first, second], keep=second)
    converge([eoc, fire])
    assert snapshot(eoc) == snapshot(fire)
    assert [t.id for t in eoc.list("tasks")] == [first]
    assert {u.id for u in eoc.units_on(first)} == set(units)
    assert {c.field for c in eoc.conflicts()} >= {"title", "priority"}  # their picks meet, to reconcile


def test_a_merge_of_tasks_is_refused_with_a_reason_and_changes_nothing(make_store):
    eoc, fire, first, second, (e12, e14, amb) = apart(make_store)
    other = task(eoc, "Levee breach")
    many = eoc.add_many("tasks", [{"title": f"T{i}"} for i in range(MERGE_LIMIT)])
    n, before = eoc.info().changes, snapshot(eoc)
    with pytest.raises(ValidationError, match="name two or more tasks to merge"):
        eoc.merge_tasks([first, first])
    with pytest.raises(ValidationError, match="the task whose values to keep must be one of those merged"):
        eoc.merge_tasks([first, second], keep=other)
    with pytest.raises(NotFound):
        eoc.merge_tasks([first, "ffffffffffff"])
    with pytest.raises(ValidationError, match=f"{MERGE_LIMIT + 1} tasks named: at most {MERGE_LIMIT}"):
        eoc.merge_tasks([first, *many])
    assert eoc.info().changes == n and snapshot(eoc) == before
    # A conflict on a task, or on the task of a unit the merge would move, is reconciled first.
    eoc.update("tasks", second, {"priority": "normal"})
    fire.update("tasks", second, {"priority": "low"})
    eoc.update("units", e14, {"task_id": other})
    fire.update("units", e14, {"task_id": None})
    fire.update("units", e14, {"task_id": second})  # later: the boards show it on the Elm St task
    converge([eoc, fire])
    n = eoc.info().changes
    with pytest.raises(ValidationError, match="evacuate elm st: its priority is in conflict; reconcile that first"):
        eoc.merge_tasks([first, second])
    (c,) = [c for c in eoc.conflicts() if c.table == "tasks"]
    eoc.resolve(c.id, keep=1)
    n = eoc.info().changes
    with pytest.raises(ValidationError, match="E-14: its task is in conflict; reconcile that first"):
        eoc.merge_tasks([first, second])
    assert eoc.info().changes == n
    (c,) = eoc.conflicts()
    eoc.resolve(c.id, keep=[x.value for x in c.candidates].index(second) + 1)
    eoc.merge_tasks([first, second])
    assert {u.id for u in eoc.units_on(first)} == {e12, e14, amb}


def test_a_side_whose_task_was_merged_since_puts_the_unit_on_the_task_it_went_into(make_store):
    """Apart, the fire post put E-14 on its own entry of the Elm St call
    while the EOC put it on the levee and merged the two entries of the
    call: their sides meet in a conflict. Keeping the fire post's puts E-14
    on the Elm St task kept, as the merge would have moved it; a side
    whose task is deleted (or merged into one deleted) since is refused,
    and entering no task reconciles it."""
    eoc, fire, first, second, (e12, e14, _) = apart(make_store)
    levee = task(eoc, "Levee breach")
    sync(eoc, fire)
    fire.update("units", e14, {"task_id": None})
    fire.update("units", e14, {"task_id": second})
    eoc.update("units", e14, {"task_id": levee})
    eoc.merge_tasks([first, second])
    converge([eoc, fire])
    (c,) = [c for c in eoc.conflicts() if c.field == "task_id"]
    side = [x.value for x in c.candidates].index(second) + 1
    assert eoc.side_said("units", "task_id", second).endswith("(now merged into Evacuate Elm St)")
    eoc.resolve(c.id, keep=side)
    converge([eoc, fire])
    assert eoc.get("units", e14).task_id == fire.get("units", e14).task_id == first
    assert eoc.journal(limit=1)[0].text == ("Reconciled E-14: task = Evacuate Elm St (the side's evacuate elm st, "
                                            "merged into it)")
    # Both sides' tasks gone: no side to keep, and no task entered.
    other = task(eoc, "Shelter")
    sync(eoc, fire)
    eoc.update("units", e12, {"task_id": levee})
    fire.update("units", e12, {"task_id": other})
    eoc.delete("tasks", other)
    fire.delete("tasks", levee)
    converge([eoc, fire])
    (c,) = [c for c in eoc.conflicts() if c.field == "task_id"]
    for keep in (1, 2):
        with pytest.raises(ValidationError, match=r"^E-12: that side puts it on .*, now deleted; keep another side, "
                                                  r"or enter a new value$"):
            eoc.resolve(c.id, keep=keep)
    eoc.resolve(c.id, raw="")
    assert eoc.get("units", e12).task_id is None and [c for c in eoc.conflicts() if c.field == "task_id"] == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), both=st.booleans(), keep_second=st.booleans(),
       undo=st.booleans(), assign=st.booleans())
def test_every_console_shows_the_same_task_merge_whatever_order_its_changes_arrive_in(
        make_store, order, both, keep_second, undo, assign):
    """The changes of two consoles apart, a merge of their tasks (made on
    both at once, or undone, or with a unit put meanwhile on the task the
    merge deletes), delivered to a third console one by one in any order:
    it shows what the two show once they have met."""
    wall = ticking()
    eoc, fire, first, second, (e12, _, _) = apart(make_store, wall)
    eoc.merge_tasks([first, second], keep=second if keep_second else None)
    if assign:  # the fire post has not seen the merge
        fire.update("units", e12, {"task_id": second})
    if both:
        fire.merge_tasks([first, second], keep=None if keep_second else second)
    if undo:
        eoc.undo([eoc.last_operation])
    converge([eoc, fire])
    assert snapshot(eoc) == snapshot(fire)
    third = make_store(f"third{next(NAMES)}", wall=wall)
    one_by_one(eoc, third, order)
    assert snapshot(third) == snapshot(eoc)
    assert third._conn.execute("SELECT count(*) FROM superseded").fetchone()[0] == 0
    assert third.stranded() == eoc.stranded() == fire.stranded()
    assert len(eoc.stranded()) == (assign and not both and not undo)


def test_a_unit_put_on_a_task_merged_away_meanwhile_is_listed_with_the_task_it_went_into(make_store):
    """The fire post, not having seen the EOC merge the two Elm Street
    tasks, puts E-12 on its own (already staffed, so the task row itself
    is not edited and no conflict arises). Once they meet, every console
    lists E-12 as on a deleted task, merged into the one kept, until a
    person puts it there (or elsewhere)."""
    eoc, fire, first, second, (e12, _, _) = apart(make_store)
    eoc.update("units", e12, {"task_id": None, "status": "available"})
    sync(eoc, fire)
    eoc.merge_tasks([first, second])
    fire.update("units", e12, {"task_id": second, "status": "on scene"})
    assert fire.stranded() == [] and eoc.stranded() == []
    converge([eoc, fire])
    for s in (eoc, fire):
        (x,) = s.stranded()
        assert s.stranded_count() == 1 and s.info().stranded == 1
        assert (x.unit.id, x.task_id, x.title, x.merged, x.deleted_by, x.into, x.into_title) == (
            e12, second, "evacuate elm st", True, "EOC (Capt. Ortiz)", first, "Evacuate Elm St")
        assert x.unit.status == "on_scene"
    assert snapshot(eoc) == snapshot(fire)
    # Put on the task kept, as it is (on scene, not dispatched again): settled.
    fire.update("units", e12, {"task_id": first, "status": "on scene"})
    assert fire.get("units", e12).status == "on_scene" and fire.stranded() == []
    converge([eoc, fire])
    assert eoc.stranded() == [] and eoc.stranded_count() == 0
    # Undone, it would put E-12 back on the task merged away: refused, saying how it went.
    with pytest.raises(ValidationError, match="E-12: task was evacuate elm st, merged into Evacuate Elm St "
                                              "before that"):
        fire.undo([fire.last_operation])
    assert fire.get("units", e12).task_id == first


def test_a_unit_put_on_a_task_deleted_meanwhile_is_listed_as_such(make_store):
    """A plain delete: the task was deleted at the EOC while the fire post
    put a unit on it; nothing to move it onto, so the person picks."""
    eoc, fire, first, _, (e12, _, _) = apart(make_store)
    eoc.delete("tasks", first)  # takes E-12 off it, here
    fire.update("units", e12, {"location": "Elm St gate"})  # a field edit, not its task
    fire_unit = unit(fire, "E-20")
    fire.update("units", fire_unit, {"task_id": first})
    converge([eoc, fire])
    (x,) = eoc.stranded()
    assert (x.unit.callsign, x.title, x.merged, x.deleted_by, x.into) == (
        "E-20", "Evacuate Elm St", False, "EOC (Capt. Ortiz)", None)
    assert fire.stranded() == eoc.stranded()
    eoc.update("units", fire_unit, {"status": "available"})  # off its task, as the dispatch rules say
    assert eoc.stranded() == []


def test_a_task_edited_apart_from_its_merge_is_offered_as_merged_into_the_one_kept(make_store):
    """The fire post raised the priority of its Elm Street task while the
    EOC merged it into its own: the reconciliation offers the delete as
    the merge it was, naming the task kept; a delete of its own is a
    delete."""
    eoc, fire, first, second, _ = apart(make_store)
    eoc.merge_tasks([first, second])
    fire.update("tasks", second, {"priority": "low"})
    other = task(fire, "Road closure Rt 9")
    sync(fire, eoc)
    eoc.delete("tasks", other)
    fire.update("tasks", other, {"location": "Rt 9 bridge"})
    converge([eoc, fire])
    said = {}
    for c in eoc.conflicts():
        d = next(x for x in c.candidates if x.field == "deleted")
        said[c.row] = eoc.merge_said(c.table, c.row, d.origin, d.seq)
    assert said == {second: "merged into Evacuate Elm St", other: None}


def test_what_there_is_to_reconcile_is_said_in_one_line():
    from console.store import to_reconcile

    assert to_reconcile(0, 0) == ""
    assert to_reconcile(2, 0) == "2 conflicts"
    assert to_reconcile(0, 1, 1) == "1 unit twice and 1 unit on a deleted task"
    assert to_reconcile(4000, 2, 3) == "4,000 conflicts, 2 units twice and 3 units on a deleted task"


def test_a_version_4_database_gets_the_deleted_tasks_index_and_lists_the_same(make_store, tmp_path):
    eoc, fire, first, second, (e12, _, _) = apart(make_store)
    eoc.update("units", e12, {"task_id": None, "status": "available"})
    sync(eoc, fire)
    eoc.merge_tasks([first, second])
    fire.update("units", e12, {"task_id": second})
    converge([eoc, fire])
    before = eoc.stranded()
    assert len(before) == 1
    path = as_version(eoc, 4, "DROP INDEX tasks_deleted")
    with Store(path) as s:
        assert s.info().schema_version == SCHEMA_VERSION
        assert s._conn.execute("SELECT name FROM sqlite_master WHERE name = 'tasks_deleted'").fetchone()
        assert s.stranded() == before and s.stranded_count() == 1


def test_the_assignment_list_of_the_task_kept_has_what_was_said_of_the_other(make_store):
    """The fire post wrote about its Elm Street task before the EOC merged
    it into its own: the ICS 204 of the task kept lists that entry too."""
    from console import report

    eoc, fire, first, second, _ = apart(make_store)
    fire.note("Access from Elm St blocked; use Oak Ave", "tasks", second)
    converge([eoc, fire])
    assert "Access from Elm St blocked; use Oak Ave" not in {e.text for e in eoc.journal(table="tasks", row=first)}
    eoc.merge_tasks([first, second])
    listed = report.build_assignment(eoc, first)
    assert "Access from Elm St blocked; use Oak Ave" in [e.text for e in listed.history]
