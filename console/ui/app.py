"""Start the desktop console: QApplication, the qasync loop, the window and,
when asked, the sync engine on the same loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox

log = logging.getLogger(__name__)


def _excepthook(kind, value, tb) -> None:
    """Log any uncaught error and show it, rather than dying silently."""
    log.error("uncaught error", exc_info=(kind, value, tb))
    app = QApplication.instance()
    if app is not None:
        QMessageBox.critical(None, "Crisis console: unexpected error",
                             "".join(traceback.format_exception_only(kind, value)).strip())


def main(args) -> int:
    import qasync

    from console.store import Store
    from console.sync.transport import Engine
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Crisis console")
    sys.excepthook = _excepthook
    store = Store(args.db or _default(), operator=args.operator, agency=args.agency)
    engine = None
    if getattr(args, "listen", None) or getattr(args, "peer", None):
        engine = Engine(store.path, operator=args.operator, agency=args.agency,
                        listen=args.listen, peers=args.peer or ())
    bridge = Bridge(store, engine)
    window = MainWindow(bridge)

    async def run() -> None:
        if engine is not None:
            await engine.start()
        window.show()
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        await closed.wait()
        if engine is not None:
            await engine.stop()

    try:
        qasync.run(run())
    finally:
        bridge.close()
        store.close()
    return 0


def _default():
    from console.store import default_db_path

    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
