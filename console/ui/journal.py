"""The journal dock: the activity log, read a page at a time, with entries
arriving inserted in their place, a search that reads a slice per turn of
the event loop, and the export of an ICS 214 activity log."""

from __future__ import annotations

import bisect
import csv
import heapq
import html
import io
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable

from PySide6.QtCore import QAbstractListModel, QEvent, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from console import clock, files, model
from console.model import ValidationError
from console.store import JournalKey, Store, StoreError, short_id
from console.ui.models import (
    DUE_SOON_COLOUR,
    FRESH_SECONDS,
    RECORD_ROLE,
    Scheduler,
    ToneLabel,
    dark,
    file_word,
    fresh_tint,
    local_time,
    names_combo,
    plain,
    span_text,
    tone,
    zone_name,
)

log = logging.getLogger(__name__)

JOURNAL_PAGE = 500  # journal entries read at first, and each time the view reaches the end
# Entries that arrived, read per turn of the event loop, newest first: each
# turn then also lays out only these (about 3 ms for 100; the rest are
# measured already).
JOURNAL_ADD_SLICE = 100
# Entries looked at per turn of the event loop by a filter that must read
# each entry (a search, an agency): about 7 ms on this machine, the words
# looked for by SQLite (Store.journal_page's `holding`). A long
# operation's 330,000 entries are searched in 1.6 s; twice as many a turn
# took 1.5 s, and stalled the window 25 ms rather than 10 to 17.
JOURNAL_SCAN = 2000
# An entry another console wrote is tinted as it arrives, as a board's
# cells are (FRESH_SECONDS). One written more than LATE_MS before it
# arrived (on a console that was offline) lands that far down, by its time:
# it stays tinted for LATE_SECONDS, and the dock says it arrived.
LATE_MS = 5 * 60 * 1000
LATE_SECONDS = 10 * 60.0
# Of those, the newest kept to show (the dock counts them all): a console
# joining a long operation has hundreds of thousands arrive late, and
# keeping every one, sorted again as each slice came, was the window's
# largest cost while it caught up.
LATE_KEPT = 1000
# An export of the journal to CSV, per turn of the event loop: entries read
# and made CSV (about 13 ms on this machine; JOURNAL_SCAN of them, 25 ms,
# stalled the window 50 ms), then entries written to the file (about 10 ms).
EXPORT_SCAN = 1000
EXPORT_WRITE_ROWS = 40_000


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
    # Entries written well before they arrived (their console was offline)
    # were put in their place: [(clock time, entry id)], newest first.
    late_arrived = Signal(object)
    # The agencies of entries arriving, whatever the filters (the agency
    # filter offers each: see JournalDock._agencies).
    agencies_seen = Signal(object)
    tinted = Signal()  # entries from other consoles arrived, tinted for a while (see `arrived`)

    def __init__(self, store: Store, parent=None, *, scheduler: Scheduler | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.scheduler = scheduler or Scheduler(self)
        self.dark = dark()  # shown in a dark scheme: its tint (the window says when it changes)
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
        # Entries other consoles wrote, as they arrived: id -> (when, how long it stays tinted).
        self.arrived: dict[str, tuple[float, float]] = {}
        self.reload()

    # ---------------------------------------------------------------- reading

    def set_filter(self, *, agency: str | tuple[str, ...] | None = None, table: str | None = None,
                   row: str | None = None, text: str = "") -> None:
        """Show only the entries of one agency (a name, or the names it is
        written as), about one row, or holding `text` (in the entry, its
        agency or its operator)."""
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
            page = self.store.journal_page(before=self.read_to, down_to=mark, holding=self.text or None, **filters)
            self.exhausted = mark is None
            self.read_to = mark or self.read_to
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
        # (And of any agency, held to the filter here, so that a new way of
        # writing the agency picked is seen: it is shown too.)
        agency = {self.agency} if isinstance(self.agency, str) else set(self.agency or ())
        page = self.store.journal_page(at=times, table=self.table, row=self.row)
        seen = {e.agency for _, e in page if e.agency}
        if seen:
            self.agencies_seen.emit(seen)
        for (hlc, eid), e in page:
            key = (-hlc, eid)
            if agency and e.agency not in agency:
                continue
            if (floor is None or key <= floor) and e.id not in self._ids and self._matches(e):
                found.append((key, e))
        self._mark_arrived(found)
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
        if found:
            self.state_changed.emit()  # the count under the journal ("All 55 entries")
        return bool(self._new)

    def _mark_arrived(self, found: list[tuple[tuple[int, str], model.JournalEntry]]) -> None:
        now, own = time.monotonic(), self.store.replica_id
        late_before = clock.pack(clock.wall_ms() - LATE_MS)
        late = []
        for (neg_hlc, eid), e in found:
            if e.console == own:
                continue
            if -neg_hlc < late_before:
                late.append((-neg_hlc, eid))
                self.arrived[eid] = (now, LATE_SECONDS)
            else:
                self.arrived[eid] = (now, FRESH_SECONDS)
        if late:
            self.late_arrived.emit(sorted(late, reverse=True))
        if self.arrived:
            self.tinted.emit()

    def expire_arrived(self) -> None:
        """Forget the tints that have faded."""
        now = time.monotonic()
        for eid in [i for i, (at, last) in self.arrived.items() if now - at >= last]:
            del self.arrived[eid]

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

    def export(self, path: str) -> Generator[tuple[int, int], None, int]:
        """Write every entry that passes the filters to `path` as CSV,
        oldest first, the order of an ICS 214 activity log, however much of
        it has been read here. A generator, each step a slice of the event
        loop's turn: it reads EXPORT_SCAN entries a step (newest first, as
        the journal is kept), yielding (found, 0), then writes them
        EXPORT_WRITE_ROWS a step, oldest first, yielding (found, written).
        The file is written through a temporary file, renamed over `path`
        at the end, so a failed or abandoned export leaves whatever was
        there; it returns how many entries it wrote."""
        # The filters of now, even if they change meanwhile.
        filters = {"table": self.table, "row": self.row, "agency": self.agency}
        text = self.text
        chunks, found, before = [], 0, None
        while True:
            mark = self.store.journal_mark(EXPORT_SCAN, before)
            page = [e for _, e in self.store.journal_page(before=before, down_to=mark, holding=text or None, **filters)]
            buf = io.StringIO()
            w = csv.writer(buf)
            for e in reversed(page):
                w.writerow([local_time(e.at), e.at, *map(model.as_cell, (e.agency, e.operator, e.action, e.text))])
            chunks.append((len(page), buf.getvalue()))
            found += len(page)
            if mark is None:
                break
            before = mark
            yield found, 0
        # Written a part a step too: a long operation's 330,000 entries
        # took 83 ms to write in one go.
        with files.replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([f"Time ({zone_name()})", "Time (UTC)", "Agency", "Operator", "Action", "Entry"])
            written = part = 0
            while chunks:
                n, chunk = chunks.pop()
                fh.write(chunk)
                written, part = written + n, part + n
                if part >= EXPORT_WRITE_ROWS and chunks:
                    part = 0
                    yield found, written
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
                text = self._texts[e.id] = breakable(f"{local_time(e.at)}  {isolated(e.agency)} "
                                                     f"({isolated(e.operator)})\n{e.text}")
            return text
        if role == RECORD_ROLE:
            return e
        if role == _BACKGROUND:
            got = self.arrived.get(e.id)
            if got is None:
                return None
            age = time.monotonic() - got[0]
            return fresh_tint(1 - age / got[1], self.dark) if age < got[1] else None
        arrived = ""
        if (got := self.arrived.get(e.id)) is not None and got[1] == LATE_SECONDS:
            arrived = "\nArrived late: written on a console that was offline, put in its place by time"
        about = f"\nAbout: {e.tbl} {short_id(e.row_id)}" if e.tbl and e.row_id else ""
        return plain(f"{local_time(e.at)} {zone_name()} ({e.at})\n{e.agency}, {e.operator}, "
                     f"console {short_id(e.console or '')}\nAction: {e.action}{about}{arrived}")


# A run of this many characters with no space in it (a web address in a
# note, say) gets a place to break after it, as the journal shows it.
LONG_WORD = 30
_LONG_WORD = re.compile(f"\\S{{{LONG_WORD}}}(?=\\S)")


def breakable(text: str) -> str:
    """An entry as the journal shows it: a line breaks only between words,
    and one word longer than the journal is wide (a web address of 200
    characters) made every entry as wide, cut off on the right behind a
    scroll bar. A zero-width space, where a line may break, follows every
    LONG_WORD characters of such a word. (Copied or exported, an entry is
    as written.)"""
    if len(text) <= LONG_WORD or max(map(len, text.split()), default=0) <= LONG_WORD:  # (nearly all: 1.5 us)
        return text
    return _LONG_WORD.sub(lambda m: m.group() + "\u200b", text)


def isolated(name: str) -> str:
    """A name from another console as a line of the journal shows it
    among other words: one holding a mark of writing direction (a
    right-to-left override, U+202E) would reverse the rest of the line,
    "(Dana) radio check" shown as "kcehc oidar (anaD)". Such a name is
    set apart (a first-strong isolate), its marks acting within it only;
    any other is left as it is."""
    return name if name.isprintable() else f"\u2068{name}\u2069"


def _holds(text: str, e: model.JournalEntry) -> bool:
    """Whether a journal entry holds `text` (casefolded), in itself, its
    agency or its operator, as the store's `holding` finds them."""
    return not text or model.journal_holds(text, e.text, e.agency, e.operator)


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_JOURNAL_ROLES = frozenset({_DISPLAY, int(Qt.ItemDataRole.ToolTipRole), int(RECORD_ROLE), _BACKGROUND})


class JournalDelegate(QStyledItemDelegate):
    """Journal entries, wrapped, each measured once for each width (and text
    size) it is shown at: the view lays every entry out again whenever one
    arrives, and measuring wrapped text (the delegate asking the model for
    each of its roles) is what takes the time: about 15 ms for 500."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._sizes: dict[tuple[str, int, float], object] = {}
        self.measured = 0  # entries measured (each at a width and text size), as the tests count them

    def sizeHint(self, option, index):
        # The entry straight from the model: asking through data() costs a
        # call per role.
        entries = getattr(index.model(), "entries", None)
        if entries is None or not 0 <= index.row() < len(entries):
            return super().sizeHint(option, index)
        eid, width, points = entries[index.row()].id, option.rect.width(), option.font.pointSizeF()
        size = self._sizes.get((eid, width, points))
        if size is None:
            if len(self._sizes) > 4 * len(entries) + JOURNAL_PAGE:
                # Let go of entries no longer held; not of the rest, which
                # measuring all again would cost (30 ms for a thousand
                # entries, every minute or so when entries arrive all the
                # time). The view asks at two or three widths in turn (its
                # layout, its painting), so those stay; only after the dock
                # was resized through many widths, or the text size
                # changed, are the others let go.
                held = {e.id for e in entries}
                kept = {k: v for k, v in self._sizes.items() if k[0] in held}
                if len(kept) > 4 * len(entries):
                    kept = {k: v for k, v in kept.items() if k[1] == width and k[2] == points}
                self._sizes = kept
            size = self._sizes[(eid, width, points)] = super().sizeHint(option, index)
            self.measured += 1
        return size


class _Link(QLabel):
    """A line of text that is a link, wrapped where its room is narrow (a
    button's text would widen its dock). Tab lands on the link itself, so
    Enter follows it: a plain label with a link takes a second Tab."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.said = ""

    def say(self, said: str) -> None:
        """Show `said` as the link, in bold orange (its light tone in a dark
        scheme, and again when the scheme changes)."""
        self.said = said
        self.setText(f'<a href="#late" style="color: {tone(DUE_SOON_COLOUR)}; font-weight: bold; '
                     f'text-decoration: none">{html.escape(said)}</a>')
        self.setAccessibleName(said)  # (what it says, without the markup)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.said:
            self.say(self.said)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        if event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason):
            self.focusNextPrevChild(event.reason() == Qt.FocusReason.TabFocusReason)


class JournalDock(QDockWidget):
    """The journal beside the boards: the entries, newest first, filtered by
    agency, by the row selected on the boards, and by words; a note typed at
    the bottom goes in with Enter. What arrives is looked at 300 ms after
    (a burst of commits is looked at once), and put in its place; the entry
    a person reads stays where it is."""

    show_row = Signal(str, str)  # an entry about a row was opened: (table, row id)
    message = Signal(str)  # for the status bar

    def __init__(self, bridge, scheduler: Scheduler, selected_row: Callable[[], tuple[str, str] | None],
                 parent=None) -> None:
        super().__init__(f"Journal (times in {zone_name()})", parent)
        self.setObjectName("journalDock")
        self.bridge = bridge
        self.scheduler = scheduler
        self._selected_row = selected_row  # the row selected on the board shown, if any
        self.model = JournalModel(bridge.store, self, scheduler=scheduler)
        self.view = QListView()
        self.view.setObjectName("journal")
        self.view.setModel(self.model)
        self.view.setWordWrap(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # (see breakable)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setItemDelegate(JournalDelegate(self.view))
        copy = QAction("Copy", self.view)  # Ctrl+C on the entries
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.triggered.connect(lambda *_: self.copy())
        self.view.addAction(copy)
        # An entry about a unit, task or resource: double-click (or Enter) shows it on its board.
        self.view.activated.connect(self._activated)
        self.model.rowsAboutToBeInserted.connect(self._note_place)
        self.model.rowsInserted.connect(self._keep_place)
        self.model.state_changed.connect(self.show_state)
        self._place: tuple[str, int] | None = None
        # An export under way: the file it writes, and its steps.
        self._export: tuple[str, Generator[tuple[int, int], None, int]] | None = None
        self._new: set[int] = set()  # clock times of entries committed since the last look
        self._new_timer = QTimer(self)
        self._new_timer.setSingleShot(True)
        self._new_timer.setInterval(300)
        self._new_timer.timeout.connect(self._add_new)
        self.search = QLineEdit()
        self.search.setObjectName("journalSearch")
        self.search.setPlaceholderText("Search the journal…  (Ctrl+J)")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)  # typing settles first
        self._search_timer.timeout.connect(self.refresh_filter)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.state = ToneLabel()  # subdued: it tells, it is not an alert
        self.state.setObjectName("journalState")
        # Wrapped where the dock is narrow, rather than widening it (which
        # widened the entries, each then measured again at the new width).
        self.state.setWordWrap(True)
        # Entries that arrived late (their console was offline), which land
        # far down by their time: said here, and a click shows the newest.
        self.late_link = _Link()
        self.late_link.setObjectName("journalLate")
        self.late_link.linkActivated.connect(lambda _: self.show_late())
        self.late_link.hide()
        self._late: list[tuple[int, str]] = []  # (clock time, entry id), newest first, LATE_KEPT at most
        self._late_count = 0  # of all that arrived late
        self._late_oldest = 0  # the clock time of the oldest of them
        self._late_at = 0.0
        self.model.late_arrived.connect(self._late_arrived)
        self.model.agencies_seen.connect(self._agencies)
        # Tints fade, and are forgotten, once a second while there are any.
        self._fade_timer = QTimer(self)
        self._fade_timer.setInterval(1000)
        self._fade_timer.timeout.connect(self._fade)
        self.model.tinted.connect(lambda: None if self._fade_timer.isActive() else self._fade_timer.start())
        self.agency = names_combo()
        self.agency.addItem("All agencies", "")
        self._spellings: dict[str, set[str]] = {}  # an agency (model.name_key) -> the ways it is written
        self._spelled: set[str] = set()  # every way of them
        self.agency.currentIndexChanged.connect(lambda _: self.refresh_filter())
        self.selected = QCheckBox("Selected row only")
        self.selected.toggled.connect(lambda _: self.refresh_filter())
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Add a note to the journal…  (Enter)")
        self.note_edit.returnPressed.connect(self.add_note)
        filters = QHBoxLayout()
        filters.addWidget(self.agency)
        filters.addWidget(self.selected)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(filters)
        layout.addWidget(self.search)
        layout.addWidget(self.late_link)
        layout.addWidget(self.view)
        layout.addWidget(self.state)
        layout.addWidget(self.note_edit)
        self.setWidget(body)
        self.show_state()  # the first page was read before these were connected
        self._agencies(e.agency for e in self.model.entries)

    # ------------------------------------------------------------ filtering

    def refresh_filter(self) -> None:
        """Read the filters again (the row selected on the board among them)."""
        about = self._selected_row() if self.selected.isChecked() else None
        table, row = about or (None, None)
        key = self.agency.currentData()
        self.model.set_filter(agency=tuple(sorted(self._spellings[key])) if key else None, table=table, row=row,
                              text=self.search.text())

    def rows_deleted(self, table: str) -> None:
        """Rows of `table` were deleted or restored: merged into another,
        perhaps, or a merge undone. A row's own entries include those of
        the rows merged into it (Store.journal_page), so the entries about
        the row selected, if that is the filter, are read again."""
        if self.model.table == table and self.model.row is not None:
            self.model.reload()

    def focus_search(self) -> None:
        self.show()
        self.raise_()
        self.search.setFocus()
        self.search.selectAll()

    # ------------------------------------------------------------- arriving

    def entries_arrived(self, clock_times: Iterable[int]) -> None:
        """Journal entries were committed (their clock times): looked at
        shortly, with whatever else arrives meanwhile."""
        self._new.update(clock_times)
        if not self._new_timer.isActive():
            self._new_timer.start()

    def _late_arrived(self, late: list[tuple[int, str]]) -> None:
        self._late = heapq.nlargest(LATE_KEPT, set(late).union(self._late))
        self._late_count += len(late)
        self._late_oldest = min(self._late_oldest or late[-1][0], late[-1][0])
        self._late_at = time.monotonic()
        n, oldest = self._late_count, self._late_oldest
        ago = span_text(clock.wall_ms() / 1000 - clock.physical_ms(oldest) / 1000)
        said = f"{n:,} entr{'y' if n == 1 else 'ies'} written up to {ago} ago arrived late: show"
        self.late_link.say(said)
        self.late_link.setToolTip("Written on a console that was offline, and put in their place by time, "
                                  "below the newest: tinted for a few minutes. Click to see the newest of them.")
        self.late_link.show()
        if not self._fade_timer.isActive():
            self._fade_timer.start()

    def show_late(self) -> bool:
        """Scroll to the newest entry that arrived late, and select it;
        whether it is among the entries read."""
        for _, eid in self._late:
            row = self.model.row_of(eid)
            if row is not None:
                index = self.model.index(row)
                self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                self.view.setCurrentIndex(index)
                return True
        self.message.emit("The entries that arrived late are older than those read: scroll down the journal "
                          "to their time, or search it")
        return False

    def _fade(self) -> None:
        self.model.expire_arrived()
        if self.model.arrived:
            self.view.viewport().update()
        if self._late and time.monotonic() - self._late_at >= LATE_SECONDS:
            self._late, self._late_count, self._late_oldest = [], 0, 0
            self.late_link.hide()
        if not self.model.arrived and not self._late:
            self._fade_timer.stop()

    def _add_new(self) -> None:
        new, self._new = self._new, set()
        self.model.add_entries(new)

    def _note_place(self, _parent, first: int, _last: int) -> None:
        # Entries arriving above the one at the top of the view would push
        # what the person is reading down: remember it, to put it back.
        # At the very top, the view stays there and shows the new entries.
        self._place = None
        if self.view.verticalScrollBar().value() > 0:
            top = self.view.indexAt(QPoint(2, 2))
            if top.isValid() and top.row() >= first:
                self._place = (self.model.entries[top.row()].id, self.view.visualRect(top).top())

    def _keep_place(self, _parent, first: int, last: int) -> None:
        self._agencies(e.agency for e in self.model.entries[first:last + 1])
        place, self._place = self._place, None
        if place is None:
            return
        row = self.model.row_of(place[0])
        if row is not None:
            self.view.scrollTo(self.model.index(row), QAbstractItemView.ScrollHint.PositionAtTop)
            bar = self.view.verticalScrollBar()
            bar.setValue(bar.value() - place[1])

    def show_state(self) -> None:
        j = self.model
        n = len(j.entries)
        filtered = bool(j.text or j.agency or j.row)
        if j.searching:
            # How far back it has looked, which is further than what it found.
            back = f", read back to {local_time(clock.to_iso(j.read_to[0]))}" if j.read_to else ""
            text = f"Searching… {n:,} found so far{back}"
        elif not n:
            text = "No entry matches" if filtered else "The journal is empty"
        elif j.exhausted:
            entries = f"{n:,} entr{'y' if n == 1 else 'ies'}"
            text = f"{entries} found" if filtered else f"All {entries}"
        else:
            text = f"The newest {n:,} entries; scroll down for older ones"
        self.state.setText(text)

    def _agencies(self, names: Iterable[str | None]) -> None:
        # The agency filter offers every agency the journal has shown, once
        # however it is written (letter case and spacing aside: consoles set
        # up apart may spell it two ways), and shows the entries of every
        # way it is written.
        picked, grew = self.agency.currentData(), False
        for a in sorted({a for a in names if a} - self._spelled):
            self._spelled.add(a)
            key = model.name_key(a)
            if key not in self._spellings:
                self._spellings[key] = set()
                self.agency.addItem(a, key)
            self._spellings[key].add(a)
            grew = grew or key == picked
        if grew:
            self.refresh_filter()

    # -------------------------------------------------------------- actions

    def add_note(self) -> None:
        """The note typed, into the journal; about the row selected on the
        board when the journal shows that row only."""
        text = self.note_edit.text().strip()
        if not text:
            return
        about = self._selected_row() if self.selected.isChecked() else None
        try:
            self.bridge.note(text, *(about or (None, None)))
        except (ValidationError, StoreError) as exc:
            QMessageBox.warning(self, "Not done", plain(str(exc)))
            return
        self.note_edit.clear()

    def _activated(self, index) -> None:
        e = self.model.entries[index.row()] if 0 <= index.row() < len(self.model.entries) else None
        if e is not None and e.tbl and e.row_id:
            self.show_row.emit(e.tbl, e.row_id)

    def copy(self) -> str:
        """The selected entries, one a line as shown, onto the clipboard:
        for a situation report."""
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        text = "".join(f"{local_time(e.at)} {zone_name()}  {e.agency} ({e.operator}): {e.text}\n"
                       for e in (self.model.entries[r] for r in rows))
        if text:
            QApplication.clipboard().setText(text)
        return text

    def export(self, path: str | None = None) -> None:
        """Write the journal, as filtered (an agency, the selected row,
        words), to CSV, oldest first: the activity log of ICS 214. It is
        read a slice per turn, so a long operation's journal never freezes
        the window; `message` says when it is written. One runs at a time."""
        if self._export is not None:
            self.message.emit(f"The journal is being exported to {self._export[0]} already: "
                              "wait for it, then export again.")
            return
        if not isinstance(path, str):
            # (The agency as the filter shows it: the model holds the ways it is written.)
            agency = self.agency.currentText() if self.model.agency else "all"
            name = f"journal-{file_word(agency) or 'agency'}-{time.strftime('%Y-%m-%d')}.csv"
            path, _ = QFileDialog.getSaveFileName(self, "Export the journal", name, "CSV (*.csv)")
            if not path:
                return
        if self.model.store.owns_file(path):
            QMessageBox.warning(self, "Journal not exported",
                                plain(f"{path} is this console's database: give another file."))
            return
        steps = self.model.export(path)
        export = self._export = (path, steps)

        def step() -> bool:
            if self._export is not export:
                return False  # abandoned: the window closed
            try:
                found, written = next(steps)
            except StopIteration as done:
                self._export = None
                self.message.emit(f"Wrote {done.value:,} journal entries to {path}")
                self.show_state()
                return False
            except Exception as exc:  # OSError, StoreError; or a bug, logged too: the next export may run
                self._export = None
                self.show_state()
                if not isinstance(exc, (OSError, StoreError)):
                    log.exception("exporting the journal to %s failed", path)
                QMessageBox.warning(self, "Journal not exported",
                                    plain(f"Could not write {path}: {getattr(exc, 'strerror', None) or exc}"))
                return False
            self.state.setText(f"Exporting… writing {written:,} of {found:,} entries" if written
                               else f"Exporting… {found:,} entries so far")
            return True

        if step():
            self.scheduler.want(step)

    def stop(self) -> None:
        """No more looking at what arrives (the window is closing), and no
        export written: its temporary file goes, what was there stays."""
        if self._export is not None:
            self._export[1].close()
            self._export = None
        self._new_timer.stop()
        self._search_timer.stop()
        self._fade_timer.stop()
