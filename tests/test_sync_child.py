"""The window's sync engine in a child process (console/sync/child.py): a real
child process, a real relay on 127.0.0.1, real pipes."""

import asyncio
import json
import sys

import pytest
from conftest import until

from console.sync.child import EngineProcess
from console.sync.transport import Engine, SyncError

pytestmark = pytest.mark.timeout(120)


async def a_window_edit_reaches(relay_c, mine, child):
    """A unit added by the window (its own connection to the database),
    then notify: it reaches the relay through the engine process."""
    with mine.open() as s:
        s.add("units", {"callsign": "M-7", "agency": "EMS", "kind": "Medic"})
    child.notify()

    def relay_has_it():
        with relay_c.open() as s:
            return "M-7" in {u.callsign for u in s.list("units")}

    await until(relay_has_it, what="the window's edit to reach the relay")


def test_child_engine_syncs_reports_and_stops(consoles):
    relay_c, mine = consoles("relay", "mine")
    with relay_c.open() as s:
        s.add("units", {"callsign": "E-1", "agency": "Fire", "kind": "Engine"})

    async def scenario():
        relay = Engine(relay_c.path, listen=("127.0.0.1", 0))
        await relay.start()
        url = f"wss://127.0.0.1:{relay.port}"
        events = []
        child = EngineProcess(mine.path, peers=[url], on_event=lambda name, payload: events.append(name))
        try:
            await child.start()
            assert child.running
            # What the relay held arrives, and the window hears of it.
            await until(lambda: "changes" in events, what="a changes event")
            with mine.open() as s:
                assert [u.callsign for u in s.list("units")] == ["E-1"]
            status = await child.status()
            assert status["console_id"] == mine.console_id
            assert [p["state"] for p in status["peers"]] == ["connected"]
            # A commit by the window (another connection) goes out on notify.
            await a_window_edit_reaches(relay_c, mine, child)
            # Taking the peer away closes its link; giving it back reconnects.
            child.remove_peer(url)
            for _ in range(100):
                if not (await child.status())["peers"]:
                    break
                await asyncio.sleep(0.05)
            assert (await child.status())["peers"] == []
            child.add_peer(url)
            for _ in range(200):
                if [p["state"] for p in (await child.status())["peers"]] == ["connected"]:
                    break
                await asyncio.sleep(0.05)
            assert [p["state"] for p in (await child.status())["peers"]] == ["connected"]
        finally:
            await child.stop()
            await relay.stop()
        assert child._proc.returncode == 0
        assert not child.running
        with pytest.raises(SyncError, match="not running"):
            await child.status()

    asyncio.run(scenario())


def test_child_refuses_bad_commands_and_keeps_serving(consoles):
    (mine,) = consoles("mine")

    async def scenario():
        child = EngineProcess(mine.path)
        await child.start()
        try:
            with pytest.raises(SyncError, match="not a peer address"):
                child.add_peer("http://example.org")
            # Straight onto the pipe: garbage, an unknown command, a bad URL.
            for line in (b"\x00\xffnot json\n", b'{"cmd": "format_disk"}\n', b"[1, 2]\n",
                         json.dumps({"cmd": "add_peer", "url": "ftp://x"}).encode() + b"\n"):
                child._proc.write(line)
            status = await child.status()
            assert status["peers"] == [] and status["console_id"] == mine.console_id
        finally:
            await child.stop()
        assert child._proc.returncode == 0

    asyncio.run(scenario())


def test_child_exits_when_the_window_goes_away(consoles):
    """Its input closing (the window's process died) stops it cleanly."""
    (mine,) = consoles("mine")

    async def scenario():
        child = EngineProcess(mine.path, listen=("127.0.0.1", 0))
        await child.start()
        assert child.port
        child._proc.close_stdin()
        await asyncio.wait_for(child._proc.wait(), 20)
        assert child._proc.returncode == 0

    asyncio.run(scenario())


def test_child_that_cannot_start_says_why(tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()

    async def scenario():
        child = EngineProcess(tmp_path / "fresh.db")
        child.db_path = folder  # a database path that is a folder
        with pytest.raises(SyncError, match=r"could not start: .*is a folder, not a database file"):
            await child.start()
        assert not child.running

    asyncio.run(scenario())


def test_child_log_lines_reach_the_window_log(consoles, caplog):
    import logging

    (mine,) = consoles("mine")

    async def scenario():
        child = EngineProcess(mine.path, listen=("127.0.0.1", 0))
        await child.start()
        await child.stop()

    with caplog.at_level(logging.INFO, logger="console.sync.child"):
        asyncio.run(scenario())
    assert any("listening on wss://127.0.0.1:" in r.getMessage() for r in caplog.records)


def test_child_module_refuses_bad_arguments(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "console.sync.child", "--db", str(tmp_path / "x.db"),
                           "--listen", "nonsense"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "HOST:PORT" in done.stderr


def test_the_pipe_protocol_is_documented():
    """docs/PROTOCOL.md names every command the child obeys and every event
    it sends, and child.py handles every command the doc names."""
    import inspect
    import re
    from pathlib import Path

    from console.sync import child

    doc = (Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md").read_text()
    section = doc.split("## The window and its engine process")[1]
    source = inspect.getsource(child._serve)
    commands = set(re.findall(r'cmd == "([a-z_]+)"', source))
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section.split("Engine to window")[0], re.M))
    assert commands == documented == {"notify", "add_peer", "remove_peer", "status", "stop"}
    events_table = section.split("Engine to window")[1].split("The status (")[0]
    events = set(re.findall(r"^\| `([a-z_]+)` \|", events_table, re.M))
    assert events == {*child.EVENTS, "ready", "error", "reply"}


def test_a_child_engine_that_dies_is_restarted_and_says_so_meanwhile(consoles):
    import os
    import signal

    relay_c, mine = consoles("relay", "mine")

    async def scenario():
        relay = Engine(relay_c.path, listen=("127.0.0.1", 0))
        await relay.start()
        url = f"wss://127.0.0.1:{relay.port}"
        child = EngineProcess(mine.path, peers=[url])
        await child.start()
        try:
            first = child._proc.pid
            os.kill(first, signal.SIGKILL)
            await until(lambda: child.failure is not None, what="the failure to be noticed")
            assert "stopped" in child.failure and "trying again in 1 s" in child.failure
            assert not child.running
            with pytest.raises(SyncError):
                await child.status()
            await until(lambda: child.failure is None and child.running, what="the restart")
            assert child._proc.pid != first
            assert child.failure is None and child.restarts == 1
            # The restarted engine syncs: a change made on the relay arrives.
            with relay_c.open() as s:
                s.add("units", {"callsign": "R-1", "agency": "Fire", "kind": "Rescue"})
            relay.notify()

            def arrived():
                with mine.open() as s:
                    return [u.callsign for u in s.list("units")] == ["R-1"]

            await until(arrived, what="the change through the restarted engine")
        finally:
            await child.stop()
            await relay.stop()

    asyncio.run(scenario())


def test_an_engine_that_cannot_start_is_tried_again_and_says_why(consoles):
    """Its port taken: the window is not kept shut; the reason is there to
    show, and the engine starts once the port is free."""
    import socket

    (mine,) = consoles("mine")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]

    async def scenario():
        events = []
        child = EngineProcess(mine.path, listen=("127.0.0.1", port), on_event=lambda n, p: events.append(n))
        try:
            await child.start_or_retry()  # does not raise
            assert not child.running
            assert "address already in use" in child.failure and "trying again in 1 s" in child.failure
            assert "peers" in events
            squatter.close()
            await until(lambda: child.failure is None and child.running, timeout=30, what="the engine to start")
            assert child.port == port
            assert (await child.status())["listening"] == port
        finally:
            await child.stop()

    try:
        asyncio.run(scenario())
    finally:
        squatter.close()


def test_a_status_the_engine_cannot_read_is_an_error_not_an_empty_status(consoles, caplog):
    """The child's store fails reading its status: the window is told so
    (SyncError), is not handed an empty status, and the child keeps serving."""
    import logging
    import sqlite3

    (mine,) = consoles("mine")
    with mine.open() as s:
        s.add("units", {"callsign": "E-1", "agency": "Fire", "kind": "Engine"})  # something in the outbox

    async def scenario():
        child = EngineProcess(mine.path)
        await child.start()
        try:
            outbox = (await child.status())["outbox"]
            assert outbox > 0
            conn = sqlite3.connect(mine.path)
            conn.execute("ALTER TABLE peer_state RENAME TO peer_state_gone")
            conn.commit()
            with pytest.raises(SyncError, match="could not read its status"):
                await child.status()
            assert child.running
            conn.execute("ALTER TABLE peer_state_gone RENAME TO peer_state")
            conn.commit()
            conn.close()
            assert (await child.status())["outbox"] == outbox
        finally:
            await child.stop()

    with caplog.at_level(logging.ERROR, logger="console.sync.child"):
        asyncio.run(scenario())
    assert any("cannot read the sync status" in r.getMessage() for r in caplog.records)


# What Windows' event loops refuse (and qasync's, which the window runs on
# there): subprocesses, reading or writing a pipe, file-descriptor readers,
# signal handlers. The window's engine process must start, sync and stop
# under loops that refuse them alike, on both ends of its pipes.
WINDOWS_LIKE_LOOP = '''
import asyncio


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    def refuse(self, *args, **kwargs):
        raise NotImplementedError

    subprocess_exec = subprocess_shell = connect_read_pipe = connect_write_pipe = refuse
    add_reader = add_writer = add_signal_handler = refuse


class WindowsLikePolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return WindowsLikeLoop()
'''


def test_the_engine_process_runs_under_event_loops_that_refuse_what_windows_ones_refuse(
        consoles, tmp_path, monkeypatch):
    """The window started its engine with asyncio's subprocesses, which
    qasync's Windows loop cannot start, and the engine read its orders with
    connect_read_pipe, which Windows' loops cannot do on such a pipe: on
    Windows the window could not sync. Threads on plain pipes now do both."""
    relay_c, mine = consoles("relay", "mine")
    with relay_c.open() as s:
        s.add("units", {"callsign": "E-1", "agency": "Fire", "kind": "Engine"})
    boot = tmp_path / "windows_like_child.py"
    boot.write_text(WINDOWS_LIKE_LOOP + (
        "import sys\n"
        "asyncio.set_event_loop_policy(WindowsLikePolicy())\n"
        "from console.sync.child import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    ))
    argv = EngineProcess._argv
    monkeypatch.setattr(EngineProcess, "_argv", lambda self: [sys.executable, str(boot), *argv(self)[3:]])
    space: dict = {}
    exec(WINDOWS_LIKE_LOOP, space)

    async def scenario():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, space["WindowsLikeLoop"])
        with pytest.raises(NotImplementedError):
            await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        relay = Engine(relay_c.path, listen=("127.0.0.1", 0))
        await relay.start()
        events = []
        child = EngineProcess(mine.path, peers=[f"wss://127.0.0.1:{relay.port}"],
                              on_event=lambda name, payload: events.append(name))
        try:
            await child.start()
            await until(lambda: "changes" in events, what="a changes event")
            with mine.open() as s:
                assert [u.callsign for u in s.list("units")] == ["E-1"]
            await a_window_edit_reaches(relay_c, mine, child)
            assert [p["state"] for p in (await child.status())["peers"]] == ["connected"]
        finally:
            await child.stop()
            await relay.stop()
        assert child._proc.returncode == 0 and not child.running

    with asyncio.Runner(loop_factory=space["WindowsLikeLoop"]) as runner:
        runner.run(scenario())


def test_pipe_lines_are_whole_or_cut_at_the_limit():
    """A line comes whole; one still unended at the limit comes in pieces
    (memory stays bounded whatever the other end writes); the end of the
    pipe gives what was left unended."""
    import os

    from console.sync.child import read_lines

    r, w = os.pipe()
    lines = read_lines(r, limit=10)
    os.write(w, b'{"a":1}\n' + b"x" * 12)
    assert next(lines) == b'{"a":1}\n'
    assert next(lines) == b"x" * 10  # unended at the limit
    os.write(w, b"y" * 13 + b"\n" + b"partial")
    os.close(w)
    assert list(lines) == [b"xx" + b"y" * 13 + b"\n", b"partial"]
    os.close(r)
