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
    with pytest.raises(FileNotFoundError):
        files.write_text(tmp_path / "no such folder" / "x.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
