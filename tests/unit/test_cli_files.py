"""An output file is written whole: the old one stays when a write fails, no temporary file is left."""

import pytest

from ponder.cli.files import write_whole
from ponder.trace.jsonl import WriteError


def test_a_file_is_replaced_whole_and_a_symlink_written_through(tmp_path):
    (tmp_path / "link.md").symlink_to(tmp_path / "real.md")
    write_whole(tmp_path / "link.md", "first\n")
    write_whole(tmp_path / "link.md", "second\n")
    assert (tmp_path / "link.md").is_symlink() and (tmp_path / "real.md").read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.md", "real.md"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    import errno
    import os

    target = tmp_path / "report.json"
    target.write_text("old\n")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(WriteError, match="^cannot write .*report.json: No space left on device$"):
        write_whole(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    with pytest.raises(WriteError, match="No such file or directory"):
        write_whole(tmp_path / "absent" / "x.md", "text")
