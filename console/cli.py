"""The `crisis-console` command line.

Every command takes `--db PATH` (default: console.db in the user data folder,
or $CRISIS_CONSOLE_DB). An error is one line on stderr and a non-zero exit:
2 for a command line that does not parse, 1 for a refused or failed command,
which then has changed nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from console import __version__, backup, clock, csv_rows, files, model, report, seed, transfer
from console.history import History
from console.store import (
    Store,
    StoreError,
    StoreIOError,
    collision_sides,
    collisions,
    default_db_path,
    short_id,
    side_shown,
    stranded_how,
    to_reconcile,
)
from console.sync import identity
from console.times import DONE_TASK, local_time, zone_name

PROG = "crisis-console"
# relay and sync --backup-to: every half hour, the last day's kept.
BACKUP_EVERY = 30.0
BACKUP_KEEP = 48


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, not a usage dump."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, except that the words of a command's list (a row's
        FIELD=VALUE pairs, the units to merge) may come on both sides of an
        option, as in `add units --db eoc.db callsign=E-12 ...`: argparse
        ends the list at the first option, then refuses the words after it
        as "unrecognized arguments"."""
        ns, rest = self.parse_known_args(args, namespace)
        listed = self._list_of(ns)
        if rest and listed is not None and not any(x.startswith("-") for x in rest):
            setattr(ns, listed, [*(getattr(ns, listed) or []), *rest])
            rest = []
        if rest:
            self.error(f"unrecognized arguments: {' '.join(rest)}")
        return ns

    def _list_of(self, ns: argparse.Namespace) -> str | None:
        """The destination of the chosen command's last positional argument
        if it takes a list of plain words, else None."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(ns, action.dest, None) or "")
                positionals = [a for a in chosen._actions if not a.option_strings] if chosen else []
                last = positionals[-1] if positionals else None
                if last is not None and last.nargs in ("*", "+") and last.type is None and last.choices is None:
                    return last.dest
        return None


def _db_option(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    # SUPPRESS on the subcommands keeps `--db` before the command from being
    # overwritten by the subcommand's default.
    p.add_argument(
        "--db", metavar="PATH", type=Path, default=None if top else argparse.SUPPRESS,
        help="the console's database (default: console.db in the user data folder, or $CRISIS_CONSOLE_DB)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Joint emergency operations console: units, tasks, resources and the "
        "activity journal, kept in a local SQLite file that merges with other consoles.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _db_option(parser, top=True)
    parser.add_argument("--demo", action="store_true", help="open on the demo scenario (seeded if the database is new)")
    parser.add_argument("--listen", metavar="HOST:PORT", type=host_port, help="with the window: accept consoles")
    parser.add_argument("--peer", action="append", metavar="wss://HOST:PORT",
                        help="with the window: sync with this console (repeatable)")
    parser.add_argument("--operator", help="who is at this console (default: $CRISIS_OPERATOR or the login name)")
    parser.add_argument("--agency", help="this console's agency (remembered in the database)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _db_option(p)
        return p

    p = sub.add_parser("demo", help="two agencies' consoles in one window each, syncing through a local relay",
                       description="Two consoles of two agencies in one process, syncing through a local relay, "
                       "each with an Offline switch: see a partition, edits on both sides, reconnection and "
                       "reconciliation.")
    p.add_argument("--dir", dest="demo_dir", type=Path, metavar="FOLDER",
                   help="keep the demo's databases here (default: a new temporary folder)")

    p = cmd("seed", "fill a database with the demo scenario or synthetic rows")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--demo", action="store_true", dest="seed_demo", help="the river-flood demo scenario")
    g.add_argument("--synthetic", type=int, metavar="N", help="N synthetic rows per table, for benchmarks")

    tables = sorted(model.TABLES)
    p = cmd("add", "add a row (prints its id), or the rows of a spreadsheet (CSV or Excel)")
    p.add_argument("table", choices=tables, metavar="TABLE", help=f"one of {', '.join(tables)}")
    p.add_argument("values", nargs="*", metavar="FIELD=VALUE")
    p.add_argument("--csv", type=Path, metavar="FILE",
                   help="add a row for each line of this CSV file or Excel workbook (.xlsx), whose first line "
                        "names the fields")
    p.add_argument("--sheet", metavar="NAME",
                   help="the workbook's sheet to read (default: the one shown when it was saved)")
    p.add_argument("--encoding", metavar="NAME",
                   help=f"the CSV file's encoding, when it is not UTF-8 (e.g. {csv_rows.LEGACY}, as Excel saves "
                        '"CSV (Comma delimited)" on Western Windows)')
    p.add_argument("--decimal", choices=sorted(csv_rows.DECIMAL_MARKS), metavar="point|comma",
                   help="the CSV file's decimal mark, when its numbers do not say it (1.200 is 1.2 with a point, "
                        "1200 with a comma)")
    p.add_argument("--dates", choices=csv_rows.DATE_ORDERS, metavar="|".join(csv_rows.DATE_ORDERS),
                   help="which comes first in the CSV file's dates, when they do not say it (03/04/2026 is 3 April "
                        "day first, 4 March month first)")
    p.add_argument("--leave-out-others", action="store_true",
                   help="add the rows without the file's columns that are no field (by default, such a file is "
                        "refused)")
    p.add_argument("--shown-only", action="store_true",
                   help="of a workbook's sheet, add only the rows shown, not those hidden (filtered out in Excel, "
                        "or hidden by hand; by default all are added, and the hidden said)")

    p = cmd("set", "change fields of a row (deleted=false restores a deleted row)")
    p.add_argument("table", choices=tables, metavar="TABLE")
    p.add_argument("id", metavar="ID", help="row id, a unique prefix of it, or a unit's callsign")
    p.add_argument("values", nargs="+", metavar="FIELD=VALUE")

    p = cmd("delete", "delete a row (a tombstone that syncs)")
    p.add_argument("table", choices=tables, metavar="TABLE")
    p.add_argument("id", metavar="ID")

    p = cmd("stock", "add stock to (+N) or draw stock from (-N) a resource")
    p.add_argument("id", metavar="RESOURCE_ID")
    p.add_argument("delta", metavar="+N|-N")
    p.add_argument("--for", dest="purpose", metavar="TEXT",
                   help="what it is for (a task, a unit, a place), said in the journal's entry")

    cmd("undo", "take back this person's last step made on the command line on this console "
                "(add, set, delete, stock, resolve, merge)")
    cmd("redo", "make again the last step `undo` took back")

    p = cmd("note", "add a free note to the journal")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--about", nargs=2, metavar=("TABLE", "ID"), help="the row the note is about")

    p = cmd("list", "list the live rows of a table")
    p.add_argument("table", choices=tables, metavar="TABLE")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument("--deleted", action="store_true", help="include deleted rows")
    p.add_argument("--search", metavar="WORDS",
                   help="only rows holding these words, in any field (case does not matter)")

    p = cmd("report", "the situation report: units by agency and status, tasks to do, stock, the period's notes; "
                      "or a task's assignment list, or a unit's activity log")
    p.add_argument("--hours", type=_hours, default=None, metavar="H",
                   help="the period whose notes and journal it counts, or whose activity a unit's log lists "
                        f"(default {report.DEFAULT_HOURS:g})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--task", metavar="TASK_ID",
                   help="instead, the assignment list (ICS 204) of this task: the work, its units, its journal")
    g.add_argument("--unit", metavar="UNIT", action="append",
                   help="instead, the activity log (ICS 214) of this unit (callsign or id) for the period; "
                        "repeat it for several units' logs, one after the other")
    p.add_argument("--format", choices=("text", "html"), default="text", help="text (default), or HTML to print")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")

    p = cmd("conflicts", "list open conflicts")
    p.add_argument("--json", action="store_true")

    p = cmd("resolve", "reconcile a conflict: keep one candidate or enter a new value; or keep one console's "
                       "side of a collision (its conflicts' ids, as `conflicts` lists them)")
    p.add_argument("conflict", metavar="CONFLICT_ID", nargs="+")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--keep", type=int, metavar="N", help="keep candidate N (as numbered by conflicts)")
    g.add_argument("--value", metavar="VALUE", help="a new value for the field")

    p = cmd("twins", "callsigns on several units (each added on a console apart from the other), "
                     "to merge into one or rename")
    p.add_argument("--json", action="store_true")

    p = cmd("merge", "merge units that are one (a callsign on several, see twins), or with --tasks tasks, or "
                     "with --resources stock items, that are one (entered twice), into the first added; the "
                     "others are deleted")
    p.add_argument("units", nargs="*", metavar="ROW", help="the units' ids (as twins lists them), or one callsign "
                                                           "that is on several units: all of those; with --tasks "
                                                           "or --resources, their ids (as list shows them)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tasks", action="store_true", help="merge tasks: the units on the others are moved onto "
                                                        "the one kept, as they are")
    g.add_argument("--resources", action="store_true", help="merge stock items (in the same unit of measure): "
                                                            "the one kept holds their stock added up, and what is "
                                                            "drawn from the others on consoles that have not seen "
                                                            "the merge yet counts in it too")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--keep", metavar="ROW", help="the unit (or task, or stock item) whose values the merged one "
                                                 "takes: a unit's status, task, place, crew...; a task's title, "
                                                 "priority, status, place, due time...; a stock item's name, "
                                                 "kind, agency, place, unit (default: the first added's)")
    g.add_argument("--all", action="store_true", dest="merge_all",
                   help="instead, merge the units of every callsign on several, each into its first added, with "
                        "its values (a roster loaded on two consoles apart): one step to undo")

    p = cmd("info", "replica id, version vector, row counts, open conflicts")
    p.add_argument("--json", action="store_true")

    p = cmd("export", "export a table's live rows")
    p.add_argument("table", choices=tables, metavar="TABLE")
    p.add_argument("--format", choices=("csv", "json"), required=True)
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")

    p = cmd("backup", "copy the database to a backup file, safely while consoles use it")
    p.add_argument("dest", type=Path, metavar="FILE_OR_FOLDER",
                   help="the backup file, or a folder to put one named for the time in")
    p.add_argument("--keep", type=_at_least_one, metavar="N",
                   help="into a folder: then delete all but the newest N backups of this database there")

    p = cmd("restore", "put a backup in place of the database (its consoles stopped); the old one is kept")
    p.add_argument("source", type=Path, metavar="BACKUP", help="a file written by `crisis-console backup`")

    p = cmd("id", "this console's ID (made with its key on first use)")

    p = cmd("trust", "let a console sync with this one")
    p.add_argument("console_id", metavar="CONSOLE_ID", help="as printed by `crisis-console id` on that console")
    # Its own name: `args.agency` is this console's agency (the option
    # before the command), which opening the store would remember.
    p.add_argument("--agency", dest="peer_agency", metavar="NAME", required=True,
                   help="the agency that runs that console")
    p.add_argument("--role", choices=("editor", "observer"), default="editor",
                   help="editor (default), or observer: may read, its changes are refused")

    p = cmd("untrust", "take a console off the trust list")
    p.add_argument("console_id", metavar="CONSOLE_ID")

    p = cmd("peers", "the trust list and what was last seen of each console")
    p.add_argument("--json", action="store_true")

    p = cmd("relay", "a headless hub: accept trusted consoles and relay their changes (stop with Ctrl-C)")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", type=host_port)
    _backup_options(p)

    p = cmd("sync", "sync with peers: stay live and reconnect, or --once and exit")
    p.add_argument("--peer", required=True, action="append", metavar="wss://HOST:PORT", help="repeatable")
    p.add_argument("--once", action="store_true", help="exchange everything both ways, then exit")
    p.add_argument("--listen", metavar="HOST:PORT", type=host_port, help="also accept connections")
    _backup_options(p)

    p = cmd("changes", "move changes on a file, for sites with no network")
    csub = p.add_subparsers(dest="changes_command", metavar="ACTION", required=True, parser_class=Parser)
    e = csub.add_parser("export", help="write changes to a transfer file")
    _db_option(e)
    e.add_argument("file", type=Path, metavar="FILE")
    whom = e.add_mutually_exclusive_group()
    whom.add_argument("--for", dest="for_info", type=Path, metavar="OTHER_INFO_JSON",
                      help="only what the console whose `info --json` is in this file lacks")
    whom.add_argument("--for-console", metavar="CONSOLE_ID",
                      help="only what this console on the trust list lacked when last in touch (its ID as "
                           "`peers` lists it, or all of it)")
    i = csub.add_parser("import", help="merge a transfer file")
    _db_option(i)
    i.add_argument("file", type=Path, metavar="FILE")
    return parser


def _backup_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backup-to", type=Path, metavar="FOLDER",
                   help="back the database up into this folder at start and then regularly")
    p.add_argument("--backup-every", type=_minutes, metavar="MINUTES",
                   help=f"with --backup-to: minutes between backups (default {BACKUP_EVERY:g})")
    p.add_argument("--keep", type=_at_least_one, metavar="N",
                   help=f"with --backup-to: keep the newest N backups there (default {BACKUP_KEEP})")


def _hours(text: str) -> float:
    try:
        h = float(text)
    except ValueError:
        h = float("nan")
    if not 0.01 <= h <= 24 * 366:  # nan fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours from 0.01 to a year (8784)")
    return h


def _at_least_one(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _minutes(text: str) -> float:
    try:
        m = float(text)
    except ValueError:
        m = float("nan")
    if not 0.01 <= m <= 7 * 24 * 60:  # nan fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes from 0.01 to a week (10080)")
    return m


def host_port(text: str) -> tuple[str, int]:
    from console.sync.transport import is_host

    host, sep, port = text.rpartition(":")
    if not is_host(host.strip("[]")):
        host = ""
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 0.0.0.0:8765)")
    return host.strip("[]"), int(port)


def command_names(parser: argparse.ArgumentParser | None = None) -> list[str]:
    """Every command and sub-command, e.g. ["add", ..., "changes export"]."""
    parser = parser or build_parser()
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                subs = command_names(sp)
                names.extend([f"{name} {s}" for s in subs] or [name])
    return names


def _pairs(t: model.Table, items: Sequence[str]) -> dict:
    out = {}
    for item in items:
        name, eq, raw = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise model.ValidationError(f"{item!r} is not FIELD=VALUE")
        if name in out:
            raise model.ValidationError(f"{name} is given twice")
        out[name] = model.parse(t, t.field(name), raw)
    return out


def _midnight_notes(t: model.Table, items: Sequence[str]) -> None:
    """Say, on stderr, which times given were a date alone, read as
    midnight at the day's start: a task due "2026-11-28" is overdue from
    its first minute, which the person may not have meant."""
    for item in items:
        name, _, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if t.field(name).type == "time" and model.date_alone(raw):
            _err(f"{PROG}: note: {name}={raw} is midnight at the start of that day (this computer's); for "
                 f"another time, give it: {name}={shlex.quote(raw + ' 18:00')}")


def _open(args) -> Store:
    path = args.db or default_db_path()
    creates = (args.command in ("seed", "add", "note", "id", "trust")
               or getattr(args, "changes_command", None) == "import")
    if not creates and not path.exists():
        raise StoreError(f"{path}: no such database (create one with `{PROG} seed` or `{PROG} add`)")
    if args.db is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return Store(path, operator=args.operator, agency=args.agency)


def _table_text(headers: list[str], rows: list[list[str]]) -> str:
    widths = [min(max([len(h)] + [len(r[i]) for r in rows]), 40) for i, h in enumerate(headers)]
    return "\n".join([*_table_head(headers, widths), *(_line(r, widths) for r in rows)])


def _table_head(headers: Sequence[str], widths: Sequence[int]) -> list[str]:
    """A table's column names, and the line under them."""
    return [_line(headers, widths), _line(["-" * w for w in widths], widths)]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """A row of a table as text, each cell cut to and padded to its width."""
    return "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _shown_cell(v) -> str:
    """A value in a table printed (see model.one_line)."""
    return model.one_line(_cell(v))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return model.plain_number(v)
    if isinstance(v, tuple):
        return ", ".join(v)
    return str(v)


COLUMNS = {
    "units": ["id", "callsign", "agency", "kind", "status", "task", "location", "personnel", "status_since"],
    "tasks": ["id", "priority", "status", "title", "location", "lead_agency", "assigned_units", "due"],
    "resources": ["id", "name", "kind", "agency", "location", "quantity", "unit", "low_at"],
    "journal": ["at", "agency", "operator", "action", "text"],
}


def _listing(store: Store, table: str, deleted: bool = False) -> tuple[list[str], list[dict]]:
    import dataclasses

    records = store.list(table, deleted=deleted)
    rows = [dataclasses.asdict(r) for r in records]
    if table == "units":
        titles = {t.id: t.title for t in store.list("tasks", deleted=True)}
        for r in rows:
            r["task"] = titles.get(r["task_id"], "")
    return COLUMNS[table], rows


class _Terminal:
    """Standard output when it is a terminal: what is written goes through
    model.on_terminal, so that a value holding a control character (from a
    console of an older release, which took it as given) is shown written
    out and not acted on by the terminal (a colour, the screen cleared, the
    cursor moved). A file or a pipe gets the values exactly."""

    def __init__(self, out) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(model.on_terminal(text))

    def __getattr__(self, name: str):
        return getattr(self._out, name)


def run(args) -> int:
    out = _Terminal(sys.stdout) if sys.stdout.isatty() else sys.stdout
    if args.command is None:
        return _open_window(args)
    if args.command in ("relay", "sync"):
        return _run_sync(args, out)
    if args.command == "demo":
        from console.ui import app

        return app.demo_main(args)
    if args.command in ("backup", "restore"):
        return _backup_or_restore(args, out)
    found = None
    if args.command == "report" and args.task is not None and args.hours is not None:
        raise UsageError(f"{PROG} report: --hours is the situation report's period; an assignment list (--task) "
                         "has none")
    if args.command == "merge" and (args.tasks or args.resources) and (args.merge_all or len(args.units) < 2):
        what = "tasks" if args.tasks else "resources"
        raise UsageError(f"{PROG} merge --{what}: give two or more {what} to merge (their ids, as list {what} "
                         "shows them)" + (", not --all" if args.merge_all else ""))
    if args.command == "merge" and bool(args.units) == args.merge_all:
        raise UsageError(f"{PROG} merge: give the units to merge (their ids, or one callsign that is on several), "
                         "or --all" + (", not both" if args.units else ""))
    if args.command == "add":  # before the database is made
        if bool(args.values) == bool(args.csv):
            raise UsageError(f"{PROG} add: give FIELD=VALUE ... or --csv FILE" + (", not both" if args.csv else ""))
        given = [o for o in ("sheet", "encoding", "decimal", "dates", "leave_out_others", "shown_only")
                 if getattr(args, o) not in (None, False)]
        if not args.csv and given:
            raise UsageError(f"{PROG} add: --{given[0].replace('_', '-')} is of --csv FILE")
        if args.csv:
            try:
                found = csv_rows.read(args.table, args.csv, sheet=args.sheet, encoding=args.encoding,
                                      decimal=args.decimal, dates=args.dates, leave_others=args.leave_out_others)
            except csv_rows.OtherColumns as exc:
                raise model.ValidationError(f"{exc} (--leave-out-others adds the rows without "
                                            f"{'it' if len(exc.columns) == 1 else 'them'})") from None
            except csv_rows.NotUtf8 as exc:
                raise model.ValidationError(f"{exc} (--encoding {csv_rows.LEGACY} reads what Excel saves as "
                                            '"CSV (Comma delimited)" on Western Windows)') from None
            except csv_rows.Ambiguous as exc:
                (one, a), (other, b) = exc.detail["shown"].items()
                option = exc.detail["option"]
                raise model.ValidationError(f"{exc} (--{option} {one} reads it as {a}, --{option} {other} as {b})") \
                    from None
            if args.shown_only:
                found = found.shown()
                if not found.rows:
                    raise model.ValidationError(f"every row of {args.csv.name} is hidden in its sheet: nothing to add "
                                                "(without --shown-only, they are all added)")
    with _open(args) as store:
        made: list = []  # this run's operations (a resolve of several conflicts makes one per row)
        unsubscribe = store.subscribe(lambda cs: made.append(store.last_operation) if cs.local else None)
        try:
            code = _command(store, args, found, out)
        finally:
            unsubscribe()
        if args.command in UNDOABLE:
            # A step of its own, to be taken back by `undo` in another run.
            steps = History(store, COMMAND_LINE)
            if steps.took(made):
                steps.save()
    return code


# Commands whose changes `undo` takes back, one run a step.
UNDOABLE = frozenset({"add", "set", "delete", "stock", "resolve", "merge"})
COMMAND_LINE = "command line"  # whose steps (see console.history)


def _command(store: Store, args: argparse.Namespace, found, out) -> int:
    """Run a command on the database opened for it; its exit code."""
    c = args.command
    if c == "id":
        print(identity.load_or_create(store.path).console_id, file=out)
    elif c == "trust":
        cid = identity.normalize_id(args.console_id)
        if cid == identity.load_or_create(store.path).console_id:
            raise model.ValidationError("that is this console's own ID")
        store.trust(cid, args.peer_agency, args.role)
        print(f"trusted {cid} ({args.peer_agency.strip()}, {args.role})", file=out)
    elif c == "untrust":
        cid = identity.normalize_id(args.console_id)
        store.untrust(cid)
        print(f"untrusted {cid}", file=out)
    elif c == "peers":
        peers = store.peers()
        if args.json:
            json.dump(peers, out, indent=1)
            out.write("\n")
        elif not peers:
            print(f"no trusted consoles yet (add one with `{PROG} trust CONSOLE_ID --agency NAME`)", file=out)
        else:
            rows = [[identity.short_id(x["console_id"]), x["agency"], x["role"], x["last_seen"] or "never",
                     x["address"] or "", str(x["sent"]), str(x["received"]),
                     "" if x["owed"] is None else str(x["owed"])] for x in peers]
            print(_table_text(["console", "agency", "role", "last seen", "address", "sent", "received",
                               "owed"], rows), file=out)
        if not args.json and (dials := store.dial_list()):
            print(f"the window connects to {', '.join(dials)} whenever it opens (Sync ▸ Peers to change that)",
                  file=out)
    elif c == "seed":
        if args.seed_demo:
            counts = seed.seed_demo(store)
        else:
            counts = seed.seed_synthetic(store, args.synthetic)
        print("seeded " + ", ".join(f"{n} {k}" for k, n in counts.items()) + f" into {store.path}", file=out)
    elif c == "add" and found:
        titled = _named_already(store, found.table, found.rows)
        ids = store.add_many(found.table, found.rows, where=found.lines,
                             summary=f"Added {len(found.rows)} {found.table} from {args.csv.name}")
        read_as = [f"sheet {found.sheet!r}"] if found.sheet is not None else []
        if found.above:
            read_as.append(f"left out above its columns' names: {'; '.join(repr(a) for a in found.above)}")
        if found.encoding is not None:
            read_as.append(f"read as {csv_rows.encoding_name(found.encoding)} text")
        if found.decimal is not None:
            read_as.append(f"numbers with a decimal {found.decimal}")
        if found.dates is not None:
            read_as.append(f"dates with the {found.dates.removesuffix('-first')} first")
        if found.renamed:
            read_as.append(f"columns read as: {', '.join(f'{c} as {f}' for c, f in found.renamed)}")
        if found.left_out or found.others:
            read_as.append(f"columns left out: {', '.join(found.left_out + found.others)}")
        if found.totals:
            read_as.append(f"rows of totals left out: {', '.join(found.totals)}")
        if found.filled:
            read_as.append(f"cells merged over rows read in each: {', '.join(found.filled)}")
        if found.hidden:
            n = len(found.hidden)
            read_as.append(f"{n} of them hidden in the sheet: --shown-only leaves {'it' if n == 1 else 'them'} out")
        if found.hidden_columns:
            read_as.append(f"columns hidden in the sheet, read all the same: {', '.join(found.hidden_columns)}")
        if found.unshown:
            read_as.append(f"{found.unshown} {'row' if found.unshown == 1 else 'rows'} hidden in the sheet left out")
        if midnight := found.midnight_said():
            read_as.append(f"{midnight}: add a time in the file for another")
        print(f"added {len(ids)} {found.table} from {args.csv}" + (f" ({'; '.join(read_as)})" if read_as else ""),
              file=out)
        _entered_already(store, found.table, titled, list(zip(found.rows, ids, strict=True)))
    elif c == "add":
        t = model.table(args.table)
        values = _pairs(t, args.values)
        titled = _named_already(store, t.name, [values])
        if t.append_only:
            print(store.add_many(t.name, [values])[0], file=out)
        else:
            new = store.add(t.name, values)
            print(new, file=out)
            _entered_already(store, t.name, titled, [(values, new)])
        _midnight_notes(t, args.values)
    elif c == "set":
        t = model.table(args.table)
        made = store.update(t.name, args.id, _pairs(t, args.values))
        _midnight_notes(t, args.values)
        if not made:
            print("nothing changed: the values were already current", file=out)
        closed = [c for c in made if c.table == "tasks" and c.field == "status" and c.value in DONE_TASK]
        if closed and (units := store.units_on(closed[0].row)):
            # The window asks whether to release them; here, say how.
            n = len(units)
            print(f"{n} unit{'s are' if n != 1 else ' is'} still on it: "
                  f"{', '.join(u.callsign for u in units)}; to release one (available, off the task): "
                  f"crisis-console set units {shlex.quote(units[0].callsign)} status=available", file=out)
    elif c == "delete":
        store.delete(args.table, args.id)
    elif c == "stock":
        raw = args.delta.strip()
        if not raw or raw[0] not in "+-":
            raise model.ValidationError(f"{raw!r}: give +N to add stock or -N to draw it")
        delta = model.parse(model.RESOURCES, model.Field("quantity", "real"), raw)
        now = store.adjust(args.id, delta, args.purpose)
        print(_cell(now), file=out)
        item = store.get("resources", store.resolve_id("resources", args.id))
        if model.stock_low(item):  # (the new quantity alone on stdout, for scripts)
            _err(f"{PROG}: {item.name} is low: {_cell(now)} {item.unit or ''}".rstrip()
                 + f", at or below its low mark of {_cell(item.low_at)}")
    elif c in ("undo", "redo"):
        steps = History(store, COMMAND_LINE)
        before = (len(steps.undo_steps), len(steps.redo_steps))
        try:
            done = steps.take_back(redo=c == "redo")
        finally:
            if (len(steps.undo_steps), len(steps.redo_steps)) != before:  # taken back, or dropped with its reason
                steps.save()
        if done is None:
            raise model.ValidationError(
                f"nothing to {c}: no step of {store.operator}'s on the command line on this console"
                + (" was undone" if c == "redo" else ""))
        print(done.text, file=out)
        for why in done.left:
            print(f"  left as it is: {why}", file=out)
    elif c == "note":
        table, ref = args.about or (None, None)
        print(store.note(args.text, table, ref), file=out)
    elif c == "list" and args.table == "journal":
        _list_journal(store, args.search, args.json, out)
    elif c == "list":
        headers, rows = _listing(store, args.table, args.deleted)
        if args.search:
            rows = [r for r in rows if _holds_words(r, args.search)]
        if args.json:
            json.dump(rows, out, indent=1, ensure_ascii=False)
            out.write("\n")
        else:
            cells = [[short_id(_cell(r.get(headers[0]))), *(_shown_cell(r.get(h)) for h in headers[1:])] for r in rows]
            print(_table_text(headers, cells), file=out)
    elif c == "report":
        if args.output:
            store.refuse_own_file(args.output)
        hours = report.DEFAULT_HOURS if args.hours is None else args.hours
        if args.task is not None:
            a = report.build_assignment(store, args.task)
            text = report.assignment_html(a) if args.format == "html" else report.assignment_text(a)
            what = f"the assignment list of {a.task.title}"
        elif args.unit is not None:
            logs = report.build_activities(store, args.unit, hours=hours)
            text = report.activity_html(logs) if args.format == "html" else report.activity_text(logs)
            what = (f"the activity log of {logs[0].unit.callsign}" if len(logs) == 1
                    else f"the activity logs of {len(logs)} units")
        else:
            r = report.build(store, hours=hours)
            text = report.as_html(r) if args.format == "html" else report.as_text(r)
            what = "the situation report"
        if args.output:
            with _writing(args.output) as fh:
                fh.write(text)
            print(f"wrote {what} to {args.output}", file=out)
        else:
            out.write(text)
    elif c == "conflicts":
        _conflicts(store, args.json, out)
    elif c == "resolve" and len(args.conflict) > 1:
        _resolve_collision(store, args.conflict, args.keep, args.value, out)
    elif c == "resolve":
        ch = store.resolve(args.conflict[0], keep=args.keep, raw=args.value)
        # What the journal now says of it, in words.
        said = store.journal(limit=1, table=ch.table, row=ch.row)[0].text
        print(f"{said} (change {ch.seq})", file=out)
    elif c == "twins":
        _twins(store, args.json, out)
    elif c == "merge" and args.merge_all:
        found = store.twins()
        for t in found:
            store.merge_units([x.unit.id for x in t.units])
            print(store.said(store.last_operation)[0], file=out)
        if not found:
            print("no callsign is on several units", file=out)
    elif c == "merge" and (args.tasks or args.resources):
        (store.merge_tasks if args.tasks else store.merge_resources)(args.units, keep=args.keep)
        for text in store.said(store.last_operation):
            print(text, file=out)
    elif c == "merge":
        refs = args.units
        if len(refs) == 1:  # a callsign on several units: all of them
            found = [t for t in store.twins() if t.callsign.casefold() == refs[0].strip().casefold()]
            if not found:
                raise model.ValidationError(f"{refs[0]!r} is not a callsign on several units; name two or more "
                                            "units to merge (their ids, as twins lists them)")
            refs = [t.unit.id for t in found[0].units]
        store.merge_units(refs, keep=args.keep)
        for text in store.said(store.last_operation):
            print(text, file=out)
    elif c == "info":
        info = store.info()
        if args.json:
            json.dump(info.as_dict(), out, indent=1)
            out.write("\n")
        else:
            print(f"database      {info.path}", file=out)
            print(f"replica id    {info.replica_id}", file=out)
            print(f"agency        {info.agency}   operator {info.operator}", file=out)
            if info.at_console:
                name, since = info.at_console
                print(f"at console    {name}{f' since {since}' if since else ''} (the window's name for "
                      "changes when opened without --operator)", file=out)
            print("rows          " + ", ".join(f"{n} {k}" for k, n in info.counts.items()), file=out)
            print(f"changes held  {info.changes}", file=out)
            print(f"conflicts     {info.open_conflicts} open", file=out)
            if info.twins:
                print(f"units twice   {info.twins} callsign{'s' if info.twins != 1 else ''} on several units "
                      f"(see {PROG} twins)", file=out)
            if info.stranded:
                print(f"stranded      {info.stranded} unit{'s' if info.stranded != 1 else ''} on a deleted task "
                      f"(see {PROG} conflicts)", file=out)
            print("version vector", file=out)
            for origin, seq in sorted(info.version_vector.items()):
                mine = "  (this console)" if origin == info.replica_id else ""
                print(f"  {origin}  {seq}{mine}", file=out)
    elif c == "export":
        if args.output:
            store.refuse_own_file(args.output)
            with _writing(args.output) as fh:
                _export(store, args.table, args.format, fh)
        else:
            _export(store, args.table, args.format, out)
    elif c == "changes":
        if args.changes_command == "export":
            store.refuse_own_file(args.file)
            lacking = transfer.lacking_of(store, args.for_info, args.for_console)
            s = transfer.export_changes(store, args.file, lacking=lacking, progress=_progress_line("wrote"))
            print(f"wrote {s.changes} changes to {s.path}", file=out)
            if args.for_console:
                print(f"(what console {identity.short_id(lacking['console_id'])} of {lacking['agency']} lacked "
                      f"when last in touch, {local_time(lacking['last_seen'])} {zone_name()})", file=out)
        else:
            s = transfer.import_changes(store, args.file, progress=_progress_line("merged"))
            r = s.result
            print(f"imported {r.applied} new changes from {s.from_agency} replica …{short_id(s.from_replica)} "
                  f"({r.duplicates} already held)", file=out)
            if said := _to_reconcile(store):
                print(said, file=out)
            if s.not_held:
                _err(f"{PROG}: this console still lacks {s.not_held} change{'s' if s.not_held != 1 else ''} the "
                     f"file left out, as it was written for what {transfer.whom(s, store.replica_id)} held: "
                     "sync, or merge a file written for this console's info now")
            for origin, seq, reason in r.refused:
                _err(f"{PROG}: refused changes from replica …{short_id(origin)} from #{seq}: {reason}")
            if r.refused:
                return 1
    return 0


def _backup_or_restore(args, out) -> int:
    """Neither opens the database as a console does: a backup reads it
    beside the consoles using it, and a restore needs them all stopped."""
    db = args.db or default_db_path()
    if args.command == "backup":
        if args.keep and not args.dest.is_dir():
            raise UsageError(f"{PROG} backup: --keep needs a folder to back up into, and {args.dest} is not one")
        b = backup.backup(db, args.dest)
        print(f"backed up {db} to {b.path}: {b.changes:,} changes, {b.bytes / 2**20:.1f} MiB "
              f"in {b.seconds:.1f} s", file=out)
        if args.keep:
            for gone in backup.prune(args.dest, db, args.keep):
                print(f"deleted the older backup {gone}", file=out)
        return 0
    r = backup.restore(db, args.source)
    taken = f"taken {clock.utc_text(r.taken_ms)}, " if r.taken_ms else ""
    print(f"restored {db} from {r.source} ({taken}{r.changes:,} changes)", file=out)
    if r.kept_as:
        print(f"the database as it was is kept as {r.kept_as}", file=out)
    print(f"this console continues as replica …{short_id(r.replica_id)}; sync with a peer to get back "
          "what was done since the backup", file=out)
    return 0


@contextlib.contextmanager
def _writing(path: Path) -> Iterator:
    """A text file to write `path` through, a temporary file beside it
    renamed over it at the end: a failed write leaves whatever was there."""
    if not path.parent.is_dir():
        raise StoreIOError(f"{path}: the folder {path.parent} does not exist")
    with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh


def _run_sync(args, out) -> int:
    """relay and sync: run the engine until stopped (or, with --once, done)."""
    import asyncio

    from console.sync.transport import Engine, SyncError, peer_url, wss_url

    path = args.db or default_db_path()
    if not path.exists():
        raise StoreError(f"{path}: no such database")
    if args.command == "sync":
        try:
            args.peer = [peer_url(url) for url in args.peer]
        except SyncError as exc:
            raise UsageError(f"{PROG} sync: {exc}") from None
    listen = args.listen
    backing_up = args.backup_to is not None
    if backing_up and getattr(args, "once", False):
        raise UsageError(f"{PROG} sync: --backup-to is for a relay or a live sync, not --once "
                         f"(back up with `{PROG} backup`)")
    if not backing_up and (args.backup_every is not None or args.keep is not None):
        raise UsageError(f"{PROG} {args.command}: --backup-every and --keep go with --backup-to FOLDER")
    if backing_up and not args.backup_to.is_dir():
        raise StoreError(f"{args.backup_to}: no such folder to back up into")
    if not getattr(args, "once", False):
        logging.getLogger().setLevel(logging.INFO)  # a relay or live sync logs its connections
        # ...in its own words, naming the console at the other end, when it
        # opens and ends: the server library's lines say the same of no one.
        logging.getLogger("websockets.server").setLevel(logging.WARNING)

    async def main() -> int:
        if args.command == "sync" and args.once:
            shown = _sync_progress()
            async with Engine(path, operator=args.operator, agency=args.agency,
                              on_event=shown.event if shown else None) as engine:
                for url in args.peer:
                    try:
                        session = await engine.sync_once(url)
                    finally:
                        if shown:
                            shown.end()
                    print(f"synced with {url} ({session.peer_agency}): sent {session.stats.sent}, "
                          f"received {session.stats.received}", file=out)
                    if said := await engine.worker.run(lambda: _to_reconcile(engine.store)):  # the store's thread
                        print(said, file=out)
                    own = await engine.worker.run(lambda: engine.store.replica_id)  # the store's thread
                    for origin, (seq, why) in sorted(session.refusals.items()):
                        whose = "this console's" if origin == own else f"replica {origin}'s"
                        _err(f"{PROG}: {url} refuses {whose} changes from #{seq}: {why}")
                    if not session.sends_changes:
                        print(f"{PROG}: {url} holds this console as an observer: it reads, and its own changes "
                              "stay here (they are not sent there)", file=sys.stderr)
            return 0
        engine = Engine(path, operator=args.operator, agency=args.agency, listen=listen,
                        peers=args.peer if args.command == "sync" else ())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        on_stop_signals(loop, stop.set)
        await engine.start()
        if engine.port is not None:
            print(f"listening on {wss_url(listen[0], engine.port)} as console {engine.console_id}; other consoles "
                  f"dial {' or '.join(engine.dial_addresses())}", flush=True)
        backups = None
        if backing_up:
            every = 60 * (args.backup_every or BACKUP_EVERY)
            backups = loop.create_task(backup.keep_backing_up(path, args.backup_to, every,
                                                              args.keep or BACKUP_KEEP))
        try:
            await stop.wait()
        finally:
            if backups is not None:
                backups.cancel()  # a backup under way finishes on its thread first (asyncio.run waits)
            await engine.stop()
            print("stopped", flush=True)
        return 0

    try:
        return asyncio.run(main())
    except SyncError as exc:
        raise StoreError(str(exc)) from None


def on_stop_signals(loop, act: Callable[[], None]) -> None:
    """Call `act` in event loop `loop` on Ctrl-C, SIGTERM, or SIGHUP where
    there is one (the terminal it was started from closed), unless the
    signal was ignored when it started (started with nohup, it outlives
    its terminal, as asked): how a relay, `sync` and the window stop.
    Windows' event loops take no signal handlers (NotImplementedError):
    there the interpreter's own handler hands the signal to the loop,
    which its wake-up socket then rouses."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        try:
            loop.add_signal_handler(sig, act)
        except (NotImplementedError, RuntimeError):
            signal.signal(sig, lambda _sig, _frame: loop.call_soon_threadsafe(act))


def _progress_line(verb: str):
    """A progress callback for long work that rewrites one line on a
    terminal's stderr (and says nothing when stderr is a file or pipe)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{verb} {done:,} of {total:,} changes ({100 * done // max(total, 1)}%)", end=end,
              file=sys.stderr, flush=True)

    return show


class _SyncProgress:
    """`sync --once` on a terminal: one line on stderr, rewritten as
    batches come and go, at most ten times a second."""

    def __init__(self) -> None:
        self.shown = False
        self.last = 0.0

    def event(self, name: str, link) -> None:
        if name != "progress" or time.monotonic() - self.last < 0.1:
            return
        self.last = time.monotonic()
        self.shown = True
        print(f"\r{link.address}: received {link.received:,}, sent {link.sent:,}; "
              f"{link.remaining:,} still to come   ", end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False


def _sync_progress() -> _SyncProgress | None:
    return _SyncProgress() if sys.stderr.isatty() else None


def _resolve_collision(store: Store, refs: list[str], keep: int | None, value: str | None, out) -> None:
    """Keep one console's side of every conflict of a collision (see
    store.collisions), numbered as `conflicts` lists its sides."""
    if keep is None:
        raise model.ValidationError("a new value is entered for one conflict at a time: give one CONFLICT_ID "
                                    "with --value")
    cs = list({c.id: c for c in map(store.conflict, refs)}.values())
    groups = collisions(cs)
    if len(groups) != 1:
        raise model.ValidationError("these conflicts are not one collision (fields of one row written on the same "
                                    "consoles): resolve them one at a time")
    sides = collision_sides(groups[0])
    if not 1 <= keep <= len(sides):
        raise model.ValidationError(f"keep must be between 1 and {len(sides)} (the sides as `conflicts` lists them)")
    store.resolve_many(sides[keep - 1])
    for entry in reversed(store.journal(limit=len(cs), table=cs[0].table, row=cs[0].row)):
        print(entry.text, file=out)


def _conflicts(store: Store, as_json: bool, out) -> None:
    found = store.conflicts()
    groups = collisions(found)
    together = {c.id: [x.id for x in cs] for cs in groups for c in cs}
    if as_json:
        json.dump([
            {"id": c.id, "table": c.table, "row": c.row, "label": c.row_label, "field": c.field, "kind": c.kind,
             "detected_at": c.detected_at, "shown": c.shown, "collision": together[c.id],
             "candidates": [{"n": i, "field": x.field, "value": x.value, "origin": x.origin, "at": x.at,
                             "operator": x.operator, "agency": x.agency, "kind": x.kind}
                            for i, x in enumerate(c.candidates, 1)]}
            for c in found
        ], out, indent=1, ensure_ascii=False)
        out.write("\n")
        return
    twins = store.twins()
    if not found:
        print("no open conflicts", file=out)
    for t in twins:
        print(f"{t.callsign} is on {len(t.units)} units, added on consoles apart: {PROG} twins --db "
              f"{shlex.quote(str(store.path))} lists them, to merge or rename", file=out)
    _stranded_lines(store, out)
    for cs in groups:
        if len(cs) > 1:
            _collision_lines(store, cs, out)
            continue
        (c,) = cs
        what = "edited while deleted" if c.kind == "delete" else f"{model.field_label(c.field)} written concurrently"
        print(f"{c.id}  {c.table[:-1]} {c.row_label}: {what}", file=out)
        for i, x in enumerate(c.candidates, 1):
            shown = (store.merge_said(c.table, c.row, x.origin, x.seq) or "delete") \
                if c.kind == "delete" and x.field == "deleted" else \
                f"{model.field_label(x.field)} = {store.side_said(c.table, x.field, x.value)}"
            now = "   [shown now]" if i == c.shown else ""
            print(f"   {i}. {shown}   ({x.agency}, {x.operator}, {x.at}){now}", file=out)
    _entered_apart_lines(store, out)


def _entered_apart_lines(store: Store, out) -> None:
    """Tasks still to do with one title, stock with one name, added at
    consoles apart: perhaps one entered twice; with the command that
    merges them, if they are."""
    db = shlex.quote(str(store.path))
    for table, rows in store.entered_apart():
        label = model.table(table).label
        what = "tasks still to do" if table == "tasks" else "stock items"
        print(f"{len(rows)} {what} named {getattr(rows[0], label)!r}, added at different consoles: entered twice? "
              f"if so: {PROG} merge --db {db} --{table} {' '.join(short_id(r.id) for r in rows)}", file=out)


def _named_already(store: Store, table: str, rows: list[dict]) -> dict:
    """The tasks still to do, or the stock items (of the same agency), that
    rows about to be added are named like (see _entered_already)."""
    if table == "tasks":
        return store.tasks_titled(r.get("title") for r in rows)
    if table == "resources":
        return store.resources_named((r.get("name"), r.get("agency")) for r in rows)
    return {}


def _named_key(table: str, row: dict) -> str | tuple[str, str] | None:
    """A row's key in what _named_already gave."""
    if table == "tasks":
        return model.name_key(row["title"]) if isinstance(row.get("title"), str) else None
    name, agency = row.get("name"), row.get("agency")
    return (model.name_key(name), model.name_key(agency)) if isinstance(name, str) and isinstance(agency, str) \
        else None


def _entered_already(store: Store, table: str, titled: dict, added: list[tuple[dict, str]]) -> None:
    """Say, on stderr (stdout holds the new ids, for scripts), which tasks
    just added have the title of a task that was still to do, or which
    stock items the name of one of their agency's on the boards: the same
    call, or stock, entered twice, perhaps, with the command that merges
    them."""
    db = shlex.quote(str(store.path))
    for row, new in added:
        same = titled.get(_named_key(table, row))
        if not same:
            continue
        title = row.get(model.table(table).label)
        t = same[0]
        if table == "tasks":
            on = len(t.assigned_units)
            _err(f"{PROG}: note: {title!r} is the title of a task still to do already ({short_id(t.id)}, "
                 f"{model.label(t.status)}, {on} unit{'s' if on != 1 else ''} on it); if they are one call: "
                 f"{PROG} merge --db {db} --tasks {short_id(t.id)} {short_id(new)}")
        else:
            held = ", ".join(p for p in (f"{t.quantity or 0:g} {t.unit or ''}".rstrip(), t.agency, t.location) if p)
            _err(f"{PROG}: note: {title!r} is the name of stock on the boards already ({short_id(t.id)}, {held}); "
                 f"if they are one stock: {PROG} merge --db {db} --resources {short_id(t.id)} {short_id(new)}")


def _stranded_lines(store: Store, out) -> None:
    """The units on a deleted task, each with the commands that settle it."""
    db = shlex.quote(str(store.path))
    for x in store.stranded():
        u = x.unit
        print(f"{u.callsign} is on {x.title}, a task {stranded_how(x)}, put on it on a console that had not "
              "seen that:", file=out)
        if x.into:
            print(f"   onto the task kept: {PROG} set --db {db} units {short_id(u.id)} task_id={short_id(x.into)} "
                  f"status={u.status}", file=out)
        print(f"   onto another task: {PROG} set --db {db} units {short_id(u.id)} task_id=TASK", file=out)
        print(f"   off it: {PROG} set --db {db} units {short_id(u.id)} status=available", file=out)


def _to_reconcile(store: Store) -> str | None:
    """What this console holds to reconcile, said after merging what came
    (a transfer file, a sync): "2 conflicts and 1 unit twice to reconcile:
    crisis-console conflicts --db ops.db lists them"; None if nothing."""
    said = to_reconcile(store.open_conflict_count(), store.twin_count(), store.stranded_count())
    return f"{said} to reconcile: {PROG} conflicts --db {shlex.quote(str(store.path))} lists them" if said else None


def _twins(store: Store, as_json: bool, out) -> None:
    """The callsigns on several units, each unit with who added it when."""
    found = store.twins()
    if as_json:
        json.dump([{"callsign": t.callsign, "units": [
            {"n": i, **dataclasses.asdict(x.unit), "added_at": x.added_at, "added_by": x.operator,
             "added_agency": x.agency} for i, x in enumerate(t.units, 1)]} for t in found],
            out, indent=1, ensure_ascii=False)
        out.write("\n")
        return
    if not found:
        print("no callsign is on several units", file=out)
    db = shlex.quote(str(store.path))
    for t in found:
        print(f"{t.callsign} is on {len(t.units)} units (added on consoles apart):", file=out)
        titles = {x.unit.task_id: store.describe("units", "task_id", x.unit.task_id) for x in t.units}
        for i, x in enumerate(t.units, 1):
            u = x.unit
            what = ", ".join(v for v in (u.agency, u.kind, model.label(u.status) if u.status else None,
                                         titles[u.task_id] if u.task_id else None, u.location) if v)
            first = "   [kept by a merge]" if i == 1 else ""
            print(f"   {i}. {short_id(u.id)}  {u.callsign}: {what}   (added by {x.agency}, {x.operator}, "
                  f"{x.added_at}){first}", file=out)
        ids = " ".join(short_id(x.unit.id) for x in t.units)
        print(f"   the same unit: {PROG} merge --db {db} {ids} [--keep ID]  (the values of ID, by default "
              f"the first's)", file=out)
        print(f"   different units: {PROG} set --db {db} units ID callsign=NEW", file=out)


def _collision_lines(store: Store, cs: list, out) -> None:
    """A collision as `conflicts` lists it: each console's side of every
    field, numbered for `resolve ID ID ... --keep N`."""
    first = cs[0]
    labels = [model.field_label(c.field) for c in cs]
    print(f"{' '.join(c.id for c in cs)}  {first.table[:-1]} {first.row_label}: {', '.join(labels[:-1])} and "
          f"{labels[-1]} written concurrently on the same consoles", file=out)
    for n, keep in enumerate(collision_sides(cs), 1):
        side = [(c, keep[c.id], c.candidates[keep[c.id] - 1]) for c in cs]
        values = "; ".join(f"{model.field_label(c.field)} = {store.side_said(c.table, c.field, x.value)}"
                           for c, _, x in side)
        shown = side_shown(cs, keep)
        now = f"   [{shown}]" if shown else ""
        x = side[0][2]
        print(f"   {n}. {values}   ({x.agency}, {x.operator}, {max(o.at for _, _, o in side)}){now}", file=out)
    print(f"   keep one console's side of all: {PROG} resolve --db {shlex.quote(str(store.path))} "
          f"{' '.join(c.id for c in cs)} --keep N", file=out)


EXPORT_PAGE = 5000  # journal entries read at a time by `export journal`
# `list journal --search`: the entries found are kept to be written, up to
# this many (about 10 MB); past it, the journal is read again to write them.
SEARCH_HELD = 10_000


def _export_rows(store: Store, table: str) -> tuple[list[str], Iterator[dict]]:
    """A table's live rows to export, as `list` has them. The journal's are
    read a page at a time, newest first, as they are written out: a long
    operation's (330,000 entries) took 0.7 GB read whole as CSV, 1.3 GB
    as JSON."""
    if table != "journal":
        headers, rows = _listing(store, table)
        return headers, iter(rows)

    def pages() -> Iterator[dict]:
        before = None
        while True:
            mark = store.journal_mark(EXPORT_PAGE, before)
            for _, e in store.journal_page(before=before, down_to=mark):
                yield dataclasses.asdict(e)
            if mark is None:
                return
            before = mark

    return COLUMNS["journal"], pages()


def _holds_words(row: dict, search: str) -> bool:
    """Whether a listed row holds these words, case and underscores aside
    ("on scene" finds on_scene)."""
    words = " ".join(search.replace("_", " ").split()).casefold()
    return words in " ".join(_cell(v) for v in row.values()).replace("_", " ").casefold()


def _write_json_rows(rows: Iterator[dict], out) -> None:
    """Rows as a JSON list, as `json.dumps(rows, indent=1)` writes it, a row at a time."""
    out.write("[")
    first = True
    for r in rows:
        said = json.dumps(r, indent=1, ensure_ascii=False).replace("\n", "\n ")
        out.write(("\n " if first else ",\n ") + said)
        first = False
    out.write("]\n" if first else "\n]\n")


def _list_journal(store: Store, search: str | None, as_json: bool, out) -> None:
    """`list journal`, newest first, read a page at a time as it is
    written, in one read transaction, never held whole (a long
    operation's, held whole, took 0.6 GB). As a table, its columns' widths
    come first: counted by SQLite, or, searching, by reading the rows
    that hold the words as they are found, kept to be written unless
    there are more than SEARCH_HELD (then read again)."""
    with store.reading():
        def rows() -> Iterator[dict]:
            return (r for r in _export_rows(store, "journal")[1] if not search or _holds_words(r, search))

        if as_json:
            _write_json_rows(rows(), out)
            return
        headers = COLUMNS["journal"]
        found: list[dict] | None = None
        if search:
            widths, found = [len(h) for h in headers], []
            for r in rows():
                widths = [max(w, len(_shown_cell(r.get(h)))) for w, h in zip(widths, headers, strict=True)]
                if found is not None:
                    found.append(r)
                    if len(found) > SEARCH_HELD:
                        found = None
        else:  # (counted by SQLite, in a tenth of the time)
            widths = [max(len(h), n or 0) for h, n in zip(headers, store.journal_widths(headers), strict=True)]
        widths = [min(w, 40) for w in widths]
        out.write("\n".join(_table_head(headers, widths)) + "\n")
        for r in rows() if found is None else found:
            out.write(_line([_shown_cell(r.get(h)) for h in headers], widths) + "\n")


def _export(store: Store, table: str, fmt: str, out) -> None:
    """Write a table's live rows to the text stream `out`, as CSV or as a
    JSON list (as `json.dumps(rows, indent=1)` writes it), a row at a
    time, all of them read in one read transaction."""
    with store.reading():
        headers, rows = _export_rows(store, table)
        if fmt == "json":
            _write_json_rows(rows, out)
            return
        w = csv.writer(out, lineterminator="\n")
        first = next(rows, None)
        fields = list(first) if first is not None else list(headers)
        w.writerow(fields)
        def cell(v) -> str:  # (a number as it is: -5 is no formula)
            return _cell(v) if isinstance(v, (int, float)) else model.as_cell(_cell(v))

        if first is not None:
            w.writerow([cell(first.get(f)) for f in fields])
        for r in rows:
            w.writerow([cell(r.get(f)) for f in fields])


def _open_window(args) -> int:
    """Open the desktop console; with --demo, on its own demo database
    (seeded on first use) so demo data never mixes with a real operation."""
    if args.demo and args.db is None:
        args.db = default_db_path().with_name("demo.db")
    if args.demo:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        with Store(args.db, operator=args.operator, agency=args.agency) as store:
            if not store.counts()["units"]:
                seed.seed_demo(store)
    from console.sync.transport import SyncError, peer_url

    try:
        args.peer = [peer_url(url) for url in args.peer or ()]
    except SyncError as exc:
        raise UsageError(f"{PROG}: {exc}") from None
    try:
        from console.ui import app
    except ImportError as exc:
        raise StoreError(f"the desktop window cannot start: {exc}") from None
    return app.main(args)


def _check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse, as a usage error, any argument that is not valid text: bytes
    that are not UTF-8 reach Python as lone surrogates, which SQLite cannot
    store. Paths are exempt: the file system takes any bytes."""
    for value in vars(args).values():
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(v, str) and not model.is_text(v):
                raise UsageError(f"{PROG}: the argument '{_shown(v)}' is not valid text: its bytes are not UTF-8")


def _shown(text: str) -> str:
    """Text as it can be printed: bytes that were not UTF-8 (lone surrogates
    in Python) as \\xff escapes."""
    if model.is_text(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()


def _err(text: str) -> None:
    """A line to standard error: a message, in which a value (a name, the
    reason another console gave) has its control characters written out
    (model.on_terminal), whether it goes to a terminal or a log file."""
    print(model.on_terminal(_shown(text)), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    # A path whose bytes are not UTF-8 prints as the file system holds it,
    # not as a traceback (standard output is strict in a UTF-8 locale).
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_text_arguments(args)
        logs = logging.StreamHandler()
        logs.setFormatter(model.LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[logs])
        return run(args)
    except UsageError as exc:
        _err(str(exc))  # argparse's own errors quote arguments as they came
        return 2
    except (StoreError, model.ValidationError, transfer.TransferError, clock.ClockSkewError,
            identity.IdentityError) as exc:
        _err(f"{PROG}: {exc}")
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        _err(f"{PROG}: {exc.filename or ''}: {exc.strerror or exc}")
        return 1
