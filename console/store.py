"""The local operation store: SQLite through sqlite-utils.

Entity tables (units, tasks, resources) hold the current values, so
`sqlite-utils` and Datasette read the database as it is. The journal, whose
entries never change, is a view over their inserts in the change log. Beside
them:

  changes     the change log: every change ever made here or received, never
              rewritten; the audit trail and what sync sends
  journal_about  which journal entries are about which row (by a hash of the
              row id), for a row's history
  replicas    the version vector: per origin, the highest sequence held with
              no gaps below it, and the highest held at all
  heads       per field, the versions nothing has replaced (see merge.py); their
              values are read from the change log
  superseded  versions named as replaced before they arrived here
  conflicts   open conflicts, recomputed whenever a row's heads change
  meta        replica id, clock, agency, schema facts

Every write, local or remote, is one transaction through `_merge`, so a local
edit and the same edit arriving from a peer update the tables identically.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import getpass
import heapq
import inspect
import json
import logging
import os
import random
import re
import sqlite3
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from console import apart, clock, codec, merge, model, times
from console.merge import ROW_FIELD, Change, Head
from console.model import ValidationError, counter_units

log = logging.getLogger(__name__)

SCHEMA_VERSION = 7
# The merge rules' edition as to which collisions are open conflicts (see
# merge.row_conflicts). The conflicts kept in a database are found again
# when it is opened by code of another edition: 2, a deleted row's fields
# have none, but for those of FIELDS_OF_THE_DELETED, and a stock item's
# merged_into is no edit against its delete (merge.row_conflicts).
CONFLICT_RULES = "2"
APPLICATION_ID = 0x43524953  # "CRIS": marks the file as ours
CHUNK = 500  # ids per IN (...) query; well under SQLite's variable limit
DEFAULT_BATCH = 1000
PAGE_SIZE = 8192  # for new databases; see Store._open
PURPOSE_LIMIT = 500  # characters saying what stock drawn or added is for
# Units merged into one at once (see Store.merge_units): the status written
# names each one's version, and a change names at most codec.MAX_PREV.
MERGE_LIMIT = 100
# A journal entry's place in the journal: (clock time, id). The journal is
# kept newest first: by clock time, latest first, then by id.
JournalKey = tuple[int, str]


class StoreError(Exception):
    """Something a person must be told about; the message says what and why."""

    path: Path | None = None  # the database that failed, when SQLite's own error said so (translate_error)


class NotFound(StoreError):
    pass


class StoreBusy(StoreError):
    pass


class StoreIOError(StoreError):
    pass


class CorruptDatabase(StoreError):
    pass


# Row ids need to be unique, not secret: a generator seeded from the system's
# randomness (again in a forked child) is quicker than a system call per id.
_RANDOM = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RANDOM.seed)


def new_id() -> str:
    """A new row id: 32 hex digits, the first 12 the creation time in
    milliseconds (as in UUIDv7), the rest random. Time-ordered ids put new
    rows at the end of each index, so bulk inserts and catch-ups write far
    fewer pages than random ids would."""
    return f"{clock.wall_ms() & 0xFFFFFFFFFFFF:012x}{_RANDOM.getrandbits(80):020x}"


def short_id(row_id: str) -> str:
    """The part of a row id people read and type: its random tail (the head
    is a timestamp shared by rows made in the same millisecond)."""
    return row_id[-8:]


def default_db_path() -> Path:
    env = os.environ.get("CRISIS_CONSOLE_DB")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("crisis-console", appauthor=False)) / "console.db"


@dataclass(frozen=True)
class Candidate:
    """One side of a conflict, as a person needs to see it."""

    field: str
    value: Any
    origin: str
    seq: int
    hlc: int
    kind: str
    operator: str
    agency: str

    @property
    def at(self) -> str:
        return clock.to_iso(self.hlc)


@dataclass(frozen=True)
class ConflictView:
    id: str
    table: str
    row: str
    row_label: str
    field: str
    kind: str  # "field" | "delete"
    candidates: tuple[Candidate, ...]
    detected_at: str

    @property
    def shown(self) -> int:
        """The candidate (1-based) the boards show until someone decides: the
        delete, for an edit against a delete; else the latest (time, origin),
        as the merge picks it."""
        if self.kind == "delete":
            return next(i for i, c in enumerate(self.candidates, 1) if c.field == "deleted")
        return 1 + max(range(len(self.candidates)), key=lambda i: (self.candidates[i].hlc, self.candidates[i].origin))


def collisions(conflicts: Iterable[ConflictView]) -> list[list[ConflictView]]:
    """Open conflicts as a person reconciles them: those of one row between
    the same consoles, each console one candidate of each (a unit put on two
    tasks at once collides on its status and its task), together, in the
    order of the row's fields; every other conflict on its own. In the order
    of each group's first conflict."""
    groups: dict[object, list[ConflictView]] = {}
    for c in conflicts:
        origins = [o.origin for o in c.candidates]
        key: object = c.id
        if c.kind == "field" and len(set(origins)) == len(origins):
            key = (c.table, c.row, tuple(sorted(origins)))
        groups.setdefault(key, []).append(c)
    for cs in groups.values():
        if len(cs) > 1:
            cs.sort(key=lambda c: model.table(c.table).names.index(c.field))
    return list(groups.values())


def collision_sides(cs: Sequence[ConflictView]) -> list[dict[str, int]]:
    """A collision's (see collisions) options, one per console, in the
    order of its first conflict's candidates: conflict id -> that console's
    candidate (1-based) in it."""
    return [{c.id: next(i for i, o in enumerate(c.candidates, 1) if o.origin == first.origin) for c in cs}
            for first in cs[0].candidates]


def side_shown(cs: Sequence[ConflictView], keep: Mapping[str, int]) -> str:
    """What the boards show now of a collision's side (one of
    collision_sides): "shown now" (all of it), "task shown now" (a part),
    or "" (none of it)."""
    shown = [model.field_label(c.field) for c in cs if keep[c.id] == c.shown]
    return "shown now" if len(shown) == len(cs) else f"{' and '.join(shown)} shown now" if shown else ""


@dataclass(frozen=True)
class Twin:
    """One of several live units with the same callsign (see Store.twins):
    the unit, and who added it, when."""

    unit: Any  # model.Unit
    added_at: str
    operator: str
    agency: str


@dataclass(frozen=True)
class Twins:
    """A callsign on several live units: added on consoles that were apart
    (each console refuses a callsign already in use, but cannot see what
    another adds meanwhile). First added first: the one a merge keeps."""

    callsign: str
    units: tuple[Twin, ...]


@dataclass(frozen=True)
class Stranded:
    """A live unit on a deleted task (see Store.stranded): put on it at a
    console that had not seen the task deleted, or merged into another.
    `into` is the live task it was merged into, if it was."""

    unit: Any  # model.Unit
    task_id: str
    title: str
    merged: bool
    deleted_by: str  # "EOC (Capt. Ortiz)"
    deleted_at: str
    into: str | None = None
    into_title: str | None = None


def stranded_how(x: Stranded, when: str | None = None) -> str:
    """How a stranded unit's task went, as a person reads it: "merged into
    Evacuate Elm St by EOC (Capt. Ortiz) at 2026-11-26T14:05:09Z" (or at
    `when`, the time as the reader's clock says it)."""
    by = f"by {x.deleted_by} at {when or x.deleted_at}"
    return (f"merged into {x.into_title} {by}" if x.into else f"merged {by} into a task deleted since"
            if x.merged else f"deleted {by}")


def to_reconcile(conflicts: int, twins: int, stranded: int = 0) -> str:
    """What there is to reconcile, in words, as the window and the command
    line say it: "2 conflicts, 1 unit twice and 1 unit on a deleted task"
    (twins: callsigns on several units; stranded: units on deleted tasks);
    "" for nothing."""
    said = ([f"{conflicts:,} conflict{'s' if conflicts != 1 else ''}"] if conflicts else []) + (
        [f"{twins:,} unit{'s' if twins != 1 else ''} twice"] if twins else []) + (
        [f"{stranded:,} unit{'s' if stranded != 1 else ''} on a deleted task"] if stranded else [])
    return " and ".join(said) if len(said) < 3 else f"{said[0]}, {said[1]} and {said[2]}"


class ChangeSet:
    """What one committed transaction touched: listeners redraw from this.

    `rows` and `tables` are worked out from `changes` when first asked for
    (a listener in a sync engine never asks), unless given."""

    def __init__(self, *, local: bool, conflicts: bool, changes: tuple[Change, ...] = (),
                 rows: frozenset[tuple[str, str]] | None = None, tables: frozenset[str] | None = None) -> None:
        self.local = local
        self.conflicts = conflicts
        self.changes = changes
        if rows is not None:
            self.__dict__["rows"] = rows
        if tables is not None:
            self.__dict__["tables"] = tables

    @functools.cached_property
    def rows(self) -> frozenset[tuple[str, str]]:
        return frozenset({(c[3], c[4]) for c in self.changes})  # (table, row)

    @functools.cached_property
    def tables(self) -> frozenset[str]:
        return frozenset({t for t, _ in self.rows})

    def __repr__(self) -> str:
        return f"ChangeSet(local={self.local}, conflicts={self.conflicts}, {len(self.changes)} changes)"


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # origin, from seq, reason


@dataclass(frozen=True)
class Operation:
    """One local write, for undo: this replica's changes `first` to `last`
    (one transaction), and what its journal entries said of it."""

    origin: str
    first: int
    last: int
    text: str
    undoable: bool  # it changed rows, not only the journal (a note cannot be taken back)


@dataclass(frozen=True)
class Undone:
    """What `Store.undo` did: the operation it wrote (itself undoable: that
    is redo), what it said in the journal, and the parts it left as they
    are, each with the reason (changed since on another console, say)."""

    operation: Operation
    text: str
    left: tuple[str, ...]


@dataclass(frozen=True)
class Info:
    path: str
    replica_id: str
    agency: str
    operator: str
    schema_version: int
    version_vector: dict[str, int]
    counts: dict[str, int]
    open_conflicts: int
    changes: int
    previous_replica_ids: tuple[str, ...]
    at_console: tuple[str, str] | None = None  # (name, since): see Store.at_console
    twins: int = 0  # callsigns on several units (see Store.twins)
    stranded: int = 0  # units on deleted tasks (see Store.stranded)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "replica_id": self.replica_id,
            "agency": self.agency,
            "operator": self.operator,
            "schema_version": self.schema_version,
            "version_vector": self.version_vector,
            "counts": self.counts,
            "open_conflicts": self.open_conflicts,
            "changes": self.changes,
            "previous_replica_ids": list(self.previous_replica_ids),
            "at_console": {"operator": self.at_console[0], "since": self.at_console[1]} if self.at_console else None,
            "twins": self.twins,
            "stranded": self.stranded,
        }


# What to do about a database found damaged, said with it.
IF_DAMAGED = ("If it held this console's operation, restore a backup of it (crisis-console restore), or start a "
              "new database and sync it from a peer: every peer holds the whole operation")


def translate_error(exc: sqlite3.Error, path: Path) -> StoreError:
    said = _translated(exc, path)
    said.path = Path(path)
    return said


def _translated(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return StoreBusy(f"{path}: the database is busy (another program holds it); try again")
    if "full" in low:
        return StoreIOError(f"{path}: the disk is full (make room on it); nothing was written")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        # Found on opening, or later, in pages not read till then (a
        # disk's fault, a copy cut short): what to do is the same.
        return CorruptDatabase(f"{path}: the file is damaged or not a database ({text}). {IF_DAMAGED}")
    if "readonly" in low or "read-only" in low:
        return StoreIOError(f"{path}: the database is read-only; nothing was written")
    if "disk i/o" in low or "unable to open" in low:
        return StoreIOError(f"{path}: cannot read or write the database ({text})")
    raise exc  # anything else is a bug, not something to tell a user


def file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """The file at `path` as the system knows it, (device, inode), to tell
    it from another put in its place; None if there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def problems(conn: sqlite3.Connection) -> str | None:
    """What SQLite finds wrong with the database `conn` has open (a quick
    check of every page), or None if nothing. Other errors (the disk)
    are raised."""
    try:
        found = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:  # damage that stops the check itself
        if not isinstance(_translated(exc, Path()), CorruptDatabase):
            raise
        found = [str(exc)]
    return None if found == ["ok"] else "; ".join(found)


def _guard(method):
    """Turn sqlite3 errors a user must hear about into StoreErrors (for a
    generator, those raised while it is read, too)."""

    if inspect.isgeneratorfunction(method):
        def wrapper(self, *args, **kwargs):
            try:
                return (yield from method(self, *args, **kwargs))
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
    else:
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__wrapped__ = method
    return wrapper


def _chunks(seq: list, n: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _name_key(name: str | None) -> str:
    return model.name_key(name or "")


# The names entered_apart compares (a task's title; a stock item's name,
# agency and unit of measure), and of which rows: (columns, live rows).
_NAMED = {"tasks": (("title",), "status IN ('open', 'assigned', 'in_progress') AND deleted = 0 "
                                "AND created_hlc IS NOT NULL"),
          "resources": (("name", "agency", "unit"), "deleted = 0 AND created_hlc IS NOT NULL")}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch merges (remote or local),
    or while sync parses and validates one (console/sync/transport.py): its
    rows are hundreds of thousands of short-lived tuples, lists and dicts,
    none of them in a cycle, and collections triggered by their allocation
    cost 5% of the merge, and about 5% of a catch-up besides. (Reference
    counting frees them as usual; a collection that falls due meanwhile
    runs at the next allocation after.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _sql_value(fld: model.Field, value: Any) -> Any:
    if fld.type == "bool":
        return None if value is None else int(bool(value))
    return value


def owns_file(db: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether `path` is the database `db` or a file that belongs to it (its
    -wal, its replica marker, its key and certificate): never a place to
    write an export or a backup to, which would destroy it."""
    try:
        target = Path(path).resolve()
        own = [Path(f"{db}{s}").resolve() for s in ("", "-wal", "-shm", "-journal", ".replica", ".key", ".crt")]
    except (OSError, RuntimeError):
        return False
    return target in own


class Store:
    """One console's database. Use from one thread; close when done."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        operator: str | None = None,
        agency: str | None = None,
        max_skew_ms: int = clock.DEFAULT_MAX_SKEW_MS,
        wall: Callable[[], int] = clock.wall_ms,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        """`read_only`: a connection that only reads (a window's report read
        beside it, say): it writes nothing at all, not even on opening (the
        replica marker is left to the console's own connection; `agency`
        names it without being kept), and any write through it fails; the
        database must exist, at this release's schema."""
        self.path = Path(path)
        self.read_only = read_only
        # Checked here: a name peers refuse would have every change made
        # under it refused by every peer.
        operator = model.check_name("operator", operator) if operator is not None else None
        agency = model.check_name("agency", agency) if agency is not None else None
        self._listeners: list[Callable[[ChangeSet], None]] = []
        if not self.path.exists():
            if not create or read_only:
                raise NotFound(f"{self.path}: no such database")
            if not self.path.parent.is_dir():
                raise StoreIOError(f"{self.path}: the folder {self.path.parent} does not exist")
        elif self.path.is_dir():
            raise StoreIOError(f"{self.path} is a folder, not a database file")
        try:
            if read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
            else:
                self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        # Names as people read them (see entered_apart): SQLite's lower()
        # knows only ASCII letters, so "STRASSE" and "straße" would be two.
        self._conn.create_function("name_key", 1, _name_key, deterministic=True)
        # A search of the journal, casefolded as Python does ("STRASSE"
        # finds "Straße"): looked at in SQL, only the entries found are
        # made into entries, four times as fast (see journal_page).
        self._conn.create_function("journal_holds", 4, model.journal_holds, deterministic=True)
        self._file_id: tuple[int, int] | None = None  # (set once open: see file_gone)
        try:
            self._open(operator, agency, max_skew_ms, wall)
        except BaseException:
            self._conn.close()
            raise
        # The file this store has open, to notice it deleted or replaced
        # under it (see file_gone).
        self._file_id = self._file_identity()

    @_guard
    def _open(self, operator, agency, max_skew_ms, wall) -> None:
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 10000")
        existing = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if existing and app_id != APPLICATION_ID:
            raise CorruptDatabase(f"{self.path} is an SQLite database, but not a crisis-console one")
        if not existing:
            # Bigger pages than SQLite's 4 KiB: a merged batch dirties pages
            # all over the file, and the cost per written page outweighs
            # its bytes, so 8 KiB pages apply a catch-up 5 to 10% faster.
            # 16 KiB pages would add 10% more, but a live edit's fsynced
            # commits write their bytes too (about 5 pages each): live p99
            # went from 3.7 to 4.4 ms, against a 5 ms target. Fixed once
            # the file has tables.
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise StoreIOError(f"{self.path}: cannot switch the database to WAL mode")
        # FULL: a transaction reported committed survives a power cut, not only a crash.
        conn.execute("PRAGMA synchronous = FULL")
        # Heads and rows are keyed by random ids, so a catch-up touches pages
        # all over the file: a 64 MiB page cache (the default is 2 MiB) keeps
        # them in memory. It is an upper bound, taken only as pages are read.
        conn.execute("PRAGMA cache_size = -65536")
        if self.read_only:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise StoreError(f"{self.path} is at schema {version}, not {SCHEMA_VERSION}: open it for "
                                 "writing once (the console, or any command) before reading it so")
        else:
            self._migrate()
        # Scratch tables for merging a batch (see _merge): in memory, private
        # to this connection, emptied after every batch.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("CREATE TEMP TABLE b_edits (tbl, row_id, field, origin, seq, hlc, kind, p_origin, p_seq, live)")
        self.clock = clock.HybridClock(int(self._meta("hlc") or 0), wall=wall, max_skew_ms=max_skew_ms)
        if self.read_only:
            self.replica_id = self._meta("replica_id")
        else:
            self._check_replica_marker()
        if agency and not self.read_only:
            with self._tx():
                self._set_meta("agency", agency)
        self.agency = agency or self._meta("agency") or "EOC"
        self.operator = operator or self._default_operator()
        # The last write made through this Store, for undo (see Store.undo).
        self.last_operation: Operation | None = None
        # Agency names as spelled in use, by model.name_key (see _spell_agency),
        # and what each name given was written as.
        self._agency_spellings: dict[str, str] | None = None
        self._agency_spelled: dict[str, str] = {}

    @staticmethod
    def _default_operator() -> str:
        named = os.environ.get("CRISIS_OPERATOR", "")
        if named.strip():
            try:
                return model.check_name("operator", named)
            except ValidationError as exc:
                raise ValidationError(f"$CRISIS_OPERATOR: {exc}") from None
        return _login()

    # ----------------------------------------------------------------- schema

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer crisis-console (schema {version}); "
                f"this one understands up to {SCHEMA_VERSION}"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                MIGRATIONS[target](self)
                self._conn.execute(f"PRAGMA user_version = {target}")
        if self._meta("conflict_rules") != CONFLICT_RULES:
            # Found by other rules (a release before, or after): the rows
            # with conflicts kept are looked at again (no schema change:
            # the heads the rules read are the same, so a release of either
            # edition opens the file).
            with self._tx():
                self._refresh_conflicts(set(self._conn.execute("SELECT DISTINCT tbl, row_id FROM conflicts")))
                self._set_meta("conflict_rules", CONFLICT_RULES)

    # ---------------------------------------------------------------- helpers

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Reads made inside see one moment of the database, whatever other
        connections commit meanwhile (one read transaction)."""
        if self._conn.in_transaction:
            yield
            return
        try:
            self._conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                # What failed inside is what the caller hears of (a damaged
                # page, say), not the end of a read that failed with it.
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise
        if self._conn.in_transaction:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            return file_id(self.path)
        except OSError:  # not to be told now (a permission on the folder, say): taken as the same file
            return self._file_id

    def file_gone(self) -> bool:
        """Whether the file at this store's path is no longer the database
        it has open: deleted, or another file put in its place (moved away
        and copied back, a folder synchronised by another program). SQLite
        would go on writing into the file it has open, and what was written
        would be lost with it once closed."""
        return self._file_id is not None and self._file_identity() != self._file_id

    def check_file(self) -> None:
        """StoreIOError if the database's file is gone from under this store
        (see file_gone)."""
        if not self.file_gone():
            return
        if self._file_identity() is None:
            said = (f"{self.path}: the database file was deleted (or moved away) while this program had it open, so "
                    "nothing more is written to it. If it was deleted, what it held is still open here, and only "
                    "here: in the window, back it up now (Board ▸ Back up the database); it is lost when the "
                    "program closes")
        else:
            said = (f"{self.path}: another file was put in place of the database while this program had it open, "
                    "so nothing more is written to either. What it held is still open here: in the window, back "
                    "it up now (Board ▸ Back up the database)")
        exc = StoreIOError(said)
        exc.path = self.path
        raise exc

    @_guard
    def problems(self) -> str | None:
        """What SQLite finds wrong with this database (see `problems`)."""
        return problems(self._conn)

    @_guard
    def copy_into(self, conn: sqlite3.Connection) -> None:
        """The whole database, as this store has it open, into `conn` (a
        backup's, see backup.rescue): SQLite's online backup, read through
        this store's own connection, so from the file it has open even when
        that file is gone from its path. On this store's thread."""
        self._conn.backup(conn)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction, taken with the write lock up front so two
        processes never deadlock upgrading read locks; none once the file
        is gone from under this store (see file_gone)."""
        self.check_file()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # (what failed inside is told; see reading)
                    self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _check_replica_marker(self) -> None:
        """Give this database a new replica id if it is not the file it was
        last time: a copy, or a restore from backup. Peers' watermarks for
        the old id would otherwise hide or clash with the changes made here."""
        with self._tx():
            rid, nonce = self._meta("replica_id"), self._meta("nonce")
            try:
                seen = json.loads(self._marker.read_text())
            except (OSError, ValueError):
                seen = None
            if rid is None:
                rid = new_id()
                self._set_meta("replica_id", rid)
            elif not isinstance(seen, dict) or seen.get("replica_id") != rid or seen.get("nonce") != nonce:
                rid = self._new_replica_id(rid, "the database was copied or restored from a backup")
            self._write_marker(rid)
        self.replica_id = rid

    @property
    def _marker(self) -> Path:
        return Path(str(self.path) + ".replica")

    def _new_replica_id(self, old: str, reason: str) -> str:
        rid = new_id()
        previous = [*json.loads(self._meta("previous_replica_ids") or "[]"), old]
        self._set_meta("previous_replica_ids", json.dumps(previous))
        self._set_meta("replica_id", rid)
        log.warning("%s: %s; it continues as replica %s (was %s)", self.path, reason, rid, old)
        return rid

    def _write_marker(self, rid: str) -> None:
        nonce = new_id()
        self._set_meta("nonce", nonce)
        tmp = self._marker.with_name(self._marker.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps({"replica_id": rid, "nonce": nonce}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._marker)

    @_guard
    def rotate_replica(self, reason: str) -> str:
        """Continue under a new replica id (peers hold more of this replica's
        changes than this file does: it was restored from a backup)."""
        with self._tx():
            self.replica_id = self._new_replica_id(self.replica_id, reason)
            self._write_marker(self.replica_id)
        return self.replica_id

    def owns_file(self, path: str | os.PathLike) -> bool:
        """Whether `path` is this database or a file that belongs to it
        (the module's owns_file)."""
        return owns_file(self.path, path)

    def refuse_own_file(self, path: str | os.PathLike) -> None:
        """Raise StoreError if `path` is one of this database's own files."""
        if self.owns_file(path):
            raise StoreError(f"{path} is this console's database, or a file that belongs to it: "
                             "give another file to write to")

    def subscribe(self, listener: Callable[[ChangeSet], None]) -> Callable[[], None]:
        """Call `listener` after every committed write; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, cs: ChangeSet) -> None:
        for listener in list(self._listeners):
            try:
                listener(cs)
            except Exception:
                log.exception("change listener failed")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reads

    @_guard
    def replica_marks(self) -> dict[str, tuple[int, int]]:
        """{origin: (highest sequence with no gap below, highest held)}."""
        return {o: (c, m) for o, c, m in self._conn.execute("SELECT origin, contiguous, max_seq FROM replicas")}

    @_guard
    def version_vector(self) -> dict[str, int]:
        """{origin: highest sequence held with nothing missing below it}."""
        return dict(self._conn.execute("SELECT origin, contiguous FROM replicas WHERE contiguous > 0"))

    @_guard
    def resolve_id(self, table: str, ref: str, *, live: bool = True) -> str:
        """The full id of a row from its id, (units) a callsign, or a unique
        start or end of its id of at least 4 hex digits (lists show the last
        8). A callsign comes first: "2A12" is the police unit of that
        callsign, not another unit whose id happens to end in 2a12 (with
        20,000 units, some id starts or ends with four given hex digits
        nearly one time in two). `live` leaves out deleted rows; without it, a
        callsign no live unit has names the deleted units that had it."""
        t = model.table(table)
        ref = (ref or "").strip()
        if not model.is_text(ref):
            raise NotFound(f"no {t.name} row {ref!r}")
        cond = "created_hlc IS NOT NULL" + (" AND deleted = 0" if live and not t.append_only else "")
        hex_digits = len(ref) >= 4 and not ref.lower().strip(model.HEX_DIGITS)
        found: list = []
        if hex_digits and len(ref) == 32:
            found = self._conn.execute(f"SELECT id FROM {t.name} WHERE id = ? AND {cond}", (ref.lower(),)).fetchall()
        if not found and t.name == "units":
            found = self._conn.execute(
                "SELECT id FROM units WHERE callsign = ? COLLATE NOCASE AND deleted = 0 AND created_hlc IS NOT NULL",
                (ref,)).fetchall()
            if not found and not live:  # a callsign no live unit has: the deleted ones that had it
                found = self._conn.execute(
                    "SELECT id FROM units WHERE callsign = ? COLLATE NOCASE AND created_hlc IS NOT NULL", (ref,)
                ).fetchall()
        if not found and hex_digits and len(ref) < 32:
            ref_l = ref.lower()
            found = self._conn.execute(
                f"SELECT id FROM {t.name} WHERE (id LIKE ? OR id LIKE ?) AND {cond}",
                (ref_l + "%", "%" + ref_l),
            ).fetchall()
        if len(found) == 1:
            return found[0][0]
        if not found:
            raise NotFound(f"no {t.name} row {ref!r}")
        if t.name == "units" and self._conn.execute(
                "SELECT count(*) FROM units WHERE callsign = ? COLLATE NOCASE AND deleted = 0 "
                "AND created_hlc IS NOT NULL", (ref,)).fetchone()[0] > 1:
            raise ValidationError(f"{ref!r} is the callsign of {len(found)} units, added on consoles apart: name "
                                  "one by its id, or merge them if they are one")
        raise ValidationError(f"{ref!r} matches {len(found)} {t.name} rows; give more of the id")

    @_guard
    def get(self, table: str, row_id: str, *, deleted: bool = False):
        """One live row as a record (Unit, Task, Resource, JournalEntry)."""
        rows = self._records(table, "id = ?", (row_id,), deleted=deleted)
        if not rows:
            raise NotFound(f"no {table} row {row_id}")
        return rows[0]

    @_guard
    def list(self, table: str, *, deleted: bool = False, limit: int | None = None) -> list:
        """Every live row of `table` as records, in a stable order (the
        first `limit` of them, if given)."""
        return self._records(table, None, (), deleted=deleted, limit=limit)

    @_guard
    def units_on(self, task_id: str) -> list:
        """The live units assigned to a task, by callsign."""
        return self._records("units", "task_id = ?", (task_id,), deleted=False)

    @_guard
    def units_in_status_since(self, before: Mapping[str, str]) -> list:
        """The live units in a status of `before` since the time given for
        it (a stored time) or earlier, in one pass over the units: those
        past their status timers, with the minutes taken off."""
        if not before:
            return []
        where = " OR ".join(["(status = ? AND status_since <= ?)"] * len(before))
        return self._records("units", f"({where})", tuple(x for pair in before.items() for x in pair),
                             deleted=False)

    @_guard
    def tasks_to_do(self, now: str, limit: int | None = None) -> tuple[list, int, int, int]:
        """Tasks still to do (open, assigned, in progress): the most urgent
        first, then the soonest due, then those with no due time, by title;
        the first `limit` of them, how many there are, how many of those
        are overdue at `now` (a stored time, UTC), and how many no unit is on."""
        todo = "status IN ('open', 'assigned', 'in_progress')"
        total, overdue, unstaffed = self._conn.execute(
            "SELECT count(*), total(due IS NOT NULL AND due < ?), total(NOT EXISTS (SELECT 1 FROM units "
            "WHERE units.task_id = tasks.id AND units.deleted = 0 AND units.created_hlc IS NOT NULL)) "
            f"FROM tasks WHERE {todo} AND deleted = 0 AND created_hlc IS NOT NULL", (now,)).fetchone()
        ranks = " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(model.PRIORITIES))
        order = f"CASE priority {ranks} ELSE 2 END, due IS NULL, due, title COLLATE NOCASE, id"
        rows = self._records("tasks", todo, (), deleted=False, limit=limit, order=order)
        return rows, total, int(overdue), int(unstaffed)

    @_guard
    def tasks_titled(self, titles: Iterable[str]) -> dict[str, list]:
        """The tasks still to do whose title is one of `titles`, letter case
        and spacing aside (model.name_key): key -> those tasks, first added
        first. The same call about to be entered twice."""
        keys = {model.name_key(t) for t in titles if isinstance(t, str) and t.strip()}
        if not keys:
            return {}
        ids = [row_id for row_id, title in self._conn.execute(
            "SELECT id, title FROM tasks WHERE status IN ('open', 'assigned', 'in_progress') AND deleted = 0 "
            "AND created_hlc IS NOT NULL ORDER BY created_hlc, id") if model.name_key(title or "") in keys]
        found: dict[str, list] = {}
        by_id = {t.id: t for t in self.get_many("tasks", ids)}
        for row_id in ids:
            t = by_id[row_id]
            found.setdefault(model.name_key(t.title), []).append(t)
        return found

    @_guard
    def resources_named(self, rows: Iterable[tuple[Any, Any]]) -> dict[tuple[str, str], list]:
        """The stock items on the boards of the same name and owning agency
        as one of `rows` ((name, agency) pairs), letter case and spacing
        aside (model.name_key): (name key, agency key) -> those items,
        first added first. The same stock about to be entered twice
        (another agency's sandbags are other stock)."""
        keys = {(model.name_key(n), model.name_key(a)) for n, a in rows
                if isinstance(n, str) and n.strip() and isinstance(a, str)}
        if not keys:
            return {}
        ids = [row_id for row_id, name, agency in self._conn.execute(
            "SELECT id, name, agency FROM resources WHERE deleted = 0 AND created_hlc IS NOT NULL "
            "ORDER BY created_hlc, id") if (model.name_key(name or ""), model.name_key(agency or "")) in keys]
        found: dict[tuple[str, str], list] = {}
        by_id = {r.id: r for r in self.get_many("resources", ids)}
        for row_id in ids:
            r = by_id[row_id]
            found.setdefault((model.name_key(r.name), model.name_key(r.agency or "")), []).append(r)
        return found

    @_guard
    def entered_apart(self, since: str | None = None) -> list[tuple[str, list]]:
        """Tasks still to do with one title, and stock items with one name
        (of one agency, in one unit of measure), added at different
        consoles (letter case and spacing aside, see model.name_key): the
        same call, or the same stock, entered on both sides while they were
        apart, perhaps, where neither console could say so as it was added.
        With `since` (a stored time: when a console lost touch), only those
        of which one was added since. [(table, rows first added first)],
        tasks first, each by name. Nothing here is certain (two welfare
        checks may be two tasks): it is said, for a person to merge, or not.
        The window keeps the same names in memory instead (console/apart.py)."""
        at = times.due_timestamp(since) if since else None
        after = clock.pack(int(at * 1000)) if at is not None else 0
        found: list[tuple[str, list]] = []
        for table in apart.TABLES:
            cols, live = _NAMED[table]
            # SQL first keeps the rows whose name is one added since, or
            # else one several consoles added, each name read once: with
            # 20,000 tasks still to do and 2,000 stock items, 50 to 90 ms on
            # this loaded machine, against 60 to 110 reading every name into
            # Python. (SQLite's own lower() took 40 to 60 ms, but knows only
            # ASCII letters: "STRASSE" and "straße" were two names.)
            key = " || char(0) || ".join(f"name_key({c})" for c in cols)
            near = ("SELECT key FROM k WHERE created_hlc >= ?" if after else
                    "SELECT key FROM k GROUP BY key HAVING min(created_by) != max(created_by)")
            named: dict[str, list[apart.Added]] = defaultdict(list)
            for row_id, by, hlc, name in self._conn.execute(
                    f"WITH k AS MATERIALIZED (SELECT id, created_by, created_hlc, {key} AS key FROM {table} "
                    f"WHERE {live}) SELECT id, created_by, created_hlc, key FROM k WHERE key IN ({near}) "
                    "ORDER BY created_hlc, id", (after,) if after else ()):
                named[name].append((row_id, by, hlc))
            groups = [ids for _, ids in apart.shared(named, after)]
            if not groups:
                continue
            by_id = {r.id: r for r in self.get_many(table, [row_id for ids in groups for row_id in ids])}
            label = model.table(table).label
            found.extend(sorted(((table, [by_id[row_id] for row_id in ids]) for ids in groups),
                                key=lambda x: ((getattr(x[1][0], label) or "").casefold(), x[1][0].id)))
        return found

    @_guard
    def named_rows(self, table: str, ids: Iterable[str] | None = None) -> list[tuple[str, str, int, tuple[str, ...]]]:
        """The tasks still to do, or the live stock items, among `ids` (or
        all of them), as entered_apart compares them: (id, added by which
        console, when: a clock time, its name: a task's title, or a stock
        item's name, agency and unit of measure, each by model.name_key)."""
        cols, live = _NAMED[table]
        sql = f"SELECT id, created_by, created_hlc, {', '.join(cols)} FROM {table} WHERE {live}"
        parts = [(sql, ())] if ids is None else [
            (f"{sql} AND id IN ({','.join('?' * len(part))})", part) for part in _chunks(list(ids))]
        return [(row_id, by, at, tuple(map(_name_key, names)))
                for q, args in parts for row_id, by, at, *names in self._conn.execute(q, args)]

    @_guard
    def counted_in(self, ids: Iterable[str]) -> set[str]:
        """The stock items whose quantity counts these items' too: those
        they were merged into, in turn (see merge_resources). A draw from
        an item merged away changes their quantity, though no change
        names them."""
        parents = self._merged_stock()
        return {p for r in ids for p in _chain(parents, r)} if parents else set()

    @_guard
    def tally(self, table: str, by: Sequence[str], total: str | None = None) -> list[tuple]:
        """The live rows of `table` counted per value of the fields `by`:
        (value, ..., rows), with the sum of the field `total` after (with
        no `by`, one line for all of them)."""
        t = model.table(table)
        for name in (*by, *([total] if total else [])):
            t.field(name)  # a known field, or ValidationError
        live = "" if t.append_only else " AND deleted = 0"
        cols = "".join(f"{b}, " for b in by)
        summed = f", total({total})" if total else ""
        grouped = f" GROUP BY {', '.join(by)}" if by else ""
        return self._conn.execute(f"SELECT {cols}count(*){summed} FROM {t.name} WHERE created_hlc IS NOT NULL"
                                  f"{live}{grouped}").fetchall()

    @_guard
    def stock_watch(self) -> tuple[int, int]:
        """How many live stock items are low (at or below their low marks:
        model.stock_low), and how many have none left."""
        low, out = self._conn.execute(
            "SELECT coalesce(sum(low_at IS NOT NULL AND coalesce(quantity, 0) <= low_at), 0), "
            "coalesce(sum(coalesce(quantity, 0) <= 0), 0) FROM resources WHERE deleted = 0 "
            "AND created_hlc IS NOT NULL").fetchone()
        return low, out

    @_guard
    def get_many(self, table: str, ids: Iterable[str]) -> list:
        """The live rows among `ids` (deleted or unknown ids are left out)."""
        ids = list(ids)
        out = []
        for part in _chunks(ids):
            q = ",".join("?" * len(part))
            out.extend(self._records(table, f"id IN ({q})", tuple(part), deleted=False, ids=part))
        return out

    @_guard
    def agencies(self, table: str) -> list[str]:
        """The agencies named on a table's live rows (a task's lead agency),
        each once, as the boards spell it: one written two ways on consoles
        apart ("Metro Fire", "metro fire") is one (see model.spellings)."""
        t = model.table(table)
        field = "lead_agency" if t.name == "tasks" else "agency"
        if field not in t.names:
            return []
        counts = dict(self._conn.execute(
            f"SELECT {field}, count(*) FROM {t.name} WHERE deleted = 0 AND created_hlc IS NOT NULL "
            f"AND {field} IS NOT NULL GROUP BY {field}"))
        return sorted(set(model.spellings(counts).values()))

    @_guard
    def task_titles(self) -> dict[str, str]:
        """{task id: title} of every task, deleted ones too (a unit may be
        on one still): what a board of units shows of their tasks."""
        return dict(self._conn.execute("SELECT id, title FROM tasks WHERE created_hlc IS NOT NULL"))

    @_guard
    def assignments(self) -> dict[str, tuple[str, ...]]:
        """{task id: callsigns of the live units on it}."""
        assigned: dict[str, list[str]] = defaultdict(list)
        for task_id, callsign in self._conn.execute(
            "SELECT task_id, callsign FROM units WHERE task_id IS NOT NULL AND deleted = 0 "
            "AND created_hlc IS NOT NULL ORDER BY callsign COLLATE NOCASE"
        ):
            assigned[task_id].append(callsign)
        return {k: tuple(v) for k, v in assigned.items()}

    def _records(self, table: str, where: str | None, params: tuple, *, deleted: bool,
                 ids: list[str] | None = None, limit: int | None = None, order: str | None = None) -> list:
        t = model.table(table)
        cols = [c for c in model.record_fields(t.name) if c != "assigned_units"]
        conds = ["created_hlc IS NOT NULL"]
        if not t.append_only and not deleted:
            conds.append("deleted = 0")
        if where:
            conds.append(where)
        order = order or ("created_hlc DESC, id" if t.append_only else f"{t.label} COLLATE NOCASE, id")
        sql = f"SELECT {', '.join(cols)} FROM {t.name} WHERE {' AND '.join(conds)} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._conn.execute(sql, params).fetchall()
        rec = model.RECORDS[t.name]
        if t.name != "tasks":
            return [rec(*r) for r in rows]
        if ids is None and limit is not None and len(rows) < 50:
            ids = [r[0] for r in rows]
        if ids is not None and len(ids) <= CHUNK:
            # Only these tasks' units (get_many asks a chunk at a time), not every unit's.
            on: dict[str, list[str]] = defaultdict(list)
            for task_id, callsign in self._conn.execute(
                f"SELECT task_id, callsign FROM units WHERE task_id IN ({','.join('?' * len(ids))}) "
                "AND deleted = 0 AND created_hlc IS NOT NULL ORDER BY callsign COLLATE NOCASE", ids):
                on[task_id].append(callsign)
            assigned: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in on.items()}
        else:
            assigned = self.assignments()
        return [rec(*r, assigned_units=assigned.get(r[0], ())) for r in rows]

    @_guard
    def counts(self) -> dict[str, int]:
        out = {}
        for t in model.TABLES.values():
            live = "" if t.append_only else " AND deleted = 0"
            out[t.name] = self._conn.execute(
                f"SELECT count(*) FROM {t.name} WHERE created_hlc IS NOT NULL{live}"
            ).fetchone()[0]
        return out

    @_guard
    def info(self) -> Info:
        return Info(
            path=str(self.path),
            replica_id=self.replica_id,
            agency=self.agency,
            operator=self.operator,
            schema_version=SCHEMA_VERSION,
            version_vector=self.version_vector(),
            counts=self.counts(),
            open_conflicts=self._conn.execute("SELECT count(*) FROM conflicts").fetchone()[0],
            changes=self._conn.execute("SELECT count(*) FROM changes").fetchone()[0],
            previous_replica_ids=tuple(json.loads(self._meta("previous_replica_ids") or "[]")),
            at_console=self.at_console(),
            twins=self.twin_count(),
            stranded=self.stranded_count(),
        )

    @_guard
    def conflicts(self) -> list[ConflictView]:
        """Every open conflict, oldest first."""
        return self._conflict_views("", ())

    def _conflict_views(self, where: str, params: tuple) -> list[ConflictView]:
        out = []
        for cid, tbl, row, fld, kind, cands, detected in self._conn.execute(
            "SELECT id, tbl, row_id, field, kind, candidates, detected_hlc FROM conflicts "
            f"{where} ORDER BY detected_hlc, id", params
        ):
            out.append(
                ConflictView(
                    cid, tbl, row, self._label(model.table(tbl), row), fld, kind,
                    tuple(Candidate(**c) for c in json.loads(cands)), clock.to_iso(detected),
                )
            )
        return out

    @_guard
    def conflicted(self) -> dict[str, dict[str, frozenset[str]]]:
        """Table -> row -> the fields with an open conflict, for marking
        them on the boards."""
        out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for tbl, row, fld in self._conn.execute("SELECT tbl, row_id, field FROM conflicts"):
            out[tbl][row].add(fld)
        return {tbl: {row: frozenset(f) for row, f in rows.items()} for tbl, rows in out.items()}

    def conflict(self, ref: str) -> ConflictView:
        """The open conflict whose id starts with `ref` (at least 4 hex digits)."""
        ref = ref.strip().lower()
        hex_ok = len(ref) >= 4 and not ref.strip(model.HEX_DIGITS)
        # The ids that start with `ref`, through the index of ids: ids are
        # lowercase hex digits, each before "g" (LIKE read every conflict:
        # settling a thousand of 4,000 at once read them 3,000 times).
        found = self._conflict_views("WHERE id >= ? AND id < ?", (ref, ref + "g")) if hex_ok else []
        if len(found) != 1:
            if found:
                raise ValidationError(f"{ref!r} matches {len(found)} conflicts; give more of the id")
            raise NotFound(f"no open conflict {ref!r} (resolved already, or never seen here)")
        return found[0]

    @_guard
    def journal(self, *, limit: int | None = None, table: str | None = None, row: str | None = None,
                agency: str | Collection[str] | None = None) -> list[model.JournalEntry]:
        """The activity log, newest first, optionally for one row or agency
        (a name, or the names one agency is written as)."""
        sql, params = self._journal_sql(False, limit=limit, table=table, row=self._about(table, row), agency=agency)
        return [model.JournalEntry(*r) for r in self._conn.execute(sql, params)]

    def _about(self, table: str | None, row: str | None) -> str | list[str] | None:
        """The rows whose journal entries are a row's: its own and those of
        the rows merged into it (a unit entered twice: what each did is the
        one unit's history, for its activity log; a stock item: a draw made
        from one apart, before the merge was seen, is about stock it holds)."""
        if not row or table not in ("units", "tasks", "resources"):
            return row
        if table == "resources":
            parents = self._merged_stock()
            merged = sorted(r for r in parents if row in _chain(parents, r)) if parents else []
        else:
            merged = self._merged_here(table, row)
        return [row, *merged] if merged else row

    def _merged_here(self, table: str, row: str) -> list[str]:
        """The units (or tasks) merged into this one, and into those in turn,
        that their merge's delete still holds deleted (not restored, nor
        undone). Units and tasks name no row kept (stock does: merged_into);
        the log says it: a merge writes its entry about the row kept, then
        each other row's delete followed by that row's entry (see
        _merge_rows, _merged_by)."""
        conn = self._conn

        def change(origin: str, seq: int) -> tuple | None:
            return conn.execute("SELECT tbl, kind, row_id FROM changes WHERE origin = ? AND seq = ?",
                                (origin, seq)).fetchone()

        found: list[str] = []
        seen, todo = {row}, [row]
        while todo:
            kept = todo.pop()
            for origin, seq in conn.execute(
                    "SELECT console, created_seq FROM journal WHERE tbl = ? AND row_id = ? AND action = 'merge' "
                    "AND created_hlc IN (SELECT hlc FROM journal_about WHERE row_key = ?)",
                    (table, kept, _about_key(kept))).fetchall():
                if change(origin, seq - 1) == (table, "delete", kept):
                    continue  # the entry of its own merge into another
                n = seq + 1
                while (c := change(origin, n)) is not None and c[:2] == (table, "delete"):
                    entry = change(origin, n + 1)
                    if entry is None or entry[0] != "journal":
                        break
                    other = c[2]
                    if other not in seen and conn.execute(
                            "SELECT 1 FROM heads WHERE tbl = ? AND row_id = ? AND field = 'deleted' AND origin = ? "
                            "AND seq = ?", (table, other, origin, n)).fetchone():
                        seen.add(other)
                        found.append(other)
                        todo.append(other)
                    n += 2
        return sorted(found)

    @_guard
    def journal_page(self, *, limit: int | None = None, table: str | None = None, row: str | None = None,
                     agency: str | Collection[str] | None = None, before: JournalKey | None = None,
                     down_to: JournalKey | None = None, at: Collection[int] | None = None,
                     action: str | None = None, holding: str | None = None,
                     ) -> list[tuple[JournalKey, model.JournalEntry]]:
        """Journal entries with their place in it, newest first: the
        entries after `before` (older), down to `down_to` (inclusive), and
        of those only the ones written at the clock times `at`, if given
        (none, if it is empty), of the one `action` ("note": the free
        notes), if given, and holding the words `holding` (casefolded; see
        model.journal_holds), if given. Each comes with its key, (clock
        time, id), the order the journal is kept in. A window reads the
        journal a page at a time with these."""
        if at is not None and not at:
            return []
        sql, params = self._journal_sql(True, limit=limit, table=table, row=self._about(table, row), agency=agency,
                                        before=before, down_to=down_to, at=at, action=action, holding=holding)
        return [((r[0], r[1]), model.JournalEntry(*r[1:])) for r in self._conn.execute(sql, params)]

    @staticmethod
    def _journal_sql(keyed: bool, *, limit: int | None, table: str | None, row: str | Sequence[str] | None,
                     agency: str | Collection[str] | None, before: JournalKey | None = None,
                     down_to: JournalKey | None = None,
                     at: Collection[int] | None = None, action: str | None = None,
                     holding: str | None = None, count: bool = False) -> tuple[str, list]:
        where, params = [], []
        if action:
            where.append("action = ?")
            params.append(action)
        if table:
            where.append("tbl = ?")
            params.append(table)
        rows = [row] if isinstance(row, str) else list(row or ())
        if rows:
            where.append(f"row_id IN ({', '.join('?' * len(rows))})")
            params += rows
        if isinstance(agency, str) and agency:
            where.append("agency = ?")
            params.append(agency)
        elif agency:  # the spellings of one agency (model.spellings)
            where.append(f"agency IN ({', '.join('?' * len(agency))})")
            params += sorted(agency)
        # The clock times of the entries a page may hold: about the rows,
        # each found by the hash of the row's id in `journal_about` (its
        # bounds there too), or else by the journal's index of times.
        # About rows, the bounds outside are kept off that index (`+`):
        # SQLite's planner otherwise took the range of times, all of a
        # period's entries, over the few about the rows (a unit's activity
        # log among 330,000 entries of 12 hours read in 260 ms, not 3).
        hlc = "+created_hlc" if rows else "created_hlc"
        about = []
        if before is not None:
            where.append(f"{hlc} <= ? AND ({hlc} < ? OR id > ?)")
            params += [before[0], before[0], before[1]]
            about.append((" AND hlc <= ?", before[0]))
        if down_to is not None:
            where.append(f"{hlc} >= ? AND ({hlc} > ? OR id <= ?)")
            params += [down_to[0], down_to[0], down_to[1]]
            about.append((" AND hlc >= ?", down_to[0]))
        if rows:
            where.append(f"created_hlc IN (SELECT hlc FROM journal_about WHERE row_key IN "
                         f"({', '.join('?' * len(rows))}){''.join(a for a, _ in about)})")
            params += [_about_key(r) for r in rows] + [p for _, p in about]
        if at is not None:
            where.append(f"created_hlc IN ({', '.join('?' * len(at))})")
            params += list(at)
        if holding:  # last: looked at only in the entries the rest let through
            where.append("journal_holds(?, text, agency, operator)")
            params.append(holding)
        if count:  # (how many: no column read that is not asked about, nothing sorted)
            return ("SELECT count(*) FROM journal WHERE created_hlc IS NOT NULL"
                    + "".join(f" AND {w}" for w in where)), params
        cols = ", ".join(model.record_fields("journal"))
        sql = (f"SELECT {'created_hlc, ' if keyed else ''}{cols} FROM journal WHERE created_hlc IS NOT NULL"
               + "".join(f" AND {w}" for w in where) + " ORDER BY created_hlc DESC, id")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    @_guard
    def journal_count(self, *, table: str | None = None, row: str | None = None,
                      down_to: JournalKey | None = None) -> int:
        """How many journal entries there are (about one row, down to a key)."""
        sql, params = self._journal_sql(False, limit=None, table=table, row=self._about(table, row), agency=None,
                                        down_to=down_to, count=True)
        return self._conn.execute(sql, params).fetchone()[0]

    @_guard
    def journal_counts(self, since_hlc: int = 0) -> dict[str | None, tuple[int, int]]:
        """Journal entries written at or after the clock time `since_hlc`,
        per agency: (entries, of which free notes)."""
        return {agency: (n, int(notes)) for agency, n, notes in self._conn.execute(
            "SELECT agency, count(*), total(action = 'note') FROM journal WHERE created_hlc >= ? GROUP BY agency",
            (since_hlc,))}

    @_guard
    def journal_widths(self, fields: Sequence[str]) -> list[int]:
        """The longest of each of these fields of the journal's entries, in
        characters (0 for none, or only empty ones)."""
        names = set(model.record_fields("journal"))
        if not set(fields) <= names:
            raise ValidationError(f"the journal has no field {sorted(set(fields) - names)[0]!r}")
        return list(self._conn.execute(
            f"SELECT {', '.join(f'coalesce(max(length({f})), 0)' for f in fields)} FROM journal "
            "WHERE created_hlc IS NOT NULL").fetchone())

    @_guard
    def journal_mark(self, n: int, before: JournalKey | None = None) -> JournalKey | None:
        """The key of the `n`th entry after `before` (from the newest if
        None), or None if fewer remain: where a read of the next `n`
        entries ends. Reads the journal's index only."""
        where, params = "", []
        if before is not None:
            where = " AND created_hlc <= ? AND (created_hlc < ? OR id > ?)"
            params = [before[0], before[0], before[1]]
        found = self._conn.execute(
            f"SELECT created_hlc, id FROM journal WHERE created_hlc IS NOT NULL{where} "
            f"ORDER BY created_hlc DESC, id LIMIT 1 OFFSET {max(0, int(n) - 1)}", params
        ).fetchone()
        return (found[0], found[1]) if found else None

    @_guard
    def said(self, op: Operation) -> list[str]:
        """What the journal entries of an operation say, in the order written."""
        return [_loads(v)["text"] for (v,) in self._conn.execute(
            "SELECT value FROM changes WHERE origin = ? AND seq BETWEEN ? AND ? AND tbl = 'journal' ORDER BY seq",
            (op.origin, op.first, op.last))]

    @_guard
    def open_conflict_count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM conflicts").fetchone()[0]

    @_guard
    def twin_count(self) -> int:
        """How many callsigns are on several live units (see twins)."""
        return len(self._twin_rows())

    @_guard
    def twins(self) -> list[Twins]:
        """The callsigns on several live units, by callsign: a unit added
        on two consoles while they were apart (the same ambulance, called
        in to both), or two units given one callsign. Every console lists
        the same, as it holds the same rows. A person settles each by
        merging the units (merge_units) or renaming one."""
        found = self._twin_rows()
        units = {u.id: u for u in self.get_many("units", [r[0] for rows in found.values() for r in rows])}
        return sorted((Twins(units[rows[0][0]].callsign,
                             tuple(Twin(units[i], clock.to_iso(at), op, ag) for i, at, op, ag in rows))
                       for rows in found.values()),
                      key=lambda t: (t.callsign.lower(), t.units[0].added_at))

    @_guard
    def stranded_count(self) -> int:
        """How many live units are on a deleted task (see stranded)."""
        return self._conn.execute(
            f"SELECT count(*) FROM {_DELETED_TASKS} JOIN units u ON u.task_id = t.id WHERE t.deleted = 1 "
            "AND u.deleted = 0 AND u.created_hlc IS NOT NULL").fetchone()[0]

    @_guard
    def stranded(self) -> list[Stranded]:
        """The live units on a deleted task, by callsign: each put on it at
        a console that had not seen it deleted (a console deleting a task
        takes its units off it), or merged into another task (merge_tasks).
        Every console lists the same. A person puts each on the task it was
        merged into, on another, or makes it available."""
        found = self._conn.execute(
            f"SELECT u.id, t.id, t.title FROM {_DELETED_TASKS} JOIN units u ON u.task_id = t.id WHERE t.deleted = 1 "
            "AND u.deleted = 0 AND u.created_hlc IS NOT NULL").fetchall()
        if not found:
            return []
        units = {u.id: u for u in self.get_many("units", [r[0] for r in found])}
        gone = {task_id: self._task_gone(task_id) for task_id in {r[1] for r in found}}
        out = []
        for unit_id, task_id, title in found:
            merged, by, at, into = gone[task_id]
            into_title = self._conn.execute("SELECT title FROM tasks WHERE id = ?",
                                            (into,)).fetchone()[0] if into else None
            out.append(Stranded(units[unit_id], task_id, title or short_id(task_id), merged, by, at, into,
                                into_title))
        return sorted(out, key=lambda x: (x.unit.callsign.casefold(), x.unit.id))

    def _task_gone(self, task_id: str) -> tuple[bool, str, str, str | None]:
        """How a deleted task went: (merged?, by whom, when, the live task
        it was merged into, following merges of that one in turn; None if
        none is live)."""
        merged, by, at, into = self._how_deleted(task_id)
        seen = {task_id}
        while into is not None:
            r = self._conn.execute("SELECT deleted FROM tasks WHERE id = ? AND created_hlc IS NOT NULL",
                                   (into,)).fetchone()
            if r is None or into in seen or len(seen) > _SINCE_DEPTH:
                return merged, by, at, None
            if not r[0]:
                break
            seen.add(into)
            again, _, _, then = self._how_deleted(into)
            into = then if again else None
        return merged, by, at, into

    def _how_deleted(self, task_id: str) -> tuple[bool, str, str, str | None]:
        """(merged?, by whom, when, the task it was merged into), read from
        the log, so that every console says the same (see merged_by)."""
        hs = self._row_heads("tasks", task_id).get("deleted") or {}
        if not hs:
            return False, "", "", None
        origin, seq = merge.winner(hs.values()).id  # (the row is deleted: its winner says so)
        op, ag, hlc = self._conn.execute("SELECT operator, agency, hlc FROM changes WHERE origin = ? AND seq = ?",
                                         (origin, seq)).fetchone()
        merged, into = self._merged_by("tasks", origin, seq)
        return merged, f"{ag} ({op})", clock.to_iso(hlc), into

    @_guard
    def side_said(self, table: str, field: str, value: Any) -> str:
        """A conflict's side's value as a reconciliation offers it: as the
        boards say it (describe), and a row it names that is no longer on
        them said so: "Levee   (now deleted)", "Sandbags (...)   (now merged
        into Sandbags (...))" (see _side_gone)."""
        said = self.describe(table, field, value)
        ref = model.table(table).field(field).ref
        if ref and value and (gone := self._side_gone(model.TABLES[ref], value)):
            said += f"   (now {gone[0]})"
        return said

    def _side_gone(self, ref: model.Table, row_id: str) -> tuple[str, str | None] | None:
        """How a task or stock item a conflict's side names went, if it is
        no longer on the boards: (in words, "deleted" or "merged into
        Evacuate Elm St"; what keeping the side writes all the same, or None
        if it cannot be kept). A stock item gone is kept as it is: its
        stock counts there, down the chain of merges, which has no loop, as
        a merge keeps the first added; in an item deleted, it counts as it
        would had that side's merge been the only one, and shows again if
        the item is restored. A task merged into one on the boards is that
        one, the unit going on it, as the merge moved the units on it; a
        unit is put on no task deleted. None if it is on the boards, or not
        held."""
        if ref is model.TASKS:
            return self._task_went(row_id)
        r = self._conn.execute("SELECT deleted, merged_into FROM resources WHERE id = ? AND created_hlc IS NOT NULL",
                               (row_id,)).fetchone()
        if not r or not r[0]:
            return None
        if r[1] and (chain := list(_chain(self._merged_stock(), row_id))):
            return f"merged into {self._describe(model.RESOURCES, 'merged_into', chain[-1])}", row_id
        return "deleted", row_id

    @_guard
    def task_gone(self, task_id: str) -> str | None:
        """How a task no longer on the boards went, in words: "deleted",
        "merged into Evacuate Elm St"; None if it is on them, or not held."""
        went = self._task_went(task_id)
        return went[0] if went else None

    def _task_went(self, task_id: str) -> tuple[str, str | None] | None:
        """How a task no longer on the boards went, in words, and the task
        on them it was merged into (None if none: deleted, or merged into
        one deleted since); None if it is on them, or not held."""
        r = self._conn.execute("SELECT deleted FROM tasks WHERE id = ? AND created_hlc IS NOT NULL",
                               (task_id,)).fetchone()
        if not r or not r[0]:
            return None
        merged, _, _, into = self._task_gone(task_id)
        how = (f"merged into {self._label(model.TASKS, into)}" if into else "merged into another") if merged \
            else "deleted"
        return how, into

    @_guard
    def merged_by(self, table: str, origin: str, seq: int) -> tuple[bool, str | None]:
        """Whether the delete `origin`#`seq` of a row of `table` was a
        merge's (merge_units, merge_tasks, merge_resources), and the row it
        was merged into (None if not known here). Read from the log, so
        that every console says the same."""
        return self._merged_by(model.table(table).name, origin, seq)

    @_guard
    def merge_said(self, table: str, row: str, origin: str, seq: int) -> str | None:
        """What a delete of a row does, as a reconciliation offers it, if it
        was a merge's: "merged into Sandbags (filled): its 400 bags count
        there" (a unit, a task: "merged into E-12"). None for a delete of
        its own."""
        t = model.table(table)
        merged, into = self._merged_by(t.name, origin, seq)
        if not merged:
            return None
        said = f"merged into {self._label(t, into)}" if into else "merged into another, deleted since"
        if t is model.RESOURCES:
            r = self._conn.execute("SELECT quantity, unit FROM resources WHERE id = ?", (row,)).fetchone()
            if r and r[0]:
                said += f": its {self._describe(t, 'quantity', r[0])}{' ' + r[1] if r[1] else ''} count there"
        return said

    def _gone(self, table: str, row_id: str, hlc: int) -> str:
        """How a row no longer on the boards went, against the time of a
        change: "deleted since", or "merged into Evacuate Elm St before
        that" (a unit put on the task kept from one merged away: the step
        that did so, undone, would put it back on a task that is gone)."""
        h = self._conn.execute("SELECT origin, seq, hlc FROM heads WHERE tbl = ? AND row_id = ? AND field = 'deleted' "
                               "AND kind = 'delete' ORDER BY hlc DESC LIMIT 1", (table, row_id)).fetchone()
        if h is None:
            return "deleted since"
        merged, into = self._merged_by(table, h[0], h[1])
        how = (f"merged into {self._label(model.TABLES[table], into)}" if into else "merged into another"
               ) if merged else "deleted"
        return f"{how} {'since' if h[2] > hlc else 'before that'}"

    def _label(self, t: model.Table, row_id: str) -> str:
        """A row as people name it (a task by its title...), or its short id."""
        r = self._conn.execute(f"SELECT {t.label} FROM {t.name} WHERE id = ?", (row_id,)).fetchone()
        return str(r[0]) if r and r[0] else short_id(row_id)

    def _merged_by(self, table: str, origin: str, seq: int) -> tuple[bool, str | None]:
        # A merge writes, after the kept row's journal entry, each other
        # row's delete followed by that row's own entry (a stock item's
        # delete preceded by its merged_into: see _merge_rows).
        def change(n: int) -> tuple[str, str, str, Any] | None:
            r = self._conn.execute("SELECT tbl, kind, field, value FROM changes WHERE origin = ? AND seq = ?",
                                   (origin, n)).fetchone()
            return (r[0], r[1], r[2], _loads(r[3]) if r[0] == "journal" or r[2] == "merged_into" else None) \
                if r else None

        def merge_entry(c: tuple | None) -> dict | None:
            return c[3] if c and c[0] == "journal" and c[3].get("action") == "merge" else None

        if not merge_entry(change(seq + 1)):
            return False, None
        if table == "resources":
            before = change(seq - 1)
            return True, before[3] if before and before[:3] == ("resources", "set", "merged_into") else None
        n = seq - 1
        for _ in range(MERGE_LIMIT):
            kept = merge_entry(change(n))
            if kept is None or kept.get("tbl") != table:
                break
            before = change(n - 1)
            if before is None or before[:2] != (table, "delete"):
                return True, kept.get("row_id")
            n -= 2  # another row deleted by the same merge: the kept one's entry is before
        return True, None

    @_guard
    def added_by(self, table: str, ids: Iterable[str]) -> dict[str, tuple[int, str, str]]:
        """Who added each of these rows, and when: id -> (clock time added,
        operator, agency). The first added (by time, then id) is the row a
        merge keeps."""
        t = model.table(table)
        out: dict[str, tuple[int, str, str]] = {}
        for part in _chunks(list(ids)):
            for row_id, at, op, ag in self._conn.execute(
                f"SELECT r.id, r.created_hlc, c.operator, c.agency FROM {t.name} r "
                "JOIN changes c ON c.origin = r.created_by AND c.seq = r.created_seq "
                f"WHERE r.id IN ({','.join('?' * len(part))}) AND r.created_hlc IS NOT NULL", part
            ):
                out[row_id] = (at, op, ag)
        return out

    def _twin_rows(self) -> dict[str, list[tuple[str, int, str, str]]]:
        """Callsign (letter case aside) -> its live units, first added
        first: (id, time added, by whom, of which agency), for the callsigns
        on several. Those are found from the callsign index alone (about 4
        ms for 20,000 units, against 10 reading every row), then only their
        rows are read."""
        names = [c for (c,) in self._conn.execute(
            "SELECT callsign FROM units GROUP BY callsign COLLATE NOCASE HAVING count(*) > 1")]
        found: dict[str, list[tuple[str, int, str, str]]] = defaultdict(list)
        for part in _chunks(names):
            for row_id, callsign, at, op, ag in self._conn.execute(
                "SELECT u.id, u.callsign, u.created_hlc, c.operator, c.agency FROM units u "
                "JOIN changes c ON c.origin = u.created_by AND c.seq = u.created_seq "
                f"WHERE u.callsign COLLATE NOCASE IN ({','.join('?' * len(part))}) AND u.deleted = 0 "
                "AND u.created_hlc IS NOT NULL ORDER BY u.created_hlc, u.id", part
            ):
                found[callsign.translate(_NOCASE)].append((row_id, at, op, ag))
        return {k: rows for k, rows in found.items() if len(rows) > 1}

    # --------------------------------------------------------- sync interface

    @_guard
    def count_missing(self, vv: Mapping[str, int]) -> int:
        """How many changes held here a replica with version vector `vv` lacks.

        Cheap however many that is (the window asks every second, for each
        peer): an origin's changes up to its contiguous mark are all here,
        so only those beyond it, which arrived out of order and are few,
        are counted in the log."""
        total = 0
        for origin, contiguous, max_seq in self._conn.execute(
                "SELECT origin, contiguous, max_seq FROM replicas").fetchall():
            have = int(vv.get(origin, 0))
            if max_seq <= have:
                continue
            total += max(0, contiguous - have)
            if max_seq > max(have, contiguous):
                total += self._conn.execute(
                    "SELECT count(*) FROM changes WHERE origin = ? AND seq > ?", (origin, max(have, contiguous))
                ).fetchone()[0]
        return total

    @_guard
    def count_not_held(self, vv: Mapping[str, int]) -> int:
        """How many of the changes a version vector `vv` names (each
        origin's from 1 to its mark) are not held here: what a transfer
        file written for `vv` left out that this console still lacks (it
        was written for another console, or for this one before it was
        restored from a backup)."""
        total = 0
        for origin, mark in vv.items():
            mark = int(mark)
            row = self._conn.execute("SELECT contiguous FROM replicas WHERE origin = ?", (origin,)).fetchone()
            contiguous = row[0] if row else 0
            if mark <= contiguous:
                continue
            beyond = self._conn.execute("SELECT count(*) FROM changes WHERE origin = ? AND seq > ? AND seq <= ?",
                                        (origin, contiguous, mark)).fetchone()[0]
            total += mark - contiguous - beyond
        return total

    @_guard
    def peer_holds(self, ref: str) -> dict:
        """What a console on the trust list was last known to hold, from its
        console ID or a unique start of it (as `peers` lists them): its
        console_id, agency, replica_id, last_seen and version_vector (what
        it said it held at its last hello, and acknowledged since).
        NotFound if no trusted console, or several, have such an ID, or it
        has never been in touch."""
        key = re.sub(r"[\s\-:]", "", str(ref or "")).upper()  # as identity.normalize_id reads an ID
        rows = self._conn.execute(
            "SELECT t.console_id, t.agency, p.replica_id, p.last_seen, coalesce(p.acked_vv, '{}') "
            "FROM trust t LEFT JOIN peer_state p USING (console_id)").fetchall()
        found = [r for r in rows if len(key) >= 4 and r[0].replace("-", "").startswith(key)]
        if not found:
            raise NotFound(f"no console on the trust list has the ID {ref!r} (see `crisis-console peers`)")
        if len(found) > 1:
            raise NotFound(f"{ref!r} is the start of {len(found)} trusted consoles' IDs: give more of it")
        cid, agency, replica, seen, vv = found[0]
        if seen is None:
            raise NotFound(f"console {cid} ({agency}) has never been in touch, so what it holds is not known "
                           "here: use its info file")
        return {"console_id": cid, "agency": agency, "replica_id": replica, "last_seen": seen,
                "version_vector": {o: int(s) for o, s in json.loads(vv).items()}}

    @_guard
    def changed_since(self, seen: Mapping[str, int], limit: int | None = None
                      ) -> tuple[dict[str, int], set[tuple[str, str, str, int]], bool]:
        """What changed beyond `seen` ({origin: highest sequence already
        shown}): the new high-water marks, (table, row, field, clock time)
        of each change, and whether more remain (at most `limit` changes per
        origin are read: a caller on a GUI thread reads a large catch-up in
        slices). The clock time is given for journal entries only (it is
        their place in the journal), 0 for the rest, so that many changes
        to one field make one item. Reads no values, so it stays cheap."""
        marks, touched, more = {}, set(), False
        for origin, max_seq in self._conn.execute("SELECT origin, max_seq FROM replicas").fetchall():
            after = int(seen.get(origin, 0))
            if max_seq <= after:
                continue
            rows = self._conn.execute(
                "SELECT seq, tbl, row_id, field, CASE tbl WHEN 'journal' THEN hlc ELSE 0 END FROM changes "
                "WHERE origin = ? AND seq > ? ORDER BY seq"
                + (" LIMIT ?" if limit else ""), (origin, after, limit) if limit else (origin, after)
            ).fetchall()
            if limit and len(rows) == limit and rows[-1][0] < max_seq:
                marks[origin], more = rows[-1][0], True
            else:
                marks[origin] = max_seq
            touched.update(row[1:] for row in rows)
        return marks, touched, more

    @_guard
    def remaining_for(self, vv: Mapping[str, int]) -> int:
        """About how many changes held here a replica with `vv` lacks: exact
        unless this replica's log has gaps, and cheap (one row per origin)."""
        rows = self._conn.execute("SELECT origin, max_seq FROM replicas")
        return sum(max(0, m - int(vv.get(o, 0))) for o, m in rows)

    @_guard
    def changes_since(self, vv: Mapping[str, int], batch: int = DEFAULT_BATCH, *,
                      convert: Callable[[tuple], Any] | None = None) -> Iterator[list]:
        """The changes a replica with version vector `vv` lacks, in batches of
        at most `batch`, in clock order across origins.

        A change's clock time is above that of every version it replaced, so in
        clock order a version always arrives before the changes that replaced
        it, and the receiver applies each batch on its fast path."""
        convert = convert or _change_from_row
        origins = [
            (o, int(vv.get(o, 0)))
            for o, m in self._conn.execute("SELECT origin, max_seq FROM replicas ORDER BY origin")
            if m > int(vv.get(o, 0))
        ]

        # Whole pages are fetched so no cursor stays open between batches. A
        # page is an even share of a batch: a sender that takes one batch
        # and starts afresh for the next (sync does) would otherwise read
        # a whole batch from every origin to send one (three times the
        # rows with three origins: 28 ms a batch of 5000 instead of 15).
        page = max(1, -(-batch // max(1, len(origins))))

        def stream(origin: str, after: int) -> Iterator[tuple]:
            while True:
                rows = self._conn.execute(
                    "SELECT origin, seq, hlc, tbl, row_id, field, kind, value, prev, operator, agency "
                    "FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (origin, after, page),
                ).fetchall()
                if not rows:
                    return
                yield from rows
                after = rows[-1][1]

        pending: list = []
        for r in heapq.merge(*(stream(o, after) for o, after in origins), key=lambda r: (r[2], r[0])):
            pending.append(convert(r))
            if len(pending) == batch:
                yield pending
                pending = []
        if pending:
            yield pending

    def wire_since(self, vv: Mapping[str, int], batch: int = DEFAULT_BATCH) -> Iterator[list[tuple[str, int, str]]]:
        """`changes_since` as (origin, seq, wire text) of each change: the
        text is made from the log's own JSON, never decoded on the way."""
        return self.changes_since(vv, batch, convert=_wire_from_row)

    def all_changes(self, batch: int = DEFAULT_BATCH) -> Iterator[list[Change]]:
        return self.changes_since({}, batch)

    @_guard
    def apply(self, changes: Iterable[Change]) -> ApplyResult:
        """Merge changes received from elsewhere, in one transaction.

        Changes already held are skipped, so delivering twice or in any order
        gives the same state. A change stamped too far in the future is refused
        with its reason, together with the later changes of the same origin
        (the log per origin stays gap-free below what is held).
        """
        changes = list(changes)
        result = ApplyResult()
        if not changes:
            return result
        with gc_paused(), self._tx():
            self._sync_clock()
            fresh = self._fresh(changes, result)
            outcome = self._merge(fresh, local=False) if fresh else None
            self._save_clock()
        result.applied = len(fresh)
        refused = {o: s for o, s, _ in result.refused}
        result.duplicates = len(changes) - len(fresh) - (
            sum(1 for c in changes if c.origin in refused and c.seq >= refused[c.origin]) if refused else 0
        )
        for origin, seq, reason in result.refused:
            log.warning("refused changes from %s from #%d: %s", origin, seq, reason)
        if outcome:
            self._notify(outcome)
        return result

    def _fresh(self, changes: list[Change], result: ApplyResult) -> list[Change]:
        """The changes not yet held and acceptable, each once."""
        # Time and origin are checked per origin first: a clock check passes
        # for every change of an origin when it passes for the latest one.
        latest: dict[str, int] = {}
        for c in changes:  # (origin, seq, hlc, ...): indexing is faster than the names
            if c[2] > latest.get(c[0], -1):
                latest[c[0]] = c[2]
        state: dict[str, tuple[int, int]] = {}
        for part in _chunks(sorted(latest)):
            q = ",".join("?" * len(part))
            for o, cont, mx in self._conn.execute(
                f"SELECT origin, contiguous, max_seq FROM replicas WHERE origin IN ({q})", part
            ):
                state[o] = (cont, mx)
        refused_from: dict[str, tuple[int, str]] = {}
        own_max = state.get(self.replica_id, (0, 0))[1]
        suspect = set()
        for origin, hlc in latest.items():
            try:
                self.clock.check(hlc)
            except clock.ClockSkewError:
                suspect.add(origin)
        if self.replica_id in latest:
            suspect.add(self.replica_id)
        for c in changes if suspect else ():
            if c.origin not in suspect:
                continue
            reason = None
            if c.origin == self.replica_id and c.seq > own_max:
                reason = "claims to come from this console, which never made it"
            else:
                try:
                    self.clock.check(c.hlc)
                except clock.ClockSkewError as exc:
                    reason = str(exc)
            if reason and (c.origin not in refused_from or c.seq < refused_from[c.origin][0]):
                refused_from[c.origin] = (c.seq, reason)
        result.refused = [(o, s, r) for o, (s, r) in sorted(refused_from.items())]
        # Per origin: held up to `cont` for sure, perhaps up to `mx`, and
        # refused from `limit` on.
        bounds = {
            o: (*state.get(o, (0, 0)), refused_from[o][0] if o in refused_from else 1 << 62) for o in latest
        }
        seen: set[tuple[str, int]] = set()
        fresh: list[Change] = []
        maybe: dict[str, list[Change]] = defaultdict(list)
        add_seen, add_fresh = seen.add, fresh.append
        for c in changes:
            origin, seq = c[0], c[1]
            cont, mx, limit = bounds[origin]
            if seq <= cont or seq >= limit:
                continue
            key = (origin, seq)
            if key in seen:
                continue
            add_seen(key)
            if seq <= mx:
                maybe[origin].append(c)
            else:
                add_fresh(c)
        for origin, cs in maybe.items():
            held = set()
            seqs = sorted(c.seq for c in cs)
            for part in _chunks(seqs):
                q = ",".join("?" * len(part))
                held.update(s for (s,) in self._conn.execute(
                    f"SELECT seq FROM changes WHERE origin = ? AND seq IN ({q})", [origin, *part]
                ))
            fresh.extend(c for c in cs if c.seq not in held)
        if fresh:
            self.clock.observe(max(c.hlc for c in fresh))
        return fresh

    def _sync_clock(self) -> None:
        # Another process may have written to this file since we last looked.
        self.clock.observe(int(self._meta("hlc") or 0))

    def _save_clock(self) -> None:
        self._set_meta("hlc", str(self.clock.last))

    # ------------------------------------------------- trust and peer state

    ROLES = ("editor", "observer")

    @_guard
    def trust(self, console_id: str, agency: str, role: str = "editor") -> None:
        """Put a console on the trust list (or change its agency or role)."""
        if role not in self.ROLES:
            raise ValidationError(f"role must be editor or observer, not {role!r}")
        if not (agency or "").strip():
            raise ValidationError("give the console's agency")
        agency = model.check_name("agency", agency)
        with self._tx():
            self._conn.execute(
                "INSERT INTO trust(console_id, agency, role, added_at) VALUES (?,?,?,?) "
                "ON CONFLICT(console_id) DO UPDATE SET agency = excluded.agency, role = excluded.role",
                (console_id, agency, role, clock.to_iso(self.clock.now())),
            )

    @_guard
    def untrust(self, console_id: str) -> None:
        with self._tx():
            if not self._conn.execute("DELETE FROM trust WHERE console_id = ?", (console_id,)).rowcount:
                raise NotFound(f"console {console_id} is not on the trust list")

    @_guard
    def trust_list(self) -> tuple[tuple[str, str, str], ...]:
        """(console ID, agency, role) of every trusted console, in ID order."""
        return tuple(self._conn.execute("SELECT console_id, agency, role FROM trust ORDER BY console_id"))

    @_guard
    def trusted(self, console_id: str) -> tuple[str, str] | None:
        """(agency, role) of a trusted console, or None."""
        r = self._conn.execute("SELECT agency, role FROM trust WHERE console_id = ?", (console_id,)).fetchone()
        return (r[0], r[1]) if r else None

    @_guard
    def dial_list(self) -> list[str]:
        """The addresses (wss://HOST:PORT) the window connects to whenever
        it opens, in the order they were added (Peers ▸ Connect): local to
        this console, never synced."""
        raw = self._meta("dial")
        try:
            urls = json.loads(raw) if raw else []
        except ValueError:
            urls = None
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            log.warning("%s: the addresses to connect to are unreadable; connecting to none", self.path)
            return []
        return urls

    @_guard
    def remember_dial(self, url: str) -> None:
        """Connect to `url` whenever the window opens (see dial_list)."""
        with self._tx():
            urls = self.dial_list()
            if url not in urls:
                self._set_meta("dial", json.dumps([*urls, url]))

    @_guard
    def forget_dial(self, url: str) -> bool:
        """No longer connect to `url` when the window opens; whether it was
        remembered."""
        with self._tx():
            urls = self.dial_list()
            if url not in urls:
                return False
            self._set_meta("dial", json.dumps([u for u in urls if u != url]))
            return True

    @_guard
    def peers(self) -> list[dict]:
        """The trust list with what was last known of each console."""
        out = []
        for cid, agency, role, added, address, replica, seen, acked, sent, received in self._conn.execute(
            "SELECT t.console_id, t.agency, t.role, t.added_at, p.address, p.replica_id, p.last_seen, "
            "coalesce(p.acked_vv, '{}'), coalesce(p.sent, 0), coalesce(p.received, 0) "
            "FROM trust t LEFT JOIN peer_state p USING (console_id) ORDER BY t.agency, t.console_id"
        ):
            vv = json.loads(acked)
            out.append({
                "console_id": cid, "agency": agency, "role": role, "added_at": added, "address": address,
                "replica_id": replica, "last_seen": seen, "sent": sent, "received": received,
                "owed": self.count_missing(vv) if seen else None,
            })
        return out

    @_guard
    def record_peer(self, console_id: str, *, address: str | None = None, agency: str | None = None,
                    replica_id: str | None = None, acked_vv: Mapping[str, int] | None = None,
                    sent: int = 0, received: int = 0, hello: bool = False) -> None:
        """Remember what was seen of a peer (last contact, what it has
        acknowledged). At a `hello`, `acked_vv` is what the peer says it
        holds, and replaces what was known. Otherwise it is what a session
        with replica `replica_id` of the peer has acknowledged since, and
        only adds to what is known of that replica: a session that ends
        after a newer one of the same peer began (a dropped connection
        noticed late, once the peer had dialled again) knows less than the
        newer one, and one of a replica the peer no longer is (restored
        from a backup since) knows nothing of it."""
        with self._tx():
            vv = {r: int(s) for r, s in (acked_vv or {}).items()}
            known = self._conn.execute("SELECT replica_id, acked_vv FROM peer_state WHERE console_id = ?",
                                       (console_id,)).fetchone()
            if known is not None and not hello:
                had = json.loads(known[1])
                if replica_id is not None and known[0] is not None and replica_id != known[0]:
                    vv = had
                else:
                    vv = had | {r: max(int(had.get(r, 0)), s) for r, s in vv.items()}
                replica_id = known[0] if known[0] is not None else replica_id
            self._conn.execute(
                "INSERT INTO peer_state(console_id, address, agency, replica_id, last_seen, acked_vv, sent, received) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(console_id) DO UPDATE SET "
                "address = coalesce(excluded.address, address), agency = coalesce(excluded.agency, agency), "
                "replica_id = coalesce(excluded.replica_id, replica_id), last_seen = excluded.last_seen, "
                "acked_vv = excluded.acked_vv, "
                "sent = sent + excluded.sent, received = received + excluded.received",
                (console_id, address, agency, replica_id, clock.to_iso(self.clock.now()),
                 json.dumps(vv), sent, received),
            )

    @_guard
    def last_contact(self) -> str | None:
        """When a console on the trust list was last connected here, as far
        as written down (sync writes it at each hello, at most once a second
        while changes are acknowledged, and when a connection ends)."""
        return self._conn.execute(
            "SELECT max(p.last_seen) FROM peer_state p JOIN trust t USING (console_id)"
        ).fetchone()[0]

    @_guard
    def outbox(self, acked: int = 0) -> int:
        """Changes made here that no peer has acknowledged yet: as written
        down, or up to `acked` (what a connected peer has acknowledged
        since; sync writes that down about once a second)."""
        mine = self._conn.execute(
            "SELECT max_seq FROM replicas WHERE origin = ?", (self.replica_id,)
        ).fetchone()
        if not mine:
            return 0
        best = acked
        for (vv,) in self._conn.execute("SELECT acked_vv FROM peer_state"):
            best = max(best, int(json.loads(vv).get(self.replica_id, 0)))
        return max(0, mine[0] - best)

    @_guard
    def waiting(self, n: int, limit: int = 10) -> list[model.JournalEntry]:
        """What this console's last `n` changes did, as their journal
        entries say, newest first (at most `limit`): the operations among
        the changes waiting to sync."""
        mine = self.own_max_seq()
        if n <= 0 or not mine:
            return []
        # From the journal's index, from the first of those changes on: not
        # through every change waiting, which after a bulk add can be tens of
        # thousands with one entry among them.
        first = self._conn.execute("SELECT hlc FROM changes WHERE origin = ? AND seq > ? ORDER BY seq LIMIT 1",
                                   (self.replica_id, mine - n)).fetchone()
        if first is None:
            return []
        cols = ", ".join(model.record_fields("journal"))
        return [model.JournalEntry(*r) for r in self._conn.execute(
            f"SELECT {cols} FROM journal WHERE created_hlc >= ? AND created_by = ? AND created_seq > ? "
            "ORDER BY created_hlc DESC, id LIMIT ?", (first[0], self.replica_id, mine - n, int(limit)))]

    @_guard
    def own_max_seq(self) -> int:
        r = self._conn.execute("SELECT max_seq FROM replicas WHERE origin = ?", (self.replica_id,)).fetchone()
        return r[0] if r else 0

    @_guard
    def data_version(self) -> int:
        """Changes whenever another connection commits (PRAGMA data_version)."""
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    # ----------------------------------------------------------- local writes

    @contextlib.contextmanager
    def _writing(self) -> Iterator[_Writer]:
        """A local write: one transaction in which the operation's changes get
        this replica's next sequence numbers and fresh clock times, then go
        through the same merge as changes from peers."""
        with gc_paused(), self._tx():
            self._sync_clock()
            r = self._conn.execute(
                "SELECT max_seq FROM replicas WHERE origin = ?", (self.replica_id,)
            ).fetchone()
            w = _Writer(self, r[0] if r else 0)
            yield w
            cs = self._merge(w.changes, local=True) if w.changes else None
            self._save_clock()
        if cs:
            self.last_operation = _operation(w.changes)
            self._notify(cs)

    def _live_row(self, t: model.Table, ref: str, *, deleted: bool = False) -> dict:
        row_id = self.resolve_id(t.name, ref, live=not deleted)
        cols = ["id", *t.names] + ([] if t.append_only else ["deleted"]) + ["created_by", "created_seq"]
        r = self._conn.execute(f"SELECT {', '.join(cols)} FROM {t.name} WHERE id = ?", (row_id,)).fetchone()
        return dict(zip(cols, r, strict=True))

    def _prepare(self, t: model.Table, name: str, value: Any, *, row_id: str | None = None,
                 unique: bool = True) -> Any:
        """A value typed or picked by a person, checked and with references
        resolved; raises ValidationError with a message for that person.
        `unique=False` leaves the callsign check to the caller (add_many
        checks a whole batch in one query)."""
        f = t.field(name)
        if f.type == "ref" and isinstance(value, str) and value.strip():
            try:
                value = self.resolve_id(f.ref, value, live=True)
            except NotFound:
                raise ValidationError(f"{t.name}.{name}: there is no {f.ref[:-1]} {value!r}") from None
        value = model.check_given(t, f, value)
        if f.counter or f is model.LOW_AT:  # (stock, and the mark it is low at, count to the thousandth)
            model.check_counter_places(t, f, value)
        if unique and t.name == "units" and name == "callsign" and value:
            clash = self._conn.execute(
                "SELECT agency FROM units WHERE callsign = ? COLLATE NOCASE AND deleted = 0 "
                "AND created_hlc IS NOT NULL AND id IS NOT ?",
                (value, row_id),
            ).fetchone()
            if clash:
                raise ValidationError(f"callsign {value!r} is already in use ({clash[0]})")
        return value

    def _new_values(self, t: model.Table, values: Mapping[str, Any]) -> dict[str, Any]:
        if t.append_only:
            raise ValidationError(f"{t.name} entries are added as notes")
        for name in values:
            if t.field(name) is model.DELETED:
                raise ValidationError("a new row cannot start deleted")
            _not_hidden(t, name)
        out = {}
        for f in t.fields:
            value = values.get(f.name, f.default)
            if value is None and f.counter:
                value = f.default  # (stock left empty is none: 0)
            out[f.name] = (self._prepare(t, f.name, value, unique=False) if f.type in ("ref", "counter")
                           else model.check_given(t, f, value))
        return out

    def _spell_agency(self, name: Any, looked: list[bool]) -> Any:
        """An agency's name as it is spelled in use, when it is given in
        another letter case or spacing ("county  fire" is County Fire, the
        most used spelling); a name new to the boards as given. Names in
        use are read from the live rows (and this console's agency and trust
        list) when first needed, and again, once per write (`looked`), for
        a name not met before: one that arrived from a peer meanwhile."""
        if not isinstance(name, str) or not name:
            return name
        spelled = self._agency_spelled.get(name)
        if spelled is not None:
            return spelled
        key = model.name_key(name)
        if self._agency_spellings is None or (key not in self._agency_spellings and not looked[0]):
            looked[0] = True
            counts: Counter[str] = Counter({n: 0 for n in (self.agency, *(a for _, a, _ in self.trust_list()))})
            for t in model.TABLES.values():
                for f in () if t.append_only else t.fields:
                    if f.name in model.AGENCY_FIELDS:
                        counts.update(dict(self._conn.execute(
                            f"SELECT {f.name}, count(*) FROM {t.name} WHERE deleted = 0 AND created_hlc IS NOT NULL "
                            f"AND {f.name} IS NOT NULL GROUP BY {f.name}")))
            self._agency_spellings = {model.name_key(n): sp for n, sp in model.spellings(counts).items()}
            self._agency_spelled.clear()
        spelled = self._agency_spellings.setdefault(key, name)
        self._agency_spelled[name] = spelled
        return spelled

    def _check_callsigns_free(self, callsigns: list[str]) -> None:
        for part in _chunks(callsigns):
            q = ",".join("?" * len(part))
            clash = self._conn.execute(
                f"SELECT callsign, agency FROM units WHERE callsign COLLATE NOCASE IN ({q}) "
                "AND deleted = 0 AND created_hlc IS NOT NULL LIMIT 1",
                part,
            ).fetchone()
            if clash:
                raise ValidationError(f"callsign {clash[0]!r} is already in use ({clash[1]})")

    @_guard
    def describe(self, table: str, field: str, value: Any) -> str:
        """A field's value as a person reads it: a task by its title (a unit
        by its callsign), a status as words, "—" for none."""
        return self._describe(model.table(table), field, value)

    def _said(self, t: model.Table, name: str, old: Any, new: Any) -> str:
        """A field's change as the journal says it: "task — → Sandbag Main St"."""
        return f"{model.field_label(name)} {self._describe(t, name, old)} → {self._describe(t, name, new)}"

    def _describe(self, t: model.Table, name: str, value: Any) -> str:
        f = t.field(name)
        if value is None or value == "":
            return "—"
        if f.type == "bool":
            return "yes" if value else "no"
        if f.type == "ref":
            label = self._label(model.TABLES[f.ref], value)
            if name == "merged_into":
                # Stock entered twice reads alike: a conflict between two
                # merges would offer "Sandbags" and "Sandbags". Which one.
                added = self.added_by(f.ref, [value]).get(value)
                if added is not None:
                    label += f" (the one added by {added[2]}, {added[1]})"
            return label
        if f.type == "enum":
            return model.label(value)
        if isinstance(value, float) and value == int(value):
            return str(int(value))
        return str(value)

    @_guard
    def add(self, table: str, values: Mapping[str, Any]) -> str:
        """Create a row; returns its new id."""
        return self.add_many(table, [values])[0]

    @_guard
    def add_many(self, table: str, rows: Iterable[Mapping[str, Any]], *, summary: str | None = None,
                 where: Sequence[str] | None = None) -> list[str]:
        """Create many rows in one transaction, with one journal entry.
        `where`: what to call each row in an error ("roster.csv, line 7")."""
        t = model.table(table)
        if t.append_only:
            return self._notes(rows)
        with self._writing() as w:
            prepared = []
            seen_callsigns: set[str] = set()
            agencies, looked = [n for n in t.names if n in model.AGENCY_FIELDS], [False]
            spelled = self._agency_spelled  # (what _spell_agency gave each name: looked up first, as it is quicker)
            for i, values in enumerate(rows):
                try:
                    if t.name == "units" and values.get("task_id") and "status" not in values:
                        values = {**values, "status": "dispatched"}  # as an edit putting it on a task
                    vals = self._new_values(t, values)
                    for name in agencies:
                        vals[name] = spelled.get(vals[name]) or self._spell_agency(vals[name], looked)
                    if t.name == "units":
                        key = vals["callsign"].lower()
                        if key in seen_callsigns:
                            raise ValidationError(f"callsign {vals['callsign']!r} appears twice")
                        seen_callsigns.add(key)
                except ValidationError as exc:
                    if where is None:
                        raise
                    raise ValidationError(f"{where[i]}: {exc}") from None
                prepared.append(vals)
            if t.name == "units":
                self._check_callsigns_free([v["callsign"] for v in prepared])
            ids = []
            for vals in prepared:
                c = w.change(t.name, new_id(), ROW_FIELD, "insert", vals)
                ids.append(c.row)
            singular = t.name[:-1]
            if len(prepared) == 1:
                vals = prepared[0]
                extra = {"units": ("agency", "kind"), "tasks": ("priority",), "resources": ("agency", "quantity")}
                bits = ", ".join(self._describe(t, k, vals[k]) for k in extra[t.name] if vals.get(k) is not None)
                text = f"Added {singular} {vals[t.label]}" + (f" ({bits})" if bits else "")
                w.journal("add", text, t.name, ids[0])
            elif prepared:
                w.journal("add", summary or f"Added {len(prepared)} {t.name}", t.name, None)
            if t.name == "units":
                self._tasks_staffed(w, {v["task_id"] for v in prepared})
        return ids

    @_guard
    def update(self, table: str, ref: str, values: Mapping[str, Any]) -> list[Change]:
        """Change fields of a row. Setting a counter records the difference;
        `deleted=False` restores a deleted row. Returns the changes made
        (none if every value was already current)."""
        return self.update_many(table, [ref], values)

    @_guard
    def update_many(self, table: str, refs: Iterable[str], values: Mapping[str, Any]) -> list[Change]:
        """Give several rows the same values (the selected units a status,
        say) in one transaction, so that all change or none, and one undo
        takes them all back. Returns the changes made."""
        t = model.table(table)
        if t.append_only:
            raise ValidationError(f"{t.name} is append-only: entries are never changed")
        if not values:
            raise ValidationError("nothing to change: give FIELD=VALUE")
        restoring = dict(values) == {"deleted": False}
        if "deleted" in values and not restoring:
            raise ValidationError("use delete to delete a row; deleted=false restores one")
        for name in values:
            _not_hidden(t, name)
        with self._writing() as w:
            if t.name == "units" and not restoring:
                # Read once for every row (a task named by a short id, a
                # status in words), as the dispatch rules compare them.
                values = {k: self._prepare(t, k, v) if k in ("task_id", "status") else v for k, v in values.items()}
            done: set[str] = set()
            left: set[str] = set()  # the tasks units were taken off
            agencies, looked = [n for n in values if n in model.AGENCY_FIELDS], [False]
            for ref in refs:
                row = self._live_row(t, ref, deleted=restoring)
                if row["id"] not in done:
                    done.add(row["id"])
                    implied = {} if restoring or t.name != "units" else self._dispatch_rules(row, values)
                    # An agency is spelled as in use, unless the row's own is
                    # spelled anew: that is what the edit is for.
                    spelled = {n: self._spell_agency(values[n], looked) for n in agencies
                               if not isinstance(values[n], str) or not isinstance(row[n], str)
                               or model.name_key(values[n]) != model.name_key(row[n])}
                    if len(spelled) < len(agencies):  # spelled anew: read the names in use again
                        self._agency_spellings = None
                        self._agency_spelled.clear()
                    made = len(w.changes)
                    self._update(w, t, row, {**values, **spelled, **implied}, restoring)
                    if t.name == "units" and row["task_id"] and any(
                            c.field == "task_id" for c in w.changes[made:]):
                        left.add(row["task_id"])
            moved = {c.row: c.value for c in w.changes if c.table == "units" and c.field == "task_id"}
            self._tasks_staffed(w, set(moved.values()))
            self._tasks_unstaffed(w, left - set(moved.values()), set(moved))
            return [c for c in w.changes if c.table == t.name]

    def _dispatch_rules(self, unit: dict, values: Mapping[str, Any]) -> dict[str, Any]:
        """What else an edit of a unit (its values as stored) means, as
        dispatchers work: put on another task, it is dispatched to it
        (unless its status is given in the same edit, or it is dispatched
        already); made available, it is off its task (unless a task is
        given). Either is written with the edit: the same transaction,
        journal entry and undo."""
        if "task_id" in values and "status" not in values:
            task = values["task_id"]
            if task is not None and task != unit["task_id"] and unit["status"] != "dispatched":
                return {"status": "dispatched"}
        if values.get("status") == "available" and "task_id" not in values and unit["task_id"] is not None:
            return {"task_id": None}
        return {}

    def _tasks_staffed(self, w: _Writer, task_ids: Collection[str | None]) -> None:
        """A task still open that units were put on is assigned."""
        for task_id in task_ids:
            if task_id is None:
                continue
            task = self._live_row(model.TASKS, task_id)
            if task["status"] == "open":
                self._update(w, model.TASKS, task, {"status": "assigned"}, False)

    def _tasks_unstaffed(self, w: _Writer, task_ids: Collection[str], moved: Collection[str]) -> None:
        """A task assigned that the last of its units was taken off (the
        units `moved` by this edit, or deleted) is open again, to be
        staffed: a task under way stays so."""
        for task_id in task_ids:
            task = self._live_row(model.TASKS, task_id, deleted=True)
            if task["deleted"] or task["status"] != "assigned":
                continue
            others = self._conn.execute(
                "SELECT id FROM units WHERE task_id = ? AND deleted = 0 AND created_hlc IS NOT NULL", (task_id,))
            if not [uid for (uid,) in others if uid not in moved]:
                self._update(w, model.TASKS, task, {"status": "open"}, False)

    def _update(self, w: _Writer, t: model.Table, row: dict, values: Mapping[str, Any], restoring: bool) -> None:
        if restoring and not row["deleted"]:
            return
        heads = self._row_heads(t.name, row["id"])
        said = []
        for name, raw in values.items():
            f = t.field(name)
            value = self._prepare(t, name, raw, row_id=row["id"])
            old = row.get(name)
            if f.counter:
                delta = _number(_counter_sum(value, -(old or 0)))
                if delta:
                    w.change(t.name, row["id"], name, "add", delta)
                    said.append(self._said(t, name, old, value))
                continue
            if f.type == "bool":
                old = None if old is None else bool(old)
            if old == value and len(heads.get(name, ())) <= 1:
                continue
            w.change(t.name, row["id"], name, "set", value, self._prev(row, heads, name))
            said.append(self._said(t, name, old, value))
        if not said:
            return
        name = row[t.label] or short_id(row["id"])
        if restoring:
            w.journal("restore", f"Restored {t.name[:-1]} {name}", t.name, row["id"])
        else:
            w.journal("set", f"{name}: " + "; ".join(said), t.name, row["id"])

    @_guard
    def delete(self, table: str, ref: str) -> None:
        """Delete a row: a tombstone that syncs, never a physical delete."""
        self.delete_many(table, [ref])

    @_guard
    def delete_many(self, table: str, refs: Iterable[str]) -> None:
        """Delete several rows in one transaction: all or none."""
        t = model.table(table)
        if t.append_only:
            raise ValidationError(f"{t.name} is append-only: entries are never deleted")
        with self._writing() as w:
            done: set[str] = set()
            left: set[str] = set()  # the tasks of units deleted
            for ref in refs:
                row = self._live_row(t, ref)
                if row["id"] not in done:
                    done.add(row["id"])
                    self._delete(w, t, row)
                    if t.name == "units" and row["task_id"]:
                        left.add(row["task_id"])
            self._tasks_unstaffed(w, left, done)

    def _delete(self, w: _Writer, t: model.Table, row: dict) -> None:
        heads = self._row_heads(t.name, row["id"])
        seen = sorted({hid for hs in heads.values() for hid in hs}) or [(row["created_by"], row["created_seq"])]
        if row.get("merged_into") is not None:
            # Restored after a merge, now deleted: its stock goes with it,
            # not into the item it was once merged into.
            c = w.change(t.name, row["id"], "merged_into", "set", None, self._prev(row, heads, "merged_into"))
            seen = sorted({*seen, c.id} - set(heads.get("merged_into") or ()))
        w.change(t.name, row["id"], "deleted", "delete", True, seen)
        w.journal("delete", f"Deleted {t.name[:-1]} {row[t.label]}", t.name, row["id"])
        if t.name == "tasks":
            self._unassign(w, row["id"])

    def _unassign(self, w: _Writer, task_id: str, keep: Collection[str] = ()) -> None:
        """Units on a deleted task are not on it any more (but those in
        `keep`, which the caller changes itself)."""
        for (uid,) in self._conn.execute(
            "SELECT id FROM units WHERE task_id = ? AND deleted = 0", (task_id,)
        ).fetchall():
            if uid in keep:
                continue
            unit = self._live_row(model.UNITS, uid)
            uh = self._row_heads("units", uid)
            w.change("units", uid, "task_id", "set", None, self._prev(unit, uh, "task_id"))

    @_guard
    def merge_units(self, refs: Sequence[str], *, keep: str | None = None) -> str:
        """Make units that are one unit one row again: the same ambulance
        added on two consoles while they were apart, so that its callsign
        is on the boards twice (see twins). Returns the id of the row kept.

        The row kept is always the first added (by time, then id), on
        every console, whichever units a person picks: so two people who
        merge the same units at once, on consoles apart, keep the same row,
        and their picks of values meet there as a conflict to reconcile,
        instead of each deleting the other's. `keep` names the unit whose
        values (status, task, location, crew...) the merged unit takes;
        by default the first added's stay. The others are deleted. A
        status taken from another unit keeps the time it was set there.
        Units with a conflict open are refused (reconciled first). One
        transaction, one step to undo."""
        return self._merge_rows(model.UNITS, refs, keep)

    @_guard
    def merge_resources(self, refs: Sequence[str], *, keep: str | None = None) -> str:
        """Make stock items that are one stock one row again: the same
        pallet of sandbags entered at two consoles (apart, or by two people
        at once), so that draws split between two rows and neither shows
        what is on hand. Returns the id of the row kept: the first added,
        as merge_units keeps. It takes the values (name, kind, owning
        agency, place, unit of measure, low mark) of the item `keep` names
        (by default the first added's; where it has no low mark, the
        highest the others have); its quantity is theirs added up. The
        others are deleted, each naming the row kept (merged_into): their
        stock counts in it from then on, stock drawn from them on consoles
        that have not seen the merge yet included, and two people merging
        the same items at once count them once. Items counted in different
        units of measure, or with a conflict open, are refused. One
        transaction, one step to undo."""
        return self._merge_rows(model.RESOURCES, refs, keep)

    @_guard
    def merge_tasks(self, refs: Sequence[str], *, keep: str | None = None) -> str:
        """Make tasks that are one task one row again: the same call
        entered at two consoles (apart, or by two dispatchers at once), so
        that units are sent to it under two rows. Returns the id of the row
        kept: the first added, as merge_units keeps. It takes the values
        (title, priority, status, place, due time...) of the task `keep`
        names (by default the first added's), and the units on the others
        are moved onto it as they are (their statuses unchanged); a task
        left open with units on it is assigned, one left assigned with none
        open. The others are deleted; the journal keeps what they said.
        Tasks with a conflict open, or units on them with their task in
        conflict, are refused (reconciled first). One transaction, one step
        to undo."""
        return self._merge_rows(model.TASKS, refs, keep)

    def _merge_rows(self, t: model.Table, refs: Sequence[str], keep: str | None) -> str:
        what = t.name
        with self._writing() as w:
            rows: dict[str, dict] = {}
            for ref in refs:
                row = self._live_row(t, ref)
                rows.setdefault(row["id"], row)
            if len(rows) < 2:
                raise ValidationError(f"name two or more {what} to merge into one")
            if len(rows) > MERGE_LIMIT:
                raise ValidationError(f"{len(rows)} {what} named: at most {MERGE_LIMIT} are merged into one at once")
            if keep is not None:
                keep = self.resolve_id(what, keep)
                if keep not in rows:
                    raise ValidationError(f"the {what[:-1]} whose values to keep must be one of those merged")
            if t is model.RESOURCES:
                measures = {model.name_key(r["unit"] or ""): r["unit"] or "none" for r in rows.values()}
                if len(measures) > 1:
                    raise ValidationError(f"{', '.join(sorted({r['name'] for r in rows.values()}))} are counted in "
                                          f"different units ({', '.join(sorted(measures.values()))}): their stock "
                                          "cannot be added up; make the units the same first")
            marks = ",".join("?" * len(rows))
            # A merge writes the fields the rows disagree on (and a task's
            # merge the task of the units on the others): it would decide an
            # open conflict unseen. That is the person's, first.
            open_ = self._conn.execute(
                f"SELECT row_id, field FROM conflicts WHERE tbl = ? AND row_id IN ({marks}) ORDER BY row_id, field",
                (what, *rows)).fetchone()
            if open_:
                raise ValidationError(f"{rows[open_[0]][t.label]}: its {model.field_label(open_[1])} is in "
                                      "conflict; reconcile that first, then merge")
            added, since = {}, {}
            for row_id, hlc, at in self._conn.execute(
                    f"SELECT id, created_hlc, {'status_since' if t is model.UNITS else 'NULL'} FROM {what} "
                    f"WHERE id IN ({marks})", list(rows)):
                added[row_id], since[row_id] = hlc, at or ""
            first = min(rows, key=lambda r: (added[r], r))
            into, given = rows[first], rows[keep or first]
            others = [r for r in rows if r != first]
            moving: list[dict] = []  # a task merge: the units on the others
            if t is model.UNITS and given is not into:
                clash = self._conn.execute(
                    "SELECT agency FROM units WHERE callsign = ? COLLATE NOCASE AND deleted = 0 "
                    f"AND created_hlc IS NOT NULL AND id NOT IN ({marks})",
                    (given["callsign"], *rows)).fetchone()
                if clash:
                    raise ValidationError(f"callsign {given['callsign']!r} is already in use ({clash[0]})")
            if t is model.TASKS:
                moving = [self._live_row(model.UNITS, uid) for (uid,) in self._conn.execute(
                    f"SELECT id FROM units WHERE task_id IN ({','.join('?' * len(others))}) AND deleted = 0 "
                    "AND created_hlc IS NOT NULL ORDER BY callsign COLLATE NOCASE, id", others).fetchall()]
                if moving:
                    torn = self._conn.execute(
                        f"SELECT row_id FROM conflicts WHERE tbl = 'units' AND field = 'task_id' AND row_id IN "
                        f"({','.join('?' * len(moving))}) ORDER BY row_id", [u["id"] for u in moving]).fetchone()
                    if torn:
                        callsign = next(u["callsign"] for u in moving if u["id"] == torn[0])
                        raise ValidationError(f"{callsign}: its task is in conflict; reconcile that first, "
                                              "then merge")

            def who(row: dict) -> str:
                op, ag = self._conn.execute("SELECT operator, agency FROM changes WHERE origin = ? AND seq = ?",
                                            (row["created_by"], row["created_seq"])).fetchone()
                return f"{ag} ({op}) at {clock.to_iso(added[row['id']])[11:16]} UTC"

            values = dict(given)
            if t is model.TASKS:
                # Staffed or not as the units on it after the merge say (see
                # _tasks_staffed and _tasks_unstaffed).
                staffed = bool(moving) or self._conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM units WHERE task_id = ? AND deleted = 0 "
                    "AND created_hlc IS NOT NULL)", (first,)).fetchone()[0]
                if values["status"] == "open" and staffed:
                    values["status"] = "assigned"
                elif values["status"] == "assigned" and not staffed:
                    values["status"] = "open"
            if t is model.RESOURCES and values["low_at"] is None:
                # A low mark set on one of them is not lost with it: the
                # highest set, where the values kept have none.
                values["low_at"] = max((r["low_at"] for r in rows.values() if r["low_at"] is not None), default=None)
            # Each field the rows disagree on is written, even with the
            # value the row kept has: a decision, so that two people merging
            # at once with different picks meet as a conflict.
            said, looked = [], [False]
            heads = self._row_heads(what, first)
            for name in t.names:
                if name in ("quantity", "merged_into") and t is model.RESOURCES:
                    continue  # (stock is added up: see below)
                old, new = into[name], values[name]
                if name in model.AGENCY_FIELDS and new is not None:
                    new = self._spell_agency(new, looked)  # as the boards spell it
                earlier = name == "status" and t is model.UNITS and old == new and since[given["id"]] < since[first]
                if old == new and all(rows[r][name] == old for r in others) and not earlier:
                    continue
                prev = self._prev(into, heads, name)
                if name == "status" and t is model.UNITS:
                    # Named with the others' statuses, so that the time the
                    # status kept was set comes with it (see _status_since).
                    prev = sorted({*prev, *(self._status_version(rows[r]) for r in others)})
                w.change(what, first, name, "set", new, prev)
                if old != new:
                    said.append(self._said(t, name, old, new))
            for unit in moving:
                uh = self._row_heads("units", unit["id"])
                w.change("units", unit["id"], "task_id", "set", first, self._prev(unit, uh, "task_id"))
            if moving:
                names = [u["callsign"] for u in moving]
                said.append(f"{len(names)} unit{'s' if len(names) != 1 else ''} moved onto it from the other"
                            f"{'s' if len(others) != 1 else ''}: {', '.join(names[:20])}"
                            + (f" and {len(names) - 20} more" if len(names) > 20 else ""))
            if t is model.RESOURCES:
                # The others' stock counts in the row kept from now on,
                # with what is drawn from them on consoles that have not
                # seen the merge yet (see _regroup_stock).
                held = _number(sum(counter_units(rows[r]["quantity"] or 0) for r in others) / model.COUNTER_SCALE)
                total = _counter_sum(into["quantity"], held)
                measure = f" {into['unit']}" if into["unit"] else ""
                said.append(f"{self._describe(t, 'quantity', held)}{measure} counted in from the other"
                            f"{'s' if len(others) != 1 else ''} (now {self._describe(t, 'quantity', total)}{measure})")
            label = into[t.label]
            text = (f"{label}: {len(rows)} {what} merged into one, the one added by {who(into)}, "
                    + ("keeping its values" if given is into else f"taking the values of the one added by {who(given)}")
                    + (f": {'; '.join(said)}" if said else ""))
            w.journal("merge", text, what, first)
            for other in others:
                row = rows[other]
                hs = self._row_heads(what, other)
                seen = sorted({hid for h in hs.values() for hid in h}) or [(row["created_by"], row["created_seq"])]
                if t is model.RESOURCES:
                    c = w.change(what, other, "merged_into", "set", first, self._prev(row, hs, "merged_into"))
                    seen = sorted({*seen, c.id} - set(hs.get("merged_into") or ()))
                w.change(what, other, "deleted", "delete", True, seen)
                # What it held that the row kept does not, so that the
                # journal keeps it (a description, a place...).
                held = [f"{model.field_label(n)} {self._describe(t, n, row[n])}" for n in t.names
                        if n != t.label and row[n] not in (None, "") and row[n] != values.get(n)
                        and not t.field(n).counter and not t.field(n).hidden and not (
                            n in model.AGENCY_FIELDS and model.name_key(row[n]) == model.name_key(values[n] or ""))]
                if t is model.RESOURCES and row["quantity"]:
                    held.insert(0, f"{self._describe(t, 'quantity', row['quantity'])}"
                                   f"{' ' + row['unit'] if row['unit'] else ''}, counted in it")
                w.journal("merge", f"{row[t.label]} (added by {who(row)}) merged into the {label} "
                          f"added by {who(into)}, and deleted" + (f"; it had {'; '.join(held)}" if held else ""),
                          what, other)
            if t is model.UNITS:
                # Tasks left or taken up (see update_many).
                moved = {first} if into["task_id"] != given["task_id"] else set()
                left = {rows[r]["task_id"] for r in others} | ({into["task_id"]} if moved else set())
                left.discard(None)
                self._tasks_staffed(w, {given["task_id"]} if moved else set())
                self._tasks_unstaffed(w, left - {given["task_id"]}, moved | set(others))
        return first

    def _status_version(self, unit: dict) -> tuple[str, int]:
        """The version whose status a unit shows: its status's winner, or
        its insert."""
        hs = self._row_heads("units", unit["id"]).get("status")
        if hs:
            return merge.winner(hs.values()).id
        return (unit["created_by"], unit["created_seq"])

    @_guard
    def adjust(self, ref: str, delta: float, purpose: str | None = None) -> float:
        """Add stock to (delta > 0) or draw stock from (delta < 0) a resource;
        returns the new quantity. Drawing more than is on hand is refused.
        `purpose` says what for (a task, a unit, a place), in the journal's
        entry: "Drew 300 bags from Sandbags (now 1550) for the levee breach"."""
        t = model.RESOURCES
        delta = _number(model.check(t, codec._delta("quantity"), delta))
        model.check_counter_places(t, t.field("quantity"), delta)
        if delta == 0:
            raise ValidationError("the change in quantity must not be zero")
        if purpose is not None:
            if not isinstance(purpose, str) or not model.is_text(purpose):
                raise model.not_text("what the stock is for", str(purpose))
            purpose = " ".join(purpose.split())
            if len(purpose) > PURPOSE_LIMIT:
                raise ValidationError(f"what the stock is for is {len(purpose)} characters long; at most "
                                      f"{PURPOSE_LIMIT}")
        with self._writing() as w:
            row = self._live_row(t, ref)
            have = row["quantity"] or 0
            unit = row["unit"] or ""
            now = _counter_sum(have, delta)
            if now < 0:
                raise ValidationError(
                    f"only {self._describe(t, 'quantity', have)} {unit} of {row['name']} on hand; "
                    f"cannot draw {self._describe(t, 'quantity', -delta)}"
                )
            if now > model.MAX_COUNTER:
                raise ValidationError(
                    f"{row['name']}: {self._describe(t, 'quantity', now)} {unit} is more than a stock "
                    f"count may hold ({model.MAX_COUNTER:,.0f}); is {self._describe(t, 'quantity', delta)} a typo?"
                )
            w.change(t.name, row["id"], "quantity", "add", delta)
            verb = "Added" if delta > 0 else "Drew"
            # At or below its low mark, the entry says so: the draw that
            # takes it there is what the logistics section looks for.
            low = row["low_at"]
            low = f", low: at or below {self._describe(t, 'low_at', low)}" if low is not None and now <= low else ""
            w.journal(
                "stock",
                f"{verb} {self._describe(t, 'quantity', abs(delta))} {unit} {'to' if delta > 0 else 'from'} "
                f"{row['name']} (now {self._describe(t, 'quantity', now)}{low})"
                + (f" for {purpose}" if purpose else ""),
                t.name, row["id"],
            )
        return now

    @_guard
    def kept(self, key: str) -> Any:
        """What a program kept in this database for itself under `key` (see
        keep); None if nothing was kept or what was kept cannot be read."""
        raw = self._meta(f"kept:{key}")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            log.warning("what was kept in the database as %r cannot be read; it is left out", key)
            return None

    @_guard
    def keep(self, key: str, value: Any) -> None:
        """Keep `value` (as JSON) in this database for a program of this
        console, never synced: the window's steps to undo, say."""
        text = json.dumps(value, ensure_ascii=False)
        with self._tx():
            self._set_meta(f"kept:{key}", text)

    def hand_over(self, operator: str) -> str:
        """Another person is at this console (a shift change): the changes
        made here from now on are theirs, and the journal says who took
        over from whom, in their name. Returns the name as kept."""
        new = model.check_name("operator", operator)
        old = self.operator
        if new == old:
            return new
        self.operator = new
        try:
            self.note(f"{new} takes over this console from {old}")
        except BaseException:
            self.operator = old  # not written: the shift change did not happen here
            raise
        try:
            self.keep_at_console()
        except StoreError as exc:  # the hand-over is written; only a window opened later would not know it
            log.warning("could not keep who is at this console: %s", exc)
        return new

    def keep_at_console(self) -> None:
        """Remember this Store's operator as the person at this console (named
        by a hand-over, or by a window opened in their name), so that a
        window opened later without a name goes on in theirs (see
        at_console): a window restarted after a crash does not record the
        next person's changes as the computer's login."""
        self.keep("at console", {"operator": self.operator,
                                 "since": clock.to_iso(clock.pack(self.clock.wall()))})

    def at_console(self) -> tuple[str, str] | None:
        """(name, since when) of the person last remembered as at this
        console (see keep_at_console); None if no one was, or what was kept
        is not a name."""
        kept = self.kept("at console")
        if not isinstance(kept, dict):
            return None
        try:
            name = model.check_name("operator", kept.get("operator"))
        except ValidationError:
            return None
        since = kept.get("since")
        return name, since if isinstance(since, str) else ""

    @_guard
    def note(self, text: str, table: str | None = None, ref: str | None = None) -> str:
        """Add a free note to the journal, optionally about one row."""
        return self._notes([{"text": text, "tbl": table, "row_id": ref}])[0]

    @_guard
    def check_in(self, unit_refs: Iterable[str], said: str | None = None) -> list[str]:
        """Record that units were heard from (a radio check, say), as a note
        about each, in one transaction: "E-12 checked in, en route for 35m:
        held up at the Rt 9 bridge". A unit's status timer runs from its
        last note (see last_notes). Returns the notes' ids."""
        said = " ".join((said or "").split())
        rows, seen = [], set()
        now = self.clock.wall() / 1000
        for ref in unit_refs:
            unit = self.get("units", self.resolve_id("units", ref))
            if unit.id in seen:
                continue
            seen.add(unit.id)
            text = f"{unit.callsign} checked in, {model.label(unit.status)}"
            if unit.status_since:
                at = times.due_timestamp(unit.status_since)
                if at is not None:
                    text += f" for {times.span_text(now - at)}"
            rows.append({"text": text + (f": {said}" if said else ""), "tbl": "units", "row_id": unit.id})
        if not rows:
            raise ValidationError("no unit to check in: select one")
        return self._notes(rows)

    @_guard
    def last_notes(self, table: str, since: Mapping[str, str | None]) -> dict[str, str]:
        """The time of the newest free note about each row of `since` (a
        unit checked in), of those written from the time given for it on
        (None: ever), for the rows that have one. Only the entries about
        the rows from those times are read, so a unit's long journal costs
        nothing."""
        t = model.table(table)
        out: dict[str, str] = {}
        rows = []
        for row_id, iso in since.items():
            at = times.due_timestamp(iso) if iso else None
            # Clock times run with the writer's wall clock: a minute's
            # margin for clocks a little apart.
            rows.append((_about_key(row_id), row_id, 0 if at is None else clock.pack(int(at * 1000) - 60_000)))
        for part in _chunks(rows, 300):
            values = ",".join(["(?, ?, ?)"] * len(part))
            # (A subquery per row: as a join, SQLite's planner went through
            # the whole journal for each row.)
            for row_id, at in self._conn.execute(
                    f"WITH wanted(k, id, from_hlc) AS (VALUES {values}) "
                    "SELECT wanted.id, (SELECT max(at) FROM journal WHERE created_hlc IN "
                    "(SELECT hlc FROM journal_about WHERE row_key = wanted.k AND hlc >= wanted.from_hlc) "
                    "AND tbl = ? AND row_id = wanted.id AND action = 'note') FROM wanted",
                    [*(x for r in part for x in r), t.name]):
                if at:
                    out[row_id] = at
        return out

    def _notes(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        prepared = []
        for values in rows:
            unknown = set(values) - {"text", "tbl", "row_id"}
            if unknown:
                raise ValidationError(f"a note has only text, tbl and row_id, not {sorted(unknown)[0]!r}")
            text = values.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValidationError("a note needs some text")
            if model.is_text(text):
                text = model.given_text("the note", text, lines=True)
            table, row_id = values.get("tbl"), None
            if table:
                table = model.table(table).name
                row_id = self.resolve_id(table, values.get("row_id") or "", live=False)
            prepared.append((text, table, row_id))
        with self._writing() as w:
            return [w.journal("note", text, table, row_id).row for text, table, row_id in prepared]

    @_guard
    def resolve(self, ref: str, *, keep: int | None = None, value: Any = None, raw: str | None = None) -> Change:
        """Reconcile an open conflict: keep candidate `keep` (1-based), or
        write a new `value` (or `raw`, text to parse as the field's type).
        The resolution is a change: it syncs and clears the conflict on every
        console."""
        if (keep is None) == (value is None and raw is None):
            raise ValidationError("give either a candidate to keep or a new value")
        with self._writing() as w:
            return self._resolve(w, ref, keep, value, raw)

    @_guard
    def resolve_many(self, keep: Mapping[str, int]) -> list[Change]:
        """Reconcile several open conflicts, conflict id -> candidate to keep,
        each as `resolve` would. Conflicts on different rows share one
        transaction (thousands, after a long partition, settle in about a
        second, where one transaction each took minutes); a row's second
        conflict goes in the next one, after the first is merged. A conflict
        no longer open fails its transaction, which then changes nothing."""
        rounds: list[dict[str, tuple[str, int]]] = []  # row -> (conflict id, keep), per transaction
        for cid, n in keep.items():
            row = self.conflict(cid).row
            free = next((r for r in rounds if row not in r), None)
            if free is None:
                free = {}
                rounds.append(free)
            free[row] = (cid, n)
        made = []
        for r in rounds:
            with self._writing() as w:
                made += [self._resolve(w, cid, n, None, None) for cid, n in r.values()]
        return made

    def _resolve(self, w: _Writer, ref: str, keep: int | None, value: Any, raw: str | None) -> Change:
        """One resolution inside the write `w` (see resolve)."""
        cv = self.conflict(ref)
        t = model.table(cv.table)
        heads = self._row_heads(cv.table, cv.row)
        current = merge.row_conflicts(
            cv.table, cv.row, {f: list(hs.values()) for f, hs in heads.items()}
        )
        if cv.id not in {c.id for c in current}:
            raise NotFound(f"conflict {cv.id} is no longer open")
        if keep is not None and not 1 <= keep <= len(cv.candidates):
            raise ValidationError(f"keep must be between 1 and {len(cv.candidates)}")
        row = self._live_row(t, cv.row, deleted=True)
        name = row[t.label] or short_id(cv.row)
        if cv.kind == "delete":
            if keep is None:
                raise ValidationError("an edit against a delete is resolved by keeping one side (--keep)")
            chosen = cv.candidates[keep - 1]
            gone = chosen.field == "deleted"
            seen = sorted({hid for hs in heads.values() for hid in hs})
            c = w.change(cv.table, cv.row, "deleted", "resolve", gone, seen)
            what = ("kept the delete" if gone
                    else f"kept the edit of {model.field_label(chosen.field)} and restored the row")
        else:
            f = t.field(cv.field)
            if keep is not None:
                new = cv.candidates[keep - 1].value
            else:
                new = model.parse(t, f, raw) if raw is not None else value
            if row.get("deleted") and cv.field not in merge.FIELDS_OF_THE_DELETED:
                raise ValidationError(f"{name} is deleted; restore it before reconciling its fields")
            merged_on = None  # how a stock item a side names went since: kept all the same
            went = None  # (a side's task merged into another since: the unit goes on that one)
            if keep is not None and f.type == "ref" and new is not None:
                # A side names a row by its id: said by its name if it is gone.
                ref = model.TABLES[f.ref]
                if not self._conn.execute(f"SELECT 1 FROM {ref.name} WHERE id = ? AND created_hlc IS NOT NULL",
                                          (new,)).fetchone():
                    raise ValidationError(f"{name}: that side names a {ref.name[:-1]} this console does not hold "
                                          "yet; keep another side, or reconcile it once it has arrived")
                if gone := self._side_gone(ref, new):
                    how, kept = gone
                    if kept is None:
                        raise ValidationError(f"{name}: that side puts it on {self._label(ref, new)}, now {how}; "
                                              "keep another side, or enter a new value")
                    if ref is model.TASKS:
                        went, new = self._label(ref, new), kept
                    else:
                        merged_on = how
            if merged_on is not None:
                new = model.check_given(t, f, new)
            elif keep is None:
                new = self._prepare(t, cv.field, new, row_id=cv.row)
            else:
                try:
                    new = self._prepare(t, cv.field, new, row_id=cv.row)
                except ValidationError as exc:  # (a side's callsign another unit has taken since)
                    raise ValidationError(f"{name}: that side's {exc}; keep another side, or enter a new value") \
                        from None
            c = w.change(cv.table, cv.row, cv.field, "resolve", new, sorted(heads.get(cv.field, {})))
            what = f"{model.field_label(cv.field)} = {self._describe(t, cv.field, new)}"
            if went is not None:
                what += f" (the side's {went}, merged into it)"
            elif merged_on == "deleted":
                what += " (now deleted: its stock counts there, and shows again if it is restored)"
            elif merged_on is not None:
                what += f" (now {merged_on}: its stock counts there)"
        w.journal("resolve", f"Reconciled {name}: {what}", cv.table, cv.row)
        return c

    # ------------------------------------------------------------------ undo

    @_guard
    def undo(self, ops: Sequence[Operation], *, redo: bool = False, text: str | None = None) -> Undone:
        """Take back what earlier operations of this console did, as new
        changes that sync like any other, in one transaction with one
        journal entry ("Undid: E-12: status en route → on scene"; `text`
        names what is undone, by default the operations' own entries).
        Undoing an undo is redo (`redo` only changes the wording).

        A field goes back to the value it had before, stock gets the
        opposite amount, a row added is deleted and a row deleted restored
        (with the units a deleted task had). The journal is never rewritten,
        so notes stay. A part that has moved on since is left as it is and
        said in `left`: another console changed the field or deleted the row,
        the field is in conflict (reconcile it instead), the stock would go
        below zero, the task a unit was on was deleted. If no part can be
        undone, it raises ValidationError with the reasons, writing nothing."""
        ops = sorted(ops, key=lambda o: o.first)
        if not ops:
            raise ValidationError("nothing to undo")
        if any(op.origin != self.replica_id for op in ops):
            raise ValidationError("only this console's own operations can be undone, and this database "
                                  "continues under another replica id since")
        with self._writing() as w:
            changes: list[Change] = []
            for op in ops:
                got = [_change_from_row(r) for r in self._conn.execute(
                    "SELECT origin, seq, hlc, tbl, row_id, field, kind, value, prev, operator, agency "
                    "FROM changes WHERE origin = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                    (op.origin, op.first, op.last))]
                if len(got) != op.last - op.first + 1:
                    raise NotFound(f"“{op.text}” is not in this database any more")
                changes += got
            edits = [c for c in changes if c.table != "journal"]
            if not edits:
                raise ValidationError("a note cannot be undone: the journal is never rewritten; "
                                      "add a note that corrects it")
            left = self._undo(w, edits)
            if not w.changes:
                raise ValidationError("; ".join(left) if left else "nothing to undo: it is undone already")
            if text is None:
                text = ops[0].text if len(ops) == 1 else _operation(changes).text
                if redo:
                    text = text.removeprefix("Undid: ").removeprefix("Undid in part: ")
            if len(text) > 500:
                text = text[:499] + "…"
            said = f"{'Redid' if redo else 'Undid'}{' in part' if left else ''}: {text}"
            rows = {(c.table, c.row) for c in edits}
            about = next(iter(rows)) if len(rows) == 1 else (None, None)
            w.journal("undo", said, *about)
        assert self.last_operation is not None
        return Undone(self.last_operation, said, tuple(left))

    def _undo(self, w: _Writer, edits: list[Change]) -> list[str]:
        """Write the changes that take `edits` back (see undo); returns what
        was left as it is, and why."""
        first: dict[tuple[str, str, str], Change] = {}  # per field, the first change made: what it replaced
        last: dict[tuple[str, str, str], Change] = {}  # and the last: what it left
        added: dict[tuple[str, str, str], int] = defaultdict(int)  # stock, in thousandths
        for c in edits:
            key = (c.table, c.row, c.field)
            if c.kind == "add":
                added[key] += counter_units(c.value)
            else:
                first.setdefault(key, c)
                last[key] = c
        keys = sorted({(c.table, c.row) for c in edits})
        heads: dict[tuple[str, str], dict[str, dict[tuple[str, int], Head]]] = defaultdict(lambda: defaultdict(dict))
        for tname, row, fname, h in self._load_heads(keys):
            heads[(tname, row)][fname][h.id] = h
        rows = {(tname, row): self._live_row(model.TABLES[tname], row, deleted=True) for tname, row in keys}
        left: list[str] = []

        def name(tname: str, row: str) -> str:
            r = rows[(tname, row)]
            return str(r[model.TABLES[tname].label] or short_id(row))

        def seen(tname: str, row: str) -> list[tuple[str, int]]:
            ids = sorted({hid for hs in heads[(tname, row)].values() for hid in hs})
            r = rows[(tname, row)]
            return ids or [(r["created_by"], r["created_seq"])]

        # Rows deleted or restored first: a unit goes back onto a task restored here.
        restoring: set[str] = set()
        deleting: list[tuple[str, str]] = []
        for (tname, row, fname), c0 in first.items():
            if fname != "deleted":
                continue
            after = bool(last[(tname, row, fname)].value)
            before = c0.kind != "delete"  # a restore, or a resolve, found the row deleted
            if before == after:
                continue
            hs = heads[(tname, row)].get("deleted", {})
            if bool(rows[(tname, row)]["deleted"]) != after:
                left.append(f"{name(tname, row)}: {'deleted' if before else 'restored'} since on another console")
            elif len(hs) > 1:
                left.append(f"{name(tname, row)}: deleted and edited at once; reconcile it instead")
            elif before:
                deleting.append((tname, row))
            else:
                w.change(tname, row, "deleted", "set", False, sorted(hs) or seen(tname, row))
                restoring.add(row)
        for tname, row in deleting:
            w.change(tname, row, "deleted", "delete", True, seen(tname, row))
            if tname == "tasks":
                self._unassign(w, row, keep={r for t, r, f in first if t == "units" and f == "task_id"})
        # Fields back to what they were.
        for (tname, row, fname), c0 in first.items():
            if fname in ("deleted", ROW_FIELD):
                continue
            t, f, r = model.TABLES[tname], model.TABLES[tname].field(fname), rows[(tname, row)]
            what = f"{name(tname, row)}: {model.field_label(fname)}"
            after = last[(tname, row, fname)].value
            hs = heads[(tname, row)].get(fname, {})
            if r["deleted"] and row not in restoring:
                left.append(f"{name(tname, row)}: deleted since")
                continue
            if len(hs) > 1:
                left.append(f"{what} is in conflict; reconcile it instead")
                continue
            h = next(iter(hs.values()), None)
            if h is None or json.loads(h.value) != after:
                now = json.loads(h.value) if h else r[fname]
                op, ag = self._conn.execute("SELECT operator, agency FROM changes WHERE origin = ? AND seq = ?",
                                            h.id if h else (r["created_by"], r["created_seq"])).fetchone()
                left.append(f"{what} changed since to {self._describe(t, fname, now)} by {op} ({ag})")
                continue
            held, before = self._value_before(c0.prev, row, fname)
            if held is None:
                left.append(f"{what}: the value before is not held here")
                continue
            if before == after:
                continue
            if f.type == "ref" and before is not None and before not in restoring and not self._conn.execute(
                f"SELECT 1 FROM {f.ref} WHERE id = ? AND deleted = 0 AND created_hlc IS NOT NULL", (before,)
            ).fetchone():
                left.append(f"{what} was {self._describe(t, fname, before)}, {self._gone(f.ref, before, c0.hlc)}")
                continue
            try:
                value = model.check(t, f, before) if f.type == "ref" else self._prepare(t, fname, before, row_id=row)
            except ValidationError as exc:
                left.append(f"{name(tname, row)}: {exc}")
                continue
            # A status taken back names, besides what it replaces, the
            # version it gives back, so that its time comes back with it.
            named = sorted(hs) + ([held] if (tname, fname) == ("units", "status") and held not in hs else [])
            w.change(tname, row, fname, "set", value, named)
        # Stock: the opposite amount.
        for (tname, row, fname), units in sorted(added.items()):
            t, r = model.TABLES[tname], rows[(tname, row)]
            if not units:
                continue
            on_hand = r[fname]
            if r["deleted"] and row not in restoring:
                # Merged into another since: its stock counts in that one,
                # which the opposite amount is checked against.
                root = list(_chain(self._merged_stock(), row))[-1:] if tname == "resources" else []
                live = root and self._conn.execute("SELECT quantity FROM resources WHERE id = ? AND deleted = 0 "
                                                   "AND created_hlc IS NOT NULL", root).fetchone()
                if not live:
                    left.append(f"{name(tname, row)}: deleted since")
                    continue
                on_hand = live[0]
            delta = -units / model.COUNTER_SCALE
            now = _counter_sum(on_hand, delta)
            amount = f"{self._describe(t, fname, abs(delta))} {r.get('unit') or ''}".rstrip()
            if now < 0:
                left.append(f"{name(tname, row)}: only {self._describe(t, fname, on_hand or 0)} on hand; "
                            f"cannot take back the {amount} added")
            elif now > model.MAX_COUNTER:
                left.append(f"{name(tname, row)}: putting back {amount} would hold more than a stock count may")
            else:
                w.change(tname, row, fname, "add", _number(delta))
        # Rows added: deleted, if nobody has changed them since.
        for (tname, row, fname), c0 in first.items():
            if fname != ROW_FIELD:
                continue
            t, r = model.TABLES[tname], rows[(tname, row)]
            if r["deleted"]:
                continue
            moved = [n for n in t.names if not _same(t.field(n), r[n], c0.value.get(n))]
            moved += [n for n, hs in heads[(tname, row)].items() if len(hs) > 1 and n not in moved]
            if moved:
                left.append(f"{name(tname, row)}: changed since ({', '.join(model.field_label(n) for n in moved)}); "
                            "delete it yourself if it should go")
                continue
            if tname == "tasks" and self._conn.execute(
                "SELECT 1 FROM units WHERE task_id = ? AND deleted = 0", (row,)
            ).fetchone():
                left.append(f"{name(tname, row)}: units were assigned to it since; delete it yourself if it should go")
                continue
            w.change(tname, row, "deleted", "delete", True, seen(tname, row))
        return left

    def _value_before(self, prev: Sequence[tuple[str, int]], row: str,
                      fname: str) -> tuple[tuple[str, int] | None, Any]:
        """The value a field showed before a change that replaced `prev`,
        and the version that held it: the last writer's among them. (None,
        None) if none is held here."""
        best = None
        for o, s in prev:
            r = self._conn.execute("SELECT hlc, kind, value, row_id FROM changes WHERE origin = ? AND seq = ?",
                                   (o, s)).fetchone()
            if r is None or r[3] != row:  # (a merge of units names another unit's status: see merge_units)
                continue
            value = _loads(r[2])
            if r[1] == "insert":
                value = value.get(fname)
            if best is None or (r[0], o) > best[0]:
                best = ((r[0], o), (o, s), value)
        return (None, None) if best is None else (best[1], best[2])

    def _row_heads(self, tname: str, row: str) -> dict[str, dict[tuple[str, int], Head]]:
        out: dict[str, dict[tuple[str, int], Head]] = defaultdict(dict)
        for _, _, fname, h in self._load_heads([(tname, row)]):
            out[fname][h.id] = h
        return out

    @staticmethod
    def _prev(row: dict, heads: Mapping[str, Mapping], name: str) -> list[tuple[str, int]]:
        ids = sorted(heads.get(name, ()))
        return ids or [(row["created_by"], row["created_seq"])]

    # ------------------------------------------------------------ the merge

    def _merge(self, new: list[Change], *, local: bool) -> ChangeSet:
        """Fold changes not held before into the tables. Runs inside a write
        transaction; every change in `new` is new and valid.

        The batch goes into in-memory temporary tables once; heads, winners
        and the bookkeeping of versions named before they arrived are then a
        few set-based statements that SQLite runs in C. Python handles only
        the rare cases: inserts whose row an earlier edit made, and rows that
        may hold a conflict."""
        conn = self._conn
        dumps, dumps_versions, dumps_row = codec.dumps, codec.dumps_versions, codec.dumps_row
        tables = model.TABLES
        log_rows, edit_rows, edit_values, edges, more_named = [], [], [], [], []
        log, edit, edit_value, edge = log_rows.append, edit_rows.append, edit_values.append, edges.append
        inserts: dict[str, list[Change]] = defaultdict(list)
        counters: dict[tuple[str, str, str], int] = defaultdict(int)  # in thousandths
        retimed: set[str] = set()  # units whose status time may be an earlier version's (see _status_since)
        regrouped: set[str] = set()  # stock items that may have been merged into another, or out (see _regroup_stock)
        for c in new:
            origin, seq, hlc, table, row, field, kind, value, prev, operator, agency = c
            if kind == "insert":
                vj = dumps_row(tables[table], value)
                inserts[table].append(c)
            else:
                vj = dumps(value)
            pj = dumps_versions(prev) if prev else "[]"
            log((origin, seq, hlc, table, row, field, kind, vj, pj, operator, agency))
            if kind == "add":
                counters[(table, row, field)] += counter_units(value)
            elif kind != "insert":
                if table == "resources" and (field == "deleted" or field == "merged_into"):
                    regrouped.add(row)
                # With the first version it names, so that SQL can retire
                # that head; the others (a resolve or delete names several)
                # go separately.
                edit_value(value)
                if prev:
                    edit((table, row, field, origin, seq, hlc, kind, *prev[0]))
                    for p in prev:
                        edge((table, row, field, p[0], p[1]))
                    if len(prev) > 1:
                        more_named.extend((table, row, field, p[0], p[1]) for p in prev[1:])
                        if field == "status" and table == "units":
                            retimed.add(row)
                else:
                    edit((table, row, field, origin, seq, hlc, kind, None, None))
        conn.executemany(
            "INSERT INTO changes(origin, seq, hlc, tbl, row_id, field, kind, value, prev, operator, agency) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            log_rows,
        )
        self._advance(new)

        # 1. New rows. A row that exists already was made as a stub by an
        # edit or counter change that arrived before the row's insert.
        late_inserts: list[Change] = []
        any_superseded = conn.execute("SELECT EXISTS (SELECT 1 FROM superseded)").fetchone()[0]
        if any_superseded and inserts.keys() - {"journal"}:
            self._inserts_named(inserts, retimed)
        for tname, cs in inserts.items():
            if tname == "journal":
                # Entries never change: each is its insert in the log, which
                # the journal view reads. Only what it is about is indexed.
                conn.executemany(
                    "INSERT OR IGNORE INTO journal_about(row_key, hlc) VALUES (?, ?)",
                    [(_about_key(r), c.hlc) for c in cs if (r := c.value.get("row_id"))],
                )
                continue
            t = model.TABLES[tname]
            tail_cols = [*t.derived] + ([] if t.append_only else ["deleted"])
            cols = ["id", *t.names, *tail_cols, "created_hlc", "created_by", "created_seq"]
            sql = (f"INSERT INTO {tname} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                   "ON CONFLICT(id) DO NOTHING")
            names = t.names
            bools = [i for i, f in enumerate(t.fields) if f.type == "bool"]
            counts = [i for i, f in enumerate(t.fields) if f.counter]
            since = bool(t.derived)
            deleted = () if t.append_only else (0,)
            args = []
            for c in cs:
                vals = list(map(c.value.get, names))
                for i in bools:
                    if vals[i] is not None:
                        vals[i] = int(bool(vals[i]))
                for i in counts:
                    if vals[i] is not None:
                        vals[i] = counter_units(vals[i]) / model.COUNTER_SCALE
                args.append((c.row, *vals, *((clock.to_iso(c.hlc),) if since else ()), *deleted,
                             c.hlc, c.origin, c.seq))
            cur = conn.executemany(sql, args)
            if cur.rowcount != len(cs):
                # Rows whose created_* name these very changes were made
                # just now; the other inserts found their row there already.
                made = set(self._created(tname, [c.row for c in cs]))
                late_inserts.extend(c for c in cs if (c.row, c.origin, c.seq) not in made)

        # 2. Edits: keep each field's heads, then show each field's winner.
        conflicts_changed = False
        grouped_before = self._stock_parents(regrouped) if regrouped else None
        if edit_rows:
            # A change named by another change of this batch is no head
            # (`live` 0); a version named from outside the batch stops being
            # one; a named version not held yet is remembered as superseded.
            named = set(edges)
            if named:
                edit_rows = [(*e, 0) if e[:5] in named else (*e, 1) for e in edit_rows]
                in_batch = {(e[3], e[4]) for e in edit_rows}
                outside = [x for x in named if (x[3], x[4]) not in in_batch]
            else:
                edit_rows = [(*e, 1) for e in edit_rows]
                outside = []
            conn.executemany("INSERT INTO temp.b_edits VALUES (?,?,?,?,?,?,?,?,?,?)", edit_rows)
            # Named versions stop being heads. (Those named inside the batch
            # are not heads yet: deleting them does nothing.)
            conn.execute(
                "DELETE FROM heads WHERE (tbl, row_id, field, origin, seq) IN "
                "(SELECT tbl, row_id, field, p_origin, p_seq FROM temp.b_edits WHERE p_origin IS NOT NULL)"
            )
            if more_named:
                conn.executemany(
                    "DELETE FROM heads WHERE tbl = ? AND row_id = ? AND field = ? AND origin = ? AND seq = ?",
                    more_named,
                )
            # A new change is a head unless a change on the same field named
            # it: in this batch, or earlier, before it arrived.
            blocked: set[tuple[str, int]] = set()
            if any_superseded:
                blocked.update(conn.execute(
                    "SELECT e.origin, e.seq FROM temp.b_edits e WHERE e.live AND EXISTS (SELECT 1 FROM superseded s "
                    "WHERE s.tbl = e.tbl AND s.row_id = e.row_id AND s.field = e.field AND s.origin = e.origin "
                    "AND s.seq = e.seq)"
                ))
            conn.execute(
                "INSERT INTO heads(tbl, row_id, field, origin, seq, hlc, kind) "
                "SELECT e.tbl, e.row_id, e.field, e.origin, e.seq, e.hlc, e.kind "
                "FROM temp.b_edits e WHERE e.live"
                + (" AND NOT EXISTS (SELECT 1 FROM superseded s WHERE s.tbl = e.tbl AND s.row_id = e.row_id "
                   "AND s.field = e.field AND s.origin = e.origin AND s.seq = e.seq)" if any_superseded else "")
            )
            if any_superseded:
                # A status version named before it arrived may be the one
                # whose time the status shows.
                # (It may be another row's: a merge of units names the status
                # it takes from the other unit.)
                retimed.update(r for (r,) in conn.execute(
                    "SELECT s.row_id FROM superseded s JOIN temp.b_edits e ON s.origin = e.origin "
                    "AND s.seq = e.seq WHERE s.tbl = 'units' AND s.field = 'status'"
                ))
                # Names now answered by their version's arrival (a delete
                # names versions of every field, so any field counts here).
                conn.execute(
                    "DELETE FROM superseded WHERE (origin, seq) IN (SELECT origin, seq FROM temp.b_edits)"
                )
            # Names of versions that have not arrived are remembered, so
            # that they are not taken for heads when they do. Everything up
            # to an origin's contiguous mark has arrived.
            marks = {o: self._contiguous(o) for o in {x[3] for x in outside}}
            unsure = [x for x in outside if x[4] > marks[x[3]]]
            if unsure:
                conn.executemany(
                    "INSERT OR IGNORE INTO superseded(tbl, row_id, field, origin, seq) SELECT ?1, ?2, ?3, ?4, ?5 "
                    "WHERE NOT EXISTS (SELECT 1 FROM changes c WHERE c.origin = ?4 AND c.seq = ?5)",
                    unsure,
                )
            # Fields left with several heads (a conflict, or a winner to
            # choose by time), and rows that may now hold (or no longer
            # hold) a conflict: several heads on a field, a delete, or a
            # conflict open before.
            several: set[tuple[str, str, str]] = set()
            check: set[tuple[str, str]] = set()
            for tname, row, fname, n in conn.execute(
                "SELECT tbl, row_id, field, count(*) FROM heads WHERE (tbl, row_id) IN "
                "(SELECT tbl, row_id FROM temp.b_edits WHERE live) GROUP BY tbl, row_id, field "
                "HAVING count(*) > 1 OR field = 'deleted'"
            ):
                check.add((tname, row))
                if n > 1:
                    several.add((tname, row, fname))
            check.update(conn.execute(
                "SELECT DISTINCT tbl, row_id FROM conflicts WHERE (tbl, row_id) IN "
                "(SELECT tbl, row_id FROM temp.b_edits)"
            ))
            conn.execute("DELETE FROM temp.b_edits")
            self._show_winners(edit_rows, edit_values, blocked, several)
            retimed.update(row for tname, row, fname in several if fname == "status" and tname == "units")
            if check:
                conflicts_changed = self._refresh_conflicts(check)

        if grouped_before is not None:
            self._regroup_stock(grouped_before)

        # 3. Counters: every delta counts once (the log's primary key saw to
        # once), summed in whole thousandths (see model.COUNTER_SCALE).
        if counters:
            by_field: dict[tuple[str, str], list] = defaultdict(list)
            for (tname, row, fname), units in counters.items():
                by_field[(tname, fname)].append((row, units))
            for (tname, fname), vals in by_field.items():
                conn.executemany(
                    f"INSERT INTO {tname}(id, {fname}) VALUES (?1, ?2 / {_SQL_SCALE}) "
                    f"ON CONFLICT(id) DO UPDATE SET {fname} = ({_UNITS.format(fname)} + ?2) / {_SQL_SCALE}",
                    vals,
                )
            # Stock drawn from (or added to) an item merged into another
            # counts in that one too (see merge_resources).
            stock = by_field.get(("resources", "quantity"))
            if stock and (parents := self._merged_stock()):
                self._add_stock([(p, units) for row, units in stock for p in _chain(parents, row)])

        # 4. Inserts that found their row already made by earlier edits.
        for c in late_inserts:
            if c.table == "resources":
                # (Its stock starts counting, in the item it was merged into too.)
                before = self._stock_parents([c.row])
                self._late_insert(c, self._row_heads(c.table, c.row))
                self._regroup_stock(before)
                continue
            self._late_insert(c, self._row_heads(c.table, c.row))
            if c.table == "units":
                retimed.add(c.row)
        if retimed:
            self._status_since(retimed)

        return ChangeSet(local=local, conflicts=conflicts_changed, changes=tuple(new))

    # A stock item merged into another (merge_resources) is deleted, and
    # names the one it went into (merged_into): while both hold, its stock
    # counts in that one's. So each item's quantity column holds its own
    # count (its insert plus every delta to it) plus the quantity of each
    # item merged into it, whose own may hold more: the boards, the stock
    # tally, a draw's check and the reports read one column. The merge
    # keeps that true whatever order changes arrive in: a delta to an item
    # merged away is added along the items it went into (step 3), and an
    # item merged in or out (its deleted or merged_into field's winner
    # changed) takes its quantity from the old chain to the new.

    def _merged_stock(self) -> dict[str, str]:
        """{stock item merged away: the item it was merged into}, for the
        deleted items that name one (a partial index holds just those)."""
        return dict(self._conn.execute(
            "SELECT id, merged_into FROM resources WHERE merged_into IS NOT NULL AND deleted = 1"))

    def _stock_parents(self, ids: Iterable[str]) -> dict[str, tuple[str | None, int]]:
        """{item: (the item its stock counts in or None, its quantity in
        thousandths)} for these items (one not held yet: (None, 0))."""
        ids = list(ids)
        out: dict[str, tuple[str | None, int]] = {}
        for part in _chunks(sorted(ids)):
            for row, parent, units in self._conn.execute(
                    f"SELECT id, CASE WHEN deleted = 1 THEN merged_into END, {_UNITS.format('quantity')} "
                    f"FROM resources WHERE id IN ({','.join('?' * len(part))})", part):
                out[row] = (parent, units)
        for row in ids:
            out.setdefault(row, (None, 0))
        return out

    def _add_stock(self, deltas: list[tuple[str, int]]) -> None:
        """Add deltas (in thousandths) to items' quantities; an item not
        held yet is made as a stub, as a counter change before its row's
        insert makes it."""
        if deltas:
            self._conn.executemany(
                f"INSERT INTO resources(id, quantity) VALUES (?1, ?2 / {_SQL_SCALE}) "
                f"ON CONFLICT(id) DO UPDATE SET quantity = ({_UNITS.format('quantity')} + ?2) / {_SQL_SCALE}",
                deltas)

    def _regroup_stock(self, before: Mapping[str, tuple[str | None, int]]) -> None:
        """Items whose stock may count elsewhere now, or whose own count
        changed besides (a late insert): `before` is what _stock_parents
        said before. Each takes the quantity it had out of the items it
        counted in, and the quantity it has into those it counts in now.
        One at a time, the others as they were until their turn, so that
        an item merged into one that is merged on in the same batch counts
        once."""
        after = self._stock_parents(before)
        moved = [r for r in sorted(before) if before[r] != after[r]]
        if not moved:
            return
        parents = self._merged_stock()
        for r in moved:  # as they were
            if before[r][0] is None:
                parents.pop(r, None)
            else:
                parents[r] = before[r][0]
        for r in moved:
            # What it holds now (an item moved before it may have moved
            # into it), and what the items it counted in hold of it: the
            # same, but for what its own count gained meanwhile.
            (now_units,) = self._conn.execute(f"SELECT {_UNITS.format('quantity')} FROM resources WHERE id = ?",
                                              (r,)).fetchone()
            was_units = now_units - (after[r][1] - before[r][1])
            deltas = [(p, -was_units) for p in _chain(parents, r)]
            if after[r][0] is None:
                parents.pop(r, None)
            else:
                parents[r] = after[r][0]
            deltas += [(p, now_units) for p in _chain(parents, r)]
            self._add_stock([d for d in deltas if d[1]])

    def _show_winners(self, edits: list[tuple], values: list[Any], blocked: set[tuple[str, int]],
                      several: set[tuple[str, str, str]]) -> None:
        """Write each edited field's winning value into its row.

        A new change that is its field's only head is the winner, and its
        value is at hand; a field with several heads takes the one with the
        latest (time, origin), chosen in SQL. Every edited row exists
        afterwards (as a stub if its insert has not arrived)."""
        conn = self._conn
        direct: dict[tuple[str, str], list] = defaultdict(list)
        chosen: dict[tuple[str, str], set[str]] = defaultdict(set)
        stubs: dict[str, set[str]] = defaultdict(set)
        fields: dict[tuple[str, str], model.Field] = {}
        for (tname, row, fname, origin, seq, hlc, _kind, _po, _ps, live), value in zip(edits, values, strict=True):
            if live and (tname, row, fname) not in several and (origin, seq) not in blocked:
                fld = fields.get((tname, fname))
                if fld is None:
                    fld = fields[(tname, fname)] = model.TABLES[tname].field(fname)
                value = _sql_value(fld, value)
                if fname == "status" and tname == "units":
                    direct[(tname, fname)].append((row, value, clock.to_iso(hlc)))
                else:
                    direct[(tname, fname)].append((row, value))
                continue
            stubs[tname].add(row)
            if live and (tname, row, fname) in several:
                chosen[(tname, fname)].add(row)
        for tname, ids in stubs.items():
            conn.executemany(
                f"INSERT INTO {tname}(id) VALUES (?) ON CONFLICT(id) DO NOTHING", [(r,) for r in ids]
            )
        for (tname, fname), args in direct.items():
            if (tname, fname) == ("units", "status"):
                sql = "UPDATE units SET status = ?2, status_since = ?3 WHERE id = ?1"
            else:
                sql = f"UPDATE {tname} SET {fname} = ?2 WHERE id = ?1"
            if conn.executemany(sql, args).rowcount != len(args):
                # Some rows are not there yet (their inserts are still to
                # come): make them, and write the values again.
                conn.executemany(
                    f"INSERT INTO {tname}(id) VALUES (?) ON CONFLICT(id) DO NOTHING", [(a[0],) for a in args]
                )
                conn.executemany(sql, args)
        for (tname, fname), ids in chosen.items():
            winner = ("FROM heads h JOIN changes c ON c.origin = h.origin AND c.seq = h.seq "
                      "WHERE h.tbl = ?1 AND h.row_id = ?3 AND h.field = ?2 ORDER BY h.hlc DESC, h.origin DESC LIMIT 1")
            if (tname, fname) == ("units", "status"):
                target, pick = "(status, status_since)", \
                    "json_extract(c.value, '$'), strftime('%Y-%m-%dT%H:%M:%SZ', (h.hlc >> 16) / 1000, 'unixepoch')"
            else:
                target, pick = fname, "json_extract(c.value, '$')"
            conn.executemany(
                f"UPDATE {tname} SET {target} = (SELECT {pick} {winner}) WHERE id = ?3",
                [(tname, fname, r) for r in ids],
            )

    def _inserts_named(self, inserts: Mapping[str, list[Change]], retimed: set[str]) -> None:
        """Inserts arriving that changes held already named (see
        superseded): those names are answered. A unit's insert may hold
        the status another unit's status version took, in a merge of
        units (see merge_units): that unit's status time is worked out
        again."""
        arriving = {(c.origin, c.seq) for tname, cs in inserts.items() if tname != "journal" for c in cs}
        answered = []
        for tname, row, fname, o, q in self._conn.execute("SELECT tbl, row_id, field, origin, seq FROM superseded"):
            if (o, q) in arriving:
                answered.append((tname, row, fname, o, q))
                if (tname, fname) == ("units", "status"):
                    retimed.add(row)
        self._conn.executemany(
            "DELETE FROM superseded WHERE tbl = ? AND row_id = ? AND field = ? AND origin = ? AND seq = ?", answered)

    def _status_since(self, units: set[str]) -> None:
        """Write the status time of `units` again, from their status versions.

        A unit's status time is its winning status version's, except where
        that version names several (an undo names the version it gives
        back; keeping one side of a conflict names every side): then it is
        the earliest status time among it and the held versions it names
        that hold the same status. So undoing a status change, or keeping
        one side, gives back the time the status was set, not the time of
        the undo. Every console reaches the same time: a named version
        that arrives later is remembered as superseded, and its arrival
        brings its row here again (see _merge)."""
        conn = self._conn
        versions: dict[tuple[str, int], tuple | None] = {}  # each read once
        known: dict[tuple[str, int], int | None] = {}  # a version reached by several ways is traced once

        def version(key: tuple[str, int]) -> tuple | None:
            if key not in versions:
                versions[key] = conn.execute("SELECT hlc, kind, value, prev FROM changes WHERE origin = ? AND seq = ?",
                                             key).fetchone()
            return versions[key]

        def status_of(v: tuple) -> Any:
            value = _loads(v[2])
            return value.get("status") if v[1] == "insert" else value

        def since(key: tuple[str, int], depth: int = 0) -> int | None:
            if key not in known:
                known[key] = traced(key, depth)
            return known[key]

        def traced(key: tuple[str, int], depth: int) -> int | None:
            v = version(key)
            if v is None:
                return None
            hlc, kind, _, prev = v
            named = json.loads(prev) if kind != "insert" else []
            if len(named) < 2 or depth > _SINCE_DEPTH:
                return hlc
            status, best = status_of(v), hlc
            for o, s in named:
                w = version((o, s))
                if w is not None and status_of(w) == status:
                    earlier = since((o, s), depth + 1)
                    if earlier is not None and earlier < best:
                        best = earlier
            return best

        args = []
        for row in sorted(units):
            win = conn.execute(
                "SELECT origin, seq FROM heads WHERE tbl = 'units' AND row_id = ? AND field = 'status' "
                "ORDER BY hlc DESC, origin DESC LIMIT 1", (row,)
            ).fetchone()
            at = since(tuple(win)) if win else None
            if at is not None:
                args.append((clock.to_iso(at), row))
        conn.executemany("UPDATE units SET status_since = ? WHERE id = ?", args)

    def _created(self, tname: str, ids: list[str]) -> Iterator[tuple[str, str, int]]:
        for part in _chunks(ids):
            q = ",".join("?" * len(part))
            yield from self._conn.execute(
                f"SELECT id, created_by, created_seq FROM {tname} WHERE id IN ({q})", part
            )

    def _contiguous(self, origin: str) -> int:
        r = self._conn.execute("SELECT contiguous FROM replicas WHERE origin = ?", (origin,)).fetchone()
        return r[0] if r else 0

    def _advance(self, new: list[Change]) -> None:
        """Move the version vector past `new`."""
        by_origin: dict[str, set[int]] = defaultdict(set)
        for c in new:
            by_origin[c[0]].add(c[1])  # (origin, seq)
        rows = []
        for origin, seqs in by_origin.items():
            r = self._conn.execute(
                "SELECT contiguous, max_seq FROM replicas WHERE origin = ?", (origin,)
            ).fetchone()
            cont, mx = r if r else (0, 0)
            top = max(seqs)
            new_max = max(mx, top)
            if min(seqs) == cont + 1 and top - cont == len(seqs):
                c = top  # the usual case: the next run of sequence numbers, whole
            else:
                c = cont
                while c + 1 in seqs:
                    c += 1
            if c < new_max and c < mx:
                # Earlier out-of-order arrivals may now join up.
                for (s,) in self._conn.execute(
                    "SELECT seq FROM changes WHERE origin = ? AND seq > ? ORDER BY seq", (origin, c)
                ):
                    if s != c + 1:
                        break
                    c = s
            rows.append((origin, c, new_max))
        self._conn.executemany(
            "INSERT INTO replicas(origin, contiguous, max_seq) VALUES (?,?,?) "
            "ON CONFLICT(origin) DO UPDATE SET contiguous = excluded.contiguous, max_seq = excluded.max_seq",
            rows,
        )

    def _load_heads(self, rows: list[tuple[str, str]]) -> Iterator[tuple[str, str, str, Head]]:
        by_table: dict[str, list[str]] = defaultdict(list)
        for tname, row in rows:
            by_table[tname].append(row)
        for tname, ids in by_table.items():
            for part in _chunks(ids):
                q = ",".join("?" * len(part))
                for row, fname, o, s, h, kind, value, prev in self._conn.execute(
                    "SELECT h.row_id, h.field, h.origin, h.seq, h.hlc, h.kind, c.value, c.prev FROM heads h "
                    "JOIN changes c ON c.origin = h.origin AND c.seq = h.seq "
                    f"WHERE h.tbl = ? AND h.row_id IN ({q})",
                    [tname, *part],
                ):
                    # Only a delete's prev is ever read (merge.delete_conflict).
                    seen = tuple(tuple(p) for p in json.loads(prev)) if fname == "deleted" else ()
                    yield tname, row, fname, Head(o, s, h, kind, value, seen)

    def _late_insert(self, c: Change, row_heads: Mapping[str, Mapping]) -> None:
        """Fold in an insert whose row exists already: a stub made by edits
        that arrived first, or a row another insert of the same id made
        (only a faulty or forged console reuses an id). Of two inserts of
        one row the earlier, by (time, origin), makes it on every console,
        whichever arrived first; the other stays in the log."""
        t = model.TABLES[c.table]
        hlc, by, seq = self._conn.execute(
            f"SELECT created_hlc, created_by, created_seq FROM {c.table} WHERE id = ?", (c.row,)
        ).fetchone()
        replaced: dict[str, Any] = {}
        if by is not None:
            if (hlc, by) < (c.hlc, c.origin):
                log.warning("ignored a second insert of %s %s from %s#%d (an earlier one made the row)",
                            c.table, c.row, c.origin, c.seq)
                return
            log.warning("a second insert of %s %s from %s#%d is earlier than the one that made the row: "
                        "it makes the row instead", c.table, c.row, c.origin, c.seq)
            (old,) = self._conn.execute(
                "SELECT value FROM changes WHERE origin = ? AND seq = ?", (by, seq)
            ).fetchone()
            replaced = _loads(old)
        sets, args = ["created_hlc = ?", "created_by = ?", "created_seq = ?"], [c.hlc, c.origin, c.seq]
        for f in t.fields:
            if f.counter:
                # A counter starts from its row's insert: the replaced
                # insert's start stops counting.
                sets.append(f"{f.name} = ({_UNITS.format(f.name)} + ?) / {_SQL_SCALE}")
                args.append(counter_units(c.value.get(f.name) or 0) - counter_units(replaced.get(f.name) or 0))
            elif not row_heads.get(f.name):
                sets.append(f"{f.name} = ?")
                args.append(_sql_value(f, c.value.get(f.name)))
        if "status_since" in t.derived and not row_heads.get("status"):
            sets.append("status_since = ?")
            args.append(clock.to_iso(c.hlc))
        self._conn.execute(f"UPDATE {c.table} SET {', '.join(sets)} WHERE id = ?", (*args, c.row))
        self._conn.execute(
            "DELETE FROM superseded WHERE tbl = ? AND row_id = ? AND origin = ? AND seq = ?",
            (c.table, c.row, c.origin, c.seq),
        )

    def _refresh_conflicts(self, rows: set[tuple[str, str]]) -> bool:
        """Recompute the open conflicts of `rows` from their heads."""
        conn = self._conn
        heads: dict[tuple[str, str], dict[str, list[Head]]] = defaultdict(lambda: defaultdict(list))
        for tname, row, fname, h in self._load_heads(sorted(rows)):
            heads[(tname, row)][fname].append(h)
        stored: dict[tuple[str, str], set[str]] = defaultdict(set)
        for part in _chunks(sorted(rows)):
            q = ",".join("(?,?)" for _ in part)
            for cid, tname, row in conn.execute(
                f"SELECT id, tbl, row_id FROM conflicts WHERE (tbl, row_id) IN (VALUES {q})",
                [x for tr in part for x in tr],
            ):
                stored[(tname, row)].add(cid)
        changed = False
        for tname, row in rows:
            found = merge.row_conflicts(tname, row, heads[(tname, row)])
            have = stored[(tname, row)]
            wanted = {c.id for c in found}
            if have == wanted:
                continue
            changed = True
            for cid in have - wanted:
                conn.execute("DELETE FROM conflicts WHERE id = ?", (cid,))
            for c in found:
                if c.id in have:
                    continue
                cands = []
                for fname, h in c.candidates:
                    op, ag = conn.execute(
                        "SELECT operator, agency FROM changes WHERE origin = ? AND seq = ?", (h.origin, h.seq)
                    ).fetchone()
                    cands.append({
                        "field": fname, "value": json.loads(h.value), "origin": h.origin, "seq": h.seq,
                        "hlc": h.hlc, "kind": h.kind, "operator": op, "agency": ag,
                    })
                # Detected "at" the newest candidate: the same on every console.
                detected = max(h.hlc for _, h in c.candidates)
                conn.execute(
                    "INSERT INTO conflicts(id, tbl, row_id, field, kind, candidates, detected_hlc) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (c.id, tname, row, c.field, c.kind, json.dumps(cands), detected),
                )
        return changed


def _same(f: model.Field, now: Any, was: Any) -> bool:
    """Whether a row's column holds the value a change gave the field."""
    if f.type == "bool":
        return bool(now) == bool(was)
    if now is None or was is None:
        return now is None and was is None
    return now == was


def _operation(changes: list[Change]) -> Operation:
    """What undo needs to know of a local write's changes (see Store.undo)."""
    said = [c.value["text"] for c in changes if c.table == "journal"]
    text = said[0] if said else f"{len(changes)} changes"
    if len(said) > 1:
        text += f" (and {len(said) - 1} more)"
    return Operation(changes[0].origin, changes[0].seq, changes[-1].seq, text,
                     any(c.table != "journal" for c in changes))


class _Writer:
    """Hands out this replica's next changes within one local write."""

    def __init__(self, store: Store, seq: int) -> None:
        self.store = store
        self.seq = seq
        self.changes: list[Change] = []

    def change(self, table: str, row: str, field: str, kind: str, value: Any, prev=()) -> Change:
        self.seq += 1
        s = self.store
        c = Change(s.replica_id, self.seq, s.clock.now(), table, row, field, kind, value,
                   tuple(tuple(p) for p in prev) if prev else (), s.operator, s.agency)
        self.changes.append(c)
        return c

    def journal(self, action: str, text: str, table: str | None, row: str | None) -> Change:
        s = self.store
        text = model.check(model.JOURNAL, model.JOURNAL.field("text"), text)
        value = {
            "at": clock.to_iso(s.clock.now()), "console": s.replica_id, "agency": s.agency,
            "operator": s.operator, "action": action, "tbl": table, "row_id": row, "text": text,
        }
        return self.change("journal", new_id(), ROW_FIELD, "insert", value)


# How many undos of undos (or reconciliations) deep a status time is traced
# back (see Store._status_since); deeper, the time is the version's own.
_SINCE_DEPTH = 50
# The deleted tasks, first, by their own index (see _migrate_5): read from
# the units' side, the join would go through every unit.
_DELETED_TASKS = "tasks t INDEXED BY tasks_deleted"
# Letter case as SQLite's NOCASE sets it aside (ASCII only), as callsigns are compared.
_NOCASE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SQL_SCALE = f"{model.COUNTER_SCALE:.1f}"  # in SQL: a real, so that division is not whole-number division
# A counter column's value in whole thousandths, in SQL. Its value is always
# a sum of thousandths divided by 1000, so this is exact below 2**53.
_UNITS = "round(coalesce({0}, 0) * " + _SQL_SCALE + ")"


def _not_hidden(t: model.Table, name: str) -> None:
    """Refuse a person's value for a field only the store writes."""
    if t.field(name).hidden:
        raise ValidationError(f"{t.name}.{name} is set by merging {t.name} (merge), not by hand")


def _chain(parents: Mapping[str, str], row: str) -> Iterator[str]:
    """The items a stock item's count is in besides its own: the one it
    was merged into, the one that was merged into, and on (a loop, which
    only a forged change could make, ends where it closes)."""
    seen = {row}
    p = parents.get(row)
    while p is not None and p not in seen:
        yield p
        seen.add(p)
        p = parents.get(p)


def _counter_sum(a: float | None, b: float | None) -> float:
    """a + b as the merge adds counters: in whole thousandths."""
    return (counter_units(a or 0) + counter_units(b or 0)) / model.COUNTER_SCALE


def _about_key(row_id: str) -> int:
    """journal_about's key for a row id: a 32-bit hash, so the index stays
    small. Rows that share one are told apart by the entry's own row id."""
    return zlib.crc32(row_id.encode())


def _number(x: float) -> float | int:
    """Whole numbers as ints, so the log reads 65 and not 65.0."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # a whole number beyond 64 bits
        return json.loads(text)


def _wire_from_row(r) -> tuple[str, int, str]:
    return r[0], r[1], codec.wire_row(r)


def _change_from_row(r) -> Change:
    o, s, h, t, row, f, kind, value, prev, op, ag = r
    return Change(o, s, h, t, row, f, kind, _loads(value),
                  tuple(tuple(p) for p in _loads(prev)) if prev != "[]" else (), op, ag)


def _migrate_1(store: Store) -> None:
    import sqlite_utils  # only needed to create the schema; slow to import

    conn = store._conn
    db = sqlite_utils.Database(conn)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute(
        "CREATE TABLE replicas (origin TEXT PRIMARY KEY, contiguous INTEGER NOT NULL, "
        "max_seq INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE changes (origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, "
        "tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, kind TEXT NOT NULL, "
        "value TEXT, prev TEXT NOT NULL, operator TEXT NOT NULL, agency TEXT NOT NULL, "
        "PRIMARY KEY (origin, seq)) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE heads (tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, "
        "origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, kind TEXT NOT NULL, "
        "value TEXT, prev TEXT NOT NULL, PRIMARY KEY (tbl, row_id, field, origin, seq)) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE superseded (tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, "
        "origin TEXT NOT NULL, seq INTEGER NOT NULL, "
        "PRIMARY KEY (tbl, row_id, field, origin, seq)) WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE conflicts (id TEXT PRIMARY KEY, tbl TEXT NOT NULL, row_id TEXT NOT NULL, "
        "field TEXT NOT NULL, kind TEXT NOT NULL, candidates TEXT NOT NULL, detected_hlc INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX conflicts_row ON conflicts (tbl, row_id)")
    for t in model.TABLES.values():
        cols: dict[str, Any] = {"id": str}
        types = {"TEXT": str, "INTEGER": int, "REAL": float}
        for f in t.fields:
            cols[f.name] = types[f.sql_type]
        for name in t.derived:
            cols[name] = str
        if not t.append_only:
            cols["deleted"] = int
        cols.update(created_hlc=int, created_by=str, created_seq=int)
        db.table(t.name).create(cols, pk="id", defaults={"deleted": 0} if not t.append_only else None,
                                not_null={"deleted"} if not t.append_only else None)
    conn.execute("CREATE INDEX units_task ON units (task_id)")
    conn.execute("CREATE INDEX units_callsign ON units (callsign COLLATE NOCASE)")
    conn.execute("CREATE INDEX journal_time ON journal (created_hlc)")
    conn.execute("CREATE INDEX journal_row ON journal (tbl, row_id)")


def _migrate_2(store: Store) -> None:
    """The trust list and what was last known of each peer: local to this
    console, never synced."""
    conn = store._conn
    conn.execute(
        "CREATE TABLE trust (console_id TEXT PRIMARY KEY, agency TEXT NOT NULL, role TEXT NOT NULL, "
        "added_at TEXT NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE peer_state (console_id TEXT PRIMARY KEY, address TEXT, agency TEXT, replica_id TEXT, "
        "last_seen TEXT, acked_vv TEXT NOT NULL DEFAULT '{}', sent INTEGER NOT NULL DEFAULT 0, "
        "received INTEGER NOT NULL DEFAULT 0)"
    )


def _migrate_3(store: Store) -> None:
    """Heads without copies of their versions' values: the change log holds
    them. Smaller heads rows mean fewer pages written per merged batch."""
    conn = store._conn
    conn.execute(
        "CREATE TABLE heads_v3 (tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, "
        "origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, kind TEXT NOT NULL, "
        "PRIMARY KEY (tbl, row_id, field, origin, seq)) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO heads_v3 SELECT tbl, row_id, field, origin, seq, hlc, kind FROM heads")
    conn.execute("DROP TABLE heads")
    conn.execute("ALTER TABLE heads_v3 RENAME TO heads")


def _migrate_4(store: Store) -> None:
    """The journal as a view over the change log, which holds every entry
    already: a merged batch then writes each entry once (remote apply 10 to
    15% faster), and the database is a fifth smaller (100,000 changes: 37
    against 47 MB). Its indexes: by time (partial, on the log's journal
    inserts only, with `tbl` so that counting needs no table rows), and
    which entries are about which row.

    Who wrote an entry (console, agency, operator) is read from its
    change, as for every change in the log: a console writes the same
    three into the entry itself, and the columns are read without parsing
    its JSON, so filtering by agency stays a quick scan."""
    conn = store._conn
    conn.execute("DROP TABLE journal")
    conn.execute(
        "CREATE VIEW journal AS SELECT row_id AS id, json_extract(value, '$.at') AS at, "
        "origin AS console, agency, operator, json_extract(value, '$.action') AS action, "
        "json_extract(value, '$.tbl') AS tbl, json_extract(value, '$.row_id') AS row_id, "
        "json_extract(value, '$.text') AS text, hlc AS created_hlc, origin AS created_by, seq AS created_seq "
        "FROM changes WHERE tbl = 'journal'"
    )
    conn.execute("CREATE INDEX journal_time ON changes (tbl, hlc, row_id DESC) WHERE tbl = 'journal'")
    conn.execute(
        "CREATE TABLE journal_about (row_key INTEGER NOT NULL, hlc INTEGER NOT NULL, "
        "PRIMARY KEY (row_key, hlc)) WITHOUT ROWID"
    )
    conn.create_function("about_key", 1, _about_key, deterministic=True)
    conn.execute(
        "INSERT OR IGNORE INTO journal_about(row_key, hlc) SELECT about_key(row_id), created_hlc FROM journal "
        "WHERE coalesce(row_id, '') != ''"
    )


def _migrate_5(store: Store) -> None:
    """The deleted tasks indexed on their own (a partial index, as small as
    they are few), so that the units on a deleted task (Store.stranded),
    looked for after every change of a unit's task that arrives, are found
    in 0.05 ms instead of 10 (20,000 units)."""
    store._conn.execute("CREATE INDEX IF NOT EXISTS tasks_deleted ON tasks (id) WHERE deleted = 1")


def _migrate_6(store: Store) -> None:
    """Stock items merged into one (Store.merge_resources): each merged away
    names the item it went into, and the few that do are indexed on their
    own, as every stock change that arrives asks for them. (A database
    made new has the column from the start.)"""
    conn = store._conn
    if "merged_into" not in {r[1] for r in conn.execute("PRAGMA table_info(resources)")}:
        conn.execute("ALTER TABLE resources ADD COLUMN merged_into TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS resources_merged ON resources (merged_into) WHERE merged_into IS NOT NULL")


def _migrate_7(store: Store) -> None:
    """A stock item's low mark (resources.low_at), the quantity at or below
    which it is low. (A database made new has the column from the start.)"""
    conn = store._conn
    if "low_at" not in {r[1] for r in conn.execute("PRAGMA table_info(resources)")}:
        conn.execute("ALTER TABLE resources ADD COLUMN low_at REAL")


MIGRATIONS: dict[int, Callable[[Store], None]] = {
    1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5, 6: _migrate_6, 7: _migrate_7,
}
