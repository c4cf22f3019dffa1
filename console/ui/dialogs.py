"""Dialogs: create and edit rows, draw or add stock, reconcile conflicts,
automatic backups."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console import clock, model
from console.model import ValidationError
from console.store import StoreError, collision_sides, collisions, short_id, side_shown
from console.times import OPEN_TASK, STATUS_TIMERS, span_text
from console.ui.models import (
    ToneLabel,
    between,
    fit_screen,
    local_time,
    names_combo,
    plain,
    plain_label,
    viewport_hint,
    zone_name,
)

ERROR_COLOUR = "#b71c1c"


def ask(icon: QMessageBox.Icon, title: str, text: str, more: str, buttons: Sequence[tuple[str, QMessageBox.ButtonRole]],
        default: str, parent: QWidget | None = None) -> str | None:
    """A question in a message box: `text`, then `more` in smaller type,
    and a button for each (label, role); the label of the one clicked
    (None if the box was closed otherwise)."""
    box = QMessageBox(icon, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setInformativeText(plain(more))  # (its own label, which guesses)
    made = {box.addButton(label, role): label for label, role in buttons}
    box.setDefaultButton(next(b for b, label in made.items() if label == default))
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    return made.get(clicked)


def error_label() -> QLabel:
    """Where a dialog says what is wrong: the same look in every dialog."""
    label = ToneLabel(ERROR_COLOUR, bold=True)
    label.setObjectName("dialogError")
    label.setWordWrap(True)
    return label


def choices(store, f: model.Field) -> list[tuple[str, str]]:
    """(stored value, what a person reads) for each value an enum or
    reference field can take: a status in words, a task by its title (the
    tasks still to do first, then those done, saying so)."""
    if f.type == "enum":
        return [(c, model.label(c)) for c in f.choices]
    label = model.TABLES[f.ref].label
    rows = store.list(f.ref)
    if f.ref != "tasks":
        return [(r.id, str(getattr(r, label))) for r in rows]
    return task_choices(rows)


def task_choices(rows: list) -> list[tuple[str, str]]:
    """(id, what a person reads) for tasks: those still to do first, by
    title, then those done, saying so; two of one title told apart."""
    rows = sorted(rows, key=lambda r: (r.status not in OPEN_TASK, str(r.title).casefold()))
    named = [(r.id, r.title if r.status in OPEN_TASK else f"{r.title} ({model.label(r.status)})") for r in rows]
    # Two tasks of one title ("Traffic control") are told apart by where
    # they are, or else by their ids.
    seen = Counter(name for _, name in named)
    for i, r in enumerate(rows):
        if seen[named[i][1]] > 1:
            named[i] = (r.id, f"{named[i][1]} — {r.location or short_id(r.id)}")
    seen = Counter(name for _, name in named)
    return [(key, f"{name} — {short_id(key)}" if seen[name] > 1 else name) for key, name in named]


# Text fields whose values come back again and again: typing offers the
# ones in use, most used first, so that one agency is not spelled two ways.
SUGGESTED = {"agency": "agency", "lead_agency": "agency", "kind": "kind", "location": "location",
             "unit": "unit"}
SUGGESTIONS = 500  # the most values offered for a field
# Offered from every table: a task's location is where units go.
SHARED = frozenset({"agency", "location"})


def values_in_use(store, table: str, what: str) -> list[str]:
    """The values of a kind of field (agency, kind, location, unit) on the
    live rows of `table` (of every table, for an agency or a location),
    the most used first, then alphabetically; for agencies, this console's
    own and those on its trust list too."""
    counts: Counter[str] = Counter()
    for t in model.TABLES.values():
        if t.append_only or (t.name != table and what not in SHARED):
            continue
        for f in t.fields:
            if SUGGESTED.get(f.name) == what:
                for value, n in store.tally(t.name, [f.name]):
                    if value:
                        counts[value] += n
    if what == "agency":
        for name in (store.agency, *(agency for _, agency, _ in store.trust_list())):
            counts[name] += 0
    return sorted(counts, key=lambda v: (-counts[v], v.casefold()))[:SUGGESTIONS]


HINT_TICK_MS = 15_000  # how often a time's hint ("in 45m") is said again while its dialog is open


def time_hint(text: str, now: float | None = None) -> tuple[str, bool]:
    """What a time typed in a dialog will be read as, in this computer's
    zone and how far from now ("Thu 26 Nov 18:30 CST, in 1h42m"), or what
    is wrong with it; and whether it is wrong. A date typed without a time
    is midnight at its start, and said to be: a task "due 28.11.2026" is
    overdue from its first minute, which the person may not have meant."""
    if not text.strip():
        return f"e.g. {model.TIME_EXAMPLES}", False
    try:
        iso = model.parse_typed_time(text, now)
    except ValidationError as exc:
        return str(exc), True
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    left = round((at.timestamp() - (time.time() if now is None else now)) / 60) * 60  # +45m reads "in 45m"
    when = f"in {span_text(left)}" if left > 0 else f"{span_text(-left)} ago" if left < 0 else "now"
    said = f"{at.strftime('%a %d %b %Y %H:%M')} {zone_name()}, {when}"
    if (at.hour, at.minute) == (0, 0) and model.date_alone(text, now):
        said += ": midnight, at the day's start (add a time for another)"
    return said, False



class Suggestions(QObject):
    """Values offered as a line edit is typed in (any word of them matches,
    whatever the case), read when the field is first entered rather than
    as its dialog opens: on boards of many thousand rows, reading them
    takes a few milliseconds a field."""

    def __init__(self, edit: QLineEdit, read: Callable[[], list[str]]) -> None:
        super().__init__(edit)
        self.edit, self.read, self.filled = edit, read, False
        self.model = QStringListModel(self)
        completer = QCompleter(self.model, edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        edit.setCompleter(completer)
        edit.installEventFilter(self)

    def fill(self) -> QCompleter:
        """The field's completer, with the values read."""
        if not self.filled:
            self.model.setStringList(self.read())
            self.filled = True
        return self.edit.completer()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            self.fill()
        return False


class RecordDialog(QDialog):
    """Create or edit a unit, task or resource. Values are checked by the
    store; what is wrong is said in the dialog, which stays open. Fields
    help type what repeats (the agencies, kinds and places in use), a
    time says what it reads as it is typed, notes take lines."""

    def __init__(self, bridge, table: str, record=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.table = model.table(table)
        self.record = record
        noun = table[:-1]
        self.setWindowTitle(f"Edit {noun}" if record else f"New {noun}")
        self.fields: dict[str, QWidget] = {}
        # Times as shown (in this computer's zone), to tell them untouched.
        self._shown_times: dict[str, str] = {}
        # Shown under a time field: what it will be read as, as it is typed.
        self.hints: dict[str, ToneLabel] = {}
        self._in_use: dict[str, list[str]] = {}
        self.suggestions: dict[str, Suggestions] = {}
        form = QFormLayout()
        for f in self.table.fields:
            if (record is not None and f.counter) or f.hidden:
                continue  # stock changes by drawing or adding, not by overwriting (and merges write the hidden)
            widget = self._widget(f)
            self.fields[f.name] = widget
            label = f.name.replace("_id", "").replace("_", " ").capitalize() + (" *" if f.required else "")
            if f.type == "time":
                label += f" ({zone_name()})"
                form.addRow(label, widget)
                hint = ToneLabel()
                hint.setObjectName(f"{f.name}Hint")
                hint.setWordWrap(True)
                self.hints[f.name] = hint
                form.addRow("", hint)
                widget.textChanged.connect(lambda text, name=f.name: self._show_time(name, text))
                self._show_time(f.name, widget.text())
            else:
                form.addRow(label, widget)
        self.error = error_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.saved_id: str | None = None
        # A new task's title (a stock item's name and agency) said to be one's already (see _entered_already).
        self._warned_title: object = ""
        self._auto_status = False  # the status set by picking a task, not by hand
        if self.hints:
            # "in 45m" counts down while the dialog stays open, and a clock
            # time typed is read again as the nearest one.
            self._hint_timer = QTimer(self)
            self._hint_timer.setInterval(HINT_TICK_MS)
            self._hint_timer.timeout.connect(self._tick_hints)
            self._hint_timer.start()
        if self.table.name == "units":
            # The dispatch rules (Store.update_many), shown as they apply:
            # a unit put on a task is dispatched, one made available is off
            # its task; either can be set otherwise before saving.
            self.fields["task_id"].currentIndexChanged.connect(self._task_picked)
            self.fields["status"].currentIndexChanged.connect(self._status_picked)

    def _widget(self, f: model.Field) -> QWidget:
        current = getattr(self.record, f.name, None) if self.record is not None else f.default
        if self.record is None and f.name == "agency":
            current = self.bridge.store.agency  # a new unit or resource is most often this console's agency's
        if f.type in ("enum", "ref"):
            w = names_combo()
            if f.type == "ref":
                w.addItem("—", None)
            for key, name in choices(self.bridge.store, f):
                w.addItem(name, key)
            if current:
                w.setCurrentIndex(max(0, w.findData(current)))
            return w
        if f.type == "time":
            # In the zone of the people at this console, as the boards show
            # times; what they type without a zone is read in it too.
            shown = local_time(current, seconds=bool(current) and not current.endswith(":00Z"))
            self._shown_times[f.name] = shown
            w = QLineEdit(shown)
            w.setPlaceholderText("18:30, +2h or " + datetime.now().strftime("%Y-%m-%d %H:%M"))
            return w
        text = "" if current is None else (str(int(current)) if isinstance(current, float)
                                           and current.is_integer() else str(current))
        if f.lines:  # (the work a task asks for, notes on a unit: a box of a few lines, Tab moving on)
            w = QPlainTextEdit(text)
            w.setTabChangesFocus(True)
            w.setFixedHeight(w.fontMetrics().lineSpacing() * 4 + 12)
            return w
        w = QLineEdit(text)
        if f is model.LOW_AT:
            w.setPlaceholderText("at or below it, the stock is low (empty: not watched)")
        what = SUGGESTED.get(f.name)
        if what:
            self.suggestions[f.name] = Suggestions(w, lambda: self.in_use(what))
        return w

    def _before(self, name: str):
        """A field's value as the dialog opened with it."""
        return getattr(self.record, name) if self.record is not None else self.table.field(name).default

    def _task_picked(self, _index: int) -> None:
        task, status = self.fields["task_id"], self.fields["status"]
        if self._auto_status and task.currentData() in (None, self._before("task_id")):
            # Back as it was: so is the status this dialog set for it.
            self._auto_status = False
            status.setCurrentIndex(status.findData(self._before("status")))
        # (Unless a status was picked here too: then it stands.)
        elif (task.currentData() not in (None, self._before("task_id"))
                and status.currentData() == self._before("status") != "dispatched"):
            status.setCurrentIndex(status.findData("dispatched"))
            self._auto_status = True

    def _status_picked(self, _index: int) -> None:
        task, status = self.fields["task_id"], self.fields["status"]
        if status.currentData() != "dispatched":
            self._auto_status = False  # picked by hand: it stands
        # (Unless a task was picked here too: then it stands.)
        if status.currentData() == "available" and task.currentData() is not None \
                and task.currentData() == self._before("task_id"):
            task.setCurrentIndex(0)  # "—"

    def in_use(self, what: str) -> list[str]:
        """The values in use of a kind of field (see values_in_use), read once."""
        if what not in self._in_use:
            self._in_use[what] = values_in_use(self.bridge.store, self.table.name, what)
        return self._in_use[what]

    def _tick_hints(self) -> None:
        for name in self.hints:
            self._show_time(name, self.fields[name].text())

    def _show_time(self, name: str, text: str) -> None:
        said, wrong = time_hint(text)
        hint = self.hints[name]
        hint.setText(said)
        hint.set_colour(ERROR_COLOUR if wrong else None)  # (none: subdued, but as readable as the rest)

    @staticmethod
    def _text(w: QWidget) -> str:
        return w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text()

    def values(self) -> dict:
        out = {}
        for name, w in self.fields.items():
            f = self.table.field(name)
            if isinstance(w, QComboBox):
                out[name] = w.currentData()
                continue
            text = self._text(w)
            if self.record is not None and text == self._shown_times.get(name):
                out[name] = getattr(self.record, name)  # untouched: exactly as stored
            else:
                out[name] = model.parse(self.table, f, text) if text.strip() or f.required else None
        return out

    def save(self) -> None:
        try:
            values = self.values()
            if self.record is None and self.table.name in ("tasks", "resources") and self._entered_already(values):
                return
            if self.record is None:
                self.saved_id = self.bridge.add(self.table.name, values)
            else:
                changed = {k: v for k, v in values.items() if getattr(self.record, k, None) != v}
                if changed and self._changed_meanwhile(changed):
                    return
                if changed:
                    self.bridge.update(self.table.name, self.record.id, changed)
                self.saved_id = self.record.id
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def _entered_already(self, values: dict) -> bool:
        """Whether a new task's title is a task's still to do, or a new
        stock item's name one's on the boards (letter case and spacing
        aside): the same call, or stock, entered twice, by two people or
        twice by one. Then say which, and add it only on a second Save."""
        tasks = self.table.name == "tasks"
        name = values.get("title" if tasks else "name") or ""
        key = model.name_key(name) if tasks else (model.name_key(name), model.name_key(values.get("agency") or ""))
        if not name.strip() or key == self._warned_title:
            return False
        store = self.bridge.store
        same = (store.tasks_titled([name]) if tasks else store.resources_named([(name, values.get("agency") or "")])
                ).get(key)
        if not same:
            return False
        added = store.added_by(self.table.name, [t.id for t in same])

        def said(t) -> str:
            at, operator, agency = added[t.id]
            if tasks:
                on = len(t.assigned_units)
                parts: tuple = (model.label(t.status), f"{on} unit{'s' if on != 1 else ''} on it" if on
                                else "no unit on it", t.location)
            else:
                parts = (f"{t.quantity or 0:g} {t.unit or ''}".rstrip(), t.location)
            return ", ".join(p for p in (*parts, f"added by {agency} ({operator}) at "
                                         f"{local_time(clock.to_iso(at), seconds=False)} {zone_name()}") if p)

        first = same[0]
        more = f" (and {len(same) - 1} more)" if len(same) > 1 else ""
        if tasks:
            self.error.setText(f"{first.title!r} is a task still to do already: {said(first)}{more}. The same "
                               "call? Cancel, and put units on that one. Another task? Give it a title of its "
                               "own, or Save again to add it as it is.")
        else:
            self.error.setText(f"{first.name!r} of {first.agency} is on the Resources board already: "
                               f"{said(first)}{more}. The same "
                               "stock? Cancel, and add to that one (Stock ▸ Add stock). Other stock? Give it a "
                               "name of its own, or Save again to add it as it is.")
        self._warned_title = key
        return True

    def _changed_meanwhile(self, changed: dict) -> bool:
        """Whether a field this person changed was changed elsewhere while
        the dialog was open (a peer's edit, another window): then say so,
        and write over it only on a second Save, so that nobody overwrites
        a value they never saw. Fields left alone are not written at all."""
        store = self.bridge.store
        now = store.get(self.table.name, self.record.id, deleted=True)
        moved = [k for k, v in changed.items()
                 if getattr(now, k, None) != getattr(self.record, k, None) and getattr(now, k, None) != v]
        if not moved:
            return False
        said = "; ".join(f"{model.field_label(k)} is now {store.describe(self.table.name, k, getattr(now, k))}"
                         for k in moved)
        self.error.setText(f"Changed elsewhere while this was open: {said}. Save again to write yours over "
                           "it, or Cancel.")
        # Seen now: a second Save writes over it.
        self.record = dataclasses.replace(self.record, **{k: getattr(now, k) for k in moved})
        return True


class StockDialog(QDialog):
    """Draw stock from, or add stock to, a resource."""

    def __init__(self, bridge, resource, *, draw: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.resource = resource
        self.draw = draw
        unit = resource.unit or ""
        self.setWindowTitle(f"{'Draw from' if draw else 'Add to'} {resource.name}")
        self.amount = QDoubleSpinBox()
        self.amount.setDecimals(0 if float(resource.quantity).is_integer() else 2)
        self.amount.setRange(0, 1e9)
        self.amount.setSuffix(f" {unit}")
        # What for, said in the journal: the tasks still to do and the
        # units are offered as it is typed.
        self.purpose = QLineEdit()
        self.purpose.setPlaceholderText("a task, a unit, a place (optional)")
        self.suggestions = Suggestions(self.purpose, self._purposes)
        self.error = error_label()
        on_hand = plain_label(f"On hand: {resource.quantity or 0:g} {unit}".rstrip()
                              + (f" (low at {resource.low_at:g}{': low now' if model.stock_low(resource) else ''})"
                            if resource.low_at is not None else ""))
        on_hand.setObjectName("onHand")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("How much", self.amount)
        form.addRow("For", self.purpose)
        layout = QVBoxLayout(self)
        layout.addWidget(on_hand)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _purposes(self) -> list[str]:
        store = self.bridge.store
        tasks = sorted((t.title for t in store.list("tasks") if t.status in OPEN_TASK), key=str.casefold)
        return list(dict.fromkeys([*tasks, *sorted((u.callsign for u in store.list("units")), key=str.casefold)]))

    def save(self) -> None:
        amount = self.amount.value()
        if amount <= 0:
            self.error.setText("Enter how much.")
            return
        try:
            self.bridge.adjust(self.resource.id, -amount if self.draw else amount, self.purpose.text() or None)
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class MergeDialog(QDialog):
    """Merge units, tasks or stock items that are one (entered twice: on
    consoles apart, or by two people at once) into one row. The first added
    stays, on every console (see Store.merge_tasks); the person picks whose
    values it takes, each row listed with what it says and who added it
    when."""

    def __init__(self, bridge, table: str, records: list, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.table = table
        store = bridge.store
        added = store.added_by(table, [r.id for r in records])
        self.records = sorted(records, key=lambda r: (added[r.id][0], r.id))
        n, what = len(self.records), table
        self.setWindowTitle(f"Merge {n} {what} into one")
        moves = {"tasks": "; the units on the others move onto it as they are",
                 "resources": "; it holds their stock added up, and stock drawn from the others on consoles that "
                              "have not seen the merge yet counts in it too"}.get(table, "")
        one = "stock" if table == "resources" else f"{what[:-1]}"
        intro = plain_label(f"The same {one}, entered twice? The first added stays (on every console), with the "
                            f"values of the one picked below{moves}. The others are deleted; the journal keeps what "
                            "they said. One step to undo (Ctrl+Z).")
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("mergeKeep")
        for i, rec in enumerate(self.records):
            at, operator, agency = added[rec.id]
            first = "  (first added: this row stays)" if i == 0 else ""
            item = QListWidgetItem(f"{self._said(store, rec)}\n    added by {agency} ({operator}) at "
                                   f"{local_time(clock.to_iso(at), seconds=False)} {zone_name()}{first}")
            item.setData(Qt.ItemDataRole.UserRole, rec.id)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.save())
        self.error = error_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        merge = buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        merge.setDefault(True)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(plain_label("Keep the values of:"))
        layout.addWidget(self.list)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_screen(self, 640, 360)

    @staticmethod
    def _said(store, rec) -> str:
        """A row as the list shows it: what tells the rows apart."""
        if isinstance(rec, model.Task):
            on = len(rec.assigned_units)
            due = f"due {local_time(rec.due, seconds=False)} {zone_name()}" if rec.due else None
            parts = (model.label(rec.priority), model.label(rec.status), rec.location, rec.lead_agency, due,
                     f"{on} unit{'s' if on != 1 else ''} on it" if on else "no unit on it")
            return f"{rec.title}: " + ", ".join(p for p in parts if p)
        if isinstance(rec, model.Resource):
            parts = (f"{rec.quantity or 0:g} {rec.unit or ''}".rstrip(), rec.kind, rec.agency, rec.location)
            return f"{rec.name}: " + ", ".join(p for p in parts if p)
        task = store.describe("units", "task_id", rec.task_id) if rec.task_id else None
        parts = (rec.agency, rec.kind, model.label(rec.status), task, rec.location,
                 f"crew {rec.personnel}" if rec.personnel is not None else None)
        return f"{rec.callsign}: " + ", ".join(p for p in parts if p)

    def keep(self) -> str:
        item = self.list.currentItem() or self.list.item(0)
        return item.data(Qt.ItemDataRole.UserRole)

    def save(self) -> None:
        merge = {"tasks": self.bridge.merge_tasks, "resources": self.bridge.merge_resources}.get(
            self.table, self.bridge.merge_units)
        try:
            merge([r.id for r in self.records], keep=self.keep())
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class AutoBackupDialog(QDialog):
    """Whether, where, how often and how many backups of this database the
    window takes by itself; `window.set_auto_backup` does what is chosen."""

    def __init__(self, window, folder: str | None, every: int, keep: int) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Automatic backups")
        self.enabled = QCheckBox("Back up this database automatically")
        self.enabled.setChecked(folder is not None)
        self.folder = QLineEdit(folder or "")
        self.folder.setPlaceholderText("a folder on another disk or a USB stick")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose)
        where = QHBoxLayout()
        where.addWidget(self.folder, 1)
        where.addWidget(choose)
        self.every = QSpinBox()
        self.every.setRange(1, 24 * 60)
        self.every.setSuffix(" min")
        self.every.setValue(every)
        self.keep = QSpinBox()
        self.keep.setRange(1, 10_000)
        self.keep.setValue(keep)
        self.error = error_label()
        form = QFormLayout()
        form.addRow("Into", where)
        form.addRow("Every", self.every)
        form.addRow("Keep the newest", self.keep)
        note = plain_label("A backup is taken now and then at each turn when something was written since the last; "
                           "older backups of this database in the folder are deleted past the number kept. "
                           "Backups run beside the window and sync, which go on meanwhile.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Back up into", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.enabled.setChecked(True)

    def save(self) -> None:
        folder = self.folder.text().strip() if self.enabled.isChecked() else None
        try:
            self.window_.set_auto_backup(folder, self.every.value(), self.keep.value())
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class ArrowsToList(QObject):
    """Up and down (and a page either way) in a search box move through the
    list it narrows, so the hands stay on the keys."""

    KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)

    def __init__(self, search: QLineEdit, target: QListWidget) -> None:
        super().__init__(search)
        self.search, self.target = search, target
        search.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.key() in self.KEYS:
            QApplication.sendEvent(self.target, event)
            return True
        return False


def assign_problem(store, unit_ids: list[str], task_id: str | None) -> str | None:
    """Why units picked a moment ago cannot be put on a task now, in words
    for the person who picked them (a unit or the task deleted meanwhile,
    here or on another console), or None."""
    live = {u.id for u in store.get_many("units", unit_ids)}
    gone = [u.callsign for uid in unit_ids if uid not in live
            for u in [store.get("units", uid, deleted=True)]]
    if gone:
        return (f"{_few_names(gone)} {'was' if len(gone) == 1 else 'were'} deleted meanwhile (here or on another "
                "console); nothing was assigned.")
    if task_id is not None and not store.get_many("tasks", [task_id]):
        title = store.get("tasks", task_id, deleted=True).title
        return f"The task {title} was deleted meanwhile (here or on another console); nothing was assigned."
    return None


def _few_names(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


class SearchListDialog(QDialog):
    """A dialog to pick from a list that narrows as words are typed (every
    word somewhere in a row, whatever the case), the arrow keys in the
    search box moving through it, with an Assign button that is the
    standard OK, so Enter presses it wherever the focus is. Subclasses
    fill `self.list`, and may show a line of their own (`below`)."""

    def __init__(self, title: str, placeholder: str, on_assign: Callable[[], None], parent: QWidget | None,
                 below: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.search = QLineEdit()
        self.search.setPlaceholderText(placeholder)
        self.search.textChanged.connect(self._narrow)
        self.list = QListWidget()
        ArrowsToList(self.search, self.list)
        self.error = error_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.assign_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.assign_button.setText("Assign")
        buttons.accepted.connect(on_assign)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        if below is not None:
            layout.addWidget(below)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_screen(self, 820, 480)

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def shown(self) -> list[QListWidgetItem]:
        return [it for it in self.items() if not it.isHidden()]

    def _narrow(self, text: str) -> None:
        words = text.casefold().split()
        shown = 0
        for it in self.items():
            hide = not all(w in it.text().casefold() for w in words)
            it.setHidden(hide)
            shown += not hide
        self.narrowed(shown)

    def narrowed(self, shown: int) -> None:
        """The list was narrowed to `shown` rows."""


class PickTaskDialog(SearchListDialog):
    """Pick the task to put units on (or none, to take them off theirs):
    the tasks still to do first, most urgent first (then soonest due),
    each with its priority, status, place and how many units are on it;
    Enter takes the one highlighted (the first shown, as typed). `picked`
    is what was chosen: a task id, or None for none."""

    NONE = "— none: off its task —"

    def __init__(self, bridge, unit_ids: list[str], parent: QWidget | None = None) -> None:
        store = bridge.store
        n = len(unit_ids)
        units = store.get_many("units", unit_ids[:1])
        who = units[0].callsign if n == 1 and units else f"{n} units"
        super().__init__(f"Assign {who} to a task", "Search tasks: title, place, priority, status", self.pick,
                         parent)
        self.picked: str | None = None
        listed = store.list("tasks")
        tasks = {t.id: t for t in listed}
        rank = {p: i for i, p in enumerate(model.PRIORITIES)}
        none = QListWidgetItem(self.NONE)
        none.setData(Qt.ItemDataRole.UserRole, None)
        self.list.addItem(none)
        named = task_choices(listed)
        # To do: most urgent first, then the soonest due (overdue first), as
        # the situation report lists them, then as named; done: as named, after.
        order = {key: i for i, (key, _) in enumerate(named)}

        def urgency(kv):
            t = tasks[kv[0]]
            if t.status not in OPEN_TASK:
                return (1, 0, "", order[kv[0]])
            return (0, rank.get(t.priority, 9), t.due or "\uffff", order[kv[0]])

        named.sort(key=urgency)
        for key, name in named:
            t = tasks[key]
            on = len(t.assigned_units)
            bits = [name, model.label(t.priority)]
            if t.status in OPEN_TASK:  # (a task done says so in its name)
                bits.append(model.label(t.status))
            if t.location and not name.endswith(t.location):
                bits.append(f"at {t.location}")
            bits.append(f"{on} unit{'s' if on != 1 else ''} on it" if on else "no unit on it")
            item = QListWidgetItem(" — ".join(bits))
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.list.addItem(item)
        self.list.itemActivated.connect(lambda _item: self.pick())
        self.list.setCurrentRow(1 if self.list.count() > 1 else 0)

    def narrowed(self, shown: int) -> None:
        # The first task shown is highlighted, for Enter ("none" only if it alone is shown).
        first = next((it for it in self.shown() if it.data(Qt.ItemDataRole.UserRole)), None)
        self.list.setCurrentItem(first or (self.shown() or [None])[0])

    def pick(self) -> None:
        item = self.list.currentItem()
        if item is None or item.isHidden():
            self.error.setText("No task matches what is typed.")
            return
        self.picked = item.data(Qt.ItemDataRole.UserRole)
        self.accept()


# The order units are offered in to put on a task: every other status 2.
PICK_ORDER = {"available": 0, "returning": 1, "out_of_service": 3}


class AssignUnitsDialog(SearchListDialog):
    """Put units on a task, picked from a list of them all: those on it
    already (not to pick), then the available ones, then those busy
    (saying on what), out of service last; any word typed in the search
    box narrows it (callsign, agency, kind, status, place); Tab into the
    list, and Space checks the unit highlighted. The units checked are put
    on the task together, as one step to undo (dispatched: see
    Store.update_many)."""

    def __init__(self, bridge, task, parent: QWidget | None = None) -> None:
        count = plain_label()
        super().__init__(f"Assign units to {task.title}", "Search: callsign, agency, kind, status, place",
                         self.save, parent, below=count)
        self.count = count
        self.bridge, self.task = bridge, task
        store = bridge.store
        units = store.list("units")
        titles = {t.id: t.title for t in store.get_many("tasks", {u.task_id for u in units if u.task_id})}
        units.sort(key=lambda u: (u.task_id != task.id, PICK_ORDER.get(u.status, 2), u.callsign.casefold()))
        for u in units:
            bits = [u.callsign, u.agency, u.kind, model.label(u.status)]
            if u.task_id == task.id:
                bits.append("on it already")
            elif u.task_id:
                bits.append(f"on {titles.get(u.task_id, short_id(u.task_id))}")
            if u.location:
                bits.append(f"at {u.location}")
            item = QListWidgetItem(" — ".join(bits))
            item.setData(Qt.ItemDataRole.UserRole, u.id)
            if u.task_id == task.id:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setItemDelegate(CheckFramed(self.list))
        self._checked: dict[str, None] = {}  # the ids checked, in the order checked
        self._shown = self.list.count()
        self.list.itemChanged.connect(self._toggled)
        self._count()

    def checked(self) -> list[str]:
        return list(self._checked)

    def _toggled(self, item: QListWidgetItem) -> None:
        # Kept as items are checked, not counted over the list each time
        # (thousands of units).
        unit_id = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self._checked[unit_id] = None
        else:
            self._checked.pop(unit_id, None)
        self._count()

    def narrowed(self, shown: int) -> None:
        self._shown = shown
        self._count()

    def _count(self) -> None:
        n = len(self._checked)
        self.count.setText(f"{n} checked to put on {self.task.title}; {self._shown} of {self.list.count()} units "
                           "shown")
        self.assign_button.setEnabled(n > 0)

    def save(self) -> None:
        ids = self.checked()
        if not ids:
            self.error.setText("Check the units to put on the task.")
            return
        problem = assign_problem(self.bridge.store, ids, self.task.id)
        if problem:
            self.error.setText(problem)
            return
        try:
            self.bridge.assign(ids, self.task.id)
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class StatusTimersDialog(QDialog):
    """How long a unit may stay in each status before the board flags it
    for a check; `window.set_status_timers` does what is chosen."""

    def __init__(self, window, timers: dict[str, int]) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Status timers")
        form = QFormLayout()
        self.minutes: dict[str, QSpinBox] = {}
        for status in model.UNIT_STATUSES:
            box = QSpinBox()
            box.setObjectName(f"timer_{status}")
            box.setRange(0, 24 * 60)
            box.setSingleStep(5)
            box.setSuffix(" min")
            box.setSpecialValueText("no timer")
            box.setValue(timers.get(status, 0))
            form.addRow(model.label(status).capitalize(), box)
            self.minutes[status] = box
        note = plain_label("A unit still in a status this long after it began shows its time in status in orange "
                           "bold, and the Units tab counts it (\"Units (2 to check)\"): a dispatch not taken up, a "
                           "unit held up on the way. Checking a unit in (Units ▸ Check in, Ctrl+K), or any note about "
                           "it, starts its timer again. Set on this computer only.")
        note.setWordWrap(True)
        defaults = QPushButton("Defaults")
        defaults.clicked.connect(self._defaults)
        self.error = error_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(defaults, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _defaults(self) -> None:
        for status, box in self.minutes.items():
            box.setValue(STATUS_TIMERS.get(status, 0))

    def save(self) -> None:
        try:
            self.window_.set_status_timers({s: box.value() for s, box in self.minutes.items()})
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


WHAT_WIDTH = 320  # the reconciliation's first column at most, in pixels: longer titles wrap


class CheckFramed(QStyledItemDelegate):
    """A list's check boxes framed so that they show in any scheme: in a
    dark one, Qt's own frame of an unchecked box was as dark as the list
    (1.1 times the contrast of it; 1.9 in a light one), so that nothing
    showed where to check a unit. The frame is halfway between the list's
    text and background (4 times or more)."""

    def paint(self, painter, option, index) -> None:
        super().paint(painter, option, index)
        if index.data(Qt.ItemDataRole.CheckStateRole) is None:
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        box = style.subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, opt, opt.widget)
        painter.save()
        painter.setPen(between(opt.palette.color(QPalette.ColorRole.Text), opt.palette.color(QPalette.ColorRole.Base),
                               0.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box.adjusted(0, 0, -1, -1))
        painter.restore()


class _Wrapping(QStyledItemDelegate):
    """Rows of a tree as tall as their text wrapped at its column's width.
    QTreeView asks a row's height with no width given, so text it is told
    to wrap (setWordWrap) is measured as one line and then cut short."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self.tree = tree

    def sizeHint(self, option, index):
        if not self.tree.wordWrap():
            return super().sizeHint(option, index)
        width = self.tree.header().sectionSize(index.column())
        if index.column() == 0:  # the branch lines and arrows take their part of the first column
            depth, parent = 1, index.parent()
            while parent.isValid():
                depth, parent = depth + 1, parent.parent()
            width -= self.tree.indentation() * depth
        opt = QStyleOptionViewItem(option)
        opt.rect.setRect(0, 0, max(width, 1), max(opt.rect.height(), 1))
        return super().sizeHint(opt, index)


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What one item of the reconciliation view reads, and holds: its
    texts, what a decision on it takes (under `role`), its tooltip and its
    own items. Two alike read alike (see ReconcileDialog.reload)."""

    texts: tuple[str, ...]
    role: int
    said: str  # `data` written out, to compare and hash (it holds dicts)
    tip: str
    children: tuple[_Spec, ...]
    data: object = dataclasses.field(compare=False, hash=False)


def _spec(texts: tuple[str, ...], role, data, *, tip: str = "", children=()) -> _Spec:
    return _Spec(texts, int(role), repr(data), tip, tuple(children), data)


def _tree_item(spec: _Spec) -> QTreeWidgetItem:
    item = QTreeWidgetItem(list(spec.texts))
    item.setData(0, spec.role, spec.data)
    if spec.tip:
        item.setToolTip(0, plain(spec.tip))
    for child in spec.children:
        item.addChild(_tree_item(child))
    return item


class ReconcileDialog(QDialog):
    """Every open conflict: what, both values, who and when; keep one, or
    enter a new value. Resolutions sync to every console."""

    def __init__(self, bridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("Reconcile conflicting edits")
        fit_screen(self, 1000, 460)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["What", "Value", "Who", f"When ({zone_name()})"])
        self.tree.setAlternatingRowColors(True)
        # Who and when stay in view, whatever the width: the values take the
        # room left and wrap (a long one pushed them off to the right).
        self.tree.setWordWrap(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tree.setItemDelegate(_Wrapping(self.tree))
        self.empty = viewport_hint(self.tree, "nothingToReconcile")
        self.empty.setText("Nothing to reconcile: no edits made apart collided, no callsign is on two units, and no "
                           "unit is on a deleted task.")
        header.sectionResized.connect(lambda *_: self.tree.doItemsLayout())  # rows as tall as their wrapped text
        self.keep_button = QPushButton("Keep this option")
        self.keep_button.setObjectName("keep")
        self.new_button = QPushButton("Enter a new value…")
        self.new_button.setObjectName("newValue")
        self.keep_shown_button = QPushButton("Keep what the boards show")
        self.keep_shown_button.setObjectName("keepShown")
        self.keep_shown_button.setToolTip("For every selected conflict: keep the option marked 'shown now'. "
                                          "For every selected callsign on several units: merge them into the "
                                          "first added (unit 1), with its values. For every selected unit "
                                          "on a task merged into another: put it on that one, as it is.")
        self.keep_button.clicked.connect(self.keep_selected)
        self.new_button.clicked.connect(self.enter_value)
        self.keep_shown_button.clicked.connect(self.keep_shown)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.error = error_label()
        intro = plain_label("These edits were made at the same time on different consoles, without seeing each other. "
                            "Until you decide, the boards show the option marked 'shown now' (the later edit; for a "
                            "row deleted on one console and edited on another, the delete). Fields of one row "
                            "edited on the same consoles are one item: an option keeps one console's side of them "
                            "all (expand it to pick its fields one by one). Select several conflicts to settle "
                            "them together, or an option of each (Ctrl+click) to keep them all. A callsign on two "
                            "units, added on consoles apart, is listed after them: if they are the same unit, keep the "
                            "one whose values are right, and they become one; if not, enter a new callsign for one. "
                            "Last, a unit put on a task at a console that had not seen the task deleted (or merged "
                            "into another): put it on a task, or off it.")
        intro.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.keep_button)
        row.addWidget(self.new_button)
        row.addWidget(self.keep_shown_button)
        row.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree)
        layout.addWidget(self.error)
        layout.addLayout(row)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(500)
        self._reload_timer.timeout.connect(self.reload)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.reload)
        self._shown: list[_Spec] = []  # what each of the tree's items reads, in its order
        bridge.changed.connect(self._changed)
        self.reload()

    def _changed(self, cs) -> None:
        if not self.isVisible() or not (getattr(cs, "conflicts", True) or may_change_marks(cs)):
            return  # (the window reloads it when it opens it)
        if getattr(cs, "local", False):
            # Made at this console: at the next turn of the event loop, once
            # (a decision taken here reloads as it ends; an undo in the
            # window, a resolution at its boards, are listed at once).
            self._soon.start()
        elif not self._reload_timer.isActive():
            # Coalesced: a catch-up arrives in many slices, and with
            # thousands of conflicts a reload takes tens of milliseconds.
            self._reload_timer.start()

    def reload(self) -> None:
        """List the open conflicts. The conflicts of one row between the
        same consoles (a unit put on two tasks at once collides on its task
        and on its status) are one item, each console's side one option:
        one decision keeps that side of every field.

        Items that would read as they do stay as they are (expanded or not,
        selected or not, the list scrolled where it was); only the others
        are taken out or put in. A decision among thousands of items takes
        one out, not the whole list (a quarter of a second with 2,000),
        and the person stays where they were in it."""
        self._soon.stop()
        self._reload_timer.stop()
        store = self.bridge.store
        said = _Wording(store)
        specs = [self._collision_spec(said, cs) if len(cs) > 1 else self._conflict_spec(said, cs[0])
                 for cs in collisions(store.conflicts())]
        specs += [self._twins_spec(said, tw) for tw in store.twins()]
        specs += [self._stranded_spec(said, x) for x in store.stranded()]
        tree = self.tree
        current = tree.currentItem()
        while current is not None and current.parent() is not None:
            current = current.parent()
        at = tree.indexOfTopLevelItem(current) if current is not None else -1
        # The items shown already that are still wanted, as they read, in
        # their order; if the order itself changed, all of it again.
        wanted = Counter(specs)
        kept_at = []
        for i, spec in enumerate(self._shown):
            if wanted[spec] > 0:
                wanted[spec] -= 1
                kept_at.append(i)
        kept = [self._shown[i] for i in kept_at]
        rest = iter(specs)
        in_order = all(spec in rest for spec in kept)  # (a subsequence of what is wanted)
        if not in_order or len(kept) < len(self._shown) // 2:
            tree.clear()  # most of it (taking thousands out one by one is slower), or all
            kept, current = [], None
        else:
            survivors = set(kept_at)
            for i in reversed(range(len(self._shown))):
                if i not in survivors:
                    tree.takeTopLevelItem(i)
        added, k = False, 0
        for position, spec in enumerate(specs):
            if k < len(kept) and spec == kept[k]:
                k += 1
                continue
            item = _tree_item(spec)
            tree.insertTopLevelItem(position, item)
            item.setExpanded(True)
            added = True
        self._shown = specs
        self.empty.setVisible(not specs)
        for button in (self.keep_button, self.new_button, self.keep_shown_button):
            button.setEnabled(bool(specs))
        if at >= 0 and (current is None or tree.indexOfTopLevelItem(current) < 0) and tree.topLevelItemCount():
            # The item worked on is settled: the one that took its place is next.
            tree.setCurrentItem(tree.topLevelItem(min(at, tree.topLevelItemCount() - 1)))
        if added:
            tree.setWordWrap(False)  # widths as the texts take on one line
            for col in (0, 2, 3):
                tree.resizeColumnToContents(col)
            tree.setColumnWidth(0, min(tree.columnWidth(0), WHAT_WIDTH))
            tree.setWordWrap(True)

    @staticmethod
    def _conflict_spec(said: _Wording, c) -> _Spec:
        role = Qt.ItemDataRole.UserRole
        what = (f"{c.table[:-1]} {c.row_label}: edited while being deleted" if c.kind == "delete"
                else f"{c.table[:-1]} {c.row_label}: {model.field_label(c.field)}")
        children = []
        for n, options in enumerate(_sides(c), 1):
            i, cand = options[0]
            if c.kind == "delete" and cand.field == "deleted":
                value = said.store.merge_said(c.table, c.row, cand.origin, cand.seq) or "delete it"
            elif c.kind == "delete":
                value = "keep it: " + "; ".join(f"{model.field_label(o.field)} = {said.option(c, o)}"
                                               for _, o in options)
            else:
                value = said.option(c, cand)
            if any(k == c.shown for k, _ in options):
                value += "   (shown now)"
            who = ", ".join(dict.fromkeys(f"{o.agency} ({o.operator})" for _, o in options))
            children.append(_spec((f"  option {n}", value, who, said.when(max(o.at for _, o in options))),
                                  role, {c.id: i}))
        return _spec((what, "", "", said.when(c.detected_at)), role, {c.id: None}, children=children)

    @staticmethod
    def _collision_spec(said: _Wording, cs: list) -> _Spec:
        role = Qt.ItemDataRole.UserRole
        first = cs[0]
        fields = [model.field_label(c.field) for c in cs]
        what = (f"{first.table[:-1]} {first.row_label}: {', '.join(fields[:-1])} and {fields[-1]} "
                f"({len(cs)} conflicts)")
        children = []
        for n, (cand, keep) in enumerate(zip(first.candidates, collision_sides(cs), strict=True), 1):
            # This console's side of each field: (conflict, its option number, the option).
            side = [(c, keep[c.id], c.candidates[keep[c.id] - 1]) for c in cs]
            value = "; ".join(f"{model.field_label(c.field)} = {said.option(c, o)}" for c, _, o in side)
            shown = side_shown(cs, keep)
            value += f"   ({shown})" if shown else ""
            # Each field of the side on its own, to keep a mix of sides.
            parts = [_spec((f"    {model.field_label(c.field)}",
                            said.option(c, o) + ("   (shown now)" if i == c.shown else ""),
                            f"{o.agency} ({o.operator})", said.when(o.at)), role, {c.id: i})
                     for c, i, o in side]
            children.append(_spec((f"  option {n}", value, f"{cand.agency} ({cand.operator})",
                                   said.when(max(o.at for _, _, o in side))), role, {c.id: i for c, i, _ in side},
                                  tip="Keeps this side of every field. Expand it to keep some fields of one side "
                                      "and others of another (Ctrl+click a field of each).", children=parts))
        return _spec((what, "", "", said.when(max(c.detected_at for c in cs))), role, {c.id: None for c in cs},
                     children=children)

    @staticmethod
    def _twins_spec(said: _Wording, tw) -> _Spec:
        """A callsign on several units: each unit an option, whose values
        a merge keeps (see Store.merge_units)."""
        ids = tuple(x.unit.id for x in tw.units)
        # What tells them apart: the fields they differ on.
        differ = [f for f in model.UNITS.names if len({getattr(x.unit, f) for x in tw.units}) > 1]
        children = []
        for n, x in enumerate(tw.units, 1):
            u = x.unit
            value = "; ".join(f"{model.field_label(f)} = {said.store.describe('units', f, getattr(u, f))}"
                              for f in differ) or "the same values"
            children.append(_spec((f"  unit {n}", value, f"{x.agency} ({x.operator})", said.when(x.added_at)),
                                  TWINS_ROLE, (ids, u.id),
                                  tip="The same unit? Keep this option: the units become one, with these values "
                                      "(status, task, place, crew); the others are deleted. Different units? "
                                      "Enter a new callsign for this one."))
        return _spec((f"unit {tw.callsign}: on {len(ids)} units, added on consoles apart", "", "",
                      said.when(tw.units[-1].added_at)), TWINS_ROLE, (ids, None), children=children)

    @staticmethod
    def _stranded_spec(said: _Wording, x) -> _Spec:
        """A unit on a deleted task: put it on the task that one was merged
        into (as it is), or off it; or on another (Enter a new value)."""
        u = x.unit
        how = "merged into another task" if x.merged else "deleted"
        options = ([(f"put it on {x.into_title}, the task it was merged into, as it is ({model.label(u.status)})",
                     {"task_id": x.into, "status": u.status})] if x.into else []) + [
            ("take it off the task: available", {"status": "available"})]
        children = [_spec((f"  option {n}", value, "", ""), STRANDED_ROLE, (u.id, values),
                          tip="Keep this option; or Enter a new value… to put the unit on another task.")
                    for n, (value, values) in enumerate(options, 1)]
        return _spec((f"unit {u.callsign}: on {x.title}, a deleted task", "", x.deleted_by, said.when(x.deleted_at)),
                     STRANDED_ROLE, (u.id, None),
                     tip=f"{x.title} was {how} on a console that had not seen {u.callsign} put on it: the boards "
                         "show the unit on no task still there. Put it on a task, or off it.", children=children)

    def _stranded_selected(self) -> tuple[str, dict | None] | None:
        """The unit on a deleted task selected: (its id, the values of the option picked or None)."""
        item = self.tree.currentItem()
        return item.data(0, STRANDED_ROLE) if item is not None else None

    def _selected(self) -> dict[str, int | None] | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def _twins_selected(self) -> tuple[tuple[str, ...], str | None] | None:
        """The callsign on several units selected: (their ids, the unit picked or None)."""
        item = self.tree.currentItem()
        return item.data(0, TWINS_ROLE) if item is not None else None

    def keep_selected(self) -> None:
        """Keep the option selected; with options of several conflicts
        selected (one each), keep them all, in one step to undo."""
        picked = [item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()]
        picked = [p for p in picked if p and None not in p.values()]
        if not picked and (twins := self._twins_selected()) is not None:
            ids, keep = twins
            if keep is None:
                self.error.setText("Select the unit whose values to keep (or enter a new callsign for one).")
                return
            try:
                self.bridge.merge_units(list(ids), keep=keep)
            except (ValidationError, StoreError) as exc:
                self.error.setText(str(exc))
                return
            self.error.clear()
            self.reload()
            return
        if not picked and (stranded := self._stranded_selected()) is not None:
            unit_id, values = stranded
            if values is None:
                self.error.setText("Select where to put the unit (or enter another task for it).")
                return
            self._put(unit_id, values)
            return
        if not picked:
            sel = self._selected()
            if not sel or None in sel.values():
                self.error.setText("Select the option to keep.")
                return
            picked = [sel]
        keep: dict[str, int] = {}
        for p in picked:
            for cid, i in p.items():
                if keep.setdefault(cid, i) != i:
                    self.error.setText("Select one option of each conflict to keep.")
                    return
        if len(keep) == 1:
            ((cid, i),) = keep.items()
            self._resolve(cid, keep=i)
            return
        try:
            self.bridge.resolve_many(keep)
        except (ValidationError, StoreError) as exc:
            self.error.setText(f"Not all kept: {exc}. What is left is listed; try again.")
        else:
            self.error.clear()
        self.reload()

    def enter_value(self, text: str | None = None, field: str | None = None) -> None:
        """Resolve the selected conflict with a value of one's own: `text` as
        typed, or asked for: a task picked by its title, a status picked from
        its words, anything else typed (starting from the value shown). For a
        collision of several fields, `field` says which, or it is asked.
        For a callsign on several units, a new callsign for the one selected."""
        twins = self._twins_selected()
        if twins is not None:
            self._rename(twins[1], text)
            return
        stranded = self._stranded_selected()
        if stranded is not None:
            self._put_on_task(stranded[0], text)
            return
        sel = self._selected()
        if not sel:
            self.error.setText("Select a conflict.")
            return
        ids = list(sel)
        if len(ids) > 1:
            try:
                cs = sorted(map(self.bridge.store.conflict, ids),
                            key=lambda c: model.table(c.table).names.index(c.field))
                by_field = {c.field: c.id for c in cs}
            except StoreError as exc:
                self.error.setText(str(exc))
                return
            if field is None:
                labels = {model.field_label(f).capitalize(): f for f in by_field}
                choice, ok = QInputDialog.getItem(self, "Enter a new value", "For which field:", list(labels), 0,
                                                  False)
                if not ok or choice not in labels:
                    return
                field = labels[choice]
            if field not in by_field:
                self.error.setText(f"No conflict on {model.field_label(field)} here.")
                return
            ids = [by_field[field]]
        if not isinstance(text, str):
            text = self._ask_value(ids[0])
            if text is None:
                return
        self._resolve(ids[0], raw=text)

    def _put(self, unit_id: str, values: dict) -> None:
        try:
            self.bridge.update("units", unit_id, values)
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self.reload()

    def _put_on_task(self, unit_id: str, task_id: str | None) -> None:
        """Put a unit on a deleted task on another task: `task_id` as given,
        or picked from the tasks still to do, by title."""
        store = self.bridge.store
        if task_id is None:
            tasks = task_choices(store.list("tasks"))
            if not tasks:
                self.error.setText("No task to put it on: take it off the task instead.")
                return
            keys, names = [k for k, _ in tasks], [n for _, n in tasks]
            choice, ok = QInputDialog.getItem(self, "Put the unit on a task", "Task:", names, 0, False)
            if not ok or choice not in names:
                return
            task_id = keys[names.index(choice)]
        self._put(unit_id, {"task_id": task_id})

    def _rename(self, unit_id: str | None, text: str | None) -> None:
        """Give one of the units that share a callsign another: they are
        different units."""
        if unit_id is None:
            self.error.setText("Select the unit to give a new callsign.")
            return
        try:
            unit = self.bridge.store.get("units", unit_id)
        except StoreError as exc:
            self.error.setText(str(exc))
            return
        if not isinstance(text, str):
            text, ok = QInputDialog.getText(self, f"New callsign for {unit.callsign}",
                                            plain(f"Callsign ({unit.agency}, {unit.kind}):"), text=unit.callsign or "")
            if not ok:
                return
        try:
            self.bridge.update("units", unit_id, {"callsign": text})
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self.reload()

    def _ask_value(self, conflict_id: str) -> str | None:
        store = self.bridge.store
        try:
            c = store.conflict(conflict_id)
        except StoreError as exc:
            self.error.setText(str(exc))
            return None
        if c.kind == "delete":
            self.error.setText("An edit against a delete is settled by keeping one side: select it and keep it.")
            return None
        f = model.table(c.table).field(c.field)
        title = f"New {model.field_label(c.field)} for {c.table[:-1]} {c.row_label}"
        if f.type in ("ref", "enum"):
            options = [("", "— none —")] if f.type == "ref" else []  # ("" parses as no task)
            options += choices(store, f)
            keys, names = [k for k, _ in options], [n for _, n in options]
            choice, ok = QInputDialog.getItem(self, title, plain(f"{model.field_label(c.field).capitalize()}:"),
                                              names, 0, False)
            return keys[names.index(choice)] if ok and choice in names else None
        try:
            shown = getattr(store.get(c.table, c.row), c.field)
        except StoreError:
            shown = None
        label, start = "Value:", "" if shown is None else str(shown)
        if f.type == "time":  # typed and read in this computer's zone, as the boards show it
            label, start = f"Time ({zone_name()}):", local_time(shown, seconds=False)
        text, ok = QInputDialog.getText(self, title, plain(label), text=start)
        return text if ok else None

    def keep_shown(self) -> None:
        """Settle every selected conflict (a conflict, or any of its options,
        selected) by keeping what the boards show now."""
        items = self.tree.selectedItems()
        chosen = list(dict.fromkeys(cid for item in items for cid in item.data(0, Qt.ItemDataRole.UserRole) or ()))
        # A callsign on several units: merged into the first added, as it is (two
        # consoles loading one roster apart make dozens at once).
        twins = list(dict.fromkeys(t[0] for item in items if (t := item.data(0, TWINS_ROLE))))
        # A unit on a task merged into another: onto that one, as it is.
        moves = {x.unit.id: x for x in self.bridge.store.stranded() if x.into}
        picked_units = dict.fromkeys(d[0] for d in (item.data(0, STRANDED_ROLE) for item in items) if d)
        stranded = [moves[u] for u in picked_units if u in moves]
        if not chosen and not twins and not stranded:
            self.error.setText("Select the conflicts to settle (Ctrl+A selects them all).")
            return
        if twins and QMessageBox.question(
                self, "Merge units",
                f"Merge the units of {len(twins)} callsign{'s' if len(twins) != 1 else ''} on several units, each "
                "into the first added (unit 1), with its values? The others are deleted. (Undo takes it back.)"
        ) != QMessageBox.StandardButton.Yes:
            return
        store = self.bridge.store
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # thousands take a second
        try:
            with self.bridge.one_step():  # all of it
                if chosen:
                    self.bridge.resolve_many({cid: store.conflict(cid).shown for cid in chosen})
                if twins:
                    self.bridge.merge_many([list(ids) for ids in twins])
                for x in stranded:
                    self.bridge.update("units", x.unit.id, {"task_id": x.into, "status": x.unit.status})
        except (ValidationError, StoreError) as exc:
            self.error.setText(f"Not all settled: {exc}. What is left is listed; try again.")
        else:
            self.error.clear()
        finally:
            QApplication.restoreOverrideCursor()
        self.reload()

    def _resolve(self, conflict_id: str, **how) -> None:
        try:
            self.bridge.resolve(conflict_id, **how)
        except (ValidationError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self.reload()


def _sides(c) -> list[list[tuple[int, object]]]:
    """A conflict's options as the view lists them, each (its number, the
    candidate) pairs: a field conflict's candidates one each; for an edit
    against a delete, the deletes as one option and the edits as another
    (keeping any edit restores the row with every edit, keeping any delete
    deletes it), the edits' fields in the order the row's dialog shows them."""
    numbered = list(enumerate(c.candidates, 1))
    if c.kind != "delete":
        return [[x] for x in numbered]
    names = model.table(c.table).names
    deletes = [x for x in numbered if x[1].field == "deleted"]
    edits = sorted((x for x in numbered if x[1].field != "deleted"), key=lambda x: names.index(x[1].field))
    return [side for side in (deletes, edits) if side]


# Where a reconciliation item keeps what it says of a callsign on several units.
TWINS_ROLE = Qt.ItemDataRole.UserRole + 1
# ... and of a unit on a deleted task.
STRANDED_ROLE = Qt.ItemDataRole.UserRole + 2


def may_change_marks(cs, *, stranding: bool = True) -> bool:
    """Whether a commit may have changed what there is to reconcile besides
    conflicts: put a callsign on a second unit or taken one off (a unit
    added, deleted or restored, a callsign changed), or (`stranding`) left
    a unit on a deleted task or taken it off (a unit's task changed, a task
    deleted or restored), or said which task it went into (a merge's
    journal entry, which may arrive in the batch after its delete)."""
    return any((c.table == "units" and (c.field in ("*", "callsign", "deleted")
                                        or (stranding and c.field == "task_id")))
               or (stranding and c.table == "tasks" and c.field == "deleted")
               or (stranding and c.table == "journal" and c.value.get("action") == "merge")
               for c in getattr(cs, "changes", ()))


class _Wording:
    """What the reconciliation view says of options and times, each said
    once a reload: a mass collision (two consoles assigning the same two
    thousand units) repeats the same tasks and seconds thousands of times."""

    def __init__(self, store) -> None:
        self.store = store
        self._options: dict[tuple, str] = {}
        self._times: dict[str, str] = {}

    def option(self, c, cand) -> str:
        """One option's value as the boards say it."""
        fname = cand.field if c.kind == "delete" else c.field
        key = (c.table, fname, type(cand.value).__name__, cand.value)
        if key not in self._options:
            if fname != "deleted" and model.table(c.table).field(fname).type == "time":
                text = f"{local_time(cand.value, seconds=False)} {zone_name()}" if cand.value else "—"
            else:
                text = self.store.side_said(c.table, fname, cand.value)
            self._options[key] = text
        return self._options[key]

    def when(self, iso: str) -> str:
        if iso not in self._times:
            self._times[iso] = local_time(iso)
        return self._times[iso]


class PeersDialog(QDialog):
    """This console's ID, the trust list with each console's last known
    state, and the consoles to connect to."""

    def __init__(self, bridge, parent=None) -> None:
        from PySide6.QtGui import QFontDatabase
        from PySide6.QtWidgets import QTableWidget

        from console.sync import identity

        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("Peers")
        fit_screen(self, 1000, 520)  # wide enough for a whole console ID in the table
        self.own_id = identity.load_or_create(bridge.store.path).console_id
        own = QLineEdit(self.own_id)
        own.setReadOnly(True)
        own.setObjectName("ownId")
        # Whole, in a fixed-width font: it is read aloud group by group.
        own.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        own.setMinimumWidth(own.fontMetrics().horizontalAdvance(self.own_id) + 16)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.own_id))
        id_row = QHBoxLayout()
        id_row.addWidget(own, 1)
        id_row.addWidget(copy)
        # Where other consoles dial this one, when it listens: what the
        # other operator types, with the ID above to compare.
        self.reach = plain_label()
        self.reach.setObjectName("dialAddresses")
        self.reach.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reach.hide()
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Console", "Agency", "Role", "State", f"Last seen ({zone_name()})",
                                              "Owed"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.new_id = QLineEdit()
        self.new_id.setMinimumWidth(own.minimumWidth() // 2)
        self.new_id.setPlaceholderText("Console ID to trust")
        self.new_agency = QLineEdit()
        self.new_agency.setPlaceholderText("Agency")
        self.new_role = QComboBox()
        self.new_role.addItems(["editor", "observer"])
        trust = QPushButton("Trust")
        trust.setObjectName("trust")
        trust.clicked.connect(self.trust)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self.untrust)
        add_row = QHBoxLayout()
        for w in (self.new_id, self.new_agency, self.new_role, trust, remove):
            add_row.addWidget(w)
        self.url = QLineEdit()
        self.url.setPlaceholderText("wss://HOST:PORT to connect to")
        connect = QPushButton("Connect")
        connect.clicked.connect(self.connect_peer)
        disconnect = QPushButton("Disconnect")
        disconnect.clicked.connect(self.disconnect_peer)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(connect)
        url_row.addWidget(disconnect)
        # The addresses this window connects to, each with how it goes:
        # remembered ones whenever it opens, those given on the command
        # line this time. Picking one puts it above, to disconnect.
        self.dials = QListWidget()
        self.dials.setObjectName("dialList")
        self.dials.setMaximumHeight(120)
        # Why an address does not connect can be long: wrapped, to be read
        # whole, not scrolled to.
        self.dials.setWordWrap(True)
        self.dials.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dials.currentItemChanged.connect(
            lambda item, _previous: item is not None and self.url.setText(item.data(Qt.ItemDataRole.UserRole)))
        self.dials_box = QWidget()
        dials_layout = QVBoxLayout(self.dials_box)
        dials_layout.setContentsMargins(0, 0, 0, 0)
        dials_layout.addWidget(plain_label("Connects to (remembered: whenever this window opens, until disconnected "
                                           "here):"))
        dials_layout.addWidget(self.dials)
        self.dials_box.hide()
        # Consoles that tried to connect and were refused, not being on the
        # trust list: the one whose ID its operator reads aloud is picked
        # here and filled in, instead of typed.
        self.unknown = QListWidget()
        self.unknown.setObjectName("unknownConsoles")
        self.unknown.setMaximumHeight(90)
        self.unknown.itemDoubleClicked.connect(lambda _item: self.fill_in_unknown())
        fill = QPushButton("Fill in to trust")
        fill.clicked.connect(self.fill_in_unknown)
        self.unknown_box = QWidget()
        box = QVBoxLayout(self.unknown_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(plain_label("Refused lately, not on the trust list (compare the ID with the one its operator "
                                  "reads to you before trusting it):"))
        unknown_row = QHBoxLayout()
        unknown_row.addWidget(self.unknown, 1)
        unknown_row.addWidget(fill)
        box.addLayout(unknown_row)
        self.unknown_box.hide()
        self.error = error_label()
        # With nobody trusted yet, how to begin, where the list will be.
        self.first_steps = plain_label(
            "No console is trusted yet, so none can sync with this one. To sync with another console:\n"
            "1. Read this console's ID, above, to its operator (by phone or radio); they trust it on theirs.\n"
            "2. They read theirs to you: type it below with their agency, compare it group by group, and press "
            "Trust.\n"
            "3. Connect to it (wss://HOST:PORT, the address their console shows under its ID), or let it connect "
            "here.")
        self.first_steps.setObjectName("firstSteps")
        self.first_steps.setWordWrap(True)
        self.first_steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label("This console's ID (read it to the other operator, who trusts it on theirs):"))
        layout.addLayout(id_row)
        layout.addWidget(self.reach)
        layout.addWidget(self.first_steps)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.unknown_box)
        layout.addLayout(add_row)
        layout.addWidget(self.dials_box)
        layout.addLayout(url_row)
        layout.addWidget(self.error)
        self._status: dict = {}
        self._dialled: dict[str, dict] = {}  # address -> its link in the last status
        bridge.sync_status.connect(self._on_status)
        self._on_status(getattr(bridge, "last_status", None))  # each peer's state from the start (it reloads)

    def _on_status(self, status) -> None:
        own = (status or {}).get("replica_id")
        addresses = (status or {}).get("dial_addresses") or []
        self.reach.setText("Other consoles connect to this one at " + " or ".join(addresses))
        self.reach.setVisible(bool(addresses))
        self._status = {}
        self._dialled = {p["address"]: p for p in (status or {}).get("peers", []) if p["direction"] == "dial"}
        for p in (status or {}).get("peers", []):
            if not p["console_id"]:
                continue
            state = p["state"]
            if p.get("observer"):
                state += ", reading only (an observer there)"
            if any(r["origin"] == own for r in p.get("refused", ())):
                state += ", refuses this console's changes"
            if p["state"] in ("refused", "connecting") and p.get("last_error"):  # why it is not connected
                state += f": {p['last_error']}"
            self._status[p["console_id"]] = state
        self.unknown.clear()
        for u in (status or {}).get("unknown_consoles", []):
            says = f"says it is {u['agency']!r}, from" if u["agency"] else "at"
            item = QListWidgetItem(f"{u['console_id']}   {says} {u['address']}, "
                                   f"{local_time(u['at'])} {zone_name()}")
            item.setData(Qt.ItemDataRole.UserRole, (u["console_id"], u["agency"]))
            self.unknown.addItem(item)
        self.unknown_box.setVisible(self.unknown.count() > 0)
        self.reload()

    def _fill_dials(self) -> None:
        try:
            remembered = self.bridge.store.dial_list()
        except StoreError as exc:
            self.error.setText(f"cannot read the addresses to connect to: {exc}")
            remembered = []
        picked = self.dials.currentItem()
        picked = picked.data(Qt.ItemDataRole.UserRole) if picked is not None else None
        self.dials.blockSignals(True)  # refilled: what is typed above stays
        self.dials.clear()
        for url in dict.fromkeys([*remembered, *self._dialled]):
            link = self._dialled.get(url)
            if link is None:
                how = "not connected (sync is starting)" if self.bridge.engine is not None else "not connected"
            elif link["state"] == "connected":
                how = f"connected ({link['agency']})" if link.get("agency") else "connected"
            else:
                how = link["state"] + (f": {link['last_error']}" if link.get("last_error") else "")
            item = QListWidgetItem(f"{url}   {how}" + ("" if url in remembered else "   (this time only: not "
                                                                                     "remembered)"))
            item.setData(Qt.ItemDataRole.UserRole, url)
            item.setToolTip(plain(item.text()))
            self.dials.addItem(item)
            if url == picked:
                self.dials.setCurrentItem(item)
        self.dials.blockSignals(False)
        self.dials_box.setVisible(self.dials.count() > 0)

    def fill_in_unknown(self) -> None:
        item = self.unknown.currentItem()
        if item is None:
            self.error.setText("Select a refused console first.")
            return
        console_id, agency = item.data(Qt.ItemDataRole.UserRole)
        self.new_id.setText(console_id)
        self.new_agency.setText(agency)
        self.error.setText("Compare the ID with the one its operator reads to you, then press Trust.")

    def reload(self) -> None:
        from PySide6.QtWidgets import QTableWidgetItem

        self._fill_dials()
        peers = self.bridge.store.peers()
        self.first_steps.setVisible(not peers)
        self.table.setRowCount(len(peers))
        for r, peer in enumerate(peers):
            cells = [peer["console_id"], peer["agency"], peer["role"], self._status.get(peer["console_id"], "—"),
                     local_time(peer["last_seen"]) or "never",
                     "" if peer["owed"] is None else str(peer["owed"])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, peer["console_id"])
                item.setToolTip(plain(text))  # a state with its reason can be longer than the column
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def trust(self) -> None:
        from console.sync import identity

        try:
            cid = identity.normalize_id(self.new_id.text())
            if cid == self.own_id:
                raise ValidationError("that is this console's own ID")
            self.bridge.store.trust(cid, self.new_agency.text(), self.new_role.currentText())
        except (ValidationError, StoreError, identity.IdentityError) as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self.new_id.clear()
        self.new_agency.clear()
        self.reload()

    def untrust(self) -> None:
        item = self.table.currentItem()
        if item is None:
            self.error.setText("Select a console to remove.")
            return
        cid = item.data(Qt.ItemDataRole.UserRole)
        agency = self.table.item(item.row(), 1).text()
        answer = QMessageBox.question(
            self, "Remove from the trust list",
            plain(f"Stop syncing with console {cid[:14]} ({agency})? If it is connected it is cut off now, "
                  "and it is refused until it is trusted again."))
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.bridge.store.untrust(cid)
        except StoreError as exc:
            self.error.setText(str(exc))
            return
        self.reload()

    def connect_peer(self) -> None:
        """Connect to the address typed, now and whenever this window opens."""
        from console.sync.transport import SyncError, peer_url

        if not self.bridge.can_sync:
            self.error.setText("Sync cannot run in this window (start it with --peer or --listen).")
            return
        try:
            url = peer_url(self.url.text())  # "10.0.4.2:8765", as read out, is wss://10.0.4.2:8765
            self.bridge.store.remember_dial(url)
        except (SyncError, StoreError) as exc:
            self.error.setText(str(exc))
            return
        self.url.setText(url)
        self.bridge.connect_to(url)
        self.error.clear()
        self._fill_dials()

    def disconnect_peer(self) -> None:
        """Disconnect from the address typed (or picked in the list), and
        no longer connect to it when this window opens."""
        from console.sync.transport import SyncError, peer_url

        url = self.url.text().strip()
        if not url:
            self.error.setText("Pick an address in the list, or type it, to disconnect from it.")
            return
        with contextlib.suppress(SyncError):  # typed as it was connected to: "10.0.4.2:8765"
            url = peer_url(url)
        if self.bridge.engine is not None:
            self.bridge.engine.remove_peer(url)
        try:
            self.bridge.store.forget_dial(url)
        except StoreError as exc:
            self.error.setText(str(exc))
            return
        self._dialled.pop(url, None)
        self.error.clear()
        self._fill_dials()
