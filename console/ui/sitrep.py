"""The situation report dialog: console/report.py shown in the window, to
read at a briefing, copy into a message, or save to print."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from console import report
from console.model import ValidationError
from console.store import StoreError
from console.ui.dialogs import error_label

# The most tasks, resources and notes the dialog lists (each section says
# how many there are in all): a report is read, not scrolled through, and
# it is read on the window's thread.
WINDOW_LIMIT = 500


class ReportDialog(QDialog):
    def __init__(self, store, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.report: report.Report | None = None
        self.setWindowTitle("Situation report")
        self.resize(980, 760)
        self.hours = QDoubleSpinBox()
        self.hours.setObjectName("reportHours")
        self.hours.setRange(0.25, 24 * 7)
        self.hours.setDecimals(2)
        self.hours.setSingleStep(1)
        self.hours.setValue(report.DEFAULT_HOURS)
        self.hours.setSuffix(" hours")
        self.hours.setToolTip("The period whose notes and journal entries the report takes in")
        self.hours.editingFinished.connect(self.refresh)
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence("F5"))
        refresh.setToolTip("Read the report again (F5)")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(QLabel("Notes of the last"))
        top.addWidget(self.hours)
        top.addStretch(1)
        top.addWidget(refresh)
        self.view = QTextBrowser()
        self.view.setObjectName("reportView")
        self.error = error_label()
        self.error.hide()
        self.saved = QLabel()
        self.saved.setObjectName("reportSaved")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy as text", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        self.save_button = buttons.addButton("Save…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(lambda: self.save())
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.saved)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Read the report again, keeping the reader's place in it."""
        try:
            self.report = report.build(self.store, hours=self.hours.value(), limit=WINDOW_LIMIT)
        except (StoreError, ValidationError) as exc:
            self.error.setText(f"Could not read the report: {exc}")
            self.error.show()
            return
        self.error.hide()
        bar = self.view.verticalScrollBar()
        at = bar.value()
        self.view.setHtml(report.as_html(self.report))
        bar.setValue(at)

    def copy(self) -> None:
        if self.report is not None:
            QApplication.clipboard().setText(report.as_text(self.report))

    def save(self, path: str | None = None) -> None:
        """Write the report as shown, as HTML (to print) or, for a name
        ending in .txt, as text; through a temporary file."""
        if self.report is None:
            return
        if not isinstance(path, str):
            name = f"sitrep-{time.strftime('%Y-%m-%d-%H%M')}.html"
            path, _ = QFileDialog.getSaveFileName(self, "Save the situation report", name,
                                                  "HTML, to print (*.html);;Text (*.txt)")
            if not path:
                return
        text = report.as_text(self.report) if path.lower().endswith(".txt") else report.as_html(self.report)
        target = Path(path)
        tmp = target.with_name(f".{target.name}.part")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            QMessageBox.warning(self, "Report not saved", f"Could not write {path}: {exc.strerror or exc}")
            return
        finally:
            tmp.unlink(missing_ok=True)
        self.saved.setText(f"Saved to {path}")
