import asyncio
import os
import sqlite3

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from console import model
from console.store import Store


async def until(predicate, timeout=30.0, what="condition"):
    """Wait, letting the event loop run, until predicate() (a function or a
    coroutine function) gives something true; returns it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class FakeWall:
    """A wall clock a test can move, including backwards."""

    def __init__(self, ms: int = 1_780_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def make_store(tmp_path):
    """Open stores on real files in a temporary folder; closed at the end."""
    opened = []

    def make(name="a", **kwargs):
        kwargs.setdefault("operator", f"op-{name}")
        kwargs.setdefault("agency", f"Agency {name.upper()}")
        s = Store(tmp_path / f"{name}.db", **kwargs)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def sync(src: Store, dst: Store, batch: int = 1000) -> int:
    """Send dst everything src has that dst lacks; returns changes applied."""
    n = 0
    for part in src.changes_since(dst.version_vector(), batch=batch):
        n += dst.apply(part).applied
    return n


def as_version(store: Store, version: int, *undo: str):
    """Close `store` as a database of schema `version` left it: `undo`
    (SQL taking out what later versions added) run first. Its path, to
    open it again and see it migrated."""
    for sql in undo:
        store._conn.execute(sql)
    store._conn.execute(f"PRAGMA user_version = {int(version)}")
    store.close()
    return store.path


def one_by_one(src: Store, dst: Store, order) -> None:
    """Deliver every change `src` holds to `dst` one at a time, in the order
    `order` (a random.Random) shuffles them into."""
    changes = [c for part in src.all_changes() for c in part]
    order.shuffle(changes)
    for c in changes:
        dst.apply([c])


def converge(stores) -> None:
    for _ in range(2):
        for a in stores:
            for b in stores:
                if a is not b:
                    sync(a, b)


def disk_room(store: Store, pages: int | None) -> None:
    """Let `store`'s database grow by `pages` more pages at most, as a disk
    about to fill (SQLite then fails a write that needs more with its own
    "database or disk is full"); None: as much as it likes again."""
    now = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count={1073741823 if pages is None else now + pages}")


def damage(path, table: str = "changes") -> None:
    """Overwrite the first page of `table` in the database at `path`
    (closed) with garbage, as a disk's fault would: the file still opens,
    and SQLite finds the damage only when something reads that table."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * size)
        fh.write(b"\xff" * size)


def snapshot(store: Store) -> dict:
    """Everything that must be identical on every replica holding the same changes."""
    conn = store._conn
    out = {}
    for t in model.TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
        out[t] = conn.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY id").fetchall()
    out["conflicts"] = conn.execute(
        "SELECT id, tbl, row_id, field, kind, candidates FROM conflicts ORDER BY id"
    ).fetchall()
    out["heads"] = conn.execute("SELECT * FROM heads ORDER BY tbl, row_id, field, origin, seq").fetchall()
    out["journal_about"] = conn.execute("SELECT * FROM journal_about ORDER BY 1, 2").fetchall()
    out["changes"] = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    return out


class Console:
    """A console for sync tests: its database file and identity."""

    def __init__(self, path, name):
        from console.sync import identity

        self.path = path
        self.name = name
        self.agency = f"Agency {name.upper()}"
        Store(path, agency=self.agency, operator=f"op-{name}").close()
        self.identity = identity.load_or_create(path)
        self.console_id = self.identity.console_id

    def open(self) -> Store:
        return Store(self.path, operator=f"op-{self.name}")


def make_consoles(folder, *names, observers=()):
    """Consoles in `folder`; every one trusts every other, as an editor
    unless named in observers."""
    made = [Console(folder / f"{n}.db", n) for n in names]
    for c in made:
        with c.open() as s:
            for other in made:
                if other is not c:
                    s.trust(other.console_id, other.agency, "observer" if other.name in observers else "editor")
    return made


@pytest.fixture
def consoles(tmp_path):
    """make(*names, observers=()) -> [Console] (see make_consoles)."""
    return lambda *names, observers=(): make_consoles(tmp_path, *names, observers=observers)


@pytest.fixture
def ipv6_loopback():
    """Skip the test on a machine with no IPv6 loopback (::1) to listen on."""
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")


def collide(store, tmp_path, table, ref, mine, theirs):
    """Edit a row here and, concurrently, on a field console whose changes
    then arrive by transfer file: an open conflict on each field edited."""
    from console import transfer

    row = store.resolve_id(table, ref)
    transfer.export_changes(store, tmp_path / "out.changes")
    with Store(tmp_path / "field.db", agency="City Police", operator="Sgt. Lee") as field:
        transfer.import_changes(field, tmp_path / "out.changes")
        field.update(table, row, theirs)
        transfer.export_changes(field, tmp_path / "back.changes")
    store.update(table, row, mine)
    with Store(store.path) as other_connection:
        transfer.import_changes(other_connection, tmp_path / "back.changes")
    return row


def on_a_task_merged_away(store, merge, folder, kept, gone, units) -> None:
    """`units` put on task `gone` on a field console that had not seen it
    merged into `kept` here (by `merge`, given both ids): the field's
    changes arrive by transfer file, written by another program."""
    from console import transfer

    transfer.export_changes(store, folder / "out.changes")
    merge([kept, gone])
    with Store(folder / "field.db", agency="County Fire", operator="Lt. Ray") as field:
        transfer.import_changes(field, folder / "out.changes")
        field.update_many("units", units, {"task_id": gone, "status": "on scene"})
        transfer.export_changes(field, folder / "field.changes")
    with Store(store.path) as other_connection:
        transfer.import_changes(other_connection, folder / "field.changes")


@pytest.fixture
def demo_store(tmp_path):
    """The demo's operation, in a database of the test's own."""
    from console import seed

    s = Store(tmp_path / "demo.db", agency="County Fire", operator="Dana")
    seed.seed_demo(s)
    yield s
    s.close()


@pytest.fixture
def window(qtbot, demo_store, tmp_path):
    """The window on the demo's operation, shown (offscreen), its settings
    in a file of the test's own."""
    from PySide6.QtCore import QSettings

    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    bridge = Bridge(demo_store)
    w = MainWindow(bridge, settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    bridge.close()


# How the window's colours read, in a light scheme and in a dark one.

def dark_palette():
    """A dark palette as desktops give it: the one the README's screenshot
    of the dark scheme is made with (scripts/screenshots.py)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "screenshots", Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.dark_palette()


@pytest.fixture
def scheme(qapp):
    """Switch the application to a light or dark palette; the palette it
    had is put back at the end."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    was = QPalette(qapp.palette())
    light, dark = QApplication.style().standardPalette(), dark_palette()

    def switch(which: str) -> None:
        qapp.setPalette(dark if which == "dark" else light)
        qapp.processEvents()

    yield switch
    qapp.setPalette(was)
    qapp.processEvents()


# Text reads at least this many times the luminance contrast of its
# background (WCAG's measure and its mark for text), in either scheme.
AT_LEAST = 4.5


def luminance(c) -> float:
    def linear(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(c.red()) + 0.7152 * linear(c.green()) + 0.0722 * linear(c.blue())


def contrast(a, b) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(top, under):
    """`top` (a QColor), of its alpha, painted over `under`."""
    from PySide6.QtGui import QColor

    a = top.alphaF()
    return QColor(*(round(a * t + (1 - a) * u) for t, u in
                    zip(top.getRgb()[:3], under.getRgb()[:3], strict=True)))


def worst_cells(window) -> list[tuple[float, str]]:
    """Every cell with text of every board, but the badges (white on their
    status's colour), as its view draws it: (contrast of its text with its
    background, which cell), the lowest first."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPalette

    found = []
    for board, m in window.models.items():
        view = window.views[board]
        palette = view.palette()
        text = palette.color(QPalette.ColorRole.Text)
        backs = [palette.color(QPalette.ColorRole.Base)]
        if view.alternatingRowColors():
            backs.append(palette.color(QPalette.ColorRole.AlternateBase))
        for row in range(m.rowCount()):
            for column, (key, _) in enumerate(m.columns):
                index = m.index(row, column)
                if key in ("status", "priority") or not m.data(index, Qt.ItemDataRole.DisplayRole):
                    continue
                ink = m.data(index, Qt.ItemDataRole.ForegroundRole)
                fg = ink.color() if ink is not None else text
                tint = m.data(index, Qt.ItemDataRole.BackgroundRole)
                for back in backs:
                    bg = over(tint.color(), back) if tint is not None else back
                    found.append((contrast(fg, bg), f"{board} row {row} {key}: {fg.name()} on {bg.name()}"))
    return sorted(found)
