"""The situation report dialog: console/report.py shown in the window, to
read at a briefing, copy into a message, or save to print; and, in the
same form, a task's assignment list (ICS 204) and a unit's activity log
(ICS 214)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QLocale, QMarginsF, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPageLayout, QPageSize, QPalette, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)
from shiboken6 import isValid

from console import files, report
from console.model import ValidationError
from console.store import Store, StoreError
from console.ui.dialogs import error_label
from console.ui.models import fit_screen, plain, plain_label

log = logging.getLogger(__name__)

# The most tasks, resources and notes the dialog lists (each section says
# how many there are in all): a report is read, not scrolled through.
WINDOW_LIMIT = 500


class _Carrier(QObject):
    """Brings a report read on another thread back to the window's thread
    (a signal emitted there is queued to this object's). One for the whole
    application and never deleted before it: a dialog closed and deleted
    while its read ran is simply not told, rather than its own carrier
    being deleted on one thread while the read signals it on another."""

    done = Signal(object)

    def __init__(self) -> None:
        super().__init__(QApplication.instance())
        self.done.connect(self._deliver)

    @staticmethod
    def _deliver(said) -> None:
        dialog, result = said
        if isValid(dialog):
            dialog._read_done(result)


_carrier: _Carrier | None = None


def _carried() -> _Carrier:
    global _carrier
    if _carrier is None or not isValid(_carrier):
        _carrier = _Carrier()
    return _carrier


class ReportDialog(QDialog):
    what = "situation report"  # in the dialog's words
    file_stem = "sitrep"  # of the file name suggested

    def __init__(self, store, parent=None, *, timers: dict[str, int] | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.timers = timers  # the window's status timers (units to check), or the defaults
        self.report: report.Report | report.Assignment | list[report.ActivityLog] | None = None
        self.setWindowTitle("Situation report")
        fit_screen(self, 980, 760)
        self.hours = QDoubleSpinBox()
        self.hours.setObjectName("reportHours")
        self.hours.setRange(0.25, 24 * 7)
        self.hours.setDecimals(2)
        self.hours.setSingleStep(1)
        self.hours.setValue(report.DEFAULT_HOURS)
        self.hours.setSuffix(" hours")
        self.hours.setToolTip("The period whose notes and journal entries the report takes in")
        # Also when the box merely loses focus (the dialog closing, say):
        # read again only for a new period.
        self.hours.editingFinished.connect(self._period_set)
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence("F5"))
        refresh.setToolTip("Read the report again (F5)")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        self.period_label = plain_label("Notes of the last")
        top.addWidget(self.period_label)
        top.addWidget(self.hours)
        top.addStretch(1)
        top.addWidget(refresh)
        self.view = QTextBrowser()
        self.view.setObjectName("reportView")
        # Shown as it prints, on paper: black on white in a dark scheme too,
        # where its table headers' grey was behind light text, and its reds
        # and oranges were made for white.
        paper = self.view.palette()
        paper.setColor(QPalette.ColorRole.Base, QColor("white"))
        paper.setColor(QPalette.ColorRole.Text, QColor("black"))
        self.view.setPalette(paper)
        # Laid out once: a scroll bar that comes as the report is laid out
        # narrows it and has all of it laid out again (a long operation's
        # report took 0.4 s of the window's thread to show, not 0.2).
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.error = error_label()
        self.error.hide()
        self.saved = plain_label()
        self.saved.setObjectName("reportSaved")
        self.reading = plain_label(f"Reading the {self.what}…")
        self.reading.setObjectName("reportReading")
        self.reading.hide()
        self._reader: threading.Thread | None = None  # a read under way (see refresh)
        self._again = False  # asked to read again while it ran
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy as text", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        self.save_button = buttons.addButton("Save…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.setToolTip("As PDF, to print or send; as HTML; or as text")
        self.save_button.clicked.connect(lambda: self.save())
        self.print_button = buttons.addButton("Print…", QDialogButtonBox.ButtonRole.ActionRole)
        self.print_button.clicked.connect(self.print_report)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.reading)
        layout.addWidget(self.error)
        layout.addWidget(self.saved)
        layout.addWidget(buttons)
        self.refresh()

    def _period_set(self) -> None:
        shown = self._period_shown()
        if self.isVisible() and (shown is None or abs(shown - self.hours.value()) > 1e-9):
            self.refresh()

    def _period_shown(self) -> float | None:
        """The hours the report shown covers (None: none shown)."""
        return None if self.report is None else (self.report.made_ms - self.report.since_ms) / 3_600_000

    def _job(self) -> Callable[[Store], object]:
        """The read of the report as asked now, to run on a store of its own."""
        hours, timers = self.hours.value(), dict(self.timers) if self.timers is not None else None
        return lambda store: report.build(store, hours=hours, limit=WINDOW_LIMIT, timers=timers)

    def _html(self) -> str:
        return report.as_html(self.report)

    def _text(self) -> str:
        return report.as_text(self.report)

    def _titled(self) -> None:
        """The window's title, for the report read (the situation report's is fixed)."""

    @property
    def busy(self) -> bool:
        """A read under way."""
        return self._reader is not None

    def refresh(self) -> None:
        """Read the report again, on a thread of its own with a connection
        of its own, so the window goes on meanwhile: a long operation's
        journal takes a second to count (330,000 entries in the period).
        The report shown stays, the reader's place in it kept, until the
        new one is read; asked again meanwhile, it reads again after."""
        if self._reader is not None:
            self._again = True
            return
        job, path = self._job(), self.store.path
        agency, operator = self.store.agency, self.store.operator  # (whoever is at the console now)
        carrier = _carried()

        def work() -> None:
            try:
                with Store(path, read_only=True, agency=agency, operator=operator) as store:
                    result = job(store)
            except (StoreError, ValidationError) as exc:
                result = exc
            except Exception as exc:  # a bug: said, and the window goes on
                log.exception("reading the %s failed", self.what)
                result = exc
            carrier.done.emit((self, result))

        self.reading.show()
        self._reader = threading.Thread(target=work, name=f"{self.file_stem} read", daemon=True)
        self._reader.start()

    def _read_done(self, result) -> None:
        self._reader = None
        self.reading.hide()
        if self._again:
            self._again = False
            self.refresh()  # (what was read meanwhile is shown until then)
        if isinstance(result, Exception):
            self.error.setText(f"Could not read the {self.what}: {result}")
            self.error.show()
            return
        self.error.hide()
        self.report = result
        self._titled()
        bar = self.view.verticalScrollBar()
        at = bar.value()
        self.view.setHtml(report.for_qt(self._html()))
        bar.setValue(at)

    def copy(self) -> None:
        if self.report is not None:
            QApplication.clipboard().setText(self._text())

    def save(self, path: str | None = None) -> None:
        """Write the report as shown: as PDF (to print or send), HTML, or for
        a name ending in .txt, text; through a temporary file, so a failed
        save leaves whatever was there."""
        if self.report is None:
            return
        if not isinstance(path, str):
            name = f"{self.file_stem}-{time.strftime('%Y-%m-%d-%H%M')}.pdf"
            path, _ = QFileDialog.getSaveFileName(self, f"Save the {self.what}", name,
                                                  "PDF (*.pdf);;HTML (*.html);;Text (*.txt)")
            if not path:
                return
        if self.store.owns_file(path):
            QMessageBox.warning(self, "Report not saved",
                                plain(f"{path} is this console's database: give another file."))
            return
        try:
            with files.replacing(path) as tmp:
                if path.lower().endswith(".pdf"):
                    writer = QPdfWriter(str(tmp))
                    writer.setTitle(self.windowTitle())
                    writer.setPageLayout(_page_layout())
                    self._document().print_(writer)
                    del writer  # the file is complete once the writer is gone
                    if not tmp.exists():
                        raise OSError(f"the folder {tmp.parent} cannot be written")
                else:
                    as_text = path.lower().endswith(".txt")
                    tmp.write_text(self._text() if as_text else self._html(),
                                   encoding="utf-8")
        except OSError as exc:
            QMessageBox.warning(self, "Report not saved", plain(f"Could not write {path}: {exc.strerror or exc}"))
            return
        self.saved.setText(f"Saved to {path}")

    def print_report(self) -> None:
        if self.report is None:
            return
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter  # only when printing: keeps opening light

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageLayout(_page_layout())
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            self._document().print_(printer)

    def _document(self) -> QTextDocument:
        doc = QTextDocument()
        doc.setHtml(report.for_qt(self._html()))
        return doc


class AssignmentDialog(ReportDialog):
    """A task's assignment list (ICS 204), to print and hand to the units
    on it, or copy into a message to them."""

    what = "assignment list"
    file_stem = "assignment"

    def __init__(self, store, task_id: str, parent=None) -> None:
        self.task_id = task_id
        super().__init__(store, parent)
        for w in (self.hours, self.period_label):  # the period is the situation report's
            w.hide()
        self.setWindowTitle("Assignment list (ICS 204)")  # (and the task's title, once read)

    def _titled(self) -> None:
        self.setWindowTitle(f"Assignment list (ICS 204) — {self.report.task.title}")

    def _period_set(self) -> None:
        pass

    def _job(self) -> Callable[[Store], object]:
        task_id = self.task_id
        return lambda store: report.build_assignment(store, task_id)

    def _html(self) -> str:
        return report.assignment_html(self.report)

    def _text(self) -> str:
        return report.assignment_text(self.report)


class ActivityDialog(ReportDialog):
    """The activity log (ICS 214) of a unit, or of several one after the
    other, for an operational period: what the journal says each did, to
    print and sign at the end of a shift."""

    what = "activity log"
    file_stem = "activity"

    def __init__(self, store, unit_ids: list[str], parent=None) -> None:
        self.unit_ids = unit_ids
        super().__init__(store, parent)
        self.period_label.setText("Activity of the last")
        self.hours.setToolTip("The operational period the logs cover")
        self.setWindowTitle("Activity log (ICS 214)")  # (and the unit's callsign, once read)

    def _titled(self) -> None:
        if self.report:
            self.setWindowTitle(f"Activity log (ICS 214) — {self.report[0].unit.callsign}" if len(self.report) == 1
                                else f"Activity logs (ICS 214) — {len(self.report)} units")

    def _period_shown(self) -> float | None:
        return None if not self.report else (self.report[0].made_ms - self.report[0].since_ms) / 3_600_000

    def _job(self) -> Callable[[Store], object]:
        unit_ids, hours = list(self.unit_ids), self.hours.value()
        return lambda store: report.build_activities(store, unit_ids, hours=hours)

    def _html(self) -> str:
        return report.activity_html(self.report)

    def _text(self) -> str:
        return report.activity_text(self.report)


def _page_layout() -> QPageLayout:
    """Letter where the computer's locale measures in inches, A4 elsewhere."""
    us = QLocale().measurementSystem() != QLocale.MeasurementSystem.MetricSystem
    size = QPageSize(QPageSize.PageSizeId.Letter if us else QPageSize.PageSizeId.A4)
    return QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter)
