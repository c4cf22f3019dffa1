"""The situation report, from a real store, as text and HTML, and its command."""

import html
import re

import pytest
from conftest import FakeWall

from console import cli, model, report
from console.store import Store

HOUR = 3600 * 1000
NOW = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC


def iso(ms):
    return report._iso(ms)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    wall = FakeWall(NOW - 20 * HOUR)
    s = Store(tmp_path / "ops.db", agency="County EOC", operator="Sgt. Lee", wall=wall)
    s.note("an old note, before the period")
    wall.ms = NOW - 2 * HOUR
    units = {}
    for callsign, agency, status, people in [("E-12", "County Fire", "on_scene", 4), ("E-14", "County Fire",
                                             "available", 3), ("Medic 5", "County EMS", "en_route", 2),
                                            ("2A12", "City Police", "out_of_service", 1)]:
        units[callsign] = s.add("units", {"callsign": callsign, "agency": agency, "kind": "x", "status": status,
                                          "personnel": people})
    tasks = {}
    for title, priority, status, due in [
        ("Levee", "urgent", "in_progress", NOW - HOUR),  # overdue
        ("Shelter", "high", "open", NOW + HOUR),
        ("Roads", "urgent", "open", None),
        ("Debris", "low", "assigned", NOW - 3 * HOUR),  # overdue, but low
        ("Done", "urgent", "completed", NOW - HOUR),  # not to do
    ]:
        values = {"title": title, "priority": priority, "status": status}
        if due:
            values["due"] = iso(due)
        tasks[title] = s.add("tasks", values)
    # Put on the task as they were (a unit put on a task is otherwise dispatched).
    s.update("units", units["E-12"], {"task_id": tasks["Levee"], "status": "on_scene"})
    s.update("units", units["Medic 5"], {"task_id": tasks["Levee"], "status": "en_route"})
    s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "Public Works", "quantity": 1850,
                        "unit": "bags"})
    s.add("resources", {"name": "Cots", "kind": "Supply", "agency": "County EMS", "quantity": 140})
    s.note("Levee <b>holding</b> & watched")
    wall.ms = NOW
    yield s
    s.close()
    monkeypatch.delenv("TZ")
    time.tzset()


def test_the_report_counts_units_and_orders_the_tasks_to_do(store):
    r = report.build(store, now_ms=NOW)
    assert [(u.agency, u.total, u.personnel) for u in r.units] == [
        ("City Police", 1, 1), ("County EMS", 1, 2), ("County Fire", 2, 7)]
    assert r.units[2].counts == {**dict.fromkeys(model.UNIT_STATUSES, 0), "on_scene": 1, "available": 1}
    assert (r.unit_total.total, r.unit_total.personnel, r.unit_total.counts["out_of_service"]) == (4, 10, 1)
    # Most urgent first; within a priority, the soonest due, then those with no due time.
    assert [t.task.title for t in r.to_do] == ["Levee", "Roads", "Shelter", "Debris"]
    assert r.to_do_total == 4 and r.overdue_total == 2
    assert r.unstaffed_total == 3  # Roads, Shelter, Debris: no unit on them
    assert "  3 with no unit on them\n" in report.as_text(r) and "3 with no unit</span>" in report.as_html(r)
    levee = r.to_do[0]
    assert levee.callsigns == ("E-12", "Medic 5") and levee.due_in == -3600
    assert r.tasks_by_status == {"open": 2, "assigned": 1, "in_progress": 1, "completed": 1, "cancelled": 0}
    assert [x.name for x in r.resources] == ["Cots", "Sandbags"]  # by agency
    # Only the notes of the period; the journal's entries in it, per agency.
    assert [n.text for n in r.notes] == ["Levee <b>holding</b> & watched"]
    assert r.notes_total == 1 and r.journal["County EOC"][1] == 1
    assert r.journal["County EOC"][0] == sum(n for n, _ in r.journal.values())
    # A unit on Roads, and Levee's units deleted: the count follows the live units.
    store.update("units", store.resolve_id("units", "2A12"), {"task_id": r.to_do[1].task.id})
    assert report.build(store, now_ms=NOW).unstaffed_total == 2
    store.delete_many("units", [store.resolve_id("units", "E-12"), store.resolve_id("units", "Medic 5")])
    assert report.build(store, now_ms=NOW).unstaffed_total == 3  # Levee's units deleted: none on it now
    wide = report.build(store, now_ms=NOW, hours=24)
    assert [n.text for n in wide.notes] == ["an old note, before the period", "Levee <b>holding</b> & watched"]


def test_a_limited_report_lists_the_first_and_counts_them_all(store):
    r = report.build(store, now_ms=NOW, limit=1)
    assert [t.task.title for t in r.to_do] == ["Levee"] and r.to_do_total == 4 and r.overdue_total == 2
    assert len(r.resources) == 1 and r.resources_total == 2
    text = report.as_text(r)
    assert "the 1 most urgent shown" in text and "the first 1 by name shown" in text
    assert "The 1 most urgent are shown." in report.as_html(r)


def test_the_text_says_how_current_it_is_and_what_is_overdue(store):
    text = report.as_text(report.build(store, now_ms=NOW))
    assert text.startswith("SITUATION REPORT — County EOC\nMade 2026-05-28 20:26 UTC by Sgt. Lee")
    assert "Period: the last 12 hours, since 2026-05-28 08:26 UTC." in text
    assert "No other console is trusted" in text
    assert re.search(r"urgent +in progress +Levee +.*E-12, Medic 5 +2026-05-28 19:26 OVERDUE 1h00m", text)
    assert "2 OVERDUE" in text
    assert "Public Works  Sandbags  Supply" in text and "1,850  bags" in text
    assert "2026-05-28 18:26  County EOC (Sgt. Lee): Levee <b>holding</b> & watched" in text
    store.trust("A" * 52, "County Fire", "editor")
    text = report.as_text(report.build(store, now_ms=NOW))
    assert "County Fire (editor): never connected" in text
    assert "changes made here have not reached any peer yet" in text


def test_the_report_says_a_unit_added_on_two_consoles_is_counted_twice(store, tmp_path):
    """Medic 5 added on a field console too, apart: the counts above hold
    it twice, and the report says so, in text and HTML, until merged."""
    with Store(tmp_path / "field.db", agency="County EMS", operator="Cpl. Diaz", wall=store.clock.wall) as field:
        field.add("units", {"callsign": "MEDIC 5", "agency": "County EMS", "kind": "x"})
        for part in field.changes_since({}):
            store.apply(part)
    r = report.build(store, now_ms=NOW)
    assert r.twins == [("Medic 5", 2)] and r.unit_total.total == 5
    said = "Medic 5 is on 2 units (added on consoles apart): counted twice above until merged"
    assert said in " ".join(report.as_text(r).split())
    assert said in " ".join(report.as_html(r).split())
    store.merge_units([x.unit.id for x in store.twins()[0].units])
    r = report.build(store, now_ms=NOW)
    assert r.twins == [] and "consoles apart" not in report.as_text(r) and r.unit_total.total == 4


def test_the_report_says_tasks_and_stock_added_under_one_name_at_two_consoles(store, tmp_path):
    """The field console entered the levee breach and the filled sandbags
    too, apart: the tasks and the stock above hold them twice, and the
    report says so, until merged."""
    with Store(tmp_path / "field.db", agency="Public Works", operator="J. Park", wall=store.clock.wall) as field:
        field.add("tasks", {"title": "LEVEE"})
        field.add("resources", {"name": "SANDBAGS", "kind": "Supply", "agency": "Public Works", "quantity": 40,
                                "unit": "bags"})
        for part in field.changes_since({}):
            store.apply(part)
    r = report.build(store, now_ms=NOW)
    assert r.entered_apart == [("tasks", "Levee", 2), ("resources", "Sandbags", 2)]
    said = ("Added at different consoles under one name: Levee (2 tasks), Sandbags (2 stock rows). "
            "Entered twice while apart? Then counted more than once above until merged.")
    assert said in " ".join(report.as_text(r).split())
    assert said in " ".join(report.as_html(r).split())
    for table, rows in store.entered_apart():
        (store.merge_tasks if table == "tasks" else store.merge_resources)([x.id for x in rows])
    r = report.build(store, now_ms=NOW)
    assert r.entered_apart == [] and "under one name" not in report.as_text(r)


def test_the_report_says_a_unit_on_a_task_merged_away_is_under_no_task(store, tmp_path):
    """A field console that had not seen Levee and Levee breach merged
    puts E-30 on the one merged away: the report's tasks cannot list it,
    so it says where it is, until it is put on a task."""
    a = store.add("tasks", {"title": "Levee breach", "status": "assigned"})
    b = store.add("tasks", {"title": "Levee", "status": "assigned"})
    e30 = store.add("units", {"callsign": "E-30", "agency": "County Fire", "kind": "x"})
    with Store(tmp_path / "field.db", agency="County Fire", operator="Cpl. Diaz", wall=store.clock.wall) as field:
        for part in store.changes_since({}):
            field.apply(part)
        store.merge_tasks([a, b])
        field.update("units", e30, {"task_id": b})
        for part in field.changes_since({}):
            store.apply(part)
    r = report.build(store, now_ms=NOW)
    kept = store.get("tasks", a).title
    assert r.stranded == [("E-30", "Levee", kept)]
    said = (f"E-30 was put on Levee at a console that had not seen it merged into {kept}: listed under no task "
            "above until put on one.")
    assert said in " ".join(report.as_text(r).split())
    assert said in " ".join(report.as_html(r).split())
    store.update("units", e30, {"task_id": a})
    r = report.build(store, now_ms=NOW)
    assert r.stranded == [] and "under no task" not in report.as_text(r)


def test_an_agency_written_two_ways_on_consoles_apart_is_one_line(store, tmp_path):
    with Store(tmp_path / "field.db", agency="County EMS", operator="Cpl. Diaz", wall=store.clock.wall) as field:
        field.add("units", {"callsign": "M-9", "agency": "county  EMS", "kind": "x", "status": "on_scene",
                            "personnel": 3})
        for part in field.changes_since({}):
            store.apply(part)
    r = report.build(store, now_ms=NOW)
    (ems,) = [line for line in r.units if "ems" in line.agency.lower()]
    assert (ems.agency, ems.total, ems.personnel, ems.counts["on_scene"]) == ("County EMS", 2, 5, 1)


def test_the_report_lists_the_units_past_their_status_timers(store):
    """Medic 5 has been en route for two hours (30 minutes are allowed by
    default): it is to check, until it checks in."""
    medic5 = store.resolve_id("units", "Medic 5")
    r = report.build(store, now_ms=NOW)
    assert [(c.unit.callsign, round(c.past / 60), c.checked, c.task) for c in r.to_check] == \
        [("Medic 5", 90, None, "Levee")]
    text = report.as_text(r)
    assert ("UNITS TO CHECK (1): past their status timers (dispatched 10m, en route 30m, returning 30m), "
            "not checked in since") in text
    assert re.search(r"Medic 5 +County EMS +en route +2h00m +1h30m +Levee", text)
    assert "<h2>Units to check (<span class=\"overdue\">1</span>)</h2>" in report.as_html(r)
    # Other timers: an hour on scene, and none en route.
    other = report.build(store, now_ms=NOW, timers={"on_scene": 60})
    assert [c.unit.callsign for c in other.to_check] == ["E-12"]
    assert "past their status timers (on scene 1h00m)" in report.as_text(other)
    assert "UNITS TO CHECK (0): no status timers set" in report.as_text(report.build(store, now_ms=NOW, timers={}))
    # Checked in ten minutes ago: off the list; in the window's limit, the longest past first.
    store.clock.wall.ms = NOW - 10 * 60 * 1000
    store.check_in([medic5], "stuck behind the levee closure")
    store.clock.wall.ms = NOW
    r = report.build(store, now_ms=NOW)
    assert r.to_check == [] and "UNITS TO CHECK (0)" in report.as_text(r) and "  none\n" in report.as_text(r)
    later = report.build(store, now_ms=NOW + 25 * 60 * 1000, timers={"on_scene": 60, "en_route": 30}, limit=1)
    assert [(c.unit.callsign, c.checked is not None) for c in later.to_check] == [("E-12", False)]
    assert later.to_check_total == 2 and "the 1 longest past shown" in report.as_text(later)


def test_the_html_escapes_what_people_typed(store):
    page = report.as_html(report.build(store, now_ms=NOW))
    assert "<b>holding</b>" not in page and html.escape("Levee <b>holding</b> & watched") in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<span class="overdue">2 overdue</span>' in page


def test_a_period_out_of_range_is_refused(store):
    for hours in (0, -1, 24 * 367):
        with pytest.raises(model.ValidationError, match="the period is from a minute to a year"):
            report.build(store, hours=hours)


def test_the_report_command(store, tmp_path, capsys):
    db = str(store.path)
    assert cli.main(["report", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("SITUATION REPORT — County EOC") and err == ""
    page = tmp_path / "sitrep.html"
    assert cli.main(["report", "--db", db, "--format", "html", "--hours", "8784", "-o", str(page)]) == 0
    out, _ = capsys.readouterr()
    assert out == f"wrote the situation report to {page}\n"
    assert "an old note, before the period" in page.read_text(encoding="utf-8")
    assert cli.main(["report", "--db", db, "--hours", "0"]) == 2
    assert "not a number of hours" in capsys.readouterr()[1]
    assert cli.main(["report", "--db", db, "-o", str(tmp_path / "none" / "x.txt")]) == 1
    _, err = capsys.readouterr()
    assert "the folder" in err and "does not exist" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ops.db")) == ["sitrep.html"]


# ------------------------------------------------------- an assignment list


def test_an_assignment_list_holds_the_task_its_units_and_its_journal(store):
    levee = store.resolve_id("tasks", next(t.id for t in store.list("tasks") if t.title == "Levee"))
    store.update("tasks", levee, {"description": "Sandbag the low spot at mile 3.\nWatch for seepage.",
                                  "location": "Levee, mile 3", "lead_agency": "County Fire"})
    store.note("Bring the <second> pump & hoses", "tasks", levee)
    a = report.build_assignment(store, levee[-8:], now_ms=NOW)
    assert [u.callsign for u in a.units] == ["Medic 5", "E-12"]  # by agency (County EMS first), then callsign
    text = report.assignment_text(a)
    assert text.startswith("ASSIGNMENT LIST (ICS 204) — Levee\nPrepared 2026-05-28 20:26 UTC by Sgt. Lee (County EOC)")
    assert "  Priority     urgent\n  Status       in progress\n  Location     Levee, mile 3\n" in text
    assert "Due          2026-05-28 19:26 UTC (OVERDUE by 1h00m)" in text
    assert "WORK ASSIGNMENT\n  Sandbag the low spot at mile 3.\n  Watch for seepage.\n" in text
    assert "RESOURCES ASSIGNED (2 units, 6 personnel)" in text
    assert re.search(r"E-12 +County Fire +x +on scene +4", text)
    assert re.search(r"Medic 5 +County EMS +x +en route +2", text)
    assert "Sgt. Lee): Bring the <second> pump & hoses" in text
    assert text.rstrip().endswith("Approved by: ______________________________   Time: __________")
    page = report.assignment_html(a)
    assert "Bring the &lt;second&gt; pump &amp; hoses" in page and "<second>" not in page
    assert "<td>Medic 5</td><td>County EMS</td>" in page
    # A task with no units and nothing written for it says so.
    roads = next(t.id for t in store.list("tasks") if t.title == "Roads")
    empty = report.assignment_text(report.build_assignment(store, roads, now_ms=NOW))
    assert "WORK ASSIGNMENT\n  (none written)" in empty and "RESOURCES ASSIGNED (0 units, 0 personnel)\n  none" in empty


def test_the_assignment_command(store, tmp_path, capsys):
    db = str(store.path)
    levee = next(t.id for t in store.list("tasks") if t.title == "Levee")
    assert cli.main(["report", "--db", db, "--task", levee[-8:]]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ASSIGNMENT LIST (ICS 204) — Levee") and err == ""
    page = tmp_path / "levee.html"
    assert cli.main(["report", "--db", db, "--task", levee, "--format", "html", "-o", str(page)]) == 0
    assert capsys.readouterr()[0] == f"wrote the assignment list of Levee to {page}\n"
    assert "<h1>Assignment list (ICS 204) — Levee</h1>" in page.read_text(encoding="utf-8")
    assert cli.main(["report", "--db", db, "--task", "ffffffff"]) == 1
    assert capsys.readouterr()[1] == "crisis-console: no tasks row 'ffffffff'\n"
    assert cli.main(["report", "--db", db, "--task", levee, "--hours", "3"]) == 2
    assert "--hours is the situation report's period" in capsys.readouterr()[1]


# ------------------------------------------------------- a unit's activity log


def test_an_activity_log_holds_the_unit_and_what_it_did_in_the_period(store):
    wall = store.clock.wall
    e12 = store.resolve_id("units", "E-12")
    wall.ms = NOW - 30 * 60 * 1000
    store.update("units", e12, {"status": "returning", "location": "Levee, mile 3"})
    store.note("Crew <rotated> & fed", "units", e12)
    store.update("units", store.resolve_id("units", "E-14"), {"status": "en_route"})  # another unit: not in it
    wall.ms = NOW
    log = report.build_activity(store, "E-12", hours=1, now_ms=NOW)
    text = report.activity_text(log)
    assert text.startswith("ACTIVITY LOG (ICS 214) — E-12\n"
                           "Operational period: 2026-05-28 19:26 UTC to 2026-05-28 20:26 UTC\n"
                           "Prepared 2026-05-28 20:26 UTC by Sgt. Lee (County EOC)")
    assert "  Home agency  County Fire\n" in text and "  Crew         4\n" in text
    assert "  Status       returning since 2026-05-28 19:56\n" in text and "  Task         Levee\n" in text
    # Only what was written about E-12 in the last hour, oldest first: not
    # its status and task of two hours ago, not E-14's.
    activity = text.split("ACTIVITY (2 entries), times in UTC\n")[1].splitlines()
    assert activity[0].startswith("  2026-05-28 19:56  County EOC (Sgt. Lee): E-12: status on scene → returning")
    assert activity[1] == "  2026-05-28 19:56  County EOC (Sgt. Lee): Crew <rotated> & fed"
    assert activity[2] == "" and "E-14" not in text
    assert text.rstrip().endswith("Signature: __________")
    page = report.activity_html(log)
    assert "<h1>Activity log (ICS 214) — E-12</h1>" in page and "Crew &lt;rotated&gt; &amp; fed" in page
    # Over the whole day: the status and task it was given too.
    day = report.activity_text(report.build_activity(store, e12[-8:], hours=24, now_ms=NOW))
    assert "ACTIVITY (4 entries)" in day and "task — → Levee" in day
    # A unit stood down (deleted) still has its log, by id or callsign.
    store.delete("units", e12)
    gone = report.build_activity(store, "E-12", hours=24, now_ms=NOW)
    assert gone.deleted and "  Status       stood down (deleted)\n" in report.activity_text(gone)
    # ... until a live unit has the callsign again: that one is meant.
    again = store.add("units", {"callsign": "E-12", "agency": "County Fire", "kind": "x"})
    assert report.build_activity(store, "E-12", now_ms=NOW).unit.id == again
    assert store.resolve_id("units", "E-12", live=False) == again
    # A quiet unit's log says so; a period out of range is refused.
    quiet = report.activity_text(report.build_activity(store, "2A12", hours=0.5, now_ms=NOW))
    assert "ACTIVITY (0 entries)" in quiet and "  none in the period" in quiet
    with pytest.raises(model.ValidationError, match="from a minute to a year"):
        report.build_activity(store, "2A12", hours=0)


def test_the_activity_logs_of_several_units_follow_one_another(store, monkeypatch):
    logs = report.build_activities(store, ["E-12", "2A12", "e-12"], hours=3, now_ms=NOW)
    assert [a.unit.callsign for a in logs] == ["E-12", "2A12"]  # each once, in the order named
    assert len({(a.made_ms, a.since_ms) for a in logs}) == 1  # one period for all
    text = report.activity_text(logs)
    assert text.count("ACTIVITY LOG (ICS 214)") == 2 and "\n" + "=" * 78 + "\n" in text
    assert report.activity_text(logs[:1]) == report.activity_text(logs[0])
    with pytest.raises(model.ValidationError, match="no unit named"):
        report.build_activities(store, [])
    monkeypatch.setattr(report, "ACTIVITY_UNITS", 1)
    with pytest.raises(model.ValidationError, match="the activity logs of at most 1 are made at once"):
        report.build_activities(store, ["E-12", "2A12"])


def test_an_activity_log_of_many_entries_lists_the_newest_and_counts_all(store, monkeypatch):
    monkeypatch.setattr(report, "ACTIVITY_ENTRIES", 3)
    e14 = store.resolve_id("units", "E-14")
    for i in range(5):
        store.note(f"check {i}", "units", e14)
    log = report.build_activity(store, "E-14", hours=3, now_ms=NOW + 1000)
    assert [e.text for e in log.entries] == ["check 2", "check 3", "check 4"] and log.entries_total == 6
    assert "ACTIVITY (6 entries), times in UTC (the newest 3 of 6 shown)" in report.activity_text(log)


def test_the_activity_log_command(store, tmp_path, capsys):
    db = str(store.path)
    assert cli.main(["report", "--db", db, "--unit", "Medic 5", "--hours", "8000"]) == 0  # (its data: months ago)
    out, err = capsys.readouterr()
    assert out.startswith("ACTIVITY LOG (ICS 214) — Medic 5") and "task — → Levee" in out and err == ""
    page = tmp_path / "medic5.html"
    assert cli.main(["report", "--db", db, "--unit", "Medic 5", "--format", "html", "-o", str(page)]) == 0
    assert capsys.readouterr()[0] == f"wrote the activity log of Medic 5 to {page}\n"
    assert "<h1>Activity log (ICS 214) — Medic 5</h1>" in page.read_text(encoding="utf-8")
    assert cli.main(["report", "--db", db, "--unit", "Medic 99"]) == 1
    assert capsys.readouterr()[1] == "crisis-console: no units row 'Medic 99'\n"
    assert cli.main(["report", "--db", db, "--unit", "Medic 5", "--task", "ffff"]) == 2
    assert "not allowed with argument" in capsys.readouterr()[1]
    # Several units: one log after another, each on its own pages in HTML.
    both = tmp_path / "both.html"
    assert cli.main(["report", "--db", db, "--unit", "Medic 5", "--unit", "E-12", "--unit", "medic 5",
                     "--format", "html", "-o", str(both)]) == 0
    assert capsys.readouterr()[0] == f"wrote the activity logs of 2 units to {both}\n"
    page = both.read_text(encoding="utf-8")
    assert page.count("<h1>Activity log (ICS 214)") == 2 and page.count("page-break-before: always") == 1
    assert page.index("— Medic 5</h1>") < page.index("— E-12</h1>")
    assert cli.main(["report", "--db", db, "--unit", "E-12", "--unit", "Nope 1"]) == 1
    assert capsys.readouterr()[1] == "crisis-console: no units row 'Nope 1'\n"
