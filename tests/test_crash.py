"""A console killed with SIGKILL in the middle of a burst of writes leaves a
database that opens, passes integrity_check and holds every write it reported
done."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from console.store import Store

WRITER = r"""
import sys
from console.store import Store
s = Store(sys.argv[1], operator="crash", agency="Test")
r = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 0})
print("R", r, flush=True)
i = 0
while True:
    i += 1
    uid = s.add("units", {"callsign": f"U-{sys.argv[2]}-{i}", "agency": "F", "kind": "Engine"})
    s.update("units", uid, {"status": "en route"})
    s.adjust(r, 1)
    print("DONE", i, uid, flush=True)
"""


def test_sigkill_mid_burst_loses_nothing_reported_done(tmp_path):
    db = tmp_path / "crash.db"
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(round_)], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        done, resource = [], None
        deadline = time.monotonic() + 60
        while len(done) < 40 + 20 * round_ and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("R "):
                resource = line.split()[1]
            elif line.startswith("DONE"):
                done.append(line.split()[2])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # Lines written after our last read were also reported done.
        done += [line.split()[2] for line in proc.stdout.read().splitlines() if line.startswith("DONE")]
        proc.stdout.close()
        assert len(done) >= 40

        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        s = Store(db)  # the same file, reopened after each kill
        try:
            units = {u.id: u for u in s.list("units")}
            for uid in done:
                assert uid in units and units[uid].status == "en_route"
            assert s.get("resources", resource).quantity >= len(done)
            # The log and the tables agree: no transaction half-applied.
            log = dict(s._conn.execute("SELECT kind, count(*) FROM changes WHERE tbl = 'units' GROUP BY kind"))
            assert log["insert"] == len(units)
            adds = s._conn.execute("SELECT coalesce(sum(value), 0) FROM changes WHERE kind = 'add'").fetchone()[0]
            assert sum(r.quantity for r in s.list("resources")) == adds
            assert s.version_vector()[s.replica_id] == s._conn.execute("SELECT count(*) FROM changes").fetchone()[0]
        finally:
            s.close()
