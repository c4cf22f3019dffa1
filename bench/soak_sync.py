"""Sync soak: consoles editing for minutes through connections that keep dropping.

    python bench/soak_sync.py                 # 5 minutes, 3 consoles
    python bench/soak_sync.py --minutes 1     # a short run
    python bench/soak_sync.py --kills         # and sync processes killed now and then
    python bench/soak_sync.py --window        # the first console a window (offscreen)
    python bench/soak_sync.py --ring          # the consoles also in a ring, each change by two ways
    python bench/soak_sync.py --backups       # the relay backing up every 6 s meanwhile
    python bench/soak_sync.py --flood         # and one machine flooding the relay with connections

A relay process; one `crisis-console sync` process per console, dialling the
relay through a proxy on 127.0.0.1 that cuts each connection after a random
time (0.2 s to a minute) and turns one in ten away at once; and one writer
process per database (the consoles' and the relay's), editing as a window
would: statuses, assignments, stock drawn and added, notes, new, deleted and
restored units (half of them with a callsign from a pool of 8, moving on
every 15 s, that the others add too, so that the same callsign lands on
two units), retitled
tasks, new tasks (titles from a pool of 10 the others draw from too) and
two tasks merged into one (with their units: a unit put meanwhile on the
one merged away, elsewhere, is left on a deleted task), its own last
operation undone (or redone), conflicts reconciled and units on one
callsign merged, with 10 to 80 ms between operations.

With `--window`, the first console is the desktop window instead (offscreen,
its engine in its child process as always), and the figures add the
window's memory and its event loop's largest stall over each 10 s (from 3 s
after it starts, once it has loaded and painted), with how much of that
stall its thread spent on the CPU ("busy"): the rest is the machine's
scheduler running other processes meanwhile.

With `--ring`, the consoles also sync directly in a ring (each listens, and
dials the next), so that every change reaches each console by two ways,
through the relay and around the ring.

With `--backups`, the relay runs with `--backup-to` every 0.1 minute,
keeping 5: each backup read while four writers and the sync write to its
database. At the end every backup kept must be whole (`quick_check`) and
the newest must hold a prefix of each origin's changes with no gap.

With `--flood`, another address (127.0.0.2) opens connections to the relay
that never identify themselves, 50 a second, throughout: most say nothing,
some send bytes that are not TLS. Each is held until the relay closes it.
The relay must turn most away at once (see MAX_UNIDENTIFIED_PER_ADDRESS in
console/sync/transport.py), keep its descriptors flat, and go on serving
the consoles as if nothing were happening.

With `--kills`, every 10 to 30 s one `sync` process is killed (SIGKILL, as a
laptop losing power would), at a random point of its work, and started again
(its memory figures then start again too; the relay's do not).

Every 10 s it prints each process's resident memory and open file
descriptors, which must stay flat. When the writers stop, the consoles
reconnect without the proxy, and every database must end with the same rows,
heads, conflicts and log. Then every conflict left open is reconciled on the
relay's database, one after another, by keeping a side, as a person would
(none may be refused on every side), the units on a deleted task put right
and the units of one callsign merged. Prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_sync import make_console, start_relay, stop, trust_all  # noqa: E402

from console.model import ValidationError  # noqa: E402
from console.store import NotFound, Store  # noqa: E402

SAMPLE = 10.0  # seconds between samples


def rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(x for x in fh if x.startswith("VmRSS")).split()[1]) // 1024


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def state(db: Path) -> dict:
    """What must be the same on every console once they have converged."""
    with Store(db) as s:
        conn = s._conn
        out = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("units", "tasks", "resources")}
        for t, order in (("heads", "tbl, row_id, field, origin, seq"), ("conflicts", "id"),
                         ("replicas", "origin")):
            out[t] = conn.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall()
        out["changes"] = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
        out["twins"] = s.twin_count()
        out["stranded"] = [(x.unit.id, x.task_id, x.into) for x in s.stranded()]
        return out


# ------------------------------------------------------------------ writer


def write(db: str, name: str, seconds: float, seed: int) -> None:
    """Edit `db` as a person at a window would, until `seconds` have passed."""
    rng = random.Random(seed)
    done = gone = merged = tasks_merged = stock_merged = 0
    with Store(db, operator=f"soak-{name}") as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            units = [u.id for u in s.list("units")]
            tasks = [t.id for t in s.list("tasks")]
            stock = [r.id for r in s.list("resources")]
            if not (units and tasks and stock):  # none here yet (its console's first sync is under way)
                time.sleep(0.1)
                continue
            r = rng.random()
            try:
                if r < 0.35:
                    s.update("units", rng.choice(units), {"status": rng.choice(["available", "dispatched",
                                                                                 "en_route", "on_scene"])})
                elif r < 0.5:
                    try:
                        s.update("units", rng.choice(units), {"task_id": rng.choice(tasks)})
                    except ValidationError:  # the task merged away by a peer since it was listed
                        gone += 1
                elif r < 0.58:
                    try:
                        s.adjust(rng.choice(stock), rng.choice([-3, -1, 2, 5]))
                    except ValidationError:  # more drawn than is on hand
                        pass
                elif r < 0.59:
                    # Stock the other consoles may enter too (see Store.merge_resources).
                    s.add("resources", {"name": f"Sandbags {rng.randint(0, 9)}", "kind": "Supply", "agency": "PW",
                                        "quantity": 100})
                elif r < 0.6 and len(stock) > 5:
                    # Stock entered twice, made one (its counts added up) with one's values.
                    picked = rng.sample(stock, 2)
                    try:
                        s.merge_resources(picked, keep=rng.choice(picked))
                        stock_merged += 1
                    except ValidationError:  # a conflict on one to reconcile first
                        pass
                elif r < 0.7:
                    s.note(f"soak note {name} {done}")
                elif r < 0.75:
                    # Half of them called in to several consoles: a callsign
                    # the others may add too, apart (see Store.twins), from
                    # a pool of 8 that moves on every 15 s (a pool that did
                    # not was used up within the first minute, and a soak
                    # whose consoles happened not to be apart then had no
                    # callsign on two units at all).
                    pool = int(time.time() // 15) % 1000 * 8  # the same for every writer
                    callsign = f"Medic {pool + rng.randint(1, 8)}" if rng.random() < 0.5 else f"{name}-{done}"
                    try:
                        s.add("units", {"callsign": callsign, "agency": name, "kind": "Engine"})
                    except ValidationError:  # in use already here
                        pass
                elif r < 0.77:
                    s.delete("units", rng.choice(units))
                elif r < 0.8:
                    deleted = [u.id for u in s.list("units", deleted=True) if u.id not in set(units)]
                    if deleted:
                        s.update("units", rng.choice(deleted), {"deleted": False})
                elif r < 0.86:
                    s.update("tasks", rng.choice(tasks), {"title": f"Task {name} {done}"})
                elif r < 0.88:
                    # A call the other consoles may enter too (see Store.merge_tasks).
                    s.add("tasks", {"title": f"Sweep sector {rng.randint(1, 10)}"})
                elif r < 0.9 and len(tasks) > 4:
                    # Tasks entered twice, made one (with their units) with one's values.
                    picked = rng.sample(tasks, 2)
                    try:
                        s.merge_tasks(picked, keep=rng.choice(picked))
                        tasks_merged += 1
                    except ValidationError:  # a conflict on one, or on a unit's task, to reconcile first
                        pass
                elif r < 0.95:
                    if s.last_operation is not None and s.last_operation.undoable:
                        try:
                            s.undo([s.last_operation])  # (undoing an undo is redo)
                        except ValidationError:  # it moved on since, on another console
                            pass
                elif r < 0.97 and (twins := s.twins()):
                    tw = rng.choice(twins)
                    try:  # the same unit, with one's values
                        s.merge_units([x.unit.id for x in tw.units], keep=rng.choice(tw.units).unit.id)
                        merged += 1
                    except ValidationError:  # its callsign is another unit's too
                        pass
                else:
                    conflicts = s.conflicts()
                    if conflicts:
                        c = rng.choice(conflicts)
                        try:
                            s.resolve(c.id, keep=rng.randint(1, len(c.candidates)))
                        except ValidationError:  # a field of a row deleted since
                            pass
                done += 1
            except NotFound:  # deleted by a peer since it was listed (or a conflict settled there)
                gone += 1
            time.sleep(rng.uniform(0.01, 0.08))
        mine = {"replica": s.replica_id, "last_seq": s.own_max_seq()}
    print(json.dumps({"operations": done, "rows_gone": gone, "merged": merged, "tasks_merged": tasks_merged,
                      "stock_merged": stock_merged,
                      **mine}), flush=True)


# ------------------------------------------------------------------ window

WINDOW = """
import json, os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from console.ui import app as console_app
# The largest gap between ticks, and how much of it this (the GUI) thread
# spent on the CPU: a gap mostly off the CPU is the machine's scheduler
# giving the core to other processes, not the window's own work.
stall = [0.0, time.monotonic(), time.thread_time(), 0.0]
def tick():
    now, cpu = time.monotonic(), time.thread_time()
    if now - stall[1] - 0.005 > stall[0]:
        stall[0], stall[3] = now - stall[1] - 0.005, cpu - stall[2]
    stall[1], stall[2] = now, cpu
meter = QTimer(); meter.setInterval(5); meter.timeout.connect(tick)
def begin():  # after start-up (the first load and paint), as the soak's clock starts
    stall[1], stall[2] = time.monotonic(), time.thread_time()
    meter.start()
QTimer.singleShot(3000, begin)
def report():
    with open("/proc/self/status") as fh:
        rss = int(next(x for x in fh if x.startswith("VmRSS")).split()[1]) // 1024
    print(json.dumps({"rss": rss, "stall_ms": round(stall[0] * 1000, 1), "busy_ms": round(stall[3] * 1000, 1)}),
          flush=True)
    stall[0] = stall[3] = 0.0
reporter = QTimer(); reporter.setInterval(%d); reporter.timeout.connect(report); reporter.start()
class Args:
    db = sys.argv[1]; peer = [sys.argv[2]]; listen = None; operator = "soak window"; agency = None
console_app.main(Args())
"""


def start_window(db: Path, port: int) -> subprocess.Popen:
    """The desktop console on `db`, offscreen, dialling 127.0.0.1:`port`;
    it prints its memory and largest stall every SAMPLE seconds."""
    return subprocess.Popen([sys.executable, "-c", WINDOW % (SAMPLE * 1000), str(db), f"wss://127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


async def window_figures(proc: subprocess.Popen, latest: dict) -> None:
    """Keep `latest` up to date with what the window prints."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, proc.stdout.readline):
        with contextlib.suppress(ValueError):
            latest.update(json.loads(line))


# ------------------------------------------------------------------- proxy


async def chaos_proxy(target: int, counts: dict[str, int], rng: random.Random) -> asyncio.Server:
    """Forward to 127.0.0.1:target, cutting each connection after a random time."""

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts["connections"] += 1
        if rng.random() < 0.1:
            counts["turned away"] += 1
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        pipes = [asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))]
        _, pending = await asyncio.wait(pipes, timeout=rng.choice([0.2, 1, 3, 10, 30, 60]),
                                        return_when=asyncio.FIRST_COMPLETED)
        if pending:
            counts["cut"] += 1
        for p in pipes:
            p.cancel()
        for w in (writer, up_writer):
            w.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


# -------------------------------------------------------------------- soak


def start_sync(db: Path, port: int, log: Path, ring: tuple[int, int] | None = None) -> subprocess.Popen:
    """`sync` dialling 127.0.0.1:`port`; with `ring` (listen, next), also
    listening on one port and dialling the next console's."""
    extra = ["--listen", f"127.0.0.1:{ring[0]}", "--peer", f"wss://127.0.0.1:{ring[1]}"] if ring else []
    return subprocess.Popen([sys.executable, "-m", "console", "sync", "--db", str(db), "--peer",
                             f"wss://127.0.0.1:{port}", *extra], stdout=log.open("a"), stderr=subprocess.STDOUT,
                            cwd=ROOT)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def flood(port: int, counts: dict[str, int], rng: random.Random) -> None:
    """Connections to the relay from 127.0.0.2 that never identify
    themselves, 50 a second, each held until the relay closes it; counted
    by how soon it did (a second at most: turned away, or not TLS)."""
    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
        except OSError:
            counts["refused"] += 1
            return
        counts["opened"] += 1
        opened = time.monotonic()
        silent = rng.random() < 0.8
        try:
            if not silent:
                writer.write(b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
            await reader.read()  # until the relay closes it
            held = time.monotonic() - opened
            counts["closed within 1 s" if held < 1 else "held longer"] += 1
            counts["longest held (s)"] = max(counts["longest held (s)"], round(held, 1))
        except OSError:
            counts["reset"] += 1
        finally:
            writer.close()

    running: set[asyncio.Task] = set()
    try:
        while True:
            task = asyncio.create_task(one())
            running.add(task)
            task.add_done_callback(running.discard)
            await asyncio.sleep(0.02)
    finally:
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def soak(tmp: Path, minutes: float, n: int, kill: bool, window: bool, ring: bool, backups: bool,
               flooding: bool = False) -> None:
    relay_c = make_console(tmp, "relay")
    consoles = [make_console(tmp, f"c{i}") for i in range(n)]
    trust_all([relay_c, *consoles])
    with Store(relay_c[0]) as s:
        s.add_many("units", [{"callsign": f"E-{i}", "agency": "Fire", "kind": "Engine"} for i in range(200)])
        s.add_many("tasks", [{"title": f"Task {i}"} for i in range(50)])
        s.add_many("resources", [{"name": f"Sandbags {i}", "kind": "Supply", "agency": "PW", "quantity": 1000}
                                 for i in range(10)])
    folder = tmp / "backups"
    if backups:
        folder.mkdir()
    relay, port = start_relay(relay_c[0], *(["--backup-to", str(folder), "--backup-every", "0.1", "--keep", "5"]
                                            if backups else []), log=tmp / "relay.log")
    backups_seen: set[str] = set()
    rng = random.Random(7)
    counts = {"connections": 0, "turned away": 0, "cut": 0}
    proxy = await chaos_proxy(port, counts, rng)
    proxy_port = proxy.sockets[0].getsockname()[1]
    # With a ring, console i also listens on ports[i] and dials console
    # i + 1 directly, so that every change reaches it by two ways.
    ports = free_ports(n) if ring else []

    def ring_of(i: int) -> tuple[int, int] | None:
        return (ports[i], ports[(i + 1) % n]) if ring else None

    # With a window, it is the first console: syncs[0] is None meanwhile.
    syncs = [None if window and i == 0 else start_sync(db, proxy_port, tmp / f"{db.stem}.log", ring_of(i))
             for i, (db, _) in enumerate(consoles)]
    shown: dict = {}
    if window:
        win = start_window(consoles[0][0], proxy_port)
        watcher = asyncio.create_task(window_figures(win, shown))
    await asyncio.sleep(3)  # the first catch-up
    seconds = minutes * 60
    writers = [subprocess.Popen([sys.executable, __file__, "_write", str(db), db.stem, str(seconds), str(i)],
                                stdout=subprocess.PIPE, stderr=(tmp / f"writer-{i}.err").open("w"), text=True,
                                cwd=ROOT)
               for i, (db, _) in enumerate([*consoles, relay_c])]
    flooded = dict.fromkeys(["opened", "refused", "closed within 1 s", "held longer", "reset", "longest held (s)"], 0)
    flooder = asyncio.create_task(flood(port, flooded, random.Random(11))) if flooding else None
    print(f"{'t (s)':>6} {'relay MiB':>9} {'fds':>4}  {'sync processes MiB':>20} {'fds':>12}  "
          "connections (turned away, cut)")
    first = last = None
    start = time.monotonic()
    kills = 0
    stalls: list[tuple[float, float]] = []  # the window's largest stall per sample, and its CPU in it
    next_kill = start + rng.uniform(10, 30)
    while any(w.poll() is None for w in writers):
        await asyncio.sleep(SAMPLE)
        if kill and time.monotonic() >= next_kill:
            i = rng.randrange(1 if window else 0, n)
            syncs[i].kill()
            syncs[i].wait()
            syncs[i] = start_sync(consoles[i][0], proxy_port, tmp / f"{consoles[i][0].stem}.log", ring_of(i))
            kills += 1
            next_kill = time.monotonic() + rng.uniform(10, 30)
            await asyncio.sleep(0.5)  # let it start before it is sampled
        if backups:
            backups_seen |= {p.name for p in folder.glob("*Z.db")}
        running = [p for p in syncs if p is not None]
        sample = (rss_mib(relay.pid), fd_count(relay.pid), [rss_mib(p.pid) for p in running],
                  [fd_count(p.pid) for p in running], shown.get("rss"), shown.get("stall_ms"), shown.get("busy_ms"))
        first = first or sample
        last = sample
        stalls.append((sample[5] or 0.0, sample[6] or 0.0))
        print(f"{time.monotonic() - start:6.0f} {sample[0]:9} {sample[1]:4}  {sample[2]!s:>20} "
              f"{sample[3]!s:>12}  {counts['connections']} ({counts['turned away']}, {counts['cut']})"
              + (f"  window {sample[4]} MiB, stall {sample[5]} ms (busy {sample[6]})" if window else ""),
              flush=True)
    said = [w.stdout.read().strip().splitlines() for w in writers]
    for i, (w, lines) in enumerate(zip(writers, said, strict=True)):
        if w.returncode or not lines:  # a writer died: what it said, not a traceback of this script's
            why = (tmp / f"writer-{i}.err").read_text().strip()
            raise SystemExit(f"writer {i} failed (exit status {w.returncode}):\n{why[-3000:]}")
    ops = [json.loads(lines[-1]) for lines in said]
    if flooder is not None:
        flooder.cancel()
        await asyncio.gather(flooder, return_exceptions=True)
    # Heal: the consoles reconnect straight to the relay.
    proxy.close()
    if window:
        win.terminate()  # its engine process ends with it
        win.wait(30)
        watcher.cancel()
        syncs[0] = start_sync(consoles[0][0], proxy_port, tmp / f"{consoles[0][0].stem}.log")
    for p in syncs:
        p.terminate()
    for p in syncs:
        p.wait(30)
    healed = time.monotonic()
    syncs = [start_sync(db, port, tmp / f"{db.stem}.log", ring_of(i)) for i, (db, _) in enumerate(consoles)]
    states: list[dict] = []
    converged = False
    while time.monotonic() - healed < 300 and not converged:
        await asyncio.sleep(1)
        states = [state(db) for db, _ in [relay_c, *consoles]]
        converged = all(s == states[0] for s in states[1:])
    took = time.monotonic() - healed
    # Nothing a writer committed is missing: every console holds each
    # writer's changes up to its last, with no gap.
    held = {origin: (contiguous, top) for origin, contiguous, top in states[0]["replicas"]} if states else {}
    whole = all(held.get(o["replica"]) == (o["last_seq"], o["last_seq"]) for o in ops)
    for p in syncs:
        p.terminate()
    for p in syncs:
        p.wait(30)
    stop(relay)
    shape = f"{n} consoles and a relay" + (" (and in a ring)" if ring else "")
    print(f"soak       {minutes:g} min, {shape}, {sum(o['operations'] for o in ops)} operations "
          f"by {len(ops)} writers, {counts['connections']} connections ({counts['turned away']} turned away, "
          f"{counts['cut']} cut), {kills} sync processes killed")
    print(f"memory     relay {first[0]} -> {last[0]} MiB, {first[1]} -> {last[1]} fds; sync processes "
          f"{first[2]} -> {last[2]} MiB, {first[3]} -> {last[3]} fds"
          + (f"; window {first[4]} -> {last[4]} MiB, largest stall {max(stalls)[0]} ms (its thread on the CPU "
             f"{max(stalls)[1]} ms of it)" if window else ""))
    if backups:
        print(f"backups    {backup_figures(folder, backups_seen, states[0] if states else None)}")
    if flooding:
        said = [x for x in (tmp / "relay.log").read_text().splitlines() if "turning away connections from" in x]
        print(f"flood      {flooded['opened']} connections from 127.0.0.2 that never identified themselves "
              f"({flooded['refused']} more refused by this machine): {flooded['closed within 1 s']} closed by the "
              f"relay within 1 s, {flooded['held longer']} later (the longest after {flooded['longest held (s)']} "
              f"s), {flooded['reset']} reset; the relay's log said it in {len(said)} line(s)")
    print(f"converged  {'yes' if converged else 'NO'} within {took:.0f} s of healing (checked every second): "
          f"{states[0]['changes']} changes, {len(states[0]['conflicts'])} open conflict(s) and "
          f"{states[0]['twins']} callsign(s) on two units and {len(states[0]['stranded'])} unit(s) on a deleted "
          f"task on every console ({sum(o['merged'] for o in ops)} unit, {sum(o['tasks_merged'] for o in ops)} "
          f"task and {sum(o['stock_merged'] for o in ops)} stock merges meanwhile); "
          f"every writer's changes held up to its last with no gap: {'yes' if whole else 'NO'}"
          if converged else f"converged  NO after {took:.0f} s: logs in {tmp}")
    if converged:
        print(f"reconcile  {reconcile_all(relay_c[0])}")


def reconcile_all(db: Path) -> str:
    """Everything left to reconcile settled, as a person would: every
    conflict, one after another, by keeping a side (the first the console
    takes; keeping the edits a delete did not see restores the row, and
    may open its fields' conflicts again), none refused on every side;
    then each unit on a deleted task put right, and each callsign's units
    merged."""
    done, stuck, refusals = 0, [], 0
    with Store(db, operator="soak") as s:
        for _ in range(10_000):
            given_up = {c.id for c, _ in stuck}
            left = [c for c in s.conflicts() if c.id not in given_up]
            if not left:
                break
            c, refused = left[0], []
            for keep in range(1, len(c.candidates) + 1):
                try:
                    s.resolve(c.id, keep=keep)
                    done += 1
                    break
                except ValidationError as exc:
                    refused.append(str(exc))
            else:
                stuck.append((c, refused))
            refusals += len(refused)
        # The rest of what is to reconcile: units on a deleted task put on
        # the task it went into (or off it), units of one callsign merged.
        put, merged, unmerged = 0, 0, []
        for x in s.stranded():
            s.update("units", x.unit.id, {"task_id": x.into})
            put += 1
        for tw in s.twins():
            try:
                s.merge_units([u.unit.id for u in tw.units])
                merged += 1
            except ValidationError as exc:
                unmerged.append(f"{tw.callsign}: {exc}")
    said = (f"{done} open conflict(s) reconciled one by one, keeping a side ({refusals} side(s) refused on the "
            f"way), {put} unit(s) put right from a deleted task, {merged} callsign(s) on two units merged")
    if stuck:
        c, why = stuck[0]
        said += (f"; NO: {len(stuck)} conflict(s) could not be, e.g. {c.table} {c.row_label} {c.field} ({c.kind}): "
                 f"{'; '.join(why)}")
    if unmerged:
        said += f"; NO: {len(unmerged)} callsign(s) could not be merged, e.g. {unmerged[0]}"
    return said if stuck or unmerged else f"{said}; none left that cannot be settled: yes"


def backup_figures(folder: Path, seen: set[str], final: dict | None) -> str:
    """The relay's backups: each whole, and the newest a prefix of what the
    relay ended with (every origin's changes up to some point, no gap)."""
    kept = sorted(folder.glob("*Z.db"))
    whole, prefix, newest = True, None, None
    for path in kept:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            whole &= conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            if path == kept[-1]:
                replicas = conn.execute("SELECT origin, contiguous, max_seq FROM replicas").fetchall()
                newest = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
                ends = {o: top for o, _, top in (final or {}).get("replicas", [])}
                prefix = all(c == m and m <= ends.get(o, 0) for o, c, m in replicas)
        finally:
            conn.close()
    return (f"{len(seen | {p.name for p in kept})} or more made (names seen every {SAMPLE} s), {len(kept)} kept, "
            f"each whole: {'yes' if whole else 'NO'}; the newest holds {newest} changes, every origin's up to a "
            f"point with no gap: {'yes' if prefix else 'NO'}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_write":
        db, name, seconds, seed = sys.argv[2:]
        write(db, name, float(seconds), int(seed))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--consoles", type=int, default=3)
    p.add_argument("--kills", action="store_true", help="kill a sync process (SIGKILL) every 10 to 30 s")
    p.add_argument("--window", action="store_true", help="the first console is the desktop window (offscreen)")
    p.add_argument("--backups", action="store_true", help="the relay backs up every 6 s meanwhile")
    p.add_argument("--ring", action="store_true",
                   help="the consoles also sync in a ring, directly: every change reaches each by two ways")
    p.add_argument("--flood", action="store_true",
                   help="another address opens connections to the relay that never identify themselves, 50 a second")
    args = p.parse_args()
    if args.ring and args.window:
        p.error("--ring and --window do not go together (the window's console is not in the ring)")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(soak(Path(tmp), args.minutes, args.consoles, args.kills, args.window, args.ring, args.backups,
                         args.flood))


if __name__ == "__main__":
    main()
