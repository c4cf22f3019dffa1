"""Files written whole, through a temporary file beside them."""

import pytest

from console import files


def test_a_write_that_fails_leaves_what_was_there_and_no_litter(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("yesterday's", encoding="utf-8")
    with pytest.raises(OSError), files.replacing(path) as tmp:
        tmp.write_text("half of today's", encoding="utf-8")
        raise OSError("the disk is full")
    assert path.read_text(encoding="utf-8") == "yesterday's"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
    for durable in (False, True):
        with files.replacing(path, durable=durable) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".report.txt.part")
            tmp.write_text(f"today's {durable}", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == f"today's {durable}"
        assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
    with pytest.raises(FileNotFoundError), files.replacing(tmp_path / "no such folder" / "x.txt") as tmp:
        tmp.write_text("x", encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_a_durable_write_syncs_the_file_through_a_descriptor_open_for_writing(tmp_path, monkeypatch):
    """Windows' fsync (its _commit) refuses a descriptor open for reading
    only (EBADF), so a durable write (a backup) failed there; POSIX does
    not mind. Here fsync refuses alike."""
    import errno
    import fcntl
    import os

    synced = []

    def windows_like_fsync(fd):
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if not os.path.isdir(f"/proc/self/fd/{fd}") and mode == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(files.os, "fsync", windows_like_fsync)
    path = tmp_path / "backup.db"
    with files.replacing(path, durable=True) as tmp:
        tmp.write_bytes(b"the whole operation")
    assert path.read_bytes() == b"the whole operation"
    assert len(synced) == 2 and synced[0].startswith(str(tmp_path / ".backup.db.part")) and synced[1] == str(tmp_path)
