"""The window's one way to the operation: local operations on the store and
one `changed` signal, whether a change was made here or arrived by sync.

The bridge owns the window's own store connection (on the GUI thread; a
local operation is one short transaction). The sync engine, if any, runs in
a child process (console/sync/child.py: EngineProcess) or, in tests, on the
same asyncio loop (Engine) with its own connection on its own thread; its
events come back here and are re-emitted as Qt signals, in the manner of
Electrum's QtEventListener.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, QTimer, Signal

from console.history import History, UndoStep, step_of
from console.store import ChangeSet, Operation, Store, Undone

log = logging.getLogger(__name__)

SHOW_SLICE = 500  # changes read per origin per turn of the event loop


class Bridge(QObject):
    """Operations for the window, and what changed."""

    changed = Signal(object)  # a ChangeSet: tables, rows, whether conflicts changed
    sync_status = Signal(object)  # Engine.status() as a dict, about once a second
    undo_changed = Signal()  # what Undo and Redo would do has changed

    def __init__(self, store: Store, engine=None, parent=None, make_engine=None) -> None:
        super().__init__(parent)
        self.store = store
        self.engine = None
        # peers -> a sync engine (not started) dialling them: how a window
        # opened without sync starts it when told to connect (connect_to).
        self.make_engine = make_engine
        self._unsubscribe = store.subscribe(self._on_commit)
        # What this window has shown, per origin: commits by other
        # connections (the command line, an import from a USB stick) are
        # found as what lies beyond it.
        self._shown: dict[str, int] = {o: m for o, (_, m) in store.replica_marks().items()}
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._poll_status)
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(500)
        self._watch_timer.timeout.connect(self._watch_other_writers)
        # The next slice of a catch-up when no window schedules it (a
        # timer of the bridge's own, stopped on closing: a store closed
        # next is not read again).
        self._more_timer = QTimer(self)
        self._more_timer.setSingleShot(True)
        self._more_timer.setInterval(0)
        self._more_timer.timeout.connect(self._show_other_writers)
        self._closed = False
        self._data_version = store.data_version()
        if engine is not None:
            self._attach(engine)
        else:
            self._watch_timer.start()
        self._status_task = None
        self._starting = None  # the engine being started (see connect_to)
        # The last status said, for a view opened between two (the Peers
        # dialog would show no peer's state for up to a second).
        self.last_status: dict | None = None
        self.sync_status.connect(self._remember_status)
        # Where to queue slices of work (set by the window: its Scheduler).
        self.scheduler = None
        # What this window did, newest last: every local write made through
        # this store is a step, or part of the step being grouped. Kept in
        # the database whenever it changes, so that it outlasts a restart
        # of the window (a crash, a laptop rebooted).
        self.history = History(store, "window")
        self._group: list[Operation] | None = None
        self._undoing = False
        self.undo_changed.connect(self.history.save)

    def _attach(self, engine) -> None:
        # The engine notices other connections' commits (its own do not
        # count, so a catch-up is not read twice) and says "local_changes".
        self.engine = engine
        engine.on_event = self._on_engine_event
        self._watch_timer.stop()
        self._status_timer.start()

    @property
    def can_sync(self) -> bool:
        """Whether this window syncs, or can start to (see connect_to)."""
        return self.engine is not None or self.make_engine is not None

    def connect_to(self, url: str) -> None:
        """Sync with `url` from now on: dialled by the engine running, or by
        one made now and started in the background (a window opened
        without --peer or --listen), which says why in the status if it
        cannot start. Made and attached at once, so that a second address
        given meanwhile starts no second engine."""
        if self.engine is not None:
            self.engine.add_peer(url)
            return
        import asyncio

        assert self.make_engine is not None
        engine = self.make_engine([url])
        self._attach(engine)
        task = asyncio.ensure_future(self._start(engine))
        self._starting = task  # held until done: a task only the loop refers to may be collected
        task.add_done_callback(_log_failure)

    async def _start(self, engine) -> None:
        await engine.start_or_retry()
        self._poll_status()

    # ------------------------------------------------------------ operations

    def add(self, table: str, values: dict[str, Any]) -> str:
        return self.store.add(table, values)

    def update(self, table: str, row_id: str, values: dict[str, Any]) -> None:
        self.store.update(table, row_id, values)

    def add_many(self, table: str, rows: list[dict[str, Any]], **kwargs) -> list[str]:
        return self.store.add_many(table, rows, **kwargs)

    def delete(self, table: str, row_id: str) -> None:
        self.store.delete(table, row_id)

    def delete_many(self, table: str, row_ids: list[str]) -> None:
        self.store.delete_many(table, row_ids)

    def set_status(self, row_ids: list[str], status: str) -> None:
        self.store.update_many("units", row_ids, {"status": status})

    def set_task_status(self, task_ids: list[str], status: str, release: Sequence[str] = ()) -> None:
        """Tasks' status, and units released from them (made available, so
        off their tasks), as one step to undo."""
        with self.one_step():
            self.store.update_many("tasks", task_ids, {"status": status})
            if release:
                self.store.update_many("units", release, {"status": "available"})

    def assign(self, row_ids: list[str], task_id: str | None) -> None:
        self.store.update_many("units", row_ids, {"task_id": task_id})

    def adjust(self, resource_id: str, delta: float, purpose: str | None = None) -> float:
        return self.store.adjust(resource_id, delta, purpose)

    def check_in(self, unit_ids: list[str], said: str | None = None) -> None:
        self.store.check_in(unit_ids, said)

    def note(self, text: str, table: str | None = None, row_id: str | None = None) -> None:
        self.store.note(text, table, row_id)

    def resolve(self, conflict_id: str, *, keep: int | None = None, raw: str | None = None) -> None:
        self.store.resolve(conflict_id, keep=keep, raw=raw)

    def merge_units(self, unit_ids: list[str], *, keep: str | None = None) -> str:
        return self.store.merge_units(unit_ids, keep=keep)

    def merge_tasks(self, task_ids: list[str], *, keep: str | None = None) -> str:
        return self.store.merge_tasks(task_ids, keep=keep)

    def merge_resources(self, resource_ids: list[str], *, keep: str | None = None) -> str:
        return self.store.merge_resources(resource_ids, keep=keep)

    def merge_many(self, groups: list[list[str]]) -> None:
        """Merge each group of units into its first added, with its values:
        one transaction each, one step to undo."""
        with self.one_step():
            for ids in groups:
                self.store.merge_units(ids)

    def resolve_many(self, keep: dict[str, int]) -> None:
        with self.one_step():  # one transaction per row's conflicts: one step
            self.store.resolve_many(keep)

    # ------------------------------------------------------------ undo

    @contextlib.contextmanager
    def one_step(self) -> Iterator[None]:
        """What is done within, in one or many transactions: one step to
        undo (within another, part of that one)."""
        if self._group is not None:
            yield
            return
        self._group = []
        try:
            yield
        finally:
            ops, self._group = self._group, None
            step = step_of(ops)
            if step is not None:
                self._push(step)

    @property
    def undo_steps(self) -> list[UndoStep]:
        return self.history.undo_steps

    @property
    def redo_steps(self) -> list[UndoStep]:
        return self.history.redo_steps

    def _push(self, step: UndoStep) -> None:
        self.history.push(step)
        self.undo_changed.emit()

    def _took(self, op: Operation | None) -> None:
        """A local write committed: a step to undo, unless it is an undo or
        a redo itself, or only wrote to the journal (a note stays)."""
        if op is None or not op.undoable or self._undoing:
            return
        if self._group is not None:
            self._group.append(op)
        else:
            self._push(UndoStep((op,), op.text))

    def forget_undo(self) -> None:
        """Nothing to undo or redo (another person is at the console now)."""
        self.history.forget()
        self.undo_changed.emit()

    def undo(self) -> Undone | None:
        """Take back the newest step (see History.take_back)."""
        return self._undo(redo=False)

    def redo(self) -> Undone | None:
        return self._undo(redo=True)

    def _undo(self, *, redo: bool) -> Undone | None:
        if not (self.redo_steps if redo else self.undo_steps):
            return None
        self._undoing = True
        try:
            return self.history.take_back(redo=redo)
        finally:
            self._undoing = False
            self.undo_changed.emit()

    # ---------------------------------------------------------------- events

    def _announce(self, cs: ChangeSet) -> None:
        # What is shown moves on only with no gap: another program writing
        # to this database (the command line) makes changes of this
        # console's own replica too, and those not read yet sit below this
        # commit's. Marking past them would leave them off the boards.
        for c in sorted(cs.changes, key=lambda c: (c.origin, c.seq)):
            if c.seq == self._shown.get(c.origin, 0) + 1:
                self._shown[c.origin] = c.seq
        self.changed.emit(cs)

    def _on_commit(self, cs: ChangeSet) -> None:
        # A local operation committed: show it, and push it to peers now.
        if cs.local:
            self._took(self.store.last_operation)
        self._announce(cs)
        if self.engine is not None:
            self.engine.notify()

    def _on_engine_event(self, name: str, payload: Any) -> None:
        if name == "changes":  # remote changes committed by the engine
            if payload is None:  # from another process: read what they were
                self._show_other_writers()
            else:
                self._announce(payload)
        elif name == "local_changes":  # another connection committed
            self._show_other_writers()
        elif name in ("peers", "progress"):
            self._poll_status()

    def _watch_other_writers(self) -> None:
        self.store.check_file()  # its file deleted or replaced: said (see MainWindow.database_failed)
        version = self.store.data_version()  # changes only for other connections' commits
        if version != self._data_version:
            self._data_version = version
            self._show_other_writers()

    def _show_other_writers(self) -> None:
        # A catch-up of 100k changes is read a slice at a time, each in its
        # own turn of the event loop, so the window keeps painting.
        if self._closed:  # a slice queued before closing: the store may be closed
            return
        marks, touched, more = self.store.changed_since(self._shown, limit=SHOW_SLICE)
        if more:
            if self.scheduler is not None:  # the window's: one slice per turn, in turn with the boards
                self.scheduler.want(self._show_slice)
            else:
                self._more_timer.start()
        if not marks:
            return
        self._shown.update(marks)
        rows = frozenset((t, r) for t, r, _, _ in touched)
        changes = tuple(_Touched(t, r, f, hlc) for t, r, f, hlc in touched)
        self.changed.emit(ChangeSet(tables=frozenset(t for t, _ in rows), rows=rows, local=False,
                                    conflicts=True, changes=changes))

    def _show_slice(self) -> bool:
        self._show_other_writers()  # queues itself again while more remain
        return False

    def _remember_status(self, status) -> None:
        self.last_status = status

    def _poll_status(self) -> None:
        import asyncio

        if self.engine is None:
            return
        if not self.engine.running:
            failure = getattr(self.engine, "failure", None)
            if failure:  # the engine died and is being restarted: say so
                self.sync_status.emit({"peers": [], "outbox": self.store.outbox(), "listening": None,
                                       "last_exchange": None, "engine_error": failure})
            return
        if self._status_task is not None and not self._status_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._status_task = loop.create_task(self._read_status())

    async def _read_status(self) -> None:
        from console.sync.transport import SyncError  # only with an engine: keeps a plain launch light

        try:
            status = await self.engine.status()
        except SyncError as exc:  # the engine stopped meanwhile (closing, or it failed: it logged why)
            log.debug("no sync status: %s", exc)
            return
        except Exception:
            log.exception("could not read the sync status")
            return
        self.sync_status.emit(status)

    def close(self) -> None:
        self.history.save()  # closed now: offered again if the window opens again soon (see History)
        self.stop()

    def stop(self) -> None:
        """No more looking at the database (a window that could not open):
        its timers stopped, nothing kept."""
        self._closed = True
        self._status_timer.stop()
        self._watch_timer.stop()
        self._more_timer.stop()
        self._unsubscribe()


def _log_failure(task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("could not start sync", exc_info=task.exception())


class _Touched(NamedTuple):
    """What the window needs of a change made elsewhere: where it landed
    (and, for a journal entry, its clock time: its place in the journal)."""

    table: str
    row: str
    field: str
    hlc: int
