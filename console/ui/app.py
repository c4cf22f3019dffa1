"""Start the desktop console: QApplication, the qasync loop, the window and,
when asked, the sync engine, in a child process of its own
(console/sync/child.py) so that merging a large catch-up never holds up the
window."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QLockFile, QSettings, QSysInfo
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from console.ui.models import fit_screen, plain

log = logging.getLogger(__name__)


def _excepthook(kind, value, tb) -> None:
    """Log any uncaught error and show it, rather than dying silently. The
    database failing under a window (damaged, its disk gone) is said in
    the window's banner instead: every timer that reads it would open a
    message box after the last."""
    from console.store import CorruptDatabase, StoreBusy, StoreIOError
    from console.ui.window import MainWindow

    app = QApplication.instance()
    # (The demo's two windows each have a database: the one that failed is told.)
    windows = [w for w in (app.topLevelWidgets() if app is not None else ())
               if isinstance(w, MainWindow) and w.isVisible() and getattr(value, "path", None) in (None, w.store.path)]
    if isinstance(value, (CorruptDatabase, StoreIOError, StoreBusy)) and windows:
        log.debug("the database failed", exc_info=(kind, value, tb))
        for w in windows:
            w.database_failed(value)
        return
    log.error("uncaught error", exc_info=(kind, value, tb))
    if app is not None:
        QMessageBox.critical(None, "Crisis console: unexpected error",
                             plain("".join(traceback.format_exception_only(kind, value)).strip()))


def main(args) -> int:
    import qasync

    from console.store import StoreError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Crisis console")
    # We stop sync cleanly ourselves when the last window closes; Qt's own
    # quit would stop the loop first and cut that short.
    app.setQuitOnLastWindowClosed(False)
    sys.excepthook = _excepthook
    db = Path(args.db or _default())
    while True:
        try:
            opened = _open(db, args)
        except StoreError as exc:
            if not _restore_instead(exc, db):
                raise
            continue  # restored: opened again
        break
    if opened is None:  # open in another window, and this person chose that one
        return 0
    store, held, bridge, window, engine = opened

    async def run() -> None:
        asked = _close_on_signals()  # (from the start: a signal while sync starts closes the window once shown)
        if engine is not None:
            # A sync engine that cannot start (its port taken, say) does not
            # keep the console shut: the window opens, says why sync is
            # stopped, and the engine is tried again in the background.
            await engine.start_or_retry()
        window.show()
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        if asked.is_set():
            window.close()
        await closed.wait()
        if bridge.engine is not None:  # (started since, perhaps: see Bridge.connect_to)
            await bridge.engine.stop()

    try:
        qasync.run(run())
    finally:
        bridge.close()
        store.close()
        held.unlock()
    return 0


def _open(db: Path, args):
    """The store, the lock beside it, the bridge, the window and the sync
    engine (not started) for `db`; None if it is open in another window
    and the person chose that one. StoreError if it cannot be opened,
    with nothing left open."""
    from console.store import Store, StoreError
    from console.sync.child import EngineProcess
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    store = Store(db, operator=args.operator, agency=args.agency)
    held = hold_database(store.path)
    if held is None:
        store.close()
        return None
    resumed = at_console(store, args.operator)

    def make_engine(peers, listen=None):
        return EngineProcess(store.path, operator=args.operator, agency=args.agency, listen=listen, peers=peers)

    # The addresses given, then those the window was told to connect to
    # before (Sync ▸ Peers ▸ Connect), which it connects to whenever it opens.
    peers = list(dict.fromkeys([*(getattr(args, "peer", None) or ()), *remembered_peers(store)]))
    listen = getattr(args, "listen", None)
    engine = make_engine(peers, listen) if listen or peers else None
    bridge = None
    try:
        bridge = Bridge(store, engine, make_engine=make_engine)
        window = MainWindow(bridge)
    except StoreError:  # damage where opening did not look, found by the window's first reads
        if bridge is not None:
            bridge.stop()
        store.close()
        held.unlock()
        raise
    if resumed:
        window.statusBar().showMessage(resumed, 120_000)
    return store, held, bridge, window, engine


def _restore_instead(exc, db: Path) -> bool:
    """Say why the database cannot open (opened from a menu, there is no
    terminal to read the error in). Damaged, a backup of it may be
    restored from here, as `crisis-console restore` does: whether one
    was (then it is opened)."""
    from PySide6.QtWidgets import QFileDialog

    from console import backup, clock
    from console.store import IF_DAMAGED, StoreError
    from console.ui.dialogs import ask
    from console.ui.window import auto_backup_folder

    title = "Crisis console: cannot open the database"
    if IF_DAMAGED not in str(exc):
        QMessageBox.critical(None, title, plain(f"{exc}\n\nNothing was changed. Open another database with "
                                                "--db PATH, or restore this one from a backup."))
        return False
    said = f"{exc}\n\nNothing was changed."
    while True:
        chosen = ask(QMessageBox.Icon.Critical, title, said,
                     "Restore a backup: choose a backup of this database. The damaged one is kept beside it under "
                     "another name, and the console opens on the backup; syncing with a peer then brings back what "
                     "was done since it was taken.",
                     [("Restore a backup…", QMessageBox.ButtonRole.AcceptRole),
                      ("Close", QMessageBox.ButtonRole.RejectRole)], "Restore a backup…")
        if chosen != "Restore a backup…":
            return False
        where = auto_backup_folder(db, QSettings("crisis-console", "console"))  # (the window's settings)
        source, _ = QFileDialog.getOpenFileName(None, f"Restore a backup of {db.name}", where,
                                                "Databases (*.db);;All files (*)")
        if not source:
            continue
        try:
            r = backup.restore(db, source)
        except (StoreError, OSError) as failed:
            why = f"{failed.filename}: {failed.strerror}" if isinstance(failed, OSError) and failed.strerror else failed
            said = f"{exc}\n\nNot restored: {why}"
            continue
        taken = f"taken {clock.utc_text(r.taken_ms)}, " if r.taken_ms else ""
        kept = f" The damaged database is kept as {r.kept_as}." if r.kept_as else ""
        QMessageBox.information(None, "Crisis console: restored",
                                plain(f"Restored {db} from {source} ({taken}{r.changes:,} changes).{kept} Sync with a "
                                      "peer to get back what was done since the backup."))
        return True


def hold_database(path) -> QLockFile | None:
    """A lock beside the database (PATH.window-lock), held while this
    window is open, so that one opened again on the same database (an icon
    clicked twice) asks first: two windows would each run their own sync
    (a second one listening fails on the port the first holds) and undo
    history. The lock (release it on closing), or None if the person
    chose not to open a second window. A lock left by a window that died
    is taken over; where none can be made (a read-only folder), no guard."""
    lock = QLockFile(f"{path}.window-lock")
    lock.setStaleLockTime(0)  # stale only once its process is gone, however old
    if lock.tryLock(0) or lock.error() != QLockFile.LockError.LockFailedError:
        if lock.error() != QLockFile.LockError.NoError:
            log.warning("%s: no guard against a second window (cannot make %s.window-lock)", path, path)
        return lock
    pid, host, _app = lock.getLockInfo()
    where = f"process {pid}" if host == QSysInfo.machineHostName() else f"computer {host}, process {pid}"
    from console.ui.dialogs import ask

    chosen = ask(QMessageBox.Icon.Question, "Crisis console: already open",
                 f"{Path(path).name} is already open in another Crisis console window ({where}).",
                 "Use that window: two windows on one database each sync and keep their own undo history. Open it "
                 "here as well only if that window is not to be found.",
                 [("Open here as well", QMessageBox.ButtonRole.AcceptRole),
                  ("Do not open", QMessageBox.ButtonRole.RejectRole)], "Do not open")
    return lock if chosen == "Open here as well" else None


def remembered_peers(store) -> list[str]:
    """The addresses this console's window connects to whenever it opens
    (Store.dial_list), less any that is not wss://HOST:PORT (logged)."""
    from console.store import StoreError
    from console.sync.transport import SyncError, check_url

    try:
        urls = store.dial_list()
    except StoreError as exc:  # not read: the window still opens, connecting to those given
        log.warning("could not read the addresses to connect to: %s", exc)
        return []
    good = []
    for url in urls:
        try:
            check_url(url)
        except SyncError as exc:
            log.warning("not connecting to a remembered address: %s", exc)
            continue
        good.append(url)
    return good


def at_console(store, operator: str | None) -> str | None:
    """Who the window records changes as. Named (--operator), that person,
    remembered as at this console from now on; not named, the person last
    at it (the last hand-over, or the last window opened in a name) rather
    than $CRISIS_OPERATOR or the computer's login, so that a window
    restarted after a crash goes on in the name of whoever took over.
    Returns what to tell them: the name it went on in, if remembered; if
    none was, that the name is the one the computer gives (its login, or
    $CRISIS_OPERATOR), which a shared EOC computer gives everyone at it,
    and how to record changes in their own."""
    from console.store import StoreError
    from console.times import local_time, zone_name

    try:
        if operator is not None:
            store.keep_at_console()
            return None
        kept = store.at_console()
    except StoreError as exc:  # not remembered: the window still opens, in the name it has
        log.warning("could not read or keep who is at this console: %s", exc)
        return None
    # (Said in the status bar, beside the sync status: what to do first,
    # where the room left may cut the end, whole in its tooltip.)
    if kept is None:
        return (f"Changes are recorded as {store.operator}, this computer's name: not you? Hand over, Ctrl+Shift+O "
                "(Board > Hand over). No one has taken over this console yet.")
    if kept[0] == store.operator:
        return None
    store.operator, since = kept
    when = f" since {local_time(since, seconds=False)} {zone_name()}" if since else ""
    return (f"Changes are recorded as {store.operator}, at this console{when}: not you? Hand over, Ctrl+Shift+O "
            "(Board > Hand over).")


def demo_main(args) -> int:
    """Two consoles of two agencies, each in its own window, syncing
    through a local relay that holds the demo scenario; each window has an
    Offline switch. A newcomer sees a partition, edits on both sides,
    reconnection and reconciliation within a minute. The windows are one
    process; each sync engine, the relay's too, is a child process of it,
    as a real window's is (so nothing of the network runs on the window's
    event loop, here as there)."""
    import tempfile

    import qasync

    from console import seed
    from console.store import Store
    from console.sync import identity
    from console.sync.child import EngineProcess
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Crisis console demo")
    app.setQuitOnLastWindowClosed(False)
    sys.excepthook = _excepthook
    folder = Path(args.demo_dir) if getattr(args, "demo_dir", None) else Path(tempfile.mkdtemp(prefix="crisis-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    names = {"relay": "EOC", "fire": "County Fire", "police": "City Police"}
    ids = {}
    for name, agency in names.items():
        with Store(folder / f"{name}.db", agency=agency, operator=f"{name} operator") as s:
            if name == "relay" and not s.counts()["units"]:
                seed.seed_demo(s)
        ids[name] = identity.load_or_create(folder / f"{name}.db").console_id
    for name in names:
        with Store(folder / f"{name}.db") as s:
            for other, agency in names.items():
                if other != name:
                    s.trust(ids[other], agency)
    relay = EngineProcess(folder / "relay.db", listen=("127.0.0.1", 0))
    stores, windows, engines = [], [], []

    async def run() -> None:
        asked = _close_on_signals()
        await relay.start()
        url = f"wss://127.0.0.1:{relay.port}"
        for i, name in enumerate(("fire", "police")):
            store = Store(folder / f"{name}.db", operator=f"{names[name]} desk")
            engine = EngineProcess(store.path, operator=f"{names[name]} desk", peers=[url])
            # Its own window settings, in the demo's folder: the demo's
            # layout is not the one the real console opens with next time.
            settings = QSettings(str(folder / f"{name}.ini"), QSettings.Format.IniFormat)
            window = MainWindow(Bridge(store, engine), settings=settings)
            await engine.start()
            window.set_title(f"{names[name]} console (demo)")
            window.add_offline_switch(url)
            fit_screen(window, 1100, 760)
            window.move(40 + i * 560, 40 + i * 40)
            window.show()
            stores.append(store)
            engines.append(engine)
            windows.append(window)
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        if asked.is_set():
            for window in windows:
                window.close()
        await closed.wait()
        for engine in [*engines, relay]:
            await engine.stop()

    try:
        qasync.run(run())
    finally:
        for w in windows:
            w.bridge.close()
        for s in stores:
            s.close()
    print(f"the demo's databases are in {folder}")
    return 0


def _close_on_signals() -> asyncio.Event:
    """Ctrl+C in the terminal the console was started from, that terminal
    closed, or SIGTERM (a logout, a service manager stopping a wall
    display's console): every window and dialog closed as Board ▸ Quit
    closes them, without asking (no one is there to answer): the layout
    kept, sync stopped, the lock on the database let go. Every change was
    committed as it was made. (Python's own handlers ended the window at
    once, unsaved, its lock left; Ctrl+C, at times, not at all.) Started
    with nohup, it outlives its terminal (see cli.on_stop_signals).
    Returns an event set once asked: a window shown after it (sync was
    starting) is to be closed then."""
    from console.cli import on_stop_signals

    asked = asyncio.Event()

    def close() -> None:
        log.info("closing: asked to stop by a signal")
        asked.set()
        app = QApplication.instance()
        # The dialogs first (a question's own event loop ends, as if
        # cancelled), then the windows: the last one closed stops sync.
        for w in sorted(app.topLevelWidgets(), key=lambda w: isinstance(w, QMainWindow)):
            if w.isVisible():
                w.close()

    on_stop_signals(asyncio.get_running_loop(), close)
    return asked


def _default():
    from console.store import default_db_path

    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
