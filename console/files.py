"""Writing a file whole: through a temporary file beside it, renamed over
it once written, so that a write that fails (a full disk, a stick pulled
out) leaves whatever was there."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """The temporary file to write `path` through: renamed over `path` when
    the block ends, removed if it raises. `durable`: the file is on the
    disk before it is renamed, and the rename before this returns (a
    backup, which must survive a power cut)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        tmp.replace(path)
        if durable:
            with contextlib.suppress(OSError):  # not every file system lets a folder be opened
                _fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    # A file through a descriptor open for writing: Windows' fsync (its
    # _commit) refuses any other (EBADF), which POSIX does not mind.
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
