"""A relay under a flood of TLS handshakes from one machine.

    python bench/bench_flood.py                    # 2 flooding processes for 12 s
    python bench/bench_flood.py --procs 4 --seconds 20

A relay process with the demo operation, and one console trusted by it.
Other processes on 127.0.0.2 open connections to the relay in a loop, make
a TLS handshake (a client needs no certificate for that: consoles prove
who they are inside the channel) and close, as a client in a tight retry
would, or one doing it on purpose. Each handshake costs the relay a key
exchange and a signature; past NEW_CONNECTIONS_PER_SECOND (after a burst)
the relay closes them at once, before TLS (console/sync/transport.py).

Prints how many handshakes the flood made and how many of its connections
were turned away, the relay's CPU over the flood (from /proc, Linux only)
and per flood connection, and how long `crisis-console sync --once` from
127.0.0.1 took, three times before the flood and three times during it.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "console"]


def flood(port: int, seconds: float) -> None:
    """One flooding process: handshakes until `seconds` are up; prints
    'made turned_away'."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    made = turned = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
            ctx.wrap_socket(raw, server_hostname="relay").close()
            made += 1
        except OSError:  # reset or closed before TLS: turned away
            turned += 1
    print(made, turned, flush=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli(*args: str) -> str:
    return subprocess.run([*CLI, *args], check=True, capture_output=True, text=True).stdout


def timed_sync(db: Path, port: int) -> float:
    start = time.perf_counter()
    cli("sync", "--db", str(db), "--peer", f"wss://127.0.0.1:{port}", "--once")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=2, help="flooding processes (default 2)")
    ap.add_argument("--seconds", type=float, default=12.0, help="how long they flood (default 12)")
    ap.add_argument("--flood-port", type=int, help=argparse.SUPPRESS)  # (a flooding process)
    args = ap.parse_args()
    if args.flood_port:
        flood(args.flood_port, args.seconds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        relay_db, console_db = Path(tmp, "relay.db"), Path(tmp, "console.db")
        cli("seed", "--db", str(relay_db), "--demo")
        cli("--agency", "City Police", "add", "--db", str(console_db), "units", "callsign=P-1", "agency=P",
            "kind=Car")
        relay_id, console_id = cli("id", "--db", str(relay_db)).strip(), cli("id", "--db", str(console_db)).strip()
        cli("trust", "--db", str(relay_db), console_id, "--agency", "City Police")
        cli("trust", "--db", str(console_db), relay_id, "--agency", "County Fire")
        log = Path(tmp, "relay.log")
        with open(log, "w") as out:
            relay = subprocess.Popen([*CLI, "relay", "--db", str(relay_db), "--listen", "127.0.0.1:0"],
                                     stdout=out, stderr=subprocess.STDOUT)
        try:
            port = None
            for _ in range(100):
                if found := re.search(r"wss://127\.0\.0\.1:(\d+)", log.read_text()):
                    port = int(found[1])
                    break
                time.sleep(0.1)
            if port is None:
                sys.exit(f"the relay did not start:\n{log.read_text()}")
            before = [timed_sync(console_db, port) for _ in range(3)]
            cpu0, started = cpu_seconds(relay.pid), time.monotonic()
            floods = [subprocess.Popen([sys.executable, __file__, "--flood-port", str(port),
                                        "--seconds", str(args.seconds)], stdout=subprocess.PIPE, text=True)
                      for _ in range(args.procs)]
            time.sleep(min(3.0, args.seconds / 3))
            during = []
            for k in range(3):
                cli("set", "--db", str(console_db), "units", "P-1", f"personnel={k + 1}")
                during.append(timed_sync(console_db, port))
            counts = [tuple(map(int, f.communicate()[0].split())) for f in floods]
            cpu, wall = cpu_seconds(relay.pid) - cpu0, time.monotonic() - started
        finally:
            relay.terminate()
            relay.wait(30)
        said = [line for line in log.read_text().splitlines() if "turning away connections from 127.0.0.2" in line]
    made, turned = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(f"flood        {args.procs} processes on 127.0.0.2 for {args.seconds:g} s: {made:,} TLS handshakes made, "
          f"{turned:,} connections turned away before TLS")
    print(f"relay CPU    {cpu:.2f} s over {wall:.1f} s ({100 * cpu / wall:.0f}% of a core), "
          f"{1000 * cpu / max(1, made + turned):.2f} ms per flood connection")
    print(f"sync --once  before the flood {', '.join(f'{t:.2f}' for t in before)} s; "
          f"during it {', '.join(f'{t:.2f}' for t in during)} s")
    print(f"relay log    {len(said)} line(s) turning 127.0.0.2 away")


if __name__ == "__main__":
    main()
