"""The count of the shown board's rows in each status, above it.

An incident commander asks "how many units do we have available?" many
times an hour: the strip answers at a glance, for every agency or for the
one picked in the Agency filter, as rows arrive from other consoles. A
click on a status shows only the rows in it; a second click, all of them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QToolButton, QWidget

from console import model
from console.times import OPEN_TASK
from console.ui.models import (
    CONFLICT_TEXT,
    DUE_SOON_COLOUR,
    LIGHT_TONES,
    STATUS_COLOURS,
    STOCK_STATES,
    dark,
    plain,
    shortened,
)

AGENCY_SHOWN = 39  # characters of the agency filtered to, in the count above a board

VOCABULARIES = {"units": tuple(model.UNIT_STATUSES), "tasks": model.TASK_STATUSES, "resources": STOCK_STATES}
# A status no row is in: background, text; greyed, in a light scheme and in
# a dark one, and readable (4.6 and 5 times the contrast; 2.9 and 3.7 before).
EMPTY_COLOURS = {False: ("#eceff1", "#546e7a"), True: ("#37474f", "#b0bec5")}
FLAGGED_COLOUR = DUE_SOON_COLOUR  # the orange of a unit's time in status past its timer
# What needs attention on a board: the button's label, and the rows named one and many.
FLAGGED = {
    "units": ("To check", "unit past its status timer, not checked in since",
              "units past their status timers, not checked in since"),
    "tasks": ("No unit", "task still to do with no unit on it", "tasks still to do with no unit on them"),
    "resources": ("Low", "stock item at or below its low mark", "stock items at or below their low marks"),
}


class TallyBar(QWidget):
    """A button per status of the shown board, saying how many rows are in
    it, in the status's colour; the rows' total, and how many units are
    assigned (ICS) or tasks still to do, before them."""

    picked = Signal(str)  # a status to show only its rows, or "" for all
    picked_flagged = Signal(bool)  # show only the rows needing attention (see show_counts), or all

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tallyBar")
        self.table = ""
        self.total = QLabel()
        self.total.setObjectName("tallyTotal")
        self.buttons: dict[str, QToolButton] = {}  # the shown board's, by status
        self._made: dict[str, dict[str, QToolButton]] = {}  # every board's shown so far
        # On a narrow window (a laptop's), the buttons wrap onto a second line.
        self._layout = FlowLayout(self)
        self._layout.addWidget(self.total)
        # The rows needing attention, after the statuses: the units to
        # check (past their status timers), the tasks to do with no unit.
        self.flagged_button = QToolButton()
        self.flagged_button.setObjectName("tallyFlagged")
        self.flagged_button.setCheckable(True)
        self.flagged_button.setAutoRaise(True)
        self.flagged_button.setStyleSheet(_flagged_style(dark(self.palette())))
        self.flagged_button.clicked.connect(lambda checked: self.picked_flagged.emit(checked))
        self.flagged_button.hide()
        self._flagged_added = False

    def show_counts(self, table: str, counts: Mapping[str, int], current: str, agency: str = "",
                    flagged: int = 0, flagged_on: bool = False) -> None:
        """Show `table`'s `counts` by status (of `agency`'s rows, if one is
        picked), with `current` the status the board is filtered by; and
        how many rows need attention (`flagged`: units to check, tasks to
        do with no unit), and whether the board shows only those."""
        vocab = VOCABULARIES.get(table)
        if vocab is None:
            self.hide()
            return
        if table != self.table:
            self._make_buttons(table, vocab)
            if not self._flagged_added:  # after the first board's buttons; moved to the end below
                self._flagged_added = True
                self._layout.addWidget(self.flagged_button)
            self._layout.move_to_end(self.flagged_button)
        total = sum(counts.values())
        whose = f"{agency} " if agency else ""
        # (the count is in bold: HTML; an agency's name of up to 200 characters shortened, never widening the window)
        shown = html.escape(f"{shortened(agency, AGENCY_SHOWN)} " if agency else "")
        noun = table if total != 1 else table[:-1]
        if table == "units":
            busy = sum(n for s, n in counts.items() if model.UNIT_STATUSES.get(s) == "Assigned")
            self.total.setText(f"<b>{total:,} {shown}{noun}</b>, {busy:,} assigned:")
            self.total.setToolTip("By ICS category: " + ", ".join(
                f"{sum(n for s, n in counts.items() if model.UNIT_STATUSES.get(s) == cat):,} {cat.lower()}"
                for cat in ("Available", "Assigned", "Out of service")))
        elif table == "tasks":
            to_do = sum(n for s, n in counts.items() if s in OPEN_TASK)
            self.total.setText(f"<b>{total:,} {shown}{noun}</b>, {to_do:,} still to do:")
            self.total.setToolTip("Still to do: open, assigned or in progress")
        else:
            self.total.setText(f"<b>{total:,} {shown}{noun}</b>:")
            self.total.setToolTip("Out of stock: none of it left here")
        now_dark = dark(self.palette())
        for status, button in self.buttons.items():
            n = counts.get(status, 0)
            button.setText(f"{model.label(status).capitalize()} {n:,}")
            button.setChecked(status == current)
            _look(button, status, bool(n), now_dark)
            button.setToolTip(
                plain(f"{n:,} {whose}{table if n != 1 else table[:-1]} {model.label(status)}: "
                      + ("click to show all again" if status == current else "click to show only these")))
        what = FLAGGED.get(table)
        self.flagged_button.setVisible(what is not None and (flagged > 0 or flagged_on))
        if what is not None:
            label, one, many = what
            self.flagged_button.setText(f"{label} {flagged:,}")
            self.flagged_button.setChecked(flagged_on)
            self.flagged_button.setToolTip(
                plain(f"{flagged:,} {whose}{one if flagged == 1 else many}: "
                      + (f"click to show all {table} again" if flagged_on else "click to show only these")))
        self.show()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # dark mode, say: the empty statuses greyed for it
            now_dark = dark(self.palette())
            self.flagged_button.setStyleSheet(_flagged_style(now_dark))
            for made in self._made.values():
                for status, button in made.items():
                    if (look := button.property("look")) is not None:
                        _look(button, status, look[0], now_dark)

    def _make_buttons(self, table: str, vocab: tuple[str, ...]) -> None:
        """The shown board's buttons: made the first time it is shown, then
        kept, hidden while another board is."""
        for button in self.buttons.values():
            button.hide()
        made = self._made.get(table)
        if made is None:
            made = self._made[table] = {}
            for status in vocab:
                b = QToolButton()
                b.setObjectName(f"tally_{status}")
                b.setCheckable(True)
                b.setAutoRaise(True)
                b.clicked.connect(lambda checked, s=status: self.picked.emit(s if checked else ""))
                self._layout.addWidget(b)
                made[status] = b
        for button in made.values():
            button.show()
        self.buttons = made
        self.table = table


def _look(button: QToolButton, status: str, filled: bool, dark_scheme: bool) -> None:
    """A count's button styled for its status, whether any row is in it,
    and the scheme; only on a change (a style sheet is costly to apply)."""
    if button.property("look") != [filled, dark_scheme]:
        button.setProperty("look", [filled, dark_scheme])
        button.setStyleSheet(_style(status, filled, dark_scheme))


def _flagged_style(dark_scheme: bool) -> str:
    """The count of the rows needing attention: orange on white, and white
    on orange when clicked; in a dark scheme, light orange on the window's
    own dark grey (no white pill on a display dimmed for the night), and
    dark on light orange when clicked."""
    if dark_scheme:
        orange = LIGHT_TONES[FLAGGED_COLOUR]
        back, checked = "transparent", f"background: {orange}; color: {CONFLICT_TEXT}; border-color: white;"
    else:
        orange, back = FLAGGED_COLOUR, "white"
        checked = f"background: {orange}; color: white; border-color: black;"
    return (f"QToolButton {{ background: {back}; color: {orange}; border: 2px solid {orange};"
            " border-radius: 9px; padding: 1px 8px; font-weight: bold; }"
            f" QToolButton:checked {{ {checked} }}")


def _style(status: str, filled: bool, dark_scheme: bool = False) -> str:
    back, text = (STATUS_COLOURS[status], "white") if filled else EMPTY_COLOURS[dark_scheme]
    edge = QColor(back).darker(160).name()
    return (f"QToolButton {{ background: {back}; color: {text}; border: 2px solid {back};"
            f" border-radius: 9px; padding: 1px 8px; font-weight: bold; }}"
            f" QToolButton:checked {{ border: 2px solid black; background: {edge}; }}")


class FlowLayout(QLayout):
    """Widgets in a row, left to right, wrapping onto the next line where
    the row is full; hidden ones take no room."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self.setContentsMargins(0, 0, 0, 0)
        self._space = spacing
        self._items: list[QLayoutItem] = []

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def move_to_end(self, widget: QWidget) -> None:
        """Put `widget` after the others."""
        at = self.indexOf(widget)
        if at >= 0:
            self._items.append(self._items.pop(at))
            self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        shown = [i.sizeHint() for i in self._items if not i.isEmpty()]
        return QSize(sum(s.width() for s in shown) + self._space * max(0, len(shown) - 1),
                     max((s.height() for s in shown), default=0))

    def minimumSize(self) -> QSize:
        # As narrow as the widest widget: the rest wraps.
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the items in `rect` (or only measure); the height they take."""
        x, y, line = rect.x(), rect.y(), 0
        for item in self._items:
            if item.isEmpty():
                continue
            size = item.sizeHint()
            if x > rect.x() and x + size.width() > rect.right() + 1:
                x, y, line = rect.x(), y + line + self._space, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), size))
            x += size.width() + self._space
            line = max(line, size.height())
        return y + line - rect.y()
