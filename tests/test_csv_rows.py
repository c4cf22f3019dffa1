"""New rows from CSV files (rosters, stock lists), on real files."""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from console import cli, csv_rows, seed
from console.model import ValidationError
from console.store import Store


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ops.db", agency="EOC", operator="Sgt. Lee")
    s.add("units", {"callsign": "E-12", "agency": "County Fire", "kind": "Engine"})
    yield s
    s.close()


def rows_of(store, table):
    return {r.callsign if table == "units" else r.title: r for r in store.list(table)}


def test_a_roster_as_a_spreadsheet_saves_it(store, tmp_path):
    # Excel's "CSV UTF-8": a byte-order mark, semicolons in many locales,
    # headers as people write them, empty cells, a blank line at the end.
    roster = write(tmp_path / "roster.csv", "\ufeffCallsign;Agency;Kind;Status;Personnel;Location\r\n"
                   "E-21;County Fire;Engine, Type 1;available;4;Station 2\r\n"
                   "E-22;County Fire;Engine, Type 1;en route;4;Route 9\r\n"
                   "M-7;County EMS;Ambulance;On Scene;;\r\n"
                   ";;;;;\r\n")
    found = csv_rows.read("units", roster)
    assert found.lines == ["roster.csv, line 2", "roster.csv, line 3", "roster.csv, line 4"]
    assert found.rows[2] == {"callsign": "M-7", "agency": "County EMS", "kind": "Ambulance", "status": "On Scene"}
    store.add_many("units", found.rows, where=found.lines, summary="Added 3 units from roster.csv")
    units = rows_of(store, "units")
    assert units["E-22"].status == "en_route" and units["E-22"].personnel == 4 and units["E-22"].location == "Route 9"
    assert units["M-7"].status == "on_scene" and units["M-7"].personnel is None
    assert store.journal(limit=1)[0].text == "Added 3 units from roster.csv"
    tasks = write(tmp_path / "tasks.csv", "Title\tPriority\tLead agency\tDue\n"
                  "Sandbag the levee\turgent\tPublic Works\t2026-11-26T18:00:00Z\n"
                  "\"Welfare checks,\nLower Mill\"\thigh\tCity Police\t\n")
    found = csv_rows.read("tasks", tasks)
    store.add_many("tasks", found.rows, where=found.lines)
    t = rows_of(store, "tasks")
    assert t["Sandbag the levee"].lead_agency == "Public Works" and t["Sandbag the levee"].due == "2026-11-26T18:00:00Z"
    assert t["Welfare checks,\nLower Mill"].priority == "high"


def test_an_agency_in_another_case_or_spacing_is_saved_as_spelled_in_use(store, tmp_path):
    """A roster typed by hand: "county fire" is the County Fire already on
    the boards, and a new agency spelled two ways in one file is one, as
    its first row spells it."""
    roster = write(tmp_path / "roster.csv", "callsign,agency,kind\n"
                   "E-21,county fire,Engine\n"
                   "E-22,  COUNTY   Fire ,Engine\n"
                   "R-1,Red Cross,Shelter team\n"
                   "R-2,red cross,Shelter team\n")
    found = csv_rows.read("units", roster)
    store.add_many("units", found.rows, where=found.lines)
    units = rows_of(store, "units")
    assert [units[c].agency for c in ("E-12", "E-21", "E-22", "R-1", "R-2")] == [
        "County Fire", "County Fire", "County Fire", "Red Cross", "Red Cross"]
    assert [a for a, _ in store.tally("units", ["agency"])] == ["County Fire", "Red Cross"]


def test_an_export_of_one_operation_adds_its_units_to_another(tmp_path, capsys):
    with Store(tmp_path / "old.db") as old:
        seed.seed_demo(old)
        before = {u.callsign: u for u in old.list("units")}
    assert cli.main(["export", "--db", str(tmp_path / "old.db"), "units", "--format", "csv", "-o",
                     str(tmp_path / "units.csv")]) == 0
    capsys.readouterr()
    assert cli.main(["add", "--db", str(tmp_path / "new.db"), "units", "--csv", str(tmp_path / "units.csv")]) == 0
    out, err = capsys.readouterr()
    assert out == (f"added {len(before)} units from {tmp_path / 'units.csv'} "
                   "(columns left out: id, task_id, status_since, task)\n") and err == ""
    with Store(tmp_path / "new.db") as new:
        after = {u.callsign: u for u in new.list("units")}
    assert set(after) == set(before)
    for callsign, u in after.items():
        b = before[callsign]
        assert (u.agency, u.kind, u.status, u.location, u.lat, u.lon, u.personnel, u.notes) == (
            b.agency, b.kind, b.status, b.location, b.lat, b.lon, b.personnel, b.notes)
        assert u.id != b.id and u.task_id is None


@pytest.mark.parametrize("text, said", [
    ("callsign,agency,kind\nE-1,Fire,Engine\nE-2,Fire,Engine\nE-3,Fire\n", "f.csv, line 4: no kind"),
    ("callsign,agency,kind,personnel\nE-1,Fire,Engine,4\nE-2,Fire,Engine,-3\n", "f.csv, line 3: "),
    ("callsign,agency,kind\nE-1,Fire,Engine\ne-1,Fire,Engine\n", "f.csv, line 3: callsign 'e-1' appears twice"),
    ("callsign,agency,kind\nE-1,Fire,Engine\nE-12,Fire,Engine\n", "callsign 'E-12' is already in use"),
    ("callsign,agency,kind,status\nE-1,Fire,Engine,asleep\n", "f.csv, line 2: "),
    ("callsign,agency,kind,colour\nE-1,Fire,Engine,red\n", "the column 'colour' is not a field of units"),
    ("callsign,agency,Callsign\nE-1,Fire,E-2\n", "the column 'Callsign' appears twice"),
    ("callsign,agency,kind\nE-1,Fire,Engine,extra\n", "f.csv, line 2: more cells than the first line names"),
    ("", "f.csv is empty"),
    ("callsign,agency,kind\n\n", "f.csv names its columns but holds no rows"),
])
def test_a_bad_file_is_refused_by_line_and_adds_nothing(store, tmp_path, text, said):
    path = write(tmp_path / "f.csv", text)
    before = store.info().changes
    with pytest.raises(ValidationError, match=said.replace("(", r"\(")):
        found = csv_rows.read("units", path)
        store.add_many("units", found.rows, where=found.lines)
    assert store.info().changes == before and set(rows_of(store, "units")) == {"E-12"}


def test_files_that_are_not_csv_text(store, tmp_path):
    with pytest.raises(ValidationError, match="not UTF-8 text: save it as \"CSV UTF-8\""):
        csv_rows.read("units", write(tmp_path / "latin.csv", "callsign,agency,kind\nÉ-1,Pompiers,Fourgon\n",
                                     encoding="latin-1"))
    (tmp_path / "bin.csv").write_bytes(b"callsign,agency\x00,kind\n")
    with pytest.raises(ValidationError, match="binary data"):
        csv_rows.read("units", tmp_path / "bin.csv")
    with pytest.raises(ValidationError, match="the journal is not imported"):
        csv_rows.read("journal", write(tmp_path / "j.csv", "text\nhello\n"))
    with pytest.raises(FileNotFoundError):
        csv_rows.read("units", tmp_path / "none.csv")


def test_the_add_csv_command_says_what_is_wrong_and_makes_no_database(tmp_path, capsys):
    bad = write(tmp_path / "bad.csv", "callsign,agency,kind,personnel\nX-1,Fire,Engine,many\n")
    db = tmp_path / "new.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(bad)]) == 1
    _, err = capsys.readouterr()
    assert err == "crisis-console: bad.csv, line 2: units.personnel: 'many' is not a number\n"
    assert not db.exists()
    assert cli.main(["add", "--db", str(db), "units"]) == 2
    assert "give FIELD=VALUE ... or --csv FILE" in capsys.readouterr()[1]
    assert cli.main(["add", "--db", str(db), "units", "callsign=E-1", "--csv", str(bad)]) == 2
    assert "not both" in capsys.readouterr()[1]
    assert not db.exists()


REQUIRED = ["callsign", "Agency", "KIND"]
OPTIONAL = ["status", "personnel", "lat", "lon", "notes", "id", "task", "Status since", "location"]
ODD = ["colour", "", "callsign", "kind "]
GOOD = ["E-1", "E-2", "e-1", "Fire", "Engine", "on scene", "4", "", "45.5"]
BAD = ["asleep", "-3", "4.5", "nan", "inf", "1e400", "91", " ", 'a"b', "x;y", "x,y", "x\ty", "line\nbreak",
       "\u00e9", "\ud800", "0x10", "\u0663"]


@st.composite
def csv_files(draw):
    header = draw(st.permutations(REQUIRED))[: draw(st.sampled_from([3, 3, 3, 2]))]
    header += draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=4))
    if draw(st.integers(0, 9)) == 0:
        header.append(draw(st.sampled_from(ODD)))
    header = draw(st.permutations(header))
    cell = st.one_of(st.sampled_from(GOOD), st.sampled_from(GOOD), st.sampled_from(BAD))
    width = st.sampled_from([len(header)] * 6 + [len(header) - 1, len(header) + 1])
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(cell, min_size=max(n, 0), max_size=max(n, 0))),
                         max_size=5))
    return header, rows


@given(csv_files(), st.sampled_from([",", ";", "\t"]), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_file_is_added_whole_or_refused_with_a_reason(store, tmp_path, file, sep, bom):
    """read, then add_many: rows added, or a ValidationError that names the
    problem and adds nothing; never another exception."""
    def line(cells):
        return sep.join('"' + c.replace('"', '""') + '"' if any(ch in c for ch in f'"{sep}\n') else c
                        for c in cells)

    header, rows = file
    text = ("\ufeff" if bom else "") + "\n".join(line(r) for r in [header, *rows]) + "\n"
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    before = store.info().changes
    try:
        found = csv_rows.read("units", path)
        store.add_many("units", found.rows, where=found.lines)
    except ValidationError as exc:
        assert str(exc) and store.info().changes == before
        event(f"refused: {str(exc).split(': ')[1 if str(exc).startswith('f.csv,') else 0][:40]}")
    else:
        assert store.info().changes > before
        event("added")
