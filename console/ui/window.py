"""The main window: the boards, the journal, sync status and reconciliation."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import html
import itertools
import json
import logging
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QEventLoop, QMimeData, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console import apart, backup, clock, csv_rows, files, model, report, seed, transfer
from console.model import ValidationError
from console.store import StoreBusy, StoreError, Undone, short_id, stranded_how, to_reconcile
from console.sync.child import background
from console.sync.identity import short_id as short_console_id
from console.times import DONE_TASK, OPEN_TASK, STATUS_TIMERS, due_timestamp, past_timer
from console.ui.dialogs import (
    ERROR_COLOUR,
    AssignUnitsDialog,
    AutoBackupDialog,
    MergeDialog,
    PeersDialog,
    PickTaskDialog,
    ReconcileDialog,
    RecordDialog,
    StatusTimersDialog,
    StockDialog,
    ask,
    assign_problem,
    may_change_marks,
)
from console.ui.journal import JournalDock
from console.ui.models import (
    BADGE_PADDING,
    CONFLICT_TEXT,
    DUE_SOON_COLOUR,
    HINT_WIDTH,
    OVERDUE_COLOUR,
    RECORD_ROLE,
    STOCK_STATES,
    BadgeDelegate,
    BoardFilter,
    ElidedLabel,
    MessageBar,
    RecordsModel,
    Scheduler,
    ShortenedButton,
    clock_text,
    dark,
    export_csv,
    file_word,
    fit_screen,
    local_time,
    names_combo,
    number_text,
    plain,
    plain_label,
    shortened,
    since_text,
    span_text,
    tone,
    viewport_hint,
    zone_name,
)
from console.ui.sitrep import ActivityDialog, AssignmentDialog, ReportDialog
from console.ui.tally import FLAGGED, VOCABULARIES, TallyBar

BOARDS = ("units", "tasks", "resources")
STATUS_KEYS = list(model.UNIT_STATUSES)
GC_IDLE_INTERVAL_MS = 10 * 60 * 1000  # a full garbage collection, when the boards are idle
# A board's columns, fitted to what they show on first use: at most this
# wide each, so one long title or note does not push the rest out of view.
MAX_FITTED_COLUMN = 340
FIT_SAMPLE_ROWS = 200
# How long no peer may be connected before the OFFLINE banner says so: a
# console reconnects within about a second of a dropped connection, and a
# red banner flashing at every such drop would teach people to ignore it.
# (The status bar says "No peer connected" at once.)
OFFLINE_GRACE = 3.0
OUTBOX_TIP = 12  # operations waiting to sync named in the status bar's tooltip
UNDO_ASK_OVER = 40  # changes in an undo step past which Ctrl+Z asks first (an import, a status for 20 units)
TALLY_INTERVAL_MS = 250  # the status counts above a board are redrawn at most this often
# The fields whose change may make a task or stock item named like another's (see _refresh_apart).
APART_FIELDS = {"tasks": frozenset({"*", "title", "status", "deleted"}),
                "resources": frozenset({"*", "name", "agency", "unit", "deleted"})}
OVERDUE_RECOUNT_MS = 15_000  # how often the tabs count overdue tasks and units to check again, as time passes
STATUS_TIMER_MAX = 24 * 60  # the longest status timer, in minutes
APART_SLICE = 1000  # rows whose names are read again per turn of the event loop (about 4 ms)
CHECK_IN_BATCH = 25  # units whose last check-in is read at once
CHECK_IN_BUDGET = 0.015  # seconds of a turn of the event loop spent on them, a batch at least
CHECK_IN_AGAIN = 5.0  # seconds: how often check-ins are read again while journal entries arrive
# Text sizes (View menu), as a share of the system's: larger for a board on
# a wall display across the room, smaller to fit more rows on a laptop.
TEXT_SCALES = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0)
# Automatic backups (Board > Back up automatically), as a relay's: every
# half hour, the last day's kept.
AUTO_BACKUP_EVERY = 30  # minutes
AUTO_BACKUP_KEEP = 48
# Rows pasted onto a board are read as a file of this name: the questions,
# the errors ("the rows pasted, line 3: ...") and the journal call them so.
PASTED = "the rows pasted"
# What an empty board says (see MainWindow._say_empty).
EMPTY_BOARDS = {
    "units": "No units yet.<br>Ctrl+N adds one; Ctrl+I adds an agency's roster from a spreadsheet, and Ctrl+V the "
             "rows copied from one.<br>Connected to other consoles (Sync ▸ Peers, Ctrl+P), their units come here.",
    "tasks": "No tasks yet.<br>Ctrl+N adds one; Ctrl+I adds a list of them from a spreadsheet, and Ctrl+V the rows "
             "copied from one.<br>Connected to other consoles (Sync ▸ Peers, Ctrl+P), their tasks come here.",
    "resources": "No stock yet.<br>Ctrl+N adds an item; Ctrl+I adds an agency's stock list from a spreadsheet, and "
                 "Ctrl+V the rows copied from one.<br>Connected to other consoles (Sync ▸ Peers, Ctrl+P), their stock "
                 "comes here.",
}
SEARCH_SHOWN = 12  # characters the board's search field shows at the least
OPERATOR_SHOWN = 30  # characters of the operator's name the status bar shows
# Beside the text of rows copied from a board (Ctrl+C), for a board to
# paste them from: their numbers are written as the boards write them,
# 1,850.5 (model's number_text), so none is asked about.
BOARD_ROWS = "application/x-crisis-console-rows"


log = logging.getLogger(__name__)


class _Finished(QObject):
    """Carries a worker thread's result to the window's thread (a signal
    emitted on another thread is queued to this object's)."""

    done = Signal(object)


class _Progress(QObject):
    """Carries a worker thread's progress (done, total) to the window's thread."""

    moved = Signal(int, int)


class _Waiting(QObject):
    """Another process's answer, read on a thread, waited for in an event
    loop of its own (see MainWindow._beside): the answer and progress come
    to this thread."""

    done = Signal(object)
    moved = Signal(int, int)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.loop = QEventLoop(self)
        self.finished = False
        self.result = None
        self.done.connect(self._done)

    def _done(self, result) -> None:
        self.finished, self.result = True, result
        self.loop.quit()


class _Gone(Exception):
    """The window closed (or the application quit) while it waited."""


class _Stopped(Exception):
    """A person stopped what the window waited for."""


class MainWindow(QMainWindow):
    """Boards for units, tasks and resources; the journal; sync status."""

    _system_font: QFont | None = None  # the application's font before any text size was set

    def __init__(self, bridge, *, settings: QSettings | None = None) -> None:
        super().__init__()
        self._built = False  # (until then, a change of palette waits for the rest: see changeEvent)
        # Reading the boards makes objects by the hundred thousand, and the
        # collector would go through all of them in full passes of its own,
        # finding nothing to free: at 20,000 units and 20,000 tasks, four
        # such passes took 0.3 s of the window's 1.2 s to open. It waits
        # until the window is built; everything made so far is then kept
        # out of its passes (the boards' rows live as long as the window),
        # and so are rows read later, after each refresh slice (Scheduler).
        # Frozen objects are never collected, so once in a while, when the
        # boards are idle, everything is thawed and collected in one full
        # pass (tens of milliseconds), and frozen again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._build(bridge, settings)
            self._built = True
            gc.freeze()
        except BaseException:
            # Not built (the database failing under its first reads): what
            # was started stops, so that nothing of it reads the database
            # later (the console may open again, on a backup restored).
            for timer in self.findChildren(QTimer):
                timer.stop()
            self.deleteLater()
            raise
        finally:
            if collecting:
                gc.enable()

    def _build(self, bridge, settings: QSettings | None) -> None:
        self.bridge = bridge
        self.store = bridge.store
        self.settings = settings or QSettings("crisis-console", "console")
        # What needs someone here goes before the title (see _show_attention).
        self._title = f"Crisis console — {self.store.agency} — {self.store.path.name}"
        self._attention: dict[str, object] = {}
        self.conflicts = self.twins = self.stranded = self.to_check = self.overdue = self.low = 0
        # Tasks and stock added under one name at different consoles (perhaps entered twice
        # while apart, see Store.entered_apart): table -> row id -> (fields marked, tip).
        self._apart: dict[str, dict[str, tuple[frozenset[str], str]]] = {}
        self._names = apart.Names(self.store)  # a hash of each name of a task to do or stock item, kept up
        self._apart_marked: dict[tuple[str, int], list[str]] = {}  # (table, name's hash) -> the rows marked
        self._apart_stale: dict[str, set[str]] = {}  # table -> rows whose name, or being to do, may have changed
        self._apart_names: set[tuple[str, int]] = set()  # names read since the last marking
        self._conflicted: dict[str, dict[str, frozenset[str]]] = {}  # the open conflicts' marks, as last read
        self._tab_colours: dict[str, str | None] = {}  # a board's tab's colour while it says its rows need attention
        self.alarm = ""  # the banner's first words, while it shows: OFFLINE, SYNC STOPPED, ...
        self.database_failure: tuple[str, str] | None = None  # (what failed first, when): see database_failed
        self._failures_logged: set[str] = set()
        self.setWindowTitle(self._title)
        icon = seed.resources_dir() / "icons" / "console.svg"
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        fit_screen(self, 1280, 800)
        self.reconcile_dialog: ReconcileDialog | None = None
        self._received_seen = 0
        self._catch_up_total = 0  # changes to come when the current catch-up began
        self._offline_since: float | None = None  # time.monotonic() when no peer was connected
        self._switched_off = False  # by the demo's Offline switch
        # While the OFFLINE banner shows: since when, and the counts of
        # changes exchanged then; once back and caught up, what the
        # reconnection brought is said (see _say_back).
        self._away: dict | None = None
        self._back: dict | None = None
        self.back_online = ""  # what the last reconnection brought, as said
        self._outbox_shown = -1  # the count the outbox tooltip was made for
        self._close_when_sent = False  # asked on closing (see may_close)
        self._backup_thread: threading.Thread | None = None  # a backup under way (see back_up)
        self._importing = False  # a spreadsheet being read (see import_csv)
        self._backup_auto: int | None = None  # for an automatic one: the data version it copies
        self._rescued = False  # backed up since its file was found gone (see back_up)
        self._transfer_thread: threading.Thread | None = None  # a transfer file being written or merged
        self._transfer_whom = ""  # for whom the file being written is ("" for any console)
        self._connected_ids: set[str] = set()  # the consoles sync is connected to (as last heard)
        # Automatic backups: a connection of their own tells, by its data
        # version, whether anything was written since the last one.
        self._backup_watch: sqlite3.Connection | None = None
        self._auto_version: int | None = None
        self._auto_running = False
        self._auto_good: tuple[float, str, backup.BackupSummary | None] | None = None  # when, file, what
        self._auto_failed: tuple[float, str] | None = None  # when, why (cleared by the next good one)
        self._auto_key = _auto_backup_key(self.store.path)
        # The View menu's text size: the application's font, so its dialogs,
        # menus and tooltips too, as a share of the system's.
        self.text_scale = 1.0
        if MainWindow._system_font is None:
            MainWindow._system_font = QFont(QApplication.font())

        # Banners: offline (red) and conflicts to reconcile (amber).
        self.banner = plain_label()
        self.banner.setObjectName("offlineBanner")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setWordWrap(True)  # a long reason wraps, never widens the window
        self.banner.setStyleSheet("background: #b71c1c; color: white; font-weight: bold; padding: 6px")
        self.banner.hide()
        self.conflicts_button = ShortenedButton()
        self.conflicts_button.setObjectName("conflictsButton")
        self.conflicts_button.setStyleSheet(
            f"background: #ffb300; color: {CONFLICT_TEXT}; font-weight: bold; padding: 4px 10px")
        self.conflicts_button.clicked.connect(self.open_reconcile)

        # Filters.
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search this board…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.agency_filter = names_combo()
        self.status_filter = names_combo()
        self.search.textChanged.connect(self._search_typed)
        self.agency_filter.currentIndexChanged.connect(self._apply_combo_filters)
        self.status_filter.currentIndexChanged.connect(self._apply_combo_filters)

        # Boards.
        self.badges = BadgeDelegate(self)
        self.models: dict[str, RecordsModel] = {}
        self._unfitted: set[str] = set()  # boards whose columns are still to fit (see _fit_shown_board)
        self._awaiting_rows: set[str] = set()
        self.filters: dict[str, BoardFilter] = {}
        self.views: dict[str, QTableView] = {}
        self._empty_hints: dict[str, QLabel] = {}
        self.tabs = QTabWidget()
        # All refresh work, the boards' and the bridge's, takes turns here.
        self.scheduler = Scheduler(self)
        bridge.scheduler = self.scheduler
        for table in BOARDS:
            m = RecordsModel(table, self.store, self, scheduler=self.scheduler, sort=self._saved_sort(table))
            f = BoardFilter(self)
            f.setSourceModel(m)
            v = QTableView()
            v.setObjectName(f"{table}Board")
            v.setModel(f)
            # The order the board was loaded in: sorting switched on asks
            # for it, and finds it done (see RecordsModel.sort).
            v.horizontalHeader().setSortIndicator(m.sort_column, m.sort_order)
            v.setSortingEnabled(True)
            v.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            # Tab goes on to the journal, as out of any field: in the board
            # it went from cell to cell of the rows picked whole, and never
            # out of it (Ctrl+Tab did, which few know). Arrows move in it.
            v.setTabKeyNavigation(False)
            v.setAlternatingRowColors(True)
            v.verticalHeader().hide()
            # Rows of one fixed height: the header then keeps no per-row
            # sizes, so rows arriving in thousands cost no header work.
            v.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            v.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            v.horizontalHeader().setStretchLastSection(True)
            v.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            v.customContextMenuRequested.connect(lambda pos, t=table: self._context_menu(t, pos))
            v.doubleClicked.connect(lambda _i, t=table: self.edit_selected(t))
            for col, (key, _) in enumerate(m.columns):
                if key in ("status", "priority"):
                    v.setItemDelegateForColumn(col, self.badges)
                    # Wide enough for the longest badge ("out of service")
                    # whole: the text, the badge's padding, the cell's margin.
                    choices = model.TABLES[table].field(key).choices
                    longest = max(v.fontMetrics().horizontalAdvance(model.label(c)) for c in choices)
                    v.setColumnWidth(col, max(v.columnWidth(col), longest + BADGE_PADDING))
            v.selectionModel().selectionChanged.connect(self._selection_changed)
            self._copy_action(v, lambda t=table: self.copy_rows(t))
            self._paste_action(v)
            # Said on the board when it shows no row: why, and what to do.
            hint = self._empty_hints[table] = viewport_hint(v, f"{table}Empty")
            hint.linkActivated.connect(lambda _link: self.show_all())
            # Rows arriving hide it, in Qt alone (a catch-up brings 20,000
            # one by one); rows gone, or others shown, have it looked at
            # again once the change is whole (the board's model counts its
            # rows after the view does), at most once per turn of the loop.
            f.rowsInserted.connect(hint.hide)
            again = QTimer(self)
            again.setSingleShot(True)
            again.setInterval(0)
            again.timeout.connect(lambda t=table: self._say_empty(t))
            for signal in (f.rowsRemoved, f.modelReset, f.layoutChanged):
                signal.connect(lambda *_, timer=again: timer.start())  # (start(), not start(msec) of its arguments)
            self.models[table], self.filters[table], self.views[table] = m, f, v
            self.scheduler.pace(v.viewport())
            self.tabs.addTab(v, table.capitalize())
        self.tabs.currentChanged.connect(self._board_switched)
        self._base_row = self.views["units"].verticalHeader().defaultSectionSize()
        # Assigning by drag and drop: units dragged over the Tasks tab switch
        # to it, and dropping them on a task assigns them.
        self.views["units"].setDragEnabled(True)
        self.views["units"].setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.views["tasks"].setAcceptDrops(True)
        self.views["tasks"].setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.views["tasks"].setDropIndicatorShown(True)
        self.tabs.tabBar().setAcceptDrops(True)
        self.tabs.tabBar().setChangeCurrentOnDrag(True)
        self.models["tasks"].on_drop_units = self._drop_units

        top = QHBoxLayout()
        top.addWidget(self.search, 3)
        top.addWidget(plain_label("Agency"))
        top.addWidget(self.agency_filter, 1)
        top.addWidget(plain_label("Status"))
        top.addWidget(self.status_filter, 1)
        top.addWidget(self.conflicts_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        # How many of the shown board's rows are in each status.
        self.tally = TallyBar()
        self._tab_chained = ""  # the board whose count buttons Tab takes, after the filters
        self.tally.picked.connect(self._pick_status)
        self.tally.picked_flagged.connect(self.show_flagged_only)
        self._tally_timer = QTimer(self)
        self._tally_timer.setSingleShot(True)
        self._tally_timer.setInterval(TALLY_INTERVAL_MS)
        self._tally_timer.timeout.connect(self._show_tally)
        for table in VOCABULARIES:
            self.models[table].tally_changed.connect(lambda t=table: self._tally_moved(t))
        self.models["resources"].tally_changed.connect(lambda: self._show_low())
        layout.addWidget(self.tally)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)

        self._build_journal()
        self._build_status_bar()
        self._build_actions()
        self._board_switched()
        self._refresh_conflicts()

        self._conflicts_timer = QTimer(self)
        self._conflicts_timer.setSingleShot(True)
        self._conflicts_timer.setInterval(250)
        self._conflicts_timer.timeout.connect(self._refresh_stranded)
        self._apart_timer = QTimer(self)  # coalesced: tasks and stock named alike read at most once a second
        self._apart_timer.setSingleShot(True)
        self._apart_timer.setInterval(1000)
        self._apart_timer.timeout.connect(self._refresh_apart)
        self._names.load()
        self._mark_apart(self._names.shared())
        self._marks_stale = False  # conflicts or callsigns changed since the boards were marked
        self._agencies_timer = QTimer(self)
        self._agencies_timer.setSingleShot(True)
        self._agencies_timer.setInterval(1000)
        self._agencies_timer.timeout.connect(self._refresh_agency_choices)
        self._assign_timer = QTimer(self)
        self._assign_timer.setSingleShot(True)
        self._assign_timer.setInterval(1000)
        self._assign_timer.timeout.connect(self.models["tasks"].refresh_assignments)
        self.journal_dock.refresh_filter()

        # "In status" ticks: a repaint of what is visible, not a model change
        # (a model change would make the filter look at every row).
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.views["units"].viewport().update)
        # ... and so does whether a task is overdue.
        self._tick.timeout.connect(self.views["tasks"].viewport().update)
        # ... and cells changed elsewhere fade.
        self._tick.timeout.connect(self._fade_fresh)
        self._tick.start()
        # The Tasks tab says how many tasks are overdue, whichever board is
        # shown: counted again as tasks change, and as time passes.
        self._checked_in: dict[str, str | None] = {}  # unit -> its last note's time (see _show_to_check)
        self._stale_check_ins: set[str] = set()  # of those, the ones to read again
        self._again, self._again_at = False, 0.0  # reading them again, since when
        self._again_timer = QTimer(self)
        self._again_timer.setSingleShot(True)
        self._again_timer.timeout.connect(lambda: self._show_to_check())
        self._due_at: dict[str, float] = {}  # a due time (or a unit's status time) as stored -> its timestamp
        self._overdue_timer = QTimer(self)
        self._overdue_timer.setSingleShot(True)
        self._overdue_timer.setInterval(OVERDUE_RECOUNT_MS)
        self._overdue_timer.timeout.connect(self._show_overdue)
        # ... and the Units tab how many units are past their status timers.
        self.models["units"].status_timers = self.status_timers()
        self._show_overdue()
        self._show_low()  # ... and the Resources tab how many stock items are low
        bridge.changed.connect(self.on_changed)
        bridge.sync_status.connect(self.on_sync_status)
        self._listening = True
        self.on_sync_status(None)
        self._restore_layout()
        self._gc_timer = QTimer(self)  # (see __init__)
        self._gc_timer.setInterval(GC_IDLE_INTERVAL_MS)
        self._gc_timer.timeout.connect(self._collect_when_idle)
        self._gc_timer.start()
        self._auto_timer = QTimer(self)
        self._auto_timer.timeout.connect(lambda: self.auto_backup())
        self._configure_auto_backup(at_open=True)

    # ----------------------------------------------------------------- layout

    def _build_journal(self) -> None:
        dock = JournalDock(self.bridge, self.scheduler, self._selected_row, self)
        self.scheduler.pace(dock.view.viewport())
        dock.show_row.connect(lambda table, row: self.show_row(table, row) if table in BOARDS else None)
        dock.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.journal_dock = dock
        # Its parts, by the names the rest of the window (and its tests) use.
        self.journal, self.journal_list, self.journal_search = dock.model, dock.view, dock.search
        self.journal_state, self.journal_agency, self.journal_selected = dock.state, dock.agency, dock.selected
        self.note_edit = dock.note_edit

    def _selected_row(self) -> tuple[str, str] | None:
        """The row selected on the board shown (the first, if several)."""
        recs = self.selected(self.current_table())
        return (self.current_table(), recs[0].id) if recs else None

    def _selection_changed(self, *_) -> None:
        if hasattr(self, "journal_dock"):  # the journal shows the selected row's entries only, if asked
            self.journal_dock.refresh_filter()

    def _build_status_bar(self) -> None:
        bar = MessageBar()
        self.setStatusBar(bar)
        self.peers_label = ElidedLabel()
        self.peers_label.setObjectName("peersLabel")
        self.outbox_label = ElidedLabel()
        self.outbox_label.setObjectName("outboxLabel")
        self.exchange_label = ElidedLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("receiving")
        self.progress.hide()
        # Who the changes made here are recorded as: click to hand over.
        self.operator_button = QPushButton()
        self.operator_button.setObjectName("operatorButton")
        self.operator_button.setFlat(True)
        self.operator_button.clicked.connect(lambda: self.hand_over())
        self._show_operator()
        # The automatic backups' last outcome (hidden while there are none): click to set them up.
        self.backup_button = QPushButton()
        self.backup_button.setObjectName("backupButton")
        self.backup_button.setFlat(True)
        self.backup_button.clicked.connect(lambda: self.open_auto_backup())
        self.backup_button.hide()
        # Beside a spreadsheet's progress while it is read: stops it (so does Esc).
        self.stop_reading = QPushButton("Stop reading")
        self.stop_reading.setObjectName("stopReading")
        self.stop_reading.setToolTip("Stop reading the file (Esc): nothing is added")
        self.stop_reading.clicked.connect(lambda: self._stop_reading())
        self.stop_reading.hide()
        self._stop_escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=lambda: self._stop_reading())
        self._stop_escape.setEnabled(False)
        self._stop_reading: Callable[[], None] = lambda: None
        # What is waiting to sync, whole: the peers' names and the last
        # exchange give way first, then the message after them.
        self.outbox_label.setMinimumWidth(0)
        self.outbox_label.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.peers_label)
        bar.addWidget(self.outbox_label)
        bar.addWidget(self.exchange_label)
        bar.add_message_area()
        bar.addPermanentWidget(self.stop_reading)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.backup_button)
        bar.addPermanentWidget(self.operator_button)

    def _build_actions(self) -> None:
        def action(text, shortcut, slot, menu):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)
            return a

        board = self.menuBar().addMenu("&Board")
        action("&New…", "Ctrl+N", lambda: self.new_record(self.current_table()), board)
        action("&Edit…", "F2", lambda: self.edit_selected(self.current_table()), board)
        action("&Delete", "Delete", lambda: self.delete_selected(self.current_table()), board)
        board.addSeparator()
        action("E&xport to CSV…", "Ctrl+E", self.export_current, board)
        action("&Import from a spreadsheet…", "Ctrl+I", lambda: self.import_csv(), board)
        # (Ctrl+V is each board's own, as Ctrl+C is: shown here, not bound, or it would be two shortcuts.)
        action("&Paste rows from a spreadsheet\tCtrl+V", None, lambda: self.paste_rows(), board)
        action("Export the jo&urnal (ICS 214)…", "Ctrl+Shift+E", lambda: self.export_journal(), board)
        action("&Situation report…", "Ctrl+Shift+R", self.open_report, board)
        action("Assignment &list of the task (ICS 204)…", "Ctrl+Shift+L", self.open_assignment, board)
        action("&Activity log of the unit (ICS 214)…", "Ctrl+Shift+A", self.open_activity, board)
        action("&Hand over (shift change)…", "Ctrl+Shift+O", lambda: self.hand_over(), board)
        action("&Find", "Ctrl+F", lambda: self.search.setFocus(), board)
        action("Search the &journal", "Ctrl+J", lambda: self.journal_dock.focus_search(), board)
        board.addSeparator()
        self.backup_action = action("&Back up the database…", "Ctrl+Shift+B", lambda: self.back_up(), board)
        action("Back up au&tomatically…", None, lambda: self.open_auto_backup(), board)
        board.addSeparator()
        action("&Quit", "Ctrl+Q", lambda: self.may_close() and self.close(), board)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = action("&Undo", None, lambda: self.undo(), edit)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))  # (Cmd+Z on a Mac)
        self.redo_action = action("&Redo", None, lambda: self.redo(), edit)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.bridge.undo_changed.connect(self._show_undo)
        self._show_undo()
        units = self.menuBar().addMenu("&Units")
        self.status_actions = {}
        for i, status in enumerate(STATUS_KEYS, 1):
            self.status_actions[status] = action(
                f"Set status: {model.label(status)}", f"Ctrl+{i}", lambda _=False, s=status: self.set_status(s), units)
        units.addSeparator()
        action("&Assign to task…", "Ctrl+T", self.assign_selected, units)
        action("&Check in…", "Ctrl+K", lambda: self.check_in(), units)
        action("&Merge units entered twice…", None, lambda: self.merge_selected("units"), units)
        tasks_menu = self.menuBar().addMenu("&Tasks")
        action("Assign &units to the task…", "Ctrl+Shift+T", lambda: self.assign_units(), tasks_menu)
        task_status = tasks_menu.addMenu("Set task &status")
        self.task_status_actions = {
            status: action(model.label(status).capitalize(), None,
                           lambda _=False, s=status: self.set_task_status(s), task_status)
            for status in model.TASK_STATUSES}
        action("&Merge tasks entered twice…", None, lambda: self.merge_selected("tasks"), tasks_menu)
        stock = self.menuBar().addMenu("&Stock")
        action("&Draw stock…", "Ctrl+D", lambda: self.stock_selected(draw=True), stock)
        action("&Add stock…", "Ctrl+Shift+D", lambda: self.stock_selected(draw=False), stock)
        action("&Merge stock entered twice…", None, lambda: self.merge_selected("resources"), stock)
        view = self.menuBar().addMenu("&View")
        larger = action("&Larger text", "Ctrl++", lambda: self._step_text(+1), view)
        larger.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])  # "+" is shifted "=" on many keyboards
        action("&Smaller text", "Ctrl+-", lambda: self._step_text(-1), view)
        action("&Normal text size", "Ctrl+0", lambda: self.set_text_scale(1.0), view)
        # For a wall display: the whole screen, no frame (kept with the
        # window's layout, as it was when closed).
        self.full_screen_action = action("&Full screen", "F11", self.toggle_full_screen, view)
        self.full_screen_action.setCheckable(True)
        # The journal back once closed by the cross on its title (it stayed
        # closed, even after a restart; Ctrl+J, searching it, showed it).
        shown = self.journal_dock.toggleViewAction()
        shown.setText("The &journal")
        view.addAction(shown)
        view.addSeparator()
        action("Status &timers…", None, lambda: self.open_status_timers(), view)
        sync = self.menuBar().addMenu("&Sync")
        action("&Reconcile conflicts…", "Ctrl+R", self.open_reconcile, sync)
        action("&Peers…", "Ctrl+P", self.open_peers, sync)
        sync.addSeparator()
        # For whom: every change, or only what a console lacks (one last in
        # touch by sync, or one whose info file was carried over), listed
        # as the menu opens.
        self.write_menu = sync.addMenu("&Write changes to a file")
        self.write_menu.aboutToShow.connect(self._list_whom)
        self.transfer_actions = (
            self.write_menu.menuAction(),
            action("&Merge changes from a file…", None, lambda: self.merge_changes(), sync),
        )
        action("Write this console's &info to a file…", None, lambda: self.write_info(), sync)

    def toggle_full_screen(self) -> None:
        """The window on the whole screen, or back as it was (maximized, if
        it was)."""
        if self.isFullScreen():
            self.setWindowState(self.windowState() & ~Qt.WindowState.WindowFullScreen)
        else:
            self.setWindowState(self.windowState() | Qt.WindowState.WindowFullScreen)

    def _step_text(self, step: int) -> None:
        at = min(range(len(TEXT_SCALES)), key=lambda i: abs(TEXT_SCALES[i] - self.text_scale))
        self.set_text_scale(TEXT_SCALES[max(0, min(len(TEXT_SCALES) - 1, at + step))])

    def set_text_scale(self, scale: float, *, columns: bool = True) -> None:
        """Text at `scale` times the system's size, in the window and the
        dialogs it opens; rows, and columns unless told not to, grow and
        shrink with it. Remembered between runs."""
        old, self.text_scale = self.text_scale, scale
        font = QFont(MainWindow._system_font)
        font.setPointSizeF(MainWindow._system_font.pointSizeF() * scale)
        QApplication.setFont(font)
        # A widget whose style sheet sets its font (in bold: the count
        # buttons, the conflicts button, the offline banner) kept the size
        # it was first drawn at, small on a wall display, until its style
        # sheet is set again.
        for widget in self.findChildren(QWidget):
            if widget.styleSheet():
                widget.setStyleSheet(widget.styleSheet())
        # The journal's title was drawn in the font Qt took for a dock's
        # title when the dock was made, at the first size, unless the dock
        # has a font of its own: in bold, a heading; what it holds in the
        # window's.
        heading, body = QFont(font), QFont(font)
        heading.setBold(True)
        body.setBold(False)  # (said, not left to come from the dock's)
        self.journal_dock.setFont(heading)
        self.journal_dock.widget().setFont(body)
        for hint in self._empty_hints.values():  # (as many words to a line at any size)
            hint.setMinimumWidth(round(HINT_WIDTH[0] * scale))
            hint.setMaximumWidth(round(HINT_WIDTH[1] * scale))
        # The search field wide enough to read what is typed in it, however
        # narrow the window, at any size of text.
        self.search.setMinimumWidth(QFontMetrics(font).horizontalAdvance("x" * SEARCH_SHOWN) + 30)
        for view in self.views.values():
            view.verticalHeader().setDefaultSectionSize(round(self._base_row * scale))
            if columns and old != scale:
                for col in range(view.model().columnCount()):
                    view.setColumnWidth(col, round(view.columnWidth(col) * scale / old))
        self.settings.setValue("view/text_scale", scale)

    def _saved_sort(self, table: str) -> tuple[int, Qt.SortOrder]:
        """The column a board was sorted by when the window last closed, and
        which way (also in its header's saved state, restored later): its
        rows are loaded in that order. Column 0 ascending if none is saved,
        or what is saved is not such a pair."""
        orders = {o.value: o for o in Qt.SortOrder}
        try:
            column, order = (int(x) for x in str(self.settings.value(f"boards/{table}/sort", "")).split())
        except ValueError:
            return 0, Qt.SortOrder.AscendingOrder
        return (column, orders[order]) if column >= 0 and order in orders else (0, Qt.SortOrder.AscendingOrder)

    def _restore_layout(self) -> None:
        # The text size first: the column widths were saved at that size.
        try:
            scale = float(self.settings.value("view/text_scale", 1.0))
        except (TypeError, ValueError):
            scale = 1.0
        if not min(TEXT_SCALES) <= scale <= max(TEXT_SCALES):
            scale = 1.0
        self.set_text_scale(scale, columns=False)
        # (Each only if it is what was saved: a settings file edited by hand,
        # or of another release, never keeps the window from opening.)
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, (QByteArray, bytes)):
            self.restoreGeometry(geometry)
        if isinstance(state, (QByteArray, bytes)):
            self.restoreState(state)
        for table, view in self.views.items():  # column widths and order, per board
            columns = self.settings.value(f"boards/{table}/columns")
            if not (isinstance(columns, (QByteArray, bytes)) and view.horizontalHeader().restoreState(columns)):
                self._unfitted.add(table)
        self._fit_shown_board()

    def _fit_shown_board(self) -> None:
        """Size the shown board's columns to what they show, each at most
        MAX_FITTED_COLUMN wide, once: on first use, before the person has
        set any width (theirs is remembered instead). A board is fitted
        when first shown, and an empty one once its first rows arrive."""
        table = self.current_table()
        if table not in self._unfitted:
            return
        m, view = self.models[table], self.views[table]
        if not m.rowCount():
            if table not in self._awaiting_rows:
                self._awaiting_rows.add(table)
                m.rowsInserted.connect(self._fit_when_rows_arrive)
            return
        self._unfitted.discard(table)
        # Measured on the first rows only (Qt's default is a thousand).
        view.horizontalHeader().setResizeContentsPrecision(FIT_SAMPLE_ROWS)
        view.resizeColumnsToContents()
        for col in range(view.model().columnCount()):
            view.setColumnWidth(col, min(view.columnWidth(col), MAX_FITTED_COLUMN))
        # The last column fills what is left again (sizing it undid that).
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setStretchLastSection(True)

    def _fit_when_rows_arrive(self) -> None:
        m = self.sender()
        m.rowsInserted.disconnect(self._fit_when_rows_arrive)
        self._awaiting_rows.discard(m.table)
        QTimer.singleShot(0, self._fit_shown_board)

    def _collect_when_idle(self) -> bool:
        if any(m.busy for m in self.models.values()):
            return False  # busy: next time
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return True

    def may_close(self) -> bool:
        """Whether to close now, as Board ▸ Quit or the window's close
        button asks. With changes made here that no other console holds
        yet, the person closing is asked first (a field liaison about to
        leave may think the EOC has them): close once they are sent, close
        now (they stay here, and go the next time this console connects),
        or keep it open."""
        if self.store.file_gone() and not self._rescued:
            return self._may_close_gone()
        status = self.bridge.last_status
        n = status.get("outbox", 0) if status else 0  # None: no sync set up here
        if not n:
            return True
        connected = any(p["state"] == "connected" for p in status.get("peers", ()))
        they, are = ("they", "are") if n != 1 else ("it", "is")
        answer = ask(
            QMessageBox.Icon.Question, "Changes not yet sent",
            f"{n:,} change{'s' if n != 1 else ''} made here {'have' if n != 1 else 'has'} not reached another "
            f"console yet: {'being sent now' if connected else 'no other console is connected'}.",
            f"Close when sent: the window closes by itself once another console has {'them' if n != 1 else 'it'}"
            f"{'' if connected else ' (when one is connected again)'}.\nClose now: {they} stay"
            f"{'s' if n == 1 else ''} in this console's database and {are} sent the next time it connects.",
            [("Close when sent", QMessageBox.ButtonRole.AcceptRole),
             ("Close now", QMessageBox.ButtonRole.DestructiveRole),
             ("Keep open", QMessageBox.ButtonRole.RejectRole)], "Close when sent", self)
        self._close_when_sent = answer == "Close when sent"
        self._outbox_shown = -1
        self._show_outbox(n)  # says it closes once they are sent, or no longer
        return answer == "Close now"

    def _may_close_gone(self) -> bool:
        """Closing with the database's file gone from under the window
        (Store.file_gone): what the window has open goes with it, unless
        backed up first."""
        answer = ask(QMessageBox.Icon.Warning, "The database file is gone",
                     f"{self.store.path} was deleted or replaced while this window had it open. What it held is "
                     "still open here; once the window closes, it is lost unless backed up.",
                     "Back up: write it to a file now (the window stays open). Then open that file "
                     "(crisis-console restore puts it back in place).",
                     [("Back up…", QMessageBox.ButtonRole.AcceptRole),
                      ("Close without it", QMessageBox.ButtonRole.DestructiveRole),
                      ("Keep open", QMessageBox.ButtonRole.RejectRole)], "Back up…", self)
        if answer == "Back up…":
            self.back_up()
        return answer == "Close without it"

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._built:
            self._follow_scheme()
        elif event.type() == QEvent.Type.WindowStateChange and hasattr(self, "full_screen_action"):
            self.full_screen_action.setChecked(self.isFullScreen())  # (F11, the desktop's own, or restored so)

    def _follow_scheme(self) -> None:
        """The colours that mean something in their tones for the palette
        now, light or dark (see models.LIGHT_TONES): the desktop may switch
        to dark mode at dusk while the window is open."""
        now_dark = dark(self.palette())
        for board, m in self.models.items():
            if m.dark != now_dark:
                m.dark = now_dark
                self.views[board].viewport().update()
        self.journal.dark = now_dark  # (its tint; its view is painted again with the new palette)
        bar = self.tabs.tabBar()
        for board, colour in self._tab_colours.items():
            if colour is not None:
                bar.setTabTextColor(BOARDS.index(board), QColor(tone(colour, self.palette())))
        if self._auto_failed is not None:
            self._show_auto_backup()

    def closeEvent(self, event) -> None:
        # The close button (a spontaneous event, from the window system)
        # asks as Board ▸ Quit does; a close made by the program does not.
        if event.spontaneous() and not self.may_close():
            event.ignore()
            return
        self._close_when_sent = False
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for table, view in self.views.items():
            self.settings.setValue(f"boards/{table}/columns", view.horizontalHeader().saveState())
            m = self.models[table]
            self.settings.setValue(f"boards/{table}/sort", f"{m.sort_column} {m.sort_order.value}")
        # A closed window no longer refreshes: its timers and the bridge's
        # signals would otherwise reach a store that may be closed next.
        for timer in (self._conflicts_timer, self._agencies_timer, self._assign_timer, self._tick, self._gc_timer,
                      self._auto_timer, self._overdue_timer, self._tally_timer, self._again_timer,
                      self._apart_timer):
            timer.stop()
        if self.reconcile_dialog is not None:  # (a reload it had coming would read a store closed next)
            self.reconcile_dialog._reload_timer.stop()
            self.reconcile_dialog.close()
        if self._backup_watch is not None:
            self._backup_watch.close()
            self._backup_watch = None
        self.journal_dock.stop()
        self.scheduler.stop()
        self.bridge.scheduler = None
        if self._listening:  # once: a second close finds nothing to disconnect
            self._listening = False
            self.bridge.changed.disconnect(self.on_changed)
            self.bridge.sync_status.disconnect(self.on_sync_status)
            self.bridge.undo_changed.disconnect(self._show_undo)
        super().closeEvent(event)

    # --------------------------------------------------------------- boards

    def current_table(self) -> str:
        return BOARDS[self.tabs.currentIndex()]

    def current_filter(self) -> BoardFilter:
        return self.filters[self.current_table()]

    def _board_switched(self, *_) -> None:
        self._fit_shown_board()
        f = self.current_filter()
        self._fill_choices(self.agency_filter, self._agencies(self.current_table()), f.agency)
        self._fill_choices(self.status_filter, self._statuses(self.current_table()), f.status)
        self.search.setText(f.typed)
        self._show_tally()

    def _refresh_agency_choices(self) -> None:
        """Offer the agencies the shown board names now: rows arriving from
        peers (a console that joined with an empty database, say) bring
        agencies the filter did not list. (A few milliseconds with 20,000
        rows, at most once a second.)"""
        items = self._agencies(self.current_table())
        combo = self.agency_filter
        if items != [(combo.itemText(i), combo.itemData(i)) for i in range(1, combo.count())]:
            self._fill_choices(combo, items, self.current_filter().agency)

    def _agencies(self, table: str) -> list[tuple[str, str]]:
        return [(a, a) for a in self.store.agencies(table)]

    @staticmethod
    def _fill_choices(combo: QComboBox, items: list[tuple[str, str]], current: str) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("All", "")
        for label, data in items:
            combo.addItem(label, data)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.setEnabled(bool(items))
        combo.blockSignals(False)

    @staticmethod
    def _statuses(table: str) -> list[tuple[str, str]]:
        vocab = {"units": model.UNIT_STATUSES, "tasks": model.TASK_STATUSES, "resources": STOCK_STATES}.get(table, ())
        return [(model.label(s), s) for s in vocab]

    def _search_typed(self, text: str) -> None:
        self.current_filter().set_filter(text=text)
        self._say_empty(self.current_table())  # (no row shown before or after: the board's note says the new words)

    def show_all(self) -> None:
        """The shown board with no filter: every row."""
        self.search.clear()
        self.agency_filter.setCurrentIndex(0)
        self.status_filter.setCurrentIndex(0)
        if self.current_filter().ids is not None:
            self.show_flagged_only(False)

    def _say_empty(self, table: str) -> None:
        """On a board that shows no row, say why, and what to do: on a new
        console's first look, how rows come in; where filters hide every
        row, which, with a link that shows all again."""
        f, hint = self.filters[table], self._empty_hints[table]
        if f.rowCount():
            hint.hide()
            return
        total = self.models[table].rowCount()
        if not total:
            hint.setText(EMPTY_BOARDS[table])
        else:
            why = ([f"the search “{html.escape(shortened(f.typed.strip(), 40))}”"] if f.text else []) + (
                [f"agency {html.escape(shortened(f.agency, 40))}"] if f.agency else []) + (
                [f"status {model.label(f.status)}"] if f.status else []) + (
                [f"only the {FLAGGED[table][2]}"] if f.ids is not None else [])
            rows = table if total != 1 else table[:-1]
            hint.setText(f"None of the {total:,} {rows} shows, for {' and '.join(why) or 'the filters'}.<br>"
                         '<a href="all">Show all</a>')
        hint.show()

    def _apply_combo_filters(self, *_) -> None:
        self.current_filter().set_filter(agency=self.agency_filter.currentData() or "",
                                         status=self.status_filter.currentData() or "")
        self._show_tally()

    def _show_tally(self) -> None:
        table, f = self.current_table(), self.current_filter()
        flagged = self._flagged(table, f.agency)
        if f.ids is not None and f.ids != flagged:  # showing only those: the ones now
            f.show_only(flagged)
        self.tally.show_counts(table, self.models[table].counts(f.agency), f.status, f.agency,
                               flagged=len(flagged), flagged_on=f.ids is not None)
        self._say_empty(table)  # (its filters changed, perhaps)
        if self._tab_chained != table:  # (a board's count buttons, made when first shown: Tab takes them in turn)
            self._tab_chained = table
            chain = [self.search, self.agency_filter, self.status_filter, self.conflicts_button,
                     *self.tally.buttons.values(), self.tally.flagged_button, self.tabs]
            for first, then in itertools.pairwise(chain):
                QWidget.setTabOrder(first, then)

    def _flagged(self, table: str, agency: str = "") -> frozenset[str]:
        """The rows of a board that need attention, of one agency's (all:
        ""): the units to check, the tasks still to do with no unit on them,
        the stock items at or below their low marks."""
        m = self.models[table]
        if table == "units":
            return frozenset(r.id for r in m.records_of(m.to_check) if not agency or r.agency == agency)
        if table == "tasks":
            return frozenset(r.id for r in m.records if r.status in OPEN_TASK and not r.assigned_units
                             and (not agency or r.lead_agency == agency))
        if table == "resources":
            return frozenset(r.id for r in m.records_of(m.low) if not agency or r.agency == agency)
        return frozenset()

    def show_flagged_only(self, on: bool) -> None:
        """The board shows only its rows that need attention (units to
        check, tasks with no unit, stock low), kept so as they change; or
        all."""
        f = self.current_filter()
        f.show_only(self._flagged(self.current_table(), f.agency) if on else None)
        self._show_tally()

    def _tally_moved(self, table: str) -> None:
        # Coalesced: a catch-up folds rows in every few milliseconds.
        if table == self.current_table() and not self._tally_timer.isActive():
            self._tally_timer.start()

    def _pick_status(self, status: str) -> None:
        """A click on the tally: the board shows only that status (or all)."""
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(status)))
        self._show_tally()  # the click toggled its button; the filter says which is on

    def selected(self, table: str) -> list:
        view = self.views[table]
        rows = sorted({i.row() for i in view.selectionModel().selectedRows()})
        return [self.filters[table].data(self.filters[table].index(r, 0), RECORD_ROLE) for r in rows]

    def _copy_action(self, view, slot) -> None:
        # Ctrl+C on a board: its selected rows (the journal has its own).
        a = QAction("Copy", view)
        a.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        a.triggered.connect(lambda *_: slot())  # not with `checked`
        view.addAction(a)

    def _paste_action(self, view) -> None:
        # Ctrl+V on a board: rows copied from a spreadsheet (a text field keeps its own Ctrl+V).
        a = QAction("Paste rows", view)
        a.setShortcut(QKeySequence(QKeySequence.StandardKey.Paste))
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        a.triggered.connect(lambda *_: self.paste_rows())
        view.addAction(a)

    def paste_rows(self, text: str | None = None) -> int:
        """Add the rows copied from a spreadsheet (`text`, or what the
        clipboard holds: tab-separated, as Excel and LibreOffice copy a
        range), the row of their column names with them, to the board
        shown, as a file's rows are added (import_csv): every value checked,
        said and asked about first, then all added or none. Returns how many
        were added."""
        if self._importing:
            return 0
        from_board = False
        if not isinstance(text, str):
            data = QApplication.clipboard().mimeData()
            text = data.text() if data is not None else ""
            from_board = data is not None and data.hasFormat(BOARD_ROWS)
        if not text.strip():
            self.statusBar().showMessage("Nothing to paste: copy rows of a spreadsheet first, with the row of their "
                                         "column names", 15000)
            return 0
        with tempfile.TemporaryDirectory(prefix="crisis-console-paste-") as folder:
            path = Path(folder) / PASTED  # (what the questions and the journal call them)
            path.write_text(text, encoding="utf-8")
            self._importing = True
            try:
                return self._import(self.current_table(), str(path), pasted=True,
                                    decimal="point" if from_board else None)
            finally:
                self._importing = False

    def copy_rows(self, table: str) -> str:
        """The selected rows of a board, as shown, tab-separated under the
        column names, onto the clipboard: for a spreadsheet or a report."""
        src = self.models[table]
        clean = lambda v: " ".join(str(v).split())  # noqa: E731 (a tab or line break would split the cell)
        lines = ["\t".join(h for _, h in src.columns)]
        # (a spreadsheet takes pasted text for a formula as a file's: see model.as_cell)
        lines += ["\t".join(model.as_cell(clean(src._display(rec, key))) for key, _ in src.columns)
                  for rec in self.selected(table)]
        text = "\n".join(lines) + "\n" if len(lines) > 1 else ""
        if text:
            data = QMimeData()
            data.setText(text)
            data.setData(BOARD_ROWS, QByteArray(b"1"))
            QApplication.clipboard().setMimeData(data)
        return text

    def _context_menu(self, table: str, pos) -> None:
        menu = QMenu(self)
        if table == "units" and self.selected("units"):
            status_menu = menu.addMenu("Set status")
            for status in STATUS_KEYS:
                status_menu.addAction(self.status_actions[status])
            menu.addAction("Assign to task…", self.assign_selected)
            menu.addAction("Check in…", lambda: self.check_in())
            menu.addAction("Activity log (ICS 214)…", self.open_activity)
            if len(self.selected("units")) > 1:
                menu.addAction("Merge units entered twice…", lambda: self.merge_selected("units"))
        if table == "tasks" and self.selected("tasks"):
            status_menu = menu.addMenu("Set status")
            for status in model.TASK_STATUSES:
                status_menu.addAction(self.task_status_actions[status])
            menu.addAction("Assign units…", lambda: self.assign_units())
            menu.addAction("Assignment list (ICS 204)…", self.open_assignment)
            if len(self.selected("tasks")) > 1:
                menu.addAction("Merge tasks entered twice…", lambda: self.merge_selected("tasks"))
        if table == "resources" and self.selected("resources"):
            menu.addAction("Draw stock…", lambda: self.stock_selected(draw=True))
            menu.addAction("Add stock…", lambda: self.stock_selected(draw=False))
            if len(self.selected("resources")) > 1:
                menu.addAction("Merge stock entered twice…", lambda: self.merge_selected("resources"))
        menu.addAction("Copy", lambda: self.copy_rows(table))
        menu.addAction("Paste rows from a spreadsheet", lambda: self.paste_rows())
        menu.addAction("Edit…", lambda: self.edit_selected(table))
        menu.addAction("New…", lambda: self.new_record(table))
        menu.addAction("Delete", lambda: self.delete_selected(table))
        menu.exec(self.views[table].viewport().mapToGlobal(pos))

    # ------------------------------------------------------------ operations

    def _try(self, fn, *args, **kwargs) -> bool:
        try:
            fn(*args, **kwargs)
        except (ValidationError, StoreError) as exc:
            QMessageBox.warning(self, "Not done", plain(str(exc)))
            return False
        return True

    def new_record(self, table: str) -> RecordDialog:
        dialog = RecordDialog(self.bridge, table, parent=self)
        dialog.open()
        return dialog

    def edit_selected(self, table: str) -> RecordDialog | None:
        recs = self.selected(table)
        if not recs:
            return None
        dialog = RecordDialog(self.bridge, table, recs[0], parent=self)
        if table == "tasks" and recs[0].status not in DONE_TASK:
            dialog.accepted.connect(lambda: self._task_saved(recs[0].id))
        dialog.open()
        return dialog

    def _task_saved(self, task_id: str) -> None:
        """Completed or cancelled in its edit dialog: the task's units may be
        released, as from the Tasks menu."""
        now = next((t for t in self.store.get_many("tasks", [task_id])), None)
        if now is not None and now.status in DONE_TASK:
            self._offer_release([task_id], asked_after=True)

    def merge_selected(self, table: str) -> MergeDialog | None:
        """Merge the units, tasks or stock items selected on their board
        into one, after the person picks whose values to keep (MergeDialog)."""
        recs = self.selected(table) if self.current_table() == table else []
        if len(recs) < 2:
            self.statusBar().showMessage(f"Select the {table} entered twice on the {table.capitalize()} board "
                                         "first (Ctrl+click)", 5000)
            return None
        dialog = MergeDialog(self.bridge, table, recs, parent=self)
        dialog.open()
        return dialog

    def set_task_status(self, status: str) -> None:
        """Give the selected tasks a status. A task completed or cancelled
        with units still on it: ask whether to release them (make them
        available, off the task), in the same undo step."""
        recs = self.selected("tasks") if self.current_table() == "tasks" else []
        if not recs:
            self.statusBar().showMessage("Select tasks on the Tasks board first", 5000)
            return
        release: list[str] = []
        if status in DONE_TASK:
            chosen = self._offer_release([r.id for r in recs])
            if chosen is None:
                return
            release = chosen
        self._try(self.bridge.set_task_status, [r.id for r in recs], status, release)

    def _offer_release(self, task_ids: list[str], *, asked_after: bool = False) -> list[str] | None:
        """The units on these tasks, to release if the person says so: all
        of them, none ([]), or None to do nothing at all (Cancel). After a
        dialog has saved the task (`asked_after`), they are released here."""
        units = sorted((u for t in task_ids for u in self.store.units_on(t)), key=lambda u: u.callsign.casefold())
        if not units:
            return []
        titles = {u.task_id for u in units}
        where = (self.store.get("tasks", units[0].task_id).title if len(titles) == 1
                 else f"these {len(titles)} tasks")
        n = len(units)
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        if not asked_after:
            buttons |= QMessageBox.StandardButton.Cancel
        answer = QMessageBox.question(
            self, "Release the units?",
            plain(f"{n} unit{'s are' if n != 1 else ' is'} still on {where}: {_few([u.callsign for u in units], 8)}."
                  "\n\nYes: make them available, off the task. No: leave them on it."), buttons)
        if answer == QMessageBox.StandardButton.Cancel:
            return None
        release = [u.id for u in units] if answer == QMessageBox.StandardButton.Yes else []
        if asked_after and release:
            self._try(self.bridge.set_status, release, "available")
        return release

    def delete_selected(self, table: str) -> None:
        recs = self.selected(table)
        if not recs:
            return
        label = model.TABLES[table].label
        names = ", ".join(str(getattr(r, label)) for r in recs[:5])
        answer = QMessageBox.question(self, "Delete", plain(f"Delete {names}?"))
        if answer == QMessageBox.StandardButton.Yes:
            self._try(self.bridge.delete_many, table, [rec.id for rec in recs])

    def undo(self) -> Undone | None:
        """Take back the newest thing done in this window (Ctrl+Z), as new
        changes that reach every console; say what, and what was left."""
        return self._undo(self.bridge.undo, self.bridge.undo_steps, "Undo")

    def redo(self) -> Undone | None:
        return self._undo(self.bridge.redo, self.bridge.redo_steps, "Redo")

    def _undo(self, fn, steps, verb: str) -> Undone | None:
        # A key pressed by mistake must not take back a whole import: a step
        # of many changes (rows) is asked about first.
        n = sum(op.last - op.first + 1 for op in steps[-1].ops) if steps else 0
        if n > UNDO_ASK_OVER:
            asked = QMessageBox.question(
                self, verb, plain(f"{verb} “{steps[-1].text}”?\n\nThat is {n:,} changes, made on every console."))
            if asked != QMessageBox.StandardButton.Yes:
                return None
        try:
            done = fn()
        except (ValidationError, StoreError) as exc:
            QMessageBox.warning(self, "Not undone", plain(str(exc)))
            return None
        if done is None:
            self.statusBar().showMessage("Nothing to undo here", 5000)
        elif done.left:
            QMessageBox.information(self, "Undone in part", plain(
                f"{done.text}\n\nLeft as it is:\n" + "\n".join(f"• {why}" for why in done.left[:20])
                + (f"\n… and {len(done.left) - 20} more" if len(done.left) > 20 else "")))
        else:
            self.statusBar().showMessage(done.text, 15000)
        return done

    def _show_undo(self) -> None:
        for act, verb, steps in ((self.undo_action, "Undo", self.bridge.undo_steps),
                                 (self.redo_action, "Redo", self.bridge.redo_steps)):
            act.setEnabled(bool(steps))
            what = steps[-1].text if steps else ""
            if len(what) > 60:
                what = what[:59] + "…"
            act.setText(f"&{verb} " + what.replace("&", "&&") if what else f"&{verb}")  # "&&" shows "&"
            act.setToolTip(plain(steps[-1].text if steps else ""))

    def set_status(self, status: str) -> None:
        recs = self.selected("units")
        if recs:
            self._try(self.bridge.set_status, [r.id for r in recs], status)

    def assign_selected(self) -> PickTaskDialog | None:
        """Pick a task for the selected units (or none) and put them on it."""
        recs = self.selected("units")
        if not recs:
            return None
        dialog = PickTaskDialog(self.bridge, [r.id for r in recs], self)
        dialog.accepted.connect(lambda: self._assign([r.id for r in recs], dialog.picked))
        dialog.open()
        return dialog

    def _assign(self, unit_ids: list[str], task_id: str | None) -> bool:
        """Put units on a task (None: off theirs), saying why not if a unit or
        the task was deleted since they were picked."""
        problem = assign_problem(self.store, unit_ids, task_id)
        if problem:
            QMessageBox.warning(self, "Not done", plain(problem))
            return False
        return self._try(self.bridge.assign, unit_ids, task_id)

    def assign_units(self) -> AssignUnitsDialog | None:
        """Pick units to put on the task selected on the Tasks board."""
        recs = self.selected("tasks") if self.current_table() == "tasks" else []
        if not recs:
            self.statusBar().showMessage("Select a task on the Tasks board first", 5000)
            return None
        dialog = AssignUnitsDialog(self.bridge, recs[0], self)
        dialog.open()
        return dialog

    def _drop_units(self, unit_ids: list[str], task_id: str) -> bool:
        done = self._assign(unit_ids, task_id)
        if done:
            title = self.store.get("tasks", task_id).title
            n = len(unit_ids)
            self.statusBar().showMessage(f"Assigned {n} unit{'s' if n != 1 else ''} to {title}", 5000)
        return bool(done)

    def stock_selected(self, *, draw: bool) -> StockDialog | None:
        recs = self.selected("resources")
        if not recs:
            return None
        dialog = StockDialog(self.bridge, recs[0], draw=draw, parent=self)
        dialog.open()
        return dialog

    def add_note(self) -> None:
        self.journal_dock.add_note()

    def export_current(self, path: str | None = None) -> int | None:
        table = self.current_table()
        if not isinstance(path, str):
            path, _ = QFileDialog.getSaveFileName(self, "Export board", f"{table}.csv", "CSV (*.csv)")
            if not path:
                return None
        if self.store.owns_file(path):
            QMessageBox.warning(self, "Not exported", plain(f"{path} is this console's database: give another file."))
            return None
        try:
            return export_csv(self.filters[table], path)
        except OSError as exc:
            QMessageBox.warning(self, "Not exported", plain(f"Could not write {path}: {exc.strerror or exc}"))
            return None

    def import_csv(self, path: str | None = None) -> int:
        """Add the rows of a spreadsheet (an agency's roster, a stock list;
        CSV, or an Excel workbook) to the board shown: read beside the
        window (a workbook of 10,000 rows takes a second), every value
        checked first, then all added in one transaction, or none. Returns
        how many were added."""
        if self._importing:  # (Ctrl+I again while a file is read)
            return 0
        table = self.current_table()
        if not isinstance(path, str):
            path, _ = QFileDialog.getOpenFileName(self, f"Add {table} from a spreadsheet", "",
                                                  "Spreadsheets (*.csv *.txt *.xlsx);;All files (*)")
            if not path:
                return 0
        self._importing = True
        try:
            return self._import(table, path)
        finally:
            self._importing = False

    def _import(self, table: str, path: str, *, pasted: bool = False, decimal: str | None = None) -> int:
        name = Path(path).name
        nothing = "\n\nNothing was added."
        try:
            found = self._read(table, path, decimal)
        except ValidationError as exc:  # (the file not to be read too: the reading process says so)
            named = ", ".join(model.field_label(f.name).capitalize() for f in model.TABLES[table].fields if f.required)
            hint = (f"\n\nCopy the row of the column names with the rows ({named}…), or name the columns as the "
                    "board does." if pasted and "column" in str(exc) else "")
            QMessageBox.warning(self, "Nothing imported", plain(f"{exc}{hint}{nothing}"))
            return 0
        except _Stopped:
            self.statusBar().showMessage(f"Stopped reading {name}: nothing was added", 15000)
            return 0
        except _Gone:
            return 0
        if found is None:
            return 0
        whence = found.lines[0].rsplit(", ", 1)[0]  # (the file, and its sheet of several, as its lines name them)
        left = ""
        if found.above:
            left += f"\n\nLeft out, above its columns' names: {_few([f'“{a}”' for a in found.above], 4)}."
        if found.decimal == "comma":
            left += "\n\nIts numbers are read with a decimal comma: 2,5 is two and a half, 1.200 is 1200."
        if found.dates is not None:
            left += (f"\n\nIts dates are read with the {found.dates.removesuffix('-first')} first: 03/04 is "
                     f"{'3 April' if found.dates == 'day-first' else '4 March'}.")
        if found.encoding is not None:
            accented = [f"“{v[:40]}”" for v in dict.fromkeys(v for r in found.rows for v in r.values()
                                                            if isinstance(v, str) and not v.isascii())]
            left += (f"\n\n{name} is not UTF-8: it is read as {csv_rows.encoding_name(found.encoding)} text, as "
                     "Excel saves \"CSV (Comma delimited)\" on Western Windows."
                     + (f" Its words with accents read: {_few(accented, 4)}." if accented else "")
                     + " If they look wrong, choose No, and save the file as \"CSV UTF-8\".")
        if found.renamed:
            left += f"\n\nColumns read as: {', '.join(f'{c} as {model.field_label(f)}' for c, f in found.renamed)}."
        if found.others:
            why = f" ({'; '.join(found.shadowed)})" if found.shadowed else ""
            left += (f"\n\nLeft out, as no field of {table} is called so: {', '.join(found.others)}{why}. If one is, "
                     "choose No, and give the column the field's name.")
        if found.left_out:
            left += f"\n\nLeft out, as a new row cannot take them: {', '.join(found.left_out)}."
        if found.totals:
            left += f"\n\nLeft out, as totals: {_few(found.totals, 4)}."
        if found.filled:
            left += f"\n\nCells merged over several rows are read in each of them: {_few(found.filled, 4)}."
        if found.hidden_columns:
            left += (f"\n\nColumns hidden in the sheet are read all the same: {_few(found.hidden_columns, 4)}. If "
                     "one should not be, choose No, and delete it from the sheet.")
        if midnight := found.midnight_said():
            left += (f"\n\n{midnight[0].upper()}{midnight[1:]}. For another time, choose No, and add it "
                     f"{'to the rows copied' if pasted else 'in the file'}.")
        if table == "tasks":  # the same calls entered already?
            titled = self.store.tasks_titled(r.get("title") for r in found.rows)
            again = [r["title"] for r in found.rows if model.name_key(str(r.get("title") or "")) in titled]
            if again:
                n = len(again)
                left += (f"\n\n{n:,} of them {'have' if n != 1 else 'has'} the title of a task still to do: "
                         f"{_few(again, 5)}. They are added as new tasks all the same; tasks entered twice are "
                         "merged from the Tasks menu.")
        if table == "resources":  # the same stock entered already?
            named = self.store.resources_named((r.get("name"), r.get("agency")) for r in found.rows)
            again = [r["name"] for r in found.rows
                     if (model.name_key(str(r.get("name") or "")), model.name_key(str(r.get("agency") or ""))) in named]
            if again:
                n = len(again)
                left += (f"\n\n{n:,} of them {'have' if n != 1 else 'has'} the name of their agency's stock on the "
                         f"board: {_few(again, 5)}. They are added as new stock items all the same; stock entered "
                         "twice is merged from the Stock menu (its counts added up).")
        n = len(found.rows)
        first = f"\n\n{'Its first row' if n > 1 else 'It'} reads: {_row_said(table, found.rows[0])}."
        if found.hidden:  # (a sheet filtered in Excel: the rows a person sees, or all?)
            shown = found.shown()
            hidden = [found.lines[i].rsplit(", ", 1)[-1] for i in found.hidden]
            every, seen = f"Add all {n:,}", f"Add the {len(shown.rows):,} shown"
            answer = ask(QMessageBox.Icon.Question, "Import", f"Add {n:,} {table} from {whence}?{first}",
                         f"{len(hidden):,} of its rows {'is' if len(hidden) == 1 else 'are'} hidden in the sheet "
                         f"(filtered out in Excel, or hidden by hand): {_few(hidden)}.{left}",
                         [(every, QMessageBox.ButtonRole.AcceptRole)]
                         + ([(seen, QMessageBox.ButtonRole.AcceptRole)] if shown.rows else [])
                         + [("Cancel", QMessageBox.ButtonRole.RejectRole)], "Cancel", self)
            if answer == seen:
                found = shown
            elif answer != every:
                return 0
        elif QMessageBox.question(self, "Import", plain(f"Add {n:,} {table} from {whence}?{first}{left}")) \
                != QMessageBox.StandardButton.Yes:
            return 0
        try:
            ids = self.bridge.add_many(table, found.rows, where=found.lines,
                                      summary=f"Added {len(found.rows)} {table} from {name}")
        except (ValidationError, StoreError) as exc:
            QMessageBox.warning(self, "Nothing imported", plain(f"{exc}{nothing}"))
            return 0
        self.statusBar().showMessage(f"Added {len(ids):,} {table} from {name}", 15000)
        return len(ids)

    def _read(self, table: str, path: str, decimal: str | None = None) -> csv_rows.CsvRows | None:
        """The rows of the spreadsheet at `path` for `table` (None: not to
        be added, as a person chose), read beside the window. What it
        cannot tell by itself is asked: which sheet of several; which
        decimal mark, when its numbers read two ways, or which comes first
        in its dates. A CSV file that is not UTF-8 is read as Excel's "CSV
        (Comma delimited)" of Western Windows, and its columns that are no
        field are left out: the question before adding says both. The
        `decimal` mark, when known (rows copied from a board), is not asked."""
        name = Path(path).name
        reading = f"Reading {name}…"
        said: dict[str, str] = {"--decimal": decimal} if decimal else {}  # (csv_rows.main's options, as known)
        while True:
            try:  # (columns that are no field: left out, and the question before adding says so)
                found = self._beside(reading, table, path, "--leave-out-others",
                                     *[a for kv in said.items() for a in kv],
                                     *([] if "--sheet" in said else ["--unless-sheets"]))
            except csv_rows.NotUtf8:  # Excel's "CSV (Comma delimited)", most likely: shown as read, to be checked
                said["--encoding"] = csv_rows.LEGACY
                continue
            except csv_rows.NotText:
                if "--encoding" not in said:
                    raise
                raise ValidationError(f"{name} is not UTF-8 text, nor {csv_rows.encoding_name(csv_rows.LEGACY)}"
                                      ": save it as \"CSV UTF-8\"") from None
            except csv_rows.Ambiguous as exc:  # 1.200: 1.2, or 1200? 03/04: 3 April, or 4 March?
                way = self._ask_way(name, exc.detail)
                if way is None:
                    return None
                said[f"--{exc.detail['option']}"] = way
                continue
            if isinstance(found, list):  # a workbook of several sheets: which?
                sheet, ok = QInputDialog.getItem(self, f"Add {table} from {name}",
                                                 plain(f"{name} has {len(found)} sheets. Add the {table} of:"),
                                                 found, 0, False)
                if not ok:
                    return None
                said["--sheet"] = sheet
                continue
            return found

    def _ask_way(self, name: str, detail: dict) -> str | None:
        """Which way a file writes its numbers (or dates), asked of a
        person on its first that reads two ways (csv_rows.Ambiguous): the
        way chosen ("comma", "day-first"), or None."""
        (one, a), (other, b) = detail["shown"].items()
        more, kind = detail["more"], {"decimal": "number", "dates": "date"}[detail["option"]]
        others = (f" {more:,} more of its {kind}s read two ways as well: they are read alike." if more > 1 else
                  f" One more of its {kind}s reads two ways as well: it is read alike." if more else "")
        unsaid = {"decimal": "whether its decimal mark is a point or a comma",
                  "dates": "whether its dates have the day or the month first"}[detail["option"]]
        answer = ask(QMessageBox.Icon.Question, "Import", f"{name} writes {detail['written']} in the "
                     f"{model.field_label(detail['field'])} of {detail['where'].rsplit(', ', 1)[-1]}: is that "
                     f"{a} or {b}?", f"Nothing in the file says {unsaid}.{others}",
                     [(a, QMessageBox.ButtonRole.AcceptRole), (b, QMessageBox.ButtonRole.AcceptRole),
                      ("Cancel", QMessageBox.ButtonRole.RejectRole)], "Cancel", self)
        return {a: one, b: other}.get(answer)

    def _beside(self, doing: str, *args: str):
        """What `python -m console.csv_rows ARGS` finds (see csv_rows.main):
        read in a process of its own while this window's events go on (its
        boards paint, sync shows), as a dialog's would while it is open.
        Read on a thread here, a workbook's Python work would take the
        interpreter lock from this thread, and a board painted meanwhile
        would wait for it once per cell. A thread here reads what it says,
        its progress shown in the status line, beside a button (and Esc)
        that stops it. Returns the rows found (or the sheets), or raises
        what it said was wrong; raises _Stopped when a person stopped it,
        _Gone when the window closed, or the application quit, before it
        was done."""
        waiting = _Waiting(self)
        waiting.moved.connect(lambda lines, _: self.statusBar().showMessage(f"{doing} ({lines:,} rows)"))
        argv = [sys.executable, "-m", "console.csv_rows", *args]
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", errors="replace", **background())
        except OSError as exc:
            raise ValidationError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None

        stopped: list[bool] = []

        def work() -> None:
            said: dict | None = None
            try:
                with child:  # (its pipes closed, and waited for)
                    for line in child.stdout:
                        message = json.loads(line)
                        if "read" in message:
                            waiting.moved.emit(message["read"], 0)
                        else:
                            said = message
                    failed = child.stderr.read().strip().splitlines()
                if stopped:
                    said = {}
                elif said is None:  # (a bug: its traceback in the log)
                    log.error("python -m console.csv_rows %s failed (exit code %s):\n%s", " ".join(args),
                              child.returncode, "\n".join(failed))
                    said = {"kind": "ValidationError", "error": "reading it failed: "
                            + (failed[-1] if failed else f"exit code {child.returncode}")}
                waiting.done.emit(said)
            except (OSError, ValueError) as exc:
                with contextlib.suppress(RuntimeError):
                    waiting.done.emit({"error": f"reading it failed: {exc}", "kind": "ValidationError"})
            except RuntimeError:  # (the window gone: the application quit meanwhile)
                pass

        def stop() -> None:
            if not stopped:
                stopped.append(True)
                child.kill()  # (its output ends: the thread reading it sees so)

        self._stop_reading = stop
        self.stop_reading.show()
        self._stop_escape.setEnabled(True)
        self.statusBar().showMessage(doing)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)  # (busy, but the window still takes clicks)
        try:
            threading.Thread(target=work, name="import", daemon=True).start()
            if not waiting.finished:  # (its result is queued to this thread: it comes in the loop)
                waiting.loop.exec()
        finally:
            QApplication.restoreOverrideCursor()
            self.statusBar().clearMessage()
            self.stop_reading.hide()
            self._stop_escape.setEnabled(False)
            self._stop_reading = lambda: None
            waiting.deleteLater()
            if child.poll() is None:  # (the application quit meanwhile)
                child.kill()
        if not waiting.finished or not self._listening:
            raise _Gone
        if stopped:
            raise _Stopped
        said = waiting.result
        if said.get("kind") == "Ambiguous":
            raise csv_rows.Ambiguous(said["error"], said["detail"])
        if "error" in said:
            raise {"NotUtf8": csv_rows.NotUtf8, "NotText": csv_rows.NotText}.get(said["kind"], ValidationError)(
                said["error"])
        return said["sheets"] if "sheets" in said else csv_rows.CsvRows(**said["found"])

    def export_journal(self, path: str | None = None) -> None:
        self.journal_dock.export(path)

    def back_up(self, path: str | None = None) -> None:
        """Copy the database to a backup file (console/backup.py), on a
        thread of its own: SQLite copies it in one go, seconds for a large
        one, while this window and sync go on writing. Its file gone from
        under the window (Store.file_gone), through the window's own
        connection, on this thread (backup.rescue)."""
        if self._backup_thread is not None:
            return
        db = self.store.path
        if not isinstance(path, str):
            folder = setting_text(self.settings, "backup/folder", str(db.parent))
            suggested = str(Path(folder) / backup.backup_name(db, clock.wall_ms()))
            path, _ = QFileDialog.getSaveFileName(self, "Back up the database", suggested,
                                                  "Databases (*.db);;All files (*)")
            if not path:
                return
            self.settings.setValue("backup/folder", str(Path(path).parent))
        self.statusBar().showMessage(f"Backing up to {path}…")
        if self.store.file_gone():
            # Deleted or replaced under this window: only its own
            # connection still reads what it held, on this thread (a
            # long operation's 900,000 changes, 274 MiB: 0.8 s).
            self.statusBar().repaint()
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                result = backup.rescue(self.store, path)
            except (StoreError, OSError) as exc:
                result = exc
            else:
                self._rescued = True  # (nothing is written after: closing loses nothing more)
            finally:
                QApplication.restoreOverrideCursor()
            self._backed_up(result)
            return
        self._start_backup(lambda: backup.backup(db, path), str(path))

    def _start_backup(self, job, where: str, auto: int | None = None) -> None:
        """Run `job` (a backup) on a thread of its own; its result, or the
        error it raised, comes back to `_backed_up` on this thread."""
        self.backup_action.setEnabled(False)
        self._backup_auto = auto
        finished = _Finished(self)
        finished.done.connect(self._backed_up)
        finished.done.connect(finished.deleteLater)

        def work() -> None:
            try:
                result = job()
            except (StoreError, OSError) as exc:
                result = exc
            except Exception as exc:  # a bug: said, and the window goes on
                log.exception("backup to %s failed", where)
                result = exc
            try:
                finished.done.emit(result)
            except RuntimeError:  # the window is gone
                pass

        # Not a daemon: a backup under way when the window closes is
        # finished (or cleaned up) before the process exits.
        self._backup_thread = threading.Thread(target=work, name="backup")
        self._backup_thread.start()

    def _backed_up(self, result) -> None:
        self._backup_thread = None
        self.backup_action.setEnabled(True)
        auto, self._backup_auto = self._backup_auto, None
        if auto is not None:
            self._auto_backed_up(result, auto)
            return
        if self._backup_watch is not None and self._auto_version is None:
            QTimer.singleShot(0, self.auto_backup)  # turned on while this one ran: the first is taken now
        if isinstance(result, Exception):
            self.statusBar().clearMessage()
            said = f"{result.filename}: {result.strerror}" if isinstance(result, OSError) else str(result)
            QMessageBox.warning(self, "Not backed up", plain(f"The database was not backed up: {said}"))
            return
        self.statusBar().showMessage(f"Backed up {result.changes:,} changes to {result.path} "
                                     f"({result.bytes / 2**20:.1f} MiB in {result.seconds:.1f} s)", 30000)

    # ------------------------------------------------------- transfer files

    def _list_whom(self) -> None:
        """Sync ▸ Write changes to a file, as it opens: every change, what
        each console last in touch by sync lacked then (as it counts now),
        or what a console whose info file is at hand lacks."""
        m = self.write_menu
        m.clear()
        try:
            held, peers = self.store.count_missing({}), self.store.peers()  # (every change: what none is lacking)
        except StoreError as exc:  # (the database gone bad: said where the boards say it)
            log.warning("listing consoles to write changes for: %s", exc)
            held, peers = None, []
        m.addAction(f"For any console: every change{'' if held is None else f' ({held:,})'}…",
                    lambda: self.write_changes())
        for p in peers:
            if p["last_seen"] is None:  # never in touch: what it holds is not known
                continue
            cid, owed = p["console_id"], p["owed"]
            when = "connected now" if cid in self._connected_ids else f"{since_text(p['last_seen'])} ago"
            agency = (p["agency"] or "?").replace("&", "&&")  # (a menu takes "&" before the letter to underline)
            m.addAction(f"For {agency}'s console {short_console_id(cid)}: what it lacked when last in touch, "
                        f"{when} ({owed:,} change{'s' if owed != 1 else ''})…",
                        lambda cid=cid: self.write_changes(for_console=cid))
        m.addSeparator()
        m.addAction("For a console whose info file you have…", lambda: self.write_changes_for_info())

    def _ask_where(self, title: str, name: str, filters: str) -> str | None:
        """A file to write on the stick, in the folder last used, its name
        (`name` with {agency} and {stamp}) saying whose it is and when (UTC,
        as backups' names); None if cancelled."""
        folder = setting_text(self.settings, "transfer/folder", str(Path.home()))
        name = name.format(agency=file_word(self.store.agency) or "console",
                           stamp=time.strftime("%Y%m%d-%H%MZ", time.gmtime(clock.wall_ms() / 1000)))
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(folder) / name), filters)
        if not path:
            return None
        self.settings.setValue("transfer/folder", str(Path(path).parent))
        return path

    def _ask_which(self, title: str, filters: str) -> str | None:
        """A file to read from the stick, in the folder last used; None if
        cancelled."""
        folder = setting_text(self.settings, "transfer/folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, title, folder, filters)
        if not path:
            return None
        self.settings.setValue("transfer/folder", str(Path(path).parent))
        return path

    def write_changes(self, path: str | None = None, *, for_console: str | None = None,
                      for_info: str | None = None) -> None:
        """Write the changes this console holds to a transfer file, for a
        console no network reaches (a USB stick carries it there, to be
        merged with Merge changes from a file; console/transfer.py), in a
        process of its own (see _start_transfer) while this window goes
        on: every change, or only what a console lacks, as it was last in
        touch by sync (`for_console`, its console ID) or as its info file
        says (`for_info`)."""
        if self._transfer_thread is not None:
            return
        whom, other, extra = "", "", ()
        try:
            if for_console is not None:
                p = self.store.peer_holds(for_console)
                whom = f"what {p['agency']}'s console {short_console_id(p['console_id'])} lacked when last in touch"
                extra, other = ("--for-console", p["console_id"]), p["agency"]
            elif for_info is not None:
                info = transfer.read_info(for_info)
                if info["replica_id"] == self.store.replica_id:
                    raise transfer.TransferError(f"{for_info} is this console's own info: carry it to the "
                                                 "console that is to write changes for this one")
                other = str(info.get("agency") or "another console")
                whom = f"what {other}'s console …{short_id(info['replica_id'])} lacked, as its info file says"
                extra = ("--for-info", str(for_info))
        except (StoreError, transfer.TransferError) as exc:
            QMessageBox.warning(self, "Not written", plain(str(exc)))
            return
        if not isinstance(path, str):
            to = f"-for-{file_word(other) or 'console'}" if other else ""
            path = self._ask_where("Write changes to a file", "{agency}" + to + "-{stamp}.changes",
                                   "Transfer files (*.changes);;All files (*)")
            if path is None:
                return
        try:
            self.store.refuse_own_file(path)
        except StoreError as exc:
            QMessageBox.warning(self, "Not written", plain(str(exc)))
            return
        self._transfer_whom = whom
        self._start_transfer("write", path, f"Writing changes to {path}", "written", extra)

    def write_changes_for_info(self, info: str | None = None) -> None:
        """Sync ▸ Write changes to a file ▸ For a console whose info file
        you have: the file that console wrote (Write this console's info
        to a file, or `crisis-console info --json`), carried over."""
        if self._transfer_thread is not None:
            return
        if not isinstance(info, str):
            info = self._ask_which("The other console's info file", "Info files (*.json);;All files (*)")
            if info is None:
                return
        self.write_changes(for_info=info)

    def write_info(self, path: str | None = None) -> None:
        """Sync ▸ Write this console's info to a file: what this console
        holds (`crisis-console info --json`), for a console with no network
        to this one to write only the changes this one lacks. Small: written
        here, whole or not at all."""
        if not isinstance(path, str):
            path = self._ask_where("Write this console's info to a file", "{agency}-info-{stamp}.json",
                                   "Info files (*.json);;All files (*)")
            if path is None:
                return
        try:
            self.store.refuse_own_file(path)
            text = json.dumps(self.store.info().as_dict(), indent=1) + "\n"
            with files.replacing(path, durable=True) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except (StoreError, OSError) as exc:
            said = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else str(exc)
            QMessageBox.warning(self, "Not written", plain(f"{said}\n\nThe info file was not written."))
            return
        self.statusBar().showMessage(
            f"Wrote this console's info to {path}: on the console that is to write changes for this one, "
            "Sync ▸ Write changes to a file ▸ For a console whose info file you have", 60000)

    def merge_changes(self, path: str | None = None) -> None:
        """Merge a transfer file another console wrote (Write changes to a
        file, or `crisis-console changes export`), as sync would: the file
        is checked whole first, and a damaged one changes nothing. In a
        process of its own; the boards show what it brings as it is
        merged, as they show the command line's writes."""
        if self._transfer_thread is not None:
            return
        if not isinstance(path, str):
            path = self._ask_which("Merge changes from a file", "Transfer files (*.changes);;All files (*)")
            if path is None:
                return
        self._start_transfer("merge", path, f"Merging changes from {path}", "merged")

    def _start_transfer(self, what: str, path: str, doing: str, verb: str, extra: tuple[str, ...] = ()) -> None:
        """Run `python -m console.transfer WHAT` on `path`: a process of its
        own, as decoding and merging 100k changes is Python work that on a
        thread of this process would take the interpreter lock from this
        window's thread for a large part of a second at a time. A thread
        here reads what it says, and its progress shows in the status bar;
        its result comes back to `_transferred` on this thread."""
        for a in self.transfer_actions:
            a.setEnabled(False)
        self.statusBar().showMessage(f"{doing}…")
        progress, finished = _Progress(self), _Finished(self)

        def moved(done: int, total: int) -> None:
            if self._transfer_thread is not None:
                self.statusBar().showMessage(f"{doing}: {done:,} of {total:,} changes {verb} "
                                             f"({100 * done // max(total, 1)}%)…")

        progress.moved.connect(moved)
        finished.done.connect(lambda said: self._transferred(*said))
        finished.done.connect(finished.deleteLater)
        finished.done.connect(progress.deleteLater)
        argv = [sys.executable, "-m", "console.transfer", what, "--db", str(self.store.path), path, *extra]

        def work() -> None:
            result, reached = None, 0  # reached: changes done, 0 if it failed before any batch
            try:
                child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         encoding="utf-8", errors="replace", **background())
            except OSError as exc:
                result = {"error": f"cannot start {argv[0]}: {exc.strerror or exc}"}
            else:
                with child:  # (its pipes closed, and waited for)
                    for line in child.stdout:
                        try:
                            said = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(said, dict) and isinstance(said.get("progress"), list):
                            reached = said["progress"][0]
                            with contextlib.suppress(RuntimeError):  # the window is gone
                                progress.moved.emit(*said["progress"])
                        elif isinstance(said, dict):
                            result = said
                    why = child.stderr.read().strip()
                code = child.returncode
                if result is None:  # a bug, or killed: what it said last is the reason
                    log.error("%s stopped (exit code %s): %s", doing, code, why)
                    result = {"error": f"it stopped (exit code {code}): "
                                       f"{why.splitlines()[-1] if why else 'no reason given'}"}
            with contextlib.suppress(RuntimeError):  # the window is gone
                finished.done.emit((result, verb, reached))

        # Not a daemon: a merge under way when the window closes ends (each
        # batch is one transaction) before this process exits.
        self._transfer_thread = threading.Thread(target=work, name="transfer")
        self._transfer_thread.start()

    def _transferred(self, result: dict, verb: str, reached: int) -> None:
        self._transfer_thread = None
        for a in self.transfer_actions:
            a.setEnabled(True)
        if "error" in result:
            self.statusBar().clearMessage()
            said = str(result["error"])
            if verb == "merged":
                if not reached:  # (each batch merged is said: see transfer.import_changes)
                    said += "\n\nNothing was merged: this console's data is as it was."
                QMessageBox.warning(self, "Not merged", plain(said))
            else:
                QMessageBox.warning(self, "Not written", plain(f"{said}\n\nNo transfer file was written."))
            return
        if verb == "written":
            w = result["written"]
            whom = f" ({self._transfer_whom})" if self._transfer_whom else ""
            self.statusBar().showMessage(
                f"Wrote {w['changes']:,} changes{whom} to {w['path']}: merge it on the other console "
                "(Sync ▸ Merge changes from a file)", 60000)
            return
        m = result["merged"]
        text = (f"Merged {m['applied']:,} new changes from {m['from_agency']}'s console …"
                f"{short_id(m['from_replica'])} ({m['duplicates']:,} already here)")
        if m["to_reconcile"]:
            text += f"; {m['to_reconcile']} to reconcile (Ctrl+R)"
        self.statusBar().showMessage(text, 60000)
        if m.get("not_held"):
            n = m["not_held"]
            QMessageBox.warning(self, "Changes still missing", plain(
                f"{text}.\n\nThis console still lacks {n:,} change{'s' if n != 1 else ''} the file left out, as it "
                f"was written for what {m['for']} held. Sync with a console that has them, or merge a file written "
                "for this console's info now (Sync ▸ Write this console's info to a file, here)."))
        if m["refused"]:
            QMessageBox.warning(self, "Some changes refused", plain(text + "\n\n" + "\n".join(
                f"From console …{short_id(origin)}, from change #{seq} on: {reason}"
                for origin, seq, reason in m["refused"])))

    # ------------------------------------------------------ automatic backups

    def auto_backup_settings(self) -> tuple[str | None, int, int]:
        """(folder or None when off, minutes between backups, how many kept)
        for this database, as remembered."""
        k = self._auto_key
        folder = setting_text(self.settings, f"{k}/folder")
        try:
            every = min(24 * 60, max(1, int(self.settings.value(f"{k}/every", AUTO_BACKUP_EVERY))))
            keep = max(1, int(self.settings.value(f"{k}/keep", AUTO_BACKUP_KEEP)))
        except (TypeError, ValueError):  # a settings file edited by hand
            every, keep = AUTO_BACKUP_EVERY, AUTO_BACKUP_KEEP
        return folder, every, keep

    def set_auto_backup(self, folder: str | None, every: int = AUTO_BACKUP_EVERY, keep: int = AUTO_BACKUP_KEEP) -> None:
        """Back this database up into `folder` every `every` minutes,
        keeping the newest `keep` there (None: no more automatic backups).
        Remembered for this database; the first backup starts now."""
        k = self._auto_key
        if folder is None:
            self.settings.remove(k)
        else:
            if not folder.strip():
                raise ValidationError("choose a folder to back up into")
            try:
                there = Path(folder).is_dir()
            except OSError as exc:  # (a name too long)
                raise ValidationError(f"{folder}: not a folder to back up into: {exc.strerror or exc}") from None
            if not there:
                raise ValidationError(f"{folder}: no such folder; choose one that exists (plug the drive in first)")
            folder = str(Path(folder).resolve())  # not taken from wherever the console was started next time
            if not 1 <= every <= 24 * 60 or keep < 1:
                raise ValidationError("back up every 1 to 1440 minutes, keeping at least one")
            self.settings.setValue(f"{k}/folder", str(folder))
            self.settings.setValue(f"{k}/every", int(every))
            self.settings.setValue(f"{k}/keep", int(keep))
        self._auto_good = self._auto_failed = None
        self._configure_auto_backup()

    def open_auto_backup(self) -> AutoBackupDialog:
        dialog = AutoBackupDialog(self, *self.auto_backup_settings())
        dialog.open()
        return dialog

    def _configure_auto_backup(self, *, at_open: bool = False) -> None:
        folder, every, _ = self.auto_backup_settings()
        if folder is None:
            self._auto_timer.stop()
            self.backup_button.hide()
            if self._backup_watch is not None:
                self._backup_watch.close()
                self._backup_watch = None
            return
        if self._backup_watch is None:
            self._backup_watch = sqlite3.connect(str(self.store.path), isolation_level=None)
        self._auto_version = None
        self._auto_timer.start(every * 60_000)
        self.backup_button.show()
        self._show_auto_backup()
        self.auto_backup(at_open=at_open)

    def auto_backup(self, *, at_open: bool = False) -> bool:
        """A turn of the automatic backups: a backup into the folder on a
        thread, unless nothing was written since the last one (or, as the
        window opens, the newest there is younger than a turn); then the
        oldest past the number kept are deleted. Returns whether one
        started. A failure (the stick pulled out, the disk full) shows in
        the status bar, and the next turn tries again."""
        folder, every, keep = self.auto_backup_settings()
        if folder is None or self._backup_watch is None or self._backup_thread is not None:
            return False
        try:
            version = self._backup_watch.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:
            self._auto_backed_up(StoreError(f"cannot read the database: {exc}"), self._auto_version or 0)
            return False
        if version == self._auto_version:
            return False
        try:
            self.store.check_file()  # (not the file put in its place, backed up under its name)
        except StoreError as exc:
            self._auto_backed_up(exc, self._auto_version or 0)
            return False
        db = self.store.path
        recent = every * 60 if at_open else None

        def job():
            if recent is not None:
                last = backup.newest(folder, db)
                if last is not None and time.time() - last.stat().st_mtime < recent:
                    return last  # taken within a turn, by an earlier run of the window
            return backup.into_folder(db, folder, keep)

        self._auto_running = True
        self._show_auto_backup()
        self._start_backup(job, folder, auto=version)
        return True

    def _auto_backed_up(self, result, version: int) -> None:
        self._auto_running = False
        if isinstance(result, Exception):
            said = (f"{result.filename}: {result.strerror}" if isinstance(result, OSError) and result.strerror
                    else str(result))
            log.warning("automatic backup failed: %s", said)
            self._auto_failed = (time.time(), said)
            self.statusBar().showMessage(f"The automatic backup failed: {said}", 30000)
        elif isinstance(result, Path):  # one recent enough was there already
            self._auto_version = version
            self._auto_good, self._auto_failed = (result.stat().st_mtime, result.name, None), None
        else:
            b, gone = result
            self._auto_version = version
            self._auto_good, self._auto_failed = (b.taken_ms / 1000, b.path.name, b), None
            log.info("backed up automatically to %s (%s changes, %.1f MiB in %.1f s)%s", b.path, f"{b.changes:,}",
                     b.bytes / 2**20, b.seconds, f"; deleted {len(gone)} older" if gone else "")
        self._show_auto_backup()

    def _show_auto_backup(self) -> None:
        """The status bar's word on the automatic backups: when the last
        was taken, or in red that the last try failed."""
        folder, every, keep = self.auto_backup_settings()
        if folder is None:
            return
        how = f"Automatic backups into {folder} every {every} min, the newest {keep} kept. Click to change."
        good = ""
        if self._auto_good is not None:
            at, name, b = self._auto_good
            size = f", {b.changes:,} changes, {b.bytes / 2**20:.1f} MiB" if b else ""
            good = f"The last: {name}, {clock_text(_iso(at))}{size}."
        if self._auto_failed is not None:
            at, why = self._auto_failed
            self.backup_button.setText("BACKUP FAILED")
            self.backup_button.setStyleSheet(f"color: {tone(ERROR_COLOUR, self.palette())}; font-weight: bold")
            self.backup_button.setToolTip(plain(f"The automatic backup at {clock_text(_iso(at))} failed: {why}. "
                                                f"It is tried again every {every} min. {good}\n{how}"))
            return
        self.backup_button.setStyleSheet("")
        if self._auto_running:
            self.backup_button.setText("Backing up…")
        elif self._auto_good is not None:
            self.backup_button.setText(f"Backed up {clock_text(_iso(self._auto_good[0]))}")
        else:
            self.backup_button.setText("Backups on")
        self.backup_button.setToolTip(plain(f"{good}\n{how}" if good else how))

    def add_offline_switch(self, url: str) -> QCheckBox:
        """A switch that cuts this console off its peer and reconnects it
        (for the demo: partitions, edits on both sides, reconciliation)."""
        switch = QCheckBox("Offline")
        switch.setObjectName("offlineSwitch")
        switch.setToolTip("Cut this console off the network, and reconnect it")
        engine = self.bridge.engine

        def toggled(offline: bool) -> None:
            self._switched_off = offline
            if offline:
                engine.remove_peer(url)
            else:
                engine.add_peer(url)

        switch.toggled.connect(toggled)
        self.statusBar().addPermanentWidget(switch)
        return switch

    def open_peers(self) -> PeersDialog:
        dialog = PeersDialog(self.bridge, self)
        dialog.show()
        return dialog

    def hand_over(self, name: str | None = None) -> bool:
        """Another person takes this console over: asks who, then records
        the changes made here as theirs from now on (Store.hand_over)."""
        if not isinstance(name, str):
            name, ok = QInputDialog.getText(
                self, "Hand over",
                plain(f"This console's changes are recorded as {self.store.operator}.\nWho is at this console now?"),
                text="")
            if not ok or not name.strip():
                return False
        before = self.store.operator
        try:
            self.store.hand_over(name)
        except (ValidationError, StoreError) as exc:
            QMessageBox.warning(self, "Not handed over", plain(str(exc)))
            return False
        if self.store.operator != before:
            # Undo takes back what the person at the console did: not, in
            # the next one's name, what the last one did.
            self.bridge.forget_undo()
        self._show_operator()
        self.statusBar().showMessage(f"{self.store.operator} has this console now; the journal says so", 15000)
        return True

    def _show_operator(self) -> None:
        # The name as the status bar has room for it (a name may be 200
        # characters long); whole in the tooltip. ("&&": a button takes "&"
        # as the mark of a letter to underline, and of its Alt shortcut.)
        name = self.store.operator
        self.operator_button.setText(f"Operator: {shortened(name, OPERATOR_SHOWN).replace('&', '&&')}")
        self.operator_button.setToolTip(plain(f"Who this console's changes are recorded as: {name}. At a shift "
                                              "change, click (or Ctrl+Shift+O) to hand over."))

    def open_report(self) -> ReportDialog:
        dialog = ReportDialog(self.store, self, timers=self.models["units"].status_timers)
        dialog.show()
        return dialog

    def open_assignment(self) -> AssignmentDialog | None:
        """The assignment list (ICS 204) of the task selected on the Tasks
        board, to print for the units on it."""
        recs = self.selected("tasks") if self.current_table() == "tasks" else []
        if not recs:
            self.statusBar().showMessage("Select a task on the Tasks board first", 5000)
            return None
        dialog = AssignmentDialog(self.store, recs[0].id, self)
        dialog.show()
        return dialog

    def open_activity(self) -> ActivityDialog | None:
        """The activity logs (ICS 214) of the units selected on the Units
        board, for the last operational period."""
        recs = self.selected("units") if self.current_table() == "units" else []
        if not recs:
            self.statusBar().showMessage("Select a unit on the Units board first", 5000)
            return None
        if len(recs) > report.ACTIVITY_UNITS:
            self.statusBar().showMessage(f"{len(recs):,} units selected: the activity logs of at most "
                                         f"{report.ACTIVITY_UNITS} are made at once", 8000)
            return None
        dialog = ActivityDialog(self.store, [r.id for r in recs], self)
        dialog.show()
        return dialog

    def open_reconcile(self) -> ReconcileDialog:
        if self.reconcile_dialog is None:
            self.reconcile_dialog = ReconcileDialog(self.bridge, self)  # (listing what there is)
        else:
            self.reconcile_dialog.reload()  # (not followed while closed)
        self.reconcile_dialog.show()
        self.reconcile_dialog.raise_()
        return self.reconcile_dialog

    # -------------------------------------------------------------- updates

    def _show_overdue(self) -> None:
        """The Tasks tab, in red, says how many tasks still to do are past
        their due time; its tooltip names the first few, most overdue first."""
        now = time.time()
        late = []
        for rec in self.models["tasks"].records:
            if rec.due and rec.status in OPEN_TASK:
                at = self._due_at.get(rec.due)
                if at is None:
                    at = self._due_at[rec.due] = due_timestamp(rec.due)
                if at is not None and at < now:
                    late.append((at, rec.title))
        self.overdue = len(late)
        self._flag_tab("tasks", f"{len(late)} overdue", OVERDUE_COLOUR, "Overdue: ", len(late),
                       [f"{title} (by {span_text(now - t)})" for t, title in heapq.nsmallest(OUTBOX_TIP, late)])
        if len(self._due_at) > 4 * (len(self.models["tasks"].records) + len(self.models["units"].records)) + 1000:
            self._due_at.clear()  # due times and status times no row has any more
        self._show_to_check(now)
        self._overdue_timer.start(OVERDUE_RECOUNT_MS)

    def _show_low(self) -> None:
        """The Resources tab, in orange, says how many stock items are at
        or below their low marks, whichever board is shown; its tooltip
        names the first few, those with none left first, then the lowest
        for their marks."""
        m = self.models["resources"]
        rows = m.records_of(m.low)
        if len(rows) != self.low:
            self.low = len(rows)
            self._show_attention()
        first = heapq.nsmallest(OUTBOX_TIP, rows, key=lambda r: (
            (r.quantity or 0) / r.low_at if r.low_at else 0.0, (r.name or "").casefold()))
        self._flag_tab("resources", f"{len(rows)} low", DUE_SOON_COLOUR,
                       "At or below their low marks: ", len(rows),
                       [f"{r.name} ({number_text(r.quantity or 0)}{f' {r.unit}' if r.unit else ''}, low at "
                        f"{number_text(r.low_at)})" for r in first])

    def _show_to_check(self, now: float | None = None) -> None:
        """The Units tab, in orange, says how many units are past their
        status timers (a unit dispatched ten minutes ago and not yet en
        route, say, that has not checked in since); its tooltip names the
        first few, longest past first."""
        now = time.time() if now is None else now
        m = self.models["units"]
        timers = m.status_timers
        stamps = self._due_at
        candidates = []  # past their timers by their statuses' times alone: (unit, by how much)
        for rec in m.records:
            minutes = timers.get(rec.status)
            if minutes and rec.status_since:
                at = stamps.get(rec.status_since)
                if at is None:
                    at = stamps[rec.status_since] = due_timestamp(rec.status_since) or now
                if now - at >= minutes * 60:
                    candidates.append((rec, now - at - minutes * 60))
        # When those last checked in (a note about them since their status
        # began): read for those not known, or not since journal entries
        # arrived (on_changed), for CHECK_IN_BUDGET of a turn at most, so
        # that thousands of them (a console back after a day away) never
        # freeze the window, however long their journals (read while a
        # catch-up writes, each unit's may take milliseconds: 200 a turn
        # held the window 0.4 s); meanwhile a unit keeps the flag it had.
        # Those known are read again at most every CHECK_IN_AGAIN seconds
        # (a catch-up brings journal entries all the time), and not while a
        # catch-up is still to come (joining a long operation, they were
        # read again every 5 s: a quarter of the window's time), only once
        # it is in.
        known, stale = self._checked_in, self._stale_check_ins
        if stale and not self._again and not self._catch_up_total:
            wait = self._again_at + CHECK_IN_AGAIN - now
            if wait <= 0:
                self._again, self._again_at = True, now
            elif not self._again_timer.isActive():
                self._again_timer.start(int(wait * 1000) + 1)
        todo = [r for r, _ in candidates if r.id not in known or (self._again and r.id in stale)]
        done, began = 0, time.perf_counter()
        while done < len(todo) and (not done or time.perf_counter() - began < CHECK_IN_BUDGET):
            part = todo[done:done + CHECK_IN_BATCH]
            found = self.store.last_notes("units", {r.id: r.status_since for r in part})
            for r in part:
                known[r.id] = found.get(r.id)
                stale.discard(r.id)
            done += len(part)
        if len(todo) > done:
            self.scheduler.want(self._read_more_check_ins)
        elif self._again:  # every unit to check read again: the others are read when they are
            self._again = False
            for unit_id in stale:
                known.pop(unit_id, None)
            stale.clear()
        past, flagged = [], {}
        for rec, by_status in candidates:
            if rec.id not in known:  # not read yet: as it was
                if rec.id in m.to_check:
                    flagged[rec.id] = m.to_check[rec.id]
                    past.append((-by_status, rec.callsign, rec.status))
                continue
            checked = known[rec.id]
            if (over := past_timer(rec, timers, now, checked)) is not None:
                past.append((-over, rec.callsign, rec.status))
                flagged[rec.id] = checked
        changed = flagged.keys() != m.to_check.keys()
        m.to_check = flagged
        if changed:
            f = self.filters["units"]
            if f.ids is not None:  # showing only the units to check: these now
                f.show_only(self._flagged("units", f.agency))
            self._show_tally()
        self.to_check = len(past)
        self._flag_tab("units", f"{len(past)} to check", DUE_SOON_COLOUR,
                       "Past their status timers, not checked in since (Ctrl+K checks in the selected ones): ",
                       len(past), [f"{callsign} ({model.label(status)}, {span_text(-over)} past)"
                                   for over, callsign, status in heapq.nsmallest(OUTBOX_TIP, past)])
        self._show_attention()

    def _flag_tab(self, board: str, said: str, colour: str, lead: str, n: int, first: list[str]) -> None:
        """A board's tab, when `n` of its rows need attention, saying so in
        colour ("Tasks (2 overdue)"), its tooltip naming the `first` few
        after `lead`; else its name alone."""
        at, bar = BOARDS.index(board), self.tabs.tabBar()
        name = board.capitalize()
        self._tab_colours[board] = colour if n else None
        if n:
            self.tabs.setTabText(at, f"{name} ({said})")
            bar.setTabTextColor(at, QColor(tone(colour, self.palette())))
            self.tabs.setTabToolTip(at, lead + "; ".join(first) + (f"; and {n - len(first)} more" if n > len(first)
                                                                    else ""))
        else:
            self.tabs.setTabText(at, name)
            bar.setTabTextColor(at, QColor())  # (the tab bar's own, in whatever scheme)
            self.tabs.setTabToolTip(at, "")

    def _read_more_check_ins(self) -> bool:
        self._show_to_check()  # reads the next slice, and wants this again if more remain
        return False

    def check_in(self, said: str | None = None) -> bool:
        """The selected units were heard from: a note about each says so
        (and what they said, asked for here), and their status timers run
        from it."""
        recs = self.selected("units") if self.current_table() == "units" else []
        if not recs:
            self.statusBar().showMessage("Select units on the Units board first", 5000)
            return False
        if said is None:
            names = _few([r.callsign for r in recs])
            said, ok = QInputDialog.getText(self, "Check in",
                                            plain(f"{names} checked in. What did they say? (optional)"))
            if not ok:
                return False
        if not self._try(self.bridge.check_in, [r.id for r in recs], said):
            return False
        for r in recs:
            self._checked_in.pop(r.id, None)  # read at once
        self._show_to_check(time.time())
        return True

    def status_timers(self) -> dict[str, int]:
        """Status -> minutes after which a unit still in it is flagged, as
        set on this computer (View ▸ Status timers), or the defaults."""
        out = {}
        for status in STATUS_KEYS:
            try:
                minutes = int(self.settings.value(f"timers/{status}", STATUS_TIMERS.get(status, 0)))
            except (TypeError, ValueError):
                minutes = STATUS_TIMERS.get(status, 0)
            if not 0 <= minutes <= STATUS_TIMER_MAX:  # (a settings file edited by hand: as if never set)
                minutes = STATUS_TIMERS.get(status, 0)
            if minutes:
                out[status] = minutes
        return out

    def set_status_timers(self, timers: dict[str, int]) -> None:
        """Flag units still in a status this many minutes after it began
        (0 or missing: never); remembered on this computer."""
        for status in STATUS_KEYS:
            minutes = int(timers.get(status) or 0)
            if not 0 <= minutes <= STATUS_TIMER_MAX:
                raise ValidationError(f"a status timer is 0 (none) to {STATUS_TIMER_MAX} minutes "
                                      f"({STATUS_TIMER_MAX // 60} hours), not {minutes}")
        for status in STATUS_KEYS:
            self.settings.setValue(f"timers/{status}", int(timers.get(status) or 0))
        self.models["units"].status_timers = self.status_timers()
        self.views["units"].viewport().update()
        self._show_to_check(time.time())

    def open_status_timers(self) -> StatusTimersDialog:
        dialog = StatusTimersDialog(self, self.models["units"].status_timers)
        dialog.show()
        return dialog

    def _fade_fresh(self) -> None:
        for m in self.models.values():
            if m.fresh:
                m.expire_fresh()
                if m.table == "resources":  # the other two boards repaint on every tick anyway
                    self.views["resources"].viewport().update()

    def on_changed(self, cs) -> None:
        by_table: dict[str, set[str]] = {}
        for table, row in cs.rows:
            by_table.setdefault(table, set()).add(row)
        if "resources" in by_table:
            # Stock drawn from an item merged into another shows in that
            # one; an item merged in or out changes the count of one no
            # change names (the board's rows, few, are read again).
            if any(c.table == "resources" and c.field in ("deleted", "merged_into") for c in cs.changes):
                by_table["resources"].update(self.models["resources"].key_of)
            else:
                by_table["resources"].update(self.store.counted_in(by_table["resources"]))
        if not cs.local:  # changed by another console or program: tinted a while, to catch the eye
            fresh: dict[str, list[tuple[str, str]]] = {}
            for c in cs.changes:
                if c.table in self.models:
                    fresh.setdefault(c.table, []).append((c.row, c.field))
            for table, touched in fresh.items():
                self.models[table].mark_fresh(touched)
        for table, ids in by_table.items():
            if table in self.models:
                self.models[table].refresh(ids)
        # A unit put on a task or taken off, added, deleted, or renamed: the
        # tasks' unit lists, which name the units by callsign.
        moved = any(c.table == "units" and c.field in ("task_id", "*", "deleted", "callsign") for c in cs.changes)
        if moved and not self._assign_timer.isActive():
            self._assign_timer.start()  # coalesced: at most once a second
        if "tasks" in by_table:
            self.models["units"].refresh_titles(by_table["tasks"])
        if by_table.keys() & {"tasks", "units", "journal"} and self._overdue_timer.remainingTime() > 1000:
            # Counted again within a second, once the rows are in (a note may be a unit checking in).
            self._overdue_timer.start(1000)
        if self.current_table() in by_table and not self._agencies_timer.isActive():
            self._agencies_timer.start()  # coalesced: at most once a second
        if "tasks" in by_table or "resources" in by_table:
            for c in cs.changes:
                if c.field in APART_FIELDS.get(c.table, ()):
                    self._apart_stale.setdefault(c.table, set()).add(c.row)
            if self._apart_stale and not self._apart_timer.isActive():
                self._apart_timer.start()  # tasks or stock named alike, perhaps (see _refresh_apart)
        for table in {c.table for c in cs.changes if c.field == "deleted"}:
            self.journal_dock.rows_deleted(table)  # merged into the row whose entries show, perhaps
        if "journal" in by_table:
            self.journal_dock.entries_arrived(c.hlc for c in cs.changes if c.table == "journal")
            # A unit may have checked in: read again at the next count.
            self._stale_check_ins.update(self._checked_in)
        # (A callsign on two units.) A unit on a deleted task: an edit made
        # here can put none there, only take one off, and an assignment that
        # arrives is looked at only if it may have (see _refresh_stranded).
        marks = cs.conflicts or may_change_marks(cs, stranding=False)
        stranding = not marks and may_change_marks(cs) and (not cs.local or self.stranded > 0)
        if marks or stranding:
            if cs.local:
                self._refresh_conflicts()  # this person's own resolution: at once
            else:
                # Coalesced: a catch-up read in slices asks after every one,
                # and the boards' marks read every open conflict.
                self._marks_stale = self._marks_stale or bool(marks)
                if not self._conflicts_timer.isActive():
                    self._conflicts_timer.start()
        if self.bridge.engine is None:
            self.on_sync_status(None)  # the unsent count changes with every edit

    def _refresh_stranded(self) -> None:
        """Changes arrived that may change what is marked: all of it, if
        conflicts or callsigns changed; if only units' tasks or deleted
        tasks, only when a unit is (or was) on a deleted task, which takes
        a count of 0.05 ms to know (a catch-up of assignments, thousands a
        second, then costs no marking of the boards)."""
        if self._marks_stale or self.stranded or self.store.stranded_count():
            self._refresh_conflicts()

    def _refresh_conflicts(self) -> None:
        """Mark what is to reconcile on the boards and count it: the open
        conflicts, the callsigns on several units (added on consoles
        apart), whose callsign cells are marked as a conflict's are, and
        the units on a deleted task, whose task cells are."""
        self._marks_stale = False
        conflicted = self.store.conflicted()
        twins = self.store.twins()
        stranded = self.store.stranded()
        units = dict(conflicted.get("units", {}))
        tips: dict[str, tuple[frozenset[str], str]] = {}

        def mark(unit_id: str, fld: str, tip: str) -> None:
            units[unit_id] = units.get(unit_id, frozenset()) | {fld}
            fields, said = tips.get(unit_id, (frozenset(), ""))
            tips[unit_id] = (fields | {fld}, f"{said}\n{tip}" if said else tip)

        def when(x) -> str:
            return f"{local_time(x.deleted_at, seconds=False)} {zone_name()}"

        for tw in twins:
            others = len(tw.units) - 1
            for x in tw.units:
                mark(x.unit.id, "callsign", f"{x.unit.callsign}: {others} other unit{'s' if others != 1 else ''} "
                     f"{'has' if others == 1 else 'have'} this callsign, added on consoles apart "
                     f"(this one by {x.agency}, {x.operator}). The same unit? Merge them; different "
                     "units? Rename one (Sync ▸ Reconcile conflicts, Ctrl+R).")
        for x in stranded:
            mark(x.unit.id, "task_id", f"{x.unit.callsign} is on {x.title}, a task {stranded_how(x, when(x))}, "
                 "put on it on a console that had not seen that. Put it on "
                 + (f"{x.into_title}, " if x.into else "") + "another task, or off it (Sync ▸ Reconcile conflicts, "
                 "Ctrl+R).")
        conflicted["units"] = units
        self._conflicted = conflicted
        self.models["units"].reconcile_tips = tips
        self._mark_boards()
        n = self.conflicts = self.store.open_conflict_count()
        t = self.twins = len(twins)
        st = self.stranded = len(stranded)
        whole = f"{to_reconcile(n, t, st)} to reconcile"
        self.conflicts_button.set_text(whole, f"{n + t + st:,} to reconcile")
        self.conflicts_button.setToolTip(  # (the whole text first: the button may show how many only)
            plain(f"{whole}. Edits made at the same time on different consoles" + (
                "; callsigns on two units, added on consoles apart: " + ", ".join(tw.callsign for tw in twins[:10])
                + (" …" if t > 10 else "") if t else "") + (
                "; units on a deleted task: " + ", ".join(x.unit.callsign for x in stranded[:10])
                + (" …" if st > 10 else "") if st else "")))
        self.conflicts_button.setVisible(n > 0 or t > 0 or st > 0)
        self._show_attention()

    def _mark_boards(self) -> None:
        """Mark on each board the open conflicts (and for units what else
        there is to reconcile, see _refresh_conflicts), and on the Tasks
        and Resources boards the names added at different consoles."""
        for table, m in self.models.items():
            marks = dict(self._conflicted.get(table, {}))
            apart = self._apart.get(table, {})
            for row_id, (fields, _) in apart.items():
                marks[row_id] = marks.get(row_id, frozenset()) | fields
            if table != "units":
                m.reconcile_tips = apart
            m.set_conflicts(marks)

    def _refresh_apart(self) -> None:
        """Mark again the tasks still to do of one title, and the stock of
        one name (of one agency, in one unit), added at different consoles
        (entered twice while apart, perhaps), for the names of the rows
        changed since last time: what they were called and are now. The
        rows are read a slice at a time (a catch-up brings thousands)."""
        if self._apart_slice():
            self.scheduler.want(self._apart_slice)

    def _apart_slice(self) -> bool:
        """Read again the names of up to APART_SLICE rows changed; after
        the last, mark the boards again for the names they had and have.
        Whether rows remain to read."""
        stale = self._apart_stale
        if stale:
            table = next(iter(stale))
            ids = stale[table]
            part = [ids.pop() for _ in range(min(len(ids), APART_SLICE))]
            if not ids:
                del stale[table]
            self._apart_names |= self._names.update(table, part)
            if stale:
                return True
        names, self._apart_names = self._apart_names, set()
        if names:
            self._mark_apart(self._names.shared(names), names)
        return False

    def _mark_apart(self, groups: list[tuple[tuple[str, int], list[str]]],
                    names: set[tuple[str, int]] | None = None) -> None:
        """Mark the rows of these groups (console/apart.py: names added at
        different consoles), in place of the marks of `names` (or of all).
        Their name cells are shaded as a conflict's, and hovering says
        which and what to do; they are not counted as to reconcile (two
        welfare checks may be two tasks)."""
        found = {table: dict(rows) for table, rows in self._apart.items()}
        for key in (list(self._apart_marked) if names is None else names):
            for row_id in self._apart_marked.pop(key, ()):
                found.get(key[0], {}).pop(row_id, None)
        by_table: dict[str, list[str]] = {}
        for (table, _), ids in groups:
            by_table.setdefault(table, []).extend(ids)
        for table, ids in by_table.items():
            label = model.table(table).label
            rows = {r.id: r for r in self.store.get_many(table, ids)}
            added = self.store.added_by(table, ids)
            what, name, menu = (("task still to do", "title", "Tasks ▸ Merge tasks entered twice") if table == "tasks"
                                else ("stock item of this agency", "name", "Stock ▸ Merge stock entered twice"))
            for key, group in groups:
                if key[0] != table:
                    continue
                self._apart_marked.setdefault(key, []).extend(group)  # (two names of one hash: both)
                others = len(group) - 1
                for row_id in group:
                    _, operator, agency = added.get(row_id, (0, "?", "?"))
                    shown = getattr(rows[row_id], label) if row_id in rows else ""
                    found.setdefault(table, {})[row_id] = (frozenset({label}), (
                        f"{shown}: {others} other {what}{'s' if others != 1 else ''} "
                        f"{'has' if others == 1 else 'have'} this {name}, added at another console (this one by "
                        f"{agency}, {operator}). Entered twice while apart? Select them and {menu}; if not, give "
                        f"one a {name} of its own."))
        found = {table: rows for table, rows in found.items() if rows}
        if found != self._apart:
            self._apart = found
            self._mark_boards()

    def entered_apart(self, since: str | None = None) -> list[tuple[str, list[str]]]:
        """As Store.entered_apart says them, from the names kept here (read
        again first for the rows changed in the last second): (table, the
        names of the rows added under one name at different consoles, one
        of them since `since`, as the first added has it), by name."""
        self._apart_timer.stop()
        while self._apart_slice():
            pass
        at = due_timestamp(since) if since else None
        groups = self._names.shared(after=clock.pack(int(at * 1000)) if at is not None else 0)
        found = []
        for table in apart.TABLES:
            first = [ids[0] for (t, _), ids in groups if t == table]
            label = model.table(table).label
            shown = sorted((getattr(r, label) or "" for r in self.store.get_many(table, first)), key=str.casefold)
            found.extend((table, name) for name in shown)
        return found

    def set_title(self, title: str) -> None:
        """The window's title, after what needs attention (_show_attention)."""
        self._title = title
        self._show_attention()

    def _show_attention(self) -> None:
        """What needs someone at this console goes first in the window's
        title, where a taskbar shows it when the window is behind others or
        minimised ("OFFLINE · 2 conflicts · 3 units to check · 1 task overdue
        · 2 stock items low — Crisis console — ..."); and when something more needs it, the
        taskbar entry asks for attention until the window is brought up."""
        counts = {"conflicts": self.conflicts, "twins": self.twins, "stranded": self.stranded,
                  "to_check": self.to_check, "overdue": self.overdue, "low": self.low}
        parts = [self.alarm] if self.alarm else []
        for n, one, many in ((self.conflicts, "conflict", "conflicts"),
                             (self.twins, "unit twice", "units twice"),
                             (self.stranded, "unit on a deleted task", "units on a deleted task"),
                             (self.to_check, "unit to check", "units to check"),
                             (self.overdue, "task overdue", "tasks overdue"),
                             (self.low, "stock item low", "stock items low")):
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        self.setWindowTitle(" · ".join(parts) + f" — {self._title}" if parts else self._title)
        before = self._attention
        more = (any(n > before.get(key, 0) for key, n in counts.items())
                or (bool(self.alarm) and self.alarm != before.get("alarm")))
        self._attention = {**counts, "alarm": self.alarm}
        if more and before and self.isVisible() and not self.isActiveWindow():
            QApplication.alert(self)

    def show_row(self, table: str, row_id: str) -> bool:
        """Bring a row into view on its board and select it, clearing the
        board's filters if they hide it; says so if it is no longer there."""
        m, f, view = self.models[table], self.filters[table], self.views[table]
        self.tabs.setCurrentIndex(BOARDS.index(table))
        row = m._row_of(row_id)
        if row is None:
            self.statusBar().showMessage(f"That {table[:-1]} is no longer on the board (deleted)", 10000)
            return False
        if not f.mapFromSource(m.index(row, 0)).isValid():  # hidden by a filter
            self.search.clear()
            self.agency_filter.setCurrentIndex(0)
            self.status_filter.setCurrentIndex(0)
        index = f.mapFromSource(m.index(row, 0))
        view.selectRow(index.row())
        view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        view.setFocus()
        return True

    def _show_outbox(self, n: int, text: str | None = None) -> None:
        self.outbox_label.setText(text or (f"{n} change{'s' if n != 1 else ''} waiting to sync" if n
                                           else "All changes sent")
                                  + (" — closing once sent (Board ▸ Quit to change that)"
                                     if self._close_when_sent and n else ""))
        if self._close_when_sent and not n:
            QTimer.singleShot(0, self.close)  # asked on closing: they are sent
            return
        if n == self._outbox_shown:
            return
        # What is waiting, in words, on hovering: what a field liaison
        # about to lose the network wants to know has gone out, or not.
        self._outbox_shown = n
        waiting = self.store.waiting(n, limit=OUTBOX_TIP) if n else []
        tip = "\n".join(f"{local_time(e.at)}  {e.text}" for e in waiting)
        more = " (the newest)" if len(waiting) == OUTBOX_TIP else ""
        self.outbox_label.setToolTip(plain(f"Waiting to sync{more}, times in {zone_name()}:\n{tip}" if waiting else
                                           "Every change made here has reached another console" if not n else ""))

    def on_sync_status(self, status) -> None:
        self._connected_ids = {p.get("console_id") for p in (status or {}).get("peers", ())
                               if p.get("state") == "connected"}
        if status is None:
            self.peers_label.setText("Not syncing: no peer set up (Sync ▸ Peers… to connect to one)")
            n = self.store.outbox()
            self._show_outbox(n, f"{n} change{'s' if n != 1 else ''} not yet sent")
            self.exchange_label.setText("")
            if not self._show_database_failure():  # (that said before anything sync says)
                self.banner.hide()
                self._show_alarm(False)
            return
        if status.get("engine_error"):
            self.peers_label.setText("Sync engine not running")
            if not self._show_database_failure():
                self.banner.setText(f"SYNC STOPPED — {status['engine_error']}. Work goes on here and will sync "
                                    "when it is back.")
                self.banner.show()
                self._show_alarm(True)
            self._show_outbox(status["outbox"])
            self.progress.hide()
            return
        peers = status["peers"]
        connected = [p for p in peers if p["state"] == "connected"]
        # Reached, but refused: by the peer, or by this console's own trust list.
        refused = [p for p in peers if p["state"] == "refused"]
        names = [(p["agency"] or p["address"]) + (" (reading only: an observer there)" if p.get("observer") else "")
                 for p in connected]
        if connected:
            self.peers_label.setText(f"{len(connected)} connected: {_few(names)}"
                                     + (f"; {len(refused)} not syncing (hover for why)" if refused else ""))
        elif status.get("listening"):
            self.peers_label.setText(f"Listening on port {status['listening']}; no console connected")
        else:
            self.peers_label.setText("No peer connected")
        self.peers_label.setToolTip(plain("\n".join(
            f"{p['agency'] or '?'}: {p['state']}, {p['address']}"
            + (f" ({p['last_error']})" if p["state"] != "connected" and p.get("last_error") else "") for p in peers)))
        offline = not connected and (self._switched_off or any(p["direction"] == "dial" for p in peers))
        if not offline:
            self._offline_since = None
        elif self._offline_since is None:
            self._offline_since = time.monotonic()
        # A refusal or the Offline switch shows at once; no connection
        # only after the grace.
        alarm = offline and (bool(refused) or self._switched_off
                             or time.monotonic() - self._offline_since >= OFFLINE_GRACE)
        # This console's own changes refused by a peer (its clock far ahead, say).
        mine = [(p, r) for p in connected for r in p.get("refused", ()) if r["origin"] == status.get("replica_id")]
        if self._show_database_failure():
            pass
        elif status.get("store_failure"):
            self.banner.setText(f"SYNC FAILING — this console cannot store what its peers send: "
                                f"{status['store_failure']}. It is tried again; nothing received is lost.")
        elif alarm and refused:
            why = refused[0]
            error = why["last_error"] or "refused"
            hint = "; compare console IDs with its operator (Sync ▸ Peers)" if "trust list" in error else ""
            self.banner.setText(f"NOT SYNCING — {why['address']}: {error}. Work goes on here{hint}.")
        elif alarm and self._switched_off:
            self.banner.setText("OFFLINE — switched off the network here (demo). Work goes on here and will sync "
                                "when the Offline switch is turned off.")
        elif alarm:
            # Since when: how far behind the others these boards may be.
            since = status.get("last_contact")
            since = f" since {clock_text(since)} ({since_text(since)} ago)" if since else ""
            # Why, as the first address dialled says: no network here, a wrong name, nothing listening.
            why = next((f": {p['address']} {p['last_error'].removeprefix('unreachable: ')}" for p in peers
                        if p["direction"] == "dial" and p.get("last_error")), "")
            self.banner.setText(f"OFFLINE{since} — no other console is reachable{why}. Work goes on here and will "
                                "sync on reconnection.")
        elif mine:
            peer, r = mine[0]
            self.banner.setText(f"CHANGES REFUSED — {peer['agency'] or peer['address']} refuses this console's "
                                f"changes from #{r['seq']}: {r['reason']}. They stay here, waiting to sync.")
        if self.database_failure is None:
            self.banner.setVisible(alarm or bool(mine) or bool(status.get("store_failure")))
            self._show_alarm(alarm or bool(mine) or bool(status.get("store_failure")))
        received = sum(p["received"] for p in peers)
        sent = sum(p.get("sent", 0) for p in peers)
        if alarm and not refused:
            self._away = {"since": (self._away or {}).get("since") or status.get("last_contact"),
                          "started": (self._away or {}).get("started") or self._offline_since,
                          "received": received, "sent": sent}
            self._back = None
        elif not offline and self._away is not None:
            self._back, self._away = self._away, None
        self._show_outbox(status["outbox"])
        self.exchange_label.setText(f"Last exchange {clock_text(status['last_exchange'])}"
                                    if status.get("last_exchange") else "")
        remaining = sum(p.get("remaining") or 0 for p in peers)
        if remaining > 0:
            # A catch-up: a real bar, from where it stood when it started.
            self._catch_up_total = max(self._catch_up_total, remaining)
            self.progress.setRange(0, self._catch_up_total)
            self.progress.setValue(self._catch_up_total - remaining)
            self.progress.setFormat(f"receiving: {remaining:,} to go")
            self.progress.show()
            self._received_seen = received
            return
        if self._catch_up_total:
            self._catch_up_total = 0
            if self._stale_check_ins:
                self._show_to_check()  # (check-ins are read again once a catch-up is in)
        receiving = received > self._received_seen or any(m.busy for m in self.models.values())
        self._received_seen = received
        self.progress.setRange(0, 0)  # busy: changes arriving, nothing known to be left
        self.progress.setFormat("receiving")
        self.progress.setVisible(receiving)
        if self._back is not None and not receiving:
            self._say_back(received, sent)

    def database_failed(self, exc: StoreError) -> None:
        """The database failed under a part of the window that reads it on
        its own (a board catching up, the journal, the status line): found
        damaged, its disk gone. Said in the banner, above whatever sync
        says, until the window is closed, with no message box for each
        read that fails after: the boards keep what they showed, to read,
        and the person knows not to trust them past that moment. Busy (a
        program holding the database a while) is said in the status line."""
        text = str(exc)
        if isinstance(exc, StoreBusy):
            self.statusBar().showMessage(f"{text}: the boards catch up once it is free", 10_000)
            return
        if text not in self._failures_logged:
            self._failures_logged.add(text)
            log.error("the database failed under the window: %s", text)
        if self.database_failure is None:
            self.database_failure = (text, _iso(time.time()))
        self._show_database_failure()

    def _show_database_failure(self) -> bool:
        """The banner says the database failed, if it did (see
        database_failed); whether it does."""
        if self.database_failure is None:
            return False
        text, since = self.database_failure
        self.banner.setText(f"DATABASE FAILING since {clock_text(since)} — {text}. The boards show what was read "
                            "before then.")
        self.banner.show()
        self._show_alarm(True)
        return True

    def _show_alarm(self, shown: bool) -> None:
        """The banner's first words ("OFFLINE", "SYNC STOPPED") go into the
        window's title while it shows."""
        alarm = self.banner.text().split(" —")[0].split(" since ")[0] if shown else ""
        if alarm != self.alarm:
            self.alarm = alarm
            self._show_attention()

    def _say_back(self, received: int, sent: int) -> None:
        """Back from a time offline and caught up: what the reconnection
        brought, for the field liaison who has just come back."""
        away, self._back = self._back, None
        if away["since"]:
            span = since_text(away["since"])
        else:
            span = span_text(time.monotonic() - away["started"]) if away["started"] is not None else ""
        got, gave = max(0, received - away["received"]), max(0, sent - away["sent"])
        said = to_reconcile(self.store.open_conflict_count(), self.store.twin_count(), self.store.stranded_count())
        text = (f"Back online{f' after {span} offline' if span else ''}: {got:,} change{'s' if got != 1 else ''} "
                f"received, {gave:,} sent; "
                + (f"{said} to reconcile (Ctrl+R)" if said else "no conflicts to reconcile"))
        # The same call, or stock, entered on both sides meanwhile: neither
        # console could say so as it was added.
        lost = away["since"] or (_iso(time.time() - (time.monotonic() - away["started"]))
                                 if away["started"] is not None else None)
        twice = self.entered_apart(lost)
        if twice:
            tasks = [name for table, name in twice if table == "tasks"]
            stock = [name for table, name in twice if table == "resources"]
            text += ("; entered on both sides while apart? " + "; ".join(
                ([f"task{'s' if len(tasks) > 1 else ''} {_few(tasks, 3)}"] if tasks else [])
                + ([f"stock {_few(stock, 3)}"] if stock else []))
                + " (if so, select both and merge them: "
                + " or ".join((["Tasks ▸ Merge tasks entered twice"] if tasks else [])
                              + (["Stock ▸ Merge stock entered twice"] if stock else [])) + ")")
        self.back_online = text
        self.statusBar().showMessage(text, 120_000)


def _auto_backup_key(db) -> str:
    """Where the automatic backups' settings of the database `db` are kept."""
    return "autobackup/" + hashlib.sha1(str(Path(db).resolve()).encode()).hexdigest()[:16]


def setting_text(settings: QSettings, key: str, default: str | None = None) -> str | None:
    """A remembered text (a folder), or `default` if none is, or what is
    there is not text: a settings file edited by hand reads a value with a
    comma and no quotes as a list, which no folder is."""
    value = settings.value(key)
    return value if isinstance(value, str) and value else default


def auto_backup_folder(db, settings: QSettings) -> str:
    """The folder the window backs `db` up into by itself, if set (where
    its newest backups are), else the database's own folder."""
    return setting_text(settings, f"{_auto_backup_key(db)}/folder") or str(Path(db).resolve().parent)


def _iso(ts: float) -> str:
    """A POSIX timestamp as the ISO 8601 text times are kept in."""
    return clock.to_iso(clock.pack(int(ts * 1000)))


def _row_said(table: str, row: dict) -> str:
    """A row read from a spreadsheet as the question before adding shows
    it, for a person to see it was read right: "RTW 1 (agency DRK, kind
    Ambulance, personnel 2)", its times in this computer's zone."""
    t = model.TABLES[table]
    said, label = [], ""
    for f in t.fields:
        value = row.get(f.name)
        if value is None:
            continue
        if f.type == "time":
            text = local_time(value, seconds=False)
        elif f.type == "enum":
            text = model.label(model.normalize_choice(str(value)))
        elif isinstance(value, (int, float)):
            text = model.plain_number(value)
        else:
            text = str(value)
        text = text if len(text) <= 40 else text[:39] + "…"
        if f.name == t.label:
            label = text
        else:
            said.append(f"{model.field_label(f.name)} {text}")
    return f"{label} ({', '.join(said)})" if said else label


def _few(names: list[str], shown: int = 4) -> str:
    """Names as a status bar has room for: each once, with how many there
    are of it, and the first few only ("Fire (2), EMS, EOC, DOT and 3 more")."""
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    said = [f"{n} ({k})" if k > 1 else n for n, k in counts.items()]
    if len(said) <= shown + 1:  # ("and 1 more" takes the room of the one)
        return ", ".join(said)
    return ", ".join(said[:shown]) + f" and {len(said) - shown} more"
