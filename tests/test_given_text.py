"""Text as a person gives it (typed, pasted, read from a spreadsheet): a
line break or tab in a field of one line is a space, line breaks in text
of several lines are written one way, and a control character, which no
one would see on the boards, is refused with nothing changed. Values
arriving from other consoles are taken as they are, and the command line
prints them so that they break no table and drive no terminal."""

import json
import subprocess
import sys

import pytest
from conftest import snapshot
from hypothesis import given
from hypothesis import strategies as st

from console import model
from console.model import ValidationError

CONTROLS = [c for c in map(chr, [*range(0x20), *range(0x7F, 0xA0)]) if c not in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85"]
BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
INVISIBLE = "\u00ad\u200b\u2060\ufeff"  # (taken out of what people give)


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


@pytest.mark.parametrize("brk", [*BREAKS, "\t"])
def test_a_line_break_or_tab_in_a_field_of_one_line_is_a_space(brk):
    assert model.given_text("units.kind", f"Engine {brk}  Type 1") == "Engine Type 1"
    assert model.given_text("units.kind", f"Engine{brk}{brk}Type 1") == "Engine Type 1"


@pytest.mark.parametrize("brk", BREAKS)
def test_line_breaks_in_text_of_several_lines_are_written_one_way(brk):
    assert model.given_text("tasks.description", f"Sandbags{brk}- 500 to the levee\tnow",
                            lines=True) == "Sandbags\n- 500 to the levee\tnow"


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_character_is_refused_naming_it(control):
    for lines in (False, True):
        with pytest.raises(ValidationError, match=f"units.notes holds the control character U\\+{ord(control):04X}"):
            model.given_text("units.notes", f"E-12{control}", lines=lines)


@given(st.text())
def test_given_text_leaves_no_break_in_one_line_and_no_control_character(text):
    for lines in (False, True):
        try:
            out = model.given_text("x", text, lines=lines)
        except ValidationError:
            assert any(c in text for c in CONTROLS)
            continue
        assert not any(c in out for c in CONTROLS) and not any(c in out for c in INVISIBLE)
        assert model.given_text("x", out, lines=lines) == out  # (as stored, given again: the same)
        seen = "".join(c for c in text if c not in INVISIBLE)  # (what shows of it)
        if lines:
            assert out.splitlines() == seen.splitlines()
            assert not any(b in out for b in BREAKS if b != "\n")
        else:
            assert len(out.splitlines()) <= 1 and "\t" not in out
            assert out.split() == seen.split()


def test_the_store_takes_given_text_so_and_refuses_control_characters_changing_nothing(make_store):
    s = make_store("a")
    unit = s.add("units", {"callsign": "E-12", "agency": "County\nFire", "kind": "Engine\r\nType 1",
                           "notes": "Crew of 4\r\nPump fault"})
    u = s.get("units", unit)
    assert (u.agency, u.kind, u.notes) == ("County Fire", "Engine Type 1", "Crew of 4\nPump fault")
    task = s.add("tasks", {"title": "Levee\tbreach", "description": "Sandbags\rPumps"})
    assert (s.get("tasks", task).title, s.get("tasks", task).description) == ("Levee breach", "Sandbags\nPumps")
    before = snapshot(s)
    for table, row, values in [("units", unit, {"callsign": "E-\x1b[31m12"}), ("units", unit, {"notes": "ok\x00"}),
                               ("tasks", task, {"location": "Rt 9\x07"})]:
        with pytest.raises(ValidationError, match="control character"):
            s.update(table, row, values)
    with pytest.raises(ValidationError, match="control character U\\+0008"):
        s.add("resources", {"name": "Sandbags\x08", "kind": "Sand", "agency": "THW"})
    with pytest.raises(ValidationError, match="control character"):
        s.add_many("units", [{"callsign": "E-13", "agency": "F", "kind": "E"},
                             {"callsign": "E-14", "agency": "F", "kind": "E\x1b"}])
    with pytest.raises(ValidationError, match="the note holds the control character U\\+0007"):
        s.note("radio check\x07", "units", unit)
    with pytest.raises(ValidationError, match="the agency name holds"):
        s.trust("A" * 52, "City\x00Police")
    assert snapshot(s) == before
    note = s.note("radio check\r\nall well", "units", unit)
    assert s.journal(limit=1)[0].id == note and s.journal(limit=1)[0].text == "radio check\nall well"


@pytest.mark.parametrize("invisible", list(INVISIBLE))
def test_characters_that_show_as_nothing_are_taken_out_of_what_people_give(make_store, tmp_path, invisible):
    """A callsign copied from a web page or a chat with a zero-width space
    in it looked like E-12 but was another callsign: `list units` showed
    two E-12s, and `set ... E-12` found the one typed. It is E-12."""
    s = make_store("a")
    unit = s.add("units", {"callsign": f"E-{invisible}12", "agency": f"{invisible}County Fire", "kind": "Engine",
                           "notes": f"Crew{invisible} of 4\nPump{invisible}"})
    u = s.get("units", unit)
    assert (u.callsign, u.agency, u.notes) == ("E-12", "County Fire", "Crew of 4\nPump")
    assert s.resolve_id("units", "E-12") == unit
    with pytest.raises(ValidationError, match="already in use"):
        s.add("units", {"callsign": f"{invisible}E-12", "agency": "County Fire", "kind": "Engine"})
    with pytest.raises(ValidationError, match="callsign"):
        s.add("units", {"callsign": invisible, "agency": "County Fire", "kind": "Engine"})
    roster = tmp_path / "roster.csv"
    roster.write_text(f"callsign,agency,kind\nE-{invisible}14,County Fire,Engine{invisible}\n", encoding="utf-8")
    out = cli("add", "--db", str(s.path), "units", "--csv", str(roster))
    assert out.returncode == 0, out.stderr
    assert {(u.callsign, u.kind) for u in s.list("units")} == {("E-12", "Engine"), ("E-14", "Engine")}
    # Those that scripts need stay: a zero-width joiner, and the marks of a direction.
    kept = "\u0645\u200c\u0646 \u200f(EMS)"
    assert model.given_text("x", kept) == kept

def test_a_control_character_from_another_console_is_taken_and_printed_harmlessly(make_store, tmp_path):
    """A console of an older release, or one that read it from a file,
    may send a value holding a control character: it is taken (a change
    committed there is never lost), and `list` prints it written out."""
    a, b = make_store("a"), make_store("b")
    unit = a.add("units", {"callsign": "E-12", "agency": "County Fire", "kind": "Engine"})
    for part in a.changes_since({}):
        b.apply(part)
    a.update("units", unit, {"kind": "Pumper"})
    sent = [c._replace(value="Pump\x1b[2Jer\nType 1") if c.field == "kind" else c
            for part in a.changes_since(b.version_vector()) for c in part]
    assert b.apply(sent).applied == len(sent)
    assert b.get("units", unit).kind == "Pump\x1b[2Jer\nType 1"
    path = b.path
    b.close()
    out = cli("list", "--db", str(path), "units")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "Pump\\x1b[2Jer Type 1" in out.stdout
    assert len(out.stdout.splitlines()) == 3  # (the column names, the line under them, the unit)
    rows = json.loads(cli("list", "--db", str(path), "units", "--json").stdout)
    assert rows[0]["kind"] == "Pump\x1b[2Jer\nType 1"


def test_a_mark_turning_the_text_round_is_written_out_on_a_terminal(tmp_path):
    """A callsign holding a right-to-left override (U+202E), typed or from
    another console, turned the rest of its row of `list` round on a
    terminal that lays out both directions: its agency, kind and status
    read backwards, in each other's places. It is written out there
    (\\u202e), as a control character is; the marks of one place that
    scripts need (U+200F) are kept, and the value is stored as given."""
    db = str(tmp_path / "ops.db")
    for value in ("E\u202e-12", "E\u2067-14", "\u202bE-16\u202c"):
        assert cli("add", "--db", db, "units", f"callsign={value}", "agency=Fire", "kind=Engine").returncode == 0
    assert cli("add", "--db", db, "units", "callsign=\u0645 \u200f18", "agency=Fire", "kind=Engine").returncode == 0
    out = cli("list", "--db", db, "units")
    assert out.returncode == 0 and not {"\u202e", "\u2067", "\u202b", "\u202c"} & set(out.stdout)
    callsigns = [line.split("  ")[1].strip() for line in out.stdout.splitlines()[2:]]
    assert sorted(callsigns) == sorted(["E\\u202e-12", "E\\u2067-14", "\\u202bE-16\\u202c", "\u0645 \u200f18"])
    assert "Added unit E\\u202e-12 (Fire, " in cli("list", "--db", db, "journal").stdout  # (cut to its width)
    stored = json.loads(cli("list", "--db", db, "units", "--json").stdout)
    assert {u["callsign"] for u in stored} == {"E\u202e-12", "E\u2067-14", "\u202bE-16\u202c", "\u0645 \u200f18"}


def test_the_command_line_refuses_a_control_character_and_reads_a_cell_of_two_lines(tmp_path):
    db = str(tmp_path / "ops.db")
    out = cli("add", "--db", db, "units", "callsign=E-\x1b[31m12", "agency=County Fire", "kind=Engine")
    assert out.returncode == 1
    assert out.stderr == ("crisis-console: units.callsign holds the control character U+001B, which does not show: "
                          "type the value again without it\n")
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b'callsign,agency,kind\r\nE-12,County Fire,"Engine\r\nType 1"\r\n'
                       b'E-14,County Fire,Eng\x01ine\r\n')
    out = cli("add", "--db", db, "units", "--csv", str(roster))
    assert out.returncode == 1 and "line 4: units.kind holds the control character U+0001" in out.stderr
    assert json.loads(cli("list", "--db", db, "units", "--json").stdout) == []
    roster.write_bytes(b'callsign,agency,kind\r\nE-12,County Fire,"Engine\r\nType 1"\r\n')
    assert cli("add", "--db", db, "units", "--csv", str(roster)).returncode == 0
    assert [u["kind"] for u in json.loads(cli("list", "--db", db, "units", "--json").stdout)] == ["Engine Type 1"]
    out = cli("--operator", "Dana\x07", "note", "--db", db, "radio check")
    assert out.returncode == 1 and "the operator name holds the control character U+0007" in out.stderr


def terminal_output(*args) -> bytes:
    """What the command line writes to standard output when it is a
    terminal (a pseudo-terminal here)."""
    import os
    import pty

    try:
        master, slave = pty.openpty()
    except OSError as exc:  # (a container without /dev/ptmx)
        pytest.skip(f"no pseudo-terminal here: {exc}")
    proc = subprocess.Popen([sys.executable, "-m", "console", *args], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # (EIO: the other end closed)
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    with proc.stderr:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    return got


def test_on_a_terminal_the_command_line_writes_a_control_character_out(make_store):
    """A task titled with a terminal's escape by a console of an older
    release: the situation report on a terminal shows it written out (the
    screen is not cleared); to a file or a pipe, the title is exact."""
    a, b = make_store("a"), make_store("b")
    task = a.add("tasks", {"title": "Levee breach", "priority": "urgent"})
    sent = [c._replace(value={**c.value, "title": "Levee\x1b[2J\rbreach"}) if c.table == "tasks" and c.field == "*"
            else c for part in a.changes_since({}) for c in part]
    assert b.apply(sent).applied == len(sent) and b.get("tasks", task).title == "Levee\x1b[2J\rbreach"
    path = str(b.path)
    b.close()
    shown = terminal_output("report", "--db", path)  # (the report's table makes the carriage return a space)
    assert b"Levee\\x1b[2J breach" in shown and b"\x1b" not in shown
    assert "Levee\x1b[2J breach" in cli("report", "--db", path).stdout
    shown = terminal_output("list", "--db", path, "tasks", "--json")
    assert b'"title": "Levee\\u001b[2J\\rbreach"' in shown and b"\x1b" not in shown  # (JSON's own escapes)


def test_a_log_line_writes_control_characters_out_and_indents_its_further_lines():
    import logging

    formatter = model.LogFormatter("%(levelname)s %(name)s: %(message)s")

    def line(msg, *args, exc_info=None):
        return formatter.format(logging.LogRecord("console.sync", logging.WARNING, __file__, 1, msg, args,
                                                  exc_info))

    assert line("peer at %s refused: %s", "10.0.4.2:5000", "no") == \
        "WARNING console.sync: peer at 10.0.4.2:5000 refused: no"
    said = line("peer at %s refused: %s", "10.0.4.2:5000", "no\x1b[2J\rthanks\x07\nERROR console.store: forged")
    assert said == ("WARNING console.sync: peer at 10.0.4.2:5000 refused: no\\x1b[2J\\x0dthanks\\x07\n"
                    "    ERROR console.store: forged")
    for brk in BREAKS[3:]:  # (the other line breaks: a terminal moves down on some of them)
        assert line("a%sb", brk).splitlines() == ["WARNING console.sync: a", "    b"]
    assert line("tab\tkept") == "WARNING console.sync: tab\tkept"
    try:
        raise ValueError("bad\x1b[31m value")
    except ValueError:
        traced = line("failed", exc_info=sys.exc_info())
    assert traced.startswith("WARNING console.sync: failed\nTraceback (most recent call last):\n")
    assert traced.endswith("ValueError: bad\\x1b[31m value") and "\x1b" not in traced


def test_messages_on_standard_error_write_a_peers_control_characters_out(make_store):
    """Stock named by a console of an older release with a terminal's
    escape: drawing it below its low mark says so on standard error,
    the name written out, whether that is a terminal or a log file."""
    a, b = make_store("a"), make_store("b")
    item = a.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 500,
                               "low_at": 400})
    sent = [c._replace(value={**c.value, "name": "Sand\x1b]0;owned\x07bags"}) if c.field == "*" else c
            for part in a.changes_since({}) for c in part]
    assert b.apply(sent).applied == len(sent)
    path = str(b.path)
    b.close()
    out = cli("stock", "--db", path, item[:8], "-200")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "300\n"
    assert out.stderr == ("crisis-console: Sand\\x1b]0;owned\\x07bags is low: 300 each, at or below its low mark "
                          "of 400\n")
