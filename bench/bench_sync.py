"""Sync benchmarks over loopback TLS, between separate processes.

    python bench/bench_sync.py            # full sizes (a few minutes)
    python bench/bench_sync.py --quick    # small sizes

Prints figures; nothing is asserted. Figures:
  catch-up      100k changes from a relay process to a fresh console in another
                process, until the receiver has committed everything; against
                raw SQLite inserts of the same changes; bytes on the wire per
                change; the receiver's largest event-loop stall and peak memory
  live          console -> relay -> console at 200 edits/s: latency from the
                writer's commit to the receiver's commit (p50, p99, max)
  fan-out       20 consoles on one relay, each editing 5 times a second: p99
                latency and the relay's CPU
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from console.store import Store  # noqa: E402
from console.sync import identity  # noqa: E402


def peak_kib() -> int:
    with open("/proc/self/status") as fh:
        return int(next(x for x in fh if x.startswith("VmHWM")).split()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_console(folder: Path, name: str) -> tuple[Path, str]:
    db = folder / f"{name}.db"
    Store(db, agency=name, operator=name).close()
    return db, identity.load_or_create(db).console_id


def trust_all(consoles: list[tuple[Path, str]]) -> None:
    for db, _ in consoles:
        with Store(db) as s:
            for other_db, other_id in consoles:
                if other_db != db:
                    s.trust(other_id, other_db.stem)


def start_relay(db: Path, *options: str, log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """A relay process, its log into `log` if given, and the port it listens on."""
    err = log.open("w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "console", "relay", "--db", str(db), "--listen", "127.0.0.1:0",
                             *options], stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    if log:
        err.close()  # the relay has its own
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the relay did not start")
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.communicate(timeout=60)


# ------------------------------------------------------------- child roles


async def _stall_meter(box: dict) -> None:
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.005)
        box["max"] = max(box["max"], loop.time() - t - 0.005)


async def role_receive(db: str, url: str) -> None:
    from console.sync.transport import Engine

    stall = {"max": 0.0}
    async with Engine(db) as engine:
        meter = asyncio.create_task(_stall_meter(stall))
        start = time.perf_counter()
        session = await engine.sync_once(url, timeout=600)
        elapsed = time.perf_counter() - start
        meter.cancel()
    print(json.dumps({"elapsed": elapsed, "received": session.stats.received, "stall_ms": stall["max"] * 1000,
                      "peak_mib": peak_kib() / 1024, "bytes_in": engine.last_link.bytes_in}))


async def role_listen(db: str, url: str, expect: int) -> None:
    """Stay connected; record the latency of every `notes` edit that arrives."""
    from console.sync.transport import Engine

    latencies: list[float] = []
    done = asyncio.Event()

    def on_event(name, payload):
        if name == "changes":
            now = time.time_ns()
            for c in payload.changes:
                if c.field == "notes" and c.value and c.value.startswith("t="):
                    latencies.append((now - int(c.value[2:])) / 1e6)
            if len(latencies) >= expect:
                done.set()

    async with Engine(db, peers=[url], on_event=on_event):
        print("ready", flush=True)
        try:
            await asyncio.wait_for(done.wait(), 300)
        except TimeoutError:
            pass
    print(json.dumps({"latencies": latencies}), flush=True)


async def role_write(dbs: list[str], url: str, rate: float, count: int) -> None:
    """Consoles that each edit `rate` times a second through their engine."""
    from console.sync.transport import Engine

    engines = [Engine(db, peers=[url]) for db in dbs]
    for e in engines:
        await e.start()
    units = []
    for e in engines:
        unit = await e.worker.run(e.store.add, "units", {"callsign": f"W-{e.console_id[:8]}", "agency": "F",
                                                          "kind": "Engine"})
        units.append(unit)
    await asyncio.sleep(3)  # let every console connect and catch up
    print("writing", flush=True)

    async def writer(e, unit):
        period = 1 / rate
        nxt = time.perf_counter()
        for _ in range(count):
            await e.worker.run(e.store.update, "units", unit, {"notes": f"t={time.time_ns()}"})
            nxt += period
            await asyncio.sleep(max(0, nxt - time.perf_counter()))

    await asyncio.gather(*(writer(e, u) for e, u in zip(engines, units, strict=True)))
    # All converge: every console ends up holding every console's edits.
    want = count * len(engines)
    end = time.monotonic() + 120
    held = []
    while time.monotonic() < end:
        held = [await e.worker.run(lambda s=e.store: s._conn.execute(
            "SELECT count(*) FROM changes WHERE field = 'notes'").fetchone()[0]) for e in engines]
        if all(h == want for h in held):
            break
        await asyncio.sleep(0.2)
    print(json.dumps({"converged": sum(h == want for h in held), "consoles": len(engines)}), flush=True)
    for e in engines:
        await e.stop()


# --------------------------------------------------------------- benchmarks


def bench_catch_up(tmp: Path, n: int) -> dict:
    from bench_store import remote_changes

    (src, src_id), (dst, dst_id) = make_console(tmp, "sender"), make_console(tmp, "receiver")
    trust_all([(src, src_id), (dst, dst_id)])
    changes = remote_changes(n)
    with Store(src) as s:
        for i in range(0, n, 5000):
            s.apply(changes[i : i + 5000])
    raw = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute("CREATE TABLE changes (origin TEXT, seq INTEGER, hlc INTEGER, tbl TEXT, row_id TEXT, field TEXT, "
                "kind TEXT, value TEXT, prev TEXT, operator TEXT, agency TEXT, "
                "PRIMARY KEY (origin, seq)) WITHOUT ROWID")
    start = time.perf_counter()
    for i in range(0, n, 1000):
        raw.execute("BEGIN")
        raw.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        [(c.origin, c.seq, c.hlc, c.table, c.row, c.field, c.kind, json.dumps(c.value),
                          json.dumps(c.prev), c.operator, c.agency) for c in changes[i : i + 1000]])
        raw.execute("COMMIT")
    raw_s = time.perf_counter() - start
    raw.close()

    relay, port = start_relay(src)
    try:
        out = subprocess.run([sys.executable, __file__, "_receive", str(dst), f"wss://127.0.0.1:{port}"],
                             capture_output=True, text=True, check=True, cwd=ROOT)
    finally:
        stop(relay)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    with Store(dst) as s:
        held = s._conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    wire = got["bytes_in"] / n  # the frames' bytes (JSON), before websocket framing and TLS
    return {"n": n, "held": held, "elapsed": got["elapsed"], "rate": n / got["elapsed"], "raw_rate": n / raw_s,
            "ratio": got["elapsed"] / raw_s, "stall_ms": got["stall_ms"], "peak_mib": got["peak_mib"],
            "bytes_per_change": wire}


def bench_live(tmp: Path, writers: int, rate: float, seconds: float) -> dict:
    folder = tmp / f"live{writers}"
    folder.mkdir()
    relay_c = make_console(folder, "relay")
    listen_c = make_console(folder, "listener")
    writer_cs = [make_console(folder, f"w{i}") for i in range(writers)]
    trust_all([relay_c, listen_c, *writer_cs])
    relay, port = start_relay(relay_c[0])
    url = f"wss://127.0.0.1:{port}"
    count = int(rate * seconds)
    try:
        listener = subprocess.Popen([sys.executable, __file__, "_listen", str(listen_c[0]), url,
                                     str(count * writers)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert listener.stdout.readline().strip() == "ready"
        writer = subprocess.Popen([sys.executable, __file__, "_write", url, str(rate), str(count),
                                   *[str(db) for db, _ in writer_cs]], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert writer.stdout.readline().strip() == "writing"
        cpu0, t0 = cpu_seconds(relay.pid), time.perf_counter()
        wrote, _ = writer.communicate(timeout=seconds + 240)
        cpu1, t1 = cpu_seconds(relay.pid), time.perf_counter()
        conv = json.loads(wrote.strip().splitlines()[-1])
        out, _ = listener.communicate(timeout=120)
    finally:
        stop(relay)
    lat = sorted(json.loads(out.strip().splitlines()[-1])["latencies"])
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"writers": writers, "rate": rate, "edits": count * writers, "arrived": len(lat),
            "p50": q[49], "p99": q[98], "max": max(lat) if lat else float("nan"),
            "relay_cpu": (cpu1 - cpu0) / (t1 - t0) * 100, "converged": f"{conv['converged']}/{conv['consoles']}"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        role, args = sys.argv[1], sys.argv[2:]
        if role == "_receive":
            asyncio.run(role_receive(*args))
        elif role == "_listen":
            asyncio.run(role_listen(args[0], args[1], int(args[2])))
        elif role == "_write":
            asyncio.run(role_write(args[3:], args[0], float(args[1]), int(args[2])))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n, seconds = (10_000, 3) if args.quick else (100_000, 10)
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        cu = bench_catch_up(tmp, n)
        live = bench_live(tmp, 1, 200, seconds)
        fan = bench_live(tmp, 20, 5, seconds)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, loopback TLS, separate processes")
    print(f"catch-up   {cu['n']} changes in {cu['elapsed']:.2f} s: {cu['rate']:,.0f} changes/s "
          f"(raw SQLite inserts {cu['raw_rate']:,.0f}/s; time ratio {cu['ratio']:.2f}x); "
          f"{cu['bytes_per_change']:.0f} bytes/change on the wire; receiver's largest loop stall "
          f"{cu['stall_ms']:.1f} ms, peak RSS {cu['peak_mib']:.0f} MiB; {cu['held']} held")
    for name, r in (("live", live), ("fan-out", fan)):
        print(f"{name:10} {r['writers']} writer(s) x {r['rate']:g}/s, {r['arrived']}/{r['edits']} arrived: "
              f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms; relay CPU {r['relay_cpu']:.0f}%; "
              f"writers converged {r['converged']}")


if __name__ == "__main__":
    main()
