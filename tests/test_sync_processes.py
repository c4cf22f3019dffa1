"""Sync across real processes: the relay and the consoles are separate
`python -m console` processes talking TLS websockets on 127.0.0.1."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest
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


def sync_once(db, port, timeout=120, *, peer="wss://127.0.0.1:{port}"):
    return subprocess.run(
        [sys.executable, "-m", "console", "sync", "--db", str(db), "--peer", peer.format(port=port), "--once"],
        capture_output=True, text=True, timeout=timeout,
    )


def test_relay_killed_mid_sync_and_restarted_everyone_converges(consoles):
    from console.store import Store

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
        # Looked at read-only: a Store opened for writing takes the write
        # lock, which the relay takes batch after batch, and could wait
        # until the whole push is in.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Store(r.path, read_only=True) as s:
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
            s.add("units", {"callsign": "U0-0", "agency": "F", "kind": "E"})  # a's callsign too, apart

        proc, port = relay(r.path, port)
        for db in (a.path, b.path, a.path):
            done = sync_once(db, port)
            assert done.returncode == 0, done.stderr
            assert "synced with" in done.stdout
        assert done.stdout.splitlines()[-1].startswith("1 unit twice to reconcile: crisis-console conflicts")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out  # a clean stop on SIGTERM

    snaps = []
    for c in (r, a, b):
        with c.open() as s:
            snaps.append(snapshot(s))
            assert s.get("resources", bags).quantity == 99_700
            assert s.counts()["units"] == 20_001 and s.counts()["tasks"] == 2 and s.twin_count() == 1
    assert snaps[0] == snaps[1] == snaps[2]


def test_sync_once_reports_an_unreachable_or_refusing_peer(consoles):
    r, a, stranger, watcher = consoles("relay", "a", "stranger", "watcher", observers=("watcher",))
    with r.open() as s:
        s.untrust(stranger.console_id)
        s.add("tasks", {"title": "Sandbag Main St"})
    with watcher.open() as s:
        s.note("written at an observer")
    done = sync_once(a.path, 1, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr == ("crisis-console: cannot reach wss://127.0.0.1:1: connection refused (nothing listens on "
                           "that port there, or a firewall refuses)\n")
    proc, port = relay(r.path)
    try:
        done = sync_once(stranger.path, port)
        assert done.returncode == 1 and f"{stranger.console_id} is not on the trust list of console" in done.stderr
        assert "Traceback" not in done.stderr
        done = sync_once(a.path, port, peer="127.0.0.1:{port}")  # the address as read out, without wss://
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"synced with wss://127.0.0.1:{port} (") and "received 2" in done.stdout
        # An observer there: it reads, says that its own changes stay, and exits 0.
        done = sync_once(watcher.path, port)
        assert done.returncode == 0, done.stderr
        assert "received 2" in done.stdout and "holds this console as an observer" in done.stderr
        with watcher.open() as s:
            assert s.counts()["tasks"] == 1 and s.outbox() == 1
        # A console whose clock ran a day ahead: told why its changes do not go through.
        from conftest import FakeWall

        from console.store import Store

        with Store(a.path, wall=FakeWall(int(time.time() * 1000) + 24 * 3600 * 1000)) as s:
            s.add("units", {"callsign": "FAST-1", "agency": "F", "kind": "E"})
        done = sync_once(a.path, port)
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith("crisis-console: wss://127.0.0.1:") and done.stderr.count("\n") == 1
        assert "refuses this console's changes from #1: console " in done.stderr
        assert "ahead of the receiving console's clock" in done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    # The relay's log says how to let the refused console in, once its ID is confirmed.
    assert f"let it in with: crisis-console trust --db {r.path} {stranger.console_id} --agency" in err
    # It logs each connection in its own words, when it opens and when it
    # ends, naming the console (the server library's lines are left out).
    from console.sync import identity

    a_short = identity.short_id(a.console_id)
    assert f"sync with {a_short} (Agency A, editor) at 127.0.0.1:" in err
    assert re.search(rf"sync with {a_short} \(Agency A\) at 127\.0\.0\.1:\d+ ended after \d+\.\d s: "
                     r"closed normally by the peer; \d+ changes? received, \d+ sent", err)
    assert "this console refused it: console" in err  # the stranger, at its hello
    assert "websockets.server" not in err



def test_what_a_peer_says_is_written_out_in_the_relays_log(consoles):
    """Anyone who reaches the relay's port can send an error message
    before saying who they are, and the relay logs what it said, on the
    EOC's terminal or into its log file: a terminal escape, a bell and a
    carriage return in it are written out, and a line break cannot make
    it pass for a line of the log of its own."""
    import asyncio

    from test_sync_network import raw_client

    from console.sync import protocol as p

    (r,) = consoles("relay")
    forged = "no\x1b]0;owned\x07\x1b[2J\rthanks\n2026-11-28 14:00:00,000 ERROR console.store: forged"
    proc, port = relay(r.path)
    try:
        async def say():
            ws, _challenge = await raw_client(port)
            await ws.send(p.encode("error", code="internal", message=forged))
            await ws.wait_closed()

        asyncio.run(asyncio.wait_for(say(), 30))
        # The relay serves on: a console syncs through it right after.
        (a,) = consoles("a")
        with r.open() as s:
            s.trust(a.console_id, a.agency, "editor")
        with a.open() as s:
            s.trust(r.console_id, r.agency, "editor")
        done = sync_once(a.path, port)
        assert done.returncode == 0, done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert ("failed on its side: no\\x1b]0;owned\\x07\\x1b[2J\\x0dthanks\n"
            "    2026-11-28 14:00:00,000 ERROR console.store: forged") in err, err
    assert not any(c in err for c in "\x1b\x07\r"), err
    assert not any(" ERROR " in line for line in err.splitlines() if not line.startswith("    ")), err


def _children(pid):
    """(pid, command line) of the live processes whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    out.append((int(entry), fh.read().replace(b"\0", b" ").decode()))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped
    except OSError:
        return True


@pytest.mark.parametrize("peer", ["given", "remembered"])
def test_the_window_syncs_through_its_engine_process_and_leaves_none_behind(consoles, tmp_path, peer):
    """The application as people start it: `crisis-console --db ... --peer ...`
    (offscreen), or with no --peer, connecting to the address its Peers
    dialog was told to connect to before. Its engine process syncs; killed
    without any chance to clean up, the window leaves no engine process
    behind."""
    from console.store import Store

    r, a = consoles("relay", "a")
    with r.open() as s:
        s.add("units", {"callsign": "E-5", "agency": "Fire", "kind": "Engine"})
    proc, port = relay(r.path)
    url = f"wss://127.0.0.1:{port}"
    if peer == "remembered":
        with a.open() as s:
            s.remember_dial(url)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    log = open(tmp_path / "window.log", "w")  # noqa: SIM115 (closed below; a pipe could fill and block it)
    window = subprocess.Popen([sys.executable, "-m", "console", "--db", str(a.path),
                               *(["--peer", url] if peer == "given" else [])],
                              env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Store(a.path) as s:
                if [u.callsign for u in s.list("units")] == ["E-5"]:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the window's engine did not sync: " + (tmp_path / "window.log").read_text())
        engines = [pid for pid, cmd in _children(window.pid) if "console.sync.child" in cmd]
        assert len(engines) == 1
        window.kill()
        window.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(engines[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(engines[0]), "the engine process outlived its window"
    finally:
        window.kill()
        window.wait(timeout=30)
        log.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


@pytest.mark.parametrize("nohup", [False, True])
def test_a_relay_stops_cleanly_when_its_terminal_closes_unless_started_with_nohup(consoles, nohup):
    """SIGHUP (the terminal a relay was started from closed) ended it at
    once, without its "stopped". Now it stops as at Ctrl-C or SIGTERM;
    started with nohup (SIGHUP ignored), it serves on."""
    (r,) = consoles("relay")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "relay", "--db", str(r.path), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if nohup else None)
    try:
        assert "listening on" in proc.stdout.readline()
        proc.send_signal(signal.SIGHUP)
        if nohup:
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out, err


@contextlib.contextmanager
def _window_process(args, folder, *, nohup=False):
    """A window in a process of its own (`python ARGS`, offscreen, its
    settings and its log, window.log, in `folder`), killed at the end if
    still running. Under nohup, SIGHUP is ignored, as nohup has it."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(folder / "config")}
    with open(folder / "window.log", "w") as log:  # (a file: a pipe could fill and block it)
        window = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=log,
                                  preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if nohup else None)
        try:
            yield window
        finally:
            window.kill()
            window.wait(timeout=30)


def _closed_by_a_signal(folder) -> str:
    """The log of a window that closed as asked by a signal, said so, with
    no traceback."""
    said = (folder / "window.log").read_text()
    assert "closing: asked to stop by a signal" in said and "Traceback" not in said, said
    return said


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, "nohup"])
def test_a_window_asked_to_stop_by_a_signal_closes_as_quit_does(consoles, tmp_path, sig):
    """Ctrl+C in the terminal the console was started from (SIGINT), that
    terminal closed (SIGHUP), or a logout or a service manager stopping it
    (SIGTERM) ended the window at
    once (Ctrl+C, at times, not at all: Python's handler waits for Python
    code to run), its layout unsaved and its lock left. Now it closes as
    Board ▸ Quit does, without asking: it exits 0, its sync engine stops,
    its lock on the database is let go and its layout is kept. Started
    with nohup (SIGHUP ignored), it outlives its terminal, as asked, and
    stops at SIGTERM."""
    (a,) = consoles("a")
    with a.open() as s:
        s.add("units", {"callsign": "E-5", "agency": "Fire", "kind": "Engine"})
    lock = a.path.parent / f"{a.path.name}.window-lock"
    config = tmp_path / "config"
    nohup = sig == "nohup"
    with _window_process(["-m", "console", "-v", "--db", str(a.path), "--listen", "127.0.0.1:0"], tmp_path,
                         nohup=nohup) as window:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                lock.exists() and "listening on wss://" in (tmp_path / "window.log").read_text()):
            time.sleep(0.2)
        engines = [pid for pid, cmd in _children(window.pid) if "console.sync.child" in cmd]
        assert lock.exists() and len(engines) == 1, (tmp_path / "window.log").read_text()
        assert not any("geometry" in f.read_text() for f in config.rglob("*.conf"))  # (written on closing)
        if nohup:
            window.send_signal(signal.SIGHUP)  # its terminal closed: ignored
            with pytest.raises(subprocess.TimeoutExpired):
                window.wait(timeout=3)
            assert lock.exists() and not _gone(engines[0])
        window.send_signal(signal.SIGTERM if nohup else sig)
        assert window.wait(timeout=30) == 0
    _closed_by_a_signal(tmp_path)
    assert _gone(engines[0]), "the engine process outlived its window"
    assert not lock.exists()
    [settings] = config.rglob("*.conf")
    assert "geometry" in settings.read_text()
    with a.open() as s:
        assert [u.callsign for u in s.list("units")] == ["E-5"]


# A window whose person is asked a question (its spreadsheet's rows to add)
# when a signal comes: the question is told on stderr, and so is its answer.
ASKED_WHEN_STOPPED = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox
from console import cli
from console.ui.window import MainWindow

question, show = QMessageBox.question, MainWindow.show

def asked(*args, **kwargs):
    print("asking:", args[2].splitlines()[0], file=sys.stderr, flush=True)
    answer = question(*args, **kwargs)
    print("answered:", answer.name, file=sys.stderr, flush=True)
    return answer

def shown(window):
    show(window)
    QTimer.singleShot(200, lambda: window.import_csv(sys.argv[1]))

QMessageBox.question, MainWindow.show = asked, shown
sys.exit(cli.main(sys.argv[2:]))
"""


def test_a_window_stopped_by_a_signal_while_asking_adds_nothing_and_closes(consoles, tmp_path):
    """A signal while the person is asked a question (the rows of a
    spreadsheet to add): the question closes as if cancelled, nothing is
    done, and then the window closes as Board ▸ Quit does, with nothing
    left of it (its lock let go, exit code 0)."""
    (a,) = consoles("a")
    roster = tmp_path / "roster.csv"
    roster.write_text("callsign,agency,kind\nE-7,Fire,Engine\n", encoding="utf-8")
    lock = a.path.parent / f"{a.path.name}.window-lock"
    with _window_process(["-c", ASKED_WHEN_STOPPED, str(roster), "-v", "--db", str(a.path)], tmp_path) as window:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "asking:" not in (tmp_path / "window.log").read_text():
            time.sleep(0.2)
        window.send_signal(signal.SIGTERM)
        assert window.wait(timeout=30) == 0
    said = _closed_by_a_signal(tmp_path)
    assert "asking: Add 1 units from roster.csv?" in said and "answered: No" in said, said
    assert not lock.exists()
    with a.open() as s:
        assert s.list("units") == []


# A window whose sync engine takes two seconds to start: said on stderr.
STOPPED_WHILE_STARTING = """
import asyncio, sys
from console import cli
from console.sync.child import EngineProcess

start = EngineProcess.start_or_retry

async def slow(self, *args, **kwargs):
    print("starting sync", file=sys.stderr, flush=True)
    await asyncio.sleep(2)
    return await start(self, *args, **kwargs)

EngineProcess.start_or_retry = slow
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_window_stopped_by_a_signal_while_sync_starts_closes_once_shown(consoles, tmp_path):
    """SIGTERM while the window's sync engine was starting, before the
    window showed (the signal's handler was set once it had): the process
    was killed by it, its lock left. Now the window shows and closes as
    Board ▸ Quit does: exit 0, the lock let go, the layout kept."""
    (a,) = consoles("a")
    lock = a.path.parent / f"{a.path.name}.window-lock"
    with _window_process(["-c", STOPPED_WHILE_STARTING, "-v", "--db", str(a.path), "--listen", "127.0.0.1:0"],
                         tmp_path) as window:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "starting sync" not in (tmp_path / "window.log").read_text():
            time.sleep(0.05)
        window.send_signal(signal.SIGTERM)
        assert window.wait(timeout=30) == 0, (tmp_path / "window.log").read_text()
    _closed_by_a_signal(tmp_path)
    assert not lock.exists()
    [settings] = (tmp_path / "config").rglob("*.conf")
    assert "geometry" in settings.read_text()


def test_a_relay_with_one_file_left_to_open_serves_the_console_that_takes_it(consoles):
    """Under a flood of connections, a console got through only to have its
    hello fail at the relay now and then: checking its signature was the
    first use of a part of the cryptography library, loaded from disk then,
    and the relay's last free file had just gone to the console's own
    connection ("Too many open files"). Now an engine signs and checks a
    proof of its own before any connection: here the relay may open exactly
    one more file, the connection, and the console syncs."""
    import resource

    r, a = consoles("relay", "a")
    with a.open() as s:
        s.add("tasks", {"title": "Evacuate Elm St"})
    proc, port = relay(r.path)
    try:
        fds = {int(x) for x in os.listdir(f"/proc/{proc.pid}/fd")}
        free = [n for n in range(max(fds) + 3) if n not in fds]
        _soft, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (free[1], hard))  # free[0]: the connection
        done = sync_once(a.path, port, timeout=60)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert done.returncode == 0, f"{done.stderr}\nthe relay said:\n{err}"
    assert "Traceback" not in err
    with r.open() as s:
        assert [t.title for t in s.list("tasks")] == ["Evacuate Elm St"]


def test_a_flood_of_connections_is_said_in_one_line_and_the_relay_keeps_serving(consoles):
    """Connections that never finish a TLS handshake (a port scanner, a
    broken client in a loop): a console waited behind them until they
    were dropped after TLS_HANDSHAKE_TIMEOUT, once the relay had used
    every file it may open. From one machine now: past
    MAX_UNIDENTIFIED_PER_ADDRESS they are closed at once, and past the
    burst of new ones (NEW_CONNECTIONS_BURST) too, each in one line now
    and then, and a console elsewhere syncs without waiting. From many
    (30 from each of 10 addresses): past half the relay's files, the
    oldest still in its handshake is closed for each new one, in one line
    now and then, and a console gets through at once too. Asyncio's own
    traceback per failed accept, should the files run out all the same
    (a burst accepted at once), is one line every 10 s. And a relay raises
    its soft limit of open files to the hard one."""
    import resource
    import socket

    from console.sync.transport import MAX_UNIDENTIFIED_PER_ADDRESS, TLS_HANDSHAKE_TIMEOUT

    r, a = consoles("relay", "a")

    def limited(soft, hard):
        def preexec():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        proc = subprocess.Popen(
            [sys.executable, "-m", "console", "relay", "--db", str(r.path), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
        )
        m = re.search(r"listening on wss://127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m, proc.stderr.read()
        return proc, int(m.group(1))

    def soft_limit(pid):
        with open(f"/proc/{pid}/limits") as fh:
            return int(next(x for x in fh if x.startswith("Max open files")).split()[3])

    def flood(port, sources, task):
        """Sync `task`, added at `a`, to the relay while `sources` flood it
        (the same address again and again, or many); how long the sync
        took, and how long the flood lasted, once it is over."""
        with a.open() as s:
            s.add("tasks", {"title": task})
        held = []
        flooded = time.monotonic()
        try:
            for source in sources:
                held.append(socket.create_connection(("127.0.0.1", port), source_address=(source, 0)))
            time.sleep(2)  # for a while
            started = time.monotonic()
            done = sync_once(a.path, port)  # the flood still open
            assert done.returncode == 0, done.stderr
            return time.monotonic() - started, time.monotonic() - flooded
        finally:
            for s in held:
                s.close()

    proc, _ = limited(200, 4096)
    try:
        assert soft_limit(proc.pid) == 4096
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

    proc, port = limited(160, 160)
    try:
        one_took, one_lasted = flood(port, ["127.0.0.2"] * 300, "Evacuate Elm St")
        # 30 from each of 10 addresses: each under the limit per address.
        assert MAX_UNIDENTIFIED_PER_ADDRESS > 30
        many_took, many_lasted = flood(port, [f"127.0.0.{10 + i % 10}" for i in range(300)], "Close Route 9")
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
    assert one_took < TLS_HANDSHAKE_TIMEOUT  # none of the flood's connections had to be dropped first
    turned_away = [x for x in err.splitlines() if "turning away connections from 127.0.0.2" in x]
    # Past 32 open (the 33rd to the 64th), then past the burst of new ones.
    waiting = [x for x in turned_away if "32 of its connections are open and have not identified" in x]
    too_fast = [x for x in turned_away if "more than 64 new ones at once, or 20 a second" in x]
    assert 1 <= len(waiting) <= 1 + one_lasted // 10 and 1 <= len(too_fast) <= 1 + one_lasted // 10, err
    assert len(turned_away) == len(waiting) + len(too_fast), err
    assert many_took < TLS_HANDSHAKE_TIMEOUT
    oldest = [x for x in err.splitlines() if "closing the oldest for each new one" in x]
    assert 1 <= len(oldest) <= 1 + many_lasted // 10 and all(
        "80 connections are open that have not identified themselves yet" in x for x in oldest), err
    said = [x for x in err.splitlines() if "too many connections at once" in x]
    assert len(said) <= 1 + (one_lasted + many_lasted) // 10 and all(
        "all 160 files this process may open are in use" in x for x in said), err
    with r.open() as s:
        assert sorted(t.title for t in s.list("tasks")) == ["Close Route 9", "Evacuate Elm St"]


def test_a_relay_stops_cleanly_where_the_event_loop_takes_no_signal_handlers(consoles, tmp_path):
    """Windows' event loops refuse add_signal_handler (NotImplementedError),
    and the relay died with a traceback before it listened. Here a relay
    whose loop refuses alike starts, serves, and stops cleanly on SIGINT
    and on SIGTERM."""
    r, a = consoles("relay", "a")
    with a.open() as s:
        s.add("tasks", {"title": "Evacuate Elm St"})
    boot = tmp_path / "windows_like.py"
    boot.write_text(
        "import asyncio, sys\n"
        "def refuse(self, *args):\n"
        "    raise NotImplementedError\n"
        "asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = refuse\n"
        "from console.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, str(boot), "relay", "--db", str(r.path), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            m = re.search(r"listening on wss://127\.0\.0\.1:(\d+)", proc.stdout.readline())
            assert m, proc.stderr.read()
            done = sync_once(a.path, int(m.group(1)))
            assert done.returncode == 0, done.stderr
        finally:
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in out, err
        assert "Traceback" not in err
    with r.open() as s:
        assert [t.title for t in s.list("tasks")] == ["Evacuate Elm St"]


def test_a_relay_on_ipv6_prints_an_address_that_can_be_dialled(consoles, ipv6_loopback):
    """It printed "listening on wss://::1:PORT", which no console can dial."""
    r, a = consoles("relay", "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "relay", "--db", str(r.path), "--listen", "[::1]:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on (wss://\[::1\]:\d+) as console [A-Z0-9-]+; other consoles dial (\S+)$", line)
        assert m and m.group(1) == m.group(2), line + proc.stderr.read()
        done = subprocess.run(
            [sys.executable, "-m", "console", "sync", "--db", str(a.path), "--peer", m.group(1), "--once"],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
