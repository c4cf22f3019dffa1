"""Steps to undo kept in the database (console.history): the window's, and
one person's on the command line, each outlasting the program."""

import pytest
from test_store import unit

from console import clock
from console.history import KEPT_MINUTES, UNDO_DEPTH, History, UndoStep
from console.store import Operation, Store


def test_steps_outlast_the_program_for_the_same_console_and_person(make_store):
    s = make_store("a", operator="Dana")
    u = unit(s, status="en route")
    h = History(s, "window")
    s.update("units", u, {"status": "on scene"})
    assert h.took([s.last_operation])
    s.note("Levee holding")
    assert not h.took([s.last_operation, None])  # a note is not a step
    h.save()
    again = History(s, "window")
    assert again.undo_steps == h.undo_steps and again.redo_steps == []
    assert again.take_back().text == "Undid: E-12: status en route → on scene"
    again.save()
    assert [st.text for st in History(s, "window").redo_steps] == ["E-12: status en route → on scene"]
    # Another person at the console, or the command line: none of them.
    with Store(s.path, operator="Sgt. Lee") as other:
        assert History(other, "window").undo_steps == History(other, "window").redo_steps == []
    assert History(s, "command line").undo_steps == []


def test_steps_kept_that_cannot_be_read_are_left_out(make_store):
    s = make_store()
    for kept in ("not json", '{"replica": 1}', "[1, 2]"):
        s._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('kept:undo:window', ?)", (kept,))
        assert History(s, "window").undo_steps == []
    s.keep("undo:window", {"replica": s.replica_id, "operator": s.operator, "undo": [["x", [[1, "two"]]]]})
    h = History(s, "window")
    assert h.undo_steps == h.redo_steps == []


def test_a_step_gone_from_the_database_is_dropped_with_the_reason(make_store):
    s = make_store()
    h = History(s, "window")
    gone = Operation(s.replica_id, 10**9, 10**9 + 1, "Something long ago", True)
    h.push(UndoStep((gone,), gone.text))
    with pytest.raises(Exception, match="not in this database any more"):
        h.take_back()
    assert h.undo_steps == []
    assert h.take_back() is None


def test_at_most_the_last_hundred_steps_are_kept(make_store):
    s = make_store()
    h = History(s, "window")
    for i in range(UNDO_DEPTH + 5):
        h.push(UndoStep((Operation(s.replica_id, i + 1, i + 1, f"step {i}", True),), f"step {i}"))
    h.save()
    kept = History(s, "window").undo_steps
    assert len(kept) == UNDO_DEPTH and kept[0].text == "step 5"


def test_steps_are_offered_again_only_soon_after(make_store):
    """The window's steps come back for a window opened again within the
    hour (a crash, a reboot), not for the next person tomorrow; the command
    line's for a shift."""
    s = make_store()
    u = unit(s)
    s.update("units", u, {"status": "on scene"})
    for kind, minutes in KEPT_MINUTES.items():
        h = History(s, kind)
        h.took([s.last_operation])
        h.save()
        kept = s.kept(h.key)
        for age, offered in ((minutes - 1, True), (minutes + 1, False)):
            s.keep(h.key, {**kept, "saved_ms": clock.wall_ms() - age * 60_000})
            assert bool(History(s, kind).undo_steps) == offered, (kind, age)
        s.keep(h.key, {**kept, "saved_ms": "yesterday"})
        assert History(s, kind).undo_steps == []
    assert KEPT_MINUTES == {"window": 60, "command line": 720}


def test_a_window_closed_keeps_its_steps_with_the_time_it_closed(make_store, qapp):
    """Steps made more than an hour before the window closed are offered
    again if it opens soon after: closing keeps them with that time."""
    from console.ui.bridge import Bridge

    s = make_store()
    u = unit(s)
    bridge = Bridge(s)
    bridge.set_status([u], "on_scene")
    kept = s.kept(bridge.history.key)
    s.keep(bridge.history.key, {**kept, "saved_ms": clock.wall_ms() - 90 * 60_000})  # the edit, long ago
    assert History(s, "window").undo_steps == []
    bridge.close()
    again = Bridge(s)
    assert [st.text for st in again.undo_steps] == [st.text for st in bridge.undo_steps] != []
    again.close()
