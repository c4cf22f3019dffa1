"""The journal dock's model: the activity log, read a page at a time, with
entries arriving inserted in their place, a search that reads a slice per
turn of the event loop, and the export of an ICS 214 activity log."""

from __future__ import annotations

import bisect
from collections.abc import Generator, Iterable

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QStyledItemDelegate

from console import model
from console.store import JournalKey, Store, short_id
from console.ui.models import RECORD_ROLE, Scheduler, local_time, zone_name

JOURNAL_PAGE = 500  # journal entries read at first, and each time the view reaches the end
# Entries that arrived, read per turn of the event loop, newest first: each
# turn then also lays out only these (about 3 ms for 100; the rest are
# measured already).
JOURNAL_ADD_SLICE = 100
# Entries looked at per turn of the event loop by a filter that must read
# each entry (a search, an agency): about 7 ms on this machine.
JOURNAL_SCAN = 2000


class JournalModel(QAbstractListModel):
    """The journal, newest first, read a page at a time.

    It holds the newest JOURNAL_PAGE entries that pass its filters and reads
    older ones when the view reaches the end (fetchMore), so the whole of a
    long operation is there to scroll through. An entry committed later,
    here, by sync or by another program, is inserted where it belongs by its
    time (one written on a console that was offline for hours lands hours
    down), and nothing is reset: the entries a person reads and selects stay
    where they are. A filter that must look at every entry (text, an agency)
    reads JOURNAL_SCAN entries per turn of the event loop, so a search
    through days of journal never freezes the window; `state_changed` says
    how far it has got."""

    state_changed = Signal()

    def __init__(self, store: Store, parent=None, *, scheduler: Scheduler | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.scheduler = scheduler or Scheduler(self)
        self.agency: str | None = None
        self.table: str | None = None
        self.row: str | None = None
        self.text = ""  # casefolded
        self.entries: list[model.JournalEntry] = []
        self._keys: list[tuple[int, str]] = []  # (-clock, id): ascending in the journal's order
        self._ids: set[str] = set()
        self.read_to: JournalKey | None = None  # every entry down to this one has been looked at
        self.exhausted = False  # ... and there is none older
        self._want = JOURNAL_PAGE
        self._new: list[int] = []  # clock times of entries committed since, to look at: newest first
        self._texts: dict[str, str] = {}  # entry id -> what its row shows
        self.reload()

    # ---------------------------------------------------------------- reading

    def set_filter(self, *, agency: str | None = None, table: str | None = None, row: str | None = None,
                   text: str = "") -> None:
        """Show only the entries of one agency, about one row, or holding
        `text` (in the entry, its agency or its operator)."""
        text = " ".join(text.split()).casefold()
        if (agency, table, row, text) != (self.agency, self.table, self.row, self.text):
            self.agency, self.table, self.row, self.text = agency or None, table, row, text
            self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self.entries, self._keys, self._ids = [], [], set()
        self.read_to, self.exhausted, self._want = None, False, JOURNAL_PAGE
        self._new = []  # what they were is read now
        self._texts = {}
        self.endResetModel()
        self._read()

    @property
    def searching(self) -> bool:
        """Still reading towards the entries asked for."""
        return not self.exhausted and len(self.entries) < self._want

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: B008 (Qt's signature)
        return not parent.isValid() and not self.exhausted and not self.searching

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._want = len(self.entries) + JOURNAL_PAGE
            self._read()

    def _scanning(self) -> bool:
        # Reading by the journal's own indexes finds exactly the entries
        # wanted; text, or an agency for the whole journal, has to look at each.
        return bool(self.text) or (self.agency is not None and self.row is None)

    def _read(self) -> None:
        if self._read_step():
            self.scheduler.want(self._read_step)
        self.state_changed.emit()

    def _read_step(self) -> bool:
        """Read on towards the entries wanted; whether more is to read."""
        if not self.searching:
            return False
        filters = {"table": self.table, "row": self.row, "agency": self.agency}
        if self._scanning():
            mark = self.store.journal_mark(JOURNAL_SCAN, self.read_to)
            page = self.store.journal_page(before=self.read_to, down_to=mark, **filters)
            self.exhausted = mark is None
            self.read_to = mark or self.read_to
            page = [(k, e) for k, e in page if self._matches(e)]
        else:
            wanted = self._want - len(self.entries)
            page = self.store.journal_page(limit=wanted, before=self.read_to, **filters)
            self.exhausted = len(page) < wanted
            if page:
                self.read_to = page[-1][0]
        page = [(k, e) for k, e in page if e.id not in self._ids]
        if page:
            first = len(self.entries)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            for (hlc, eid), e in page:
                self.entries.append(e)
                self._keys.append((-hlc, eid))
                self._ids.add(e.id)
            self.endInsertRows()
        if not self.searching:
            self.state_changed.emit()
        return self.searching

    def _matches(self, e: model.JournalEntry) -> bool:
        return _holds(self.text, e)

    def add_entries(self, clock_times: Iterable[int]) -> None:
        """Entries committed since (their clock times): each that passes the
        filters and lies within what has been read is inserted in its place;
        older ones are found when reading gets to them. They are read newest
        first, JOURNAL_ADD_SLICE per turn of the event loop: a catch-up
        brings tens of thousands, and only the newest of them stay."""
        new = set(clock_times)
        if new:
            self._new = sorted(new.union(self._new), reverse=True)
            self.scheduler.want(self._add_step)

    def _add_step(self) -> bool:
        if self.read_to is None and not self.exhausted:
            self._new = []  # nothing read yet: the reading will find them
            return False
        times, self._new = self._new[:JOURNAL_ADD_SLICE], self._new[JOURNAL_ADD_SLICE:]
        floor = None if self.exhausted else (-self.read_to[0], self.read_to[1])
        if floor is not None and times and -times[-1] > floor[0]:
            # Older than all that has been read: so is the rest.
            self._new = []
            times = [t for t in times if -t <= floor[0]]
        if not times:
            return False
        found: list[tuple[tuple[int, str], model.JournalEntry]] = []
        # (Found by clock time alone, so that SQLite looks each one up, and
        # held to the floor here.)
        for (hlc, eid), e in self.store.journal_page(at=times, table=self.table, row=self.row, agency=self.agency):
            key = (-hlc, eid)
            if (floor is None or key <= floor) and e.id not in self._ids and self._matches(e):
                found.append((key, e))
        # Inserted from the end, so that every place found still holds.
        found.sort(key=lambda ke: ke[0], reverse=True)
        i = 0
        while i < len(found):
            at = bisect.bisect_left(self._keys, found[i][0])
            j = i + 1
            while j < len(found) and bisect.bisect_left(self._keys, found[j][0]) == at:
                j += 1
            run = found[i:j][::-1]  # the run in the journal's order
            self.beginInsertRows(QModelIndex(), at, at + len(run) - 1)
            self._keys[at:at] = [k for k, _ in run]
            self.entries[at:at] = [e for _, e in run]
            self._ids.update(e.id for _, e in run)
            self.endInsertRows()
            i = j
        if self._new and len(self.entries) > self._want:
            self._trim(self._want)  # more is coming: the floor rises, and what is below it is not read
        else:
            self._trim()
        return bool(self._new)

    def _trim(self, most: int | None = None) -> None:
        # However much arrives, the list holds about what the person has
        # asked to see (at most `most`, or a page more than that, so that
        # not every entry arriving drops one): the oldest beyond that are
        # let go, to be read again if the view reaches the end.
        if len(self.entries) <= (most if most is not None else self._want + JOURNAL_PAGE):
            return
        keep = self._want
        self.beginRemoveRows(QModelIndex(), keep, len(self.entries) - 1)
        for e in self.entries[keep:]:
            self._ids.discard(e.id)
            self._texts.pop(e.id, None)
        del self.entries[keep:], self._keys[keep:]
        self.endRemoveRows()
        neg, eid = self._keys[-1]
        self.read_to, self.exhausted = (-neg, eid), False
        self.state_changed.emit()

    def export(self, path: str) -> Generator[int, None, int]:
        """Write every entry that passes the filters to `path` as CSV,
        oldest first, the order of an ICS 214 activity log, however much of
        it has been read here. A generator: each step reads JOURNAL_SCAN
        entries and yields how many it has found; the file is written at the
        end, through a temporary file, so a failed export leaves whatever
        was there; it returns how many entries it wrote."""
        import csv
        import io
        import os

        # The filters of now, even if they change meanwhile.
        filters = {"table": self.table, "row": self.row, "agency": self.agency}
        text = self.text
        chunks, found, before = [], 0, None
        while True:
            mark = self.store.journal_mark(JOURNAL_SCAN, before)
            page = [e for _, e in self.store.journal_page(before=before, down_to=mark, **filters) if _holds(text, e)]
            buf = io.StringIO()
            w = csv.writer(buf)
            for e in reversed(page):
                w.writerow([local_time(e.at), e.at, e.agency, e.operator, e.action, e.text])
            chunks.append(buf.getvalue())
            found += len(page)
            if mark is None:
                break
            before = mark
            yield found
        tmp = f"{path}.part"
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerow([f"Time ({zone_name()})", "Time (UTC)", "Agency", "Operator", "Action",
                                         "Entry"])
                fh.writelines(reversed(chunks))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return found

    def row_of(self, entry_id: str) -> int | None:
        for i, e in enumerate(self.entries):
            if e.id == entry_id:
                return i
        return None

    # ------------------------------------------------------------------- Qt

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        # Asked for each of a dozen roles whenever an entry is measured or
        # painted: the roles not shown are turned away first.
        if role not in _JOURNAL_ROLES:
            return None
        row = index.row()
        if not 0 <= row < len(self.entries):
            return None
        e = self.entries[row]
        if role == _DISPLAY:
            text = self._texts.get(e.id)
            if text is None:
                text = self._texts[e.id] = f"{local_time(e.at)}  {e.agency} ({e.operator})\n{e.text}"
            return text
        if role == RECORD_ROLE:
            return e
        about = f"\nAbout: {e.tbl} {short_id(e.row_id)}" if e.tbl and e.row_id else ""
        return (f"{local_time(e.at)} {zone_name()} ({e.at})\n{e.agency}, {e.operator}, "
                f"console {short_id(e.console or '')}\nAction: {e.action}{about}")


def _holds(text: str, e: model.JournalEntry) -> bool:
    """Whether a journal entry holds `text` (casefolded), in itself, its
    agency or its operator."""
    return not text or text in f"{e.text} {e.agency or ''} {e.operator or ''}".casefold()


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_JOURNAL_ROLES = frozenset({_DISPLAY, int(Qt.ItemDataRole.ToolTipRole), int(RECORD_ROLE)})


class JournalDelegate(QStyledItemDelegate):
    """Journal entries, wrapped, each measured once for each width (and text
    size) it is shown at: the view lays every entry out again whenever one
    arrives, and measuring wrapped text (the delegate asking the model for
    each of its roles) is what takes the time: about 15 ms for 500."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._sizes: dict[tuple[str, int, float], object] = {}

    def sizeHint(self, option, index):
        # The entry straight from the model: asking through data() costs a
        # call per role.
        entries = getattr(index.model(), "entries", None)
        if entries is None or not 0 <= index.row() < len(entries):
            return super().sizeHint(option, index)
        key = (entries[index.row()].id, option.rect.width(), option.font.pointSizeF())
        size = self._sizes.get(key)
        if size is None:
            if len(self._sizes) > 20 * JOURNAL_PAGE:  # widths and entries long gone
                self._sizes.clear()
            size = self._sizes[key] = super().sizeHint(option, index)
        return size
