"""The sync state machine, driven without sockets: two Sessions wired together."""

import json
import random
import tempfile
from pathlib import Path

import pytest
from conftest import make_consoles, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.sync import protocol as p
from console.sync.session import PeerRefused, Session


def pair(server_console, client_console, server_store, client_store, **kw):
    srv = Session(server_store, "server", server_console.identity, address="client", **kw)
    cli = Session(client_store, "client", client_console.identity, server_id=server_console.console_id,
                  address="server", **kw)
    return srv, cli


def run(srv, cli, *, drop_after=None, rng=None, max_rounds=10_000):
    """Deliver frames both ways until quiet (or until `drop_after` frames,
    simulating a connection cut). Returns the number of frames delivered."""
    to_cli, to_srv = srv.start(), cli.start()
    delivered = 0
    for _ in range(max_rounds):
        if not to_cli and not to_srv:
            return delivered
        nxt_cli, nxt_srv = [], []
        for frame in to_cli:
            if drop_after is not None and delivered >= drop_after:
                return delivered
            nxt_srv += cli.receive(frame)
            delivered += 1
        for frame in to_srv:
            if drop_after is not None and delivered >= drop_after:
                return delivered
            nxt_cli += srv.receive(frame)
            delivered += 1
        to_cli, to_srv = nxt_cli, nxt_srv
    raise AssertionError("sessions never went quiet")


def test_two_consoles_converge_and_finish(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        sa.add_many("units", [{"callsign": f"U{i}", "agency": "F", "kind": "E"} for i in range(2500)])
        sb.add("tasks", {"title": "Levee"})
        srv, cli = pair(a, b, sa, sb, batch_changes=300)
        told = []
        original = cli.receive

        def receive(frame):
            msg = p.decode(frame)
            if msg.type == "changes":
                told.append((len(msg["changes"]), msg["remaining"]))
            return original(frame)

        cli.receive = receive
        run(srv, cli)
        assert srv.done and cli.done
        # Each batch says how many are still to come, down to none.
        assert told[0] == (300, 2501 - 300) and told[-1][1] == 0
        assert [r for _, r in told] == sorted((r for _, r in told), reverse=True)
        assert cli.incoming_remaining == 0
        assert snapshot(sa)["units"] == snapshot(sb)["units"]
        assert snapshot(sa)["tasks"] == snapshot(sb)["tasks"]
        assert (cli.stats.received, srv.stats.received) == (2501, 2)
        assert sa.count_missing(sb.version_vector()) == sb.count_missing(sa.version_vector()) == 0
        # Live: a new change is pushed, and the trust list remembers the peer.
        sb.update("units", "U7", {"status": "on scene"})
        for frame in cli.pump():
            for back in srv.receive(frame):
                cli.receive(back)
        assert sa.get("units", sa.resolve_id("units", "U7")).status == "on_scene"
        srv.close()
        [peer] = sa.peers()
        assert peer["console_id"] == b.console_id
        assert (peer["sent"], peer["received"], peer["owed"]) == (2501, 4, 0)


def test_what_the_peer_acknowledged_is_written_down_about_once_a_second(consoles):
    """Every acknowledgement used to be a transaction of its own (a relay's
    20 peers at 100 live frames a second: 2,000 a second). Now what a peer
    acknowledged is written at most once a second while acknowledgements
    come, the last of a burst once nothing was written for two, and all of
    it when the session ends."""
    a, b = consoles("a", "b")
    now = [100.0]
    with a.open() as sa, b.open() as sb:
        sa.note("before")
        srv, cli = pair(a, b, sa, sb, monotonic=lambda: now[0])
        run(srv, cli)  # the catch-up, acknowledged and written at 100.0
        written = []  # what b has acknowledged of a's changes, at each write of a's
        record_peer = sa.record_peer
        sa.record_peer = lambda *args, **kw: (written.append(kw["acked_vv"].get(sa.replica_id)),
                                              record_peer(*args, **kw))

        def a_edits(i):  # a live edit at a, sent to b and acknowledged
            sa.note(f"live {i}")
            for frame in srv.pump():
                for back in cli.receive(frame):
                    srv.receive(back)

        for i in range(10):  # ten acknowledgements within the second
            a_edits(i)
            now[0] += 0.05
        assert written == []
        now[0] += 1.0
        for i in range(10, 20):  # the first a second after the last write is written; the rest wait
            a_edits(i)
            now[0] += 0.05
        assert len(written) == 1 and written[0] < sa.own_max_seq()
        assert not srv.quiet_unrecorded
        now[0] += 2.0
        assert srv.quiet_unrecorded  # the transport writes it now
        srv.flush_record()
        assert written[-1] == sa.own_max_seq() and len(written) == 2
        assert sa.outbox() == 0 and {x["console_id"]: x for x in sa.peers()}[b.console_id]["owed"] == 0
        srv.flush_record()  # nothing left to write
        assert len(written) == 2
        a_edits(99)
        assert sa.outbox() == 1 and sa.outbox(acked=srv.peer_acked[sa.replica_id]) == 0  # as Engine.status counts
        srv.close()  # the session's end writes what is left
        assert written[-1] == sa.own_max_seq() and len(written) == 3 and sa.outbox() == 0


def test_a_session_ending_after_a_newer_one_of_the_same_peer_does_not_write_back_less(consoles):
    """A dropped connection is often noticed at this end (keepalive) only
    after the peer has dialled again: the old session then ends after the
    new one began. It used to write what it had seen acknowledged over what
    the new one had, so the Peers dialog counted changes the peer held as
    still owed to it. Acknowledgements of one replica of a peer only add up
    now; a session of a replica the peer no longer is (restored from a
    backup since) adds nothing; and a hello says afresh what the peer holds."""
    a, b = consoles("a", "b")

    def owed():
        return {x["console_id"]: x for x in sa.peers()}[b.console_id]["owed"]

    def a_edits_seen_by(srv, cli, n):
        for i in range(n):
            sa.note(f"live {i}")
            for frame in srv.pump():
                for back in cli.receive(frame):
                    srv.receive(back)

    with a.open() as sa, b.open() as sb:
        sa.note("before")
        old_srv, old_cli = pair(a, b, sa, sb)
        run(old_srv, old_cli)
        old_srv.close()  # written: b holds everything of a's
        new_srv, new_cli = pair(a, b, sa, sb)  # b dials again; a still holds the old session open
        run(new_srv, new_cli)
        a_edits_seen_by(new_srv, new_cli, 5)
        new_srv._record()
        assert owed() == 0 and sa.outbox() == 0
        old_srv._unrecorded = True
        old_srv.close()  # the old session, noticed dead at last, knew of less
        assert owed() == 0 and sa.outbox() == 0
        # b restored from an old backup: a new replica, holding less of a's.
        sb.rotate_replica("restored for the test")
        b_had = dict(new_srv.peer_acked)
        restored = {a_rep: seq - 3 for a_rep, seq in b_had.items()}
        sa.record_peer(b.console_id, replica_id=sb.replica_id, acked_vv=restored, hello=True)
        assert owed() == 3
        new_srv._unrecorded = True
        new_srv.close()  # a session of the replica b was before knows nothing of the one it is now
        assert owed() == 3 and sa.outbox() == 3
        sa.record_peer(b.console_id, replica_id=sb.replica_id, acked_vv=b_had)  # that replica catches up
        assert owed() == 0 and sa.outbox() == 0


def test_window_bounds_unacknowledged_batches(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        sa.add_many("units", [{"callsign": f"U{i}", "agency": "F", "kind": "E"} for i in range(1000)])
        srv, cli = pair(a, b, sa, sb, batch_changes=50, window=3)
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        frames = srv.receive(hello)
        assert [p.decode(f).type for f in frames] == ["hello", "changes", "changes", "changes"]
        assert srv.pump() == []  # nothing more until an ack comes back


def test_one_frame_per_pump_when_asked_and_the_same_frames_in_all(consoles):
    """The transport pumps one frame at a time so a catch-up's first batch
    leaves while the next is read; the frames and the window are the same."""
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        sa.add_many("units", [{"callsign": f"U{i}", "agency": "F", "kind": "E"} for i in range(1000)])
        whole, stepped = [], []
        for step, out in ((None, whole), (1, stepped)):
            srv, cli = pair(a, b, sa, sb, batch_changes=50, window=3)
            srv.pump_step = step
            cli.start()
            [hello] = cli.receive(srv.start()[0])
            frames = srv.receive(hello)
            if step == 1:
                assert [p.decode(f).type for f in frames] == ["hello", "changes"]
                assert not srv.drained  # a full frame: more to read
                frames += srv.pump()
                assert len(frames) == 3
                frames += srv.pump()
            out.extend(frames)
            assert srv.pump() == []  # the window is full until an ack comes back
        assert stepped == whole
        # A read that finds all the peer lacks says so, so that the
        # transport stops pumping until the next commit.
        sb.add("tasks", {"title": "Levee"})
        srv, cli = pair(b, a, sb, sa, batch_changes=50, window=3)
        srv.pump_step = 1
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        assert [p.decode(f).type for f in srv.receive(hello)] == ["hello", "changes"]
        assert srv.drained


def test_batches_respect_the_byte_budget(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        sa.add_many("units", [{"callsign": f"U{i}", "agency": "F", "kind": "E", "notes": "x" * 3000}
                              for i in range(200)])
        srv, cli = pair(a, b, sa, sb, batch_bytes=64 * 1024)
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        frames = srv.receive(hello)[1:]
        assert len(frames) == 4 and all(len(f) < 64 * 1024 + 4000 for f in frames)
        run(*pair(a, b, sa, sb, batch_bytes=64 * 1024))
        assert sb.counts()["units"] == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(1, 40), min_size=1, max_size=8), seed=st.integers(0, 2**32))
def test_drops_at_any_point_lose_nothing_and_apply_nothing_twice(cuts, seed):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        check_drops(Path(tmp), rng, cuts)


def check_drops(folder, rng, cuts):
    a, b, c = make_consoles(folder, "a", "b", "c")
    with a.open() as sa, b.open() as sb, c.open() as sc:
        r = sa.add("resources", {"name": "Sandbags", "kind": "Supply", "agency": "PW", "quantity": 1000})
        sa.add_many("units", [{"callsign": f"U{i}", "agency": "F", "kind": "E"} for i in range(120)])
        total = 1000
        for store in (sb, sc):  # both get the resource before drawing on it
            srv, cli = pair(a, b if store is sb else c, sa, store, batch_changes=25)
            run(srv, cli)
        for store in (sa, sb, sc):
            for _ in range(rng.randint(1, 6)):
                delta = rng.randint(-20, 30) or 1
                store.adjust(r, delta)
                total += delta
        # Sync b<->a and c<->a over connections cut after a few frames each,
        # then a last uncut round.
        for cut in [*cuts, None]:
            for other, store in ((b, sb), (c, sc)):
                srv, cli = pair(a, other, sa, store, batch_changes=25, window=2)
                run(srv, cli, drop_after=cut)
                srv.close()
                cli.close()
        for other, store in ((b, sb), (c, sc)):  # and once more for what b and c learned via a
            run(*pair(a, other, sa, store))
        snaps = [snapshot(s) for s in (sa, sb, sc)]
        assert snaps[0] == snaps[1] == snaps[2]
        assert sa.get("resources", r).quantity == total
        counts = [s._conn.execute("SELECT count(*) FROM changes").fetchone()[0] for s in (sa, sb, sc)]
        assert counts[0] == counts[1] == counts[2]


def test_untrusted_client_is_refused(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        sa.untrust(b.console_id)
        srv, cli = pair(a, b, sa, sb)
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(hello)
        assert exc.value.code == "untrusted"


def test_trust_taken_away_or_lowered_mid_session_applies_to_the_next_batch(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        srv, cli = pair(a, b, sa, sb)
        run(srv, cli)
        assert srv.peer_role == "editor"
        # Made an observer (by the window or the command line, on another connection).
        with a.open() as other:
            other.trust(b.console_id, "County EMS", "observer")
        sb.add("tasks", {"title": "Sandbag Main St"})
        [frame] = cli.pump()
        before = snapshot(sa)
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(frame)
        assert exc.value.code == "forbidden" and (srv.peer_agency, srv.peer_role) == ("County EMS", "observer")
        assert snapshot(sa) == before
        # Taken off the list: refused, and sent nothing more.
        srv, cli = pair(a, b, sa, sb)
        with a.open() as other:
            other.trust(b.console_id, "County EMS", "editor")
        run(srv, cli)
        assert sa.counts()["tasks"] == 1
        with a.open() as other:
            other.untrust(b.console_id)
        sb.add("tasks", {"title": "Pump out the underpass"})
        sa.add("tasks", {"title": "Not for b"})
        [frame] = cli.pump()
        with pytest.raises(p.ProtocolError, match=f"{b.console_id} was taken off the trust list of console") as exc:
            srv.receive(frame)
        assert exc.value.code == "untrusted"
        assert srv.pump() == [] and sa.counts()["tasks"] == 2
        with pytest.raises(p.ProtocolError) as exc:  # whatever was still on its way
            srv.receive(p.encode("synced"))
        assert exc.value.code == "untrusted"


def test_refusal_notices_are_kept_per_origin_and_bounded(consoles):
    from console.sync.session import MAX_REFUSALS

    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        srv, cli = pair(a, b, sa, sb)
        run(srv, cli)
        origin = "c" * 32
        for seq, why in ((5, "first"), (9, "later, ignored"), (3, "earlier, kept")):
            assert cli.receive(p.encode("refused", origin=origin, seq=seq, reason=why)) == []
        assert cli.refusals == {origin: (3, "earlier, kept")}
        for i in range(2 * MAX_REFUSALS):
            cli.receive(p.encode("refused", origin=f"{i:032x}", seq=1, reason="flood"))
        assert len(cli.refusals) == MAX_REFUSALS and cli.refusals[origin] == (3, "earlier, kept")


def test_client_without_certificate_or_with_a_bad_signature_is_refused(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        srv, cli = pair(a, b, sa, sb)
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        msg = p.decode(hello).body
        bare = {k: v for k, v in msg.items() if k not in ("cert", "signature")}
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(json.dumps(bare))
        assert exc.value.code == "bad_signature"
        srv, _ = pair(a, b, sa, sb)
        srv.start()  # a fresh nonce: the old signature does not fit it
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(hello)
        assert exc.value.code == "bad_signature"


def test_observer_changes_are_refused_and_nothing_changes(consoles):
    a, b = consoles("a", "b", observers=("b",))
    with a.open() as sa, b.open() as sb:
        sb.add("units", {"callsign": "X-1", "agency": "F", "kind": "E"})
        before = snapshot(sa)
        srv, cli = pair(a, b, sa, sb)
        with pytest.raises(p.ProtocolError) as exc:
            run(srv, cli)
        assert exc.value.code == "forbidden"
        assert snapshot(sa)["units"] == before["units"]


def test_forged_origin_and_out_of_order_batches(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        srv, cli = pair(a, b, sa, sb)
        cli.start()
        [hello] = cli.receive(srv.start()[0])
        srv.receive(hello)
        forged = [sa.replica_id, 99, 1, "tasks", "1" * 32, "*", "insert", {"title": "Fake"}, [], "x", "y"]
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(p.encode("changes", batch=1, changes=[forged]))
        assert exc.value.code == "forged_origin"
        assert sa.counts()["tasks"] == 0
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(p.encode("changes", batch=7, changes=[forged]))
        assert exc.value.code == "out_of_order"
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(p.encode("ack", batch=42, vv={}))
        assert exc.value.code == "out_of_order"
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(hello)
        assert exc.value.code == "out_of_order"


def test_changes_before_hello_and_peer_errors(consoles):
    a, b = consoles("a", "b")
    with a.open() as sa, b.open() as sb:
        srv, cli = pair(a, b, sa, sb)
        srv.start()
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(p.encode("synced"))
        assert exc.value.code == "out_of_order"
        with pytest.raises(p.ProtocolError) as exc:
            srv.receive(p.encode("refused", origin="c" * 32, seq=1, reason="too early"))
        assert exc.value.code == "out_of_order"
        cli.start()
        with pytest.raises(PeerRefused, match="not on this console's trust list"):
            cli.receive(p.encode("error", code="untrusted", message="not on this console's trust list"))


def test_a_replica_restored_from_an_old_backup_takes_a_new_id(consoles, tmp_path):
    import shutil

    a, b = consoles("a", "b")
    with a.open() as sa:
        sa.add("units", {"callsign": "E-1", "agency": "F", "kind": "E"})
    # A backup of a's database together with its replica marker.
    for suffix in ("", ".replica"):
        shutil.copy(f"{a.path}{suffix}", tmp_path / f"backup{suffix}")
    with a.open() as sa, b.open() as sb:
        sa.add("units", {"callsign": "E-2", "agency": "F", "kind": "E"})
        run(*pair(a, b, sa, sb))
        old_id = sa.replica_id
    for suffix in ("", ".replica"):
        shutil.copy(tmp_path / f"backup{suffix}", f"{a.path}{suffix}")
    with a.open() as sa, b.open() as sb:
        assert sa.replica_id == old_id  # the marker came back with the file, so only a peer can tell
        run(*pair(a, b, sa, sb))
        assert sa.replica_id != old_id
        assert {u.callsign for u in sa.list("units")} == {"E-1", "E-2"}  # what it lost came back
        sa.add("units", {"callsign": "E-3", "agency": "F", "kind": "E"})
        run(*pair(a, b, sa, sb))
        assert {u.callsign for u in sb.list("units")} == {"E-1", "E-2", "E-3"}


def test_a_console_a_day_ahead_has_its_changes_refused_but_the_session_goes_on(tmp_path):
    from conftest import FakeWall

    from console.store import Store

    a, b = make_consoles(tmp_path, "a", "b")
    now = FakeWall()
    with Store(a.path, wall=now) as sa, Store(b.path, wall=FakeWall(now.ms + 24 * 3600 * 1000)) as sb:
        sb.add("units", {"callsign": "FAST-1", "agency": "F", "kind": "E"})
        sa.add("units", {"callsign": "E-1", "agency": "F", "kind": "E"})
        srv, cli = pair(a, b, sa, sb)
        run(srv, cli)
        assert [u.callsign for u in sa.list("units")] == ["E-1"]  # refused, with its reason logged
        assert srv.stats.refused == 1
        assert {u.callsign for u in sb.list("units")} == {"E-1", "FAST-1"}  # the other way still flows
        assert srv.state == cli.state == "syncing"
        # The fast console is told which of its changes were refused, and why.
        [(origin, (seq, why))] = cli.refusals.items()
        assert origin == sb.replica_id and seq == 1
        assert why.startswith(f"console {a.console_id} refused them: timestamp ")
        assert "24h ahead of the receiving console's clock" in why
        # Told once: a later batch of the same origin brings no second notice.
        sb.add("units", {"callsign": "FAST-2", "agency": "F", "kind": "E"})
        [frame] = cli.pump()
        assert [p.decode(f).type for f in srv.receive(frame)] == ["ack"]
