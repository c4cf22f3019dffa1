"""Table models of the boards, and the filter that narrows them.

A model holds plain records from the store. Changes arrive as row ids
(`refresh`); they are queued and folded in a few hundred at a time on a
timer, each row updated in place (dataChanged), inserted or removed. So a
large catch-up never stalls the window, and the user's selection and scroll
position survive remote edits.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import html
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator

from PySide6 import QtGui
from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QComboBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from console import model
from console.store import Store, short_id
from console.times import (  # noqa: F401 (used by the rest of console.ui)
    DUE_SOON,
    OPEN_TASK,
    clock_text,
    due_in,
    local_time,
    past_timer,
    since_text,
    span_text,
    zone_name,
)

# Status colours: the same everywhere, and distinguishable by their labels
# too, which are white on them, at 4.5 times the contrast of each or more
# (the orange of "in progress" and "high" was #ef6c00, at 3.1; the grey of
# "low" #78909c, at 3.4).
STATUS_COLOURS = {
    "available": "#2e7d32", "dispatched": "#1565c0", "en_route": "#6a1b9a", "on_scene": "#c62828",
    "returning": "#00838f", "out_of_service": "#616161",
    "open": "#1565c0", "assigned": "#6a1b9a", "in_progress": "#b85000", "completed": "#2e7d32",
    "cancelled": "#616161",
    "urgent": "#c62828", "high": "#b85000", "normal": "#455a64", "low": "#5b7380",
    "in_stock": "#2e7d32", "out_of_stock": "#c62828",
}

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "units": [("callsign", "Callsign"), ("agency", "Agency"), ("kind", "Kind"), ("status", "Status"),
              ("task", "Task"), ("location", "Location"), ("since", "In status"), ("personnel", "Crew")],
    "tasks": [("priority", "Priority"), ("status", "Status"), ("title", "Title"), ("location", "Location"),
              ("lead_agency", "Lead agency"), ("assigned_units", "Units"), ("due", "Due")],
    "resources": [("name", "Name"), ("kind", "Kind"), ("agency", "Agency"), ("location", "Location"),
                  ("quantity", "Quantity"), ("unit", "Unit"), ("low_at", "Low at")],
}
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2
BADGE_PADDING = 16 + 8 + 6  # pixels around a badge's text: its own padding, the cell's margin, a little air
UNITS_MIME = "application/x-crisis-console-units"  # unit ids, one per line
# The boards whose rows are counted by status (see RecordsModel.counts), and
# the field that names a row's agency there.
TALLIED = {"units": "agency", "tasks": "lead_agency", "resources": "agency"}
# A resource's "status", for its board's counts and filter: whether any is left.
STOCK_STATES = ("in_stock", "out_of_stock")


NAMES_SHOWN = 8  # characters a drop-down list of names is wide enough for, at the least


def file_word(name: str | None) -> str:
    """An agency's name as a part of a file's name, as a file system takes
    it: "County Fire / EMS" is county-fire-ems ("" if nothing of it is)."""
    return re.sub(r"\W+", "-", model.name_key(name or "")).strip("-")


def shortened(name: str, limit: int) -> str:
    """`name` as shown where only `limit` characters of it fit: a name of
    up to 200 characters (an agency's, an operator's) ends in "…"."""
    return name if len(name) <= limit else name[:limit - 1].rstrip() + "…"


def plain(text: str) -> str:
    """`text` made to show as it is where Qt guesses whether text is HTML
    (a message box, an input dialog's question, a tooltip): a value that
    looks like HTML there ("Delete <s>E12</s>?", a task titled "Sandbags
    <table> at the school", notes holding "&lt;") would show other than it
    is stored, or in part. Such text is escaped; any other is left as it
    is, lines kept."""
    if not QtGui.Qt.mightBeRichText(text):  # (QtGui's Qt, not QtCore's, has it)
        return text
    # (Qt.convertFromPlainText runs spaces together and drops empty lines;
    # a line break first in a paragraph is dropped unless written <br>.)
    escaped = html.escape(text, quote=False).replace("\n", "<br>")
    return f'<p style="white-space: pre-wrap">{escaped}</p>'


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as it is, never as HTML (see plain): the
    window's labels show values from this console, other consoles and
    spreadsheets."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class ToneLabel(QLabel):
    """A label of plain text (see plain_label) in a colour that means
    something (an error's red: one of LIGHT_TONES' dark tones), or, with
    none, subdued (see subdued): in the tone for the scheme, light or dark,
    and again whenever it changes (a desktop switching to dark mode at
    dusk). Set in the label's palette, not a style sheet, through which no
    change of the application's palette reaches a widget."""

    def __init__(self, colour: str | None = None, *, bold: bool = False) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        if bold:
            font = self.font()
            font.setBold(True)
            self.setFont(font)
        self.colour = colour
        self._apply()

    def set_colour(self, colour: str | None) -> None:
        if colour != self.colour:
            self.colour = colour
            self._apply()

    def _apply(self) -> None:
        want = QColor(tone(self.colour) if self.colour else subdued())
        palette = self.palette()
        if palette.color(QPalette.ColorRole.WindowText) != want:  # (setting it is a change of palette: once)
            palette.setColor(QPalette.ColorRole.WindowText, want)
            self.setPalette(palette)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()


def names_combo() -> QComboBox:
    """A drop-down list of names (agencies, tasks by their titles) as wide
    as the room it is given, not as its longest name: an agency or a title
    of 200 characters made the window wider than a laptop's screen. A name
    too long for it is cut short (in the list it drops, with "…")."""
    combo = QComboBox()
    # Its width not asked of its names at all (Ignored): sized to its
    # longest name, or to a length of names (AdjustToMinimumContentsLength,
    # which lays the whole window out again whenever the list is filled
    # again: 8% of the window's work during a catch-up), it is not.
    combo.setSizePolicy(QSizePolicy.Policy.Ignored, combo.sizePolicy().verticalPolicy())
    combo.setMinimumWidth(combo.fontMetrics().horizontalAdvance("x" * NAMES_SHOWN) + 40)  # (and its arrow)
    return combo


class ElidedLabel(QLabel):
    """A line of text that takes the room it is given, not its text's: a
    text too long for it ends in "…". The status bar's labels name other
    consoles' agencies (up to 200 characters each), which would otherwise
    widen the bar past the window and push the rest of it out of view.
    (text() is the whole text.)"""

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        # As wide as its text where there is room; narrower, down to a
        # pixel, where there is not. (A minimum width set, not a
        # minimumSizeHint of Python's: layouts ask for that one often.)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)

    def shown(self) -> str:
        """The text as it shows at the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        self.style().drawItemText(painter, self.contentsRect(), int(self.alignment()), self.palette(),
                                  self.isEnabled(), self.shown(), QPalette.ColorRole.WindowText)
        painter.end()


class MessageBar(QStatusBar):
    """A status bar whose messages ("Added 12 units from roster.csv") show
    beside what it holds, not over it: QStatusBar hides its widgets while
    a message shows, and the sync status (the peers connected, what is
    waiting to sync) was out of sight for 15 seconds after each thing done,
    two minutes when the window opened. The message takes the room left,
    ending in "…" where it has too little (whole in its tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.message = ElidedLabel()
        self.message.setObjectName("message")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clearMessage)

    def add_message_area(self) -> None:
        """Put the message where it goes among the bar's widgets: here,
        in the room the widgets before it leave (they are as wide as what
        they say, where there is room)."""
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, self.message.sizePolicy().verticalPolicy())
        self.addWidget(self.message, 1)

    def showMessage(self, text: str, timeout: int = 0) -> None:
        self.message.setText(text)
        self.message.setToolTip(text)
        if timeout > 0:
            self._timer.start(timeout)
        else:
            self._timer.stop()
        self.messageChanged.emit(text)

    def clearMessage(self) -> None:
        self._timer.stop()
        if self.message.text():
            self.message.setText("")
            self.message.setToolTip("")
            self.messageChanged.emit("")

    def currentMessage(self) -> str:
        return self.message.text()


class ShortenedButton(QPushButton):
    """A button whose text gives way to a shorter one where the window has
    no room for it: "5 to reconcile" for "3 conflicts, 1 unit twice and 1
    unit on a deleted task to reconcile", whose width made the window 1,065
    pixels wide at least, wider than a field tablet's screen or a laptop's
    at 150%. (text() is the whole text; set_text sets both.)"""

    def __init__(self) -> None:
        super().__init__()
        self.short = ""
        # As wide as its whole text where there is room, down to its short
        # one's where there is not (a minimum width set: see ElidedLabel).
        self.setSizePolicy(QSizePolicy.Policy.Preferred, self.sizePolicy().verticalPolicy())

    def set_text(self, text: str, short: str) -> None:
        self.short = short
        self.setText(text)
        self._fit()

    def _fit(self) -> None:
        self.ensurePolished()  # (its style sheet's font, which its width is measured in)
        metrics = self.fontMetrics()
        saved = max(0, metrics.horizontalAdvance(self.text()) - metrics.horizontalAdvance(self.short))
        self.setMinimumWidth(self.sizeHint().width() - saved)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and self.short:  # (larger text: Ctrl++)
            self._fit()

    def shown(self) -> str:
        """The text as it shows at the button's width."""
        return self.text() if not self.short or self.width() >= self.sizeHint().width() else self.short

    def paintEvent(self, event) -> None:
        if self.shown() == self.text():
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        option = QStyleOptionButton()
        self.initStyleOption(option)
        option.text = self.short
        painter.drawControl(QStyle.ControlElement.CE_PushButton, option)
        painter.end()


def viewport_hint(view: QAbstractScrollArea, name: str) -> QLabel:
    """A few lines centred over a list's (or a board's) viewport, to say
    why it is empty; hidden until shown. Rich text: a line break, a link
    (what a person typed, or another console wrote, escaped in it)."""
    hint = QLabel()
    hint.setObjectName(name)
    hint.setTextFormat(Qt.TextFormat.RichText)
    hint.setWordWrap(True)
    hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
    hint.setMinimumWidth(HINT_WIDTH[0])
    hint.setMaximumWidth(HINT_WIDTH[1])
    hint.hide()
    QVBoxLayout(view.viewport()).addWidget(hint, 0, Qt.AlignmentFlag.AlignCenter)
    return hint


# How wide a viewport_hint is: at the least (a board, the journal beside
# it, is no narrower), and at the most (a line a person reads at a glance).
HINT_WIDTH = (300, 460)


# Room left around a window on its screen: its frame, its title bar, and
# a desktop's panel the screen's available area may not count.
FRAME_ROOM = (16, 48)


def fit_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize `widget` to `width` by `height`, or to the room its screen
    has (its parent's, for a dialog not shown yet): the window opened
    1,280 pixels wide, and the report 980 by 760, on a field tablet's 853
    by 533 (1,280 by 800 at 150%), their buttons out of reach below it."""
    room = (widget.parentWidget() or widget).screen().availableGeometry()
    widget.resize(min(width, room.width() - FRAME_ROOM[0]), min(height, room.height() - FRAME_ROOM[1]))


def row_status(table: str, rec) -> str | None:
    """What a board counts and filters a row by: a unit's or task's status;
    for a resource, whether any of it is left."""
    if table == "resources":
        return "out_of_stock" if (rec.quantity or 0) <= 0 else "in_stock"
    return rec.status
DATA_ROLES = frozenset({  # the roles data() answers (Qt passes them as ints, which hash alike)
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.BackgroundRole, RECORD_ROLE, Qt.ItemDataRole.FontRole,
})
# Red and orange text: overdue (or none left), and due soon (past a
# timer, stock low); the orange a deep one, which reads on white at 5.0
# times the contrast of it (it was #e65100, at 3.8).
OVERDUE_COLOUR, DUE_SOON_COLOUR = "#c62828", "#b85000"
# Cells with an open conflict: the amber of the "conflicts to reconcile"
# button, lighter; their text dark in every scheme (see LIGHT_TONES).
CONFLICT_COLOUR, CONFLICT_TEXT = "#ffe082", "#212121"
# The colours that mean something in text (overdue, low, past a timer, an
# error) are dark tones, made for a light background. On a dark one (a
# desktop in dark mode, a wall display dimmed for the night shift) each is
# shown in a light tone of its own, which reads there as the dark one does
# on white: at least 4.5 times the contrast of its background (WCAG's
# measure), where the dark tones had 2.1 (an error's red) to 4.4.
LIGHT_TONES = {"#c62828": "#ff6659", "#b71c1c": "#ff6659", "#b85000": "#ffa726"}
# And on a conflict's amber, in every scheme, and on the light blue of a
# cell changed elsewhere (see FRESH_TINTS), deeper tones: 5 to 6.3 times
# the contrast of those (red had 3.6 to 4.4 there, orange 2.7 to 3.9).
DEEP_TONES = {"#c62828": "#9b1c1c", "#b85000": "#8f3400"}


def dark(palette: QPalette | None = None) -> bool:
    """Whether `palette` (by default the application's) is a dark scheme:
    light text on a dark background."""
    palette = QtGui.QGuiApplication.palette() if palette is None else palette
    return (palette.color(QPalette.ColorRole.Window).lightness()
            < palette.color(QPalette.ColorRole.WindowText).lightness())


def tone(colour: str, palette: QPalette | None = None) -> str:
    """`colour` (one of the dark tones of LIGHT_TONES, or any other) as
    text on `palette`'s background: its light tone on a dark one."""
    return LIGHT_TONES.get(colour, colour) if dark(palette) else colour


def subdued(palette: QPalette | None = None) -> str:
    """Text that tells rather than alerts (a due time read back, how far a
    search has got): between `palette`'s text and background, nearer the
    text, so that it still reads well (6.3 to 8 times the contrast of the
    background in Qt's light palette and a desktop's dark one; a disabled
    label's grey had 1.6 in the light one, the "mid" shade 1.7, and 1.1 in
    the dark one)."""
    palette = QtGui.QGuiApplication.palette() if palette is None else palette
    return between(palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window), 0.7).name()


def between(near: QColor, far: QColor, share: float) -> QColor:
    """The colour `share` of the way from `far` to `near` (1: `near`)."""
    return QColor(*(round(share * a + (1 - share) * b) for a, b in zip(near.getRgb()[:3], far.getRgb()[:3],
                                                                       strict=True)))


CONFLICT_TIP = "In conflict: written on two consoles at once. Reconcile it (Sync ▸ Reconcile conflicts, Ctrl+R)."
COLUMN_FIELDS = {"task": "task_id", "since": "status"}  # columns that show another field
NUMBERS = ("quantity", "personnel", "low_at")  # columns of numbers: shown 1,550, exported 1550
WRITTEN = {"units": "notes", "tasks": "description"}  # text no column shows: a row's tooltip does
# A cell another console (or another program) changed is tinted blue, the
# tint fading out over FRESH_SECONDS, so that an eye on the board catches
# what just changed; its tooltip says how long ago.
FRESH_SECONDS = 30.0
# The tint, at first (colour, alpha of 255): a light blue in a light scheme,
# a navy in a dark one, on which the light tones still read at 4.5 times
# their contrast or more (on the light blue, mixed into the dark
# background, red had 2.6).
FRESH_TINTS = {False: ((66, 165, 245), 110), True: ((11, 47, 85), 255)}


def fresh_tint(share: float, dark_scheme: bool) -> QBrush:
    """The tint of a cell (or a journal entry) changed elsewhere, `share`
    of it left (1 just now, 0 faded), in a light or a dark scheme."""
    rgb, alpha = FRESH_TINTS[dark_scheme]
    return QBrush(QColor(*rgb, round(alpha * share)))


REFRESH_SLICE = 50  # rows folded in per timer tick (each tick stays short)
ASSIGN_SLICE = 500  # tasks whose unit lists are compared per timer tick
# A pause between slices (not 0): other timers, the sync status and input
# come in between, instead of after a run of back-to-back slices.
FOLD_INTERVAL_MS = 2
PAINT_EVERY_MS = 200  # how often a board is repainted while slices run one after another (see Scheduler.pace)
HANDS_ON_SECONDS = 2.0  # after someone scrolls, clicks or types in a board, it paints as always this long
HANDS_ON = frozenset({QEvent.Type.Wheel, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick,
                      QEvent.Type.MouseMove, QEvent.Type.KeyPress, QEvent.Type.Resize})














def low_text(rec) -> str:
    """What a stock item's low mark says of it, for its quantity's and low
    mark's tooltips."""
    unit = f" {rec.unit}" if rec.unit else ""
    have, mark = number_text(rec.quantity or 0), number_text(rec.low_at)
    if (rec.quantity or 0) <= 0:
        return f"None left (low at {mark}{unit})"
    if model.stock_low(rec):
        return f"Low: {have}{unit} left, at or below {mark} (Stock ▸ Add stock, Ctrl+Shift+D, as more comes in)"
    return f"Low at {mark}{unit} or fewer; {have} now (F2 changes the mark)"


def number_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return f"{int(v):,}"
    return f"{v:,}" if isinstance(v, (int, float)) else str(v)


class Scheduler(QObject):
    """Refresh work, one slice per turn of the event loop.

    Boards queue their slices here (folding arriving rows in, redrawing task
    unit lists), and so does the bridge (reading a catch-up). One slice runs
    per timer tick, in turn, with a short pause between ticks: however much
    arrives, no turn of the event loop does more than one slice, and painting,
    input and other timers come in between."""

    def __init__(self, parent=None, interval_ms: int = FOLD_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._jobs: deque[Callable[[], bool]] = deque()
        self._paced: list = []  # widgets repainted at a pace while slices run (see pace)
        self._painted = 0.0  # when they were last, while held (time.monotonic); 0.0: not held
        self._hands_on = 0.0  # when someone last scrolled, clicked or typed in one (time.monotonic)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._run)

    def pace(self, widget) -> None:
        """Repaint `widget` (a board's viewport) at most every PAINT_EVERY_MS
        while slices run one after another: a board of 20,000 rows takes
        20 to 40 ms to paint, and rows arriving shift every row shown, so
        painting after every slice of a catch-up would take most of each
        turn of the event loop. Not while someone is using it (scrolling,
        clicking, typing in it): then it paints as it always does."""
        self._paced.append(widget)
        for w in (widget, widget.parent()):
            if w is not None:
                w.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() in HANDS_ON:
            self._hands_on = time.monotonic()
            if self._painted:
                self._hold(False)
        return False

    def want(self, job: Callable[[], bool]) -> None:
        """Run `job` soon (once, however often it is wanted before it runs);
        it returns whether it has more to do, and then runs again later."""
        if job not in self._jobs:
            self._jobs.append(job)
        if not self._timer.isActive():
            self._timer.start()

    def _run(self) -> None:
        if not self._jobs:
            return
        now = time.monotonic()
        if now - self._hands_on < HANDS_ON_SECONDS:
            pass  # someone is using the boards: they paint as always
        elif not self._painted:
            self._hold(True)
            self._painted = now
        elif now - self._painted >= PAINT_EVERY_MS / 1000:
            # A turn of its own paints the rows as they are; the next runs
            # the next slice.
            for w in self._paced:
                w.setUpdatesEnabled(True)
                w.repaint()
                w.setUpdatesEnabled(False)
            self._painted = time.monotonic()
            self._timer.start()
            return
        job = self._jobs.popleft()
        try:
            if job():
                self._jobs.append(job)
        finally:
            # A job that fails (the database failing under it) is dropped;
            # the others still run, and the boards paint again after.
            # The rows a slice read stay, like those loaded at the start,
            # out of the collector's full passes, so those stay short during
            # a large catch-up (MainWindow thaws and collects everything
            # when idle).
            gc.freeze()
            if self._jobs:
                self._timer.start()
            else:
                self._hold(False)

    def _hold(self, held: bool) -> None:
        """Hold the paced widgets' painting (while slices run), or let it
        go: they are then painted as they are."""
        if not held and not self._painted:
            return  # not held
        for w in self._paced:
            w.setUpdatesEnabled(not held)
        if not held:
            self._painted = 0.0

    def stop(self) -> None:
        self._timer.stop()
        self._jobs.clear()
        self._hold(False)


class RecordsModel(QAbstractTableModel):
    """The live rows of one table, as records."""

    # The rows' counts by agency and status changed, or which rows need
    # attention (tasks with no unit, stock items low).
    tally_changed = Signal()

    def __init__(self, table: str, store: Store, parent=None, *, scheduler: Scheduler | None = None,
                 sort: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)) -> None:
        super().__init__(parent)
        self.scheduler = scheduler or Scheduler(self)
        self.table = table
        self.store = store
        # A time column names the zone its times are shown in.
        self.columns = [(k, f"{h} ({zone_name()})" if k == "due" else h) for k, h in COLUMNS[table]]
        self.dark = dark()  # shown in a dark scheme: the light tones (the window says when it changes)
        self.records: list = []  # kept in sort order
        self.keys: list = []  # the records' sort keys, parallel to records
        self.key_of: dict[str, tuple] = {}  # row id -> its current sort key
        # The order the rows are loaded in (a window gives the order its
        # board was left in, so that they are sorted once, not twice).
        if not 0 <= sort[0] < len(self.columns):
            sort = (0, Qt.SortOrder.AscendingOrder)
        self.sort_column, self.sort_order = sort
        self.task_titles: dict[str, str] = {}
        self._pending: set[str] = set()
        # For a tasks board: called with (unit ids, task id) when units are
        # dropped on a task; returns whether the assignment was made.
        self.on_drop_units: Callable[[list[str], str], bool] | None = None
        self._assigned: dict[str, tuple[str, ...]] = {}
        self._assign_queue: list[str] = []
        # Rows with an open conflict -> its fields (see set_conflicts).
        self.conflicts: dict[str, frozenset[str]] = {}
        # Rows marked as to reconcile for another reason than a conflict (a
        # unit whose callsign another has too, a unit on a deleted task) ->
        # (the fields so marked, what to say of it).
        self.reconcile_tips: dict[str, tuple[frozenset[str], str]] = {}
        # Cells changed elsewhere lately: (row id, field; "*": the whole row, new) -> when (see
        # mark_fresh), and the same in the order marked, to forget them oldest first. Flat, so that a
        # catch-up of thousands of rows makes no container per row for the collector to go through.
        self.fresh: dict[tuple[str, str], float] = {}
        self._fresh_order: deque[tuple[float, tuple[str, str]]] = deque()
        self._label_key = model.TABLES[table].label
        # Units: status -> minutes after which a unit still in it is flagged (see times.STATUS_TIMERS),
        # and the units past them (the window counts them), with when each last checked in, if it did.
        self.status_timers: dict[str, int] = {}
        self.to_check: dict[str, str | None] = {}
        # (agency, status) -> how many rows: kept as rows come and go, so
        # counting a board of 100,000 rows costs nothing per change.
        self.tally: Counter[tuple[str | None, str | None]] = Counter()
        # Resources: the stock items at or below their low marks (model.stock_low), kept as rows change.
        self.low: set[str] = set()
        self._agency_key = TALLIED.get(table)
        self.reload()

    # ---------------------------------------------------------------- loading

    def reload(self) -> None:
        self.beginResetModel()
        try:
            self._load_titles()
            self.records = self.store.list(self.table)
            self._order()
        finally:
            self.endResetModel()
        if self._agency_key:
            key, table = self._agency_key, self.table
            self.tally = Counter((getattr(r, key), row_status(table, r)) for r in self.records)
            if table == "resources":
                self.low = {r.id for r in self.records if model.stock_low(r)}
            self.tally_changed.emit()

    # Sorting happens here, in Python's own sort and by bisection, not in a
    # proxy that would call data() for every comparison: 20,000 rows sort in
    # milliseconds, and a row arriving from a peer lands in its place.

    def _key(self, rec) -> tuple:
        value = self._sort_value(rec, self.columns[self.sort_column][0])
        key = (0, value, rec.id) if isinstance(value, (int, float)) else (1, value, rec.id)
        return key if self.sort_order == Qt.SortOrder.AscendingOrder else _Desc(key)

    def _order(self) -> None:
        pairs = sorted(((self._key(r), r) for r in self.records), key=lambda kr: kr[0])
        self.keys = [k for k, _ in pairs]
        self.records = [r for _, r in pairs]
        self.key_of = {r.id: k for k, r in pairs}

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        # Already in that order (rows arriving land in place): nothing to
        # do. A window opening asks for its boards' order several times
        # over (the view's sorting switched on, then its header restored),
        # and 20,000 rows sorted again and refiltered by the proxy each time
        # were a third of the launch.
        if (column, order) != (self.sort_column, self.sort_order):
            self._resort(column, order)

    def _resort(self, column: int, order: Qt.SortOrder) -> None:
        """Sort the rows by `column` again, even when that is the order
        they are in: a sort key of theirs changed (a task's units)."""
        if not 0 <= column < len(self.columns):
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        kept = [(self.records[i.row()].id, i.column()) for i in old]
        self.sort_column, self.sort_order = column, order
        self._order()
        self.changePersistentIndexList(
            old, [self.index(self._row_of(rid), col) if self._row_of(rid) is not None else QModelIndex()
                  for rid, col in kept])
        self.layoutChanged.emit()

    def _row_of(self, row_id: str) -> int | None:
        key = self.key_of.get(row_id)
        return None if key is None else bisect.bisect_left(self.keys, key)

    def records_of(self, ids: Iterable[str]) -> list:
        """The rows among `ids` the board holds (the units to check, the
        stock low), as records."""
        return [self.records[at] for at in map(self._row_of, ids) if at is not None]

    def _load_titles(self) -> None:
        if self.table == "units":
            self.task_titles = self.store.task_titles()

    def refresh(self, ids: Iterable[str]) -> None:
        """Queue rows that changed; they are folded in shortly, in slices."""
        self._pending.update(ids)
        if self._pending:
            self.scheduler.want(self._fold_in)

    @property
    def busy(self) -> bool:
        return bool(self._pending or self._assign_queue)

    def _fold_in(self) -> bool:
        """Fold in one slice of the queued rows; whether more are queued."""
        batch = [self._pending.pop() for _ in range(min(REFRESH_SLICE, len(self._pending)))]
        fresh = {r.id: r for r in self.store.get_many(self.table, batch)}
        last = len(self.columns) - 1
        placed, moving = [], []
        key, tally, counted = self._agency_key, self.tally, False
        for row_id in batch:
            rec = fresh.get(row_id)
            at = self._row_of(row_id)
            if key:
                old = self.records[at] if at is not None else None
                was = (getattr(old, key), row_status(self.table, old)) if old is not None else None
                now = (getattr(rec, key), row_status(self.table, rec)) if rec is not None else None
                if was != now:
                    if was is not None:
                        tally[was] -= 1
                        if not tally[was]:
                            del tally[was]
                    if now is not None:
                        tally[now] += 1
                    counted = True
                if self.table == "resources" and (rec is not None and model.stock_low(rec)) != (row_id in self.low):
                    if row_id in self.low:
                        self.low.discard(row_id)
                    else:
                        self.low.add(row_id)
                    counted = True
            if rec is None:
                if at is not None:
                    self.beginRemoveRows(QModelIndex(), at, at)
                    del self.records[at], self.keys[at], self.key_of[row_id]
                    self.endRemoveRows()
            elif at is not None and self._key(rec) == self.keys[at]:
                self.records[at] = rec
                self.dataChanged.emit(self.index(at, 0), self.index(at, last))
            else:
                (placed if at is None else moving).append(rec)
        for rec in moving + placed:
            self._place(rec)
        if counted:
            self.tally_changed.emit()
        return bool(self._pending)

    def counts(self, agency: str = "") -> Counter[str]:
        """How many rows are in each status, of one agency's (all: "")."""
        out: Counter[str] = Counter()
        key = model.name_key(agency)  # (written two ways on consoles apart, it is one: see model.spellings)
        for (a, status), n in self.tally.items():
            if not agency or (a is not None and model.name_key(a) == key):
                out[status] += n
        return out

    def _place(self, rec) -> None:
        """Put one new or changed row where its sort key says."""
        last = len(self.columns) - 1
        key = self._key(rec)
        at = self._row_of(rec.id)
        to = bisect.bisect_left(self.keys, key)
        if at is None:
            self.beginInsertRows(QModelIndex(), to, to)
            self.records.insert(to, rec)
            self.keys.insert(to, key)
            self.key_of[rec.id] = key
            self.endInsertRows()
            return
        if to not in (at, at + 1):
            self.beginMoveRows(QModelIndex(), at, at, QModelIndex(), to)
            del self.records[at], self.keys[at]
            to = to - 1 if to > at else to
            self.records.insert(to, rec)
            self.keys.insert(to, key)
            self.endMoveRows()
            at = to
        self.records[at], self.keys[at] = rec, key
        self.key_of[rec.id] = key
        self.dataChanged.emit(self.index(at, 0), self.index(at, last))

    def refresh_assignments(self) -> None:
        """A unit moved between tasks: redraw the tasks' unit lists (in
        slices, like arriving rows)."""
        if self.table != "tasks" or not self.records:
            return
        self._assigned = self.store.assignments()
        self._assign_queue = [r.id for r in self.records]
        self.scheduler.want(self._assign_slice)

    def _assign_slice(self) -> bool:
        col = [k for k, _ in self.columns].index("assigned_units")
        part, self._assign_queue = self._assign_queue[:ASSIGN_SLICE], self._assign_queue[ASSIGN_SLICE:]
        for row_id in part:
            at = self._row_of(row_id)
            if at is None:
                continue
            rec = self.records[at]
            units = self._assigned.get(row_id, ())
            if units != rec.assigned_units:
                self.records[at] = type(rec)(**{**rec.__dict__, "assigned_units": units})
                self.dataChanged.emit(self.index(at, col), self.index(at, col))
        if self._assign_queue:
            return True
        if self.sort_column == col:
            self._resort(self.sort_column, self.sort_order)
        self.tally_changed.emit()  # which tasks have no unit may have changed
        return False

    def refresh_titles(self, task_ids: Iterable[str]) -> None:
        """Tasks changed: update the task titles this board shows."""
        if self.table != "units":
            return
        retitled = set()
        for task in self.store.get_many("tasks", list(task_ids)):
            if self.task_titles.get(task.id) != task.title:
                self.task_titles[task.id] = task.title
                retitled.add(task.id)
        if not retitled:
            return
        # Only the rows showing a retitled task: a signal over the whole
        # column would make the filter proxy re-check every row.
        col = [k for k, _ in self.columns].index("task")
        if self.sort_column == col:  # sorted by those titles: in order again
            self._resort(self.sort_column, self.sort_order)
            return
        for at, rec in enumerate(self.records):
            if rec.task_id in retitled:
                self.dataChanged.emit(self.index(at, col), self.index(at, col))

    def set_conflicts(self, conflicts: dict[str, frozenset[str]]) -> None:
        """Mark the rows with an open conflict: the cells of the fields in
        conflict, and the row's name (its conflict may be on a field the
        board has no column for). (A row deleted on one console and edited
        on another is off the boards until reconciled: deleted shows.)"""
        old, self.conflicts = self.conflicts, conflicts
        last = len(self.columns) - 1
        roles = [Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole]
        for row_id in old.keys() | conflicts.keys():
            if old.get(row_id) != conflicts.get(row_id) and (at := self._row_of(row_id)) is not None:
                self.dataChanged.emit(self.index(at, 0), self.index(at, last), roles)

    def mark_fresh(self, touched: Iterable[tuple[str, str]]) -> None:
        """(row id, field) changed by another console or program just now:
        their cells are tinted for a while (see FRESH_SECONDS)."""
        now = time.monotonic()
        fresh, order = self.fresh, self._fresh_order
        for cell in touched:
            fresh[cell] = now
            order.append((now, cell))

    def expire_fresh(self) -> None:
        """Forget what has faded (the window calls this on its tick)."""
        old = time.monotonic() - FRESH_SECONDS
        fresh, order = self.fresh, self._fresh_order
        while order and order[0][0] < old:
            at, cell = order.popleft()
            if fresh.get(cell) == at:  # not marked again since
                del fresh[cell]

    def freshness(self, rec, key: str) -> float | None:
        """How many seconds ago another console changed this cell, if it is
        still within FRESH_SECONDS."""
        fresh = self.fresh
        at = max(fresh.get((rec.id, COLUMN_FIELDS.get(key, key)), 0.0), fresh.get((rec.id, "*"), 0.0))
        if not at:
            return None
        age = time.monotonic() - at
        return age if age < FRESH_SECONDS else None

    def in_conflict(self, rec, key: str) -> bool:
        fields = self.conflicts.get(rec.id)
        return bool(fields) and (key == self._label_key or COLUMN_FIELDS.get(key, key) in fields)

    # ------------------------------------------------------------ Qt overrides

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(self.columns):
            return self.columns[section][1]
        return None

    # Drag and drop: units are dragged (their ids travel as UNITS_MIME) and
    # dropped on a task, which assigns them to it through `on_drop_units`.

    def flags(self, index):
        base = super().flags(index)
        if not index.isValid():
            return base
        if self.table == "units":
            return base | Qt.ItemFlag.ItemIsDragEnabled
        if self.table == "tasks":
            return base | Qt.ItemFlag.ItemIsDropEnabled
        return base

    def mimeTypes(self) -> list[str]:
        return [UNITS_MIME]

    def mimeData(self, indexes):
        ids = list(dict.fromkeys(self.records[i.row()].id for i in indexes if i.isValid()))
        data = QMimeData()
        if self.table == "units" and ids:
            data.setData(UNITS_MIME, QByteArray("\n".join(ids).encode()))
            label = model.TABLES["units"].label
            data.setText(", ".join(str(getattr(self.records[i.row()], label)) for i in indexes[:1]))
        return data

    def supportedDragActions(self):
        return Qt.DropAction.CopyAction

    def supportedDropActions(self):
        return Qt.DropAction.CopyAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return (self.table == "tasks" and data.hasFormat(UNITS_MIME) and parent.isValid()
                and self.on_drop_units is not None)

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        unit_ids = [x for x in bytes(data.data(UNITS_MIME)).decode(errors="replace").split("\n") if x]
        task_id = self.records[parent.row()].id
        return bool(unit_ids) and self.on_drop_units(unit_ids, task_id)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        # A view asks for a dozen roles per cell on every repaint; those the
        # boards do not use are turned away before any other work.
        if role not in DATA_ROLES or not index.isValid() or not 0 <= index.row() < len(self.records):
            return None
        rec = self.records[index.row()]
        key = self.columns[index.column()][0]
        if role == RECORD_ROLE:
            return rec
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(rec, key)
        if role == Qt.ItemDataRole.ForegroundRole or role == Qt.ItemDataRole.FontRole:
            if key in ("status", "priority"):  # (a badge, in its colour)
                colour = STATUS_COLOURS.get(getattr(rec, key) or "")
                return QBrush(QColor(colour)) if colour and role == Qt.ItemDataRole.ForegroundRole else None
            colour, bold = self._meant(rec, key)
            if role == Qt.ItemDataRole.FontRole:
                return _bold() if bold else None
            if colour is not None:
                return self._ink(colour, rec, key)
            # On a conflict's amber, dark text, whatever the scheme's.
            return QBrush(QColor(CONFLICT_TEXT)) if self.conflicts and self.in_conflict(rec, key) else None
        if role == Qt.ItemDataRole.BackgroundRole:
            if self.conflicts and self.in_conflict(rec, key):
                return QBrush(QColor(CONFLICT_COLOUR))
            if self.fresh and (age := self.freshness(rec, key)) is not None:
                return fresh_tint(1 - age / FRESH_SECONDS, self.dark)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain(self._tip(rec, key))
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("quantity", "personnel"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _meant(self, rec, key: str) -> tuple[str | None, bool]:
        """The colour of a cell's text for what it says (a dark tone), or
        None, and whether it is bold: a unit's time in status past its
        timer, a due time passed or near, stock low or none left."""
        if key == "since":
            return (DUE_SOON_COLOUR, True) if self.to_check and rec.id in self.to_check else (None, False)
        if key == "due":
            left = due_in(rec)
            if left is None or left > DUE_SOON:
                return None, False
            return (OVERDUE_COLOUR, True) if left < 0 else (DUE_SOON_COLOUR, False)
        if key == "quantity":  # none left in red, low (at or below its low mark) in orange
            if (rec.quantity or 0) <= 0:
                return OVERDUE_COLOUR, True
            return (DUE_SOON_COLOUR, True) if model.stock_low(rec) else (None, False)
        return None, False

    def _ink(self, colour: str, rec, key: str) -> QBrush:
        """Text in `colour` (a dark tone): in its light tone in a dark
        scheme, and in a deeper one on a conflict's amber, in any, or on
        the light blue of a cell changed elsewhere."""
        if self.conflicts and self.in_conflict(rec, key):
            colour = DEEP_TONES.get(colour, colour)
        elif self.dark:
            colour = LIGHT_TONES.get(colour, colour)
        elif self.fresh and self.freshness(rec, key) is not None:
            colour = DEEP_TONES.get(colour, colour)
        return QBrush(QColor(colour))

    def _tip(self, rec, key: str) -> str:
        if self.conflicts and self.in_conflict(rec, key):
            marked = self.reconcile_tips.get(rec.id)
            if marked is None:
                return CONFLICT_TIP
            fields, tip = marked
            return tip if self.conflicts[rec.id] <= fields else f"{tip}\n{CONFLICT_TIP}"
        if self.fresh and (age := self.freshness(rec, key)) is not None:
            return f"Changed on another console {span_text(age)} ago"
        if key in ("status", "since") and self.table == "units":
            tip = (f"{model.label(rec.status)} ({model.category(rec.status)}) since "
                   f"{local_time(rec.status_since)} {zone_name()}")
            if key == "since" and rec.id in self.to_check:
                checked = self.to_check[rec.id]
                over = past_timer(rec, self.status_timers, checked=checked)
                if checked:
                    tip += f"; checked in {since_text(checked)} ago"
                if over is not None:
                    tip += (f": past the {self.status_timers[rec.status]} minutes set for a check, by "
                            f"{span_text(over)} (Units ▸ Check in, Ctrl+K; View ▸ Status timers)")
            return tip
        if key == "due" and rec.due:
            left = due_in(rec)
            when = f"Due {local_time(rec.due, seconds=False)} {zone_name()}"
            if left is None:
                return f"{when} ({model.label(rec.status)})"
            return f"{when}: overdue by {span_text(-left)}" if left < 0 else f"{when}: in {span_text(left)}"
        if key in ("quantity", "low_at") and self.table == "resources" and rec.low_at is not None:
            return low_text(rec)
        # What is written at length about the row shows on hover, as the boards have no room for it.
        written = getattr(rec, WRITTEN.get(self.table, ""), None)
        return f"{written}\n\nid …{short_id(rec.id)}" if written else f"id …{short_id(rec.id)}"

    def _display(self, rec, key: str) -> str:
        if key == "task":
            return self.task_titles.get(rec.task_id, "") if rec.task_id else ""
        if key == "since":
            return since_text(rec.status_since)
        value = getattr(rec, key)
        if key in ("status", "priority"):
            return model.label(value)
        if key == "assigned_units":
            return ", ".join(value)
        if key in NUMBERS:
            return number_text(value)
        if key == "due" and value:
            return local_time(value, seconds=False)
        return "" if value is None else str(value)

    def _sort_value(self, rec, key: str):
        if key == "since":
            return rec.status_since or ""
        if key == "priority":
            return model.PRIORITIES.index(rec.priority) if rec.priority in model.PRIORITIES else 99
        if key == "assigned_units":
            return ", ".join(rec.assigned_units).lower()
        value = getattr(rec, key, None) if key != "task" else self._display(rec, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return "" if value is None else str(value).lower()


@functools.cache
def _bold() -> QFont:
    font = QFont()  # made on first use: a font needs the application made first
    font.setBold(True)
    return font


class _Desc:
    """A sort key in reverse order, so descending boards bisect like ascending ones."""

    __slots__ = ("key",)

    def __init__(self, key) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key

    def __eq__(self, other) -> bool:
        return isinstance(other, _Desc) and self.key == other.key


class BadgeDelegate(QStyledItemDelegate):
    """Paint a status or priority as a coloured badge with its label, the
    same colours on every board and console."""

    def sizeHint(self, option, index):
        # Room for the whole badge: fitting a column to its contents (a
        # double click on the header's edge) never cuts a status short.
        hint = super().sizeHint(option, index)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        hint.setWidth(max(hint.width(), option.fontMetrics.horizontalAdvance(text) + BADGE_PADDING))
        return hint

    def paint(self, painter: QPainter, option, index) -> None:
        rec = index.data(RECORD_ROLE)
        key = index.model().headerData(index.column(), Qt.Orientation.Horizontal)
        value = getattr(rec, "status" if key == "Status" else "priority", None) if rec is not None else None
        colour = STATUS_COLOURS.get(value or "")
        if colour is None:
            return super().paint(painter, option, index)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        elif (marked := index.data(Qt.ItemDataRole.BackgroundRole)) is not None:
            painter.fillRect(option.rect, marked)  # in conflict, or changed elsewhere just now
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        metrics = option.fontMetrics
        width = min(option.rect.width() - 8, metrics.horizontalAdvance(text) + 16)
        badge = QRectF(option.rect.x() + 4, option.rect.y() + 3, width, option.rect.height() - 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawRoundedRect(badge, 8, 8)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class BoardFilter(QSortFilterProxyModel):
    """Filter a board by agency, by status and by free text over its columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.agency = ""
        self._agency_key = ""
        self.status = ""
        self.text = ""  # the words searched for: letter case aside
        self.typed = ""  # ... as typed (shown again in the search field, and said)
        self.ids: frozenset[str] | None = None  # only these rows (the units to check), if set
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        # The source model sorts itself (fast, and new rows land in place);
        # this proxy only filters and keeps the source's order.
        self.sourceModel().sort(column, order)

    def set_filter(self, *, agency: str | None = None, status: str | None = None, text: str | None = None) -> None:
        with self._changing():
            if agency is not None:
                self.agency = agency
                self._agency_key = model.name_key(agency)
            if status is not None:
                self.status = status
            if text is not None:
                self.typed, self.text = text, text.strip().lower()

    def show_only(self, ids: frozenset[str] | None) -> None:
        """Only these rows (the units to check), with the other filters; or
        all rows again (None)."""
        with self._changing():
            self.ids = ids

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        # Qt 6.10 replaced invalidateFilter() with begin/endFilterChange().
        modern = hasattr(self, "beginFilterChange")
        if modern:
            self.beginFilterChange()
        yield
        if modern:
            self.endFilterChange()
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        src: RecordsModel = self.sourceModel()
        rec = src.records[source_row]
        if self.ids is not None and rec.id not in self.ids:
            return False
        if self.agency:
            agency = getattr(rec, "agency", None) or getattr(rec, "lead_agency", None)
            if agency != self.agency and (agency is None or model.name_key(agency) != self._agency_key):
                return False
        if self.status and row_status(src.table, rec) != self.status:
            return False
        if self.text:
            hay = " ".join(src._display(rec, key) for key, _ in src.columns)
            written = getattr(rec, WRITTEN.get(src.table, ""), None)  # a unit's notes, a task's description
            if self.text not in (f"{hay} {written}" if written else hay).lower():
                return False
        return True


def export_csv(proxy: QSortFilterProxyModel, path: str) -> int:
    """Write the rows a board shows (filtered and sorted as on screen) to
    CSV, as it shows them but for its numbers, written plainly (1550, not
    1,550, which a spreadsheet of a region of decimal commas reads as
    1.55), so that another operation can add them (csv_rows), and for text
    a spreadsheet would take for a formula, marked (model.as_cell)."""
    import csv

    src: RecordsModel = proxy.sourceModel()

    def cell(rec, key: str) -> str:
        if key in NUMBERS:
            value = getattr(rec, key)
            return "" if value is None else model.plain_number(value)
        return model.as_cell(src._display(rec, key))

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *[h for _, h in src.columns]])
        for r in range(proxy.rowCount()):
            rec = proxy.data(proxy.index(r, 0), RECORD_ROLE)
            w.writerow([rec.id, *[cell(rec, key) for key, _ in src.columns]])
    return proxy.rowCount()
