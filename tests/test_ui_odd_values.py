"""Values as people and other consoles write them, shown as they are and
where they fit.

Qt guesses whether a message box's text, a label's, an input dialog's
question or a tooltip is HTML (Qt.mightBeRichText): "Delete <s>E9</s>?"
showed as "Delete E9?" struck through, a task titled "Sandbags <table> at
the school" lost its end, and notes holding "&lt;" showed "<". A menu and
a button take "&" as the mark of a letter to underline. And a name may be
200 characters long, a note may hold a web address longer than the
journal is wide. Callsigns, titles, notes and agency names come from
other consoles and from spreadsheets, so the window shows them as text
wherever it shows them, and never grows wider than a laptop's screen for
them."""

from conftest import on_a_task_merged_away
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6 import QtGui
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QInputDialog, QMessageBox

from console import transfer
from console.store import Store, short_id
from console.ui.bridge import Bridge
from console.ui.dialogs import RecordDialog, ask
from console.ui.models import RECORD_ROLE, plain
from console.ui.window import MainWindow

AGENCY = "<i>Fire</i> & Rescue"
CALLSIGN = "<s>E9</s>"
NOTES = "Pump <b>seal</b>  replaced\n\n&lt;back at 1500&gt;"


def shown(text: str, fmt: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What Qt shows of `text` in a widget of text format `fmt` (a message
    box, a label, a tooltip: AutoText unless set)."""
    if fmt == Qt.TextFormat.PlainText or (fmt == Qt.TextFormat.AutoText and not QtGui.Qt.mightBeRichText(text)):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


# Text as people type it, and as HTML would take it: tags, entities, runs
# of spaces, empty lines. (Not the characters a document shows otherwise
# whatever it is given: a no-break space shows as a space, U+2028 as a line
# break, and control characters, which people cannot type, not at all.)
TEXT = st.lists(st.one_of(
    st.sampled_from(["<", ">", "&", ";", "/", "!", " ", "  ", "\n", "\t", "<b>", "</b>", "<s>", "<table>",
                     "<br>", "<!--", "&lt;", "&amp;", "<p style='x'>", '"', "'"]),
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters="\u00a0")),
    max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_plain_text_shows_as_it_is_and_other_text_is_left_alone(qapp, text):
    if not QtGui.Qt.mightBeRichText(text):
        assert plain(text) == text
    assert shown(plain(text)) == text


def test_values_that_look_like_html_show_as_they_are_on_the_board_and_in_the_journal(qtbot, window, monkeypatch):
    store = window.bridge.store
    unit = store.add("units", {"callsign": CALLSIGN, "agency": AGENCY, "kind": "Engine", "notes": NOTES})
    m = window.models["units"]
    qtbot.waitUntil(lambda: m._row_of(unit) is not None, timeout=5000)
    row = m._row_of(unit)
    col = [k for k, _ in m.columns].index("callsign")
    assert m.index(row, col).data() == CALLSIGN  # (a cell is text)
    # Hovering over the row shows its notes.
    assert shown(m.index(row, col).data(Qt.ItemDataRole.ToolTipRole)) == f"{NOTES}\n\nid …{short_id(unit)}"

    # The count above the board, filtered to the agency: its count in bold, the agency as it is.
    combo = window.agency_filter
    qtbot.waitUntil(lambda: combo.findData(AGENCY) > 0, timeout=5000)  # (looked at once a second)
    combo.setCurrentIndex(combo.findData(AGENCY))
    total = window.tally.total
    assert shown(total.text(), total.textFormat()) == f"1 {AGENCY} unit, 0 assigned:"
    available = window.tally.buttons["available"]
    assert shown(available.toolTip()) == f"1 {AGENCY} unit available: click to show only these"

    # Deleting it asks, naming it as it is.
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.No)
    view = window.views["units"]
    f = window.filters["units"]
    at = next(r for r in range(f.rowCount()) if f.index(r, 0).data(RECORD_ROLE).id == unit)
    view.selectRow(at)
    window.delete_selected("units")
    assert [shown(t) for t in asked] == [f"Delete {CALLSIGN}?"]
    assert store.get("units", unit) is not None

    # A journal entry written on a console whose agency and operator look like HTML.
    other = Store(store.path, agency=AGENCY, operator="<b>Bo</b>")
    try:
        other.note("Crew <u>swap</u> at 1800")
    finally:
        other.close()
    journal = window.journal
    qtbot.waitUntil(lambda: journal.rowCount() and "Crew <u>swap</u>" in (journal.index(0).data() or ""),
                    timeout=5000)
    tip = shown(journal.index(0).data(Qt.ItemDataRole.ToolTipRole))
    assert tip.splitlines()[1].startswith(f"{AGENCY}, <b>Bo</b>, console ")


def test_the_peers_named_by_the_status_bar_show_as_they_are(window):
    peer = {"address": "wss://eoc:8765", "direction": "dial", "state": "connected", "console_id": "X",
            "agency": "<h1>EOC</h1>", "role": "editor", "last_seen": None, "last_error": None, "sent": 0,
            "received": 0, "bytes_out": 0, "bytes_in": 0, "remaining": 0, "observer": False}
    window.on_sync_status({"peers": [peer], "outbox": 0, "listening": None, "last_exchange": None, "online": True})
    label = window.peers_label
    assert shown(label.text(), label.textFormat()) == "1 connected: <h1>EOC</h1>"
    assert shown(label.toolTip()) == "<h1>EOC</h1>: connected, wss://eoc:8765"


def test_a_dialogs_error_and_a_question_show_the_values_as_they_are(qtbot, window, monkeypatch):
    dialog = RecordDialog(window.bridge, "units", parent=window)
    qtbot.addWidget(dialog)
    dialog.fields["callsign"].setText("E-99")
    dialog.fields["agency"].setText("County Fire")
    dialog.fields["kind"].setText("Engine")
    dialog.fields["personnel"].setText("<b>4</b>")
    dialog.save()
    error = dialog.error
    assert "'<b>4</b>' is not a number" in shown(error.text(), error.textFormat())

    boxes = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: boxes.append(
        (shown(box.text(), box.textFormat()), shown(box.informativeText()))))
    ask(QMessageBox.Icon.Question, "Import", "Add 2 units from <b>roster</b>.csv?", "Its first row reads: <s>E9</s>",
        [("Add", QMessageBox.ButtonRole.AcceptRole)], "Add", window)
    assert boxes == [("Add 2 units from <b>roster</b>.csv?", "Its first row reads: <s>E9</s>")]



def test_a_callsign_on_two_units_is_named_as_it_is_when_marked_and_renamed(qtbot, window, tmp_path, monkeypatch):
    """The same callsign added here and on a field console apart: the
    board's mark and the question for a new callsign name it, and the
    unit's agency and kind, as they are."""
    store = window.bridge.store
    transfer.export_changes(store, tmp_path / "out.changes")
    ours = store.add("units", {"callsign": CALLSIGN, "agency": AGENCY, "kind": "Engine"})
    with Store(tmp_path / "apart.db", agency="County EMS", operator="Sgt. Lee") as field:
        transfer.import_changes(field, tmp_path / "out.changes")
        theirs = field.add("units", {"callsign": CALLSIGN, "agency": AGENCY, "kind": "<br>Engine"})
        transfer.export_changes(field, tmp_path / "apart.changes")
    with Store(store.path) as other_connection:
        transfer.import_changes(other_connection, tmp_path / "apart.changes")
    qtbot.waitUntil(lambda: window.conflicts_button.isVisible(), timeout=5000)
    m = window.models["units"]
    tip = shown(m.index(m._row_of(ours), 0).data(Qt.ItemDataRole.ToolTipRole))
    assert tip.startswith(f"{CALLSIGN}: 1 other unit has this callsign")

    questions = []
    monkeypatch.setattr(QInputDialog, "getText",
                        lambda parent, title, label, **kw: questions.append((title, label)) or ("E-10", True))
    dialog = window.open_reconcile()
    top = dialog.tree.topLevelItem(0)
    dialog.tree.setCurrentItem(top.child(1))
    dialog.enter_value()
    assert [(title, shown(label)) for title, label in questions] == [
        (f"New callsign for {CALLSIGN}", f"Callsign ({AGENCY}, <br>Engine):")]
    assert store.get("units", theirs).callsign == "E-10"
    dialog.close()


def test_names_with_an_ampersand_are_named_whole_in_a_menu_and_on_a_button(window, tmp_path, monkeypatch):
    """A menu and a button take "&" as the mark of the letter to underline
    (and of an Alt shortcut): "Roads & Bridges" showed as "Roads  Bridges",
    the B underlined, and an operator "Dana & Lee" as "Dana  Lee"."""
    store = window.bridge.store
    console_id = "-".join(["RDBR"] + ["A2B3"] * 12)
    with Store(tmp_path / "roads.db", agency="Roads & Bridges") as roads:
        store.trust(console_id, "Roads & Bridges")
        store.record_peer(console_id, replica_id=roads.replica_id, acked_vv=roads.version_vector(), hello=True)
    window.write_menu.aboutToShow.emit()
    (action,) = [a for a in window.write_menu.actions() if "console RDBR" in a.text()]
    assert action.text().startswith("For Roads && Bridges's console RDBR-A2B3-A2B3: ")  # ("&&" shows "&")
    # Two people sharing the desk take it over.
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **kw: ("Dana & Lee", True))
    assert window.hand_over()
    assert window.operator_button.text() == "Operator: Dana && Lee" and store.operator == "Dana & Lee"


def test_a_unit_on_a_deleted_task_is_named_as_it_is_in_the_reconcile_view(qtbot, window, tmp_path):
    store = window.bridge.store
    first = store.add("tasks", {"title": "Evacuate <b>Elm</b> St"})
    second = store.add("tasks", {"title": "Elm St <br>evacuation"})
    unit = store.add("units", {"callsign": CALLSIGN, "agency": "County Fire", "kind": "Engine"})
    on_a_task_merged_away(store, window.bridge.merge_tasks, tmp_path, first, second, [unit])
    qtbot.waitUntil(lambda: window.conflicts_button.isVisible(), timeout=5000)
    m = window.models["units"]
    tip = shown(m.index(m._row_of(unit), [k for k, _ in m.columns].index("task")).data(Qt.ItemDataRole.ToolTipRole))
    assert tip.startswith(f"{CALLSIGN} is on Elm St <br>evacuation, a task merged into Evacuate <b>Elm</b> St by ")
    dialog = window.open_reconcile()
    tops = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
    (top,) = [t for t in tops if t.text(0) == f"unit {CALLSIGN}: on Elm St <br>evacuation, a deleted task"]
    assert shown(top.toolTip(0)).startswith(f"Elm St <br>evacuation was merged into another task on a console that "
                                            f"had not seen {CALLSIGN} put on it: ")
    dialog.close()


def test_long_names_never_push_the_sync_status_out_of_the_status_bar(qtbot, window):
    """Names may be 200 characters long: two peers' agencies that long, and
    an operator's, took the whole status bar, and what is waiting to sync
    was pushed out of the window. Each now ends in "…" where the bar has
    no room for it, whole in its tooltip."""
    agency = ("Regional Emergency Management Coordination Authority of the Northern Districts " * 3)[:200]
    peer = {"address": "wss://eoc:8765", "direction": "dial", "state": "connected", "console_id": "X",
            "agency": agency, "role": "editor", "last_seen": None, "last_error": None, "sent": 0, "received": 0,
            "bytes_out": 0, "bytes_in": 0, "remaining": 0, "observer": False}
    operator = ("Lt. Col. Jane Smith-Robertson, Deputy Logistics Section Chief " * 4)[:200].strip()
    window.resize(1000, 700)
    window.hand_over(operator)
    window.statusBar().clearMessage()
    status = {"peers": [peer, {**peer, "agency": agency[:-1] + "x"}], "outbox": 3, "listening": None,
              "last_exchange": None, "online": True}
    window.on_sync_status(status)
    bar = window.statusBar()
    qtbot.waitUntil(lambda: window.outbox_label.isVisible() and window.outbox_label.width() > 0)
    qtbot.waitUntil(lambda: window.outbox_label.shown() == window.outbox_label.text())  # (laid out)
    assert bar.minimumSizeHint().width() < window.width()
    for w in (window.peers_label, window.outbox_label, window.operator_button):
        assert w.x() >= 0 and w.x() + w.width() <= bar.width(), w.objectName()
    assert window.outbox_label.shown() == window.outbox_label.text() == "3 changes waiting to sync"
    assert window.peers_label.text() == f"2 connected: {agency}, {agency[:-1]}x"
    assert window.peers_label.shown().startswith("2 connected: Regional") and window.peers_label.shown()[-1] == "…"
    assert window.operator_button.text() == "Operator: Lt. Col. Jane Smith-Robertson…"
    assert operator in window.operator_button.toolTip()


def test_long_names_never_widen_the_window_or_its_dialogs(qtbot, window, tmp_path):
    """An agency of 200 characters in the boards' agency filter, and a task
    titled with 300, made the window at least 1,835 pixels wide (wider
    than a laptop's screen, the journal off its edge), and the unit
    dialog's task list as wide as the title."""
    store = window.bridge.store
    agency = ("Regional Emergency Management Coordination Authority of the Northern Districts " * 3)[:200]
    store.add("units", {"callsign": "X-1", "agency": agency, "kind": "Engine"})
    store.add("tasks", {"title": "Evacuate " + "the riverside and the lower town " * 9})
    # A window opened on them (a list is as wide as its names when first shown).
    bridge = Bridge(store)
    w = MainWindow(bridge, settings=QSettings(str(tmp_path / "ui2.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    try:
        w.show()
        combo = w.agency_filter
        qtbot.waitUntil(lambda: combo.findData(agency) > 0, timeout=5000)
        combo.setCurrentIndex(combo.findData(agency))
        qtbot.waitUntil(lambda: w.tally.total.text().startswith("<b>1 Regional"))
        assert w.minimumSizeHint().width() < 800
        w.resize(900, 700)  # (a laptop's screen, with room left)
        qtbot.waitUntil(lambda: w.width() == 900)
        assert combo.width() < 400 and w.journal_dock.agency.width() < 400
        assert shown(w.tally.total.text()) == "1 Regional Emergency Management Coordina… unit, 0 assigned:"
        dialog = RecordDialog(bridge, "units", parent=w)
        qtbot.addWidget(dialog)
        tasks = dialog.fields["task_id"]
        assert any(tasks.itemText(i).startswith("Evacuate the riverside") for i in range(tasks.count()))
        assert dialog.minimumSizeHint().width() < 400 and dialog.sizeHint().width() < 700  # (it opens so wide)
        dialog.show()
        dialog.resize(450, dialog.height())
        qtbot.waitUntil(lambda: dialog.width() == 450)
        assert tasks.width() < 400
    finally:
        w.close()
        bridge.close()


def test_a_word_longer_than_the_journal_is_wide_breaks(qtbot, window):
    """A note holding a web address of 200 characters made every entry as
    wide as it, cut off on the right behind a scroll bar. The journal
    breaks such a word; copied, the entry is as written."""
    address = "https://maps.example.com/staging/north?" + "&".join(f"layer{i}=roads-and-hydrants" for i in range(8))
    store = window.bridge.store
    store.note(f"Staging map: {address} (updated)")
    journal, view = window.journal, window.journal_dock.view
    qtbot.waitUntil(lambda: address[:20] in (journal.index(0).data() or ""), timeout=5000)
    shown_text = journal.index(0).data()
    assert shown_text.replace("\u200b", "").endswith(f"Staging map: {address} (updated)")
    assert max(len(w) for w in shown_text.replace("\u200b", " ").split()) <= 30
    view.resize(300, 400)
    qtbot.waitUntil(lambda: view.viewport().width() < 300)
    size = view.itemDelegate().sizeHint(view.viewOptions() if hasattr(view, "viewOptions") else _option(view),
                                        journal.index(0))
    assert size.width() <= view.viewport().width()
    assert view.horizontalScrollBar().maximum() == 0
    view.selectionModel().select(journal.index(0), view.selectionModel().SelectionFlag.ClearAndSelect)
    assert window.journal_dock.copy().endswith(f"Staging map: {address} (updated)\n")


def _option(view):
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.viewport().rect()
    option.features |= QStyleOptionViewItem.ViewItemFeature.WrapText
    return option


def test_a_name_with_a_mark_of_direction_reverses_only_itself_in_the_journal(qtbot, window):
    """A console whose agency holds a right-to-left override (U+202E, from
    a file, say, or an older release) reversed the rest of each of its
    journal lines: "(Dana) radio check" read "kcehc oidar (anaD)"."""
    store = window.bridge.store
    other = Store(store.path, agency="County \u202eFire", operator="Dana")
    try:
        other.note("radio check")
    finally:
        other.close()
    journal = window.journal
    qtbot.waitUntil(lambda: "radio check" in (journal.index(0).data() or ""), timeout=5000)
    shown_text = journal.index(0).data()
    assert "  \u2068County \u202eFire\u2069 (Dana)\nradio check" in shown_text
    assert "\u2068" not in (journal.index(1).data() or "")  # (any other name as it is)
