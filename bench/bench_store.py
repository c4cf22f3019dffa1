"""Store benchmarks: each figure is compared with raw SQLite doing the same
rows in the same run, with the same durability settings (WAL, synchronous=FULL).

    python bench/bench_store.py            # full sizes (about a minute)
    python bench/bench_store.py --quick    # small sizes, for a smoke run

Prints a table of figures and ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console import backup, clock, codec, model, seed
from console.merge import ROW_FIELD, Change
from console.store import PAGE_SIZE, Store, new_id


def raw_db(path: Path, *schema: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # the store's, for new databases
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    for sql in schema:
        conn.execute(sql)
    return conn


UNIT_COLS = ["id", *model.UNITS.names]
UNITS_SQL = f"CREATE TABLE units ({', '.join(c + ' TEXT' if c == 'id' else c for c in UNIT_COLS)}, PRIMARY KEY (id))"


def store_units_schema(tmp: Path) -> list[str]:
    """The store's own units table and its indexes, as SQL."""
    with Store(tmp / "schema.db") as s:
        return [sql for (sql,) in s._conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'units' AND sql IS NOT NULL ORDER BY type DESC")]


def raw_unit_inserts(conn: sqlite3.Connection, rows: list[dict], batch: int, full: bool) -> float:
    """Seconds to executemany the unit rows in transactions of `batch`: into
    the store's own table (`full`: every column it has), or a plain one."""
    cols = [*UNIT_COLS, "status_since", "deleted", "created_hlc", "created_by", "created_seq"] if full else UNIT_COLS
    sql = f"INSERT INTO units ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    hlc = clock.pack(clock.wall_ms())
    tail = (clock.to_iso(hlc), 0, hlc, "f" * 32) if full else ()
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        conn.execute("BEGIN")
        conn.executemany(sql, [(new_id(), *[r.get(c) for c in UNIT_COLS[1:]], *tail, *((k,) if full else ()))
                               for k, r in enumerate(part, i + 1)])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def bench_local_writes(tmp: Path, n: int, batch: int) -> list[tuple]:
    rows = seed.synthetic_rows(n)["units"]
    # Raw: the same unit rows, executemany in transactions of `batch`, into a
    # table like the store's own (same columns and indexes), so the
    # difference is the change tracking; and into a plain table, as before.
    raw = raw_unit_inserts(raw_db(tmp / "raw_local.db", *store_units_schema(tmp)), rows, batch, True)
    raw_plain = raw_unit_inserts(raw_db(tmp / "raw_plain.db", UNITS_SQL), rows, batch, False)
    # Ours: add_many validates every value, logs each row's insert change and
    # writes a journal entry per batch.
    s = Store(tmp / "local.db", operator="bench", agency="Bench")
    start = time.perf_counter()
    for i in range(0, n, batch):
        s.add_many("units", rows[i : i + batch])
    ours = time.perf_counter() - start

    # The same inserts split in two: validating the values (what add_many
    # does first), then only the change tracking (insert change, log, merge)
    # for values already validated, through the store's own write path.
    s2 = Store(tmp / "local_split.db", operator="bench", agency="Bench")
    t = model.UNITS
    start = time.perf_counter()
    prepared = [{f.name: model.check(t, f, r.get(f.name, f.default)) for f in t.fields} for r in rows]
    validate = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, n, batch):
        with s2._writing() as w:
            for vals in prepared[i : i + batch]:
                w.change("units", new_id(), ROW_FIELD, "insert", vals)
    tracking = time.perf_counter() - start
    s2.close()

    # Single edits, one transaction each (what a person at the console does).
    ids = [u.id for u in s.list("units")][:500]
    statuses = list(model.UNIT_STATUSES)
    start = time.perf_counter()
    for k, uid in enumerate(ids):
        s.update("units", uid, {"status": statuses[(k + 1) % len(statuses)], "location": f"Post {k}"})
    ours_edit = time.perf_counter() - start
    s.close()
    conn = sqlite3.connect(tmp / "raw_local.db", isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    raw_ids = [r for (r,) in conn.execute("SELECT id FROM units LIMIT 500")]
    start = time.perf_counter()
    for k, uid in enumerate(raw_ids):
        conn.execute("BEGIN")
        conn.execute("UPDATE units SET status = ?, location = ? WHERE id = ?",
                     (statuses[(k + 1) % len(statuses)], f"Post {k}", uid))
        conn.execute("COMMIT")
    raw_edit = time.perf_counter() - start
    conn.close()
    return [
        ("local inserts", f"{n} units, batches of {batch}", n / ours, n / raw, ours / raw),
        ("  of which tracking", "the same rows, values already validated: insert change + log + merge",
         n / tracking, n / raw, tracking / raw),
        ("  of which validation", "checking every value of the same rows (no SQLite)", n / validate, n / raw,
         validate / raw),
        ("  raw into a plain table", "the same ours, against a plain table: no indexes but the id", n / ours,
         n / raw_plain, ours / raw_plain),
        ("local edits", f"{len(ids)} edits of 2 fields, 1 tx each", len(ids) / ours_edit, len(raw_ids) / raw_edit,
         ours_edit / raw_edit),
    ]


def remote_changes(n: int, seed_: int = 11) -> list[Change]:
    """A realistic catch-up, shaped like the log the store writes: rows
    created by one console, then operations from three consoles (status,
    location, assignment, stock draws, deletes; about 1% concurrent), each
    followed by its journal entry, as every local operation is."""
    rng = random.Random(seed_)
    origins = [uuid.uuid4().hex for _ in range(3)]
    seqs = dict.fromkeys(origins, 0)
    hlc = clock.pack(clock.wall_ms() - 3_600_000)
    out: list[Change] = []

    def emit(origin, table, row, field, kind, value, prev, journal=True):
        nonlocal hlc
        hlc += rng.randint(1, 50)
        seqs[origin] += 1
        c = Change(origin, seqs[origin], hlc, table, row, field, kind, value, tuple(prev), "bench", "Bench")
        out.append(c)
        if journal:
            text = f"{row[:8]}: {field} = {value}"
            entry = {"at": clock.to_iso(hlc), "console": origin, "agency": "Bench", "operator": "bench",
                     "action": kind, "tbl": table, "row_id": row, "text": text}
            emit(origin, "journal", new_id(), ROW_FIELD, "insert", entry, (), journal=False)
        return c

    n_rows = n // 5
    units, tasks, resources = [], [], []
    heads: dict[tuple[str, str], tuple[str, int]] = {}
    creator = origins[0]
    synth = seed.synthetic_rows(n_rows // 3 + 1)
    for kind, store_list, table in (("tasks", tasks, "tasks"), ("units", units, "units"),
                                    ("resources", resources, "resources")):
        t = model.TABLES[table]
        for values in synth[kind][: n_rows // 3]:
            full = {f.name: values.get(f.name, f.default) for f in t.fields}
            c = emit(creator, table, new_id(), ROW_FIELD, "insert", full, (), journal=False)
            store_list.append(c)
    statuses = list(model.UNIT_STATUSES)
    deleted = set()
    while len(out) < n:
        origin = rng.choice(origins)
        r = rng.random()
        if r < 0.15 and resources:
            res = rng.choice(resources)
            emit(origin, "resources", res.row, "quantity", "add", rng.randint(-20, 50), ())
            continue
        u = rng.choice(units)
        if u.row in deleted:
            continue
        if r < 0.16:
            prev = [heads.get((u.row, f), u.id) for f in ("status", "location", "task_id")]
            emit(origin, "units", u.row, "deleted", "delete", True, sorted(set(prev)))
            deleted.add(u.row)
            continue
        field, value = (("status", rng.choice(statuses)) if r < 0.6 else
                        ("location", f"{rng.randint(1, 999)} Main St") if r < 0.8 else
                        ("task_id", rng.choice(tasks).row))
        prev = heads.get((u.row, field), u.id)
        if rng.random() < 0.01:
            prev = u.id  # concurrent: this writer had not seen the latest version
        c = emit(origin, "units", u.row, field, "set", value, [prev])
        heads[(u.row, field)] = c.id
    # Delivered in clock order, as Store.changes_since sends them.
    return out[:n]


def bench_remote_apply(tmp: Path, n: int, batch: int) -> list[tuple]:
    tmp.mkdir(exist_ok=True)
    changes = remote_changes(n)
    wire = [codec.encode(c) for c in changes]
    conn = raw_db(tmp / "raw_apply.db",
                  "CREATE TABLE changes (origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, "
                  "tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, kind TEXT NOT NULL, value TEXT, "
                  "prev TEXT NOT NULL, operator TEXT NOT NULL, agency TEXT NOT NULL, "
                  "PRIMARY KEY (origin, seq)) WITHOUT ROWID")
    start = time.perf_counter()
    for i in range(0, n, batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         [(c.origin, c.seq, c.hlc, c.table, c.row, c.field, c.kind, json.dumps(c.value),
                           json.dumps(c.prev), c.operator, c.agency) for c in changes[i : i + batch]])
        conn.execute("COMMIT")
    raw = time.perf_counter() - start
    conn.close()
    # Two stricter baselines: values encoded with the store's own encoder
    # (orjson), and rows encoded before the clock starts (SQLite alone).
    raw_fast = raw_rows(tmp / "raw_apply_fast.db", changes, batch,
                        lambda c: (codec.dumps(c.value), codec.dumps_versions(c.prev)))
    encoded = [(c.origin, c.seq, c.hlc, c.table, c.row, c.field, c.kind, json.dumps(c.value), json.dumps(c.prev),
                c.operator, c.agency) for c in changes]
    raw_sqlite = raw_rows(tmp / "raw_apply_sqlite.db", encoded, batch, None)

    s = Store(tmp / "apply.db")
    start = time.perf_counter()
    for i in range(0, n, batch):
        s.apply(changes[i : i + batch])
    ours = time.perf_counter() - start
    conflicts = len(s.conflicts())
    s.close()

    s = Store(tmp / "apply_wire.db")
    start = time.perf_counter()
    for i in range(0, n, batch):
        s.apply([codec.decode(w) for w in wire[i : i + batch]])
    ours_wire = time.perf_counter() - start
    s.close()
    return [
        ("remote apply", f"{n} changes, batches of {batch} ({conflicts} conflicts)", n / ours, n / raw, ours / raw),
        ("  raw with orjson", "the same ours, against raw rows encoded with orjson", n / ours, n / raw_fast,
         ours / raw_fast),
        ("  raw SQLite alone", "the same ours, against rows encoded before timing", n / ours, n / raw_sqlite,
         ours / raw_sqlite),
        ("remote apply + decode", "the same, validated from wire form", n / ours_wire, n / raw, ours_wire / raw),
    ]


CHANGES_SQL = ("CREATE TABLE changes (origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, "
               "tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL, kind TEXT NOT NULL, value TEXT, "
               "prev TEXT NOT NULL, operator TEXT NOT NULL, agency TEXT NOT NULL, "
               "PRIMARY KEY (origin, seq)) WITHOUT ROWID")


def raw_rows(path: Path, items: list, batch: int, encode) -> float:
    """Seconds to executemany `items` into a change-log table in transactions
    of `batch`; `encode(change)` gives (value, prev) text, or None when the
    items are rows already."""
    conn = raw_db(path, CHANGES_SQL)
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        conn.execute("BEGIN")
        part = items[i : i + batch]
        if encode is not None:
            part = [(c.origin, c.seq, c.hlc, c.table, c.row, c.field, c.kind, *encode(c), c.operator, c.agency)
                    for c in part]
        conn.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?,?,?)", part)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


JOURNAL_V3 = [  # schema 3's journal: a table of its own, with its indexes
    'CREATE TABLE journal (id TEXT PRIMARY KEY, at TEXT, console TEXT, agency TEXT, operator TEXT, action TEXT, '
    'tbl TEXT, row_id TEXT, text TEXT, created_hlc INTEGER, created_by TEXT, created_seq INTEGER)',
    "CREATE INDEX journal_time ON journal (created_hlc)",
    "CREATE INDEX journal_row ON journal (tbl, row_id)",
]


def bench_journal(tmp: Path) -> list[tuple]:
    """Reading the journal, a view over the change log, against the same
    entries in a table of their own with indexes by time and by row (what
    the journal was before schema 4), in the database remote apply made."""
    s = Store(tmp / "apply.db")
    entries = s.journal()
    cols = ", ".join(model.record_fields("journal"))
    conn = raw_db(tmp / "raw_journal.db", *JOURNAL_V3)
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO journal VALUES ({', '.join('?' * 12)})",
                     s._conn.execute("SELECT * FROM journal").fetchall())
    conn.execute("COMMIT")
    rows = [(e.tbl, e.row_id) for e in entries[:: max(1, len(entries) // 200)] if e.row_id][:200]

    def best(fn, reps=5):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    order = " ORDER BY created_hlc DESC, id"
    newest = (best(lambda: s.journal(limit=500)),
              best(lambda: conn.execute(f"SELECT {cols} FROM journal{order} LIMIT 500").fetchall()))
    by_row = (best(lambda: [s.journal(table=t, row=r) for t, r in rows]),
              best(lambda: [conn.execute(f"SELECT {cols} FROM journal WHERE tbl = ? AND row_id = ?{order}",
                                         (t, r)).fetchall() for t, r in rows]))
    whole = (best(lambda: s.journal(), 3),
             best(lambda: conn.execute(f"SELECT {cols} FROM journal{order}").fetchall(), 3))
    s.close()
    conn.close()
    n = len(entries)
    return [
        ("journal: newest 500", f"{n} entries: reads per second, against a journal table", 1 / newest[0],
         1 / newest[1], newest[0] / newest[1]),
        ("journal: a row's", f"the entries about one row, for {len(rows)} rows: rows per second",
         len(rows) / by_row[0], len(rows) / by_row[1], by_row[0] / by_row[1]),
        ("journal: whole", f"all {n} entries: entries per second", n / whole[0], n / whole[1], whole[0] / whole[1]),
    ]


# Peak memory is VmHWM: on Linux, ru_maxrss of a child started from a big
# parent reports the parent's high-water mark.
PEAK = "int(next(x for x in open('/proc/self/status') if x.startswith('VmHWM')).split()[1])"
OPEN_OURS = f"""
import sys, time
t0 = time.perf_counter()
from console.store import Store
t_import = time.perf_counter() - t0
s = Store(sys.argv[1])
rows = s.list("units")
t1 = time.perf_counter()
print(t1 - t0, len(rows), {PEAK}, t_import)
"""
OPEN_RAW = f"""
import sqlite3, sys, time
t0 = time.perf_counter()
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute("SELECT * FROM units WHERE deleted = 0 ORDER BY callsign COLLATE NOCASE, id").fetchall()
t1 = time.perf_counter()
print(t1 - t0, len(rows), {PEAK}, 0)
"""
BASE = f"""
print(0, 0, {PEAK}, 0)
"""


def bench_open(tmp: Path, per_table: int) -> list[tuple]:
    path = tmp / "big.db"
    s = Store(path)
    seed.seed_synthetic(s, per_table)
    s.close()

    def run(code):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent.parent).stdout.split()
        return float(out[0]), int(out[1]), int(out[2]) / 1024, float(out[3])

    base_rss = min(run(BASE)[2] for _ in range(3))
    ours = min((run(OPEN_OURS) for _ in range(3)), key=lambda r: r[0])
    raw = min((run(OPEN_RAW) for _ in range(3)), key=lambda r: r[0])
    return [
        ("open + list units", f"{4 * per_table} rows in the database, {ours[1]} units listed as records",
         1 / ours[0], 1 / raw[0], ours[0] / raw[0]),
        ("  time, peak RSS", f"ours {ours[0] * 1000:.0f} ms (of which importing {ours[3] * 1000:.0f} ms), "
         f"{ours[2]:.0f} MiB; raw sqlite3 {raw[0] * 1000:.0f} ms, {raw[2]:.0f} MiB; bare python {base_rss:.0f} MiB",
         None, None, None),
    ]


def bench_spreadsheet(tmp: Path, n: int) -> list[tuple]:
    """csv_rows.read of a roster of `n` units with coordinates and crews,
    written with a decimal point, then with a decimal comma (semicolons
    between cells, as Excel writes it in Germany), against csv.reader and
    float() on the same cells alone: every value checked, and a number's
    decimal mark read, against none."""
    import csv

    from console import csv_rows

    rng = random.Random(5)
    rows = [(f"U-{i}", "County Fire", "Engine", rng.randint(1, 9), f"{rng.uniform(-80, 80):.5f}",
             f"{rng.uniform(-170, 170):.5f}", f"Station {i % 40}") for i in range(n)]
    out = []
    for mark, sep in (("point", ","), ("comma", ";")):
        path = tmp / f"roster-{mark}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=sep)
            w.writerow(["callsign", "agency", "kind", "personnel", "lat", "lon", "location"])
            w.writerows([*r[:4], r[4].replace(".", ","), r[5].replace(".", ","), r[6]] if mark == "comma" else r
                        for r in rows)

        def raw(path=path, sep=sep):
            with path.open(newline="", encoding="utf-8") as f:
                lines = csv.reader(f, delimiter=sep)
                next(lines)
                return [(c, a, k, int(p), float(la.replace(",", ".")), float(lo.replace(",", ".")), loc)
                        for c, a, k, p, la, lo, loc in lines]

        ours = min(_timed(lambda path=path: csv_rows.read("units", path)) for _ in range(5))
        base = min(_timed(raw) for _ in range(5))
        assert csv_rows.read("units", path).decimal == (None if mark == "point" else "comma")
        out.append((f"spreadsheet ({mark})", f"{n:,} units read and checked, against csv.reader and float() alone",
                    n / ours, n / base, ours / base))
    return out


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_backup(tmp: Path) -> list[tuple]:
    """A backup of the open benchmark's database (console/backup.py)
    against copying its file, fsynced; then local edits made while backups
    run back to back on another thread, as the window makes them, against
    the same edits with none running."""
    path = tmp / "big.db"
    size = path.stat().st_size / 2**20

    def raw_copy() -> float:
        t0 = time.perf_counter()
        shutil.copyfile(path, tmp / "copy.db")
        fd = os.open(tmp / "copy.db", os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        return time.perf_counter() - t0

    def ours() -> float:
        t0 = time.perf_counter()
        backup.backup(path, tmp / "backup.db")
        return time.perf_counter() - t0

    raw_t, ours_t = [], []
    for _ in range(3):
        raw_t.append(raw_copy())
        ours_t.append(ours())
    raw_s, ours_s = min(raw_t), min(ours_t)

    s = Store(path)
    ids = [u.id for u in s.list("units")[:300]]
    statuses = ["dispatched", "en_route", "on_scene", "available"]

    def edits(k: int) -> list[float]:  # each unit to another status than the last run's
        out = []
        for i, uid in enumerate(ids):
            t0 = time.perf_counter()
            s.update("units", uid, {"status": statuses[(i + k) % 4]})
            out.append(time.perf_counter() - t0)
        return out

    quiet = edits(0)
    running = threading.Event()
    stop = threading.Event()

    def backups() -> None:
        while not stop.is_set():
            backup.backup(path, tmp / "backup.db")
            running.set()

    worker = threading.Thread(target=backups)
    worker.start()
    running.wait()
    busy = edits(1)
    stop.set()
    worker.join()
    s.close()

    def p99(xs):
        return sorted(xs)[int(len(xs) * 0.99)] * 1000

    return [
        ("backup", f"{size:.0f} MiB database: MiB/s, against copying the file; "
         f"ours {ours_s * 1000:.0f} ms, copy {raw_s * 1000:.0f} ms", size / ours_s, size / raw_s, ours_s / raw_s),
        ("  edits during backups", f"{len(ids)} unit edits, 1 tx each, while backups run back to back on a "
         f"thread, against none: p99 {p99(busy):.1f} ms against {p99(quiet):.1f} ms, max {max(busy) * 1000:.1f} "
         f"against {max(quiet) * 1000:.1f} ms", len(busy) / sum(busy), len(quiet) / sum(quiet),
         sum(busy) / sum(quiet)),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = p.parse_args()
    n_local, n_apply, per_table = (2000, 10_000, 2500) if args.quick else (20_000, 100_000, 25_000)
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        results = []
        results += bench_local_writes(tmp, n_local, 5000)
        results += bench_remote_apply(tmp, n_apply, 1000)
        results += bench_remote_apply(tmp / "b5000", n_apply, 5000)[:3]
        results += bench_journal(tmp / "b5000")
        results += bench_open(tmp, per_table)
        results += bench_backup(tmp)
        results += bench_spreadsheet(tmp, 1000 if args.quick else 10_000)
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus")
    print(f"{'benchmark':24} {'ours/s':>10} {'raw/s':>10} {'time ratio':>10}  what")
    for name, what, ours, raw, ratio in results:
        if ours is None:
            print(f"{name:24} {'':>10} {'':>10} {'':>10}  {what}")
        else:
            print(f"{name:24} {ours:>10,.0f} {raw:>10,.0f} {ratio:>9.2f}x  {what}")


if __name__ == "__main__":
    main()
