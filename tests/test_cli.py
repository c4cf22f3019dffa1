import argparse
import csv
import io
import json
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import converge
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from console import cli, model
from console.store import Store

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo(tmp_path, capsys):
    db = tmp_path / "demo.db"
    code, out, err = run(capsys, "seed", "--db", db, "--demo")
    assert code == 0 and "40 units" in out and err == ""
    return db


def state(db):
    with Store(db) as s:
        conn = s._conn
        return (conn.execute("SELECT count(*) FROM changes").fetchone()[0],
                conn.execute("SELECT * FROM units ORDER BY id").fetchall())


def test_info_says_who_is_at_the_console(demo, capsys):
    assert json.loads(run(capsys, "info", "--db", demo, "--json")[1])["at_console"] is None
    assert "at console" not in run(capsys, "info", "--db", demo)[1]
    with Store(demo, operator="Sgt. Lee") as s:
        s.hand_over("Cpl. Diaz")
    at = json.loads(run(capsys, "info", "--db", demo, "--json")[1])["at_console"]
    assert at["operator"] == "Cpl. Diaz" and at["since"].endswith("Z")
    assert (f"at console    Cpl. Diaz since {at['since']} (the window's name for changes when opened without "
            "--operator)\n") in run(capsys, "info", "--db", demo)[1]


def test_seed_demo_loads_the_flood_scenario(demo, capsys):
    code, out, _ = run(capsys, "info", "--db", demo, "--json")
    info = json.loads(out)
    assert info["counts"]["units"] == 40 and info["counts"]["tasks"] == 20 and info["counts"]["resources"] == 15
    code, out, _ = run(capsys, "list", "--db", demo, "units", "--json")
    units = json.loads(out)
    agencies = {u["agency"] for u in units}
    assert agencies == {"County Fire", "City Police", "County EMS", "Public Works", "State DOT"}
    assert any(u["task"] == "Swift-water rescue, 400 block River Road" for u in units)
    # Played out over the last hours of the shift, as the board and the
    # journal then show: not all in one second.
    now = datetime.now(UTC)
    since = sorted(datetime.fromisoformat(u["status_since"].replace("Z", "+00:00")) for u in units)
    assert timedelta(hours=2) < now - since[0] < timedelta(hours=3, minutes=1)
    assert timedelta(0) < now - since[-1] < timedelta(hours=1) and len(set(since)) > 20
    with Store(demo) as s:
        times = [e.at for e in s.journal()]
        assert times == sorted(times, reverse=True) and len(set(times)) > 20
        s.note("after the seed")  # the clock goes on from now, not from the shift's start
        assert s.journal(limit=1)[0].text == "after the seed" and s.journal(limit=1)[0].at >= model.format_time(now)
    code, out, err = run(capsys, "seed", "--db", demo, "--demo")
    assert code == 1 and "already holds units" in err


def test_list_search_finds_rows_holding_the_words(demo, capsys):
    code, out, _ = run(capsys, "list", "--db", demo, "units", "--json", "--search", "  county   EMS ")
    units = json.loads(out)
    assert code == 0 and units and {u["agency"] for u in units} == {"County EMS"}
    code, out, _ = run(capsys, "list", "--db", demo, "units", "--json", "--search", "on scene")
    assert {u["status"] for u in json.loads(out)} == {"on_scene"}
    code, out, _ = run(capsys, "list", "--db", demo, "journal", "--json", "--search", "LEVEE")
    entries = json.loads(out)
    assert entries and all("levee" in e["text"].lower() for e in entries)
    code, out, _ = run(capsys, "list", "--db", demo, "tasks", "--json", "--search", "no such words")
    assert code == 0 and json.loads(out) == []


def test_seed_synthetic(tmp_path, capsys):
    db = tmp_path / "syn.db"
    code, _out, _ = run(capsys, "seed", "--db", db, "--synthetic", "30")
    assert code == 0
    with Store(db) as s:
        staffed = {u.task_id for u in s.list("units") if u.task_id}
        assert sum(1 for u in s.list("units") if u.task_id) == 10
        # Tasks still open that units were put on are assigned, each with its journal entry.
        made_assigned = [e for e in s.journal() if e.text.endswith(": status open → assigned")]
        assert s.counts() == {"units": 30, "tasks": 30, "resources": 30, "journal": 30 + 3 + len(made_assigned)}
        assert not [t for t in s.list("tasks") if t.id in staffed and t.status == "open"]
    assert run(capsys, "seed", "--db", db, "--synthetic", "0")[0] == 1
    assert run(capsys, "seed", "--db", db, "--synthetic", "many")[0] == 2


def test_add_set_delete_list_round_trip(tmp_path, capsys):
    db = tmp_path / "c.db"
    code, out, _ = run(capsys, "add", "--db", db, "tasks", "title=Pump out school", "priority=high")
    assert code == 0
    task_id = out.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)
    code, out, _ = run(capsys, "add", "--db", db, "units", "callsign=Medic 7", "agency=County EMS",
                       "kind=Ambulance", "personnel=2", f"task_id={task_id[-8:]}")
    unit_id = out.strip()
    assert run(capsys, "set", "--db", db, "units", "Medic 7", "status=en route", "location=Oak St")[0] == 0
    code, out, _ = run(capsys, "list", "--db", db, "units")
    assert "Medic 7" in out and "en_route" in out and "Pump out school" in out
    code, out, _ = run(capsys, "set", "--db", db, "units", unit_id, "status=en route")
    assert "nothing changed" in out
    assert run(capsys, "delete", "--db", db, "units", unit_id[-6:])[0] == 0
    code, out, _ = run(capsys, "list", "--db", db, "units", "--json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "list", "--db", db, "units", "--json", "--deleted")
    assert [u["callsign"] for u in json.loads(out)] == ["Medic 7"]
    code, out, _ = run(capsys, "list", "--db", db, "journal")
    assert "Deleted unit Medic 7" in out


def test_an_agency_typed_in_another_case_is_written_as_spelled_in_use(demo, capsys):
    assert run(capsys, "add", "--db", demo, "units", "callsign=E-99", "agency=county  FIRE", "kind=Engine")[0] == 0
    _, out, _ = run(capsys, "list", "--db", demo, "tasks", "--json")
    task = next(t for t in json.loads(out) if t["lead_agency"] == "Public Works")
    assert run(capsys, "set", "--db", demo, "tasks", task["id"], "lead_agency=CITY POLICE")[0] == 0
    _, out, _ = run(capsys, "list", "--db", demo, "units", "--json")
    assert next(u for u in json.loads(out) if u["callsign"] == "E-99")["agency"] == "County Fire"
    _, out, _ = run(capsys, "list", "--db", demo, "tasks", "--json")
    assert next(t for t in json.loads(out) if t["id"] == task["id"])["lead_agency"] == "City Police"


def test_undo_and_redo_take_back_the_last_command_and_do_it_again(demo, capsys):
    """Each run of add, set, delete, stock or resolve is a step that a later
    `undo` takes back; `redo` makes it again. The steps are this person's:
    another operator has none, and the window's are its own."""
    with Store(demo) as s:
        e12 = s.get("units", s.resolve_id("units", "E-12"))
        before = (e12.status, e12.location)
    assert before[0] != "on_scene"
    assert run(capsys, "set", "--db", demo, "units", "E-12", "status=on scene")[0] == 0
    assert run(capsys, "set", "--db", demo, "units", "E-12", "location=Levee, mile 3")[0] == 0
    code, out, err = run(capsys, "--operator", "Sgt. Lee", "undo", "--db", demo)
    assert (code, err) == (1, f"{cli.PROG}: nothing to undo: no step of Sgt. Lee's on the command line "
                              "on this console\n")
    code, out, _ = run(capsys, "undo", "--db", demo)
    assert code == 0 and out.startswith("Undid: E-12: location ")
    code, out, _ = run(capsys, "undo", "--db", demo)
    assert code == 0 and out.startswith("Undid: E-12: status ")
    with Store(demo) as s:
        e12 = s.get("units", s.resolve_id("units", "E-12"))
        assert (e12.status, e12.location) == before
    code, out, _ = run(capsys, "redo", "--db", demo)
    assert code == 0 and out.startswith("Redid: E-12: status ")
    with Store(demo) as s:
        assert s.get("units", s.resolve_id("units", "E-12")).status == "on_scene"
    # Changed since by another console (here, another program): left as it is, and said.
    with Store(demo, operator="Sgt. Lee", agency="City Police") as other:
        other.update("units", other.resolve_id("units", "E-12"), {"status": "returning"})
    code, out, err = run(capsys, "undo", "--db", demo)
    assert code == 1 and "status changed since to returning by Sgt. Lee (City Police)" in err
    assert run(capsys, "undo", "--db", demo)[0] == 1  # that step is gone: nothing else to undo
    assert run(capsys, "redo", "--db", demo)[1].startswith("Redid: E-12: location ")  # the one still undone
    assert run(capsys, "redo", "--db", demo)[2].endswith("was undone\n")
    # A command of its own after an undo: nothing is left to redo.
    assert run(capsys, "undo", "--db", demo)[0] == 0
    assert run(capsys, "stock", "--db", demo, _sandbags(demo), "-5")[0] == 0
    assert run(capsys, "redo", "--db", demo)[0] == 1
    assert run(capsys, "undo", "--db", demo)[1].startswith("Undid: Drew 5")


def _sandbags(db):
    with Store(db) as s:
        return next(r.id for r in s.list("resources") if r.name == "Sandbags (filled)")


def test_a_due_time_as_a_dispatcher_types_it(tmp_path, capsys):
    db = tmp_path / "c.db"
    code, out, _ = run(capsys, "add", "--db", db, "tasks", "title=Pump out school", "due=+90m")
    task_id = out.strip()
    with Store(db) as s:
        due = datetime.fromisoformat(s.get("tasks", task_id).due.replace("Z", "+00:00")).timestamp()
    assert code == 0 and abs(due - (time.time() + 5400)) <= 60
    assert run(capsys, "set", "--db", db, "tasks", task_id, "due=1830")[0] == 0
    with Store(db) as s:
        assert s.get("tasks", task_id).due == model.parse_typed_time("1830")
    code, _, err = run(capsys, "set", "--db", db, "tasks", task_id, "due=soon")
    assert code == 1 and err == ("crisis-console: tasks.due: 'soon' is not a time (e.g. 18:30, 1830, +45m, +2h, "
                                 "now, or 2026-11-25 18:30)\n")


def test_completing_a_task_says_which_units_are_still_on_it(demo, capsys):
    """The window asks whether to release them; the command line says how."""
    title = "Evacuate Elm Street mobile home park"
    with Store(demo) as s:
        task = next(t for t in s.list("tasks") if t.title == title)
    code, out, _ = run(capsys, "set", "--db", demo, "tasks", task.id, "status=completed")
    assert code == 0 and out == ("3 units are still on it: 2A12, 2A14, Amb 31; to release one (available, off the "
                                 "task): crisis-console set units 2A12 status=available\n")
    code, out, _ = run(capsys, "set", "--db", demo, "units", "Amb 31", "status=available")
    with Store(demo) as s:
        assert code == 0 and s.get("units", s.resolve_id("units", "Amb 31")).task_id is None
    code, out, _ = run(capsys, "set", "--db", demo, "tasks", task.id, "status=in progress")
    assert code == 0 and out == ""  # not done: nothing said


def test_db_option_works_before_the_command_too(tmp_path, capsys):
    db = tmp_path / "c.db"
    assert run(capsys, "--db", db, "add", "tasks", "title=T")[0] == 0
    _code, out, _ = run(capsys, "--db", db, "list", "tasks", "--json")
    assert [t["title"] for t in json.loads(out)] == ["T"]


def test_the_words_of_a_list_may_come_on_both_sides_of_an_option(tmp_path, capsys):
    """`add units --db eoc.db callsign=E-12 ...` was refused as
    "unrecognized arguments: callsign=E-12 ...": argparse ends a list at
    the first option. A row's FIELD=VALUE pairs and the units to merge now
    go on after one; an unknown option is still refused, and changes
    nothing."""
    db = tmp_path / "c.db"
    assert run(capsys, "add", "units", "--db", db, "callsign=E-12", "agency=Fire", "kind=Engine")[0] == 0
    assert run(capsys, "add", "units", "callsign=E-14", "--db", db, "agency=Fire", "kind=Engine")[0] == 0
    _code, out, _ = run(capsys, "list", "units", "--db", db, "--json")
    assert [(u["callsign"], u["agency"], u["kind"]) for u in json.loads(out)] == [("E-12", "Fire", "Engine"),
                                                                                ("E-14", "Fire", "Engine")]
    first, second = (u["id"] for u in json.loads(out))
    assert run(capsys, "merge", first, "--db", db, second)[0] == 0
    assert run(capsys, "set", "units", "E-12", "status=en route", "--db", db, "location=Elm St")[0] == 0
    _code, out, _ = run(capsys, "list", "units", "--db", db, "--json")
    assert [(u["callsign"], u["status"], u["location"]) for u in json.loads(out)] == [("E-12", "en_route", "Elm St")]
    code, _out, err = run(capsys, "add", "units", "--db", db, "--bogus", "callsign=E-14")
    assert code == 2 and "unrecognized arguments: --bogus callsign=E-14" in err
    code, _out, err = run(capsys, "list", "units", "--db", db, "E-12")
    assert code == 2 and "unrecognized arguments: E-12" in err
    assert len(json.loads(run(capsys, "list", "units", "--db", db, "--json")[1])) == 1


def test_stock_and_note(demo, capsys):
    with Store(demo) as s:
        bags = next(r for r in s.list("resources") if r.name == "Sandbags (filled)")
        sand = next(r for r in s.list("resources") if r.name == "Sand")  # (no low mark: never low)
    assert run(capsys, "stock", "--db", demo, sand.id[-8:], "-200") == (0, "40\n", "")
    code, out, _ = run(capsys, "stock", "--db", demo, bags.id[-8:], "-350")
    assert code == 0 and out.strip() == "1500"
    code, out, err = run(capsys, "stock", "--db", demo, bags.id[-8:], "-5000")
    assert code == 1 and "only 1500 bags" in err
    assert run(capsys, "stock", "--db", demo, bags.id[-8:], "350")[0] == 1  # sign required
    # What it is for goes into the journal, on one line.
    code, out, err = run(capsys, "stock", "--db", demo, bags.id[-8:], "-100", "--for", "E-11,\n  levee at Riverside")
    # ... and what leaves it at or below its low mark says so on stderr too (stdout: the quantity alone).
    assert out == "1400\n" and err == ("crisis-console: Sandbags (filled) is low: 1400 bags, at or below its low "
                                       "mark of 2000\n")
    with Store(demo) as s:
        assert code == 0 and s.journal(limit=1)[0].text == ("Drew 100 bags from Sandbags (filled) (now 1400, low: "
                                                            "at or below 2000) for E-11, levee at Riverside")
        before = s.counts()
    code, _, err = run(capsys, "stock", "--db", demo, bags.id[-8:], "-100", "--for", "x" * 501)
    assert code == 1 and err == ("crisis-console: what the stock is for is 501 characters long; at most 500\n")
    with Store(demo) as s:
        assert s.counts() == before
    assert run(capsys, "note", "--db", demo, "Levee holding at 1400", "--about", "units", "E-11")[0] == 0
    with Store(demo) as s:
        entry = s.journal(limit=1)[0]
        assert entry.text == "Levee holding at 1400" and entry.tbl == "units" and entry.action == "note"


def test_conflicts_and_resolve(tmp_path, capsys):
    a_db, b_db, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    run(capsys, "--agency", "County Fire", "add", "--db", a_db, "units", "callsign=E-12", "agency=F", "kind=E")
    run(capsys, "changes", "export", "--db", a_db, f)
    run(capsys, "--agency", "City Police", "changes", "import", "--db", b_db, f)
    run(capsys, "set", "--db", a_db, "units", "E-12", "status=on scene")
    run(capsys, "set", "--db", b_db, "units", "E-12", "status=returning")
    run(capsys, "changes", "export", "--db", b_db, f)
    run(capsys, "changes", "import", "--db", a_db, f)
    code, out, _ = run(capsys, "conflicts", "--db", a_db)
    assert "unit E-12: status written concurrently" in out
    assert "on scene" in out and "returning" in out and "City Police" in out
    assert re.search(r"returning   \(City Police, \S+, \S+\)   \[shown now\]", out), out  # the later edit
    code, out, _ = run(capsys, "conflicts", "--db", a_db, "--json")
    [c] = json.loads(out)
    assert [x["n"] for x in c["candidates"]] == [1, 2]
    assert c["candidates"][c["shown"] - 1]["value"] == "returning"
    code, _, err = run(capsys, "resolve", "--db", a_db, c["id"], "--keep", "3")
    assert code == 1 and "between 1 and 2" in err
    code, _, err = run(capsys, "resolve", "--db", a_db, c["id"], "--value", "sleeping")
    assert code == 1 and "not one of" in err
    assert run(capsys, "resolve", "--db", a_db, c["id"])[0] == 2
    code, out, _ = run(capsys, "resolve", "--db", a_db, c["id"][:6], "--value", "available")
    assert code == 0 and re.fullmatch(r"Reconciled E-12: status = available \(change \d+\)\n", out), out
    code, out, _ = run(capsys, "conflicts", "--db", a_db)
    assert out.strip() == "no open conflicts"
    code, _, err = run(capsys, "resolve", "--db", a_db, c["id"], "--keep", "1")
    assert code == 1 and "no open conflict" in err


def test_changes_export_writes_only_what_another_console_lacks(tmp_path, capsys):
    """--for an info file carried over, or --for-console a console on the
    trust list, as it was when last in touch. A file merged on a console it
    was not written for says what it left out."""
    eoc, field, spare = tmp_path / "eoc.db", tmp_path / "field.db", tmp_path / "spare.db"
    f, info = tmp_path / "x.changes", tmp_path / "field-info.json"
    run(capsys, "--agency", "County Fire", "add", "--db", eoc, "units", "callsign=E-12", "agency=F", "kind=E")
    run(capsys, "changes", "export", "--db", eoc, f)
    assert run(capsys, "--agency", "Field", "changes", "import", "--db", field, f)[0] == 0
    code, out, _ = run(capsys, "info", "--db", field, "--json")
    info.write_text(out)
    run(capsys, "set", "--db", eoc, "units", "E-12", "status=on scene")
    code, out, err = run(capsys, "changes", "export", "--db", eoc, f, "--for", info)
    assert (code, out, err) == (0, f"wrote 2 changes to {f}\n", "")  # the status and its journal entry
    field_id = run(capsys, "id", "--db", field)[1].strip()
    run(capsys, "trust", "--db", eoc, field_id, "--agency", "Field liaison")
    code, _, err = run(capsys, "changes", "export", "--db", eoc, f, "--for-console", field_id)
    assert code == 1 and "has never been in touch" in err and "use its info file" in err
    with Store(eoc) as s, Store(field) as fs:  # as sync writes it down at the field's hello
        s.record_peer(field_id, replica_id=fs.replica_id, acked_vv=fs.version_vector(), hello=True)
    code, out, err = run(capsys, "changes", "export", "--db", eoc, f, "--for-console", field_id[:14])
    assert code == 0 and out.startswith(f"wrote 2 changes to {f}\n(what console {field_id[:14]} of Field liaison "
                                        "lacked when last in touch, 20"), out
    code, _, err = run(capsys, "changes", "export", "--db", eoc, f, "--for-console", "AAAA-BBBB")
    assert code == 1 and "no console on the trust list has the ID 'AAAA-BBBB'" in err
    code, _, err = run(capsys, "changes", "export", "--db", eoc, f, "--for", info, "--for-console", field_id)
    assert code == 2 and "not allowed with argument" in err
    code, _, err = run(capsys, "changes", "export", "--db", eoc, f, "--for", eoc)
    assert code == 1 and "not readable info JSON" in err
    code, out, err = run(capsys, "changes", "import", "--db", field, f)
    assert code == 0 and out.startswith("imported 2 new changes") and err == ""
    code, out, err = run(capsys, "changes", "import", "--db", spare, f)  # not the console it was written for
    assert code == 0 and out.startswith("imported 2 new changes"), out
    with Store(field) as fs:
        who = f"console …{fs.replica_id[-8:]}"
    assert err == (f"crisis-console: this console still lacks 2 changes the file left out, as it was written for "
                   f"what {who} held: sync, or merge a file written for this console's info now\n")


def test_a_collision_is_listed_as_one_and_one_side_kept_whole(tmp_path, capsys):
    """E-12 put on two tasks at once by two consoles: its status and task
    conflicts are listed together, each console's side numbered, and
    `resolve ID ID --keep N` keeps that side of both, one step to undo."""
    a_db, b_db, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    run(capsys, "--agency", "County Fire", "add", "--db", a_db, "units", "callsign=E-12", "agency=F", "kind=E")
    levee = run(capsys, "add", "--db", a_db, "tasks", "title=Levee")[1].strip()
    shelter = run(capsys, "add", "--db", a_db, "tasks", "title=Shelter")[1].strip()
    run(capsys, "changes", "export", "--db", a_db, f)
    run(capsys, "--agency", "City Police", "changes", "import", "--db", b_db, f)
    run(capsys, "set", "--db", a_db, "units", "E-12", f"task_id={levee}")
    run(capsys, "--agency", "City Police", "set", "--db", b_db, "units", "E-12", f"task_id={shelter}",
        "status=en route")
    run(capsys, "changes", "export", "--db", b_db, f)
    run(capsys, "changes", "import", "--db", a_db, f)
    code, out, _ = run(capsys, "conflicts", "--db", a_db, "--json")
    listed = json.loads(out)
    ids = [c["id"] for c in sorted(listed, key=lambda c: c["field"])]  # status, task_id
    assert len(listed) == 2 and all(c["collision"] == ids for c in listed)
    code, out, _ = run(capsys, "conflicts", "--db", a_db)
    lines = out.splitlines()
    assert lines[0] == f"{ids[0]} {ids[1]}  unit E-12: status and task written concurrently on the same consoles"
    assert re.fullmatch(r"   1\. status = dispatched; task = Levee   \(County Fire, \S+, \S+\)", lines[1]), lines[1]
    assert re.fullmatch(r"   2\. status = en route; task = Shelter   \(City Police, \S+, \S+\)   \[shown now\]",
                        lines[2]), lines[2]
    assert lines[3] == f"   keep one console's side of all: {cli.PROG} resolve --db {a_db} {ids[0]} {ids[1]} --keep N"
    code, _, err = run(capsys, "resolve", "--db", a_db, *ids, "--value", "available")
    assert code == 1 and "one conflict at a time" in err
    code, _, err = run(capsys, "resolve", "--db", a_db, *ids, "--keep", "3")
    assert code == 1 and "between 1 and 2" in err
    code, _, err = run(capsys, "resolve", "--db", a_db, ids[0], "ffffffff", "--keep", "1")
    assert code == 1 and "no open conflict 'ffffffff'" in err
    assert len(json.loads(run(capsys, "conflicts", "--db", a_db, "--json")[1])) == 2  # nothing changed
    code, out, _ = run(capsys, "resolve", "--db", a_db, ids[0][:6], ids[1], "--keep", "1")
    assert code == 0 and out.splitlines() == ["Reconciled E-12: status = dispatched", "Reconciled E-12: task = Levee"]
    assert run(capsys, "conflicts", "--db", a_db)[1].strip() == "no open conflicts"
    code, out, _ = run(capsys, "undo", "--db", a_db)  # both, in one step
    assert code == 0 and out.startswith("Undid: Reconciled E-12: status = dispatched")
    with Store(a_db) as s:
        e12 = s.get("units", s.resolve_id("units", "E-12"))
        assert (e12.status, e12.task_id) == ("en_route", shelter)  # what the boards showed before


def test_conflicts_that_are_not_one_collision_are_resolved_one_at_a_time(tmp_path, capsys):
    a_db, b_db, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    for callsign in ("E-12", "E-14"):
        run(capsys, "add", "--db", a_db, "units", f"callsign={callsign}", "agency=F", "kind=E")
    run(capsys, "changes", "export", "--db", a_db, f)
    run(capsys, "changes", "import", "--db", b_db, f)
    for db, place in ((a_db, "Levee"), (b_db, "Main St")):
        for callsign in ("E-12", "E-14"):
            run(capsys, "set", "--db", db, "units", callsign, f"location={place}")
    run(capsys, "changes", "export", "--db", b_db, f)
    run(capsys, "changes", "import", "--db", a_db, f)
    ids = [c["id"] for c in json.loads(run(capsys, "conflicts", "--db", a_db, "--json")[1])]
    code, _, err = run(capsys, "resolve", "--db", a_db, *ids, "--keep", "1")
    assert code == 1 and "not one collision" in err


def test_a_callsign_added_on_two_consoles_is_listed_and_the_units_merged(tmp_path, capsys):
    """Medic 7 added at the EMS post and at the EOC while apart: info,
    conflicts and twins say so; merge keeps the first added with the
    values asked for, one step to undo."""
    ems, eoc, f = tmp_path / "ems.db", tmp_path / "eoc.db", tmp_path / "x.changes"
    run(capsys, "--agency", "County EMS", "--operator", "Sgt. Lee", "add", "--db", ems, "units",
        "callsign=Medic 7", "agency=County EMS", "kind=Ambulance", "status=on scene")
    run(capsys, "--agency", "EOC", "--operator", "Capt. Ortiz", "add", "--db", eoc, "units",
        "callsign=medic 7", "agency=County EMS", "kind=Ambulance", "location=Station 2")
    run(capsys, "changes", "export", "--db", ems, f)
    code, out, _ = run(capsys, "changes", "import", "--db", eoc, f)
    assert out.splitlines()[-1] == f"1 unit twice to reconcile: crisis-console conflicts --db {eoc} lists them"
    code, out, _ = run(capsys, "info", "--db", eoc)
    assert "units twice   1 callsign on several units (see crisis-console twins)" in out
    assert json.loads(run(capsys, "info", "--db", eoc, "--json")[1])["twins"] == 1
    code, out, _ = run(capsys, "conflicts", "--db", eoc)
    assert "Medic 7 is on 2 units, added on consoles apart: crisis-console twins" in out
    code, out, _ = run(capsys, "twins", "--db", eoc)
    assert code == 0 and out.startswith("Medic 7 is on 2 units (added on consoles apart):\n")
    assert re.search(r"1\. \w{8}  Medic 7: County EMS, Ambulance, on scene   \(added by County EMS, Sgt\. Lee, "
                     r"\S+\)   \[kept by a merge\]", out), out
    assert re.search(r"2\. \w{8}  medic 7: County EMS, Ambulance, available, Station 2   \(added by EOC", out), out
    (t,) = json.loads(run(capsys, "twins", "--db", eoc, "--json")[1])
    first, second = (u["id"] for u in t["units"])
    assert [u["added_agency"] for u in t["units"]] == ["County EMS", "EOC"]
    before = state(eoc)
    code, _, err = run(capsys, "merge", "--db", eoc, first)
    assert code == 1 and "is not a callsign on several units" in err and state(eoc) == before
    code, _, err = run(capsys, "merge", "--db", eoc, "Medic 7", "--keep", "ffff")
    assert code == 1 and "no units row 'ffff'" in err and state(eoc) == before
    code, out, _ = run(capsys, "--operator", "Capt. Ortiz", "merge", "--db", eoc, "MEDIC 7", "--keep", second[-8:])
    assert code == 0, out
    said = out.splitlines()
    assert said[0].startswith("Medic 7: 2 units merged into one, the one added by County EMS")
    assert said[0].endswith("status on scene → available; location — → Station 2")
    assert said[1].startswith("medic 7 (added by EOC (Capt. Ortiz)")
    (unit,) = json.loads(run(capsys, "list", "--db", eoc, "units", "--json")[1])
    assert (unit["id"], unit["status"], unit["location"]) == (first, "available", "Station 2")
    assert run(capsys, "twins", "--db", eoc)[1] == "no callsign is on several units\n"
    code, out, _ = run(capsys, "--operator", "Capt. Ortiz", "undo", "--db", eoc)
    assert code == 0 and out.startswith("Undid: Medic 7: 2 units merged into one")
    assert len(json.loads(run(capsys, "twins", "--db", eoc, "--json")[1])[0]["units"]) == 2


def test_merge_all_merges_every_callsign_on_two_units_into_its_first_added(tmp_path, capsys):
    """A roster loaded on two consoles apart: every callsign twice. merge
    --all makes each one unit again, the first added with its values, as
    one step to undo."""
    a, b, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    roster = tmp_path / "roster.csv"
    roster.write_text("callsign,agency,kind\nMA-1,Mutual Aid,Engine\nMA-2,Mutual Aid,Engine\nMA-3,Mutual Aid,Tender\n")
    for db in (a, b):
        assert run(capsys, "add", "--db", db, "units", "--csv", roster)[0] == 0
    run(capsys, "set", "--db", b, "units", "MA-2", "status=en route")
    run(capsys, "changes", "export", "--db", b, f)
    run(capsys, "changes", "import", "--db", a, f)
    assert len(json.loads(run(capsys, "twins", "--db", a, "--json")[1])) == 3
    before = state(a)
    for argv in (["merge", "--db", a], ["merge", "--db", a, "MA-1", "--all"], ["merge", "--db", a, "--all",
                                                                             "--keep", "ffff"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, err
    assert state(a) == before
    code, out, _ = run(capsys, "merge", "--db", a, "--all")
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == ["MA-1", "MA-2", "MA-3"]
    units = json.loads(run(capsys, "list", "--db", a, "units", "--json")[1])
    assert sorted(u["callsign"] for u in units) == ["MA-1", "MA-2", "MA-3"]
    assert next(u for u in units if u["callsign"] == "MA-2")["status"] == "available"  # the first added's
    assert run(capsys, "merge", "--db", a, "--all")[1] == "no callsign is on several units\n"
    code, out, _ = run(capsys, "undo", "--db", a)
    assert code == 0 and out.startswith("Undid: MA-1: 2 units merged into one")
    assert len(json.loads(run(capsys, "twins", "--db", a, "--json")[1])) == 3


def test_merge_tasks_makes_a_task_entered_twice_one_with_its_units(tmp_path, capsys):
    """The EOC and the fire post each entered the Elm Street evacuation
    while apart: merge --tasks keeps the first added, with the values of
    the one named by --keep, and moves the other's units onto it."""
    eoc, fire, f = tmp_path / "eoc.db", tmp_path / "fire.db", tmp_path / "x.changes"
    run(capsys, "--agency", "EOC", "add", "--db", eoc, "tasks", "title=Evacuate Elm St", "priority=high")
    run(capsys, "--agency", "County Fire", "add", "--db", fire, "tasks", "title=Elm St evacuation",
        "priority=urgent", "location=Elm Street MHP")
    run(capsys, "--agency", "County Fire", "add", "--db", fire, "units", "callsign=E-14", "agency=County Fire",
        "kind=Engine")
    (second,) = json.loads(run(capsys, "list", "--db", fire, "tasks", "--json")[1])
    run(capsys, "set", "--db", fire, "units", "E-14", f"task_id={second['id']}")
    run(capsys, "changes", "export", "--db", fire, f)
    run(capsys, "changes", "import", "--db", eoc, f)
    first = next(t for t in json.loads(run(capsys, "list", "--db", eoc, "tasks", "--json")[1])
                 if t["title"] == "Evacuate Elm St")
    before = state(eoc)
    for argv, code_ in ((["merge", "--db", eoc, "--tasks", first["id"]], 2),
                        (["merge", "--db", eoc, "--tasks", "--all"], 2),
                        (["merge", "--db", eoc, "--tasks", first["id"], "ffff"], 1),
                        (["merge", "--db", eoc, "--tasks", first["id"], second["id"], "--keep", "E-14"], 1)):
        code, _, err = run(capsys, *argv)
        assert code == code_ and err.count("\n") == 1, (argv, err)
    assert state(eoc) == before
    code, out, _ = run(capsys, "merge", "--db", eoc, "--tasks", second["id"][-8:], first["id"][-8:],
                       "--keep", second["id"][-8:])
    assert code == 0, out
    said = out.splitlines()
    assert said[0].startswith("Evacuate Elm St: 2 tasks merged into one, the one added by EOC")
    assert "title Evacuate Elm St → Elm St evacuation" in said[0] and "1 unit moved onto it" in said[0]
    assert said[1].startswith("Elm St evacuation (added by County Fire")
    (task,) = json.loads(run(capsys, "list", "--db", eoc, "tasks", "--json")[1])
    assert (task["id"], task["title"], task["priority"], task["status"]) == (
        first["id"], "Elm St evacuation", "urgent", "assigned")
    (unit,) = json.loads(run(capsys, "list", "--db", eoc, "units", "--json")[1])
    assert unit["task_id"] == first["id"]
    code, out, _ = run(capsys, "undo", "--db", eoc)
    assert code == 0 and out.startswith("Undid: Evacuate Elm St: 2 tasks merged into one")
    assert len(json.loads(run(capsys, "list", "--db", eoc, "tasks", "--json")[1])) == 2
    assert json.loads(run(capsys, "list", "--db", eoc, "units", "--json")[1])[0]["task_id"] == second["id"]


def test_merge_resources_adds_up_stock_entered_twice_and_counts_draws_made_apart(tmp_path, capsys):
    """The EOC and the public-works yard each entered the filled sandbags
    while apart; adding them at the EOC says so on stderr, with the merge
    command. Merged, the row kept holds both counts, and a draw the yard
    made from its own meanwhile counts in it."""
    eoc, yard, f = tmp_path / "eoc.db", tmp_path / "yard.db", tmp_path / "x.changes"
    code, out, err = run(capsys, "--agency", "EOC", "add", "--db", eoc, "resources", "name=Sandbags (filled)",
                         "kind=Supply", "agency=Public Works", "quantity=1200", "unit=bags")
    assert code == 0 and err == ""
    first = out.strip()
    run(capsys, "changes", "export", "--db", eoc, f)
    run(capsys, "changes", "import", "--db", yard, f)
    code, out, err = run(capsys, "--agency", "Public Works", "add", "--db", yard, "resources",
                         "name=sandbags  (filled)", "kind=Supply", "agency=Public Works", "quantity=800", "unit=bags",
                         "location=PW yard")
    second = out.strip()
    assert code == 0 and err == (f"crisis-console: note: 'sandbags  (filled)' is the name of stock on the boards "
                                 f"already ({first[-8:]}, 1200 bags, Public Works); if they are one stock: "
                                 f"crisis-console merge --db {yard} --resources {first[-8:]} {second[-8:]}\n")
    code, _, err = run(capsys, "add", "--db", yard, "resources", "name=Sandbags (filled)", "kind=Supply",
                       "agency=County Fire", "quantity=20", "unit=bags")
    assert code == 0 and err == ""  # another agency's sandbags: other stock
    run(capsys, "delete", "--db", yard, "resources", json.loads(run(capsys, "list", "--db", yard, "resources",
                                                                    "--json")[1])[-1]["id"])
    run(capsys, "changes", "export", "--db", yard, f)
    run(capsys, "changes", "import", "--db", eoc, f)
    code, out, _ = run(capsys, "merge", "--db", eoc, "--resources", second[-8:], first[-8:], "--keep", second[-8:])
    assert code == 0, out
    said = out.splitlines()
    assert said[0].startswith("Sandbags (filled): 2 resources merged into one, the one added by EOC")
    assert said[0].endswith("800 bags counted in from the other (now 2000 bags)")
    run(capsys, "stock", "--db", yard, second, "-300")  # the yard has not seen the merge
    for a, b in ((eoc, yard), (yard, eoc)):
        run(capsys, "changes", "export", "--db", a, f)
        run(capsys, "changes", "import", "--db", b, f)
    for db in (eoc, yard):
        (r,) = json.loads(run(capsys, "list", "--db", db, "resources", "--json")[1])
        assert (r["id"], r["name"], r["location"], r["quantity"]) == (first, "sandbags  (filled)", "PW yard", 1700)
    code, out, _ = run(capsys, "undo", "--db", eoc)
    assert code == 0 and out.startswith("Undid: Sandbags (filled): 2 resources merged into one")
    quantities = {r["id"]: r["quantity"] for r in json.loads(run(capsys, "list", "--db", eoc, "resources",
                                                                  "--json")[1])}
    assert quantities == {first: 1200, second: 500}
    run(capsys, "add", "--db", eoc, "resources", "name=Sandbags (filled)", "kind=Supply", "agency=Public Works",
        "quantity=4", "unit=pallets")
    pallets = next(r["id"] for r in json.loads(run(capsys, "list", "--db", eoc, "resources", "--json")[1])
                   if r["unit"] == "pallets")
    before = state(eoc)
    for argv, code_ in ((["merge", "--db", eoc, "--resources", first], 2),
                        (["merge", "--db", eoc, "--resources", "--tasks", first, second], 2),
                        (["merge", "--db", eoc, "--resources", first, pallets], 1),
                        (["set", "--db", eoc, "resources", second, f"merged_into={first}"], 1)):
        code, _, err = run(capsys, *argv)
        assert code == code_ and err.count("\n") == 1, (argv, err)
    assert "counted in different units (bags, pallets)" in run(capsys, "merge", "--db", eoc, "--resources", first,
                                                                  pallets)[2]
    assert state(eoc) == before


def test_conflicts_offers_the_delete_of_a_merge_as_the_merge_it_was(tmp_path, capsys):
    with Store(tmp_path / "eoc.db", agency="EOC") as eoc, Store(tmp_path / "yard.db", agency="PW") as yard:
        first = eoc.add("resources", {"name": "Sandbags (filled)", "kind": "Supply", "agency": "PW",
                                      "quantity": 1200, "unit": "bags"})
        time.sleep(0.005)  # the first added, the one a merge keeps: not a tie within one millisecond
        second = yard.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 800,
                                        "unit": "bags"})
        converge([eoc, yard])
        eoc.merge_resources([first, second])
        yard.update("resources", second, {"location": "Levee staging"})
        converge([eoc, yard])
    code, out, _ = run(capsys, "conflicts", "--db", tmp_path / "eoc.db")
    assert code == 0 and "resource Sandbags: edited while deleted" in out
    assert "   1. merged into Sandbags (filled): its 800 bags count there   (EOC," in out
    assert "   2. location = Levee staging   (PW," in out
    # Entered on both sides, and not merged: said, with the command that merges them.
    with Store(tmp_path / "eoc.db") as eoc, Store(tmp_path / "yard.db") as yard:
        first = eoc.add("tasks", {"title": "Evacuate Elm St"})
        time.sleep(0.005)  # added in that order, not within one millisecond (as above)
        second = yard.add("tasks", {"title": "evacuate  elm st"})
        eoc.add("tasks", {"title": "Welfare check"})
        eoc.add("tasks", {"title": "Welfare check"})  # (twice at one console, past its warning: not said)
        converge([eoc, yard])
    out = run(capsys, "conflicts", "--db", tmp_path / "eoc.db")[1]
    assert out.splitlines()[-1] == (f"2 tasks still to do named 'Evacuate Elm St', added at different consoles: "
                                    f"entered twice? if so: crisis-console merge --db {tmp_path / 'eoc.db'} --tasks "
                                    f"{first[-8:]} {second[-8:]}")
    assert "Welfare" not in out


def test_a_unit_put_on_a_task_merged_away_meanwhile_is_listed_with_the_commands_that_settle_it(tmp_path, capsys):
    eoc, fire, f = tmp_path / "eoc.db", tmp_path / "fire.db", tmp_path / "x.changes"
    run(capsys, "--agency", "EOC", "--operator", "Capt. Ortiz", "add", "--db", eoc, "tasks", "title=Evacuate Elm St")
    run(capsys, "add", "--db", eoc, "tasks", "title=Elm St evacuation", "status=assigned")
    run(capsys, "add", "--db", eoc, "units", "callsign=E-12", "agency=County Fire", "kind=Engine")
    first, second = (t["id"] for t in sorted(json.loads(run(capsys, "list", "--db", eoc, "tasks", "--json")[1]),
                                             key=lambda t: t["title"], reverse=True))
    run(capsys, "changes", "export", "--db", eoc, f)
    run(capsys, "changes", "import", "--db", fire, f)
    run(capsys, "--agency", "EOC", "--operator", "Capt. Ortiz", "merge", "--db", eoc, "--tasks", first, second)
    run(capsys, "set", "--db", fire, "units", "E-12", f"task_id={second}", "status=on scene")
    run(capsys, "changes", "export", "--db", fire, f)
    code, out, _ = run(capsys, "changes", "import", "--db", eoc, f)
    assert out.splitlines()[-1] == (f"1 unit on a deleted task to reconcile: crisis-console conflicts --db {eoc} "
                                    "lists them")
    assert "stranded      1 unit on a deleted task" in run(capsys, "info", "--db", eoc)[1]
    assert json.loads(run(capsys, "info", "--db", eoc, "--json")[1])["stranded"] == 1
    code, out, _ = run(capsys, "conflicts", "--db", eoc)
    lines = out.splitlines()
    assert lines[0] == "no open conflicts"
    assert re.match(r"E-12 is on Elm St evacuation, a task merged into Evacuate Elm St by EOC \(Capt\. Ortiz\) at "
                    r"\S+Z, put on it on a console that had not seen that:$", lines[1]), lines[1]
    command = lines[2].split(": ", 1)[1]
    assert command.endswith(f"task_id={first[-8:]} status=on_scene")
    assert "task_id=TASK" in lines[3] and "status=available" in lines[4]
    code, out, err = run(capsys, *shlex.split(command)[1:])
    assert code == 0, err
    (unit,) = json.loads(run(capsys, "list", "--db", eoc, "units", "--json")[1])
    assert (unit["task_id"], unit["status"]) == (first, "on_scene")
    assert run(capsys, "conflicts", "--db", eoc)[1] == "no open conflicts\n"


def test_adding_a_task_of_a_title_still_to_do_says_so_on_stderr_with_the_merge(tmp_path, capsys):
    """Adding goes on (a script reads the new id on stdout), and stderr
    says which task has the title already, with the command to merge."""
    db = tmp_path / "a.db"
    _, old, _ = run(capsys, "add", "--db", db, "tasks", "title=Evacuate Elm St")
    old = old.strip()
    code, new, err = run(capsys, "add", "--db", db, "tasks", "title=evacuate  ELM st")
    new = new.strip()
    assert code == 0 and len(new) == 32
    assert err == (f"crisis-console: note: 'evacuate  ELM st' is the title of a task still to do already "
                   f"({old[-8:]}, open, 0 units on it); if they are one call: crisis-console merge --db {db} "
                   f"--tasks {old[-8:]} {new[-8:]}\n")
    command = err.split("if they are one call: ", 1)[1]
    code, out, err = run(capsys, *shlex.split(command)[1:])
    assert code == 0 and out.startswith("Evacuate Elm St: 2 tasks merged into one")
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("title\nEVACUATE ELM ST\nShelter check\n", encoding="utf-8")
    code, out, err = run(capsys, "add", "--db", db, "tasks", "--csv", tasks)
    assert code == 0 and out == f"added 2 tasks from {tasks}\n"
    assert err.startswith("crisis-console: note: 'EVACUATE ELM ST' is the title of a task still to do already")
    assert err.count("\n") == 1
    assert run(capsys, "add", "--db", db, "tasks", "title=Pump out school")[2] == ""


def test_a_due_date_without_a_time_is_said_to_be_midnight_on_stderr(tmp_path, capsys):
    """due=2099-11-28 is midnight at that day's start: a task due then is
    overdue from its first minute. Added or set all the same (a script
    reads the new id on stdout); stderr says so, with how to give a time.
    A time given, midnight included, is said nothing about."""
    db = tmp_path / "a.db"
    code, new, err = run(capsys, "add", "--db", db, "tasks", "title=Sandbag school", "due=2099-11-28")
    new = new.strip()
    assert code == 0 and len(new) == 32
    assert err == ("crisis-console: note: due=2099-11-28 is midnight at the start of that day (this computer's); "
                   "for another time, give it: due='2099-11-28 18:00'\n")
    with Store(db) as s:
        due = datetime.fromisoformat(s.get("tasks", new).due.replace("Z", "+00:00")).astimezone()
    assert (due.year, due.month, due.day, due.hour, due.minute) == (2099, 11, 28, 0, 0)
    code, _, err = run(capsys, "set", "--db", db, "tasks", new, "due=28.11.2099", "priority=high")
    assert code == 0 and err.startswith("crisis-console: note: due=28.11.2099 is midnight") and err.count("\n") == 1
    command = err.split("give it: ", 1)[1].strip()
    code, _, err = run(capsys, "set", "--db", db, "tasks", new, *shlex.split(command))
    assert code == 0 and err == ""
    for written in ("2099-11-28 00:00", "0000", "+2h"):
        assert run(capsys, "set", "--db", db, "tasks", new, f"due={written}")[2] == "", written


def test_conflicts_name_tasks_by_their_title(tmp_path, capsys):
    """A unit assigned on one console and deleted on another: the person
    reconciling reads the task's title, not its id."""
    a_db, b_db, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    run(capsys, "add", "--db", a_db, "units", "callsign=E-12", "agency=F", "kind=E")
    task = run(capsys, "add", "--db", a_db, "tasks", "title=Sandbag Main St")[1].strip()
    run(capsys, "changes", "export", "--db", a_db, f)
    run(capsys, "changes", "import", "--db", b_db, f)
    run(capsys, "set", "--db", a_db, "units", "E-12", f"task_id={task[-6:]}")
    run(capsys, "delete", "--db", b_db, "units", "E-12")
    run(capsys, "changes", "export", "--db", b_db, f)
    run(capsys, "changes", "import", "--db", a_db, f)
    code, out, _ = run(capsys, "conflicts", "--db", a_db)
    assert code == 0 and "unit E-12: edited while deleted" in out
    assert "1. delete" in out and "2. task = Sandbag Main St" in out and task not in out
    code, out, _ = run(capsys, "resolve", "--db", a_db, out[:12], "--keep", "2")
    assert code == 0 and out.startswith("Reconciled E-12: kept the edit of task and restored the row")


def test_conflicts_say_a_side_whose_task_is_gone_and_resolve_refuses_it_in_words(tmp_path, capsys):
    """A unit put on two tasks at once, apart, and the task of the side the
    boards do not show deleted since: `conflicts` says so on that side, and
    keeping it is refused by the task's title; the other side is kept."""
    a_db, b_db, f = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.changes"
    run(capsys, "add", "--db", a_db, "units", "callsign=E-12", "agency=F", "kind=E")
    levee = run(capsys, "add", "--db", a_db, "tasks", "title=Sandbag levee")[1].strip()
    elm = run(capsys, "add", "--db", a_db, "tasks", "title=Evacuate Elm St")[1].strip()
    run(capsys, "changes", "export", "--db", a_db, f)
    run(capsys, "changes", "import", "--db", b_db, f)
    run(capsys, "set", "--db", a_db, "units", "E-12", f"task_id={levee}")
    run(capsys, "set", "--db", b_db, "units", "E-12", f"task_id={elm}")
    run(capsys, "changes", "export", "--db", b_db, f)
    run(capsys, "changes", "import", "--db", a_db, f)
    [c] = json.loads(run(capsys, "conflicts", "--db", a_db, "--json")[1])
    hidden = 3 - c["shown"]
    gone = c["candidates"][hidden - 1]["value"]
    title = "Sandbag levee" if gone == levee else "Evacuate Elm St"
    assert run(capsys, "delete", "--db", a_db, "tasks", gone)[0] == 0
    code, out, _ = run(capsys, "conflicts", "--db", a_db)
    assert code == 0 and f"   {hidden}. task = {title}   (now deleted)   (" in out
    code, _, err = run(capsys, "resolve", "--db", a_db, c["id"], "--keep", hidden)
    assert code != 0 and f"E-12: that side puts it on {title}, now deleted; keep another side" in err
    code, out, _ = run(capsys, "resolve", "--db", a_db, c["id"], "--keep", c["shown"])
    assert code == 0 and run(capsys, "conflicts", "--db", a_db)[1].startswith("no open conflicts")


def test_export_csv_and_json(demo, capsys, tmp_path):
    _code, out, _ = run(capsys, "export", "--db", demo, "resources", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 15
    sand = next(r for r in rows if r["name"] == "Sand")
    assert (sand["quantity"], sand["unit"], sand["agency"]) == ("240", "cu yd", "Public Works")
    target = tmp_path / "tasks.json"
    assert run(capsys, "export", "--db", demo, "tasks", "--format", "json", "-o", target)[0] == 0
    tasks = json.loads(target.read_text())
    levee = next(t for t in tasks if t["title"].startswith("Sandbag levee"))
    assert set(levee["assigned_units"]) == {"E-11", "PW Crew 3", "PW Crew 5", "Dump 12"}
    assert run(capsys, "export", "--db", demo, "tasks", "--format", "xml")[0] == 2


def test_export_of_a_long_journal_is_written_as_it_is_read(demo, capsys, tmp_path, monkeypatch):
    """`export journal` reads the journal a page at a time as it writes
    it (a long operation's, read whole, took 1.3 GB as JSON): what it
    writes is what reading it whole wrote, entries at one clock time on
    two consoles and the pages' seams included, as CSV and as JSON, to a
    file or to standard output; an empty journal is an empty list. So
    does `list journal`, whole or searched, as a table or as JSON."""
    from conftest import FakeWall

    from console.store import Store

    wall = FakeWall()
    with Store(demo, wall=wall) as here, Store(tmp_path / "other.db", agency="City Police", wall=wall) as other:
        for i in range(23):
            here.note(f"levee check {i}, \"north\" end\nsecond line")
            other.note(f"patrol {i}: Äußere Straße 🚒 e\u0301" + "!" * i * 3)
            wall.ms += 1 if i % 4 else 0
        for batch in other.changes_since(here.version_vector()):
            here.apply(batch)
        headers, whole = cli._listing(here, "journal")
    monkeypatch.setattr(cli, "EXPORT_PAGE", 7)
    expected_json = json.dumps(whole, indent=1, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [list(whole[0]), *[[cli._cell(r.get(f)) for f in whole[0]] for r in whole]])
    code, out, _ = run(capsys, "export", "--db", demo, "journal", "--format", "json")
    assert code == 0 and out == expected_json and len(json.loads(out)) == len(whole) > 7 * 6
    code, out, _ = run(capsys, "export", "--db", demo, "journal", "--format", "csv")
    assert code == 0 and out == buf.getvalue()
    target = tmp_path / "journal.csv"
    assert run(capsys, "export", "--db", demo, "journal", "--format", "csv", "-o", target)[0] == 0
    assert target.read_text(encoding="utf-8") == buf.getvalue()
    code, _, err = run(capsys, "export", "--db", demo, "journal", "--format", "csv", "-o", tmp_path / "no" / "j.csv")
    assert code != 0 and "the folder" in err and "does not exist" in err
    Store(tmp_path / "empty.db").close()
    for fmt, empty in (("json", "[]\n"), ("csv", ",".join(headers) + "\n")):
        assert run(capsys, "export", "--db", tmp_path / "empty.db", "journal", "--format", fmt)[1] == empty
    # So is `list journal`: as a table, as JSON, and the rows holding some
    # words (those found kept to be written, or, too many, read again).
    reads, export_rows = [], cli._export_rows
    monkeypatch.setattr(cli, "_export_rows", lambda *a: reads.append(a[1]) or export_rows(*a))
    for search, held, passes in ((None, 10_000, 1), ("PATROL 1", 10_000, 1), ("PATROL 1", 11, 1),
                                 ("PATROL 1", 10, 2), ("PATROL 1", 0, 2), ("no such words", 10_000, 1)):
        monkeypatch.setattr(cli, "SEARCH_HELD", held)
        rows = [r for r in whole if search is None or cli._holds_words(r, search)]
        extra = ["--search", search] if search else []
        table = cli._table_text(headers, [[cli._shown_cell(r.get(h)) for h in headers] for r in rows]) + "\n"
        reads.clear()
        assert run(capsys, "list", "--db", demo, "journal", *extra)[1] == table
        assert reads == ["journal"] * passes
        listed = run(capsys, "list", "--db", demo, "journal", "--json", *extra)[1]
        assert listed == json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    assert len([r for r in whole if cli._holds_words(r, "PATROL 1")]) == 11  # (1, 10 to 19)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["add", "units", "callsign"], "is not FIELD=VALUE"),
        (["add", "units", "callsign=X", "agency=Y", "kind=Z", "personnel=lots"], "'lots' is not a number"),
        (["add", "units", "callsign=X", "agency=Y", "kind=Z", "personnel=inf"], "must be a finite number, not 'inf'"),
        (["add", "units", "callsign=X", "agency=Y", "kind=Z", "personnel=nan"], "must be a finite number"),
        (["add", "resources", "name=X", "agency=Y", "kind=Z", "quantity=1e400"], "must be a finite number"),
        (["add", "units", "callsign=X", "agency=Y", "kind=Z", "colour=red"], "units has no field 'colour'"),
        (["add", "units", "callsign=X", "callsign=Y"], "callsign is given twice"),
        (["set", "units", "E-11", "status=asleep"], "is not one of"),
        (["set", "units", "NOPE-1", "status=available"], "no units row 'NOPE-1'"),
        (["delete", "tasks", "0000"], "no tasks row"),
        (["set", "journal", "abcd", "text=x"], "append-only"),
    ],
)
def test_refused_commands_say_why_in_one_line_and_change_nothing(demo, capsys, argv, message):
    before = state(demo)
    code, _out, err = run(capsys, *argv[:1], "--db", demo, *argv[1:])
    assert code == 1, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert state(demo) == before


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], ["list", "widgets"], ["list"], ["resolve", "abc", "--keep", "x"], ["seed"],
     ["export", "units"], ["changes"], ["stock"]],
)
def test_bad_command_lines_exit_2_with_one_line(tmp_path, capsys, argv):
    code, _out, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and "see crisis-console" in err


# Bytes that are not UTF-8 reach Python's argv as lone surrogates ("\udcff"),
# which SQLite cannot store: every text argument is checked before use.
NOT_UTF8 = "E\udcff"


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "units", f"callsign={NOT_UTF8}", "agency=Fire", "kind=Engine"],
        ["set", "units", NOT_UTF8, "status=available"],
        ["delete", "units", NOT_UTF8],
        ["note", f"radio {NOT_UTF8}"],
        ["note", "--about", "units", NOT_UTF8, "radio check"],
        ["trust", "A" * 52, "--agency", NOT_UTF8],
        ["--operator", NOT_UTF8, "note", "radio check"],
        ["--agency", NOT_UTF8, "info"],
        ["sync", "--peer", f"wss://{NOT_UTF8}:8765", "--once"],
    ],
)
def test_arguments_that_are_not_utf8_are_refused_in_one_line(demo, capsys, argv):
    before = state(demo)
    if argv[0].startswith("--"):
        argv = [*argv[:2], argv[2], "--db", demo, *argv[3:]]
    else:
        argv = [argv[0], "--db", demo, *argv[1:]]
    code, _out, err = run(capsys, *argv)
    assert code == 2, err
    assert "is not valid text: its bytes are not UTF-8" in err and "\\xff" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert state(demo) == before


def test_a_database_path_that_is_not_utf8_still_works(tmp_path, capsys):
    # File names are bytes: any of them is a valid path.
    db = tmp_path / "ops\udcff.db"
    assert run(capsys, "add", "--db", db, "tasks", "title=Sandbag Main St")[0] == 0
    code, out, _ = run(capsys, "list", "--db", db, "tasks", "--json")
    assert code == 0 and json.loads(out)[0]["title"] == "Sandbag Main St"


def test_a_real_process_given_bytes_that_are_not_utf8(tmp_path):
    db = tmp_path / "b.db"
    r = subprocess.run([sys.executable, "-m", "console", "add", "--db", str(db), "tasks", b"title=Levee \xff"],
                       capture_output=True, timeout=60)
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    assert r.stderr.decode() == ("crisis-console: the argument 'title=Levee \\xff' is not valid text: "
                                 "its bytes are not UTF-8\n")
    assert not db.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["relay", "--listen", "a..b:8765"], "is not HOST:PORT"),
        (["relay", "--listen", f"{NOT_UTF8}:8765"], "is not HOST:PORT"),
        (["sync", "--peer", "wss://a..b:8765", "--once"], "is not a peer address"),
        (["relay", "--listen", "eoc example:8765"], "is not HOST:PORT"),
        (["sync", "--peer", "wss://eoc example:8765", "--once"], "is not a peer address"),
        (["sync", "--peer", "ws://eoc:8765", "--once"], "consoles connect only over TLS"),
    ],
)
def test_host_names_dns_cannot_carry_are_usage_errors(demo, capsys, argv, message):
    code, _out, err = run(capsys, argv[0], "--db", demo, *argv[1:])
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_relay_that_cannot_listen_says_where_and_why(demo, capsys):
    # 192.0.2.1 (TEST-NET-1, RFC 5737) is never an address of this machine.
    code, _out, err = run(capsys, "relay", "--db", demo, "--listen", "192.0.2.1:8765")
    assert code == 1
    assert err.startswith("crisis-console: cannot listen on 192.0.2.1:8765: ") and err.count("\n") == 1


def test_missing_or_corrupt_database(tmp_path, capsys):
    code, _, err = run(capsys, "list", "--db", tmp_path / "nothing.db", "units")
    assert code == 1 and "no such database" in err
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00garbage" * 500)
    code, _, err = run(capsys, "info", "--db", bad)
    assert code == 1 and "damaged or not a database" in err and err.count("\n") == 1
    code, _, err = run(capsys, "info", "--db", tmp_path)
    assert code == 1 and "is a folder" in err


@pytest.mark.parametrize("argv", [
    ["list", "journal"], ["list", "journal", "--search", "pump"], ["report"], ["info"],
    ["changes", "export", "OUT"], ["export", "--format", "json", "journal", "-o", "OUT"],
])
def test_damage_found_after_opening_is_one_line_saying_what_to_do(demo, tmp_path, capsys, argv):
    """The change log damaged where opening does not look (a disk's
    fault): the commands that read it say so in one line, with what to
    do, not a traceback; nothing is written."""
    from conftest import damage

    damage(demo, "changes")
    before = sorted(tmp_path.iterdir())
    out = tmp_path / "out.file"
    code, _out, err = run(capsys, *[str(out) if a == "OUT" else a for a in argv], "--db", demo)
    assert code == 1, err
    assert err.startswith(f"crisis-console: {demo}: the file is damaged or not a database (database disk image "
                          "is malformed). If it held this console's operation, restore a backup of it "
                          "(crisis-console restore)") and err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == before  # no file written, no part of one left


def test_default_database_location_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CRISIS_CONSOLE_DB", str(tmp_path / "env.db"))
    assert run(capsys, "add", "tasks", "title=From env")[0] == 0
    assert (tmp_path / "env.db").exists()


def test_every_command_has_help_and_is_in_the_readme(capsys):
    readme = (ROOT / "README.md").read_text()
    names = cli.command_names()
    assert {"seed", "add", "set", "delete", "list", "conflicts", "resolve", "info", "export",
            "changes export", "changes import"} <= set(names)
    for name in names:
        assert f"crisis-console {name}" in readme, f"README does not document `crisis-console {name}`"
        with pytest.raises(SystemExit) as exc:
            cli.main([*name.split(), "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_every_option_of_a_command_is_in_its_readme_row(capsys):
    """Each option a command takes is named in the README: in a row of
    the commands table (or a line) that names the command, the options
    before any command anywhere."""
    lines = (ROOT / "README.md").read_text().splitlines()

    def options(parser, command=""):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from options(sub, f"{command} {name}".strip())
            elif action.option_strings and "--help" not in action.option_strings:
                yield command, action.option_strings

    found = list(options(cli.build_parser()))
    assert ("add", ["--decimal"]) in found and ("", ["-v", "--verbose"]) in found
    for command, names in found:
        where = [line for line in lines if f"crisis-console {command}" in line] if command else lines
        assert any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", line) for line in where for n in names), \
            f"README does not name {' or '.join(names)} of `crisis-console {command}`"


def test_runs_as_a_module_and_as_the_installed_script(tmp_path):
    db = tmp_path / "m.db"
    r = subprocess.run([sys.executable, "-m", "console", "add", "--db", str(db), "tasks", "title=T"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{32}\n", r.stdout)
    r = subprocess.run([sys.executable, "-m", "console", "list", "--db", str(db), "nope"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_import_from_a_console_a_day_ahead_is_refused_with_the_reason(tmp_path, capsys):
    from conftest import FakeWall

    from console import clock, transfer

    wall = FakeWall(clock.wall_ms() + 24 * 3600 * 1000)
    with Store(tmp_path / "fast.db", wall=wall) as fast:
        fast.add("tasks", {"title": "From the future"})
        transfer.export_changes(fast, tmp_path / "fast.changes")
    code, _out, err = run(capsys, "changes", "import", "--db", tmp_path / "here.db", tmp_path / "fast.changes")
    assert code == 1
    assert "refused changes from replica …" in err and "ahead of the receiving console's clock" in err
    with Store(tmp_path / "here.db") as here:
        assert here.counts()["tasks"] == 0


def test_changes_import_shows_progress_on_a_terminal_only(demo, tmp_path, capsys, monkeypatch):
    f = tmp_path / "stick.changes"
    assert run(capsys, "changes", "export", "--db", demo, f)[0] == 0
    code, out, err = run(capsys, "changes", "import", "--db", tmp_path / "b.db", f)
    assert code == 0 and out.startswith("imported ") and err == ""  # a pipe or file: no progress
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "changes", "import", "--db", tmp_path / "c.db", f)
    n = int(out.split()[1])
    assert code == 0 and err == f"\rmerged {n:,} of {n:,} changes (100%)\n"


def test_sync_once_shows_progress_on_a_terminal_only(capsys, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli._sync_progress() is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = cli._sync_progress()
    link = SimpleNamespace(address="wss://eoc:8765", received=5000, sent=12, remaining=95000)
    shown.event("peers", link)  # only progress events show
    shown.event("progress", link)
    link.received = 10000
    shown.event("progress", link)  # within a tenth of a second of the last: skipped
    shown.end()
    assert capsys.readouterr().err == "\rwss://eoc:8765: received 5,000, sent 12; 95,000 still to come   \n"


def test_trust_untrust_and_peers(demo, capsys):
    other = demo.parent / "other.db"
    code, other_id, _ = run(capsys, "id", "--db", other)
    other_id = other_id.strip()
    code, own_id, _ = run(capsys, "id", "--db", demo)
    assert code == 0 and run(capsys, "id", "--db", demo)[1].strip() == own_id.strip()
    # `--agency` after `trust` is the other console's; this console's own
    # agency (the option before the command) stays as it was.
    code, _, _ = run(capsys, "--agency", "County EMS", "info", "--db", demo)
    code, out, err = run(capsys, "trust", "--db", demo, other_id.lower().replace("-", ""), "--agency", "Public Works")
    assert code == 0 and out == f"trusted {other_id} (Public Works, editor)\n", err
    code, out, _ = run(capsys, "--agency", "County EMS", "trust", "--db", demo, other_id, "--agency", " State DOT ",
                       "--role", "observer")
    assert code == 0 and out == f"trusted {other_id} (State DOT, observer)\n"
    with Store(demo) as s:
        assert s.agency == "County EMS"
        assert s.trusted(other_id) == ("State DOT", "observer")
    code, out, _ = run(capsys, "peers", "--db", demo, "--json")
    [peer] = json.loads(out)
    assert (peer["console_id"], peer["agency"], peer["role"], peer["last_seen"]) == \
        (other_id, "State DOT", "observer", None)
    code, out, _ = run(capsys, "peers", "--db", demo)
    assert other_id[:14] in out and "observer" in out and "never" in out
    assert "connects to" not in out
    with Store(demo) as s:
        s.remember_dial("wss://eoc.example:8765")  # as the window's Peers dialog does
    code, out, _ = run(capsys, "peers", "--db", demo)
    assert out.splitlines()[-1] == ("the window connects to wss://eoc.example:8765 whenever it opens (Sync ▸ Peers "
                                    "to change that)")

    before = state(demo)
    for argv, message in [
        (["trust", "--db", demo, own_id.strip(), "--agency", "Fire"], "this console's own ID"),
        (["trust", "--db", demo, "not-an-id", "--agency", "Fire"], "is not a console ID"),
        (["trust", "--db", demo, other_id, "--agency", "  "], "give the console's agency"),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 1 and message in err and err.count("\n") == 1, err
    assert run(capsys, "trust", "--db", demo, other_id, "--agency", "Fire", "--role", "owner")[0] == 2
    assert state(demo) == before
    assert json.loads(run(capsys, "peers", "--db", demo, "--json")[1])[0]["agency"] == "State DOT"

    code, out, _ = run(capsys, "untrust", "--db", demo, other_id)
    assert code == 0 and out == f"untrusted {other_id}\n"
    code, _, err = run(capsys, "untrust", "--db", demo, other_id)
    assert code == 1 and "is not on the trust list" in err
    code, out, _ = run(capsys, "peers", "--db", demo)
    assert code == 0 and "no trusted consoles yet" in out


TABLES = ["units", "tasks", "resources", "journal", "nope"]
REFS = ["E-12", "e-11", "2A12", "0000", "ffff", "Sandbag", "", " ", "x" * 300, "a\udcffb", "NOPE-1"]
PAIRS = ["status=on scene", "status=asleep", "personnel=inf", "personnel=-1", "personnel=4", "lat=91", "lon=nan",
         "due=tomorrow", "due=2026-11-26 18:00", "task_id=E-12", "task_id=", "deleted=false", "deleted=true",
         "quantity=1e400", "quantity=5", "callsign=Z-9", "callsign=", "agency=Fire", "kind=Engine", "title=T",
         "priority=urgent", "name=N", "text=hello", "=", "colour=red", "notes=" + "n" * 5000, "location=ünï"]
NUMBERS = ["+5", "-5", "5", "-1e13", "0", "1e400", "nan", "-inf", "abc", "1", "2", "99", "-1", "0.01"]
PATHS = ["{dir}", "{csv}", "{none}", "{odd}", "{db}", "{out}"]


def _argv(draw, command):
    one = lambda xs: draw(st.sampled_from(xs))  # noqa: E731
    some = lambda xs, n=3: draw(st.lists(st.sampled_from(xs), max_size=n))  # noqa: E731
    maybe = lambda *xs: list(xs) if draw(st.booleans()) else []  # noqa: E731
    match command:
        case "seed":
            return draw(st.sampled_from([["--demo"], ["--synthetic", one(NUMBERS)], []]))
        case "add":
            return [one(TABLES), *some(PAIRS, 5), *maybe("--csv", one(PATHS))]
        case "set":
            return [one(TABLES), one(REFS), *some(PAIRS)]
        case "delete" | "untrust":
            return [one(TABLES), one(REFS)] if command == "delete" else [one(REFS)]
        case "stock":
            return [one(REFS), one(NUMBERS), *maybe("--for", one(["levee", "", "x" * 600, "a\udcffb"]))]
        case "note":
            return [one(["hello", "", " ", "x" * 5000, "a\udcffb"]), *maybe("--about", one(TABLES), one(REFS))]
        case "list":
            return [one(TABLES), *maybe("--json"), *maybe("--deleted"), *maybe("--search", one(REFS))]
        case "report":
            return [*maybe("--hours", one(NUMBERS)), *maybe("--format", one(["text", "html", "xml"])),
                    *maybe("-o", one(PATHS)), *maybe("--task", one(REFS)), *maybe("--unit", one(REFS))]
        case "conflicts" | "info" | "peers" | "twins":
            return maybe("--json")
        case "resolve":
            return [one(REFS), *draw(st.sampled_from([["--keep", one(NUMBERS)], ["--value", one(PAIRS)], []]))]
        case "merge":
            return [*some(REFS), *maybe("--keep", one(REFS)), *maybe("--all")]
        case "export":
            return [one(TABLES), "--format", one(["csv", "json", "xml"]), *maybe("-o", one(PATHS))]
        case "backup":
            return [one(PATHS), *maybe("--keep", one(NUMBERS))]
        case "restore" | "changes import":
            return [one(PATHS)]
        case "trust":
            return [one([*REFS, "AAAA-BBBB"]), *maybe("--agency", one(REFS)), *maybe("--role", one(["observer", "x"]))]
        case "changes export":
            return [one(PATHS), *maybe("--for", one(PATHS)), *maybe("--for-console", one([*REFS, "AAAA-BBBB"]))]
    return some(REFS)


SAFE_COMMANDS = [c for c in cli.command_names() if c not in ("demo", "relay", "sync")]  # these run until stopped


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(SAFE_COMMANDS))
    return command, _argv(draw, command)


@pytest.fixture
def seeded(tmp_path):
    from console import seed

    db = tmp_path / "demo.db"
    with Store(db) as s:
        seed.seed_demo(s)
    return db


@given(command_lines())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_command_line_ends_in_an_exit_code_never_a_traceback(seeded, tmp_path, capsysbinary, monkeypatch, line):
    """Whatever is typed, the command ends 0, 1 or 2; refusals say why in
    one line on stderr. (Bytes captured: a path that is not UTF-8 prints as
    its bytes.)"""
    monkeypatch.chdir(tmp_path)  # a word taken for a file name is written here, not in the checkout
    command, words = line
    csv_file = tmp_path / "u.csv"
    if not csv_file.exists():
        csv_file.write_text("callsign,agency,kind\nZ-1,Fire,Engine\n", encoding="utf-8")
    values = {"db": str(seeded), "dir": str(tmp_path), "csv": str(csv_file), "none": str(tmp_path / "none"),
              "odd": str(tmp_path / "b\udcffd"), "out": str(tmp_path / "out.txt")}  # odd: bytes that are not UTF-8
    argv = [*command.split(), "--db", str(seeded), *(w.format(**values) if w.startswith("{") else w for w in words)]
    code = cli.main(argv)
    err = capsysbinary.readouterr().err.decode("utf-8", "replace")
    event(f"{command}: exit {code}")
    assert code in (0, 1, 2), argv
    if code:
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert seeded.exists(), f"{argv} left no database"
    with Store(seeded) as s:  # and left it whole: no command writes over it
        s.counts()


@pytest.mark.parametrize("argv", [
    ["export", "units", "--format", "csv", "-o", "{db}"],
    ["report", "-o", "{db}"],
    ["report", "-o", "{db}.key"],
    ["changes", "export", "{db}"],
    ["changes", "export", "{db}-wal"],
    ["backup", "{db}.replica"],
])
def test_no_command_writes_over_the_database_or_its_files(demo, capsys, argv):
    """`report -o ops.db` for `-o ops.html`: a slip that would destroy the
    operation's only copy on this console."""
    from console.sync import identity

    identity.load_or_create(demo)  # its key and certificate, which must stay as they are
    keys = {p: p.read_bytes() for p in demo.parent.iterdir() if p.name.endswith((".key", ".crt"))}
    before = state(demo)
    argv = [a.replace("{db}", str(demo)) for a in argv]
    code, out, err = run(capsys, *argv[:2 if argv[0] == "changes" else 1], "--db", demo,
                         *argv[2 if argv[0] == "changes" else 1:])
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "is this console's database, or a file that belongs to it" in err or "belongs to it" in err
    assert state(demo) == before  # (the file itself changes as any opening does: its replica marker)
    assert keys and all(p.read_bytes() == content for p, content in keys.items())
