"""A random walk through the window: its actions, with rows selected at
random, its dialogs filled with good and bad values and a button clicked,
keys pressed wherever the focus is, its boards sorted, searched and
filtered, its journal filtered, now and then the window closed and opened
again or the desktop switched between a light scheme and a dark one,
while another console's edits arrive through the same database file (as
the window's sync engine writes them) and collide with the window's own.

Whatever the walk does, nothing raises (pytest-qt fails the test on an
exception in a slot), the database stays whole, and whenever the walk
pauses, the boards show what the database holds: the same rows with the
same values, in their order, counted by agency and status, with what is
to reconcile (conflicts, a callsign on two units, a unit on a deleted
task) and low stock marked and counted, every cell readable in the scheme
shown (see conftest.AT_LEAST); and the journal its newest entries that
pass its filters (an agency, the row selected, words).

The walk's seed is random, as hypothesis's examples are; a failure names
it, and WALK_SEED=N walks that one again (WALK_STEPS=N walks longer)."""

import contextlib
import os
import random
import sqlite3
from collections import Counter

import pytest
from conftest import AT_LEAST, worst_cells
from PySide6.QtCore import QItemSelectionModel, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from console import model, seed
from console.store import Store
from console.ui.bridge import Bridge
from console.ui.journal import JOURNAL_PAGE
from console.ui.models import dark, row_status
from console.ui.tally import TallyBar
from console.ui.window import MainWindow

STEPS = int(os.environ.get("WALK_STEPS") or 150)  # (longer to hunt: WALK_STEPS=1000)
PAUSE_EVERY = 30

# What a person might type or paste, right and wrong: times as dispatchers
# say them, numbers of both decimal marks, too long, control and
# right-to-left characters, a line break, SQL, nothing at all.
TEXTS = ["", " ", "E-12", "Sandbags", "18:30", "+45m", "now", "-5", "0", "1e309", "nan", "abc", "x" * 300,
         "County Fire", "03/04/2026", "28.11.2026 18:00", "\u202e\u0000z", "  lots   of  space ", "999999999999999",
         "2.5", "1,5", "on scene", "-1", "12.3456", "Δ", "🚒", "'; DROP TABLE units; --", "Engine\r\nType 1",
         "E-12\x1b[31m"]


def walk_seed() -> int:
    return int(os.environ.get("WALK_SEED") or random.SystemRandom().randrange(2**32))


def answer_everything(monkeypatch, rnd: random.Random, folder) -> None:
    """Message boxes, questions, file and print dialogs answered at random
    (a file to write or read: none, the database itself, or one of a few in
    `folder`, of any kind), and context menus closed, so that nothing waits
    for a person."""
    std = QMessageBox.StandardButton

    def question(*_a, **_k):
        return rnd.choice([std.Yes, std.No, std.Cancel])

    for name in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(question))

    def clicked(box):  # dialogs.ask: a button of the box, as clicked
        if box.buttons():
            rnd.choice(box.buttons()).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", clicked)

    def get_item(_parent, _title, _label, items, *_a, **_k):
        return (rnd.choice(list(items)), True) if items and rnd.random() < 0.7 else ("", False)

    def get_text(*_a, **_k):
        return (rnd.choice(TEXTS), True) if rnd.random() < 0.8 else ("", False)

    def file_name(*_a, **_k):
        r = rnd.random()
        if r < 0.4:
            return "", ""
        if r < 0.5:
            return str(folder / "ops.db"), ""
        if r < 0.55:  # (typed in the file dialog: a name too long, a folder not there)
            return str(folder / rnd.choice(["x" * 300, "gone/out.csv"])), ""
        ext = rnd.choice([".csv", ".html", ".json", ".db", ".changes", ".pdf", ""])
        return str(folder / f"out{rnd.randrange(3)}{ext}"), ""

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(get_item))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(file_name))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(file_name))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: rnd.choice(["", str(folder)])))
    monkeypatch.setattr(QMenu, "exec", lambda self, *a, **k: None)
    monkeypatch.setattr(QDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    monkeypatch.setattr(QPrintDialog, "exec", lambda self: QDialog.DialogCode.Rejected)


def fill(dialog, rnd: random.Random) -> None:
    """Change about half of a dialog's fields: text typed in or added to,
    a choice picked, a box ticked, a row of a list chosen."""
    for w in dialog.findChildren(QAbstractItemView) + dialog.findChildren(QLineEdit) \
            + dialog.findChildren(QPlainTextEdit) + dialog.findChildren(QComboBox) \
            + dialog.findChildren(QSpinBox) + dialog.findChildren(QDoubleSpinBox) + dialog.findChildren(QCheckBox):
        if not w.isVisible() or not w.isEnabled() or rnd.random() < 0.5:
            continue
        if isinstance(w, QLineEdit):
            if not w.isReadOnly():
                w.setText(rnd.choice(TEXTS) if rnd.random() < 0.5 else w.text() + rnd.choice(TEXTS))
        elif isinstance(w, QPlainTextEdit):
            if not w.isReadOnly():
                w.setPlainText(rnd.choice(TEXTS))
        elif isinstance(w, QComboBox):
            if w.isEditable() and rnd.random() < 0.3:
                w.setEditText(rnd.choice(TEXTS))
            elif w.count():
                w.setCurrentIndex(rnd.randrange(w.count()))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(rnd.uniform(w.minimum(), min(w.maximum(), 1e6)))
        elif isinstance(w, QCheckBox):
            w.setChecked(not w.isChecked())
        elif w.model() is not None and w.model().rowCount():
            w.setCurrentIndex(w.model().index(rnd.randrange(w.model().rowCount()), 0))


def peer_edits(rnd: random.Random, peer: Store, side: Store) -> None:
    """Another console edits a row or two (a unit's status and task or its
    callsign, a task's priority and status or its title, stock drawn or its
    low mark, now and then a deletion), and its changes and the window's meet through `side`, a
    connection of the window's database of its own (as the sync engine's)."""
    table = rnd.choice(["units", "tasks", "resources"])
    rows = peer.list(table)
    if rows:
        row = rnd.choice(rows)
        try:
            if table == "units" and rnd.random() < 0.2:  # renamed (the tasks' unit lists name it)
                peer.update(table, row.id, {"callsign": f"{row.callsign[:20]}-{rnd.randrange(100)}"})
            elif table == "units":
                peer.update(table, row.id, {"status": rnd.choice(["available", "dispatched", "on_scene", "en_route"]),
                                            "task_id": rnd.choice([None, *(t.id for t in peer.list("tasks"))])})
            elif table == "tasks" and rnd.random() < 0.2:  # retitled (the units' Task column names it)
                peer.update(table, row.id, {"title": f"{row.title[:40]} ({rnd.randrange(100)})"})
            elif table == "tasks":
                peer.update(table, row.id, {"priority": rnd.choice(["urgent", "low"]),
                                            "status": rnd.choice(["open", "completed", "in_progress"])})
            elif rnd.random() < 0.5:
                peer.adjust(row.id, -rnd.randrange(1, 50))
            else:
                peer.update(table, row.id, {"low_at": rnd.choice([None, 10, 500])})
            if rnd.random() < 0.1:
                peer.delete(table, row.id)
        except model.ValidationError:
            pass  # (stock not there to draw, a unit whose task went: as a person would be told)
    for part in peer.changes_since(side.version_vector()):
        side.apply(part)
    for part in side.changes_since(peer.version_vector()):
        peer.apply(part)


def what_differs(w: MainWindow, store: Store) -> list[str]:
    """Where the window does not show what `store` holds (empty: nowhere)."""
    out = []
    conflicted = store.conflicted()
    for table, f in w.filters.items():
        m = f.sourceModel()
        held = {r.id: r for r in store.list(table)}
        shown = {r.id: r for r in m.records}
        if held.keys() != shown.keys():
            out.append(f"{table}: {len(held.keys() - shown.keys())} rows not shown, "
                       f"{len(shown.keys() - held.keys())} shown that are not held")
        else:
            out += [f"{table}: shown {shown[i]}, held {r}" for i, r in held.items() if shown[i] != r][:1]
        if m.keys != sorted(m.keys) or [m.key_of[r.id] for r in m.records] != m.keys:
            out.append(f"{table}: rows out of their order")
        if m._agency_key:
            counts = Counter((getattr(r, m._agency_key), row_status(table, r)) for r in held.values())
            if +m.tally != counts:
                out.append(f"{table}: counted {dict(+m.tally)}, holds {dict(counts)}")
        if table == "units":  # the Task column: the title of each unit's task, as it is now
            titles = store.task_titles()
            wrong = [r.callsign for r in held.values() if r.task_id and m._display(r, "task") != titles.get(r.task_id)]
            if wrong:
                out.append(f"units: the Task column of {wrong[:3]} is not their task's title")
        if table == "resources" and m.low != {r.id for r in held.values() if model.stock_low(r)}:
            out.append(f"resources: low {sorted(m.low)}")
        marked = {row: frozenset(fields) for row, fields in conflicted.get(table, {}).items()}
        if table == "units":  # (and marked as a conflict is: a callsign on two units, a unit on a deleted task)
            for unit, field in [*((x.unit.id, "callsign") for tw in store.twins() for x in tw.units),
                                *((x.unit.id, "task_id") for x in store.stranded())]:
                marked[unit] = marked.get(unit, frozenset()) | {field}
        if m.conflicts != marked:
            out.append(f"{table}: conflicts marked {m.conflicts}, open {marked}")
        if w._empty_hints[table].isHidden() != (f.rowCount() > 0):  # (why a board shows no row is said)
            out.append(f"{table}: {f.rowCount()} rows shown, and the note of an empty board "
                       f"{'hidden' if w._empty_hints[table].isHidden() else 'shown'}")
    low = sum(1 for r in store.list("resources") if model.stock_low(r))
    tab = w.tabs.tabText(list(w.views).index("resources"))
    if (w.low, tab) != (low, f"Resources ({low} low)" if low else "Resources"):
        out.append(f"resources: {low} low, the tab says {tab!r}")
    # Every cell reads, in the scheme shown (light or dark).
    now_dark = dark(w.palette())
    if any(m.dark != now_dark for m in w.models.values()) or w.journal.dark != now_dark:
        out.append(f"the boards or the journal not in the {'dark' if now_dark else 'light'} scheme's colours")
    worst = worst_cells(w)
    if worst and worst[0][0] < AT_LEAST:
        out.append(f"a cell reads at {worst[0][0]:.1f} times the contrast of its background: {worst[0][1]}")
    said = (w.conflicts, w.twins, w.stranded)
    held = (store.open_conflict_count(), store.twin_count(), store.stranded_count())
    if said != held:
        out.append(f"to reconcile: said {said} (conflicts, callsigns twice, units on a deleted task), held {held}")
    j = w.journal  # its newest entries that pass its filters (an agency, the row selected, words)
    passing = [e.id for e in store.journal(table=j.table, row=j.row, agency=j.agency)
               if not j.text or model.journal_holds(j.text, e.text, e.agency, e.operator)]
    if [e.id for e in j.entries] != passing[:len(j.entries)] or len(j.entries) < min(len(passing), JOURNAL_PAGE):
        out.append(f"journal: {len(j.entries)} entries shown, not the newest of the {len(passing)} that pass "
                   f"(agency {j.agency}, row {j.row}, words {j.text!r})")
    return out


class Console:
    """The window on a database, which the walk may close and open again
    (as a person does at the end of a shift, or after a crash: its sort
    orders, text size and undo steps kept), another console synced with
    it, and a second connection to its database (that console's way in)."""

    def __init__(self, qtbot, folder) -> None:
        self.qtbot, self.folder = qtbot, folder
        store = Store(folder / "ops.db", agency="County Fire", operator="Dana")
        seed.seed_demo(store)
        self.peer = Store(folder / "peer.db", agency="City Police", operator="Sgt. Lee")
        for part in store.changes_since(self.peer.version_vector()):
            self.peer.apply(part)
        store.close()
        self.side = Store(folder / "ops.db", agency="County Fire", operator="Dana")
        self.open()

    def open(self) -> None:
        self.store = Store(self.folder / "ops.db", agency="County Fire", operator="Dana")
        self.bridge = Bridge(self.store)
        self.w = MainWindow(self.bridge, settings=QSettings(str(self.folder / "ui.ini"), QSettings.Format.IniFormat))
        self.qtbot.addWidget(self.w)
        self.w.resize(1366, 768)
        self.w.show()

    def close(self) -> None:
        for d in QApplication.topLevelWidgets():
            if d is not self.w and d.isVisible():
                d.close()
        self.w.close()
        self.bridge.close()
        self.store.close()


@pytest.fixture
def console(qtbot, tmp_path):
    c = Console(qtbot, tmp_path)
    yield c
    c.close()
    c.side.close()
    c.peer.close()
    # Qt takes the modifiers held from the last key event it delivered: a
    # Ctrl+key that opened a dialog, closed before the key's release, left
    # Ctrl held for the tests after (a row selected then was deselected).
    QTest.keyRelease(QWidget(), Qt.Key.Key_Control, NONE)


# Keys pressed where the focus is (a board, a dialog's field, the journal's
# search): moving, choosing, typing, and the window's shortcuts.
NONE = Qt.KeyboardModifier.NoModifier
KEYS = [(Qt.Key.Key_Down, NONE), (Qt.Key.Key_Up, NONE), (Qt.Key.Key_Tab, NONE), (Qt.Key.Key_Return, NONE),
        (Qt.Key.Key_Escape, NONE), (Qt.Key.Key_Delete, NONE), (Qt.Key.Key_Space, NONE), (Qt.Key.Key_A, NONE),
        (Qt.Key.Key_1, NONE), (Qt.Key.Key_F2, NONE), (Qt.Key.Key_Backspace, NONE),
        *((k, Qt.KeyboardModifier.ControlModifier) for k in (
            Qt.Key.Key_Z, Qt.Key.Key_Y, Qt.Key.Key_C, Qt.Key.Key_K, Qt.Key.Key_T, Qt.Key.Key_F, Qt.Key.Key_J,
            Qt.Key.Key_1, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_6, Qt.Key.Key_A, Qt.Key.Key_D))]


def test_a_random_walk_through_the_window_raises_nothing_and_the_boards_show_the_database(
        console, qtbot, tmp_path, monkeypatch, scheme):
    peer, side = console.peer, console.side
    seed_ = walk_seed()
    rnd = random.Random(seed_)
    answer_everything(monkeypatch, rnd, tmp_path)
    done = []

    def pause(step):
        try:
            qtbot.waitUntil(lambda: not what_differs(console.w, console.store), timeout=10_000)
        except qtbot.TimeoutError:
            pytest.fail(f"WALK_SEED={seed_}, after step {step} ({'; '.join(done[-5:])}): "
                        + "; ".join(what_differs(console.w, console.store)))

    for step in range(STEPS):
        w = console.w
        actions = [a for a in w.actions() if "Quit" not in a.text()]
        r = rnd.random()
        if r < 0.01:
            console.close()
            console.open()
            done.append("window closed and opened again")
        elif r < 0.02:
            which = rnd.choice(["light", "dark"])
            scheme(which)  # (the desktop switched to dark mode, or back)
            done.append(f"the {which} scheme")
        elif r < 0.08:
            key, modifiers = rnd.choice(KEYS)
            target = QApplication.focusWidget() or w
            done.append(f"{QKeySequence(key | modifiers).toString()} pressed in {type(target).__name__}")
            QTest.keyClick(target, key, modifiers)
        elif r < 0.35:
            a = rnd.choice(actions)
            done.append(a.text())
            a.trigger()
        elif r < 0.5:
            table = rnd.choice(list(w.views))
            w.tabs.setCurrentIndex(list(w.views).index(table))
            view = w.views[table]
            view.clearSelection()
            n = view.model().rowCount()
            for _ in range(rnd.randrange(4) if n else 0):
                view.selectionModel().select(view.model().index(rnd.randrange(n), 0),
                                             QItemSelectionModel.SelectionFlag.Select
                                             | QItemSelectionModel.SelectionFlag.Rows)
            done.append(f"rows of {table} selected")
        elif r < 0.6:
            peer_edits(rnd, peer, side)
            done.append("another console's edits")
        elif r < 0.65:
            with contextlib.suppress(model.ValidationError):  # (a control character: as a person is told)
                side.note(rnd.choice(TEXTS).strip() or "radio check")
            done.append("a note from another console")
        elif r < 0.72:
            buttons = [b for tally in w.findChildren(TallyBar) for b in tally.findChildren(QPushButton)
                       if b.isVisible() and b.isEnabled()]
            if buttons:
                b = rnd.choice(buttons)
                done.append(f"count {b.text()!r} clicked")
                b.click()
        elif r < 0.77:
            w.search.setText(rnd.choice(TEXTS))
            done.append("board searched")
        elif r < 0.8:
            view = rnd.choice(list(w.views.values()))
            view.sortByColumn(rnd.randrange(view.model().columnCount()),
                              rnd.choice([Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder]))
            done.append("board sorted")
        elif r < 0.85:
            dock = w.journal_dock
            what = rnd.choice(["words", "agency", "row"])
            if what == "words":
                dock.search.setText(rnd.choice(["", "", "levee", "E-1", "dispatched", "STRASSE", *TEXTS]))
            elif what == "agency":
                dock.agency.setCurrentIndex(rnd.randrange(dock.agency.count()))
            else:
                dock.selected.setChecked(not dock.selected.isChecked())
            done.append(f"journal filtered by {what}")
        else:
            dialogs = [d for d in QApplication.topLevelWidgets()
                       if d is not w and d.isVisible() and isinstance(d, QDialog)]
            if dialogs:
                d = rnd.choice(dialogs)
                fill(d, rnd)
                buttons = [b for b in d.findChildren(QAbstractButton)
                           if b.isVisible() and b.isEnabled() and not isinstance(b, QCheckBox)]
                if buttons and rnd.random() < 0.8:
                    b = rnd.choice(buttons)
                    done.append(f"{type(d).__name__}: {b.text()!r} clicked")
                    b.click()
                else:
                    done.append(f"{type(d).__name__} closed")
                    d.close()
        qtbot.wait(rnd.choice([0, 0, 10, 50]))
        if step % PAUSE_EVERY == PAUSE_EVERY - 1:
            pause(step)
    pause(STEPS)
    with sqlite3.connect(console.store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
