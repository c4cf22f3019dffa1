"""Steps to undo and redo, kept in the database (its `meta`, never synced)
so that they outlast the program that made them: a window closed or
crashed and opened again, or one command line after another.

A step is what a person did at once (a status given to five units, a file
imported): one or more of this console's operations (Store.undo takes them
back) and what to call it. Each history belongs to one console and one
person: a database restored from a backup continues under another replica
id, and a shift change starts the next person with none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from console import clock
from console.model import ValidationError
from console.store import NotFound, Operation, Store, StoreError, Undone

log = logging.getLogger(__name__)

UNDO_DEPTH = 100  # steps kept for undo
# How long kept steps are offered again: the window's, for a window opened
# again soon after it closed (a crash, a reboot), not to the next person at
# the console tomorrow; the command line's, for a shift.
KEPT_MINUTES = {"window": 60, "command line": 12 * 60}


class UndoStep(NamedTuple):
    """One thing a person did (a status given to five units, a file
    imported, a row deleted): its operations, and what to call it."""

    ops: tuple[Operation, ...]
    text: str


def step_of(ops: Sequence[Operation | None]) -> UndoStep | None:
    """One step of several operations (a status given in several
    transactions, conflicts reconciled row by row), named by the first
    ("… (and 2 more)"); None if none of them changed rows."""
    ops = tuple(op for op in ops if op is not None and op.undoable)
    if not ops:
        return None
    return UndoStep(ops, ops[0].text if len(ops) == 1 else f"{ops[0].text} (and {len(ops) - 1} more)")


class History:
    """The steps to undo and redo of the window (`kind` "window"), or of
    one person's command lines ("command line"), on one console."""

    def __init__(self, store: Store, kind: str) -> None:
        self.store = store
        # The window's is one, whoever is at it (a shift change empties
        # it); command lines keep one per person.
        self.key = "undo:window" if kind == "window" else f"undo:{kind}:{store.operator}"
        self.kept_ms = KEPT_MINUTES[kind] * 60_000
        self.undo_steps: list[UndoStep] = []
        self.redo_steps: list[UndoStep] = []
        self.load()

    def load(self) -> None:
        """Take up the steps kept, if they are this console's (the same
        replica) and this person's, and were kept recently enough (see
        KEPT_MINUTES); steps that cannot be read are left out."""
        kept = self.store.kept(self.key)
        self.undo_steps, self.redo_steps = [], []
        if not isinstance(kept, dict) or kept.get("replica") != self.store.replica_id \
                or kept.get("operator") != self.store.operator:
            return
        saved = kept.get("saved_ms")
        if type(saved) is not int or not 0 <= clock.wall_ms() - saved <= self.kept_ms:
            return
        origin = self.store.replica_id

        def steps(raw: Any) -> list[UndoStep]:
            return [UndoStep(tuple(Operation(origin, int(first), int(last), str(text), bool(undoable))
                                   for first, last, text, undoable in ops), str(said))
                    for said, ops in raw][-UNDO_DEPTH:]

        try:
            self.undo_steps, self.redo_steps = steps(kept.get("undo", [])), steps(kept.get("redo", []))
        except (TypeError, ValueError):
            log.warning("the steps to undo kept in the database cannot be read; they are left out")
            self.undo_steps, self.redo_steps = [], []

    def save(self) -> None:
        """Keep the steps in the database. A failure is logged, not raised:
        the steps themselves are written, only their undo would not
        outlast this program."""
        def steps(stack: list[UndoStep]) -> list:
            return [[s.text, [[o.first, o.last, o.text, o.undoable] for o in s.ops]] for s in stack]

        try:
            self.store.keep(self.key, {"replica": self.store.replica_id, "operator": self.store.operator,
                                       "saved_ms": clock.wall_ms(),
                                       "undo": steps(self.undo_steps), "redo": steps(self.redo_steps)})
        except StoreError as exc:
            log.warning("could not keep the steps to undo in the database: %s", exc)

    def push(self, step: UndoStep) -> None:
        """A new step: the newest to undo; nothing is left to redo."""
        self.undo_steps.append(step)
        del self.undo_steps[:-UNDO_DEPTH]
        self.redo_steps.clear()

    def took(self, ops: Sequence[Operation | None]) -> bool:
        """A step of the operations that changed rows (a note cannot be
        taken back); whether there was one (see step_of)."""
        step = step_of(ops)
        if step is not None:
            self.push(step)
        return step is not None

    def forget(self) -> None:
        self.undo_steps.clear()
        self.redo_steps.clear()

    def take_back(self, *, redo: bool = False) -> Undone | None:
        """Undo the newest step (or redo the newest undone), None if there is
        none. A step nothing of which can be taken back (changed since on
        other consoles, or gone from the database) is dropped, and the
        error says why; an error of the database (busy, disk full) keeps
        it for another try."""
        take, put = (self.redo_steps, self.undo_steps) if redo else (self.undo_steps, self.redo_steps)
        if not take:
            return None
        step = take[-1]
        try:
            done = self.store.undo(step.ops, redo=redo, text=step.text)
        except (ValidationError, NotFound):  # nothing left to undo there: do not offer it again
            take.pop()
            raise
        take.pop()
        put.append(UndoStep((done.operation,), step.text))
        return done
