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


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_written_into_never_replaced(tmp_path):
    """As root, `-o /dev/null` (or chat's /save!) replaced the device by a file."""
    import os
    import stat

    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    write_whole(null, "discarded\n")
    assert stat.S_ISCHR(os.stat(null).st_mode)
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    with pytest.raises(WriteError, match="No space left on device"):
        write_whole(full, "x" * 10)
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_a_fifo_is_written_into_when_read_and_refused_without_a_reader(tmp_path):
    import os
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match="a FIFO with no reader"):
        write_whole(fifo, "nobody reads\n")
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    for _ in range(100):  # until the reader has the FIFO open
        try:
            write_whole(fifo, "read\n")
            break
        except WriteError:
            threading.Event().wait(0.02)
    reader.join(5)
    assert got == [b"read\n"] and os.path.exists(fifo) and not os.path.isfile(fifo)
