"""Sync across real processes: the relay and the consoles are separate
`python -m console` processes talking TLS websockets on 127.0.0.1."""

import os
import re
import signal
import subprocess
import sys
import time

from conftest import snapshot


def relay(db, port=0):
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "relay", "--db", str(db), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on wss://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise AssertionError("the relay did not start: " + proc.stderr.read())


def sync_once(db, port, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "console", "sync", "--db", str(db), "--peer", f"wss://127.0.0.1:{port}", "--once"],
        capture_output=True, text=True, timeout=timeout,
    )


def test_relay_killed_mid_sync_and_restarted_everyone_converges(consoles):
    r, a, b = consoles("relay", "a", "b")
    with a.open() as s:
        bags = s.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 100_000})
        for i in range(10):
            s.add_many("units", [{"callsign": f"U{i}-{j}", "agency": "F", "kind": "E"} for j in range(2000)])
    with b.open() as s:
        s.add("tasks", {"title": "Evacuate Elm St"})

    proc, port = relay(r.path)
    try:
        push = subprocess.Popen(
            [sys.executable, "-m", "console", "sync", "--db", str(a.path), "--peer", f"wss://127.0.0.1:{port}",
             "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Kill the relay once some, not all, of the catch-up has landed.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with r.open() as s:
                held = s.counts()["units"]
            if held > 0:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        push.communicate(timeout=60)
        assert push.returncode != 0  # the push was cut off
        with r.open() as s:
            assert 0 < s.counts()["units"] < 20_000
            assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Edits on both sides while the relay is down.
        with a.open() as s:
            s.adjust(bags, -300)
        with b.open() as s:
            s.add("tasks", {"title": "Pump out school"})

        proc, port = relay(r.path, port)
        for db in (a.path, b.path, a.path):
            done = sync_once(db, port)
            assert done.returncode == 0, done.stderr
            assert "synced with" in done.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out  # a clean stop on SIGTERM

    snaps = []
    for c in (r, a, b):
        with c.open() as s:
            snaps.append(snapshot(s))
            assert s.get("resources", bags).quantity == 99_700
            assert s.counts()["units"] == 20_000 and s.counts()["tasks"] == 2
    assert snaps[0] == snaps[1] == snaps[2]


def test_sync_once_reports_an_unreachable_or_refusing_peer(consoles):
    r, a, stranger = consoles("relay", "a", "stranger")
    with r.open() as s:
        s.untrust(stranger.console_id)
    done = sync_once(a.path, 1, timeout=60)
    assert done.returncode == 1 and "cannot reach" in done.stderr and done.stderr.count("\n") == 1
    proc, port = relay(r.path)
    try:
        done = sync_once(stranger.path, port)
        assert done.returncode == 1 and "not on this console's trust list" in done.stderr
        assert "Traceback" not in done.stderr
        assert sync_once(a.path, port).returncode == 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
