import json
import re
import shutil
import sqlite3

import pytest
from conftest import FakeWall, converge, disk_room, snapshot, sync
from hypothesis import given, settings
from hypothesis import strategies as st

from console import clock, model
from console.merge import Change
from console.store import IF_DAMAGED, PAGE_SIZE, SCHEMA_VERSION, CorruptDatabase, NotFound, Store, StoreError

HOUR = 3600 * 1000


def unit(store, callsign="E-12", **kw):
    values = {"callsign": callsign, "agency": "County Fire", "kind": "Engine, Type 1", **kw}
    return store.add("units", values)


def task(store, title="Sandbag Main St", **kw):
    return store.add("tasks", {"title": title, **kw})


# ----------------------------------------------------------------- local writes


def test_add_and_read_back_every_table(make_store):
    s = make_store()
    t = task(s, priority="urgent", due="2026-11-25T18:00:00Z")
    u = unit(s, status="en route", task_id=t, lat=41.5, lon=-90.5, personnel=4)
    r = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "Public Works", "quantity": 500,
                            "unit": "bags"})
    got = s.get("units", u)
    assert (got.callsign, got.status, got.task_id, got.personnel) == ("E-12", "en_route", t, 4)
    assert got.status_since is not None
    assert s.get("tasks", t).assigned_units == ("E-12",)
    assert s.get("tasks", t).due == "2026-11-25T18:00:00Z"
    assert s.get("resources", r).quantity == 500
    assert s.get("tasks", t).status == "assigned"  # a unit is on it now
    assert s.counts() == {"units": 1, "tasks": 1, "resources": 1, "journal": 4}


def test_task_titles_name_deleted_tasks_too(make_store):
    """What a board of units shows of their tasks: a unit may still be on a
    task deleted at a console that had not seen it put there."""
    s = make_store()
    kept, gone = task(s, "Levee"), task(s, "Underpass")
    s.delete("tasks", gone)
    s.update("tasks", kept, {"title": "Levee, north end"})
    assert s.task_titles() == {kept: "Levee, north end", gone: "Underpass"}


def test_a_rows_journal_is_its_own_even_when_row_ids_share_an_index_key(make_store, monkeypatch):
    """journal_about holds a hash of the row id; rows whose hashes collide
    (here: all of them) still see only their own entries."""
    from console import store as store_module

    monkeypatch.setattr(store_module, "_about_key", lambda row_id: 7)
    s = make_store()
    a, b = unit(s, "E-1"), unit(s, "E-2")
    s.note("a first", "units", a)
    s.note("b first", "units", b)
    s.update("units", a, {"status": "en route"})
    assert [e.text for e in s.journal(table="units", row=a)] == [
        "E-1: status available → en route", "a first", "Added unit E-1 (County Fire, Engine, Type 1)"]
    assert [e.text for e in s.journal(table="units", row=b)] == [
        "b first", "Added unit E-2 (County Fire, Engine, Type 1)"]
    assert s.journal(table="tasks", row=a) == []
    assert s._conn.execute("SELECT DISTINCT row_key FROM journal_about").fetchall() == [(7,)]


def test_journal_pages_walk_the_journal_in_its_order(make_store):
    """A window reads the journal a page at a time: the pages, chained by
    their keys, are the whole journal in order, entries written at the same
    clock time on two consoles included; `at` finds entries by clock time."""
    wall = FakeWall()
    a, b = make_store("a", wall=wall), make_store("b", wall=wall)
    for i in range(30):
        a.note(f"a {i}")
        b.note(f"b {i}")  # the same clock times as a's: the id decides
        wall.ms += 1 if i % 3 else 0
    sync(b, a)
    whole = a.journal_page()
    assert [e for _, e in whole] == a.journal() and len(whole) == 60
    keys = [k for k, _ in whole]
    assert keys == sorted(keys, key=lambda k: (-k[0], k[1])) and len({k[0] for k in keys}) < 60
    walked, before = [], None
    while True:
        mark = a.journal_mark(7, before)
        page = a.journal_page(before=before, down_to=mark)
        walked += page
        if mark is None:
            break
        assert page[-1][0] == mark and len(page) == 7
        before = mark
    assert walked == whole
    assert a.journal_page(limit=5, before=keys[9]) == whole[10:15]
    assert a.journal_page(at=[keys[20][0]]) == [p for p in whole if p[0][0] == keys[20][0]]
    assert a.journal_page(at=[keys[20][0]], agency="Agency B") == [
        p for p in whole if p[0][0] == keys[20][0] and p[1].agency == "Agency B"]
    assert a.journal_mark(61) is None and a.journal_mark(60) == keys[-1]
    assert a.journal_page(at=[]) == [] and a.journal_page(at=[1]) == []


def test_a_journal_search_is_looked_at_in_sql_as_python_casefolds(make_store):
    """`holding`: the entries holding some words (casefolded, as the
    journal pane keeps its search) in their text, agency or operator, found
    by SQLite with Python's casefold ("STRASSE" finds "Straße", which
    SQLite's lower() would not), with the other filters and bounds."""
    from console import model

    s = make_store("a", agency="County Fire", operator="Dana")
    e1 = s.add("units", {"callsign": "E-1", "agency": "County Fire", "kind": "Engine"})
    texts = ["Sandbags to the Straße bridge", "STRASSE closed", "İstanbul Cafe flooded", "pump check",
             "Levee 100% held", "under_score and 50% more", "ΣΊΣΥΦΟΣ shelter"]
    for i, t in enumerate(texts):
        s.note(t, *(("units", e1) if i % 2 else (None, None)))
    whole = s.journal_page()
    for words in ("strasse", "straße", "i̇stanbul", "pump", "dana", "county fire", "100%", "_", "%", "σίσυφοσ",
                  "no such words", "e-1"):
        words = " ".join(words.split()).casefold()
        expected = [p for p in whole if model.journal_holds(words, p[1].text, p[1].agency, p[1].operator)]
        assert s.journal_page(holding=words) == expected, words
        assert s.journal_page(holding=words, table="units", row=e1) == [
            p for p in expected if p[1].row_id == e1]
        keys = [k for k, _ in whole]
        assert s.journal_page(holding=words, before=keys[1], down_to=keys[-2]) == [
            p for p in expected if p[0] in keys[2:-1]]
    assert [e.text for _, e in s.journal_page(holding="strasse")] == texts[1::-1]
    assert s.journal_page(holding="") == s.journal_page(holding=None) == whole


def test_a_rows_journal_between_two_keys_is_read_by_the_rows_own_index(make_store):
    """A unit's activity log for a period, and the pages of the journal
    pane's "selected row only" past the first, are a row's entries between
    two keys: exactly those (ties at one clock time on two consoles, and a
    unit merged into it, included), found through the row's own index, not
    by reading every entry of the period (SQLite's planner took the period
    when left to choose: 260 ms among 330,000 entries, for a few hundred)."""
    wall = FakeWall()
    a, b = make_store("a", wall=wall), make_store("b", wall=wall)
    e1, other = unit(a, "E-1"), unit(a, "E-2")
    twin = unit(b, "E-9")
    for i in range(40):
        a.note(f"a {i}", "units", e1 if i % 2 else other)
        b.note(f"b {i}", *(("units", twin) if i % 3 else (None, None)))
        a.note(f"all {i}")
        wall.ms += 1 if i % 4 else 0
    sync(b, a)
    a.merge_units([e1, twin])  # the twin's history is E-1's now
    whole = a.journal_page(table="units", row=e1)
    assert {e.text for _, e in whole} >= {"a 1", "b 1"} and "a 0" not in {e.text for _, e in whole}
    keys = [k for k, _ in whole]
    for hi, lo in [(keys[3], keys[-4]), (keys[0], keys[10]), (keys[12], keys[12]), (keys[5], keys[-1])]:
        between = [p for p in whole if (-p[0][0], p[0][1]) > (-hi[0], hi[1]) and
                   (-p[0][0], p[0][1]) <= (-lo[0], lo[1])]
        assert a.journal_page(table="units", row=e1, before=hi, down_to=lo) == between
        assert a.journal_page(table="units", row=e1, before=hi, limit=4) == whole[keys.index(hi) + 1:][:4]
        assert a.journal_count(table="units", row=e1, down_to=lo) == keys.index(lo) + 1
    assert a.journal_count() == len(a.journal()) and a.journal_count(table="units", row=e1) == len(whole)
    sql, params = a._journal_sql(False, limit=500, table="units", row=a._about("units", e1), agency=None,
                                 before=keys[0], down_to=keys[-1])
    plan = " | ".join(r[3] for r in a._conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "journal_about USING PRIMARY KEY (row_key=? AND hlc>? AND hlc<?)" in plan, plan
    assert "hlc>?" not in plan.split("journal_about")[0], plan  # the period itself is not read


def test_a_read_only_store_reads_everything_and_writes_nothing(make_store, tmp_path):
    """A window reads its reports through a second connection on a thread
    of their own: it reads what the console's own does, opening it writes
    nothing (not even the replica marker a console's opening writes, nor
    the agency it is named by), and a write through it is refused in
    words; a file that is not there, or at another schema, is refused."""
    import sqlite3

    from console.store import StoreIOError

    s = make_store("a")
    u = unit(s)
    s.note("levee holding", "units", u)
    marker = (tmp_path / "a.db.replica").read_text()
    kept = (s._meta("nonce"), s.data_version(), s.version_vector(), s.journal())
    with Store(tmp_path / "a.db", read_only=True, agency="Reader", operator="Reading") as r:
        assert r.read_only and r.replica_id == s.replica_id and (r.agency, r.operator) == ("Reader", "Reading")
        assert r.get("units", u) == s.get("units", u) and r.journal() == s.journal()
        for write in (lambda: r.note("through a reader"), lambda: r.update("units", u, {"status": "en route"}),
                      lambda: r.trust("A" * 52, "Nobody")):
            with pytest.raises(StoreIOError, match="the database is read-only; nothing was written"):
                write()
    assert (s._meta("nonce"), s.data_version(), s.version_vector(), s.journal()) == kept
    assert (tmp_path / "a.db.replica").read_text() == marker and s._meta("agency") == "Agency A"
    with pytest.raises(NotFound, match="no such database"):
        Store(tmp_path / "none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()
    with sqlite3.connect(tmp_path / "a.db") as src, sqlite3.connect(tmp_path / "old.db") as conn:
        src.backup(conn)  # (what the WAL holds too)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with pytest.raises(StoreError, match=f"is at schema {SCHEMA_VERSION - 1}, not {SCHEMA_VERSION}: open it for "
                                         "writing once"):
        Store(tmp_path / "old.db", read_only=True)


def test_what_is_waiting_to_sync_in_words(make_store):
    """The operations among this console's last n changes, newest first,
    as their journal entries say; another console's entries never."""
    a, b = make_store("a"), make_store("b")
    b.note("from b")
    sync(b, a)
    u = unit(a, "E-1")
    a.update("units", u, {"status": "en route"})
    a.note("levee holding")
    assert [e.text for e in a.waiting(a.own_max_seq())] == [
        "levee holding", "E-1: status available → en route", "Added unit E-1 (County Fire, Engine, Type 1)"]
    assert [e.text for e in a.waiting(1)] == ["levee holding"]
    assert [e.text for e in a.waiting(100, limit=2)] == ["levee holding", "E-1: status available → en route"]
    assert a.waiting(0) == [] and make_store("c").waiting(5) == []


def test_putting_a_unit_on_a_task_dispatches_it_as_dispatchers_work(make_store):
    """A unit put on another task is dispatched to it, and a task still open
    that a unit is put on is assigned, in the same transaction (one undo);
    a status or task given in the same edit stands; a unit made available
    is off its task."""
    s = make_store()
    levee, elm = task(s, "Levee"), task(s, "Elm St", status="in_progress")
    e12, e14, m5 = unit(s), unit(s, "E-14"), unit(s, "Medic 5", status="on scene")
    s.update_many("units", [e12, e14], {"task_id": levee})
    op = s.last_operation
    assert [(u.status, u.task_id) for u in s.get_many("units", [e12, e14])] == [("dispatched", levee)] * 2
    assert s.get("tasks", levee).status == "assigned"
    assert [e.text for e in s.journal(limit=3)] == ["Levee: status open → assigned",
                                                   "E-14: task — → Levee; status available → dispatched",
                                                   "E-12: task — → Levee; status available → dispatched"]
    # Undone whole: the units as they were, and the task open again.
    s.undo([op])
    assert [(u.status, u.task_id) for u in s.get_many("units", [e12, e14])] == [("available", None)] * 2
    assert s.get("tasks", levee).status == "open"
    # A status given in the same edit stands; a task under way stays so.
    s.update("units", e12, {"task_id": elm, "status": "en route"})
    assert (s.get("units", e12).status, s.get("tasks", elm).status) == ("en_route", "in_progress")
    # Moved from a task it is on scene at to another: dispatched to that one.
    s.update("units", m5, {"task_id": elm})
    s.update("units", m5, {"status": "on scene"})
    s.update("units", m5, {"task_id": levee})
    assert s.get("units", m5).status == "dispatched"
    # Already dispatched: its status is left as it is (its timer runs on).
    since = s.get("units", m5).status_since
    s.update("units", m5, {"task_id": elm})
    assert (s.get("units", m5).status, s.get("units", m5).status_since) == ("dispatched", since)
    # The levee lost its last unit: open again, to be staffed.
    assert s.get("tasks", levee).status == "open"
    assert s.journal(limit=1)[0].text == "Levee: status assigned → open"
    # The same task again changes nothing.
    made = s.own_max_seq()
    s.update("units", m5, {"task_id": elm})
    assert s.own_max_seq() == made
    # Made available, a unit is off its task (one under way stays so); with a task given, it keeps it.
    s.update("units", e12, {"status": "available"})
    assert s.get("units", e12).task_id is None and s.get("tasks", elm).status == "in_progress"
    assert s.journal(limit=1)[0].text == "E-12: status en route → available; task Elm St → —"
    s.update("units", e12, {"status": "available", "task_id": elm})
    assert (s.get("units", e12).status, s.get("units", e12).task_id) == ("available", elm)
    # A unit added on a task, with no status, is dispatched; the open task assigned.
    roads = task(s, "Roads")
    new = unit(s, "E-20", task_id=roads)
    assert (s.get("units", new).status, s.get("tasks", roads).status) == ("dispatched", "assigned")
    # Taken off a task (no task), a unit keeps its status; the task it leaves, with none left, is open again.
    e21 = unit(s, "E-21", task_id=roads)
    s.update("units", new, {"task_id": None})
    assert s.get("units", new).status == "dispatched" and s.get("tasks", roads).status == "assigned"  # E-21 stays
    s.update_many("units", [e21, new], {"task_id": levee})
    assert (s.get("tasks", roads).status, s.get("tasks", levee).status) == ("open", "assigned")
    # Its last units deleted, a task is open again too.
    s.delete_many("units", [e21, new])
    assert s.get("tasks", levee).status == "open"


def test_every_write_is_logged_with_origin_operator_and_journal(make_store):
    s = make_store(operator="Dana", agency="County Fire")
    u = unit(s)
    s.update("units", u, {"status": "on scene"})
    log = s._conn.execute("SELECT origin, seq, tbl, field, kind, value, operator, agency FROM changes "
                          "WHERE tbl = 'units' ORDER BY seq").fetchall()
    assert [(r[3], r[4]) for r in log] == [("*", "insert"), ("status", "set")]
    assert all(r[0] == s.replica_id and r[6] == "Dana" and r[7] == "County Fire" for r in log)
    entries = s.journal()
    assert [e.text for e in entries] == ["E-12: status available → on scene",
                                         "Added unit E-12 (County Fire, Engine, Type 1)"]
    assert entries[0].operator == "Dana" and entries[0].row_id == u
    # Fields as people say them, a task by its title.
    t = s.add("tasks", {"title": "Sandbag Main St", "lead_agency": "Public Works"})
    s.update("units", u, {"task_id": t})
    s.update("tasks", t, {"lead_agency": "County Fire"})
    assert [e.text for e in s.journal(limit=3)] == ["Sandbag Main St: lead agency Public Works → County Fire",
                                                   "Sandbag Main St: status open → assigned",
                                                   "E-12: task — → Sandbag Main St; status on scene → dispatched"]


@pytest.mark.parametrize(
    "table, values, message",
    [
        ("units", {"callsign": "", "agency": "F", "kind": "E"}, "units.callsign must not be empty"),
        ("units", {"agency": "F", "kind": "E"}, "units.callsign is required"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "status": "flying"}, "'flying' is not one of"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "personnel": -1}, "at least 0"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "lat": 91}, "at most 90"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "task_id": "0" * 32}, "there is no task"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "colour": "red"}, "units has no field 'colour'"),
        ("tasks", {"title": "T", "priority": "whenever"}, "'whenever' is not one of"),
        ("units", {"callsign": "X", "agency": "F", "kind": "E", "status": None},
         "units.status cannot be left empty: it is one of available, dispatched"),
        ("tasks", {"title": "T", "priority": None}, "tasks.priority cannot be left empty"),
        ("tasks", {"title": "T", "due": "tomorrow"}, "is not a time"),
        ("resources", {"name": "N", "kind": "K", "agency": "A", "quantity": -5}, "at least 0"),
        ("resources", {"name": "N", "kind": "K", "agency": "A", "quantity": float("nan")}, "finite"),
        ("widgets", {"name": "N"}, "unknown table 'widgets'"),
        # A lone surrogate: what Python makes of bytes that are not UTF-8.
        ("units", {"callsign": "E-\udcff", "agency": "F", "kind": "E"},
         "units.callsign is not valid text: it holds U\\+DCFF"),
        ("tasks", {"title": "Levee \ud800 north"}, "tasks.title is not valid text"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message_and_change_nothing(make_store, table, values, message):
    s = make_store()
    before = snapshot(s)
    with pytest.raises(model.ValidationError, match=message):
        s.add(table, values)
    assert snapshot(s) == before


def test_names_that_are_not_valid_text_are_refused_before_anything_is_written(tmp_path, make_store):
    with pytest.raises(model.ValidationError, match="the operator name is not valid text"):
        Store(tmp_path / "new.db", operator="Dana \udcff")
    with pytest.raises(model.ValidationError, match="the agency name is not valid text"):
        Store(tmp_path / "new.db", agency="\ud800")
    assert not (tmp_path / "new.db").exists()
    s = make_store()
    with pytest.raises(model.ValidationError, match="the agency name is not valid text"):
        s.trust("A" * 52, "Fire \udcff")
    assert s.peers() == []
    with pytest.raises(NotFound):
        s.update("units", "E-\udcff", {"status": "available"})
    # Text beyond ASCII is of course fine.
    uid = unit(s, "Löschzug 3", notes="Straße gesperrt — 🚒")
    assert s.get("units", uid).notes == "Straße gesperrt — 🚒"


def test_duplicate_callsign_is_refused(make_store):
    s = make_store()
    unit(s, "E-12")
    with pytest.raises(model.ValidationError, match="already in use"):
        unit(s, "e-12")


def test_update_validation_and_missing_rows(make_store):
    s = make_store()
    u = unit(s)
    with pytest.raises(NotFound):
        s.update("units", "ffffffff", {"status": "available"})
    with pytest.raises(model.ValidationError, match="not one of"):
        s.update("units", u, {"status": "asleep"})
    with pytest.raises(model.ValidationError, match="append-only"):
        s.update("journal", s.journal()[0].id, {"text": "rewritten"})
    with pytest.raises(model.ValidationError, match="append-only"):
        s.delete("journal", s.journal()[0].id)
    assert s.update("units", u, {"status": "available"}) == []  # already so: no change made
    # A unit always has a status, a task a status and a priority: they are
    # changed, not cleared (a unit with none would drop out of every count).
    task = s.add("tasks", {"title": "T"})
    before = snapshot(s)
    for table, row, field in (("units", u, "status"), ("tasks", task, "priority"), ("tasks", task, "status")):
        with pytest.raises(model.ValidationError, match=f"{table}.{field} cannot be left empty"):
            s.update(table, row, {field: None})
    assert snapshot(s) == before


def test_rows_are_found_by_prefix_and_callsign(make_store):
    s = make_store()
    u = unit(s, "Medic 7")
    other = unit(s, "Medic 9")
    assert s.resolve_id("units", u[-6:]) == u  # lists show the end of an id
    assert s.resolve_id("units", other[:28]) == other
    assert s.resolve_id("units", "medic 7") == u
    with pytest.raises(NotFound):
        s.resolve_id("units", "Medic 11")


def test_a_callsign_that_is_also_the_start_or_end_of_an_id_names_its_unit(make_store):
    """Callsigns such as 2A12 or 3A05 are hex digits too: "2A12" is the unit
    of that callsign, not another whose id ends (or starts) in 2a12, nor
    refused as naming two. With 600 units, one such callsign in 55 is also
    the start or end of some unit's id: a full-disk test met it."""
    s = make_store()
    other = unit(s, "Medic 9")
    by_end = unit(s, other[-4:].upper())
    by_start = unit(s, other[:5])
    assert s.resolve_id("units", other[-4:].upper()) == by_end
    assert s.resolve_id("units", other[-4:]) == by_end  # (callsigns are found in any case)
    assert s.resolve_id("units", other[:5]) == by_start
    assert s.resolve_id("units", other[-6:]) == other  # a longer end of the id is no callsign
    s.update("units", other[-4:].upper(), {"status": "on_scene"})
    assert s.get("units", by_end).status == "on_scene" and s.get("units", other).status == "available"
    # Deleted, the callsign names it only where deleted units count (its activity log).
    s.delete("units", by_end)
    assert s.resolve_id("units", other[-4:]) == other
    assert s.resolve_id("units", other[-4:], live=False) == by_end


@settings(max_examples=40, deadline=None)
@given(picks=st.lists(st.tuples(st.booleans(), st.integers(min_value=4, max_value=8), st.booleans()),
                      min_size=1, max_size=6))
def test_every_unique_callsign_names_its_unit_whatever_the_ids(tmp_path_factory, picks):
    """Units whose callsigns are the start or the end (4 to 8 hex digits,
    in either case) of other units' ids: each callsign names its own unit,
    and each id, whole, its own."""
    with Store(tmp_path_factory.mktemp("ids") / "a.db") as s:
        ids = [unit(s, f"Base {i}") for i in range(3)]
        named = {}
        for at_start, digits, upper in picks:
            source = ids[len(named) % len(ids)]
            callsign = source[:digits] if at_start else source[-digits:]
            callsign = callsign.upper() if upper else callsign
            if callsign.casefold() in {c.casefold() for c in named}:
                continue  # a callsign in use here is refused (see twins)
            named[callsign] = unit(s, callsign)
            ids.append(named[callsign])
        for callsign, row in named.items():
            assert s.resolve_id("units", callsign) == row
            assert s.resolve_id("units", callsign.swapcase()) == row
        for row in ids:
            assert s.resolve_id("units", row) == row


def test_delete_is_a_tombstone_and_restore_brings_the_row_back(make_store):
    s = make_store()
    u = unit(s)
    s.delete("units", u)
    assert s.list("units") == []
    assert [x.id for x in s.list("units", deleted=True)] == [u]
    with pytest.raises(NotFound):
        s.update("units", u, {"status": "on scene"})
    s.update("units", u, {"deleted": False})
    assert [x.id for x in s.list("units")] == [u]


def test_deleting_a_task_takes_its_units_off_it(make_store):
    s = make_store()
    t = task(s)
    u = unit(s, task_id=t)
    s.delete("tasks", t)
    assert s.get("units", u).task_id is None


def test_stock_draws_and_additions(make_store):
    s = make_store()
    r = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 100, "unit": "bags"})
    assert s.adjust(r, -40) == 60
    assert s.adjust(r, 15) == 75
    with pytest.raises(model.ValidationError, match="only 75 bags of Sandbags on hand"):
        s.adjust(r, -80)
    s.update("resources", r, {"quantity": 10})  # setting a counter records the difference
    assert s.get("resources", r).quantity == 10
    kinds = s._conn.execute("SELECT kind, value FROM changes WHERE field = 'quantity' ORDER BY seq").fetchall()
    assert kinds == [("add", "-40"), ("add", "15"), ("add", "-65")]


def test_stock_counts_stay_within_what_a_float_adds_exactly(make_store):
    s = make_store()
    r = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 100, "unit": "bags"})
    before = snapshot(s)
    with pytest.raises(model.ValidationError, match="must be at most 1e\\+12, not 1e\\+308"):
        s.adjust(r, 1e308)  # twice would be infinity
    with pytest.raises(model.ValidationError, match="more than a stock count may hold"):
        s.adjust(r, 999_999_999_950)
    with pytest.raises(model.ValidationError, match="must be at most 1e\\+12"):
        s.update("resources", r, {"quantity": 2e12})
    with pytest.raises(model.ValidationError, match="must be at most 1e\\+12"):
        s.add("resources", {"name": "Cots", "kind": "Shelter", "agency": "PW", "quantity": 1e13})
    assert snapshot(s) == before
    assert s.adjust(r, 999_999_999_900) == model.MAX_COUNTER


def test_stock_counts_to_the_thousandth(make_store):
    """Fractional stock (fuel, say) is counted in whole thousandths: a value
    typed with more is refused, and setting a count records an exact
    difference that peers accept."""
    a, b = make_store("a"), make_store("b")
    r = a.add("resources", {"name": "Diesel", "kind": "Fuel", "agency": "PW", "quantity": 0.1, "unit": "gal"})
    before = snapshot(a)
    for bad in (lambda: a.adjust(r, 0.0005), lambda: a.update("resources", r, {"quantity": 2.0001}),
                lambda: a.add("resources", {"name": "N", "kind": "K", "agency": "A", "quantity": 1.2345})):
        with pytest.raises(model.ValidationError, match="more than three decimal places"):
            bad()
    assert snapshot(a) == before
    assert a.adjust(r, 0.2) == 0.3  # not 0.30000000000000004
    a.update("resources", r, {"quantity": 0.6})
    deltas = [v for (v,) in a._conn.execute("SELECT value FROM changes WHERE kind = 'add' ORDER BY seq")]
    assert deltas == ["0.2", "0.3"]  # 0.6 - 0.3 is 0.29999999999999993 in floats
    sync(a, b)
    assert a.get("resources", r).quantity == b.get("resources", r).quantity == 0.6


def test_fractional_stock_adds_up_the_same_in_any_grouping(make_store):
    """Float addition is not associative, so summing deltas as they arrive
    would leave consoles a last bit apart. Counters are summed in whole
    thousandths: every grouping and order gives the same total."""
    src = make_store("src")
    r = src.add("resources", {"name": "Diesel", "kind": "Fuel", "agency": "PW", "quantity": 0, "unit": "gal"})
    for v in (0.1, 0.2, 0.3, 1.7, -0.4, 2.05):
        src.adjust(r, v)
    changes = [c for batch in src.all_changes() for c in batch]
    adds = [c for c in changes if c.kind == "add"]
    rest = [c for c in changes if c.kind != "add"]
    whole, ones, halves = make_store("whole"), make_store("ones"), make_store("halves")
    whole.apply(changes)
    ones.apply(rest)
    for c in reversed(adds):
        ones.apply([c])
    halves.apply(adds[3:])
    halves.apply(rest + adds[:3])
    totals = {s.get("resources", r).quantity for s in (src, whole, ones, halves)}
    assert totals == {3.95}
    assert snapshot(whole) == snapshot(ones) == snapshot(halves)


def test_two_inserts_of_one_row_id_make_the_same_row_everywhere():
    """Only a faulty or forged console reuses a row id, but the consoles must
    still agree: the earlier insert, by (time, origin), makes the row
    whichever arrived first, counters included; edits show on top."""
    import itertools
    import tempfile
    from pathlib import Path

    from console.merge import ROW_FIELD, Change

    row, o1, o2, o3 = "a" * 32, "1" * 32, "2" * 32, "3" * 32
    t0 = clock.pack(clock.wall_ms() - 60_000)

    def insert(origin, hlc, name, quantity):
        value = {f.name: f.default for f in model.RESOURCES.fields}
        value.update(name=name, kind="Fuel", agency="PW", quantity=quantity, location="Yard")
        return Change(origin, 1, hlc, "resources", row, ROW_FIELD, "insert", value, (), "op", "PW")

    early, late = insert(o2, t0 + 10, "Diesel", 100.5), insert(o1, t0 + 20, "Petrol", 40)
    edit = Change(o3, 1, t0 + 30, "resources", row, "location", "set", "Depot", ((o2, 1),), "op", "PW")
    draw = Change(o3, 2, t0 + 40, "resources", row, "quantity", "add", -0.3, (), "op", "PW")
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for k, order in enumerate(itertools.permutations([early, late, edit, draw])):
            for together in (False, True):
                s = Store(Path(tmp) / f"{k}-{together}.db")
                for part in ([list(order)] if together else [[c] for c in order]):
                    s.apply(part)
                got = s.get("resources", row)
                seen.add((got.name, got.quantity, got.location))
                s.close()
    assert seen == {("Diesel", 100.2, "Depot")}


def test_listeners_hear_each_commit(make_store):
    s = make_store()
    heard = []
    s.subscribe(heard.append)
    u = unit(s)
    assert heard[-1].local and ("units", u) in heard[-1].rows and "journal" in heard[-1].tables


# --------------------------------------------------------------------- merging


def test_replicas_converge_and_redelivery_changes_nothing(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    a.update("units", u, {"status": "en route", "location": "Main St"})
    sync(a, b)
    assert snapshot(a) == snapshot(b)
    again = [c for batch in a.all_changes() for c in batch]
    before = snapshot(b)
    result = b.apply(again + list(reversed(again)))
    assert result.applied == 0 and result.duplicates == 2 * len(again)
    assert snapshot(b) == before


def test_any_delivery_order_gives_the_same_state(make_store):
    a, b, c = make_store("a"), make_store("b"), make_store("c")
    u = unit(a)
    t = task(a)
    for status in ("dispatched", "en route", "on scene"):
        a.update("units", u, {"status": status})
    a.update("units", u, {"task_id": t, "location": "Levee"})
    a.delete("tasks", t)
    changes = [ch for batch in a.all_changes() for ch in batch]
    b.apply(changes)
    for ch in reversed(changes):  # one at a time, newest first: children before parents
        c.apply([ch])
    assert snapshot(a) == snapshot(b) == snapshot(c)
    assert c._conn.execute("SELECT count(*) FROM superseded").fetchone()[0] == 0
    assert c.version_vector() == a.version_vector()


def test_counters_count_every_draw_once(make_store):
    a, b = make_store("a"), make_store("b")
    r = a.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 1000})
    sync(a, b)
    a.adjust(r, -300)  # partitioned: both agencies draw
    b.adjust(r, -450)
    b.adjust(r, 20)
    sync(a, b)
    sync(b, a)
    sync(b, a)
    assert a.get("resources", r).quantity == b.get("resources", r).quantity == 270
    assert a.conflicts() == []


def on_two_tasks(make_store):
    """Fire and Police, partitioned, each put E-12 on a task of its own;
    then they meet: (fire, police, the unit, Fire's task, Police's task)."""
    fire, police = make_store("fire", agency="County Fire"), make_store("police", agency="City Police")
    levee, elm = task(fire, "Sandbag levee"), task(fire, "Evacuate Elm St")
    u = unit(fire)
    sync(fire, police)
    fire.update("units", u, {"task_id": levee})
    police.update("units", u, {"task_id": elm})
    converge([fire, police])
    return fire, police, u, levee, elm


def test_unit_assigned_to_two_tasks_while_partitioned_is_one_conflict_everywhere(make_store):
    fire, police, u, levee, elm = on_two_tasks(make_store)
    assert snapshot(fire) == snapshot(police)
    [cf] = fire.conflicts()
    assert (cf.table, cf.row_label, cf.field, cf.kind) == ("units", "E-12", "task_id", "field")
    assert {c.value for c in cf.candidates} == {levee, elm}
    assert {c.agency for c in cf.candidates} == {"County Fire", "City Police"}
    assert police.conflicts() == [cf]
    # The last writer shows meanwhile, the same on both.
    assert fire.get("units", u).task_id == police.get("units", u).task_id


def test_a_unit_deleted_after_its_fields_collided_leaves_nothing_to_reconcile(make_store, monkeypatch):
    """Two statuses at once, then the unit deleted by someone who saw both:
    no conflict is left open on any console (it could not be reconciled
    without restoring the unit, and the boards would say "1 conflict to
    reconcile" for good). Restored, by hand or by an undo, its collision is
    open again everywhere, and can be reconciled."""
    fire, police = make_store("fire", agency="County Fire"), make_store("police", agency="City Police")
    u = unit(fire)
    sync(fire, police)
    fire.update("units", u, {"status": "en route"})
    police.update("units", u, {"status": "on scene"})
    converge([fire, police])
    assert [c.field for c in fire.conflicts()] == ["status"]
    police.delete("units", u)
    deleted = police.last_operation
    converge([fire, police])
    assert fire.conflicts() == police.conflicts() == []
    assert fire.open_conflict_count() == police.info().open_conflicts == 0
    police.undo([deleted])
    converge([fire, police])
    [c] = police.conflicts()
    assert (c.field, fire.conflicts()) == ("status", [c])
    police.resolve(c.id, keep=1)
    converge([fire, police])
    assert fire.conflicts() == police.conflicts() == [] and snapshot(fire) == snapshot(police)

    # A database whose conflicts were found by the rules before (a unit's
    # fields in conflict though it is deleted) has them found again when opened.
    b = unit(fire, "E-14")
    sync(fire, police)
    fire.update("units", b, {"personnel": 3})
    police.update("units", b, {"personnel": 4})
    converge([fire, police])
    import console.merge as merge_module

    real = merge_module.row_conflicts
    before = lambda table, row, heads: real(table, row, {**heads, "deleted": []}) + (  # noqa: E731
        [d] if (d := merge_module.delete_conflict(table, row, heads)) else [])
    monkeypatch.setattr(merge_module, "row_conflicts", before)
    fire.delete("units", b)
    assert [c.field for c in fire.conflicts()] == ["personnel"]  # as the rules before left it
    fire._conn.execute("DELETE FROM meta WHERE key = 'conflict_rules'")
    fire.close()
    monkeypatch.setattr(merge_module, "row_conflicts", real)
    with Store(fire.path) as again:
        assert again.conflicts() == []
        again.update("units", b, {"deleted": False})
        assert [c.field for c in again.conflicts()] == ["personnel"]


def test_a_side_whose_callsign_another_unit_has_taken_since_is_refused_saying_what_to_do(make_store):
    """A unit's callsign changed on two consoles apart, E-2 here and E-3
    there; then another unit is added as the side the boards do not show:
    keeping that side would put one callsign on two units, and is
    refused, saying what a person can do instead, which works."""
    fire, ems = make_store("fire", agency="County Fire"), make_store("ems", agency="County EMS")
    u = fire.add("units", {"callsign": "E-12", "agency": "County Fire", "kind": "Engine"})
    converge([fire, ems])
    fire.update("units", u, {"callsign": "E-2"})
    ems.update("units", u, {"callsign": "E-3"})
    converge([fire, ems])
    [c] = fire.conflicts()
    hidden = 3 - c.shown
    taken = c.candidates[hidden - 1].value
    fire.add("units", {"callsign": taken, "agency": "County EMS", "kind": "Ambulance"})
    shown = fire.get("units", u).callsign
    with pytest.raises(model.ValidationError) as refused:
        fire.resolve(c.id, keep=hidden)
    assert str(refused.value) == (f"{shown}: that side's callsign {taken!r} is already in use (County EMS); keep "
                                  "another side, or enter a new value")
    fire.resolve(c.id, raw="E-12")
    assert fire.get("units", u).callsign == "E-12" and fire.conflicts() == []


def test_a_side_putting_a_unit_on_a_task_deleted_since_is_refused_in_words(make_store):
    """Keeping the side of a unit's task conflict whose task was deleted
    since is refused, naming the task and how it went, not by its id; the
    other side is taken."""
    fire, _, u, levee, elm = on_two_tasks(make_store)
    [c] = [c for c in fire.conflicts() if c.field == "task_id"]
    hidden = 3 - c.shown  # the side the boards do not show: its task deleted takes no unit off it
    gone = c.candidates[hidden - 1].value
    fire.delete("tasks", gone)
    with pytest.raises(model.ValidationError) as refused:
        fire.resolve(c.id, keep=hidden)
    title = fire.get("tasks", gone, deleted=True).title
    assert str(refused.value) == (f"E-12: that side puts it on {title}, now deleted; keep another side, or "
                                  "enter a new value")
    fire.resolve(c.id, keep=c.shown)
    assert fire.get("units", u).task_id == ({levee, elm} - {gone}).pop() and fire.conflicts() == []
    # How a task went, as the reconciliation view says it next to such a side.
    kept, twice = task(fire, "Welfare checks"), task(fire, "welfare checks")
    fire.merge_tasks([kept, twice])
    assert (fire.task_gone(gone), fire.task_gone(twice), fire.task_gone(kept)) == (
        "deleted", "merged into Welfare checks", None)


def test_same_value_written_concurrently_is_not_a_conflict(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"status": "on scene"})
    b.update("units", u, {"status": "on scene"})
    converge([a, b])
    assert a.conflicts() == b.conflicts() == []


def test_sequential_edits_do_not_conflict(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    b.update("units", u, {"status": "en route"})
    sync(b, a)
    a.update("units", u, {"status": "on scene"})
    converge([a, b])
    assert a.conflicts() == []
    assert b.get("units", u).status == "on_scene"


def test_resolution_on_one_replica_clears_the_conflict_on_all(make_store):
    a, b, c = make_store("a"), make_store("b"), make_store("c")
    u = unit(a)
    converge([a, b, c])
    a.update("units", u, {"status": "on scene"})
    b.update("units", u, {"status": "returning"})
    converge([a, b, c])
    [conflict] = c.conflicts()
    keep = next(i for i, x in enumerate(conflict.candidates, 1) if x.value == "returning")
    c.resolve(conflict.id, keep=keep)
    assert c.conflicts() == []
    converge([a, b, c])
    assert a.conflicts() == b.conflicts() == []
    assert {s.get("units", u).status for s in (a, b, c)} == {"returning"}
    assert snapshot(a) == snapshot(b) == snapshot(c)
    assert "Reconciled E-12: status = returning" in [e.text for e in a.journal()]


def test_a_conflict_is_found_by_the_start_of_its_id_through_the_index(make_store):
    """A conflict is named by its id or a start of it (4 hex digits or
    more, any case): found by the index of ids, not by reading every open
    conflict (settling a thousand of 4,000 at once read them 3,000 times);
    a start no id has, or not hex, is refused."""
    a, b = make_store("a"), make_store("b")
    units = [unit(a, f"E-{i}") for i in range(60)]
    sync(a, b)
    for i, u in enumerate(units):
        a.update("units", u, {"location": f"north {i}"})
        b.update("units", u, {"location": f"south {i}"})
    converge([a, b])
    ids = sorted(c.id for c in a.conflicts())
    assert len(ids) == 60
    for cid in ids:
        assert a.conflict(cid).id == cid and a.conflict(f" {cid[:8].upper()} ").id == cid
    for ref in ("ffffffffffff", ids[0][:3], "g" + ids[0][1:], ids[0] + "0", "%%%%", ids[0][:4] + "%"):
        with pytest.raises(NotFound):
            a.conflict(ref)
    said = []
    a._conn.set_trace_callback(said.append)
    a.conflict(ids[7][:6])
    a._conn.set_trace_callback(None)
    (sql,) = [q for q in said if "FROM conflicts" in q]
    plan = " | ".join(r[3] for r in a._conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "SCAN" not in plan and "SEARCH conflicts" in plan, plan


def test_resolution_with_a_new_value(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"location": "North levee"})
    b.update("units", u, {"location": "Levee stn 14"})
    converge([a, b])
    a.resolve(a.conflicts()[0].id, raw="Levee station 14, north side")
    converge([a, b])
    assert b.get("units", u).location == "Levee station 14, north side"
    assert b.conflicts() == []
    with pytest.raises(NotFound):
        a.resolve("abcdef", keep=1)


def test_two_concurrent_resolutions_converge(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    sync(a, b)
    a.update("units", u, {"status": "on scene"})
    b.update("units", u, {"status": "returning"})
    converge([a, b])
    cid = a.conflicts()[0].id
    a.resolve(cid, keep=1)
    b.resolve(cid, keep=2)
    converge([a, b])
    assert a.conflicts() == b.conflicts() == []
    assert a.get("units", u).status == b.get("units", u).status
    assert snapshot(a) == snapshot(b)


def test_edit_against_concurrent_delete_is_a_conflict_resolvable_both_ways(make_store):
    a, b = make_store("a"), make_store("b")
    u1, u2 = unit(a, "E-1"), unit(a, "E-2")
    sync(a, b)
    a.delete("units", u1)
    a.delete("units", u2)
    b.update("units", u1, {"status": "on scene"})
    b.update("units", u2, {"notes": "still at the levee"})
    converge([a, b])
    assert snapshot(a) == snapshot(b)
    conflicts = {c.row: c for c in a.conflicts()}
    assert set(conflicts) == {u1, u2} and all(c.kind == "delete" for c in conflicts.values())
    assert [x.field for x in conflicts[u1].candidates] == ["deleted", "status"]
    assert a.list("units") == []  # the delete shows until someone decides
    a.resolve(conflicts[u1].id, keep=1)  # the delete stands
    b.resolve(conflicts[u2].id, keep=2)  # the edit stands: the row comes back
    with pytest.raises(model.ValidationError, match="keeping one side"):
        a.resolve(conflicts[u2].id, value="x")
    converge([a, b])
    assert a.conflicts() == b.conflicts() == []
    assert [x.callsign for x in a.list("units")] == [x.callsign for x in b.list("units")] == ["E-2"]
    assert a.get("units", u2).notes == "still at the levee"


def test_several_conflicts_resolved_at_once_match_one_at_a_time(make_store):
    """resolve_many gives what resolve one by one gives, with two conflicts on
    one row (they go in separate transactions) and an edit against a delete."""

    def partitioned(suffix):
        a, b = make_store(f"a{suffix}"), make_store(f"b{suffix}")
        u1, u2, u3 = unit(a, "E-1"), unit(a, "E-2"), unit(a, "E-3")
        t1, t2 = task(a, "Levee"), task(a, "Shelter")
        sync(a, b)
        a.update("units", u1, {"status": "on scene", "task_id": t1})
        b.update("units", u1, {"status": "returning", "task_id": t2})
        a.update("units", u2, {"notes": "pump down"})
        b.update("units", u2, {"notes": "pump up"})
        a.delete("units", u3)
        b.update("units", u3, {"location": "Levee"})
        converge([a, b])
        return a, b

    one, _ = partitioned("1")
    many, _ = partitioned("2")

    def keep(c):  # the second option of a field conflict; the delete of the edit-against-delete
        return 2 if c.kind == "field" else 1

    for c in one.conflicts():
        one.resolve(c.id, keep=keep(c))
    with pytest.raises(StoreError, match="no open conflict"):
        many.resolve_many({"ffff": 1})
    made = many.resolve_many({c.id: keep(c) for c in many.conflicts()})
    assert len(made) == 4 and many.conflicts() == one.conflicts() == []

    def state(s):
        titles = {t.id: t.title for t in s.list("tasks")}
        live = {u.id for u in s.list("units")}
        return sorted((u.callsign, u.id in live, u.status, titles.get(u.task_id), u.notes, u.location)
                      for u in s.list("units", deleted=True))

    assert state(many) == state(one)
    assert [u.callsign for u in many.list("units")] == ["E-1", "E-2"]
    assert sorted(e.text for e in one.journal() if e.action == "resolve") == \
        sorted(e.text for e in many.journal() if e.action == "resolve")


def test_concurrent_delete_and_restore_is_a_field_conflict(make_store):
    a, b = make_store("a"), make_store("b")
    u = unit(a)
    a.delete("units", u)
    sync(a, b)
    a.update("units", u, {"deleted": False})
    b.update("units", u, {"deleted": False})
    a.delete("units", u)
    converge([a, b])
    assert snapshot(a) == snapshot(b)
    assert [c.field for c in a.conflicts()] == ["deleted"]


# ---------------------------------------------------------------------- clocks


def test_clock_stays_monotonic_when_the_wall_clock_jumps_back(make_store):
    wall = FakeWall()
    s = make_store(wall=wall)
    u = unit(s)
    first = s.clock.last
    wall.ms -= 2 * HOUR
    s.update("units", u, {"status": "en route"})
    s.update("units", u, {"status": "on scene"})
    hlcs = [h for (h,) in s._conn.execute("SELECT hlc FROM changes ORDER BY seq")]
    assert hlcs == sorted(hlcs) and len(set(hlcs)) == len(hlcs) and hlcs[-1] > first
    assert s.get("units", u).status == "on_scene"


def test_clock_survives_reopening(tmp_path):
    wall = FakeWall()
    s = Store(tmp_path / "a.db", wall=wall)
    unit(s)
    last = s.clock.last
    s.close()
    wall.ms -= HOUR
    s = Store(tmp_path / "a.db", wall=wall)
    assert s.clock.now() > last
    s.close()


def test_a_console_a_day_ahead_is_refused_with_a_reason(make_store):
    now = FakeWall()
    ahead = FakeWall(now.ms + 24 * HOUR)
    a, b = make_store("a", wall=ahead), make_store("b", wall=now)
    good = make_store("c", wall=now)
    u = unit(good)
    unit(a, "E-99")
    before = snapshot(b)
    result = b.apply([c for batch in a.all_changes() for c in batch])
    assert result.applied == 0
    [(origin, seq, reason)] = result.refused
    assert origin == a.replica_id and seq == 1 and "24h ahead" in reason
    assert snapshot(b) == before
    assert clock.physical_ms(b.clock.last) < now.ms + 1000  # the clock was not dragged forward
    sync(good, b)  # others still merge
    assert b.get("units", u).callsign == "E-12"


def test_a_forged_change_from_this_console_is_refused(make_store):
    a, b = make_store("a"), make_store("b")
    forged = Change(b.replica_id, 1, a.clock.now(), "units", "1" * 32, "*", "insert",
                    {f.name: None for f in model.UNITS.fields} | {"callsign": "X", "agency": "Y", "kind": "Z"},
                    (), "mallory", "Nobody")
    r = b.apply([forged])
    assert r.applied == 0 and "claims to come from this console" in r.refused[0][2]
    assert b.list("units") == []


# ------------------------------------------------------------ sync interface


def test_changes_since_gives_what_is_lacking_in_bounded_batches(make_store):
    a, b = make_store("a"), make_store("b")
    a.add_many("units", [{"callsign": f"U-{i}", "agency": "F", "kind": "E"} for i in range(250)])
    batches = list(a.changes_since(b.version_vector(), batch=100))
    assert [len(x) for x in batches] == [100, 100, 51]
    assert a.count_missing(b.version_vector()) == 251
    for x in batches[:2]:
        b.apply(x)
    assert a.count_missing(b.version_vector()) == 51
    assert sum(len(x) for x in a.changes_since(b.version_vector())) == 51
    sync(a, b)
    assert a.count_missing(b.version_vector()) == 0
    assert b.version_vector() == a.version_vector() == {a.replica_id: 251}


def test_count_missing_counts_the_log_with_changes_held_out_of_order(make_store):
    """What a peer lacks is counted from the version marks, not the log, so
    it stays cheap; with changes held out of order (gaps in the log) it
    must still equal a count of the log itself."""
    import random

    a, b = make_store("a"), make_store("b")
    a.add_many("units", [{"callsign": f"U-{i}", "agency": "F", "kind": "E"} for i in range(40)])
    for i in range(60):
        a.note(f"note {i}")
    changes = [c for batch in a.changes_since({}) for c in batch]
    rng = random.Random(3)
    held = rng.sample(changes, 70)  # b holds these only: gaps, and runs beyond them
    b.apply(held)
    cont, top = b.replica_marks()[a.replica_id]
    assert cont < top  # out of order indeed
    for _ in range(50):
        have = rng.randint(0, top + 5)
        vv = {a.replica_id: have} if rng.random() < 0.9 else {}
        naive = sum(1 for c in held if c.seq > vv.get(a.replica_id, 0))
        assert b.count_missing(vv) == naive, vv


def test_a_relay_forwards_other_consoles_changes(make_store):
    a, relay, c = make_store("a"), make_store("relay"), make_store("c")
    unit(a, "E-1")
    unit(c, "M-7")
    sync(a, relay)
    sync(c, relay)
    sync(relay, a)
    sync(relay, c)
    assert snapshot(a) == snapshot(c) == snapshot(relay)


# --------------------------------------------------------- files and replicas


def test_copied_or_restored_database_gets_a_new_replica_id(tmp_path):
    s = Store(tmp_path / "a.db")
    unit(s)
    first = s.replica_id
    s.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "backup.db")  # a backup of the file alone
    s = Store(tmp_path / "a.db")
    assert s.replica_id == first  # the same file reopened keeps its id
    unit(s, "E-13")
    s.close()
    shutil.copy(tmp_path / "backup.db", tmp_path / "a.db")  # restored over the original
    s = Store(tmp_path / "a.db")
    assert s.replica_id != first
    assert s.info().previous_replica_ids == (first,)
    unit(s, "E-14")  # its new changes start a fresh sequence under the new id
    assert s.version_vector()[s.replica_id] == 2
    s.close()
    copy = Store(tmp_path / "backup.db")
    assert copy.replica_id not in (first, s.replica_id)
    copy.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CorruptDatabase, match=r"damaged or not a database .*restore a backup of it "
                       r"\(crisis-console restore\), or start a new database and sync it from a peer"):
        Store(bad)
    assert bad.read_bytes() == b"this is not sqlite at all" * 100


def test_damage_found_after_opening_is_said_as_such_and_the_store_reads_on(tmp_path):
    """A page of the change log damaged (a disk's fault): the file opens,
    and what reads the log fails with CorruptDatabase, saying what to do,
    never sqlite3's own error: not from a generator read batch by batch
    (sync's catch-up), not from the end of a read transaction around it.
    The store is left out of any transaction, and reads the rest."""
    from conftest import damage

    with Store(tmp_path / "ops.db") as s:
        s.add_many("tasks", [{"title": f"Sandbag line {i}"} for i in range(2000)])
    damage(tmp_path / "ops.db", "changes")
    s = Store(tmp_path / "ops.db")
    said = (r"ops.db: the file is damaged or not a database \(database disk image is malformed\)\. "
            + re.escape(IF_DAMAGED))
    with pytest.raises(CorruptDatabase, match=said):
        list(s.changes_since({}))
    with pytest.raises(CorruptDatabase, match=said):
        list(s.wire_since({}, batch=100))
    with pytest.raises(CorruptDatabase, match=said):
        with s.reading():
            assert s.counts()["tasks"] == 2000
            list(s.changes_since({}))
    assert not s._conn.in_transaction
    assert s.counts()["tasks"] == 2000
    with s.reading():
        assert s.counts()["tasks"] == 2000
    s.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_store_whose_file_is_deleted_or_replaced_under_it_writes_no_more(tmp_path, how):
    """SQLite writes on into the file it has open, whatever is at its path
    now: into a deleted file (lost as it closes), or past a file put in
    its place. The store refuses every write from then on, saying why,
    and reads on; a file at its path untouched stays so."""
    from console import backup

    db = tmp_path / "ops.db"
    s = Store(db)
    s.add("tasks", {"title": "Sandbag line"})
    assert not s.file_gone()
    held = snapshot(s)
    if how == "deleted":
        db.unlink()
        said = r"the database file was deleted \(or moved away\) while this program had it open"
    else:
        other = tmp_path / "other.db"
        with Store(other) as o:
            o.add("tasks", {"title": "Another operation"})
        db.rename(tmp_path / "moved.db")
        other.rename(db)
        said = "another file was put in place of the database while this program had it open"
        before = db.read_bytes()
    assert s.file_gone()
    task = s.list("tasks")[0].id
    with Store(tmp_path / "peer.db") as peer:
        peer.add("tasks", {"title": "From a peer"})
        from_peer = [c for batch in peer.changes_since({}) for c in batch]
    for write in (lambda: s.add("tasks", {"title": "Lost"}), lambda: s.note("Lost too"),
                  lambda: s.update("tasks", task, {"status": "done"}), lambda: s.apply(from_peer)):
        with pytest.raises(StoreError, match=said):
            write()
    assert snapshot(s) == held
    if how == "replaced":
        assert db.read_bytes() == before
    rescued = backup.rescue(s, tmp_path)  # through its own connection: all it held
    s.close()
    with Store(rescued.path) as r:
        assert snapshot(r) == held and rescued.changes == held["changes"]


def test_someone_elses_sqlite_file_is_refused(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE birds (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptDatabase, match="not a crisis-console one"):
        Store(other)


def test_a_newer_schema_is_refused(tmp_path):
    s = Store(tmp_path / "a.db")
    s._conn.execute("PRAGMA user_version = 99")
    s.close()
    with pytest.raises(StoreError, match="newer crisis-console"):
        Store(tmp_path / "a.db")


def test_database_is_plain_sqlite_in_wal_mode(make_store):
    s = make_store()
    unit(s)
    conn = sqlite3.connect(s.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT callsign, status FROM units").fetchall() == [("E-12", "available")]
    conn.close()


def test_new_databases_use_big_pages_and_old_ones_keep_theirs(tmp_path):
    s = Store(tmp_path / "new.db")
    assert s._conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 8192
    s.close()
    # A database made before (4 KiB pages, SQLite's default) opens, merges
    # and stays as it is: in WAL mode the page size cannot change in place.
    conn = sqlite3.connect(tmp_path / "small.db")
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("VACUUM")
    conn.close()
    small = Store(tmp_path / "small.db")
    a = Store(tmp_path / "a.db")
    try:
        assert small._conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        unit(a)
        sync(a, small)
        assert snapshot(small) == snapshot(a)
    finally:
        small.close()
        a.close()


def test_a_merge_leaves_the_garbage_collector_as_it_found_it(make_store, monkeypatch):
    import gc

    a, b = make_store("a"), make_store("b")
    uid = unit(a)
    assert gc.isenabled()
    sync(a, b)
    assert gc.isenabled()
    gc.disable()
    try:
        a.update("units", uid, {"status": "on scene"})
        sync(a, b)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # A merge that fails part-way: nothing is applied, collection is back on.
    a.update("units", uid, {"status": "returning"})

    def boom(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(b, "_merge", boom)
    with pytest.raises(StoreError):
        sync(a, b)
    assert gc.isenabled()
    assert b.get("units", uid).status == "on_scene"


def test_info(make_store):
    s = make_store(agency="County EMS")
    unit(s)
    info = s.info().as_dict()
    assert info["agency"] == "County EMS"
    assert info["version_vector"] == {s.replica_id: 2}
    assert info["counts"]["units"] == 1 and info["open_conflicts"] == 0
    json.dumps(info)


def journal_as_a_table(conn) -> None:
    """Back to schema 3's journal: a table of its own, filled from the log."""
    conn.execute("CREATE TABLE journal_v3 AS SELECT * FROM journal")
    conn.execute("DROP VIEW journal")
    conn.execute("DROP INDEX journal_time")
    conn.execute("DROP TABLE journal_about")
    conn.execute(
        'CREATE TABLE "journal" ("id" TEXT PRIMARY KEY, "at" TEXT, "console" TEXT, "agency" TEXT, '
        '"operator" TEXT, "action" TEXT, "tbl" TEXT, "row_id" TEXT, "text" TEXT, "created_hlc" INTEGER, '
        '"created_by" TEXT, "created_seq" INTEGER)')
    conn.execute("INSERT INTO journal SELECT * FROM journal_v3")
    conn.execute("DROP TABLE journal_v3")
    conn.execute("CREATE INDEX journal_time ON journal (created_hlc)")
    conn.execute("CREATE INDEX journal_row ON journal (tbl, row_id)")


def test_a_version_3_database_gets_its_journal_from_the_log(tmp_path):
    """Schema 4 reads the journal from the change log: a database made by
    schema 3, with the journal in a table of its own, shows the same entries
    afterwards, for a row too, and goes on writing them."""
    s = Store(tmp_path / "a.db", operator="a", agency="A")
    uid = unit(s)
    tid = task(s)
    s.update("units", uid, {"status": "en route", "task_id": tid})
    s.note("Levee holding", "units", uid)
    entries, about = s.journal(), s.journal(table="units", row=uid)
    assert len(about) == 3
    conn = s._conn
    conn.execute("BEGIN")
    journal_as_a_table(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("COMMIT")
    s.close()

    s = Store(tmp_path / "a.db")
    try:
        assert s.info().schema_version == SCHEMA_VERSION
        assert s._conn.execute("SELECT type FROM sqlite_master WHERE name = 'journal'").fetchone() == ("view",)
        assert s.journal() == entries
        assert s.journal(table="units", row=uid) == about
        assert s.journal(table="tasks", row=tid)[-1].text.startswith("Added task")
        assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        s.update("units", uid, {"location": "Levee"})
        assert s.journal(table="units", row=uid)[0].text == "E-12: location — → Levee"
        assert len(s.journal()) == len(entries) + 1
    finally:
        s.close()


def test_a_version_2_database_is_migrated_keeping_heads_and_conflicts(tmp_path):
    """Schema 3 stops copying values into heads; a database made by schema 2
    keeps its open conflicts and goes on merging after the upgrade."""
    a = Store(tmp_path / "a.db", operator="a", agency="A")
    b = Store(tmp_path / "b.db", operator="b", agency="B")
    uid = a.add("units", {"callsign": "E-1", "agency": "Fire", "kind": "Engine"})
    sync(a, b)
    a.update("units", uid, {"status": "on scene", "location": "Main St"})
    b.update("units", uid, {"status": "returning"})
    sync(a, b)
    sync(b, a)
    before = [(c.id, c.field, sorted(x.value for x in c.candidates)) for c in a.conflicts()]
    assert before and before[0][1] == "status"
    heads = a._conn.execute("SELECT * FROM heads ORDER BY 1, 2, 3, 4, 5").fetchall()
    for s in (a, b):  # back to the schema 2 layout: heads with copies of values
        conn = s._conn
        conn.execute("BEGIN")
        journal_as_a_table(conn)
        conn.execute(
            "CREATE TABLE heads_v2 (tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, "
            "origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, kind TEXT NOT NULL, "
            "value TEXT, prev TEXT NOT NULL, PRIMARY KEY (tbl, row_id, field, origin, seq)) WITHOUT ROWID")
        conn.execute("INSERT INTO heads_v2 SELECT h.tbl, h.row_id, h.field, h.origin, h.seq, h.hlc, h.kind, "
                     "c.value, c.prev FROM heads h JOIN changes c ON c.origin = h.origin AND c.seq = h.seq")
        conn.execute("DROP TABLE heads")
        conn.execute("ALTER TABLE heads_v2 RENAME TO heads")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("COMMIT")
        s.close()

    a = Store(tmp_path / "a.db")
    b = Store(tmp_path / "b.db")
    try:
        assert a.info().schema_version == SCHEMA_VERSION
        assert "value" not in {r[1] for r in a._conn.execute("PRAGMA table_info(heads)")}
        assert a._conn.execute("SELECT * FROM heads ORDER BY 1, 2, 3, 4, 5").fetchall() == heads
        assert [(c.id, c.field, sorted(x.value for x in c.candidates)) for c in a.conflicts()] == before
        assert a._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The heads still drive merging: a resolution clears the conflict on both.
        a.resolve(before[0][0], value="on scene")
        sync(a, b)
        assert a.conflicts() == [] and b.conflicts() == []
        assert a.get("units", uid).status == b.get("units", uid).status == "on_scene"
        b.update("units", uid, {"location": "Depot"})
        sync(b, a)
        assert a.get("units", uid).location == "Depot"
        assert snapshot(a) == snapshot(b)
    finally:
        a.close()
        b.close()


def test_describe_says_a_value_as_people_read_it(make_store):
    s = make_store()
    t = task(s, "Sandbag Main St")
    assert s.describe("units", "task_id", t) == "Sandbag Main St"
    assert s.describe("units", "task_id", "f" * 32) == "f" * 8  # not held (yet): its short id
    assert s.describe("units", "status", "out_of_service") == "out of service"
    assert [s.describe("units", "deleted", v) for v in (True, False)] == ["yes", "no"]
    assert s.describe("units", "notes", None) == s.describe("units", "notes", "") == "—"
    assert s.describe("resources", "quantity", 12.0) == "12"
    with pytest.raises(model.ValidationError):
        s.describe("units", "colour", "red")


def test_names_other_consoles_would_refuse_are_refused_here(tmp_path, monkeypatch):
    from console import codec
    from console.model import ValidationError

    long = "x" * (codec.MAX_NAME + 1)
    for kwargs, said in (
        ({"operator": long}, "the operator name is 201 characters long; other consoles take at most 200"),
        ({"agency": long}, "the agency name is 201"),
        ({"operator": "   "}, "the operator name is empty"),
        ({"agency": ""}, "the agency name is empty"),
    ):
        with pytest.raises(ValidationError, match=said):
            Store(tmp_path / "a.db", **kwargs)
    assert not (tmp_path / "a.db").exists()
    monkeypatch.setenv("CRISIS_OPERATOR", long)
    with pytest.raises(ValidationError, match=r"\$CRISIS_OPERATOR: the operator name is 201"):
        Store(tmp_path / "a.db")
    monkeypatch.setenv("CRISIS_OPERATOR", "  Sgt. Lee ")
    with Store(tmp_path / "a.db", agency=" County Fire ") as s:
        assert (s.operator, s.agency) == ("Sgt. Lee", "County Fire")


def test_a_shift_change_records_later_changes_as_the_new_operator_s(tmp_path):
    from console.model import ValidationError

    with Store(tmp_path / "a.db", operator="Sgt. Lee") as s:
        unit = s.add("units", {"callsign": "E-1", "agency": "F", "kind": "E"})
        assert s.hand_over("  Cpl. Diaz ") == "Cpl. Diaz"
        s.update("units", unit, {"status": "en route"})
        edit, handed = s.journal(limit=2)  # newest first
        assert (handed.text, handed.operator) == ("Cpl. Diaz takes over this console from Sgt. Lee", "Cpl. Diaz")
        assert edit.operator == "Cpl. Diaz" and edit.text.startswith("E-1: status")
        ops = [r[0] for r in s._conn.execute("SELECT operator FROM changes ORDER BY seq")]
        assert ops[0] == "Sgt. Lee" and ops[-1] == "Cpl. Diaz"
        before = s.info().changes
        assert s.hand_over("Cpl. Diaz") == "Cpl. Diaz" and s.info().changes == before  # no one new: no note
        for bad in ("", "x" * 201, "bad \udcff"):
            with pytest.raises(ValidationError):
                s.hand_over(bad)
        assert s.operator == "Cpl. Diaz" and s.info().changes == before


def test_who_is_at_the_console_is_remembered_past_a_restart(tmp_path):
    with Store(tmp_path / "a.db", operator="Sgt. Lee") as s:
        assert s.at_console() is None
        s.hand_over("Cpl. Diaz")
        name, since = s.at_console()
        assert name == "Cpl. Diaz" and since.endswith("Z")
    with Store(tmp_path / "a.db") as s:  # (opened again, the name is only remembered: see ui.app.at_console)
        assert s.at_console()[0] == "Cpl. Diaz"
        for bad in ("not json", '{"operator": ""}', '{"operator": 7}', "[]"):
            s._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('kept:at console', ?)", (bad,))
            assert s.at_console() is None


def test_writes_that_meet_a_full_disk_change_nothing_and_the_next_ones_work(make_store):
    """SQLite's own "database or disk is full", part way through a
    transaction (the database may grow a few pages more): a local bulk
    insert and a remote batch each fail whole with a clear error, the
    counters move on without a gap, and once there is room the same
    batches merge as they would have: the same rows and conflicts as a
    replica that never ran out."""
    from console.store import StoreIOError

    a, b, full, roomy = (make_store(name) for name in ("a", "b", "full", "roomy"))
    for s, side in ((a, "A"), (b, "B")):
        s.add_many("units", [{"callsign": f"{side}{i}", "agency": "County Fire", "kind": "Engine"} for i in range(300)])
    converge([a, b])
    for i in range(0, 300, 3):  # concurrent edits of the same units: conflicts
        a.update("units", f"B{i}", {"status": "dispatched", "location": "Levee"})
        b.update("units", f"B{i}", {"status": "on scene", "location": "Mill"})
    converge([a, b])
    disk_room(a, 2)
    before = snapshot(a)
    with pytest.raises(StoreIOError, match=r"the disk is full \(make room on it\); nothing was written"):
        a.add_many("units", [{"callsign": f"X{i}", "agency": "EMS", "kind": "Medic"} for i in range(3000)])
    assert snapshot(a) == before
    a.update("units", "A1", {"status": "available"})  # a small edit still fits
    disk_room(a, None)
    a.add_many("units", [{"callsign": f"Y{i}", "agency": "EMS", "kind": "Medic"} for i in range(50)])
    own = [c.seq for part in a.changes_since({}) for c in part if c.origin == a.replica_id]
    assert sorted(own) == list(range(1, a.info().version_vector[a.replica_id] + 1))  # no gap, nothing twice

    disk_room(full, 30)
    failed = 0
    for part in a.changes_since({}, batch=400):
        try:
            full.apply(part)
        except StoreIOError:
            failed += 1
    assert failed and 0 < full.counts()["units"] < 650
    disk_room(full, None)
    sync(a, full, batch=400)
    sync(a, roomy, batch=400)
    assert snapshot(full) == snapshot(roomy) and full.info().open_conflicts == roomy.info().open_conflicts > 0


def test_a_hand_over_whose_note_cannot_be_written_changes_no_one(tmp_path, monkeypatch):
    from console.store import StoreIOError

    with Store(tmp_path / "a.db", operator="Sgt. Lee") as s:
        before = s.info().changes

        def full(*_a, **_k):
            raise StoreIOError("the disk is full; nothing was written")

        monkeypatch.setattr(s, "note", full)
        with pytest.raises(StoreIOError):
            s.hand_over("Cpl. Diaz")
        assert s.operator == "Sgt. Lee" and s.info().changes == before


def test_tally_counts_live_rows_per_value_and_in_all(tmp_path):
    with Store(tmp_path / "a.db") as s:
        for callsign, status, people in (("E-1", "available", 4), ("E-2", "available", 3), ("M-1", "on scene", 2)):
            s.add("units", {"callsign": callsign, "agency": "F", "kind": "E", "status": status, "personnel": people})
        s.delete("units", "E-2")
        assert sorted(s.tally("units", ["status"], total="personnel")) == [("available", 1, 4.0), ("on_scene", 1, 2.0)]
        assert s.tally("units", []) == [(2,)]
        with pytest.raises(model.ValidationError, match="units has no field 'colour'"):
            s.tally("units", ["colour"])


def test_units_check_in_with_a_note_about_each_and_the_newest_note_is_found(make_store):
    s = make_store()
    e12, e14 = unit(s, "E-12"), unit(s, "E-14")
    s.update("units", e14, {"status": "en_route"})
    assert s.last_notes("units", {e12: None, e14: None}) == {}
    ids = s.check_in(["E-14", e14, "E-12"], "  held up at\nthe bridge ")  # E-14 twice: one note
    assert len(ids) == 2
    texts = {e.row_id: e.text for e in s.journal(limit=2)}
    assert texts[e14].startswith("E-14 checked in, en route for ") and texts[e14].endswith(": held up at the bridge")
    assert texts[e12].startswith("E-12 checked in, available")
    first = s.last_notes("units", {e12: None, e14: None})
    assert set(first) == {e12, e14}
    s.note("radio check OK", "units", e14)  # any note about a unit counts
    assert s.last_notes("units", {e14: None})[e14] >= first[e14]
    assert s.journal(limit=1)[0].text == "radio check OK"
    s.update("units", e14, {"location": "Rt 9"})  # an entry about it, not a note: not a check-in
    assert s.journal(limit=1)[0].tbl == "units" and s.last_notes("units", {e14: None})[e14] >= first[e14]
    # Only notes from the time given on are read.
    later = clock.to_iso(clock.pack(s.clock.wall() + 3_600_000))
    assert s.last_notes("units", {e12: later, e14: None}) == {e14: s.last_notes("units", {e14: None})[e14]}
    before = snapshot(s)
    with pytest.raises(NotFound):
        s.check_in(["E-99"])
    with pytest.raises(model.ValidationError, match="no unit to check in"):
        s.check_in([])
    assert snapshot(s) == before


def test_an_agency_written_two_ways_on_consoles_apart_is_listed_once(make_store):
    """Metro Fire, new to both, typed one way at the EOC and another on a
    field laptop apart: each wrote it as given. Once they meet, the
    agencies the boards offer hold it once, as most rows spell it."""
    eoc, field = make_store("eoc", agency="EOC"), make_store("field", agency="County EMS")
    unit(eoc, "MF-1", agency="Metro Fire")
    unit(eoc, "MF-2", agency="Metro Fire")
    unit(field, "MF-3", agency="metro  FIRE")
    task(field, lead_agency="metro  FIRE")
    converge([eoc, field])
    for s in (eoc, field):
        assert s.agencies("units") == ["Metro Fire"]
        assert s.agencies("tasks") == ["metro  FIRE"]  # the only spelling there
        assert sorted(u.agency for u in s.list("units")) == ["Metro Fire", "Metro Fire", "metro  FIRE"]  # as written


def test_an_agency_is_written_as_it_is_spelled_in_use(make_store):
    """One agency never shows as two: a name given in another letter case
    or spacing is written the most used way, by every path that writes
    (the window, the command line, CSV files); a new name as given; the
    spelling of a row's own agency can still be put right on purpose."""
    a, b = make_store("a", agency="County Fire"), make_store("b")
    e12 = unit(a, "E-12", agency="county FIRE ")  # this console's own agency
    assert a.get("units", e12).agency == "County Fire"
    pw = a.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "public works", "quantity": 5})
    assert a.get("resources", pw).agency == "public works"  # new: as given
    t = task(a, lead_agency="PUBLIC  WORKS")
    assert a.get("tasks", t).lead_agency == "public works"  # one agency across tables
    e14 = unit(a, "E-14", agency="Mutual Aid")
    a.update("units", e14, {"agency": "county fire"})
    assert a.get("units", e14).agency == "County Fire"
    a.add("resources", {"name": "Cones", "kind": "Equipment", "agency": "Public  works", "quantity": 9})
    # Put right on purpose: the row's own agency spelled anew is kept, and
    # once most rows spell it so, that is the spelling.
    a.update("resources", pw, {"agency": "Public Works"})
    a.update("tasks", t, {"lead_agency": "Public Works"})
    assert a.get("resources", pw).agency == a.get("tasks", t).lead_agency == "Public Works"
    pw2 = a.add("resources", {"name": "Pumps", "kind": "Equipment", "agency": "Public  works", "quantity": 2})
    assert a.get("resources", pw2).agency == "Public Works"
    # A spelling arriving from another console after this one read the names in use.
    sync(a, b)
    unit(b, "M-7", agency="County EMS")
    sync(b, a)
    m9 = unit(a, "M-9", agency="county ems")
    assert a.get("units", m9).agency == "County EMS"
    assert sorted(x for x, _ in a.tally("units", ["agency"])) == ["County EMS", "County Fire"]
