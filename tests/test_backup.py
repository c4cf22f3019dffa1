"""Backups taken while consoles write, and restores, on real files and
processes."""

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import damage, snapshot

from console import backup, cli
from console.store import IF_DAMAGED, CorruptDatabase, NotFound, Store, StoreBusy, StoreError, StoreIOError
from console.sync.transport import Engine

ROOT = Path(__file__).resolve().parent.parent

# Notes as fast as a person or a sync could write them, and faster, with a
# breath between them: back to back, the writer's next transaction takes the
# write lock again within microseconds, and SQLite's busy handler, which
# sleeps and polls, can miss every gap for the 10 s another connection
# waits (opening a store writes its replica marker).
WRITER = """
import os, sys, time
from console.store import Store
with Store(sys.argv[1], operator="writer") as s:
    print(s.replica_id, flush=True)
    n = 0
    while not os.path.exists(sys.argv[2]):
        s.note(f"note {n}")
        n += 1
        time.sleep(0.0005)
    print(n, flush=True)
"""


def files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def notes(db: Path) -> list[str]:
    with Store(db) as s:
        return sorted(e.text for e in s.journal() if e.action == "note")


def backup_notes(path: Path) -> list[str]:
    """The notes in a backup file, read without opening it as a console
    (which would give it a replica id of its own)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in conn.execute("SELECT text FROM journal WHERE action = 'note'"))
    finally:
        conn.close()


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
        entries = s.counts()["journal"]  # (the fixture's)
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(stop)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        origin = writer.stdout.readline().strip()
        with Store(db) as s:  # wait until the writer is well under way
            while s.counts()["journal"] < entries + 200:
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
    assert not [f for f in files(tmp_path) if ".part" in f]
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


@pytest.mark.parametrize("how", ["a page overwritten", "a table's first page overwritten"])
def test_a_backup_of_a_damaged_database_is_refused_saying_which_file(tmp_path, db, how):
    """The damage is the database's, not the backup's: said so (whether
    SQLite's check lists what it found or stops at it), and the earlier
    backup stays, with nothing left beside it."""
    earlier = tmp_path / "b.db"
    earlier.write_bytes(b"the backup of yesterday")
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes())
    if how == "a page overwritten":
        with open(damaged, "r+b") as fh:  # a page of the units table, say
            fh.seek(8192 * 3)
            fh.write(os.urandom(8192))
    else:
        damage(damaged, "changes")
    before = files(tmp_path)
    with pytest.raises(CorruptDatabase) as exc:
        backup.backup(damaged, earlier)
    assert str(exc.value).startswith(f"{damaged}: the database is damaged (")
    assert str(exc.value).endswith(f"), so no backup was made (those made before are as they were). {IF_DAMAGED}")
    assert str(earlier) not in str(exc.value)
    assert earlier.read_bytes() == b"the backup of yesterday"
    assert files(tmp_path) == before


def test_a_copy_that_comes_out_damaged_is_not_kept_and_blames_the_disk(tmp_path, db, monkeypatch):
    """The database whole, its copy not (the disk written to failed):
    the copy is named, and not kept; the same for a restore."""
    checked = []

    def problems(conn):  # the copy is checked first, then (found damaged) the database it came from
        checked.append(conn)
        return "Page 7: btreeInitPage() returns error code 11" if len(checked) == 1 else None

    good = backup.backup(db, tmp_path / "good.db").path
    monkeypatch.setattr(backup, "problems", problems)
    before = files(tmp_path)
    with pytest.raises(CorruptDatabase) as exc:
        backup.backup(db, tmp_path / "b.db")
    assert str(exc.value) == (f"{tmp_path / 'b.db'}: the copy came out damaged (Page 7: btreeInitPage() returns "
                              f"error code 11), though {db} is whole; it was not kept: check the disk it was "
                              "written to")
    assert files(tmp_path) == before and len(checked) == 2
    checked.clear()
    with pytest.raises(CorruptDatabase) as exc:
        backup.restore(db, good)
    assert str(exc.value) == (f"the copy of {good} made beside {db} came out damaged (Page 7: btreeInitPage() "
                              f"returns error code 11), though the backup is whole: check that disk. Nothing "
                              f"was restored: {db} is as it was")
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
    stopped = tmp_path / "stopped.db"  # damage that stops SQLite's check
    stopped.write_bytes(good.read_bytes())
    damage(stopped, "changes")
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(20000))
    with Store(db) as s:
        s.note("after the backup")
        expected = snapshot(s)
    before = files(tmp_path)
    for bad, message in ((damaged, rf"^{re.escape(str(damaged))}: the backup is damaged \(.*\); restore another "
                                   rf"one\. Nothing was restored: {re.escape(str(db))} is as it was$"),
                         (stopped, rf"^{re.escape(str(stopped))}: the backup is damaged \(database disk image is "
                                   rf"malformed\); restore another one\. Nothing was restored: "
                                   rf"{re.escape(str(db))} is as it was$"),
                         (foreign, "not a crisis-console database"),
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


def test_prune_keeps_the_newest_backups_of_this_database_and_touches_nothing_else(tmp_path, db):
    folder = tmp_path / "backups"
    folder.mkdir()
    ours = [f"ops-2026112{d}-0{h}0000Z.db" for d in (4, 5) for h in (1, 2, 3)]
    others = ["eoc-20261120-010000Z.db", "ops.db", "ops-notes.txt", "ops-20261120-010000Z.db.txt",
              "xops-20261120-010000Z.db"]
    for name in ours + others:
        (folder / name).write_bytes(b"x")
    (folder / "ops-20261101-000000Z.db").mkdir()  # a folder so named is not a backup
    gone = backup.prune(folder, db, 4)
    assert [p.name for p in gone] == sorted(ours)[:2]
    assert files(folder) == {*sorted(ours)[2:], *others, "ops-20261101-000000Z.db"}
    assert backup.prune(folder, db, 4) == []


def test_periodic_backups_only_when_something_was_written_and_on_through_failures(tmp_path, db, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="console.backup")
    folder = tmp_path / "backups"
    folder.mkdir()
    # Names for the time, to the second: a backup per second at most here.
    every = 1.05

    def made():
        return sorted(p for p in files(folder) if p.endswith("Z.db"))

    async def main():
        task = asyncio.create_task(backup.keep_backing_up(db, folder, every, keep=2))
        try:
            await until_async(lambda: len(made()) == 1)
            await asyncio.sleep(every * 2.5)
            assert len(made()) == 1, "nothing was written: no new backup"
            for i in range(3):
                with Store(db) as s:
                    s.note(f"written {i}")
                await until_async(lambda i=i: len(made()) == min(2, i + 2) and backup_notes(folder / made()[-1])
                                  .count(f"written {i}") == 1)
            assert len(made()) == 2  # the oldest deleted
            folder.rename(tmp_path / "pulled-out")
            with Store(db) as s:
                s.note("while the stick is out")
            await until_async(lambda: "failed" in caplog.text)
            (tmp_path / "pulled-out").rename(folder)
            await until_async(lambda: "while the stick is out" in backup_notes(folder / made()[-1]))
        finally:
            task.cancel()

    asyncio.run(asyncio.wait_for(main(), 60))
    assert "backed up to" in caplog.text and "deleted the oldest" in caplog.text
    assert "does not exist; trying again in 1.05 s" in caplog.text
    assert files(folder) == set(made()), "nothing but backups, whole"


def test_periodic_backups_of_a_database_replaced_under_them_back_up_what_it_held(tmp_path, db, caplog):
    """The database's file replaced under a relay (moved away, another put
    in its place) after something was written and before its backup:
    the next backup is of what the relay had open, read through its own
    connection, not of the file now at the path, and deletes no older
    backup; the error says so."""
    import logging

    caplog.set_level(logging.INFO, logger="console.backup")
    folder = tmp_path / "backups"
    folder.mkdir()
    other = tmp_path / "other.db"
    with Store(other) as o:
        o.note("another operation")
    every = 1.05  # (names for the time, to the second)

    def made():
        return sorted(p for p in files(folder) if p.endswith("Z.db"))

    async def main():
        task = asyncio.create_task(backup.keep_backing_up(db, folder, every, keep=1))
        try:
            await until_async(lambda: len(made()) == 1)
            with Store(db) as s:
                s.note("written before it was replaced")
            db.rename(tmp_path / "moved-away.db")
            other.rename(db)
            # (The backup's file is there before its error is logged: cancelled between the two, nothing is said.)
            await until_async(lambda: len(made()) == 2 and "was deleted or replaced" in caplog.text)
        finally:
            task.cancel()

    asyncio.run(asyncio.wait_for(main(), 60))
    newest = folder / made()[-1]
    assert "written before it was replaced" in backup_notes(newest)
    assert "another operation" not in backup_notes(newest)
    assert len(made()) == 2  # keep=1, and none deleted
    assert f"{db} was deleted or replaced while this program had it open" in caplog.text


async def until_async(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (sqlite3.Error, IndexError):  # a backup renamed into place or deleted meanwhile
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_a_relay_backs_up_what_it_relays_and_stops_cleanly(consoles, tmp_path):
    import signal

    r, a = consoles("relay", "a")
    folder = tmp_path / "backups"
    folder.mkdir()
    relay = subprocess.Popen([sys.executable, "-m", "console", "relay", "--db", str(r.path), "--listen",
                              "127.0.0.1:0", "--backup-to", str(folder), "--backup-every", "0.02", "--keep", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = relay.stdout.readline()
        port = int(line.split("wss://127.0.0.1:")[1].split(" ")[0])
        with a.open() as sa:
            sa.note("from the field")
        done = subprocess.run([sys.executable, "-m", "console", "sync", "--db", str(a.path), "--peer",
                               f"wss://127.0.0.1:{port}", "--once"], capture_output=True, text=True, timeout=120,
                              cwd=ROOT)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            made = sorted(p for p in files(folder) if p.endswith("Z.db"))
            try:
                if made and "from the field" in backup_notes(folder / made[-1]):
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"no backup holds what the relay received: {made}")
    finally:
        relay.send_signal(signal.SIGTERM)
        out, err = relay.communicate(timeout=60)
    assert relay.returncode == 0 and out.endswith("stopped\n")
    assert "backed up to" in err and "Traceback" not in err
    assert 1 <= len(files(folder)) <= 3 and all(p.endswith("Z.db") for p in files(folder))


@pytest.mark.parametrize("argv, said", [
    (["backup", "{db}", "{tmp}/b.db", "--keep", "2"], "--keep needs a folder"),
    (["backup", "{db}", "{tmp}", "--keep", "0"], "not a whole number of at least 1"),
    (["relay", "{db}", "--listen", "127.0.0.1:0", "--keep", "3"], "go with --backup-to"),
    (["relay", "{db}", "--listen", "127.0.0.1:0", "--backup-every", "5"], "go with --backup-to"),
    (["relay", "{db}", "--listen", "127.0.0.1:0", "--backup-to", "{tmp}", "--backup-every", "0"],
     "not a number of minutes"),
    (["relay", "{db}", "--listen", "127.0.0.1:0", "--backup-to", "{tmp}", "--backup-every", "nan"],
     "not a number of minutes"),
    (["sync", "{db}", "--peer", "wss://127.0.0.1:1", "--once", "--backup-to", "{tmp}"], "not --once"),
])
def test_backup_options_that_do_not_fit_are_refused(tmp_path, db, capsys, argv, said):
    before = files(tmp_path)
    args = [a.format(db=db, tmp=tmp_path) for a in argv]
    args.insert(1, "--db")
    code = cli.main(args)
    _, err = capsys.readouterr()
    assert code == 2 and said in err and err.count("\n") == 1
    assert files(tmp_path) == before


def test_a_relay_told_to_back_up_into_a_missing_folder_says_so(tmp_path, db, capsys):
    code = cli.main(["relay", "--db", str(db), "--listen", "127.0.0.1:0", "--backup-to", str(tmp_path / "nope")])
    _, err = capsys.readouterr()
    assert code == 1 and "nope: no such folder to back up into" in err


def test_backup_keep_deletes_the_oldest(tmp_path, db, capsys):
    folder = tmp_path / "backups"
    folder.mkdir()
    for name in ("ops-20261120-010000Z.db", "ops-20261121-010000Z.db"):
        (folder / name).write_bytes(b"x")
    code = cli.main(["backup", "--db", str(db), str(folder), "--keep", "2"])
    out, _ = capsys.readouterr()
    assert code == 0 and out.splitlines()[1:] == [f"deleted the older backup {folder / 'ops-20261120-010000Z.db'}"]
    assert len(files(folder)) == 2
