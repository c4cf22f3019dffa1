"""Pure merge rules, shared by every console so they all decide alike.

A change is one field of one row (or, for `insert`, a whole new row). Each
`set` names in `prev` the versions of that field its writer had when writing
it. Per field, the *heads* are the changes no other change on that field
replaced. With one head the field is settled; with several heads holding
different values, writers collided without seeing each other: a conflict. The
shown value is always the last-writer-wins winner, ordered by (HLC, origin).

Because heads are a function of the set of changes held, not of the order they
arrived in, every console that holds the same changes computes the same values
and the same conflicts.

Kinds of change:
  insert   a new row; value is a dict of its fields; the root of every field
  set      one field's new value; prev = the heads it replaced (an undo of
           a unit's status also names the older version whose status it
           gives back, already replaced: its time is the status's time; a
           merge of units names the other units' status versions, of other
           rows, whose time the status it takes keeps)
  add      a counter delta (resource quantities); never conflicts, all count
  delete   the `deleted` field set true; prev = the heads of every field of
           the row it saw, so an edit it did not see raises a conflict
  resolve  a person's reconciliation: replaces all the heads of a field
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

KINDS = ("insert", "set", "add", "delete", "resolve")
ROW_FIELD = "*"  # the field name an insert change is filed under


class ChangeId(NamedTuple):
    origin: str
    seq: int


class Change(NamedTuple):
    """One entry of the change log, as stored and as sent to peers."""

    origin: str
    seq: int
    hlc: int
    table: str
    row: str
    field: str
    kind: str
    value: Any
    prev: tuple[tuple[str, int], ...]
    operator: str
    agency: str

    @property
    def id(self) -> tuple[str, int]:
        return (self.origin, self.seq)


class Head(NamedTuple):
    """A field version nothing has replaced yet. `value` is canonical JSON."""

    origin: str
    seq: int
    hlc: int
    kind: str
    value: str
    prev: tuple[tuple[str, int], ...]

    @property
    def id(self) -> tuple[str, int]:
        return (self.origin, self.seq)


class Conflict(NamedTuple):
    """Writes that collided, identical on every console holding them.

    For a field conflict, `field` is the field and the candidates are its
    heads. For an edit against a delete, `field` is "deleted", the first
    candidates are the deletes and the rest the edits they did not see.
    Each candidate is (the field it wrote, its head).
    """

    id: str
    table: str
    row: str
    field: str
    kind: str  # "field" | "delete"
    candidates: tuple[tuple[str, Head], ...]


def order_key(h: Head | Change) -> tuple[int, str]:
    return (h.hlc, h.origin)


def winner(heads: Iterable[Head]) -> Head:
    """The last writer: highest HLC, ties broken by origin id."""
    return max(heads, key=order_key)


def conflict_id(table: str, row: str, field: str, heads: Iterable[Head]) -> str:
    ids = sorted(f"{h.origin}:{h.seq}" for h in heads)
    text = "|".join([table, row, field, *ids])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def field_conflict(table: str, row: str, field: str, heads: Sequence[Head]) -> Conflict | None:
    """The conflict among a field's heads, if its writers disagree."""
    if len(heads) < 2 or len({h.value for h in heads}) < 2:
        return None
    if all(h.kind == "resolve" for h in heads):
        # Two people reconciled the same collision at once, each on purpose:
        # the later resolution stands rather than reopening the argument.
        return None
    cands = tuple((field, h) for h in sorted(heads, key=order_key))
    return Conflict(conflict_id(table, row, field, heads), table, row, field, "field", cands)


# The fields that still mean something once their row is deleted: whether
# it is, and a stock item merged away's item that counts its stock.
FIELDS_OF_THE_DELETED = frozenset({"deleted", "merged_into"})


def delete_conflict(
    table: str, row: str, heads: Mapping[str, Sequence[Head]]
) -> Conflict | None:
    """The conflict between a row's delete and edits the delete did not see."""
    deletes = heads.get("deleted", ())
    if not deletes or winner(deletes).value != "true":
        return None
    seen: set[tuple[str, int]] = set()
    for d in deletes:
        seen.add(d.id)
        seen.update(tuple(p) for p in d.prev)
    unseen = [
        (field, h)
        for field, hs in heads.items()
        if field not in FIELDS_OF_THE_DELETED  # (a stock item's merged_into is no edit against its delete)
        for h in hs
        if h.id not in seen
    ]
    if not unseen:
        return None
    dels = [("deleted", d) for d in sorted(deletes, key=order_key) if d.value == "true"]
    unseen.sort(key=lambda fh: order_key(fh[1]))
    cands = tuple(dels + unseen)
    cid = conflict_id(table, row, "deleted", [h for _, h in cands])
    return Conflict(cid, table, row, "deleted", "delete", cands)


def row_conflicts(table: str, row: str, heads: Mapping[str, Sequence[Head]]) -> list[Conflict]:
    """Every open conflict of one row, given the heads of all its fields.

    A row deleted (its delete the last writer) has no conflicts on the
    fields it shows on a board: it is on none, and a delete made knowingly,
    after the collision, is a decision about the whole row. Those
    collisions are kept in the heads all the same, and open again if the
    row is restored. Edits a delete did not see are its own conflict
    (delete_conflict); a delete against a restore, and two merges of a
    stock item into different ones, stay conflicts (FIELDS_OF_THE_DELETED)."""
    deletes = heads.get("deleted", ())
    gone = bool(deletes) and winner(deletes).value == "true"
    found = [
        c
        for field, hs in sorted(heads.items())
        if not (gone and field not in FIELDS_OF_THE_DELETED)
        and (c := field_conflict(table, row, field, hs)) is not None
    ]
    if (d := delete_conflict(table, row, heads)) is not None:
        found.append(d)
    return found
