"""Undo and redo of a console's own operations (Store.undo): each is new
changes that sync, and a part that moved on since is left and said."""

import itertools

import pytest
from conftest import converge, snapshot, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import unit

from console import clock, model
from console.model import ValidationError
from console.store import NotFound, Store


def rows(store):
    """What the boards show: the live rows, every field, and units' status times."""
    out = {}
    for t in ("units", "tasks", "resources"):
        cols = ["id", *model.TABLES[t].names, *model.TABLES[t].derived]
        out[t] = store._conn.execute(f"SELECT {', '.join(cols)} FROM {t} WHERE deleted = 0 ORDER BY id").fetchall()
    return out


def test_a_status_change_is_undone_and_redone_and_the_journal_says_so(make_store):
    s = make_store()
    u = unit(s, status="en route")
    s.update("units", u, {"status": "on scene"})
    op = s.last_operation
    assert op.undoable and op.text == "E-12: status en route → on scene"
    undone = s.undo([op])
    assert s.get("units", u).status == "en_route"
    assert undone.text == "Undid: E-12: status en route → on scene" and undone.left == ()
    redone = s.undo([undone.operation], redo=True)
    assert s.get("units", u).status == "on_scene"
    assert redone.text == "Redid: E-12: status en route → on scene"
    assert [e.text for e in s.journal(limit=2)] == [redone.text, undone.text]
    assert s.journal(limit=1)[0].action == "undo"
    assert s.open_conflict_count() == 0


def ticking(step_ms=7_000):
    """A wall clock that moves on by `step_ms` each time it is read, shared
    by the stores given it, so that every write has a second of its own."""
    ticks = itertools.count(clock.wall_ms(), step_ms)
    return lambda: next(ticks)


def since(store, u):
    return store.get("units", u).status_since


def test_undoing_a_status_change_gives_back_the_time_the_status_was_set(make_store):
    """E-12 en route since 14:02, put on scene by mistake, taken back: it is
    en route since 14:02 again, not since the undo, so its status timer and
    the units to check do not start over. Redo gives back the on-scene
    time. Another console receiving it all, in any order, shows the same."""
    wall = ticking()
    a, b = make_store("a", wall=wall), make_store("b", wall=wall)
    u = unit(a, status="en route")
    en_route = since(a, u)
    a.update("units", u, {"status": "on scene"})
    on_scene = since(a, u)
    assert on_scene > en_route
    undone = a.undo([a.last_operation])
    assert (a.get("units", u).status, since(a, u)) == ("en_route", en_route)
    a.undo([undone.operation], redo=True)
    assert (a.get("units", u).status, since(a, u)) == ("on_scene", on_scene)
    a.undo([a.last_operation])
    assert since(a, u) == en_route
    changes = [c for part in a.all_changes() for c in part]
    for c in reversed(changes):  # newest first: each named version arrives after what names it
        b.apply([c])
    assert (b.get("units", u).status, since(b, u)) == ("en_route", en_route)
    assert snapshot(a) == snapshot(b)
    # A status set afresh starts its time afresh.
    a.update("units", u, {"status": "on scene"})
    assert since(a, u) > on_scene


def test_keeping_one_side_of_a_status_conflict_keeps_that_sides_time(make_store):
    wall = ticking()
    a, b = make_store("a", wall=wall), make_store("b", wall=wall)
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"status": "dispatched"})
    dispatched = since(a, u)
    b.update("units", u, {"status": "out of service"})
    converge([a, b])
    assert a.get("units", u).status == "out_of_service"  # the later one shows until reconciled
    (cv,) = a.conflicts()
    a.resolve(cv.id, keep=next(i for i, c in enumerate(cv.candidates, 1) if c.value == "dispatched"))
    assert (a.get("units", u).status, since(a, u)) == ("dispatched", dispatched)
    converge([a, b])
    assert since(b, u) == dispatched and snapshot(a) == snapshot(b)


def test_several_units_set_at_once_are_one_operation_and_one_undo(make_store):
    s = make_store()
    ids = [unit(s, f"E-{i}", status="available") for i in range(5)]
    s.update_many("units", ids, {"status": "dispatched"})
    op = s.last_operation
    assert op.text.endswith("(and 4 more)")
    assert {s.get("units", i).status for i in ids} == {"dispatched"}
    s.undo([op])
    assert {s.get("units", i).status for i in ids} == {"available"}


def test_several_units_set_at_once_change_all_or_none(make_store):
    s = make_store()
    ids = [unit(s, f"E-{i}") for i in range(3)]
    with pytest.raises(NotFound):
        s.update_many("units", [*ids, "ffffffff"], {"status": "dispatched"})
    assert {s.get("units", i).status for i in ids} == {"available"}


def test_undoing_a_task_delete_restores_it_with_its_units(make_store):
    s = make_store()
    t = s.add("tasks", {"title": "Sandbag Main St"})
    a, b = unit(s, "E-1", task_id=t), unit(s, "E-2", task_id=t)
    s.delete("tasks", t)
    assert s.get("units", a).task_id is None
    s.undo([s.last_operation])
    assert s.get("tasks", t).assigned_units == ("E-1", "E-2")
    assert s.get("units", b).task_id == t
    # and redo deletes it again, the units off it
    s.undo([s.last_operation], redo=True)
    with pytest.raises(NotFound):
        s.get("tasks", t)
    assert s.get("units", a).task_id is None and s.get("units", b).task_id is None


def test_undoing_an_add_deletes_the_row_and_an_import_goes_whole(make_store):
    s = make_store()
    u = unit(s)
    s.undo([s.last_operation])
    assert s.list("units") == []
    ids = s.add_many("units", [{"callsign": f"M-{i}", "agency": "EMS", "kind": "ALS"} for i in range(50)])
    s.undo([s.last_operation])
    assert s.list("units") == [] and len(ids) == 50
    assert s.get("units", u, deleted=True).callsign == "E-12"  # a tombstone, as a delete leaves


def test_undo_then_undo_again_walks_back_through_own_operations(make_store):
    s = make_store()
    before = rows(s)
    ops = []
    u = unit(s)
    ops.append(s.last_operation)
    s.update("units", u, {"status": "dispatched"})
    ops.append(s.last_operation)
    s.update("units", u, {"status": "on scene", "personnel": 4})
    ops.append(s.last_operation)
    for op in reversed(ops):
        s.undo([op])
        if op is not ops[0]:
            assert s.get("units", u).status == ("dispatched" if op is ops[2] else "available")
    assert rows(s) == before


def test_stock_is_given_back_and_not_below_zero(make_store):
    s = make_store()
    r = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 500, "unit": "bags"})
    s.adjust(r, -350)
    s.undo([s.last_operation])
    assert s.get("resources", r).quantity == 500
    s.adjust(r, 1000)
    added = s.last_operation
    s.adjust(r, -1200)
    with pytest.raises(ValidationError, match="only 300 on hand; cannot take back the 1000 bags added"):
        s.undo([added])
    assert s.get("resources", r).quantity == 300


def test_a_field_changed_since_on_another_console_is_left_and_said(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    a.update("units", u, {"status": "dispatched", "location": "Main St"})
    op = a.last_operation
    sync(a, b)
    b.update("units", u, {"status": "on scene"})
    sync(b, a)
    undone = a.undo([op])
    assert undone.left == ("E-12: status changed since to on scene by op-b (Agency B)",)
    assert undone.text.startswith("Undid in part: ")
    got = a.get("units", u)
    assert (got.status, got.location) == ("on_scene", None)
    converge([a, b])
    assert snapshot(a) == snapshot(b)


def test_nothing_undoable_says_why_and_writes_nothing(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    a.update("units", u, {"status": "dispatched"})
    op = a.last_operation
    sync(a, b)
    b.delete("units", u)
    sync(b, a)
    n = a._conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    with pytest.raises(ValidationError, match="E-12: deleted since"):
        a.undo([op])
    assert a._conn.execute("SELECT count(*) FROM changes").fetchone()[0] == n


def test_a_field_in_conflict_is_left_for_reconciling(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"status": "dispatched"})
    op = a.last_operation
    b.update("units", u, {"status": "out of service"})
    converge([a, b])
    assert a.open_conflict_count() == 1
    with pytest.raises(ValidationError, match="status is in conflict; reconcile it instead"):
        a.undo([op])


def test_a_unit_is_not_put_back_on_a_task_deleted_since(make_store):
    s = make_store()
    t = s.add("tasks", {"title": "Sandbag Main St"})
    u = unit(s, task_id=t)
    s.update("units", u, {"task_id": None, "status": "returning"})
    op = s.last_operation
    s.delete("tasks", t)
    undone = s.undo([op])
    # (The task had been made open again when its last unit left: that is left too.)
    assert undone.left == ("E-12: task was Sandbag Main St, deleted since", "Sandbag Main St: deleted since")
    assert s.get("units", u).status == "dispatched"  # as it was when put on the task: the rest is undone


def test_an_added_row_changed_since_is_not_deleted(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    op = a.last_operation
    sync(a, b)
    b.update("units", u, {"location": "Main St"})
    sync(b, a)
    with pytest.raises(ValidationError, match=r"E-12: changed since \(location\); delete it yourself"):
        a.undo([op])
    assert a.get("units", u).location == "Main St"


def test_notes_and_other_consoles_operations_are_not_undone(make_store):
    a, b = make_store("a"), make_store("b")
    a.note("Levee breach at mile 3")
    assert not a.last_operation.undoable
    with pytest.raises(ValidationError, match="a note cannot be undone"):
        a.undo([a.last_operation])
    unit(b)
    with pytest.raises(ValidationError, match="only this console's own operations"):
        a.undo([b.last_operation])


def test_the_undo_reaches_every_console(make_store):
    a, b, c = make_store("a"), make_store("b"), make_store("c")
    u = unit(a, status="en route")
    a.update("units", u, {"status": "on scene"})
    a.undo([a.last_operation])
    converge([a, b, c])
    assert b.get("units", u).status == c.get("units", u).status == "en_route"
    assert snapshot(a) == snapshot(b) == snapshot(c)


# ------------------------------------------------------------------ property

OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "status", "assign", "delete", "restore", "draw", "stock", "rename", "import"]),
        st.integers(0, 5),
        st.sampled_from(list(model.UNIT_STATUSES)),
    ),
    min_size=1, max_size=12,
)


def _do(s: Store, op, i: int) -> bool:
    """One operation of a console; False if the store refused it."""
    kind, n, status = op
    units = s.list("units")
    tasks = s.list("tasks")
    res = s.list("resources")
    try:
        if kind == "add":
            s.add("tasks", {"title": f"Task {i}"}) if n % 2 else unit(s, f"U-{i}")
        elif kind == "import":
            s.add_many("units", [{"callsign": f"I-{i}-{k}", "agency": "EMS", "kind": "ALS"} for k in range(n)])
        elif kind == "status" and units:
            s.update_many("units", [u.id for u in units[: n + 1]], {"status": status})
        elif kind == "assign" and units:
            s.update("units", units[n % len(units)].id, {"task_id": tasks[n % len(tasks)].id if tasks else None})
        elif kind == "delete" and (units or tasks):
            table, pool = ("tasks", tasks) if tasks and (n % 2 or not units) else ("units", units)
            s.delete_many(table, [r.id for r in pool[: n % 3 + 1]])
        elif kind == "restore":
            gone = [r for (r,) in s._conn.execute("SELECT id FROM units WHERE deleted = 1 ORDER BY id")]
            if gone:
                s.update("units", gone[n % len(gone)], {"deleted": False})
            else:
                return False
        elif kind in ("draw", "stock"):
            if not res:
                s.add("resources", {"name": f"R{i}", "kind": "Supply", "agency": "PW", "quantity": 100})
            else:
                s.adjust(res[n % len(res)].id, -(n + 1) if kind == "draw" else n + 1)
        elif kind == "rename" and units:
            s.update("units", units[n % len(units)].id, {"callsign": f"R-{i}", "personnel": n})
        else:
            return False
    except ValidationError:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=OPS, ops=OPS)
def test_undoing_every_operation_in_turn_gives_back_the_boards_and_redo_gives_them_again(make_store, setup, ops):
    """With nobody else writing, undoing a console's operations newest first
    brings every board back to what it was before them (units' status
    times included), each undo taking
    back all of its operation; redoing them oldest first brings the boards
    to what they were after them. A second console that receives it all
    ends the same."""
    wall = ticking()
    s = make_store(f"p{id(setup)}-{id(ops)}", wall=wall)
    for i, op in enumerate(setup):
        _do(s, op, i)
    before = rows(s)
    done = []
    for i, op in enumerate(ops, 100):
        last = s.last_operation
        if _do(s, op, i) and s.last_operation is not last and s.last_operation.undoable:
            done.append(s.last_operation)
    after = rows(s)
    undos = []
    for op in reversed(done):
        try:
            undos.append(s.undo([op]).operation)
        except ValidationError as exc:
            assert "undone already" in str(exc), exc  # an operation that changed nothing the boards show
    assert rows(s) == before
    for op in reversed(undos):
        s.undo([op], redo=True)
    assert rows(s) == after
    assert s.open_conflict_count() == 0
    other = make_store(f"q{id(setup)}-{id(ops)}", wall=wall)
    sync(s, other)
    assert rows(other) == after


def test_undoing_a_reconciliation_puts_back_what_the_boards_showed(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"status": "dispatched"})
    b.update("units", u, {"status": "out of service"})
    converge([a, b])
    shown = a.get("units", u).status
    other = ({"dispatched", "out_of_service"} - {shown}).pop()
    (cv,) = a.conflicts()
    a.resolve(cv.id, keep=next(i for i, c in enumerate(cv.candidates, 1) if c.value == other))
    assert a.get("units", u).status == other
    undone = a.undo([a.last_operation])
    assert undone.text.startswith("Undid: Reconciled E-12: status = ")
    # the conflict stays closed (a reconciliation is not taken back by the merge): the value shown before is back
    assert a.get("units", u).status == shown and a.open_conflict_count() == 0
    converge([a, b])
    assert snapshot(a) == snapshot(b)


def test_undoing_keeping_an_edit_against_a_delete_deletes_the_row_again(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.delete("units", u)
    b.update("units", u, {"location": "Main St"})
    converge([a, b])
    (cv,) = a.conflicts()
    a.resolve(cv.id, keep=next(i for i, c in enumerate(cv.candidates, 1) if c.field == "location"))
    assert a.get("units", u).location == "Main St"
    a.undo([a.last_operation])
    with pytest.raises(NotFound):
        a.get("units", u)
    assert a.open_conflict_count() == 0
