"""Names added at different consoles (console/apart.py): the names the
window keeps row by row say what reading every row again says, and what
Store.entered_apart says, letter case (beyond ASCII) and spacing aside."""

from __future__ import annotations

import itertools
from collections import defaultdict

from conftest import converge, sync
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_undo import ticking

from console import apart, clock
from console.apart import Names
from console.store import NotFound, Store

TITLES = ["Levee breach", "LEVEE  breach", "Straße gesperrt", "STRASSE GESPERRT", "Welfare check"]
STOCK = [("Sandbags", "Public Works", "bags"), ("SANDBAGS ", "public works", "bags"),
         ("Sandbags", "County Fire", "bags"), ("Sandbags", "Public Works", "pallets")]


def stock(store: Store, name: str, agency: str, unit: str) -> str:
    return store.add("resources", {"name": name, "kind": "Supply", "agency": agency, "quantity": 10, "unit": unit})


def groups(store: Store) -> list[tuple[str, list[str]]]:
    return sorted((table, [r.id for r in rows]) for table, rows in store.entered_apart())


def read_plainly(store: Store) -> list[tuple[str, list[str]]]:
    """What the rule says, worked out from the boards' rows one by one
    (the consoles here have one operator each, so whose is whose)."""
    found = []
    to_do = [t for t in store.list("tasks") if t.status in ("open", "assigned", "in_progress")]
    for table, rows, name in (("tasks", to_do, lambda r: (r.title,)),
                              ("resources", store.list("resources"), lambda r: (r.name, r.agency, r.unit))):
        added = store.added_by(table, [r.id for r in rows])
        named = defaultdict(list)
        for r in rows:
            named[tuple(" ".join((n or "").split()).casefold() for n in name(r))].append(
                (added[r.id][0], r.id, added[r.id][1]))
        found += [(table, [row_id for _, row_id, _ in sorted(rs)]) for rs in named.values()
                  if len({op for _, _, op in rs}) > 1]
    return sorted(found)


def kept(names: Names) -> list[tuple[str, list[str]]]:
    return sorted((table, ids) for (table, _), ids in names.shared())


def test_the_rule_wants_several_consoles_and_one_added_since():
    rows = {"a": [("t1", "EOC", 1), ("t2", "EOC", 2)], "b": [("t3", "EOC", 1), ("t4", "YARD", 5)],
            "c": [("t5", "YARD", 9)]}
    assert apart.shared(rows) == [("b", ["t3", "t4"])]
    assert apart.shared(rows, after=5) == [("b", ["t3", "t4"])]
    assert apart.shared(rows, after=6) == []


def test_names_apart_beyond_ascii_letter_case_are_found(make_store):
    """"Straße gesperrt" at the EOC, "STRASSE GESPERRT" at the yard: one
    name as people read it, though SQLite's lower() sees two."""
    wall = ticking()  # a second between writes: the first added is first
    eoc = make_store("eoc.db", agency="EOC", operator="Ortiz", wall=wall)
    yard = make_store("yard.db", agency="Public Works", operator="Park", wall=wall)
    a = eoc.add("tasks", {"title": "Straße gesperrt"})
    b = yard.add("tasks", {"title": "STRASSE  GESPERRT"})
    converge([eoc, yard])
    assert groups(eoc) == groups(yard) == [("tasks", [a, b])]
    names = Names(eoc)
    names.load()
    assert kept(names) == [("tasks", [a, b])]


def test_names_of_one_hash_are_still_told_apart(make_store, monkeypatch):
    """Only hashes are kept: rows whose names share one (here, all of them)
    are read again and compared by the names themselves."""
    monkeypatch.setattr(apart, "hash", lambda key: 7, raising=False)
    wall = ticking()
    eoc = make_store("eoc", agency="EOC", operator="Ortiz", wall=wall)
    yard = make_store("yard", agency="Public Works", operator="Park", wall=wall)
    levee = [eoc.add("tasks", {"title": "Levee breach"}), yard.add("tasks", {"title": "levee  BREACH"})]
    eoc.add("tasks", {"title": "Welfare check"})
    road = yard.add("tasks", {"title": "Road closure"})
    converge([eoc, yard])
    names = Names(eoc)
    names.load()
    assert names.shared() == [(("tasks", 7), levee)]
    eoc.update("tasks", levee[0], {"title": "Road closure"})
    assert names.update("tasks", [levee[0]]) == {("tasks", 7)}
    assert names.shared() == [(("tasks", 7), [levee[0], road])]  # first added first
    assert kept(names) == groups(eoc)


# (what, on which console, which of its rows, which title or status): adding and
# sending come more often than the rest, so that names meet.
KINDS = ["task"] * 3 + ["stock"] * 2 + ["sync"] * 3 + ["rename", "done", "delete", "restore"]
OPS = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from([0, 1]), st.integers(0, 50), st.integers(0, 99)),
               min_size=10, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_names_kept_row_by_row_say_what_reading_them_all_says(tmp_path_factory, ops):
    """Two consoles add, rename, finish, delete and restore tasks and stock,
    and now and then one sends the other what it has. The EOC's names, told
    only which rows each commit touched (as the window is), always give the
    groups that reading every row gives, that Store.entered_apart gives,
    and that the rule worked out plainly from the boards' rows gives."""
    folder = tmp_path_factory.mktemp("apart")
    ticks = itertools.count(clock.wall_ms(), 1000)
    wall = lambda: next(ticks)  # noqa: E731
    stores = [Store(folder / "eoc.db", agency="EOC", operator="Ortiz", wall=wall),
              Store(folder / "yard.db", agency="Public Works", operator="Park", wall=wall)]
    eoc = stores[0]
    names = Names(eoc)
    names.load()
    touched: dict[str, set[str]] = {}
    eoc.subscribe(lambda cs: [touched.setdefault(c.table, set()).add(c.row) for c in cs.changes
                              if c.table in apart.TABLES])
    made: list[tuple[int, str, str]] = []  # (console, table, id)
    try:
        for op in ops:
            kind, who, pick = op[0], stores[op[1]], op[3]
            if kind == "task":
                made.append((op[1], "tasks", who.add("tasks", {"title": TITLES[pick % len(TITLES)]})))
            elif kind == "stock":
                made.append((op[1], "resources", stock(who, *STOCK[pick % len(STOCK)])))
            elif kind == "sync":
                sync(who, stores[1 - op[1]])
            elif made:  # a row either console added, if this one holds it by now
                _, table, row = made[op[2] % len(made)]
                try:
                    who.get(table, row, deleted=True)
                except NotFound:
                    continue
                live = bool(who.get_many(table, [row]))
                if kind == "rename" and live and table == "tasks":
                    who.update("tasks", row, {"title": TITLES[pick % len(TITLES)]})
                elif kind == "done" and live and table == "tasks":
                    who.update("tasks", row, {"status": ["completed", "open", "cancelled", "in_progress"][pick % 4]})
                elif kind == "delete" and live:
                    who.delete(table, row)
                elif kind == "restore" and not live:
                    who.update(table, row, {"deleted": False})
            for table, ids in touched.items():
                names.update(table, ids)
            touched.clear()
            fresh = Names(eoc)
            fresh.load()
            assert kept(names) == kept(fresh) == groups(eoc) == read_plainly(eoc)
            assert len(names) == len(fresh)
        shared = len(kept(names))
        event(f"{shared if shared < 3 else '3 or more'} names shared")
        assert [ids for _, ids in names.shared(after=clock.pack(wall()))] == []
    finally:
        for s in stores:
            s.close()
