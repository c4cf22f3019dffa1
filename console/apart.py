"""Tasks still to do, and stock items, named like one added at another
console: the same call, or the same pallet of sandbags, entered on both
sides while they were apart, perhaps (see Store.entered_apart).

`shared` is the rule, for the store and the window alike. `Names` keeps
the name of every such row in memory and is told which rows changed, so
that the window marks a board of 20,000 tasks again for the few rows that
changed, rather than by reading every row each time (about 75 ms on this
machine, against under a millisecond for 500 changed rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from console.store import Store

TABLES = ("tasks", "resources")  # where a name may have been entered twice

Key = TypeVar("Key")
Added = tuple[str, str, int]  # a row: (id, added by which console, when: a clock time)


def shared(named: Mapping[Key, Sequence[Added]], after: int = 0) -> list[tuple[Key, list[str]]]:
    """The names whose rows (first added first) were added by more than one
    console, the last at `after` or later: (name, the rows' ids)."""
    return [(key, [row_id for row_id, _, _ in rows]) for key, rows in named.items()
            if len(rows) > 1 and rows[-1][2] >= after and len({by for _, by, _ in rows}) > 1]


class Names:
    """The name of every task still to do and every live stock item (see
    Store.named_rows), kept as rows change (`update`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._key: dict[tuple[str, str], tuple[str, ...]] = {}  # (table, id) -> its name
        # (table, name) -> its rows: id -> (added by which console, when)
        self._rows: dict[tuple[str, tuple[str, ...]], dict[str, tuple[str, int]]] = {}

    def __len__(self) -> int:
        return len(self._key)

    def load(self) -> None:
        """Read every row's name (again)."""
        self._key.clear()
        self._rows.clear()
        for table in TABLES:
            self._put(table, self.store.named_rows(table))

    def update(self, table: str, ids: Iterable[str]) -> set[tuple[str, tuple[str, ...]]]:
        """Read these rows' names again (a row added, renamed, deleted,
        done...). Gives the names they had and have: (table, name)."""
        ids = set(ids)
        touched: set[tuple[str, tuple[str, ...]]] = set()
        for row_id in ids:
            key = self._key.pop((table, row_id), None)
            if key is not None:
                touched.add((table, key))
                rows = self._rows[(table, key)]
                del rows[row_id]
                if not rows:
                    del self._rows[(table, key)]
        rows = self.store.named_rows(table, ids)
        self._put(table, rows)
        touched.update((table, key) for _, _, _, key in rows)
        return touched

    def shared(self, names: Iterable[tuple[str, tuple[str, ...]]] | None = None,
               after: int = 0) -> list[tuple[tuple[str, tuple[str, ...]], list[str]]]:
        """Of these names (table, name), or of all, those added by more than
        one console, the last at `after` or later (see `shared`):
        ((table, name), the rows' ids, first added first)."""
        keys = self._rows.keys() if names is None else names
        named = {}
        for key in keys:
            rows = self._rows.get(key)
            if rows is not None and len(rows) > 1:
                named[key] = sorted(((row_id, by, at) for row_id, (by, at) in rows.items()),
                                    key=lambda r: (r[2], r[0]))
        return shared(named, after)

    def _put(self, table: str, rows: Iterable[tuple[str, str, int, tuple[str, ...]]]) -> None:
        for row_id, by, at, key in rows:
            self._key[(table, row_id)] = key
            self._rows.setdefault((table, key), {})[row_id] = (by, at)
