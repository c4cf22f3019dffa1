"""One peer connection's sync state machine, Sans-I/O: fed the text frames
that arrive, it returns the frames to send. It never touches a socket, so
it is tested by wiring two sessions together directly.

It does use the store (reads what the peer lacks, applies what arrives), so
the transport runs every call on the one thread that owns the store.

Flow (docs/PROTOCOL.md has the details):
  server -> challenge        client -> hello (+ cert, signature)
  server -> hello            then both ways: changes / ack ..., synced, live changes
What a session sends is "every change held here with a sequence above what
the peer is known to have" (`peer_has`), in clock order, at most `window`
batches awaiting acknowledgement. `peer_has` starts from the peer's hello
and grows with what is sent, received and acknowledged, so a change never
goes back to the peer it came from, and a relay or a chain forwards what it
learns without loops. A batch is acknowledged only after it is committed;
after a drop the next session starts again from the peer's hello, so nothing
is lost, and the store skips whatever arrives twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from console.store import Store
from console.sync import identity as ident
from console.sync import protocol as p

log = logging.getLogger(__name__)

MAX_REFUSALS = 100  # origins whose refusal a session remembers (see _on_refused)
# What was last seen of the peer (what it has acknowledged, changes sent and
# received) is written to the database at most this often while a session
# lasts (the last of a burst within twice this), and when it ends: each
# write is a transaction of its own, and a relay whose 20 peers each
# acknowledge 100 live frames a second would otherwise commit 2,000 of them
# a second for it. (Engine.status counts the outbox from what the sessions
# hold, so the window's count is never behind.)
RECORD_EVERY = 1.0


class PeerRefused(Exception):
    """The peer sent an `error` message: it refused this console or a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


@dataclass
class SessionStats:
    sent: int = 0
    received: int = 0
    duplicates: int = 0
    refused: int = 0
    unrecorded_sent: int = 0
    unrecorded_received: int = 0


@dataclass
class Session:
    """Sync with one peer over one connection.

    role: "server" (accepted the connection) or "client" (dialled it).
    me: this console's identity. server_id: for a client, the console ID the
    server's TLS certificate was pinned to.
    """

    store: Store
    role: str
    me: ident.Identity
    server_id: str | None = None
    address: str | None = None
    window: int = 4
    # Frames of changes one pump() makes at most (None: as many as the
    # window allows). A transport that sends each frame as it is made pumps
    # one at a time, so that the first leaves before the next is read.
    pump_step: int | None = None
    batch_changes: int = p.BATCH_CHANGES
    batch_bytes: int = p.BATCH_BYTES
    verify: Callable[[bytes, bytes, bytes, str], str] = ident.verify_client
    # Consoles that refused this one's changes (it is an observer there):
    # told nothing but `synced`, so that the session goes on and this
    # console keeps reading. Consulted once the peer is known (at hello).
    read_only_at: Callable[[str], bool] = lambda _console_id: False
    record_every: float = RECORD_EVERY
    monotonic: Callable[[], float] = time.monotonic

    state: str = "new"  # new, await_challenge, await_hello, syncing, closed
    peer_id: str | None = None
    peer_agency: str | None = None
    peer_role: str | None = None
    peer_replica: str | None = None
    peer_has: dict[str, int] = field(default_factory=dict)
    peer_acked: dict[str, int] = field(default_factory=dict)
    peer_synced: bool = False
    incoming_remaining: int = 0  # what the peer said it still has to send us
    synced_sent: bool = False
    idle: bool = False
    # Whether the last read of what the peer lacks found all of it (its
    # frame was not full): pumping again before the next commit finds nothing.
    drained: bool = False
    sends_changes: bool = True
    unknown_peer: tuple[str, str] | None = None  # (console ID, agency it gives) of a peer refused as untrusted
    stats: SessionStats = field(default_factory=SessionStats)
    # Origin -> (first seq refused, why): what the peer said it refuses.
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)
    _told: dict[str, int] = field(default_factory=dict)  # origin -> first seq whose refusal the peer was told
    _nonce: bytes = b""
    _next_out: int = 1
    _inflight: set[int] = field(default_factory=set)
    _last_in: int = 0
    _revoked: p.ProtocolError | None = None
    _recorded_at: float = float("-inf")  # monotonic() of the last _record()
    _unrecorded: bool = False  # acknowledgements not written yet (see flush_record)

    # ---------------------------------------------------------------- driving

    def start(self) -> list[str]:
        if self.role == "server":
            self._nonce = os.urandom(p.NONCE_BYTES)
            self.state = "await_hello"
            return [p.encode("challenge", protocol=p.PROTOCOL_VERSION, console=self.me.console_id,
                             nonce=p.b64(self._nonce))]
        self.state = "await_challenge"
        return []

    def receive(self, text: str | bytes) -> list[str]:
        """Handle one frame; returns the frames to send. Raises ProtocolError
        (answer with `error` and close) or PeerRefused."""
        if self._revoked is not None:  # whatever was on its way before the close
            raise self._revoked
        msg = p.decode(text)
        if msg.type == "error":
            raise PeerRefused(msg["code"], msg["message"])
        handler = getattr(self, f"_on_{msg.type}")
        return handler(msg)

    def pump(self) -> list[str]:
        """Frames of changes the peer lacks, as many as the window allows."""
        if self.state != "syncing":
            return []
        out = []
        while len(self._inflight) < self.window and (self.pump_step is None or len(out) < self.pump_step):
            frame, count = self._next_batch()
            if frame is None:
                break
            self._inflight.add(self._next_out)
            self._next_out += 1
            self.stats.sent += count
            self.stats.unrecorded_sent += count
            out.append(frame)
        self.idle = not out and not self._inflight
        if self.idle and not self.synced_sent:
            self.synced_sent = True
            out.append(p.encode("synced"))
        return out

    @property
    def done(self) -> bool:
        """Both sides have sent all they held and everything was acknowledged."""
        return self.state == "syncing" and self.peer_synced and self.synced_sent and self.idle

    def check_trust(self) -> None:
        """Read the peer's place on the trust list again: it may have been
        changed since the hello (by the window or the command line, on
        another connection). A new role or agency applies from the next
        batch on; a console taken off the list is refused (ProtocolError)
        and this session sends it nothing more."""
        if self.peer_id is None or self.state != "syncing":
            return
        trusted = self.store.trusted(self.peer_id)
        if trusted is None:
            self.state = "closed"
            self._revoked = p.ProtocolError(
                "untrusted", f"console {self.peer_id} was taken off the trust list of console {self.me.console_id}")
            raise self._revoked
        if trusted != (self.peer_agency, self.peer_role):
            log.info("%s is now %s, %s here", ident.short_id(self.peer_id), *trusted)
            self.peer_agency, self.peer_role = trusted

    def close(self) -> None:
        """Remember what was seen of the peer; call once the connection is gone."""
        if self.peer_id and self.state in ("syncing", "closed"):
            self._record()
        self.state = "closed"

    def flush_record(self) -> None:
        """Write what was seen of the peer if some of it is unwritten and the
        last write is RECORD_EVERY old. An acknowledgement calls it, in the
        pause after the batch it answers; the transport too, for a session
        gone quiet (see quiet_unrecorded)."""
        if self._unrecorded and self.monotonic() - self._recorded_at >= self.record_every:
            self._record()

    @property
    def quiet_unrecorded(self) -> bool:
        """Acknowledgements unwritten, and nothing written for twice
        RECORD_EVERY: the last of a burst, which no further acknowledgement
        will write."""
        return self._unrecorded and self.monotonic() - self._recorded_at >= 2 * self.record_every

    # --------------------------------------------------------------- handshake

    def _on_challenge(self, msg: p.Message) -> list[str]:
        if self.role != "client" or self.state != "await_challenge":
            raise p.ProtocolError("out_of_order", "challenge is sent once, by the server, first")
        if msg["console"] != self.server_id:
            raise p.ProtocolError("bad_signature", "the challenge names another console than the TLS certificate")
        nonce = p.unb64(msg["nonce"], "challenge nonce")
        if len(nonce) != p.NONCE_BYTES:
            raise p.ProtocolError("bad_message", f"the nonce must be {p.NONCE_BYTES} bytes")
        signature = self.me.sign(nonce, self.server_id, self.me.console_id)
        self.state = "await_hello"
        return [self._hello(cert=p.b64(self.me.cert_der), signature=p.b64(signature))]

    def _hello(self, **extra) -> str:
        s = self.store
        return p.encode("hello", protocol=p.PROTOCOL_VERSION, replica=s.replica_id, agency=s.agency,
                        vv=s.version_vector(), **extra)

    def _on_hello(self, msg: p.Message) -> list[str]:
        if self.state != "await_hello":
            raise p.ProtocolError("out_of_order", "hello is sent once, after the challenge")
        out = []
        if self.role == "server":
            if "cert" not in msg.body or "signature" not in msg.body:
                raise p.ProtocolError("bad_signature", "no certificate: a client must present one")
            cert = p.unb64(msg["cert"], "certificate")
            sig = p.unb64(msg["signature"], "signature")
            try:
                self.peer_id = self.verify(cert, sig, self._nonce, self.me.console_id)
            except ident.IdentityError as exc:
                raise p.ProtocolError("bad_signature", str(exc)) from None
        else:
            if "cert" in msg.body or "signature" in msg.body:
                raise p.ProtocolError("bad_message", "the server's hello carries no certificate")
            self.peer_id = self.server_id
        if self.peer_id == self.me.console_id:
            raise p.ProtocolError("untrusted", "a console cannot sync with itself")
        trusted = self.store.trusted(self.peer_id)
        if trusted is None:
            # Kept for this console's operator, who may be about to trust it
            # (its ID was read aloud to them): who it is and says it is.
            self.unknown_peer = (self.peer_id, msg["agency"])
            # Said for the refused console's operator, who reads it at the other end.
            raise p.ProtocolError(
                "untrusted", f"console {self.peer_id} is not on the trust list of console {self.me.console_id}")
        self.peer_agency, self.peer_role = trusted
        self.peer_replica = msg["replica"]
        if self.peer_replica == self.store.replica_id:
            raise p.ProtocolError("untrusted", "the peer uses this console's replica id (a copied database?)")
        vv = dict(msg["vv"])
        claimed = vv.get(self.store.replica_id, 0)
        if claimed > self.store.own_max_seq():
            # The peer holds more of our changes than we do: this database
            # was restored from a backup. Continue under a new replica id so
            # our next changes cannot reuse sequence numbers peers hold.
            old = self.store.replica_id
            self.store.rotate_replica(f"peer {ident.short_id(self.peer_id)} holds #{claimed} of it")
            log.warning("replica %s was behind its peers; continuing as %s", old, self.store.replica_id)
        self.peer_has = dict(vv)
        self.peer_acked = dict(vv)
        self.sends_changes = not self.read_only_at(self.peer_id)
        if not self.sends_changes:
            log.info("not sending changes to %s: this console is an observer there", ident.short_id(self.peer_id))
        self.state = "syncing"
        self.store.record_peer(self.peer_id, address=self.address, agency=self.peer_agency,
                               replica_id=self.peer_replica, acked_vv=vv, hello=True)
        log.info("sync with %s (%s, %s) at %s", ident.short_id(self.peer_id), self.peer_agency,
                 self.peer_role, self.address)
        if self.role == "server":
            out.append(self._hello())
        return out + self.pump()

    # ------------------------------------------------------------------ syncing

    def _on_changes(self, msg: p.Message) -> list[str]:
        if self.state != "syncing":
            raise p.ProtocolError("out_of_order", "changes before the hello")
        if msg["batch"] != self._last_in + 1:
            raise p.ProtocolError("out_of_order", f"batch {msg['batch']} after batch {self._last_in}")
        self.check_trust()
        if self.peer_role != "editor":
            raise p.ProtocolError("forbidden", "this console is an observer here: its changes are refused")
        changes = p.decode_changes(msg)
        own, own_max = self.store.replica_id, self.store.own_max_seq()
        for c in changes:
            if c.origin == own and c.seq > own_max:
                raise p.ProtocolError("forged_origin", f"change {c.seq} claims to come from this console")
        result = self.store.apply(changes)
        self._last_in = msg["batch"]
        self.incoming_remaining = msg.get("remaining", 0)
        self.stats.received += result.applied
        self.stats.unrecorded_received += result.applied
        self.stats.duplicates += result.duplicates
        self.stats.refused += len(result.refused)
        for c in changes:  # the peer holds these: they never go back to it, nor count as owed
            if c.seq == self.peer_has.get(c.origin, 0) + 1:
                self.peer_has[c.origin] = c.seq
            if c.seq == self.peer_acked.get(c.origin, 0) + 1:
                self.peer_acked[c.origin] = c.seq
        # The sender is told what was refused and why (a clock far ahead,
        # say), once per origin on this connection: the origin's later
        # changes are refused with the first.
        told = []
        for o, s, r in result.refused:
            if s < self._told.get(o, 1 << 62):
                self._told[o] = s
                told.append(p.encode("refused", origin=o, seq=s,
                                     reason=f"console {self.me.console_id} refused them: {r}"[:2000]))
        # Before the ack: a sender that stops once all is acknowledged
        # (sync --once) has heard it by then.
        return [*told, p.encode("ack", batch=msg["batch"], vv=self.store.version_vector()), *self.pump()]

    def _on_refused(self, msg: p.Message) -> list[str]:
        if self.state != "syncing":
            raise p.ProtocolError("out_of_order", "refused before the hello")
        origin, seq = msg["origin"], msg["seq"]
        if origin in self.refusals and seq >= self.refusals[origin][0]:
            return []
        if origin not in self.refusals and len(self.refusals) >= MAX_REFUSALS:
            return []  # a peer cannot grow this without bound
        self.refusals[origin] = (seq, msg["reason"])
        whose = "this console's" if origin == self.store.replica_id else f"replica {origin}'s"
        log.info("%s refuses %s changes from #%d: %s", ident.short_id(self.peer_id), whose, seq, msg["reason"])
        return []

    def _on_ack(self, msg: p.Message) -> list[str]:
        if self.state != "syncing" or msg["batch"] not in self._inflight:
            raise p.ProtocolError("out_of_order", f"ack for batch {msg['batch']}, which is not awaiting one")
        self._inflight.discard(msg["batch"])
        for origin, seq in msg["vv"].items():
            if seq > self.peer_acked.get(origin, 0):
                self.peer_acked[origin] = seq
            if seq > self.peer_has.get(origin, 0):
                self.peer_has[origin] = seq
        self._unrecorded = True
        self.flush_record()
        return self.pump()

    def _on_synced(self, msg: p.Message) -> list[str]:
        if self.state != "syncing":
            raise p.ProtocolError("out_of_order", "synced before the hello")
        self.peer_synced = True
        self.incoming_remaining = 0
        return self.pump()

    def _next_batch(self) -> tuple[str | None, int]:
        """The next `changes` frame and how many changes it holds."""
        if not self.sends_changes:
            self.drained = True
            return None, 0
        batch = next(self.store.wire_since(self.peer_has, batch=self.batch_changes), [])
        self.drained = len(batch) < self.batch_changes
        if not batch:
            return None, 0
        parts, size = [], 0
        has = self.peer_has
        for origin, seq, part in batch:
            if parts and size + len(part) > self.batch_bytes:
                self.drained = False  # the rest did not fit
                break
            parts.append(part)
            size += len(part) + 1
            if seq > has.get(origin, 0):
                has[origin] = seq
        remaining = self.store.remaining_for(self.peer_has)
        frame = (f'{{"type":"changes","batch":{self._next_out},"remaining":{remaining},'
                 f'"changes":[{",".join(parts)}]}}')
        return frame, len(parts)

    def _record(self) -> None:
        self.store.record_peer(self.peer_id, replica_id=self.peer_replica, acked_vv=self.peer_acked,
                               sent=self.stats.unrecorded_sent, received=self.stats.unrecorded_received)
        self.stats.unrecorded_sent = self.stats.unrecorded_received = 0
        self._recorded_at, self._unrecorded = self.monotonic(), False
