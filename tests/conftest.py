import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from console import model
from console.store import Store


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


def converge(stores) -> None:
    for _ in range(2):
        for a in stores:
            for b in stores:
                if a is not b:
                    sync(a, b)


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
    out["changes"] = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    return out
