"""A long operation: days of edits in one database, then what people do with it.

    python bench/bench_long.py [--rounds N] [--collided N] [--quick]

- the database: four agencies' consoles, 150 units each (and the demo
  scenario), each round 40 units of each agency changing status and
  location and a note each, syncing every 10 rounds, all merged into one:
  about 450 changes a round (2,000 rounds, the default: 900,000 changes and
  330,000 journal entries, all in the last 12 hours, as in an operation's
  busiest day many times over)
- on it, best of three: the situation report as the window reads it; a
  unit's activity log (ICS 214); the journal pane's next page of one
  unit's entries, scrolled to (its "selected row only"); each against
  reading the same journal entries by their keys with one raw SQL query
- the window (offscreen) on that database: the largest stall of its event
  loop while the situation report, then one unit's activity log, are
  opened and read (beside it) and shown; then while the journal pane
  exports the whole journal to CSV, and searches all of it for words no
  entry holds (each once)
- a new console's window joining the operation: the whole of it caught
  up from a relay (a separate process) holding it, and the stalls of the
  window's event loop meanwhile (the largest, how many over 50 and 100 ms)
  until the boards have it all, against `sync --once` of the same into
  another new console with no window
- the reconciliation view (offscreen): two consoles apart each set the
  status and location of the same units (--collided, default 2,000), then
  the view opened, one decision at a time (best of three), and 500 items
  settled at once by keeping what the boards show; beside the time to
  list the whole view again, in the same run (a decision did that three
  times over before the twenty-seventh session)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

AGENCIES = ["City Police", "County Fire", "County EMS", "Public Works"]
STATUSES = ["dispatched", "en route", "on scene", "returning", "available"]


def _sync_all(stores) -> None:
    for a in stores:
        for b in stores:
            if a is not b:
                b.apply(c for batch in a.changes_since(b.version_vector()) for c in batch)


def build_operation(db: Path, rounds: int) -> dict:
    """Four consoles editing their units for `rounds` rounds, merged into `db`."""
    from console import seed
    from console.store import Store

    rng = random.Random(3)
    stores = [Store(db, agency=AGENCIES[0])] + [Store(f"{db}.{i}", agency=AGENCIES[i]) for i in range(1, 4)]
    seed.seed_demo(stores[0])
    _sync_all(stores)
    mine = []
    for i, s in enumerate(stores):
        mine.append(s.add_many("units", [{"callsign": f"{'PFEW'[i]}{n}", "agency": AGENCIES[i],
                                          "kind": "Engine, Type 1"} for n in range(150)]))
    start = time.perf_counter()
    for r in range(rounds):
        for i, s in enumerate(stores):
            for u in rng.sample(mine[i], 40):
                s.update("units", u, {"status": rng.choice(STATUSES), "location": f"grid {rng.randint(1, 400)}"})
            s.note(f"round {r}: {AGENCIES[i]} shift update")
        if r % 10 == 9 or r == rounds - 1:
            _sync_all(stores)
        if r % 200 == 199:
            print(f"  ... {r + 1:,} rounds, {stores[0].info().as_dict()['changes']:,} changes, "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    info = stores[0].info().as_dict()
    for s in stores:
        s.close()
    return {"changes": info["changes"], "journal": info["counts"]["journal"], "units": info["counts"]["units"]}


def _best(f, n: int = 3) -> tuple[float, object]:
    best, out = None, None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        d = time.perf_counter() - t
        best = d if best is None or d < best else best
    return best, out


def _raw_read(db: Path, keys) -> float:
    """The same journal entries read by their keys (clock time, id) in one query."""
    conn = sqlite3.connect(db)
    sql = (f"SELECT row_id, value, agency, operator FROM changes WHERE tbl = 'journal' "
           f"AND hlc IN ({', '.join('?' * len(keys))}) ORDER BY hlc DESC, row_id")
    t, rows = _best(lambda: conn.execute(sql, [k[0] for k in keys]).fetchall())
    conn.close()
    assert len(rows) >= len(keys)
    return t


def bench_reads(db: Path) -> dict:
    from console import clock, report
    from console.store import Store

    store = Store(db)
    unit = store.get("units", store.resolve_id("units", "P0"))  # one of the busy ones
    out = {}
    t, r = _best(lambda: report.build(store, limit=500))
    out["report_ms"] = t * 1000
    t_counts, _ = _best(lambda: store.journal_counts(clock.pack(r.since_ms)))
    out["report_counts_ms"] = t_counts * 1000
    t, log = _best(lambda: report.build_activity(store, unit.id))
    keys = [(e[0][0], e[0][1]) for e in store.journal_page(table="units", row=unit.id,
                                                           down_to=(clock.pack(log.since_ms), ""), limit=500)]
    out.update(activity_ms=t * 1000, activity_entries=len(log.entries), activity_total=log.entries_total,
               activity_raw_ms=_raw_read(db, keys) * 1000)
    first = store.journal_page(table="units", row=unit.id, limit=25)
    t, page = _best(lambda: store.journal_page(table="units", row=unit.id, before=first[-1][0], limit=25))
    out.update(page_ms=t * 1000, page_entries=len(page), page_raw_ms=_raw_read(db, [k for k, _ in page]) * 1000)
    store.close()
    return out


def bench_window_reports(db: Path, tmp: Path) -> dict:
    """The largest stall of the window's event loop while a report is
    opened, read (beside it) and shown, best of three."""
    from bench_ui import _shown_window, _StallMeter
    from PySide6.QtWidgets import QApplication

    from console.store import Store

    store = Store(db)
    app, bridge, window = _shown_window(store, tmp)
    window.resize(1500, 860)
    select = window.views["units"]
    row = next(r for r in range(window.filters["units"].rowCount())
               if window.filters["units"].index(r, 0).data() == "P0")
    out = {}
    meter = _StallMeter()
    for name, open_it in (("report", window.open_report),
                          ("activity", lambda: (select.selectRow(row), window.open_activity())[1])):
        best = None
        for _ in range(3):
            for _ in range(20):
                app.processEvents()
            meter.reset()
            dialog = open_it()
            while dialog.busy or dialog.report is None:
                app.processEvents()
            end = time.perf_counter() + 0.5  # its layout, and what the window does after
            while time.perf_counter() < end:
                app.processEvents()
            best = meter.stall if best is None else min(best, meter.stall)
            dialog.close()
            dialog.deleteLater()
        out[f"{name}_stall_ms"] = best * 1000
    # The journal pane: the whole journal exported to CSV (ICS 214), and a
    # search that matches nothing, so looks at every entry.
    for _ in range(20):
        app.processEvents()
    meter.reset()
    start, path = time.perf_counter(), tmp / "journal.csv"
    window.export_journal(str(path))
    while not path.exists():
        app.processEvents()
    out.update(export_s=time.perf_counter() - start, export_stall_ms=meter.stall * 1000,
               export_mib=path.stat().st_size / 2**20)
    meter.reset()
    start = time.perf_counter()
    window.journal_search.setText("no such words anywhere")
    while window.journal.text != "no such words anywhere" or window.journal.searching:
        app.processEvents()
    out.update(search_s=time.perf_counter() - start, search_stall_ms=meter.stall * 1000)
    meter.timer.stop()
    window.close()
    bridge.close()
    QApplication.processEvents()
    return out


def bench_join(db: Path, tmp: Path, n: int) -> dict:
    """A new console's window catching up the whole operation from a relay
    on `db` (its `n` changes), against a `sync --once` with no window."""
    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from console.store import Store
    from console.sync import identity
    from console.sync.child import EngineProcess
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    joiners = [tmp / "join-window.db", tmp / "join-cli.db"]
    relay_id = identity.load_or_create(db).console_id
    with Store(db) as s:
        for j in joiners:
            Store(j).close()
            s.trust(identity.load_or_create(j).console_id, "State DOT")
    for j in joiners:
        with Store(j) as s:
            s.trust(relay_id, "EOC")
    relay = subprocess.Popen([sys.executable, "-m", "console", "relay", "--db", str(db), "--listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    out: dict = {}
    try:
        port = int(relay.stdout.readline().rsplit(":", 1)[1].split()[0])
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "console", "--db", str(joiners[1]), "sync", "--peer",
                        f"wss://127.0.0.1:{port}", "--once"], check=True, capture_output=True, cwd=ROOT)
        out["cli_s"] = time.perf_counter() - t
        app = QApplication.instance() or QApplication([])
        app.setQuitOnLastWindowClosed(False)

        async def run() -> None:
            store = Store(joiners[0])
            engine = EngineProcess(joiners[0], peers=[f"wss://127.0.0.1:{port}"])
            bridge = Bridge(store, engine)
            window = MainWindow(bridge, settings=QSettings(str(tmp / "join.ini"), QSettings.Format.IniFormat))
            window.resize(1500, 860)
            window.show()
            await asyncio.sleep(1.0)  # the first layout and paint are launch, not catch-up
            loop = asyncio.get_running_loop()
            stalls = []
            await engine.start()
            start = time.perf_counter()
            while time.perf_counter() - start < 900:
                t = loop.time()
                await asyncio.sleep(0.005)
                stalls.append(loop.time() - t - 0.005)
                if sum(store.version_vector().values()) >= n and not any(m.busy for m in window.models.values()):
                    break
            out.update(window_s=time.perf_counter() - start, stall_ms=max(stalls) * 1000,
                       over_50=sum(x > 0.05 for x in stalls), over_100=sum(x > 0.1 for x in stalls),
                       held=sum(store.version_vector().values()))
            await engine.stop()
            window.close()
            bridge.close()

        qasync.run(run())
    finally:
        relay.terminate()
        relay.communicate(timeout=60)
    return out


def make_collided(tmp: Path, n: int) -> Path:
    """A console whose `n` units were each given a status and a place on
    another console apart at the same time: 2n open conflicts."""
    from console.store import Store

    a, b = Store(tmp / "here.db", agency="County Fire"), Store(tmp / "apart.db", agency="City Police")
    ids = a.add_many("units", [{"callsign": f"U{i}", "agency": "County Fire", "kind": "Engine, Type 1"}
                               for i in range(n)])
    b.apply(c for batch in a.changes_since({}) for c in batch)
    for i, u in enumerate(ids):
        a.update("units", u, {"status": "en route", "location": f"A {i}"})
        b.update("units", u, {"status": "on scene", "location": f"B {i}"})
    a.apply(c for batch in b.changes_since(a.version_vector()) for c in batch)
    a.close()
    b.close()
    return tmp / "here.db"


def bench_reconcile(tmp: Path, n: int) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from console.store import Store
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    db = make_collided(tmp, n)
    app = QApplication.instance() or QApplication([])
    store = Store(db)
    window = MainWindow(Bridge(store), settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 800)  # (as on a screen with room for it: the offscreen one is 800 by 800)
    window.show()
    for _ in range(20):
        app.processEvents()
    out = {"conflicts": store.open_conflict_count()}
    t = time.perf_counter()
    dialog = window.open_reconcile()
    out["open_ms"] = (time.perf_counter() - t) * 1000
    app.processEvents()
    tree = dialog.tree

    def decide() -> None:
        tree.clearSelection()
        tree.setCurrentItem(tree.topLevelItem(0).child(0))
        dialog.keep_selected()
        app.processEvents()

    out["decision_ms"] = _best(decide)[0] * 1000

    def whole() -> None:  # the whole view listed again, as every decision did before
        tree.clear()
        dialog._shown = []
        dialog.reload()

    out["whole_ms"] = _best(whole)[0] * 1000  # (the store's part of a decision not included)
    tree.clearSelection()
    for i in range(min(500, tree.topLevelItemCount())):
        tree.topLevelItem(i).setSelected(True)
    t = time.perf_counter()
    dialog.keep_shown()
    out["keep_500_ms"] = (time.perf_counter() - t) * 1000
    out["left"] = store.open_conflict_count()
    window.close()
    store.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2000, help="rounds of edits (default 2000: about 4 minutes)")
    p.add_argument("--collided", type=int, default=2000, help="units collided for the reconciliation view")
    p.add_argument("--quick", action="store_true", help="200 rounds, 200 units collided")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.collided = 200, 200
    if args.rounds < 1 or args.collided < 2:
        p.error("--rounds must be at least 1 and --collided at least 2")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        made = build_operation(tmp / "long.db", args.rounds)
        print(f"operation  {args.rounds:,} rounds: {made['changes']:,} changes, {made['journal']:,} journal entries, "
              f"{made['units']:,} units, made in {time.perf_counter() - t:.0f} s")
        r = bench_reads(tmp / "long.db")
        print(f"report     {r['report_ms']:.0f} ms (of which the period's journal counted: "
              f"{r['report_counts_ms']:.0f} ms)")
        print(f"activity   one unit's log, {r['activity_entries']:,} of its {r['activity_total']:,} entries: "
              f"{r['activity_ms']:.1f} ms (raw SQL by key {r['activity_raw_ms']:.1f} ms; "
              f"ratio {r['activity_ms'] / r['activity_raw_ms']:.2f}x)")
        print(f"row page   the next {r['page_entries']} of one unit's entries: {r['page_ms']:.1f} ms "
              f"(raw SQL by key {r['page_raw_ms']:.1f} ms; ratio {r['page_ms'] / r['page_raw_ms']:.2f}x)")
        w = bench_window_reports(tmp / "long.db", tmp)
        print(f"window     largest stall opening the situation report {w['report_stall_ms']:.0f} ms, "
              f"one unit's activity log {w['activity_stall_ms']:.0f} ms (each read beside it)")
        print(f"journal    the whole of it exported from the pane in {w['export_s']:.1f} s ({w['export_mib']:.0f} MiB "
              f"of CSV), largest stall {w['export_stall_ms']:.0f} ms; a search through all of it "
              f"{w['search_s']:.1f} s, largest stall {w['search_stall_ms']:.0f} ms")
        j = bench_join(tmp / "long.db", tmp, made["changes"])
        print(f"join       a new console's window caught up {j['held']:,} changes in {j['window_s']:.1f} s "
              f"(sync --once with no window {j['cli_s']:.1f} s; ratio {j['window_s'] / j['cli_s']:.2f}x); "
              f"its largest stall {j['stall_ms']:.0f} ms, {j['over_50']} over 50 ms, {j['over_100']} over 100 ms")
        c = bench_reconcile(tmp, args.collided)
        print(f"reconcile  {c['conflicts']:,} conflicts on {args.collided:,} units: opened in {c['open_ms']:.0f} ms; "
              f"a decision {c['decision_ms']:.0f} ms, all told; the whole view listed again {c['whole_ms']:.0f} ms "
              f"(ratio {c['decision_ms'] / c['whole_ms']:.2f}x); 500 settled at once in {c['keep_500_ms']:.0f} ms, "
              f"{c['left']:,} left")


if __name__ == "__main__":
    main()
