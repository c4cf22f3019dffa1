"""Property test of the journal dock's model: however entries arrive (new
ones, old ones from a console that was offline, entries with the same clock
time), however the person pages back and filters (words, agency, the row
an entry is about), the model's entries are always the journal's own, in
its order; and once it has looked at what arrived, with no entry missing in
between: a prefix of what the store's journal holds for that filter, as
long as it was asked for."""

import tempfile
from pathlib import Path

import pytest
from conftest import FakeWall
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.store import Store
from console.ui import journal

WORDS = ["levee", "route 9", "Levee", "pump", "shelter", "Straße", "STRASSE"]

step = st.one_of(
    st.tuples(st.just("note"), st.sampled_from(["eoc", "field"]), st.sampled_from(WORDS), st.integers(0, 2),
              st.sampled_from([None, 0, 1])),
    st.tuples(st.just("notes"), st.sampled_from(["eoc", "field"]), st.integers(1, 12), st.integers(0, 1)),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("fetch")),
    st.tuples(st.just("text"), st.sampled_from(["", "levee", "route", "zzz", "eoc", "strasse", "Straße"])),
    st.tuples(st.just("agency"), st.sampled_from([None, "EOC", "County EMS"])),
    st.tuples(st.just("row"), st.sampled_from([None, 0, 1])),
    st.tuples(st.just("settle"), st.integers(0, 3)),
)


def reference(store, m):
    return [e for e in store.journal(agency=m.agency, table=m.table, row=m.row) if m._matches(e)]


def drain(sched, most=10**6):
    while sched._jobs and most:
        sched._run()
        most -= 1


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(journal, "JOURNAL_PAGE", 6)
    monkeypatch.setattr(journal, "JOURNAL_ADD_SLICE", 3)
    monkeypatch.setattr(journal, "JOURNAL_SCAN", 4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=40))
def test_the_journal_model_is_always_the_journal_in_order(qapp, small_pages, steps):
    with tempfile.TemporaryDirectory() as tmp:
        wall = FakeWall()
        field_wall = FakeWall(wall.ms - 3_600_000)  # an hour behind: its entries land below the EOC's
        eoc = Store(Path(tmp) / "eoc.db", agency="EOC", operator="Dana", wall=wall)
        field = Store(Path(tmp) / "field.db", agency="County EMS", operator="Lee", wall=field_wall)
        try:
            # Two units both consoles know, for entries about a row (made on
            # the field's, whose clock is behind: the EOC's takes them).
            units = [field.add("units", {"callsign": f"E-{i}", "agency": "EMS", "kind": "Medic"}) for i in (1, 2)]
            for batch in field.changes_since(eoc.version_vector()):
                eoc.apply(batch)
            m = journal.JournalModel(eoc)
            sched = m.scheduler
            for s in steps:
                kind = s[0]
                if kind in ("note", "notes"):
                    store, w = (eoc, wall) if s[1] == "eoc" else (field, field_wall)
                    texts = [s[2]] if kind == "note" else [f"entry {w.ms} {i}" for i in range(s[2])]
                    about = ("units", units[s[4]]) if kind == "note" and s[4] is not None else (None, None)
                    for t in texts:
                        store.note(t, *about)
                        w.ms += s[3]  # 0: the same clock time, told apart by the counter
                    if store is eoc:
                        m.add_entries(h for h, in eoc._conn.execute(
                            "SELECT hlc FROM changes WHERE tbl = 'journal' AND origin = ? ORDER BY seq DESC LIMIT ?",
                            (eoc.replica_id, len(texts))))
                elif kind == "deliver":
                    got = []
                    for batch in field.changes_since(eoc.version_vector()):
                        eoc.apply(batch)
                        got += [c.hlc for c in batch if c.table == "journal"]
                    m.add_entries(got)
                elif kind == "fetch":
                    drain(sched)
                    m.fetchMore()
                elif kind == "text":
                    m.set_filter(agency=m.agency, table=m.table, row=m.row, text=s[1])
                elif kind == "agency":
                    m.set_filter(agency=s[1], table=m.table, row=m.row, text=m.text)
                elif kind == "row":
                    row = None if s[1] is None else units[s[1]]
                    m.set_filter(agency=m.agency, table=row and "units", row=row, text=m.text)
                else:
                    drain(sched, s[1])  # part way: more may be waiting
                # Meanwhile, entries that arrived may be missing, but what
                # is shown is in the journal's order.
                place = {e.id: i for i, e in enumerate(reference(eoc, m))}
                shown = [place[e.id] for e in m.entries]
                assert shown == sorted(set(shown))
            drain(sched)
            ref = reference(eoc, m)
            assert [e.id for e in m.entries] == [e.id for e in ref[:len(m.entries)]]
            assert len(m.entries) >= min(m._want, len(ref))
            if m.exhausted:
                assert len(m.entries) == len(ref)
        finally:
            eoc.close()
            field.close()
