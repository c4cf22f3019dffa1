"""The sync engine in a process of its own, for the window.

Decoding and merging a catch-up is Python work. In the window's process it
would share the interpreter lock with the GUI thread, and a 100k-change
catch-up would freeze the window for a sixth of a second at a time. So the
window starts this module as a child process (`EngineProcess`), which runs
the same `Engine` as `crisis-console sync` on its own database connection,
and talks to it over the child's standard input and output, one JSON object
per line:

    window -> engine   {"cmd": "notify"}                  a local commit: push it now
                       {"cmd": "add_peer", "url": URL}    start dialling URL
                       {"cmd": "remove_peer", "url": URL} stop dialling URL, close its link
                       {"cmd": "status", "id": N}         ask for Engine.status()
                       {"cmd": "stop"}                    stop cleanly and exit
    engine -> window   {"event": "ready", "port": P, "console_id": ID}
                       {"event": "changes"}               remote changes committed
                       {"event": "local_changes"}         another program (the command line) committed
                       {"event": "peers"} / {"event": "progress"}
                       {"event": "error", "message": TEXT}
                       {"reply": N, "status": {...}}

The window reads what changed from its own connection to the database. The
child exits when its input closes, so it never outlives the window; its log
lines go into the window's log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from console import model
from console.store import StoreError
from console.sync import identity as ident
from console.sync.transport import SyncError, check_url

log = logging.getLogger(__name__)

# What the engine tells the window: the same names as Engine.on_event's.
EVENTS = ("changes", "local_changes", "peers", "progress")
START_TIMEOUT = 30.0
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before each restart of a dead engine
NICENESS = 10
STOP_TIMEOUT = 15.0
MAX_LINE = 1 << 22  # the longest line of the pipe protocol, either way (a status is a few KiB)


class EngineProcess:
    """Drives an Engine in a child process; the parts of Engine's interface
    the window uses (start, stop, add_peer, remove_peer, notify, status,
    on_event, running, port, console_id). An engine that dies is started
    again, after 1 s, then 2, 5, 10 and 30 s; `failure` says why meanwhile."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        operator: str | None = None,
        agency: str | None = None,
        listen: tuple[str, int] | None = None,
        peers: list[str] | tuple[str, ...] = (),
        on_event: Callable[[str, Any], None] | None = None,
    ) -> None:
        for url in peers:
            check_url(url)
        self.db_path = Path(db_path)
        self.identity = ident.load_or_create(self.db_path)
        self.operator, self.agency, self.listen_on = operator, agency, listen
        self.peer_urls = list(peers)
        self.on_event = on_event
        self.port: int | None = None
        self._proc: _Child | None = None
        self._reader: asyncio.Task | None = None
        self._replies: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._stopping = False
        self._restart: asyncio.Task | None = None
        # Why the engine is not running, while it is being restarted (for
        # the window to show); None when it runs or was stopped on purpose.
        self.failure: str | None = None
        self.restarts = 0
        self._said: collections.deque[str] = collections.deque(maxlen=20)
        self._log_task: asyncio.Task | None = None

    @property
    def console_id(self) -> str:
        return self.identity.console_id

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "console.sync.child", "--db", str(self.db_path)]
        if self.operator:
            argv += ["--operator", self.operator]
        if self.agency:
            argv += ["--agency", self.agency]
        if self.listen_on is not None:
            argv += ["--listen", f"{self.listen_on[0]}:{self.listen_on[1]}"]
        for url in self.peer_urls:
            argv += ["--peer", url]
        if log.getEffectiveLevel() <= logging.DEBUG:
            argv.append("-v")
        return argv

    async def start(self) -> None:
        self._stopping = False
        self._proc = await _Child.start(self._argv())
        self._said.clear()
        self._log_task = asyncio.get_running_loop().create_task(self._relay_log(self._proc))
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
            raise SyncError("the sync engine did not start within 30 s") from None
        except BaseException:  # cancelled while starting: leave no engine behind
            self._proc.kill()
            raise
        msg = _parse(line)
        if msg is None or msg.get("event") != "ready":
            await self._proc.wait()
            await asyncio.gather(self._log_task, return_exceptions=True)
            last = self._said[-1] if self._said else f"exit status {self._proc.returncode}"
            raise SyncError(f"the sync engine could not start: {last}")
        self.port = msg.get("port")
        self.failure = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _relay_log(self, proc: _Child) -> None:
        """The child's log lines, into this process's log (so they reach the
        same place as the window's own), the last few kept for messages."""
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self._said.append(text.removeprefix("crisis-console: sync: "))
            log.info("%s", text)

    async def _read(self) -> None:
        assert self._proc is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                break
            msg = _parse(line)
            if msg is None:
                log.warning("the sync engine said something unreadable: %.200r", line)
                continue
            if "reply" in msg:
                fut = self._replies.pop(msg["reply"], None)
                if fut is not None and not fut.done():
                    if isinstance(msg.get("status"), dict):
                        fut.set_result(msg["status"])
                    else:  # it said why in an error event just before
                        fut.set_exception(SyncError("the sync engine could not read its status"))
            elif msg.get("event") == "error":
                log.error("sync: %s", msg.get("message"))
            elif self.on_event is not None and msg.get("event") in EVENTS:
                try:
                    self.on_event(msg["event"], None)
                except Exception:
                    log.exception("handling the sync engine's %s event failed", msg["event"])
        await self._proc.wait()
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(SyncError("the sync engine has stopped"))
        self._replies.clear()
        if not self._stopping:
            self._retry(f"the sync engine stopped (exit status {self._proc.returncode})")

    async def start_or_retry(self) -> None:
        """Start, or, if the engine cannot start (its port taken, say), say
        why in `failure` and keep trying in the background: the window works
        meanwhile, and syncs as soon as the engine can run."""
        try:
            await self.start()
        except (SyncError, OSError) as exc:
            self._retry(str(exc).removeprefix("the sync engine could not start: "))

    def _retry(self, why: str) -> None:
        delay = RESTART_DELAYS[min(self.restarts, len(RESTART_DELAYS) - 1)]
        self.failure = f"{why}; trying again in {delay:g} s"
        log.error("sync: %s", self.failure)
        self._restart = asyncio.get_running_loop().create_task(self._restart_after(delay))
        if self.on_event is not None:
            self.on_event("peers", None)

    async def _restart_after(self, delay: float) -> None:
        """Start the engine again after it died or could not start: the
        window goes on syncing without anyone having to act, and says so
        while it is down."""
        await asyncio.sleep(delay)
        if self._stopping:
            return
        self.restarts += 1
        try:
            await self.start()
        except (SyncError, OSError) as exc:
            self._retry(str(exc).removeprefix("the sync engine could not start: "))
            return
        log.info("the sync engine is running again")
        if self.on_event is not None:
            self.on_event("peers", None)

    def _send(self, msg: dict) -> None:
        if not self.running:
            return
        assert self._proc is not None
        self._proc.write(json.dumps(msg).encode() + b"\n")

    def notify(self) -> None:
        self._send({"cmd": "notify"})

    def add_peer(self, url: str) -> None:
        check_url(url)
        if url not in self.peer_urls:
            self.peer_urls.append(url)
        self._send({"cmd": "add_peer", "url": url})

    def remove_peer(self, url: str) -> None:
        if url in self.peer_urls:
            self.peer_urls.remove(url)
        self._send({"cmd": "remove_peer", "url": url})

    async def status(self) -> dict:
        if not self.running:
            raise SyncError("the sync engine is not running")
        self._next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self._replies[self._next_id] = fut
        self._send({"cmd": "status", "id": self._next_id})
        return await asyncio.wait_for(fut, 30)

    async def stop(self) -> None:
        self._stopping = True
        self.failure = None
        if self._restart is not None:
            self._restart.cancel()
            await asyncio.gather(self._restart, return_exceptions=True)
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            self._send({"cmd": "stop"})
            proc.close_stdin()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("the sync engine did not stop within %.0f s; killing it", STOP_TIMEOUT)
                proc.kill()
                await proc.wait()
        await asyncio.gather(*(t for t in (self._reader, self._log_task) if t is not None), return_exceptions=True)


def background() -> dict[str, Any]:
    """How the window starts a child process for work in the background
    (its sync engine, a transfer file): what it says in UTF-8 whatever the
    system's code page (Windows' is not), and on Windows no console window
    of its own beside the window, and the lower priority os.nice gives it
    elsewhere (see main)."""
    return {"env": {**os.environ, "PYTHONIOENCODING": "utf-8:backslashreplace"},
            "creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)
            | getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)}


class _Child:
    """A child process with its standard input, output and error as plain
    blocking pipes, each served by a thread of its own that hands whole
    lines to the event loop. Any event loop can host this (qasync's on
    Windows cannot start asyncio subprocesses, nor can Windows' own loops
    read an ordinary pipe); a child that stops reading cannot block the
    loop either, as writing is a thread's too. The interface is what
    EngineProcess uses of asyncio's Process."""

    def __init__(self, popen: subprocess.Popen, loop: asyncio.AbstractEventLoop) -> None:
        self._popen, self._loop = popen, loop
        self.pid = popen.pid
        self._exited: asyncio.Future[int] = loop.create_future()
        self._orders: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.stdout, self.stderr = _Lines(loop, popen.stdout), _Lines(loop, popen.stderr)
        for target, name in ((self._write_orders, "stdin"), (self._wait, "wait")):
            threading.Thread(target=target, name=f"sync engine {self.pid} {name}", daemon=True).start()

    @classmethod
    async def start(cls, argv: list[str]) -> _Child:
        popen = await asyncio.to_thread(subprocess.Popen, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, bufsize=0, **background())
        return cls(popen, asyncio.get_running_loop())

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    def write(self, data: bytes) -> None:
        self._orders.put(data)

    def close_stdin(self) -> None:
        self._orders.put(None)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def kill(self) -> None:
        if not self._exited.done():
            with contextlib.suppress(OSError):
                self._popen.kill()

    def _write_orders(self) -> None:
        pipe = self._popen.stdin
        try:
            while (data := self._orders.get()) is not None:
                view = memoryview(data)
                while view:
                    view = view[pipe.write(view):]
        except (OSError, ValueError):
            pass  # the child is gone: what was still to say goes nowhere
        with contextlib.suppress(OSError):
            pipe.close()

    def _wait(self) -> None:
        code = self._popen.wait()
        _hand(self._loop, lambda: self._exited.done() or self._exited.set_result(code))


class _Lines:
    """One of the child's outputs, read by a thread, line by line."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pipe) -> None:
        self._lines: asyncio.Queue[bytes] = asyncio.Queue()
        self._ended = False
        threading.Thread(target=self._read, args=(loop, pipe), name="sync engine output", daemon=True).start()

    async def readline(self) -> bytes:
        """The next line, or b"" once the pipe has closed."""
        if self._ended:
            return b""
        line = await self._lines.get()
        self._ended = not line
        return line

    def _read(self, loop: asyncio.AbstractEventLoop, pipe) -> None:
        for line in read_lines(pipe.fileno()):
            _hand(loop, self._lines.put_nowait, line)
        _hand(loop, self._lines.put_nowait, b"")
        with contextlib.suppress(OSError):
            pipe.close()


def read_lines(fd: int, limit: int = MAX_LINE) -> Iterator[bytes]:
    """The lines read from a file descriptor, blocking, until it ends; one
    still unended at `limit` bytes comes in pieces of that size, so memory
    stays bounded whatever the other end writes. Raw reads, so that a
    thread blocked here holds no lock of Python's buffered files (which
    would stop the interpreter at its exit)."""
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            if pending:
                yield pending
            return
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line + b"\n"
        while len(pending) >= limit:
            yield pending[:limit]
            pending = pending[limit:]


def _hand(loop: asyncio.AbstractEventLoop, fn: Callable, *args: Any) -> None:
    """Call `fn` on the loop's thread, from another; nothing once the loop is closed."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def _parse(line: bytes) -> dict | None:
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


# ------------------------------------------------------------------ the child


def _write(msg: dict) -> None:
    try:
        sys.stdout.write(json.dumps(msg, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # the window is gone: its closed pipe ends this process next


async def _serve(args: argparse.Namespace) -> int:
    from console.sync.transport import Engine

    def on_event(name: str, payload: Any) -> None:
        if name in EVENTS:
            _write({"event": name})

    engine = Engine(args.db, operator=args.operator, agency=args.agency, listen=args.listen,
                    peers=args.peer, on_event=on_event)
    await engine.start()
    _write({"event": "ready", "port": engine.port, "console_id": engine.console_id})
    loop = asyncio.get_running_loop()
    orders: asyncio.Queue[bytes] = asyncio.Queue()

    def read_orders() -> None:  # a thread: Windows' event loops cannot read a pipe
        for line in read_lines(sys.stdin.fileno()):
            _hand(loop, orders.put_nowait, line)
        _hand(loop, orders.put_nowait, b"")

    threading.Thread(target=read_orders, name="orders", daemon=True).start()
    tasks: set[asyncio.Task] = set()

    async def reply(n: Any) -> None:
        try:
            status = await engine.status()
        except Exception as exc:  # the store failed: say so, keep serving
            _write({"event": "error", "message": f"cannot read the sync status: {exc}"})
            status = None
        _write({"reply": n, "status": status})

    try:
        while line := await orders.get():
            msg = _parse(line)
            cmd = msg.get("cmd") if msg else None
            try:
                if cmd == "notify":
                    engine.notify()
                elif cmd == "add_peer":
                    engine.add_peer(str(msg.get("url")))
                elif cmd == "remove_peer":
                    engine.remove_peer(str(msg.get("url")))
                elif cmd == "status":
                    task = loop.create_task(reply(msg.get("id")))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif cmd == "stop":
                    break
                else:
                    _write({"event": "error", "message": f"unknown command {line[:100]!r}"})
            except SyncError as exc:
                _write({"event": "error", "message": str(exc)})
    finally:
        await engine.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    from console.cli import host_port

    ap = argparse.ArgumentParser(prog="python -m console.sync.child",
                                 description="The window's sync engine (started by the window, not by hand).")
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--operator")
    ap.add_argument("--agency")
    ap.add_argument("--listen", type=host_port)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args(argv)
    # Sync is background work: at a lower priority, a busy catch-up leaves
    # the processor to the window whenever the window has something to do.
    # (Windows has no os.nice: the window starts it below normal priority.)
    with contextlib.suppress(AttributeError, OSError):
        os.nice(NICENESS)
    logs = logging.StreamHandler(sys.stderr)
    logs.setFormatter(model.LogFormatter("%(asctime)s sync %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.v else logging.INFO, handlers=[logs])
    try:
        return asyncio.run(_serve(args))
    except (SyncError, StoreError, OSError) as exc:
        print(model.on_terminal(f"crisis-console: sync: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
