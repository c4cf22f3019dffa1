"""The sync engine: websockets server and client around Sessions.

One Engine serves one database. It can listen and dial at the same time; a
headless relay is an Engine that only listens. The event loop only moves
frames: every store call (reading what a peer lacks, validating and applying
a batch) runs on the one thread that owns the store, so a 100k-change
catch-up never blocks the loop long enough to stall a window or miss a
websocket keepalive.

A commit made through the engine (a peer's batch, a local edit) lets every
session read what its peer now lacks right there on the store thread, and
each connection sends its frames in the order they were made, through one
outbox and one sender task.

Backpressure: a session has at most `window` batches awaiting acknowledgement,
`ws.send` waits while the socket's write buffer is full, and websockets keeps
at most `max_queue` incoming frames. So a slow peer slows its own session
down and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import functools
import ipaddress
import logging
import random
import re
import shlex
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.client import backoff
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from console import clock
from console.store import Store, StoreError, gc_paused
from console.sync import identity as ident
from console.sync import protocol as p
from console.sync.session import PeerRefused, Session

log = logging.getLogger(__name__)

KEEPALIVE = 20.0  # seconds between pings, and to wait for a pong
# A connection closing waits this long for the peer's side of the close (the
# library's default): a dead one, found by the keepalive, ends after it.
CLOSE_TIMEOUT = 10.0
# A machine that slept (a laptop's lid shut on the way to the next site)
# wakes with connections that look open and are dead: the network changed
# under them, or the peer dropped them meanwhile; so does one moved to
# another network awake (Wi-Fi lost, the cellular modem taking over). The
# keepalive would find that out within twice KEEPALIVE and CLOSE_TIMEOUT,
# with the window saying "connected" all the while. So every
# SLEEP_CHECK_EVERY the clock that counts sleep and this machine's
# addresses are read. When the clock has moved SLEPT_AT_LEAST more than
# that, every connection is pinged at once, and one with no answer within
# WAKE_PROBE_TIMEOUT is dropped and dialled again. When the addresses
# changed, the connections that went out from an address no longer this
# machine's are dropped and dialled again: the others may be busy (a
# catch-up in flight on a slow link can hold a pong for longer).
SLEEP_CHECK_EVERY = 2.0
SLEPT_AT_LEAST = 5.0
WAKE_PROBE_TIMEOUT = 5.0
IPV6_ADDRESSES = "/proc/net/if_inet6"  # Linux's list of this machine's IPv6 addresses
# A connection whose peer has not finished the handshake (challenge, hello)
# this long after it opened is closed (`timeout`): one that never says who
# it is would otherwise hold its socket for as long as it answers pings.
HELLO_TIMEOUT = 20.0
# A console that refused this one's changes (it holds this one as an
# observer) is sent none for this long, then tried again, so that being
# made an editor there is noticed.
OBSERVER_RECHECK = 300.0
MAX_UNKNOWN_CONSOLES = 20  # refused consoles remembered for the Peers dialog
# At most this long between attempts on a peer that refused this console or
# dropped it at once: once its operator trusts this console, it connects
# within this, without anyone touching this end.
MAX_PAUSE = 10.0
# Reconnect within at most 10 s of a peer coming back (the library's default
# grows to 90 s, long for a console that should be back on the board).
RECONNECT_DELAYS = functools.partial(backoff, initial_delay=1.0, min_delay=1.0, max_delay=10.0, factor=1.6)
# sync_once tries again this many times, after a second or so more each
# time, when the connection is cut as it opens: a relay busy with many
# consoles behind one NAT turns the ones past its limit away (see
# MAX_UNIDENTIFIED_PER_ADDRESS), and they get in a moment later.
CUT_RETRIES = 4
# The same trouble again and again (a peer dialled but unreachable or
# refusing, a console refused at every try) is logged when it starts or
# changes, then this often while it lasts, not at every try: a laptop
# offline all night, or a console not yet trusted, would otherwise write
# lines every 10 s.
SAY_AGAIN_EVERY = 600.0
MAX_TROUBLES = 256  # troubles remembered (see _Repeats); the oldest go first
# A listening console out of open files (a flood of connections) says so
# at most this often: asyncio's own report is a traceback per failed accept,
# hundreds a second.
ACCEPT_FAILURES_SAID_EVERY = 10.0
# A TLS handshake not finished this long after the connection opened is
# dropped (asyncio's default is 60 s): on a network a console uses, one
# takes milliseconds, and each one waiting holds an open file.
TLS_HANDSHAKE_TIMEOUT = 10.0
# Connections from one address that have not identified themselves yet
# (their TLS handshake, the websocket handshake, then challenge and hello):
# one more from there is closed at once, before its TLS handshake. So one
# machine in a loop (a broken client, a port scanner) cannot hold every
# file a relay may open and make every other console wait for its
# connections' TLS_HANDSHAKE_TIMEOUT; consoles behind one NAT that all
# reconnect at once are let in a few at a time (each takes milliseconds).
MAX_UNIDENTIFIED_PER_ADDRESS = 32
# And in all (or half the files this process may open, if fewer): each
# holds a file, and while its TLS handshake is under way asyncio's 256 KiB
# read buffer for it, so a flood from many addresses could otherwise take
# every file, and gigabytes. Past it, a new one still gets in, and an
# older one is closed (the oldest still in its TLS handshake, see _Gate),
# so that consoles still get through.
MAX_UNIDENTIFIED = 1024
# New connections from one address: at most this many a second, after a
# burst of NEW_CONNECTIONS_BURST (a site's consoles behind one NAT all
# reconnecting at once after a relay restarts). Past it, one is closed at
# once, before its TLS handshake: each handshake costs a listening console
# a key exchange and a signature, and one machine making them in a loop
# (a client in a tight retry, or on purpose) cost a relay here 0.8 ms of
# CPU each, 70% of a core at 870 a second; one turned away before TLS
# costs 0.14 ms (bench/bench_flood.py). A connection that identifies
# itself as a trusted console gives its place back. At most
# NEW_CONNECTIONS_ADDRESSES addresses are remembered, those with the most
# recent connections.
NEW_CONNECTIONS_PER_SECOND = 20.0
NEW_CONNECTIONS_BURST = 64
NEW_CONNECTIONS_ADDRESSES = 4096
OPEN_TIMEOUT = 10.0  # for a dialled connection to open: TCP, TLS and the websocket handshake
# What other consoles dial to reach a listening one is read again this
# often (a laptop joins a network), off the event loop: it may ask a name
# resolver.
DIAL_ADDRESSES_EVERY = 30.0
MAX_OPEN_FILES = 65536


class SyncError(Exception):
    """A peer could not be reached, or refused this console."""


class StoreThread:
    """The one thread that owns the Store; every store call goes through run()."""

    def __init__(self, path: Path, **store_kwargs: Any) -> None:
        self.path = path
        self.store_kwargs = store_kwargs
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.store: Store | None = None

    async def start(self) -> Store:
        self.store = await self.run(Store, self.path, **self.store_kwargs)
        return self.store

    async def run(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        if self.store is not None:
            await self.run(self.store.close)
            self.store = None
        self.executor.shutdown(wait=True)


@dataclass
class Link:
    """What a person needs to know about one peer connection."""

    address: str
    direction: str  # "dial" or "accept"
    state: str = "connecting"  # connecting, connected, offline, refused
    console_id: str | None = None
    agency: str | None = None
    role: str | None = None
    last_seen: float | None = None
    last_error: str | None = None
    sent: int = 0
    received: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    remaining: int = 0  # changes the peer says it still has to send
    observer: bool = False  # the peer holds this console as an observer: it reads, sends nothing
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)  # origin -> (from seq, why), as the peer said
    pause: float = 1.0  # before the next reconnection
    # Set to cut that pause short: the trust list changed, and a refused
    # link may now get through.
    retry_now: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    session: Session | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {
            "address": self.address, "direction": self.direction, "state": self.state,
            "console_id": self.console_id, "agency": self.agency, "role": self.role,
            "last_seen": None if self.last_seen is None else clock.to_iso(clock.pack(int(self.last_seen * 1000))),
            "last_error": self.last_error, "sent": self.sent, "received": self.received,
            "bytes_out": self.bytes_out, "bytes_in": self.bytes_in, "remaining": self.remaining,
            "observer": self.observer,
            "refused": [{"origin": o, "seq": seq, "reason": why} for o, (seq, why) in sorted(self.refusals.items())],
        }


class Engine:
    """Sync one database with its peers: listen, dial, or both."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        operator: str | None = None,
        agency: str | None = None,
        listen: tuple[str, int] | None = None,
        peers: list[str] | tuple[str, ...] = (),
        window: int = 4,
        batch_changes: int = p.BATCH_CHANGES,
        poll_interval: float = 0.25,
        on_event: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.identity = ident.load_or_create(self.db_path)
        self.identity.rehearse()
        self.worker = StoreThread(self.db_path, operator=operator, agency=agency)
        self.listen_on = listen
        self.peer_urls = list(peers)
        self.window = window
        self.batch_changes = batch_changes
        self.poll_interval = poll_interval
        self.on_event = on_event
        self.links: list[Link] = []
        # Each open session's pump, called on the store thread (a tuple,
        # replaced whole, so that thread always reads a consistent one).
        self._pumps: tuple[Callable[[], None], ...] = ()
        # And each one's check of its peer's trust (the same way).
        self._rechecks: tuple[Callable[[], None], ...] = ()
        self._receiving: Session | None = None  # the session in receive(), on the store thread
        self._tasks: set[asyncio.Task] = set()
        self._dials: dict[str, asyncio.Task] = {}
        self._server = None
        self._gate = _Gate(MAX_UNIDENTIFIED_PER_ADDRESS, MAX_UNIDENTIFIED,  # see _GatedConnection
                           NEW_CONNECTIONS_PER_SECOND, NEW_CONNECTIONS_BURST)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_exchange: float | None = None
        self.last_link: Link | None = None  # of the last sync_once, for its figures
        self._trust_seen: tuple = ()  # the trust list as last read (see _recheck_all)
        # Console ID -> when it refused this console's changes (see OBSERVER_RECHECK).
        self._observer_at: dict[str, float] = {}
        # Why this console's own database last failed on sync work (the disk
        # full, say), until a batch is stored again: for the window to say.
        self.store_failure: str | None = None
        # Consoles refused lately for not being on the trust list, newest
        # last: console ID -> what the Peers dialog shows to trust one.
        self.unknown_consoles: dict[str, dict] = {}
        # What went wrong with whom, again and again: said now and then (see SAY_AGAIN_EVERY).
        self._troubles = _Repeats()
        self._dial_addresses: list[str] = []  # see dial_addresses, and when they were read (monotonic)
        self._dial_addresses_read = float("-inf")
        self._open: dict[Any, Link] = {}  # each open connection, and its link (see _probe_when_woken_or_moved)

    @property
    def running(self) -> bool:
        return self.worker.store is not None

    @property
    def store(self) -> Store:
        assert self.worker.store is not None
        return self.worker.store

    @property
    def console_id(self) -> str:
        return self.identity.console_id

    @property
    def port(self) -> int | None:
        if self._server is None:
            return None
        return self._server.sockets[0].getsockname()[1]

    def dial_addresses(self) -> list[str]:
        """What other consoles dial to reach this one (see dial_addresses),
        as last read; empty when it does not listen."""
        return list(self._dial_addresses) if self.port is not None else []

    async def _read_dial_addresses(self) -> None:
        """Read them again if DIAL_ADDRESSES_EVERY old, on a thread of their own."""
        if self.port is None or self.listen_on is None:
            return
        if time.monotonic() - self._dial_addresses_read >= DIAL_ADDRESSES_EVERY:
            self._dial_addresses_read = time.monotonic()
            self._dial_addresses = await asyncio.to_thread(dial_addresses, self.listen_on[0], self.port)

    # --------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        store = await self.worker.start()
        await self.worker.run(store.subscribe, self._store_changed)
        if self.listen_on is not None:
            host, port = self.listen_on
            files = _more_open_files()
            _say_accept_failures_briefly(self._loop, files)
            if files:  # half of them at most, so that the consoles and the database always have files
                self._gate.total = max(1, min(self._gate.total, files // 2))
            try:
                self._server = await serve(
                    self._accept, host, port, max_size=p.MAX_MESSAGE,
                    create_connection=functools.partial(
                        _GatedConnection, gate=self._gate, tls=self.identity.server_context()),
                    ping_interval=KEEPALIVE, ping_timeout=KEEPALIVE, close_timeout=CLOSE_TIMEOUT, compression=None,
                    server_header=None,
                )  # no ssl=: each _GatedConnection starts its own TLS once let in
            except OSError as exc:  # address in use or not ours, unknown host name
                await self.worker.close()
                raise SyncError(f"cannot listen on {_host_port(host, port)}: {exc.strerror or exc}") from None
            await self._read_dial_addresses()
            log.info("listening on %s as console %s; other consoles dial %s", wss_url(host, self.port),
                     self.console_id, " or ".join(self.dial_addresses()))
        for url in list(self.peer_urls):
            self._dials[url] = self._spawn(self._dial_forever(url))
        self._spawn(self._poll_other_writers())
        self._spawn(self._probe_when_woken_or_moved())

    def add_peer(self, url: str) -> None:
        """Start dialling `url` (and keep reconnecting to it)."""
        check_url(url)
        if url in self._dials:
            return
        self.peer_urls.append(url)
        self._dials[url] = self._spawn(self._dial_forever(url))

    def remove_peer(self, url: str) -> None:
        """Stop dialling `url` and close its connection."""
        task = self._dials.pop(url, None)
        if url in self.peer_urls:
            self.peer_urls.remove(url)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        if self._server is not None:
            for waiting in list(self._gate.waiting):
                waiting.abort()  # a TLS handshake not done yet would hold the close up
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.worker.close()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)  # a strong reference until it ends
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, name: str, payload: Any = None) -> None:
        if self.on_event is not None:
            try:
                self.on_event(name, payload)
            except Exception:
                log.exception("sync event listener failed")

    # ----------------------------------------------------------- change waking

    def _store_changed(self, changeset) -> None:
        # Runs on the store thread right after a commit made through this
        # engine: every session reads what its peer now lacks there and
        # then, without a round trip through the event loop.
        self._pump_all()
        if self._loop is not None and not changeset.local:
            self._loop.call_soon_threadsafe(self._emit, "changes", changeset)

    def _pump_all(self) -> None:
        """On the store thread: let every open session send what it can."""
        for pump in self._pumps:
            pump()

    async def _probe_when_woken_or_moved(self) -> None:
        """Check the connections at once when this machine wakes from sleep
        or moves to another network (see SLEEP_CHECK_EVERY)."""
        last, seen = clock_with_sleep(), interface_addresses()
        while True:
            await asyncio.sleep(SLEEP_CHECK_EVERY)
            now, addresses = clock_with_sleep(), interface_addresses()
            woke = now - last > SLEEP_CHECK_EVERY + SLEPT_AT_LEAST
            moved = None not in (addresses, seen) and set(addresses) != set(seen)
            if woke or moved:
                self._dial_again_now("woke" if woke else "moved to another network")
            if woke and self._open:
                log.info("this machine was asleep for about %s: checking its %d connection(s)",
                         _duration(now - last - SLEEP_CHECK_EVERY), len(self._open))
                for ws, link in list(self._open.items()):
                    self._spawn(self._probe(ws, link))
            elif moved and self._open:
                behind = [(ws, link) for ws, link in self._open.items() if not went_out_from_here(ws)]
                log.info("this machine's network changed (its addresses now: %s): %d of its %d connection(s) "
                         "left behind", ", ".join(addresses) or "none", len(behind), len(self._open))
                for ws, link in behind:
                    log.warning("%s: the address this console reached it from is no longer this machine's: "
                                "connecting again", link.address)
                    ws.transport.abort()  # its session ends as a lost connection; a dialled peer is dialled again
            last = now
            if addresses is not None:
                seen = addresses

    def _dial_again_now(self, why: str) -> None:
        """Dial at once every peer not connected: its tries back off up to
        RECONNECT_DELAYS' 10 s apart while offline, and a laptop back on a
        network (or awake) would wait that out, OFFLINE meanwhile. Each is
        dialled afresh (the library's reconnect loop cannot be woken); one
        that refused this console is left to its own pace."""
        for link in [x for x in self.links if x.direction == "dial" and x.state in ("connecting", "offline")]:
            task = self._dials.get(link.address)
            if task is None:  # a sync --once: it has its own end
                continue
            log.info("%s: dialling again at once (this machine %s)", link.address, why)
            task.cancel()
            self._dials[link.address] = self._spawn(self._dial_forever(link.address))

    async def _probe(self, ws, link: Link) -> None:
        """Drop `ws` if it does not answer a ping within WAKE_PROBE_TIMEOUT."""
        try:
            async with asyncio.timeout(WAKE_PROBE_TIMEOUT):  # sending it may wait too, on a full buffer
                pong = await ws.ping()
                await pong
        except TimeoutError:
            log.warning("%s did not answer a ping within %g s: connecting again", link.address, WAKE_PROBE_TIMEOUT)
            ws.transport.abort()  # its session ends as a lost connection; a dialled peer is dialled again
        except ConnectionClosed:
            pass  # ended meanwhile

    def notify(self) -> None:
        """Something was written to the database elsewhere: push it now."""
        if self.running:
            self._spawn(self._pump_soon())

    async def _pump_soon(self) -> None:
        with contextlib.suppress(RuntimeError):  # the store thread has just shut down
            await self.worker.run(self._pump_all)

    async def _poll_other_writers(self) -> None:
        """Notice commits made by other connections (the window, the command
        line) and push them to peers."""
        seen = failed = None
        while True:
            try:
                if seen is None:
                    seen = await self.worker.run(self.store.data_version)
                    self._trust_seen = await self.worker.run(self.store.trust_list)
                await asyncio.sleep(self.poll_interval)
                seen = await self._poll_once(seen)
            except StoreError as exc:  # the disk, say: logged once, and tried again at the next poll
                if str(exc) != failed:
                    log.error("cannot look for changes made by other programs: %s", exc)
                    failed = str(exc)
                await asyncio.sleep(self.poll_interval)
            else:
                failed = None

    async def _poll_once(self, seen: int) -> int:
        """One look at the database: returns its data version."""
        # What a peer acknowledged last, before going quiet, written down
        # (see Session.flush_record). Read here, on the loop, so that busy
        # sessions, which write as they go, cost no hop.
        quiet = [link.session for link in self.links if link.session is not None and link.session.quiet_unrecorded]
        if quiet:
            await self.worker.run(_flush_records, quiet)
        version = await self.worker.run(self.store.data_version)
        if version != seen:
            if await self.worker.run(self._recheck_all):  # the trust list changed
                for link in self.links:  # a refused peer may be trusted now: try it at once
                    if link.state == "refused":
                        link.retry_now.set()
            await self.worker.run(self._pump_all)
            self._emit("local_changes")
        return version

    def _recheck_all(self) -> bool:
        """On the store thread: if the trust list changed, every open session
        reads its peer's trust again. Returns whether it changed."""
        trust = self.store.trust_list()
        if trust == self._trust_seen:
            return False
        self._trust_seen = trust
        for recheck in self._rechecks:
            recheck()
        return True

    # ------------------------------------------------------------- connections

    async def _accept(self, ws) -> None:
        host, port = ws.remote_address[:2]
        link = Link(f"{host}:{port}", "accept")
        self.links.append(link)
        try:
            await self._drive(ws, self._session("server", link.address), link)
        except PeerRefused as exc:
            if not self._refused_as_observer(exc, link):
                said = "failed on its side" if exc.code == "internal" else "refused"
                log.warning("peer at %s %s: %s", link.address, said, exc)
        except Exception:
            log.exception("connection from %s failed", link.address)
        finally:
            self.links.remove(link)
            self._emit("peers")

    async def _pin(self, ws, link: Link) -> str:
        """The console ID of the server's certificate, which must be trusted."""
        ssl_object = ws.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not der:
            raise SyncError(f"{link.address} presented no certificate")
        server_id = ident.fingerprint(der)
        if await self.worker.run(self.store.trusted, server_id) is None:
            self._remember_unknown(server_id, "", link.address)  # it gives no agency before a hello
            await ws.close(1008, "untrusted")
            raise SyncError(
                f"{link.address} is console {server_id}, which is not on this console's trust list "
                f"(compare the ID with its operator, then: crisis-console trust {server_id} --agency NAME)"
            )
        return server_id

    async def _drive(self, ws, session: Session, link: Link, *, once: bool = False) -> Session:
        """Run one session over one open connection until it closes (or, with
        `once`, until both sides have exchanged everything).

        Frames are made on the store thread (by the session's start, receive
        and pump) and go out in the order they were made: each list of them
        is posted to this connection's outbox from that thread as it is
        made, and one sender task writes the outbox to the socket. So a
        commit's changes leave for every peer straight from the store
        thread, and batch numbers reach the peer in order."""
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[list[str] | tuple] = asyncio.Queue()
        session.pump_step = 1  # see post()
        link.session = session
        link.state = "connecting"  # "connected" once the hello has shown who it is (see _exchanged)
        link.last_seen = time.time()
        self._emit("peers")

        def post(frames: list[str]) -> None:  # on the store thread
            """Post `frames`, then each further frame of changes as soon as
            it is made (the session pumps one at a time here): a catch-up's
            first batch leaves while the next ones are read. Once a read has
            found all the peer lacks, the next commit pumps again."""
            while frames:
                loop.call_soon_threadsafe(outbox.put_nowait, frames)
                if session.drained:
                    break
                frames = session.pump()

        def start() -> None:  # on the store thread
            post(session.start())

        def receive(frame: str) -> None:  # on the store thread
            self._receiving = session
            try:
                with gc_paused():  # parsing, validating and merging a frame: see gc_paused
                    post(session.receive(frame))
            finally:
                self._receiving = None

        def pump() -> None:  # on the store thread, after any commit
            if self._receiving is session:
                return  # its receive() pumps it once the batch is taken in
            try:
                post(session.pump())
            except StoreError as exc:
                log.error("cannot read changes for %s: %s", link.address, exc)
                self.store_failure = str(exc)
                loop.call_soon_threadsafe(outbox.put_nowait, ("close", 1011, "internal"))

        def recheck() -> None:  # on the store thread, when the trust list changed
            try:
                session.check_trust()
            except p.ProtocolError as exc:  # taken off the list: refused as a hello would be
                loop.call_soon_threadsafe(refused, exc)

        def refused(exc: p.ProtocolError, said: str | None = "") -> None:
            # `said`: what to log of it (None: nothing, said lately; "": the reason).
            link.last_error = f"{exc.message} ({exc.code})"
            if said is not None:
                log.warning("closing %s: %s", link.address, said or link.last_error)
            say_error(exc.code, exc.message, 1008)

        def say_error(code: str, message: str, close_code: int) -> None:
            # The error goes out after the frames made before it, then the close.
            outbox.put_nowait([p.encode("error", code=code, message=message[:2000])])
            outbox.put_nowait(("close", close_code, code))

        async def sender() -> None:
            try:
                while True:
                    item = await outbox.get()
                    try:
                        if isinstance(item, tuple):  # ("close", code, reason), after what came before
                            await ws.close(item[1], item[2])
                            return
                        for frame in item:
                            await ws.send(frame)
                            link.bytes_out += len(frame)
                        self._exchanged(ws, link, session)
                    finally:
                        outbox.task_done()
            except ConnectionClosed:
                pass  # the receive loop sees the close too and ends the session
            except Exception:  # a bug: the connection is closed (and dialled again), never left mute
                log.exception("sending to %s failed", link.address)
                await ws.close(1011, "internal")

        async def sent_all() -> None:
            """Until the outbox is written (or the sender has ended)."""
            written = asyncio.ensure_future(outbox.join())
            await asyncio.wait([written, sender_task], return_when=asyncio.FIRST_COMPLETED)
            written.cancel()

        async def close_when_sent(code: str, close_code: int) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await sent_all()
            await ws.close(close_code, code)

        def overdue() -> None:
            if session.state not in ("syncing", "closed"):
                refused(p.ProtocolError("timeout", f"no hello within {HELLO_TIMEOUT:g} s of connecting"))

        sender_task = self._spawn(sender())
        handshake = loop.call_later(HELLO_TIMEOUT, overdue)
        self._open[ws] = link
        self._pumps = (*self._pumps, pump)
        self._rechecks = (*self._rechecks, recheck)
        finished = False
        opened = time.monotonic()
        ended = ""
        quiet = False  # a refusal said lately: no line for its end either
        try:
            await self.worker.run(start)
            async for frame in ws:
                link.last_seen = time.time()
                link.bytes_in += len(frame)
                await self.worker.run(receive, frame)
                self._exchanged(ws, link, session)
                if once and session.done:
                    await sent_all()  # the last acknowledgements too
                    finished = True
                    break
            ended = "everything exchanged" if finished else _closed(ws)
        except p.ProtocolError as exc:
            ended = f"this console refused it: {exc.message} ({exc.code})"
            # The same console refused again (it retries every 10 s): said now and then.
            said = self._troubles.say(_whom(session, link), f"{exc.message} ({exc.code})")
            quiet = said is None
            refused(exc, said)
            if session.unknown_peer is not None:
                cid, agency = session.unknown_peer
                self._remember_unknown(cid, agency, link.address)
                if not quiet:
                    log.warning("%s says it is %r; if its operator reads you this ID, let it in with: "
                                "crisis-console trust --db %s %s --agency %s", cid, agency,
                                shlex.quote(str(self.db_path)), cid, shlex.quote(agency))
            await close_when_sent(exc.code, 1008)
        except StoreError as exc:
            ended = f"this console's database failed: {exc}"
            # Every console that dials meets it (each about every 10 s):
            # said when it starts or changes, then now and then.
            said = self._troubles.say(DATABASE_TROUBLE, str(exc))
            quiet = said is None
            if not quiet:
                log.error("closing %s: the store failed: %s", link.address, said)
            link.last_error = self.store_failure = str(exc)
            self._emit("peers")
            say_error("internal", str(exc), 1011)
            await close_when_sent("internal", 1011)
        except ConnectionClosed:
            ended = _closed(ws)
        except PeerRefused as exc:
            ended = f"it {'failed on its side' if exc.code == 'internal' else 'refused this console'}: {exc}"
            quiet = self._troubles.repeating(link.address, str(exc))  # see _refused_link
            raise
        except Exception as exc:  # a bug, or this machine out of something (files, memory)
            ended = f"internal error: {exc!r}"
            # The peer is told, not left with a close that says nothing.
            say_error("internal", _failure(exc), 1011)
            await close_when_sent("internal", 1011)
            raise
        except BaseException:
            ended = "stopped"
            raise
        finally:
            # Who, for how long, what moved, and why it ended: for the
            # relay's log and a person watching `sync`.
            who = ident.short_id(session.peer_id) if session.peer_id else "a console not yet identified"
            if session.peer_agency:
                who += f" ({session.peer_agency})"
            if not quiet:
                log.info("sync with %s at %s ended after %s: %s; %s received, %d sent", who, link.address,
                         _duration(time.monotonic() - opened), ended, _changes(session.stats.received),
                         session.stats.sent)
            handshake.cancel()
            self._open.pop(ws, None)
            self._pumps = tuple(x for x in self._pumps if x is not pump)
            self._rechecks = tuple(x for x in self._rechecks if x is not recheck)
            sender_task.cancel()
            # gather, not a bare await: a cancellation of this task itself
            # still propagates, and the sender's own end is never re-raised.
            await asyncio.gather(sender_task, return_exceptions=True)
            link.session = None
            link.remaining = 0
            try:
                # Written down first (what the peer acknowledged, and this
                # moment as its last contact): a status that says offline
                # says since when.
                await self.worker.run(session.close)
            finally:
                link.state = "offline"
                self._emit("peers")
        if once and not finished:
            if link.last_error:  # this console closed it, and said why
                raise SyncError(f"{link.address}: {link.last_error}")
            raise SyncError(f"{link.address}: the exchange did not finish: {ended}")
        return session

    def _remember_unknown(self, console_id: str, agency: str, address: str) -> None:
        self.unknown_consoles.pop(console_id, None)
        self.unknown_consoles[console_id] = {"console_id": console_id, "agency": agency, "address": address,
                                             "at": clock.to_iso(clock.pack(int(time.time() * 1000)))}
        while len(self.unknown_consoles) > MAX_UNKNOWN_CONSOLES:
            del self.unknown_consoles[next(iter(self.unknown_consoles))]
        self._emit("peers")

    def _session(self, role: str, address: str, server_id: str | None = None) -> Session:
        return Session(self.store, role, self.identity, server_id=server_id, address=address, window=self.window,
                       batch_changes=self.batch_changes, read_only_at=self._read_only_at)

    def _read_only_at(self, console_id: str) -> bool:
        """Whether `console_id` refused this console's changes lately."""
        at = self._observer_at.get(console_id)
        return at is not None and time.monotonic() - at < OBSERVER_RECHECK

    def _refused_link(self, link: Link, why: str) -> None:
        """A dialled peer that refused this console, or this console it, or
        did not answer as a console: said, until a session gets through."""
        link.state = "refused"
        link.last_error = why
        said = self._troubles.say(link.address, why)
        if said is not None:
            log.error("%s: %s", link.address, said)
        self._emit("peers")

    def _unreachable(self, link: Link, failure: str) -> None:
        """A try to dial `link` failed before any answer (the websockets
        reconnect loop's failure, as the library describes the exception)."""
        why = f"unreachable: {_why_unreachable(failure)}"
        if (link.state, link.last_error) != ("connecting", why):
            link.state, link.last_error = "connecting", why
            self._emit("peers")
        said = self._troubles.say(link.address, why)
        if said is not None:
            log.warning("%s: %s", link.address, said)

    def _refused_as_observer(self, exc: PeerRefused, link: Link) -> bool:
        """A peer refused this console's changes: it holds it as an observer.
        Remember it, so that the next session with it only reads."""
        if exc.code != "forbidden" or not link.console_id:
            return False
        log.warning("%s holds this console as an observer: reading from it, sending it nothing", link.address)
        self._observer_at[link.console_id] = time.monotonic()
        return True

    def _exchanged(self, ws, link: Link, session: Session) -> None:
        link.console_id, link.agency, link.role = session.peer_id, session.peer_agency, session.peer_role
        if session.state == "syncing" and link.state != "connected":
            link.state = "connected"  # a trusted console, identified: not before
            link.last_error = None
            if isinstance(ws, _GatedConnection):
                ws.identified()  # no longer counted against its address
            # The same console connected again while an older connection of
            # it is open here: that one is most likely dead (its machine
            # slept, or moved to another network), and only the keepalive
            # would find out, showing the console connected twice meanwhile.
            for ws, other in list(self._open.items()):
                if other is not link and other.console_id == link.console_id and other.state == "connected":
                    self._spawn(self._probe(ws, other))
            for whom in (link.address, _whom(session, link)):
                over = self._troubles.over(whom)
                if over:
                    log.info("%s: syncing again, after %s (%d tries)", whom, _duration(over[0]), over[1])
            self._emit("peers")
        link.observer = not session.sends_changes
        if session.refusals != link.refusals:
            link.refusals = dict(session.refusals)
            self._emit("peers")
        link.remaining = session.incoming_remaining
        if (link.sent, link.received) != (session.stats.sent, session.stats.received):
            if session.stats.received > link.received:
                self.store_failure = None  # a batch was stored: the database works again
                over = self._troubles.over(DATABASE_TROUBLE)
                if over:
                    log.info("the database works again, after %s (%d failures)", _duration(over[0]), over[1])
            link.sent, link.received = session.stats.sent, session.stats.received
            self.last_exchange = time.time()
            self._emit("progress", link)

    def _connect(self, url: str, link: Link | None = None):
        return connect(
            url, ssl=self.identity.client_context(), max_size=p.MAX_MESSAGE, open_timeout=OPEN_TIMEOUT,
            ping_interval=KEEPALIVE, ping_timeout=KEEPALIVE, close_timeout=CLOSE_TIMEOUT, compression=None,
            user_agent_header=None, reconnect_delays=RECONNECT_DELAYS,
            logger=None if link is None else _DialLog(self, link),
        )

    async def _dial_forever(self, url: str) -> None:
        """Keep a connection to `url`, reconnecting with backoff (the
        websockets reconnect loop) and resuming from the peer's watermark."""
        check_url(url)
        link = Link(url, "dial")
        self.links.append(link)
        try:
            while True:
                try:
                    # aclosing: on stop, the reconnect generator is closed here, not left
                    # to the garbage collector (qasync's loop has no async-generator hooks).
                    async with contextlib.aclosing(self._connect(url, link).__aiter__()) as connections:
                        async for ws in connections:
                            await self._dial_session(url, link, ws)
                except (InvalidHandshake, InvalidURI) as exc:
                    # What the library gives up on: the address answered, but
                    # not as a console (a web server, or a network that wants
                    # a log-in first). That can change: said, and tried again.
                    self._refused_link(link, _not_a_console(exc))
                    await _pause(link)
        finally:
            self.links.remove(link)
            self._emit("peers")

    async def _dial_session(self, url: str, link: Link, ws) -> None:
        """One connection of _dial_forever, then the pause before the next."""
        started = time.monotonic()
        try:
            server_id = await self._pin(ws, link)
            await self._drive(ws, self._session("client", url, server_id), link)
            link.last_error = None
        except PeerRefused as exc:
            if self._refused_as_observer(exc, link):
                link.last_error = None
                link.pause = 0.0  # back at once, to read
            elif exc.code == "internal":  # it did not refuse this console: tried again
                link.last_error = f"it failed on its side: {exc}"
                said = self._troubles.say(link.address, link.last_error)
                if said is not None:
                    log.warning("%s: %s", link.address, said)
            else:
                self._refused_link(link, str(exc))
        except SyncError as exc:
            self._refused_link(link, str(exc))
        except Exception as exc:  # a bug must not end the reconnect loop
            link.last_error = f"internal error: {exc}"
            log.exception("sync with %s failed", url)
        # A connection that ends at once (refused, or dropped straight away)
        # is retried after a growing pause, not in a tight loop.
        if time.monotonic() - started < 10:
            await _pause(link)
        else:
            link.pause = 1.0
        if link.state != "refused":
            link.state = "connecting"
        self._emit("peers")

    async def sync_once(self, url: str, timeout: float = 120.0) -> Session:
        """Connect once, exchange everything both ways, and disconnect."""
        check_url(url)
        link = Link(url, "dial")
        self.links.append(link)
        try:
            async with asyncio.timeout(timeout):
                received = 0  # by a first session refused as an observer's
                cut = 0  # tries cut as they opened
                while True:
                    try:
                        ws = await self._connect(url)
                    except (InvalidStatus, InvalidURI) as exc:
                        raise SyncError(f"{url}: {_not_a_console(exc)}") from None
                    except (TimeoutError, OSError, InvalidHandshake) as exc:
                        if isinstance(exc, ConnectionResetError) and cut < CUT_RETRIES:
                            cut += 1
                            await asyncio.sleep(random.uniform(0.5, 1.5) * cut)
                            continue
                        why = _why_unreachable(traceback.format_exception_only(exc)[-1].strip())
                        tries = f" ({cut + 1} tries)" if cut else ""
                        raise SyncError(f"cannot reach {url}: {why}{tries}") from None
                    async with ws:
                        server_id = await self._pin(ws, link)
                        session = self._session("client", url, server_id)
                        try:
                            await self._drive(ws, session, link, once=True)
                            session.stats.received += received
                            return session
                        except PeerRefused as exc:
                            # An observer there: once more, reading only.
                            if exc.code == "internal":
                                raise SyncError(f"{url} failed on its side: {exc}") from None
                            if not session.sends_changes or not self._refused_as_observer(exc, link):
                                raise SyncError(f"{url} refused this console: {exc}") from None
                            received += session.stats.received
        except TimeoutError:
            raise SyncError(f"{url}: no complete exchange within {timeout:.0f} s") from None
        finally:
            self.links.remove(link)
            self.last_link = link

    # ------------------------------------------------------------------ status

    async def status(self) -> dict:
        """Peers, outbox and progress, for a person to read at a glance."""
        def read() -> dict:
            links = []
            for link in self.links:
                d = link.as_dict()
                s = link.session
                d["owed"] = s.store.count_missing(s.peer_acked) if s is not None and s.state == "syncing" else None
                links.append(d)
            # Newest first, and only those still not trusted.
            unknown = [u for u in reversed(seen) if self.store.trusted(u["console_id"]) is None]
            own = self.store.replica_id
            acked = max((s.peer_acked.get(own, 0) for s in sessions), default=0)  # not all written down yet
            return {"console_id": self.console_id, "replica_id": own,
                    "listening": self.port, "peers": links, "outbox": self.store.outbox(acked),
                    "conflicts": self.store.open_conflict_count(), "unknown_consoles": unknown,
                    "last_contact": self.store.last_contact()}
        seen = list(self.unknown_consoles.values())  # a copy: the dict changes on this thread
        sessions = [link.session for link in self.links if link.session is not None]
        out = await self.worker.run(read)
        out["last_exchange"] = (None if self.last_exchange is None
                                else clock.to_iso(clock.pack(int(self.last_exchange * 1000))))
        out["online"] = any(link.state == "connected" for link in self.links)
        if out["online"]:
            out["last_contact"] = clock.to_iso(clock.pack(int(time.time() * 1000)))
        out["store_failure"] = self.store_failure
        await self._read_dial_addresses()
        out["dial_addresses"] = self.dial_addresses()
        return out


async def _pause(link: Link) -> None:
    """Wait before dialling `link` again, a little longer each time (up to
    MAX_PAUSE), or until its retry_now is set."""
    link.retry_now.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(link.retry_now.wait(), link.pause)
    link.pause = min(max(link.pause * 2, 1.0), MAX_PAUSE)


def _not_a_console(exc: Exception) -> str:
    """What an address did that answered, but not as a console."""
    hint = ("is that the right address and port? A network that asks you to log in first (a hotel's or an "
            "airport's Wi-Fi) answers like this until you log in")
    if isinstance(exc, InvalidStatus):
        return f"answered HTTP {exc.response.status_code}, not as a console: {hint}"
    if isinstance(exc, InvalidURI):
        return f"sent this console on to {exc.uri}, not answering as a console: {hint}"
    return f"did not answer as a console ({exc}): {hint}"


def _flush_records(sessions: list[Session]) -> None:
    for session in sessions:
        if session.state == "syncing":
            try:
                session.flush_record()
            except StoreError as exc:  # the disk full, say: tried again at the next poll
                log.debug("cannot write what %s acknowledged: %s", session.address, exc)


def _closed(ws) -> str:
    """How a connection closed, and by which end, in words."""
    proto = ws.protocol
    code = ws.close_code
    if code is None or code == 1006 or (proto.close_rcvd is None and proto.close_sent is None):
        return "the connection was lost"
    by = "the peer" if proto.close_rcvd_then_sent or proto.close_sent is None else "this console"
    if code == 1000:
        return f"closed normally by {by}"
    if code == 1001:
        return f"{by} stopped"
    reason = f": {ws.close_reason}" if ws.close_reason else ""
    return f"closed by {by} with code {code}{reason}"


def _failure(exc: Exception) -> str:
    """An unexpected failure, for the peer to show: what, not where (no
    file names or code; the log here has those)."""
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"this console failed ({what}); its log says more"


def _changes(n: int) -> str:
    return f"{n} change{'' if n == 1 else 's'}"


DATABASE_TROUBLE = "this console's database"  # (a _Repeats key: the store failing, whoever met it)


class _Repeats:
    """The same trouble with the same peer, again and again: said when it
    starts or changes, then every SAY_AGAIN_EVERY while it lasts, saying
    for how long and how many tries; and when it is over. At most
    MAX_TROUBLES peers are remembered."""

    def __init__(self) -> None:
        self._by: dict[str, list] = {}  # whom -> [why, since, last said, tries] (times monotonic)

    def say(self, whom: str, why: str) -> str | None:
        """One more try failed for `why`: what to log now, or None (said lately)."""
        now = time.monotonic()
        seen = self._by.get(whom)
        if seen is None:
            self._by[whom] = [why, now, now, 1]
            while len(self._by) > MAX_TROUBLES:
                del self._by[next(iter(self._by))]
            return why
        seen[3] += 1
        if seen[0] != why:
            seen[0], seen[2] = why, now
            return why
        if now - seen[2] < SAY_AGAIN_EVERY:
            return None
        seen[2] = now
        return f"still, for {_duration(now - seen[1])} ({seen[3]} tries): {why}"

    def repeating(self, whom: str, why: str) -> bool:
        """Whether `why` is what was last said of `whom`."""
        seen = self._by.get(whom)
        return seen is not None and seen[0] == why

    def over(self, whom: str) -> tuple[float, int] | None:
        """`whom` got through: (for how long it did not, tries), if trouble was said."""
        seen = self._by.pop(whom, None)
        return None if seen is None else (time.monotonic() - seen[1], seen[3])


def _whom(session: Session, link: Link) -> str:
    """Who a connection is from, for saying its trouble: its console, once
    known, else its host (its port changes at every try)."""
    cid = session.peer_id or (session.unknown_peer[0] if session.unknown_peer else None)
    return f"console {cid}" if cid else link.address.rsplit(":", 1)[0]


def dial_addresses(host: str, port: int) -> list[str]:
    """What other consoles dial to reach a console listening on host:port:
    that host, or, listening on every interface (0.0.0.0, ::), this
    machine's IPv4 addresses, the loopback last (it serves this machine
    only)."""
    hosts = _local_ipv4() if host in ("", "0.0.0.0", "::") else [host]
    return [wss_url(h, port) for h in hosts]


def wss_url(host: str, port: int) -> str:
    """wss://HOST:PORT, an IPv6 address in brackets (wss://[::1]:8765)."""
    return f"wss://{_host_port(host, port)}"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def interface_addresses() -> list[str] | None:
    """This machine's addresses, as its network interfaces say (no name
    resolver asked: quick, and never waits): the IPv4 ones (see
    _interface_ipv4), then the IPv6 ones where Linux lists them (a
    cellular modem may give a laptop no other). None where they cannot be
    asked that way (not Linux), or not now (no file left to open)."""
    found = _interface_ipv4()
    if found is None:
        return None
    try:
        with open(IPV6_ADDRESSES, encoding="ascii") as fh:
            return found + ipv6_addresses(fh.read())
    except FileNotFoundError:  # IPv6 off in this kernel
        return found
    except (OSError, ValueError):
        return None


def ipv6_addresses(listing: str) -> list[str]:
    """The addresses in Linux's /proc/net/if_inet6 text `listing` (a line
    each: 32 hex digits, interface index, prefix length, scope, flags,
    interface name), a link-local one with its interface (fe80::1%eth0)."""
    found = []
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        address = str(ipaddress.IPv6Address(int(fields[0], 16)))
        found.append(f"{address}%{fields[5]}" if address.startswith("fe80:") else address)
    return found


def _interface_ipv4() -> list[str] | None:
    """This machine's IPv4 addresses, one per network interface that has
    one, as the interfaces say; None where they cannot be asked that way
    (not Linux), or not now (no file left to open a socket with)."""
    found: list[str] = []
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _index, name in socket.if_nameindex():
                with contextlib.suppress(OSError):  # an interface without an IPv4 address
                    packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
                    found.append(socket.inet_ntoa(packed[20:24]))
    except (ImportError, OSError, AttributeError):
        return None
    return found


def _local_ipv4() -> list[str]:
    """This machine's IPv4 addresses, one per network interface that has
    one, the loopback last; where interfaces cannot be asked that way (not
    Linux), what its host name resolves to, and the loopback."""
    found = _interface_ipv4() or []
    if all(ip.startswith("127.") for ip in found):
        with contextlib.suppress(OSError):
            found += socket.gethostbyname_ex(socket.gethostname())[2]
    found = list(dict.fromkeys([*found, "127.0.0.1"]))
    return sorted(found, key=lambda ip: ip.startswith("127."))


def went_out_from_here(ws) -> bool:
    """Whether the address connection `ws` went out from is still this
    machine's: a socket can be bound to it (EADDRNOTAVAIL once it is gone).
    True when that cannot be told."""
    try:
        local = ws.local_address
        host = local[0]
        family, address = ((socket.AF_INET6, (host, 0, *local[2:4])) if ":" in host
                           else (socket.AF_INET, (host, 0)))
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind(address)
    except OSError as exc:
        return exc.errno != errno.EADDRNOTAVAIL
    except (TypeError, IndexError, AttributeError):  # no address (the connection is gone already)
        return True
    return True


def clock_with_sleep() -> float:
    """Seconds on a clock that goes on while the machine sleeps: Linux's
    CLOCK_BOOTTIME (its monotonic clock stops meanwhile); elsewhere the
    wall clock, which a clock set forward by hand moves too (a probe of
    every connection too many, which is harmless)."""
    boot = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boot) if boot is not None else time.time()


def _more_open_files() -> int | None:
    """Raise this process's limit of open files (each connection is one) to
    what the system allows, up to MAX_OPEN_FILES: Linux starts processes at
    1,024, which a busy relay, or a flood of connections, can reach. The
    limit now, or None where there is none (or none to read)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _say_accept_failures_briefly(loop: asyncio.AbstractEventLoop, files: int | None) -> None:
    """Out of open files, asyncio reports every failed accept to the loop's
    exception handler, which logs a traceback each time: hundreds of lines a
    second while a flood of connections lasts. Here that becomes one line
    in words every ACCEPT_FAILURES_SAID_EVERY; anything else goes on to the
    handler there was. Once per loop (a process may run several engines)."""
    previous = loop.get_exception_handler()
    if getattr(previous, "says_accept_failures", False):
        return
    said = _NowAndThen()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        said.say("", f"too many connections at once: all {files or 'the'} files this process may open are in "
                     "use; new connections wait until some close or time out", "failed accepts", logging.ERROR)

    handler.says_accept_failures = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


class _NowAndThen:
    """The same trouble again and again, by key (an address, say): said
    the first time, then at most every ACCEPT_FAILURES_SAID_EVERY, with how
    many times it came meanwhile. At most MAX_TROUBLES keys are kept."""

    def __init__(self) -> None:
        self._said: dict[str, list] = {}  # key -> [last said (monotonic), how many since]

    def say(self, key: str, what: str, counted: str, level: int = logging.WARNING) -> None:
        now = time.monotonic()
        seen = self._said.get(key)
        if seen is None:
            seen = self._said[key] = [float("-inf"), 0]
            while len(self._said) > MAX_TROUBLES:
                del self._said[next(iter(self._said))]
        seen[1] += 1
        if now - seen[0] >= ACCEPT_FAILURES_SAID_EVERY:
            since = "" if seen[0] == float("-inf") else f" ({seen[1]} {counted} since the last such line)"
            log.log(level, "%s%s", what, since)
            seen[0], seen[1] = now, 0


class _Gate:
    """The connections a listening console has accepted that have not yet
    identified themselves, by the address they come from (an IPv6 /64
    counts as one, see _whose): at most MAX_UNIDENTIFIED_PER_ADDRESS from
    each, and `total` in all (see MAX_UNIDENTIFIED). With all places
    taken, a new one is let in and an older one closed: the oldest still
    in its TLS handshake, else the oldest of the address with most (of its
    own address, if that has as many). A console's handshake takes
    milliseconds, a flood's connections wait for seconds, so a flood from
    many addresses cannot keep a console out. And at most `rate` new
    connections a second from each address, after a `burst` (see
    NEW_CONNECTIONS_PER_SECOND). What is turned away is said in one line,
    then at most every ACCEPT_FAILURES_SAID_EVERY while it goes on (per
    address)."""

    def __init__(self, per_address: int, total: int, rate: float, burst: int) -> None:
        self.per_address, self.total, self.rate, self.burst = per_address, total, rate, burst
        self.waiting: dict[_GatedConnection, str] = {}  # connection -> its address
        self._by_address: dict[str, dict[_GatedConnection, None]] = {}  # the oldest first
        self._handshaking: dict[_GatedConnection, None] = {}  # before TLS is up, the oldest first
        # address -> [places left for new connections, when counted]: the
        # address of the latest connection last.
        self._places: dict[str, list[float]] = {}
        self._said = _NowAndThen()  # by address, or "" for all

    def _place(self, address: str, now: float) -> bool:
        """Whether a new connection from `address` is within its rate, and
        if so, take its place."""
        bucket = self._places.pop(address, None)  # (put back last: the latest)
        left = self.burst if bucket is None else min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        if left < 1:
            self._places[address] = [left, now]
            return False
        self._places[address] = [left - 1, now]
        while len(self._places) > NEW_CONNECTIONS_ADDRESSES:
            del self._places[next(iter(self._places))]
        return True

    def let_in(self, connection: _GatedConnection, address: str) -> bool:
        if not self._place(address, time.monotonic()):
            self._said.say(f"rate {address}", f"turning away connections from {address}: more than {self.burst} "
                           f"new ones at once, or {self.rate:g} a second (each TLS handshake costs this console a key "
                           "exchange and a signature)", "turned away")
            return False
        held = len(self._by_address.get(address, ()))
        if held >= self.per_address:
            self._said.say(address, f"turning away connections from {address}: {self.per_address} of its "
                                    "connections are open and have not identified themselves yet (TLS, then "
                                    "challenge and hello)", "turned away")
            return False
        if len(self.waiting) >= self.total:
            if self._handshaking:
                oldest = next(iter(self._handshaking))
            else:
                most = max(len(x) for x in self._by_address.values())
                victim = address if held >= most else next(a for a, x in self._by_address.items() if len(x) == most)
                oldest = next(iter(self._by_address[victim]))
            self.leave(oldest)
            oldest.abort()
            self._said.say("", f"{self.total} connections are open that have not identified themselves yet "
                               f"(from {len(self._by_address)} addresses): closing the oldest for each new one",
                           "closed")
        self._by_address.setdefault(address, {})[connection] = None
        self._handshaking[connection] = None
        self.waiting[connection] = address
        return True

    def secured(self, connection: _GatedConnection) -> None:
        """`connection`'s TLS is up."""
        self._handshaking.pop(connection, None)

    def identified(self, connection: _GatedConnection) -> None:
        """`connection` identified itself as a trusted console: it gives its
        place among its address's new connections back."""
        address = self.waiting.get(connection)
        if address is not None and (bucket := self._places.get(address)) is not None:
            bucket[0] = min(self.burst, bucket[0] + 1)
        self.leave(connection)

    def leave(self, connection: _GatedConnection) -> None:
        """`connection` closed, or identified itself (either may come twice)."""
        self._handshaking.pop(connection, None)
        address = self.waiting.pop(connection, None)
        if address is None:
            return
        held = self._by_address[address]
        del held[connection]
        if not held:
            del self._by_address[address]


class _GatedConnection(ServerConnection):
    """A connection accepted by a listening console, let in by its address
    (see _Gate) before its TLS handshake, which it then starts itself: the
    websockets server is given no TLS context, as asyncio's own TLS
    server would run every handshake before saying where it comes from.
    Its websocket side starts once TLS is up; the gate counts it until it
    identifies itself (identified()) or closes."""

    def __init__(self, *args: Any, gate: _Gate, tls: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate, self.tls = gate, tls
        # "accepted", then "tls" once start_tls has the connection, then
        # "open" once the websocket side has started, or "lost" before.
        self.stage = "accepted"
        self.raw: asyncio.BaseTransport | None = None  # the TCP connection, until "open"
        self.early: list[bytes] = []  # what came through TLS before the websocket side started
        self._starting: asyncio.Task | None = None  # _start_tls, held until it ends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if not self.gate.let_in(self, _whose(str(peer[0])) if peer else "?"):
            self.stage = "lost"
            transport.abort()
            return
        self.raw = transport
        # start_tls takes the connection over before it is read: this task
        # runs ahead of the first read, which asyncio starts after this
        # call; a byte reaching data_received unencrypted closes it anyway.
        self._starting = asyncio.get_running_loop().create_task(self._start_tls(transport))

    async def _start_tls(self, raw: Any) -> None:
        if self.stage != "accepted":
            return
        self.stage = "tls"  # start_tls takes the connection over before its first wait
        try:
            secured = await asyncio.get_running_loop().start_tls(
                raw, self, self.tls, server_side=True,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT, ssl_shutdown_timeout=CLOSE_TIMEOUT)
        except (Exception, asyncio.CancelledError) as exc:  # start_tls closed it (a failed or late handshake)
            self.stage = "lost"
            self.gate.leave(self)
            # The exception's traceback holds start_tls's frame, whose
            # waiter holds the exception: a cycle, which would keep the
            # connection's TLS state (a 256 KiB buffer) until the garbage
            # collector's rare full pass. A flood grew a relay by 10 MiB
            # every 10 s that way.
            _drop_tracebacks(exc)
            return
        if secured is None or self.stage != "tls":  # closed as soon as TLS was up
            return
        self.stage, self.raw = "open", None
        self.gate.secured(self)
        super().connection_made(secured)
        early, self.early = self.early, []
        for data in early:
            super().data_received(data)

    def identified(self) -> None:
        self.gate.identified(self)

    def abort(self) -> None:
        """Close it at once (an engine stopping, or the gate making room)."""
        if self.raw is not None:
            self.raw.abort()
        elif self.stage == "open":
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.stage == "open":
            super().data_received(data)
        elif self.stage == "tls":  # decrypted, before _start_tls has gone on
            self.early.append(data)
        elif self.raw is not None:  # unencrypted: start_tls did not take the connection over in time
            self.raw.abort()

    def eof_received(self) -> bool | None:
        if self.stage == "open":
            return super().eof_received()
        return False  # the peer ended before the websocket side started: close

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate.leave(self)
        if self.stage == "open":
            super().connection_lost(exc)
        else:
            self.stage = "lost"


def _whose(host: str) -> str:
    """Whose a connection from `host` is, as the gate counts them: an IPv4
    address (one mapped into IPv6 too), or an IPv6 address's /64, the
    block a network gives one machine or site, any address of which it
    may take, as a site behind a NAT shares one IPv4 address (the IPv6
    loopback address as itself)."""
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])  # fe80::1%eth0: its interface
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if not ip.is_loopback:
            return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Let go of the frames `exc` and the exceptions chained to it hold."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__context__ or exc.__cause__


class _DialLog(logging.LoggerAdapter):
    """The websockets client's logger, for one dialled peer. Its reconnect
    loop says "connect failed; reconnecting in N seconds: ERROR" at every
    try, naming no address; that goes to the link instead (its state and
    last error, for the window, and its log, said once, see
    SAY_AGAIN_EVERY). Everything else passes through unchanged."""

    def __init__(self, engine: Engine, link: Link) -> None:
        super().__init__(logging.getLogger("websockets.client"), {})
        self.engine, self.link = engine, link

    def log(self, level, msg, *args, **kwargs) -> None:
        if isinstance(msg, str) and msg.startswith("connect failed; reconnecting") and args:
            self.engine._unreachable(self.link, str(args[-1]))
        else:
            super().log(level, msg, *args, **kwargs)


def _why_unreachable(failure: str) -> str:
    """A failed connection attempt, as the library describes its exception
    ("ConnectionRefusedError: [Errno 111] ..."), in words a person at the
    console can act on; anything unusual as it is, less the exception's
    name."""
    low = failure.lower()
    if "connectionrefusederror" in low:
        return "connection refused (nothing listens on that port there, or a firewall refuses)"
    if "gaierror" in low:
        return "its name does not resolve (no network here, or a wrong name)"
    if "network is unreachable" in low:
        return "no network here (network unreachable)"
    if "no route to host" in low or "host is unreachable" in low:
        return "no route to that host"
    if low.startswith(("ssl.", "sslerror")):  # it answered, but not with TLS: a web server's port, say
        return f"no TLS there: is that a console's port? ({failure})"
    if low.startswith("timeouterror"):
        return f"no answer within {OPEN_TIMEOUT:g} s"
    if low.startswith("connectionreseterror"):
        return ("cut as it opened (the console there turns away connections from an address with too many "
                "waiting, or a firewall cut it)")
    name, said, words = failure.partition(": ")
    return words if said and words and name.replace(".", "").replace("_", "").isalnum() else failure


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")


def is_host(host: str) -> bool:
    """Whether `host` is an IP address, or a name DNS can carry: labels of
    letters, digits, hyphens (and underscores, which some networks' names
    have), other letters as IDNA spells them; no space, no empty label."""
    try:
        ipaddress.ip_address(host.partition("%")[0])  # fe80::1%eth0: its interface
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.removesuffix(".").split("."))


def check_url(url: str) -> None:
    """Refuse anything but wss://HOST:PORT, with a clear message."""
    try:
        parsed = urlparse(url)
        # No user name: consoles prove who they are by their certificates.
        ok = (parsed.scheme == "wss" and is_host(parsed.hostname or "") and parsed.port is not None
              and "@" not in parsed.netloc)
    except ValueError:  # a port out of range
        ok = False
    if not ok:
        raise SyncError(f"{url!r} is not a peer address (use wss://HOST:PORT)")


def peer_url(text: str) -> str:
    """A peer address as a person types it, made wss://HOST:PORT: the
    scheme may be left out ("10.0.4.2:8765", "[fd00::2]:8765", as an
    address is read out), and spaces around it and a closing slash go.
    Anything else is refused (SyncError) as check_url refuses it; plain
    ws:// saying that consoles speak only TLS."""
    typed = text.strip()
    scheme, sep, rest = typed.partition("://")
    url = f"{scheme.lower()}://{rest}" if sep else f"wss://{typed}"
    if url.startswith("ws://"):
        raise SyncError(f"{typed!r}: consoles connect only over TLS, so the address is wss://HOST:PORT, not ws://")
    if url.endswith("/") and urlparse(url).path == "/":
        url = url[:-1]
    try:
        check_url(url)
    except SyncError:
        raise SyncError(f"{typed!r} is not a peer address (use wss://HOST:PORT)") from None
    return url
