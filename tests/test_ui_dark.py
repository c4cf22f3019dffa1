"""The window in a dark scheme: a desktop in dark mode, or a wall display
dimmed for the night shift, switched to while the window is open.

The colours that mean something were made for a light background. On a
dark one, the cells in conflict showed the scheme's light text on their
light amber (1.1 times the contrast of their background: unreadable,
just where a person has to decide), as did the "conflicts to reconcile"
button (1.5); overdue red and the errors of the dialogs read at 2.1 to
3 times; the report's table headers were light on light grey; and a due
time read back under its field, and how far the journal's search had
got, were in greys of 1.6 and 1.7 times in the light scheme (the first
1.1 in the dark one). In the light scheme too, the orange read at 3.8
times on white, the orange and grey badges at 3.1 and 3.4. Every cell
of the boards is measured here, as the view would draw it, in a light
scheme and in a dark one, and again after the scheme changes under an
open window: each reads at 4.5 times or more (conftest.AT_LEAST)."""

import shutil

import pytest
from conftest import AT_LEAST, collide, contrast, dark_palette, luminance, worst_cells
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette

from console import model
from console.store import Store
from console.ui.bridge import Bridge
from console.ui.dialogs import ERROR_COLOUR, RecordDialog, error_label
from console.ui.models import (
    CONFLICT_TEXT,
    DEEP_TONES,
    DUE_SOON_COLOUR,
    LIGHT_TONES,
    OVERDUE_COLOUR,
    RECORD_ROLE,
    STATUS_COLOURS,
    subdued,
    tone,
)
from console.ui.tally import EMPTY_COLOURS, FLAGGED_COLOUR
from console.ui.window import MainWindow


def collide_overdue(window, tmp_path) -> None:
    """A unit's status edited here and on another console at once (cells
    in conflict), a task overdue (red text), another's due time edited on
    both (red on amber), and a third's by another console just now, to
    within half an hour (orange on the tint of a cell changed elsewhere)."""
    store = window.store
    first, second, third = [t for t in store.list("tasks") if t.status == "open"][:3]
    store.update("tasks", first.id, {"due": "2020-01-01T00:00:00Z"})
    collide(store, tmp_path, "units", "E-11", {"status": "out of service"}, {"status": "returning"})
    collide(store, tmp_path, "tasks", second.id, {"due": "2020-01-01T00:00:00Z"}, {"due": "2020-01-01T01:00:00Z"})
    with Store(store.path, agency="City Police", operator="Sgt. Lee") as other:
        other.update("tasks", third.id, {"due": model.parse_typed_time("+10m")})


def due_tinted(window) -> list:
    """The due times shown in colour on the tint of a cell changed elsewhere
    (not in conflict)."""
    m = window.models["tasks"]
    column = [k for k, _ in m.columns].index("due")
    return [i for i in (m.index(r, column) for r in range(m.rowCount()))
            if m.data(i, Qt.ItemDataRole.BackgroundRole) is not None
            and m.data(i, Qt.ItemDataRole.ForegroundRole) is not None and not m.in_conflict(i.data(RECORD_ROLE), "due")]


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: all(window.models[t].conflicts for t in ("units", "tasks"))
                    and not any(m.busy for m in window.models.values()), timeout=10000)
    qtbot.wait(50)


@pytest.mark.parametrize("which", ["light", "dark"])
def test_every_cell_of_the_boards_reads_in_either_scheme(qtbot, window, tmp_path, scheme, which):
    scheme(which)
    collide_overdue(window, tmp_path)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: bool(due_tinted(window)))  # (the tint, under orange)
    m = window.models["units"]
    assert m.dark == (which == "dark")
    cells = worst_cells(window)
    # What is to be checked is there: a cell in conflict, a time past its
    # timer, an overdue task, stock low.
    said = " ".join(where for _, where in cells)
    assert f"{DEEP_TONES[OVERDUE_COLOUR]} on #ffe082" in said  # (the amber, under overdue red)
    for colour in (OVERDUE_COLOUR, DUE_SOON_COLOUR):
        assert (LIGHT_TONES[colour] if which == "dark" else colour) in said
    assert cells[0][0] >= AT_LEAST, cells[:5]
    # The cells in conflict are dark on amber, in either scheme.
    e11 = next(r for r, rec in enumerate(m.records) if rec.callsign == "E-11")
    callsign = m.index(e11, 0)
    assert m.data(callsign, Qt.ItemDataRole.ForegroundRole).color() == QColor(CONFLICT_TEXT)


def test_the_colours_follow_a_change_of_scheme_under_an_open_window(qtbot, window, tmp_path, scheme):
    scheme("light")
    collide_overdue(window, tmp_path)
    settle(qtbot, window)
    bar = window.tabs.tabBar()
    tasks_tab = 1
    qtbot.waitUntil(lambda: bar.tabTextColor(tasks_tab).name() == "#c62828")
    # The automatic backups failing (their stick pulled out): said in red.
    stick = tmp_path / "stick"
    stick.mkdir()
    window.set_auto_backup(str(stick))
    qtbot.waitUntil(lambda: window.backup_button.text().startswith("Backed up "), timeout=10_000)
    shutil.rmtree(stick)
    window.bridge.set_status([window.store.resolve_id("units", "E-12")], "on_scene")
    assert window.auto_backup()
    qtbot.waitUntil(lambda: window.backup_button.text() == "BACKUP FAILED", timeout=10_000)
    assert f"color: {ERROR_COLOUR}" in window.backup_button.styleSheet()
    dialog = RecordDialog(window.bridge, "tasks", parent=window)
    qtbot.addWidget(dialog)
    dialog.fields["due"].setText("25:99")  # wrong: said in red under it
    hint = dialog.hints["due"]
    error = error_label()
    qtbot.addWidget(error)

    def ink(label) -> str:
        return label.palette().color(QPalette.ColorRole.WindowText).name()

    assert ink(hint) == ink(error) == ERROR_COLOUR
    journal_state = window.journal_dock.state
    assert ink(journal_state) == subdued()
    late = window.journal_dock.late_link
    late.say("2 entries written up to 1h15m ago arrived late: show")
    assert f"color: {DUE_SOON_COLOUR}" in late.text()
    # One agency's units: none of them in some statuses.
    window.agency_filter.setCurrentIndex(window.agency_filter.findText("State DOT"))
    empty = [b for b in window.tally.buttons.values() if b.text().endswith(" 0")]
    assert empty and all(EMPTY_COLOURS[False][0] in b.styleSheet() for b in empty)

    scheme("dark")
    # The count buttons of statuses no row is in are greyed for the scheme.
    assert all(EMPTY_COLOURS[True][0] in b.styleSheet() for b in empty)
    assert all(m.dark for m in window.models.values()) and window.journal.dark  # (its tint: navy)
    assert bar.tabTextColor(tasks_tab).name() == LIGHT_TONES["#c62828"]
    assert bar.tabTextColor(0).name() == LIGHT_TONES[DUE_SOON_COLOUR]  # units to check
    assert ink(hint) == ink(error) == tone(ERROR_COLOUR) == LIGHT_TONES[ERROR_COLOUR]
    assert ink(journal_state) == subdued()
    assert f"color: {LIGHT_TONES[DUE_SOON_COLOUR]}" in late.text()
    assert f"color: {LIGHT_TONES[ERROR_COLOUR]}" in window.backup_button.styleSheet()
    dialog.fields["due"].setText("18:30")  # right: said subdued, as readable as the rest
    window_colours = window.palette()
    for label in (hint, journal_state):
        assert contrast(QColor(ink(label)), window_colours.color(QPalette.ColorRole.Window)) >= 6
    assert worst_cells(window)[0][0] >= AT_LEAST

    scheme("light")
    assert not any(m.dark for m in window.models.values()) and not window.journal.dark
    assert bar.tabTextColor(tasks_tab).name() == "#c62828"
    assert ink(hint) == subdued() and ink(error) == ERROR_COLOUR
    assert contrast(QColor(ink(hint)), window.palette().color(QPalette.ColorRole.Window)) >= 7
    assert all(EMPTY_COLOURS[False][0] in b.styleSheet() for b in empty)
    assert worst_cells(window)[0][0] >= AT_LEAST


def test_the_conflicts_button_and_the_report_read_in_a_dark_scheme(qtbot, demo_store, tmp_path, scheme):
    scheme("dark")  # (before the window is made: a widget with a style sheet takes the palette it is made with)
    bridge = Bridge(demo_store)
    window = MainWindow(bridge, settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    collide_overdue(window, tmp_path)
    settle(qtbot, window)
    button = window.conflicts_button
    qtbot.waitUntil(button.isVisible)
    shot = button.grab().toImage()
    # Its text, the darkest of its pixels, against its amber (a gradient
    # in Qt's style): the pixel of middle luminance, as most are amber.
    pixels = sorted((shot.pixelColor(x, y) for x in range(shot.width()) for y in range(shot.height())),
                    key=luminance)
    assert contrast(pixels[0], pixels[len(pixels) // 2]) >= 7
    # The report shows as it prints, on paper.
    report = window.open_report()
    qtbot.addWidget(report)
    paper = report.view.palette()
    assert paper.color(QPalette.ColorRole.Base) == QColor("white")
    assert paper.color(QPalette.ColorRole.Text) == QColor("black")
    report.close()
    window.close()
    bridge.close()


def test_the_badges_and_the_counts_read_in_either_scheme(qtbot, window, scheme):
    """A status's badge and its count above the board are white on the
    status's colour; a status no row is in is greyed, its count still
    readable; the count of rows needing attention is orange on white, and
    white on orange when clicked."""
    for status, colour in STATUS_COLOURS.items():
        assert contrast(QColor("white"), QColor(colour)) >= AT_LEAST, status
    for which in ("light", "dark"):
        scheme(which)
        back, text = EMPTY_COLOURS[which == "dark"]
        assert contrast(QColor(text), QColor(back)) >= AT_LEAST, which
    assert contrast(QColor(FLAGGED_COLOUR), QColor("white")) >= AT_LEAST
    # (The buttons above the board are styled with these.)
    window.agency_filter.setCurrentIndex(window.agency_filter.findText("State DOT"))
    styles = {b.text(): b.styleSheet() for b in window.tally.buttons.values()}
    assert any(f"color: {EMPTY_COLOURS[True][1]}" in style for name, style in styles.items() if name.endswith(" 0"))
    assert f"color: {LIGHT_TONES[FLAGGED_COLOUR]}" in window.tally.flagged_button.styleSheet()  # (dark)
    assert contrast(QColor(LIGHT_TONES[FLAGGED_COLOUR]), dark_palette().color(QPalette.ColorRole.Window)) >= AT_LEAST
    assert contrast(QColor(CONFLICT_TEXT), QColor(LIGHT_TONES[FLAGGED_COLOUR])) >= AT_LEAST  # (clicked)
    scheme("light")
    assert f"color: {FLAGGED_COLOUR}" in window.tally.flagged_button.styleSheet()
    assert "background: white" in window.tally.flagged_button.styleSheet()


def test_the_check_boxes_of_a_list_show_in_either_scheme(qtbot, window, scheme):
    """Staffing a task (Ctrl+Shift+T) lists every unit with a box to check;
    in a dark scheme, Qt's frame of an unchecked box was as dark as the
    list, 1.1 times the contrast of it, and nothing showed where to check
    (in the light one, 1.9). Its frame reads at 3 times or more (WCAG's
    mark for the parts of a control) in either scheme."""
    window.tabs.setCurrentIndex(1)
    view = window.views["tasks"]
    view.selectRow(0)
    for which in ("light", "dark"):
        scheme(which)
        dialog = window.assign_units()
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        items = [dialog.list.item(r) for r in range(dialog.list.count())]
        unchecked = next(i for i in items if i.data(Qt.ItemDataRole.CheckStateRole) is not None)
        row = dialog.list.visualItemRect(unchecked)
        shot = dialog.list.viewport().grab().toImage()
        base = dialog.list.palette().color(QPalette.ColorRole.Base)
        frame = max(contrast(shot.pixelColor(x, y), base)
                    for x in range(0, min(row.height() + 8, shot.width())) for y in range(row.top(), row.bottom()))
        assert frame >= 3, which
        dialog.close()
