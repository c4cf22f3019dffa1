"""Backups taken while consoles write, and restores, on real files and
processes."""

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import snapshot

from console import backup, cli
from console.store import CorruptDatabase, NotFound, Store, StoreBusy, StoreError, StoreIOError
from console.sync.transport import Engine

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import os, sys
from console.store import Store
with Store(sys.argv[1], operator="writer") as s:
    print(s.replica_id, flush=True)
    n = 0
    while not os.path.exists(sys.argv[2]):
        s.note(f"note {n}")
        n += 1
    print(n, flush=True)
"""


def files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def notes(db: Path) -> list[str]:
    with Store(db) as s:
        return sorted(e.text for e in s.journal() if e.action == "note")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "ops.db"
    with Store(path, agency="EOC") as s:
        s.add("units", {"callsign": "E-12", "agency": "County Fire", "kind": "Engine"})
        s.note("before the backup")
    return path


def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(tmp_path, db):
    with Store(db) as s:
        earlier = s.info().changes  # made by the fixture, with the same replica id as the writer's
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        origin = writer.stdout.readline().strip()
        with Store(db) as s:  # wait until the writer is well under way
            while s.counts()["journal"] < 200:
                time.sleep(0.01)
        b = backup.backup(db, tmp_path / "copy.db")
        time.sleep(0.2)  # the writer goes on meanwhile, not held up by the backup
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    n = int(out)
    copy = tmp_path / "copy.db"
    assert b.path == copy and b.bytes == copy.stat().st_size
    assert not (tmp_path / "copy.db-wal").exists(), "a backup is one self-contained file"
    assert not [f for f in files(tmp_path) if ".partial" in f]
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # One moment of the writer's work: its notes 0..k-1, none missing, and
    # the journal and the log agree on them.
    count, top = conn.execute("SELECT count(*), max(seq) FROM changes WHERE origin = ?", (origin,)).fetchone()
    written = count - earlier
    assert 200 <= written < n and count == top
    assert b.changes == conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    conn.close()
    texts = notes(copy)
    assert texts == sorted(["before the backup", *(f"note {i}" for i in range(written))])
    assert len(notes(db)) == n + 1  # the database itself has every note


def test_whatever_opens_a_backup_gives_it_a_new_replica_id(tmp_path, db):
    with Store(db) as s:
        rid = s.replica_id
    backup.backup(db, tmp_path / "b.db")
    # Even copied back over the database by hand, beside its own marker.
    os.replace(tmp_path / "b.db", db)
    with Store(db) as s:
        assert s.replica_id != rid and rid in s.info().previous_replica_ids


def test_a_backup_into_a_folder_is_named_for_its_time(tmp_path, db):
    folder = tmp_path / "stick"
    folder.mkdir()
    at = 1_795_000_000_000  # 2026-11-18 11:06:40 UTC
    b = backup.backup(db, folder, wall=lambda: at)
    assert b.path == folder / "ops-20261118-110640Z.db" and b.taken_ms == at
    with sqlite3.connect(b.path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'backed_up_at'").fetchone()[0] == str(at)


def test_a_failed_backup_leaves_the_earlier_file_and_no_litter(tmp_path, db):
    earlier = tmp_path / "b.db"
    earlier.write_bytes(b"the backup of yesterday")
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes())
    with open(damaged, "r+b") as fh:  # a page of the units table overwritten
        fh.seek(8192 * 3)
        fh.write(os.urandom(8192))
    before = files(tmp_path)
    with pytest.raises(CorruptDatabase, match="damaged"):
        backup.backup(damaged, earlier)
    assert earlier.read_bytes() == b"the backup of yesterday"
    assert files(tmp_path) == before


@pytest.mark.parametrize("case, error, message", [
    ("missing", NotFound, "no such database"),
    ("not ours", CorruptDatabase, "not a crisis-console database"),
    ("into itself", StoreError, "is the database itself"),
    ("no folder", StoreIOError, "does not exist"),
])
def test_backups_that_cannot_be_made_say_why_and_write_nothing(tmp_path, db, case, error, message):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    source, dest = {
        "missing": (tmp_path / "nope.db", tmp_path / "b.db"),
        "not ours": (other, tmp_path / "b.db"),
        "into itself": (db, db),
        "no folder": (db, tmp_path / "no" / "b.db"),
    }[case]
    before = files(tmp_path)
    content = db.read_bytes()
    with pytest.raises(error, match=message):
        backup.backup(source, dest)
    assert files(tmp_path) == before and db.read_bytes() == content


def test_restore_puts_the_backup_in_place_and_keeps_the_database_as_it_was(tmp_path, db):
    b = backup.backup(db, tmp_path / "b.db")
    with Store(db) as s:
        s.note("after the backup")
        rid = s.replica_id
        kept_snapshot = snapshot(s)
    r = backup.restore(db, b.path, wall=lambda: 1_795_000_000_000)
    assert r.kept_as == tmp_path / "ops.db.before-restore-20261118-110640Z"
    assert r.taken_ms == b.taken_ms and r.changes == b.changes and r.replica_id != rid
    assert "after the backup" not in notes(db)
    with Store(db) as s:
        assert s.replica_id == r.replica_id  # rotated once, by the restore, and kept since
        assert rid in s.info().previous_replica_ids
    # Nothing was lost: the database as it was opens as it was, same replica.
    with Store(r.kept_as) as s:
        assert s.replica_id == rid and snapshot(s) == kept_snapshot
    assert b.path.exists()  # the backup itself is left as it was
    # A second restore keeps the first restore's result under another name.
    r2 = backup.restore(db, b.path, wall=lambda: 1_795_000_000_000)
    assert r2.kept_as == tmp_path / "ops.db.before-restore-20261118-110640Z-2"


def test_restore_onto_a_new_machine_with_no_database_yet(tmp_path, db):
    b = backup.backup(db, tmp_path / "b.db")
    fresh = tmp_path / "laptop" / "console.db"
    fresh.parent.mkdir()
    r = backup.restore(fresh, b.path)
    assert r.kept_as is None and notes(fresh) == ["before the backup"]


def test_restore_is_refused_while_a_program_has_the_database_open(tmp_path, db):
    b = backup.backup(db, tmp_path / "b.db")
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from console.store import Store\n"
                               "s = Store(sys.argv[1]); print('open', flush=True); sys.stdin.read()", str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "open"
        before = files(tmp_path)
        with pytest.raises(StoreBusy, match="in use: stop the console"):
            backup.restore(db, b.path)
        assert files(tmp_path) == before
    finally:
        holder.communicate(timeout=30)
    assert notes(db) == ["before the backup"]


def test_a_damaged_or_foreign_backup_is_refused_before_the_database_is_touched(tmp_path, db):
    good = backup.backup(db, tmp_path / "b.db").path
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(good.read_bytes())
    with open(damaged, "r+b") as fh:
        fh.seek(8192 * 3)
        fh.write(os.urandom(8192))
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(20000))
    with Store(db) as s:
        s.note("after the backup")
        expected = snapshot(s)
    before = files(tmp_path)
    for bad, message in ((damaged, "damaged"), (foreign, "not a crisis-console database"),
                         (garbage, "damaged or not a database"), (tmp_path / "none.db", "no such backup")):
        with pytest.raises(StoreError, match=message):
            backup.restore(db, bad)
        assert files(tmp_path) == before, bad
    with Store(db) as s:
        assert snapshot(s) == expected


def test_a_damaged_database_is_moved_aside_with_its_wal(tmp_path, db):
    good = backup.backup(db, tmp_path / "b.db").path
    with Store(db) as s:
        s.note("after the backup")
    db.write_bytes(os.urandom(30000))  # the disk failed under it
    Path(f"{db}-wal").write_bytes(os.urandom(5000))
    r = backup.restore(db, good)
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    assert Path(f"{r.kept_as}-wal").exists()
    assert notes(db) == ["before the backup"]


def test_a_restored_console_gets_back_from_a_peer_what_the_backup_lacks_and_its_new_edits_go_out(
        consoles, tmp_path):
    a, b = consoles("a", "b")
    with a.open() as sa:
        sa.note("in the backup")
    copy = backup.backup(a.path, tmp_path / "a-backup.db").path

    async def exchange():
        async with Engine(b.path, listen=("127.0.0.1", 0)) as eb, Engine(a.path) as ea:
            await ea.sync_once(f"wss://127.0.0.1:{eb.port}")

    with a.open() as sa:
        sa.note("after the backup, synced to b")
    asyncio.run(exchange())
    backup.restore(a.path, copy)
    with a.open() as sa:
        assert "after the backup, synced to b" not in [e.text for e in sa.journal()]
        sa.note("after the restore")
    asyncio.run(exchange())
    expected = ["after the backup, synced to b", "after the restore", "in the backup"]
    assert notes(a.path) == notes(b.path) == expected
    with a.open() as sa, b.open() as sb:
        assert snapshot(sa) == snapshot(sb)


def test_the_backup_and_restore_commands(tmp_path, db, capsys):
    def run(*argv):
        code = cli.main([str(x) for x in argv])
        out, err = capsys.readouterr()
        return code, out, err

    with Store(db) as s:
        held = s.info().changes
    code, out, err = run("backup", "--db", db, tmp_path)
    made = [f for f in files(tmp_path) if f.startswith("ops-") and f.endswith("Z.db")]
    assert code == 0 and err == "" and len(made) == 1
    assert out.startswith(f"backed up {db} to {tmp_path / made[0]}: {held} changes, ")
    with Store(db) as s:
        s.note("after the backup")
    code, out, err = run("restore", "--db", db, tmp_path / made[0])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"restored {db} from {tmp_path / made[0]} (taken ") and f"{held} changes" in lines[0]
    assert lines[1].startswith(f"the database as it was is kept as {db}.before-restore-")
    assert "continues as replica" in lines[2] and "sync with a peer" in lines[2]
    assert notes(db) == ["before the backup"]
    # Errors: one line, exit 1, nothing changed.
    before = files(tmp_path)
    for argv, said in ((("backup", "--db", tmp_path / "none.db", tmp_path), "no such database"),
                       (("restore", "--db", db, tmp_path / "none.db"), "no such backup file")):
        code, out, err = run(*argv)
        assert code == 1 and out == "" and said in err and err.count("\n") == 1
    assert files(tmp_path) == before
    code, _, err = run("backup", "--db", db)
    assert code == 2 and "FILE_OR_FOLDER" in err
    info = json.loads(subprocess.run([sys.executable, "-m", "console", "info", "--db", str(db), "--json"],
                                     capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert info["changes"] == held
