"""Regenerate the README's screenshots from the real window, offscreen:

    .venv/bin/python scripts/screenshots.py [OUT_DIR]   (default docs/screenshots)

It seeds the flood scenario on two consoles (County Fire, City Police), makes
partitioned edits that collide, connects the Fire console to a relay, and
saves the main window (also in a dark scheme), the reconciliation view and
the situation report as PNGs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def exchange(a, b) -> None:
    for src, dst in ((a, b), (b, a)):
        for batch in src.changes_since(dst.version_vector()):
            dst.apply(batch)


def main(out: Path) -> list[Path]:
    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from console import seed
    from console.store import Store
    from console.sync import identity
    from console.sync.transport import Engine
    from console.ui.bridge import Bridge
    from console.ui.window import MainWindow

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="crisis-shots-"))
    fire = Store(tmp / "fire.db", agency="County Fire", operator="Capt. Ortiz")
    police = Store(tmp / "police.db", agency="City Police", operator="Sgt. Lee")
    seed.seed_demo(fire)
    # The Elm Street evacuation entered a second time, by a dispatcher at Fire.
    again = fire.add("tasks", {"title": "Elm St mobile home park evacuation", "priority": "urgent"})
    fire.update("units", "T-3", {"task_id": again})
    exchange(fire, police)
    # Partitioned: Fire merges the two; Police, not knowing, sends K9-4 to the one merged away.
    fire.merge_tasks([_task(fire, "Evacuate Elm"), again])
    police.update("units", "K9-4", {"task_id": again})
    # Partitioned: both assign E-12, and Police edits a unit Fire deletes.
    fire.update("units", "E-12", {"task_id": fire.resolve_id("tasks", _task(fire, "Search of flooded")),
                                  "status": "en route"})
    police.update("units", "E-12", {"task_id": police.resolve_id("tasks", _task(police, "Welfare checks"))})
    # Both add Medic 21, called in to each of them.
    fire.add("units", {"callsign": "Medic 21", "agency": "County EMS", "kind": "Ambulance (Ground), Type I ALS",
                       "location": "EMS Station 1"})
    police.add("units", {"callsign": "Medic 21", "agency": "County EMS", "kind": "Ambulance (Ground), Type I ALS",
                         "status": "on scene", "location": "Elm St MHP",
                         "task_id": police.resolve_id("tasks", _task(police, "Evacuate Elm"))})
    fire.delete("units", "WT-2")
    police.update("units", "WT-2", {"notes": "Pump seal replaced; back in service at 1500"})
    bags = next(r for r in fire.list("resources") if r.name == "Sandbags (filled)")
    fire.adjust(bags.id, -300)
    police.adjust(bags.id, -250)
    exchange(fire, police)
    police.close()
    relay_db = tmp / "relay.db"
    Store(relay_db, agency="EOC").close()
    ids = {p: identity.load_or_create(p).console_id for p in (relay_db, fire.path)}
    with Store(relay_db) as s:
        s.trust(ids[fire.path], "County Fire")
    fire.trust(ids[relay_db], "EOC")

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    saved: list[Path] = []

    async def run() -> None:
        relay = Engine(relay_db, listen=("127.0.0.1", 0))
        await relay.start()
        engine = Engine(fire.path, peers=[f"wss://127.0.0.1:{relay.port}"])
        bridge = Bridge(fire, engine)
        window = MainWindow(bridge, settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
        window.resize(1500, 860)
        await engine.start()
        window.show()
        for _ in range(100):
            await asyncio.sleep(0.1)
            if window.peers_label.text().startswith("1 connected") and "waiting" not in window.outbox_label.text():
                break
        window.journal_dock.setMinimumWidth(330)

        async def shot(widget, name: str) -> None:
            while getattr(widget, "busy", False):  # a report still being read
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # painted
            saved.append(out / name)
            widget.grab().save(str(saved[-1]))

        await shot(window, "main.png")
        light = QPalette(app.palette())
        app.setPalette(dark_palette())  # the desktop switched to dark mode
        await shot(window, "main-dark.png")
        app.setPalette(light)
        for dialog, size, name in ((window.open_reconcile(), (1240, 470), "reconcile.png"),
                                   (window.open_report(), (1000, 780), "report.png")):
            dialog.resize(*size)
            await shot(dialog, name)
            dialog.close()
        window.close()
        await engine.stop()
        await relay.stop()
        bridge.close()

    qasync.run(run())
    fire.close()
    return saved


def dark_palette():
    """A dark palette, as a desktop in dark mode gives the window: its
    shades and disabled text worked out by Qt from the window's grey."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette(QColor("#353535"), QColor("#2d2d2d"))  # (a button's grey, the window's)
    for role, colour in {"Base": "#1e1e1e", "AlternateBase": "#262626", "Highlight": "#2a82da",
                         "HighlightedText": "#ffffff", "ToolTipBase": "#3a3a3a", "Link": "#6fb3ff"}.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):  # (not disabled: greyed)
        for role, colour in {"WindowText": "#e8e8e8", "Text": "#e8e8e8", "ButtonText": "#e8e8e8",
                             "ToolTipText": "#e8e8e8", "PlaceholderText": "#8a8a8a"}.items():
            palette.setColor(group, getattr(QPalette.ColorRole, role), QColor(colour))
    return palette


def _task(store, prefix: str) -> str:
    return next(t.id for t in store.list("tasks") if t.title.startswith(prefix))


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"):
        print(path)
