"""Backups of a console's database, and restoring one.

A backup is one self-contained SQLite file (no -wal beside it), taken
through SQLite's online backup in a single read transaction: a consistent
copy of the operation at one moment, taken while consoles go on writing
(in WAL mode a reader blocks no writer). It is written beside its final
name and renamed into place once checked, so a failed backup leaves any
earlier file of that name as it was.

A restore puts a backup in place of a database whose consoles are stopped.
The database as it was is kept beside it, never deleted. The restored
database continues under a new replica id, like any copy (see
Store._check_replica_marker): its peers hold changes it made after the
backup was taken, under the old id and sequence numbers it would otherwise
reuse. Syncing with a peer then brings back whatever the backup lacks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from console import clock, files
from console.store import (
    APPLICATION_ID,
    IF_DAMAGED,
    SCHEMA_VERSION,
    CorruptDatabase,
    NotFound,
    Store,
    StoreBusy,
    StoreError,
    StoreIOError,
    file_id,
    new_id,
    owns_file,
    problems,
    translate_error,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    bytes: int
    seconds: float
    taken_ms: int  # wall clock, when the copy's moment was read
    changes: int  # changes held in the copy


@dataclass(frozen=True)
class RestoreSummary:
    path: Path
    source: Path
    kept_as: Path | None  # where the database as it was now is (None: there was none)
    taken_ms: int | None  # when the backup was taken, if it says
    changes: int
    replica_id: str  # the id the restored database continues under


def backup_name(db: Path, when_ms: int) -> str:
    """ops.db, taken at 14:05:09 UTC on 26 Nov 2026 -> ops-20261126-140509Z.db"""
    stamp = time.strftime("%Y%m%d-%H%M%SZ", time.gmtime(when_ms / 1000))
    return f"{db.stem}-{stamp}{db.suffix or '.db'}"


def backup(db: str | os.PathLike, dest: str | os.PathLike, *,
           wall: Callable[[], int] = clock.wall_ms) -> BackupSummary:
    """Copy the database at `db` to `dest` (a file, or a folder to put a
    file named for the time in). Safe while consoles use `db`."""
    db, dest = Path(db), Path(dest)
    _check_source(db)
    with _connect(db, path_for_errors=db) as src:
        return _backup_via(db, dest, lambda dst: _copy(src, dst, db), lambda: problems(src), wall)


def rescue(store: Store, dest: str | os.PathLike, *, wall: Callable[[], int] = clock.wall_ms) -> BackupSummary:
    """A backup of what `store` has open, read through its own connection
    (so on its thread): for a database whose file was deleted or replaced
    under it (Store.file_gone), which `backup` can no longer read by its
    path. `dest` as for `backup`."""
    return _backup_via(store.path, Path(dest), store.copy_into, store.problems, wall)


def _backup_via(db: Path, dest: Path, copy: Callable[[sqlite3.Connection], None],
                source_problems: Callable[[], str | None], wall: Callable[[], int] = clock.wall_ms) -> BackupSummary:
    """A backup of `db` to `dest` (a file, or a folder), filled by `copy`
    (see _write)."""
    started = time.perf_counter()
    taken = wall()
    dest = _destination(db, dest, taken)
    changes = _write(dest, taken, db, copy, source_problems)
    return BackupSummary(dest, dest.stat().st_size, time.perf_counter() - started, taken, changes)


def _destination(db: Path, dest: Path, taken: int) -> Path:
    """The file a backup of `db` taken at `taken` goes to, given `dest`."""
    if dest.is_dir():
        dest = dest / backup_name(db, taken)
    if not dest.parent.is_dir():
        raise StoreIOError(f"{dest}: the folder {dest.parent} does not exist")
    if owns_file(db, dest):
        raise StoreError(f"{dest} is the database itself, or a file that belongs to it; give another file or a "
                         "folder")
    return dest


def _write(dest: Path, taken: int, db: Path, copy: Callable[[sqlite3.Connection], None],
           source_problems: Callable[[], str | None]) -> int:
    """Write a backup to `dest` through a temporary file: `copy` fills it,
    it is checked whole and sealed (see _seal). Returns its changes."""
    with files.replacing(dest, durable=True) as tmp, _connect(tmp, path_for_errors=dest) as dst:
        copy(dst)
        # The copy is checked whole; a backup of a damaged database
        # would be kept in place of the good ones before it.
        if found := problems(dst):
            if damaged := source_problems():
                raise CorruptDatabase(f"{db}: the database is damaged ({damaged}), so no backup was made "
                                      f"(those made before are as they were). {IF_DAMAGED}")
            raise CorruptDatabase(f"{dest}: the copy came out damaged ({found}), though {db} is whole; "
                                  "it was not kept: check the disk it was written to")
        return _seal(dst, taken)


def into_folder(db: str | os.PathLike, folder: str | os.PathLike, keep: int) -> tuple[BackupSummary, list[Path]]:
    """One turn of regular backups (a relay's, a window's): a backup named
    for the time into `folder`, then all but the newest `keep` there
    deleted. Returns the backup and those deleted. The file is named here,
    so a folder gone (a drive unmounted) is said as such, and never taken
    for the name of a file to write."""
    b = backup(db, Path(folder) / backup_name(Path(db), clock.wall_ms()))
    return b, prune(folder, db, keep)


def prune(folder: str | os.PathLike, db: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of `db` in `folder`: the
    files named for their time by `backup` into a folder, and no other.
    Returns those deleted, oldest first."""
    ours = _named_for_time(folder, db)
    gone = ours[:max(0, len(ours) - keep)]
    for p in gone:
        p.unlink()
    return gone


def newest(folder: str | os.PathLike, db: str | os.PathLike) -> Path | None:
    """The newest backup of `db` that `backup` named for its time in `folder`."""
    ours = _named_for_time(folder, db)
    return ours[-1] if ours else None


def _named_for_time(folder: str | os.PathLike, db: str | os.PathLike) -> list[Path]:
    """The backups of `db` in `folder` named for their time, oldest first
    (their names sort by time)."""
    db = Path(db)
    named = re.compile(re.escape(db.stem) + r"-\d{8}-\d{6}Z" + re.escape(db.suffix or ".db"))
    return sorted(p for p in Path(folder).iterdir() if named.fullmatch(p.name) and p.is_file())


async def keep_backing_up(db: str | os.PathLike, folder: str | os.PathLike, every_s: float, keep: int) -> None:
    """Back `db` up into `folder` now and every `every_s` seconds, keeping
    the newest `keep`; for a relay or a headless sync that runs for days.
    Each backup runs on a thread, so the event loop (and sync) goes on; a
    failure (the stick pulled out, the disk full) is logged and tried
    again at the next turn. A turn when nothing was written to the
    database since the last backup makes none, so that a quiet night does
    not push out the backups of the busy day. Runs until cancelled."""
    # Its data version changes whenever another connection commits. It
    # also holds the database's file open: deleted or replaced under the
    # program (see Store.file_gone), what it held is backed up through it.
    watch = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        await _keep_backing_up(db, folder, every_s, keep, watch)
    finally:
        watch.close()


async def _keep_backing_up(db, folder, every_s: float, keep: int, watch: sqlite3.Connection) -> None:
    import asyncio  # here: the command line imports this module, and most commands need no event loop

    def data_version() -> int:
        return watch.execute("PRAGMA data_version").fetchone()[0]

    last = None
    opened = None  # the file `watch` has open, once read
    while True:
        try:
            now = await asyncio.to_thread(data_version)
            if opened is None:
                opened = file_id(db)
            if now == last:
                log.debug("nothing new to back up since the last backup")
                await asyncio.sleep(every_s)
                continue
            if file_id(db) != opened:
                # By its path it would be whatever is there now (pushing the
                # good backups out): through the connection that has it open.
                b = await asyncio.to_thread(_rescue_through, watch, Path(db), Path(folder))
                last = now
                log.error("%s was deleted or replaced while this program had it open, and nothing more is written "
                          "to it: what it held is backed up to %s (%s changes), through the file still open here; "
                          "no older backup was deleted", db, b.path, f"{b.changes:,}")
                await asyncio.sleep(every_s)
                continue
            b, gone = await asyncio.to_thread(into_folder, db, folder, keep)
            last = now
            log.info("backed up to %s: %s changes, %.1f MiB in %.1f s%s", b.path, f"{b.changes:,}",
                     b.bytes / 2**20, b.seconds, f"; deleted the oldest, {gone[-1].name}" if len(gone) == 1
                     else f"; deleted the {len(gone)} oldest" if gone else "")
        except sqlite3.Error as exc:  # reading the data version
            log.warning("backup of %s failed: %s; trying again in %s", db, exc, _minutes(every_s))
        except (StoreError, OSError) as exc:
            said = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else exc
            log.warning("backup into %s failed: %s; trying again in %s", folder, said, _minutes(every_s))
        except Exception:  # a bug: said in full, and the backups go on
            log.exception("backup into %s failed; trying again in %s", folder, _minutes(every_s))
        await asyncio.sleep(every_s)


def _rescue_through(conn: sqlite3.Connection, db: Path, folder: Path) -> BackupSummary:
    """A backup of the database `conn` has open, named for `db` in
    `folder` (see rescue)."""
    return _backup_via(db, folder, lambda dst: _copy(conn, dst, db), lambda: problems(conn))


def _minutes(seconds: float) -> str:
    m = seconds / 60
    return f"{m:g} minute{'s' if m != 1 else ''}" if m >= 1 else f"{seconds:g} s"


def restore(db: str | os.PathLike, source: str | os.PathLike, *,
            wall: Callable[[], int] = clock.wall_ms) -> RestoreSummary:
    """Put the backup `source` in place of the database at `db`, whose
    consoles must be stopped. The database as it was is renamed to
    `<db>.before-restore-<time>`; nothing is deleted."""
    db, source = Path(db), Path(source)
    if not source.is_file():
        raise NotFound(f"{source}: no such backup file")
    if db.is_dir():
        raise StoreIOError(f"{db} is a folder, not a database file")
    if not db.parent.is_dir():
        raise StoreIOError(f"{db}: the folder {db.parent} does not exist")
    if db.exists() and db.resolve() == source.resolve():
        raise StoreError(f"{source} is the database itself; give a backup of it")
    kept = None
    with files.replacing(db, durable=True) as tmp:
        # The backup, copied and checked beside the database before the
        # database is touched: a bad backup changes nothing.
        with _connect(source, path_for_errors=source, read_only=True) as src:
            _check_ours(src, source)
            with _connect(tmp, path_for_errors=db) as dst:
                _copy(src, dst, source)
                if found := problems(dst):
                    said = (f"{source}: the backup is damaged ({damaged}); restore another one"
                            if (damaged := problems(src)) else
                            f"the copy of {source} made beside {db} came out damaged ({found}), though the "
                            "backup is whole: check that disk")
                    raise CorruptDatabase(f"{said}. Nothing was restored: {db} is as it was")
                taken = _meta(dst, "backed_up_at")
                dst.execute("PRAGMA journal_mode = DELETE")
        if db.exists():
            kept = _set_aside(db, wall())
        # The marker of the database as it was goes with it, so that
        # opening the restored file gives it a new replica id (see
        # Store._check_replica_marker), whatever the backup's own marks.
        marker = Path(f"{db}.replica")
        if marker.exists():
            if kept:
                os.replace(marker, Path(f"{kept}.replica"))
            else:
                marker.unlink()
        if Path(f"{db}-wal").exists():  # SQLite would read it into the restored file
            raise StoreError(f"{db}-wal is still there (the database as it was is {kept}): "
                             "move it away, then restore again")
    with Store(db) as store:  # takes its new replica id now, said in the summary
        info = store.info()
    return RestoreSummary(db, source, kept, int(taken) if taken and taken.isdigit() else None,
                          info.changes, info.replica_id)


# --------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _connect(path: Path, *, path_for_errors: Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    try:
        if read_only:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        raise translate_error(exc, path_for_errors) from exc
    try:
        yield conn
    except sqlite3.Error as exc:
        raise translate_error(exc, path_for_errors) from exc
    finally:
        conn.close()


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, src_path: Path) -> None:
    """All of `src` into `dst` in one step: one read transaction, so one
    moment of it, whatever other connections write meanwhile."""
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        raise translate_error(exc, src_path) from exc


def _check_source(db: Path) -> None:
    if not db.exists():
        raise NotFound(f"{db}: no such database")
    if db.is_dir():
        raise StoreIOError(f"{db} is a folder, not a database file")
    with _connect(db, path_for_errors=db) as conn:  # read only, but may tidy the -wal away as it closes
        _check_ours(conn, db)


def _check_ours(conn: sqlite3.Connection, path: Path) -> None:
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise CorruptDatabase(f"{path} is not a crisis-console database")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer crisis-console (schema {version}); "
                         f"this one understands up to {SCHEMA_VERSION}")


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _seal(dst: sqlite3.Connection, taken: int) -> int:
    """Make the fresh copy (checked) a backup: one file, and marked so that
    whatever opens it (restored or copied back by hand) takes a new replica
    id: its nonce matches no marker."""
    dst.execute("BEGIN IMMEDIATE")
    for key, value in (("nonce", f"backup-{new_id()}"), ("backed_up_at", str(taken))):
        dst.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
    dst.execute("COMMIT")
    dst.execute("PRAGMA journal_mode = DELETE")
    return dst.execute("SELECT count(*) FROM changes").fetchone()[0]


def _set_aside(db: Path, now_ms: int) -> Path:
    """Rename the database (and any -wal and -shm) to a name for the time;
    refused while a program has it open."""
    if _looks_whole(db):
        try:
            conn = sqlite3.connect(db, isolation_level=None, timeout=0.5)
            try:
                # Leaving WAL mode needs every other connection closed; it
                # also folds the -wal into the file, which then moves alone.
                conn.execute("PRAGMA journal_mode = DELETE").fetchone()
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                raise StoreBusy(f"{db} is in use: stop the console, relay or sync using it, "
                                "then restore") from None
        except sqlite3.DatabaseError:
            pass  # damaged inside: it moves as it is
    # Otherwise damaged past opening (the reason for the restore, most
    # likely): not opened, so that SQLite cannot drop a -wal it does not
    # understand; the files move as they are.
    stamp = time.strftime("%Y%m%d-%H%M%SZ", time.gmtime(now_ms / 1000))
    kept = db.with_name(f"{db.name}.before-restore-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = db.with_name(f"{db.name}.before-restore-{stamp}-{n}")
    os.replace(db, kept)
    for suffix in ("-wal", "-shm"):  # left by a damaged database: they go with it
        side = Path(str(db) + suffix)
        if side.exists():
            os.replace(side, Path(str(kept) + suffix))
    return kept


def _looks_whole(db: Path) -> bool:
    """The file starts as an SQLite database of ours does."""
    try:
        with open(db, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    return head[:16] == b"SQLite format 3\x00" and int.from_bytes(head[68:72], "big") == APPLICATION_ID
