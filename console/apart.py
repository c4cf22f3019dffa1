"""Tasks still to do, and stock items, named like one added at another
console: the same call, or the same pallet of sandbags, entered on both
sides while they were apart, perhaps (see Store.entered_apart).

`shared` is the rule, for the store and the window alike. `Names` keeps
a hash of every such row's name and is told which rows changed, so that
the window marks a board of 20,000 tasks again for the few rows that
changed, rather than by reading every row each time (about 75 ms on this
machine, against a few milliseconds for 500 changed rows).
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
    """Where to look for names entered apart: for every task still to do
    and every live stock item, a hash of its name (see Store.named_rows),
    kept as rows change (`update`). Only the hashes are kept, about 200
    bytes a row; the rows sharing one are read again (`shared`), to
    compare their names themselves and who added them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._hash: dict[str, dict[str, int]] = {t: {} for t in TABLES}  # table -> id -> its name's hash
        # table -> hash -> its row, or its rows (most names are one row's)
        self._rows: dict[str, dict[int, str | set[str]]] = {t: {} for t in TABLES}

    def __len__(self) -> int:
        return sum(map(len, self._hash.values()))

    def load(self) -> None:
        """Read every row's name (again)."""
        for table in TABLES:
            self._hash[table].clear()
            self._rows[table].clear()
            self._put(table, self.store.named_rows(table))

    def update(self, table: str, ids: Iterable[str]) -> set[tuple[str, int]]:
        """Read these rows' names again (a row added, renamed, deleted,
        done...). Gives the names they had and have: (table, hash)."""
        ids = set(ids)
        hashes, rows = self._hash[table], self._rows[table]
        touched: set[tuple[str, int]] = set()
        for row_id in ids:
            h = hashes.pop(row_id, None)
            if h is None:
                continue
            touched.add((table, h))
            held = rows[h]
            if isinstance(held, str):
                del rows[h]
            else:
                held.discard(row_id)
                if len(held) == 1:
                    rows[h] = held.pop()
        touched.update((table, h) for h in self._put(table, self.store.named_rows(table, ids)))
        return touched

    def shared(self, names: Iterable[tuple[str, int]] | None = None,
               after: int = 0) -> list[tuple[tuple[str, int], list[str]]]:
        """Of these names (table, hash), or of all, those added by more than
        one console, the last at `after` or later (see `shared`):
        ((table, hash), the rows' ids, first added first)."""
        keys = ((t, h) for t, rows in self._rows.items() for h in rows) if names is None else names
        several: dict[str, list[str]] = {}
        for table, h in keys:
            held = self._rows[table].get(h)
            if held is not None and not isinstance(held, str):
                several.setdefault(table, []).extend(held)
        found = []
        for table, ids in several.items():
            named: dict[tuple[str, ...], list[Added]] = {}
            for row_id, by, at, key in sorted(self.store.named_rows(table, ids), key=lambda r: (r[2], r[0])):
                named.setdefault(key, []).append((row_id, by, at))
            found.extend(((table, hash(key)), ids) for key, ids in shared(named, after))
        return found

    def _put(self, table: str, rows: Iterable[tuple[str, str, int, tuple[str, ...]]]) -> list[int]:
        hashes, held = self._hash[table], self._rows[table]
        out = []
        for row_id, _, _, key in rows:
            h = hash(key)
            hashes[row_id] = h
            other = held.setdefault(h, row_id)
            if other is not row_id:
                if isinstance(other, str):
                    held[h] = {other, row_id}
                else:
                    other.add(row_id)
            out.append(h)
        return out
