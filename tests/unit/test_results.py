"""The results file: what counts as a whole record on resume, where the rest goes, and that
reading and writing it stay bounded and whole."""

import errno
import json
import os
from pathlib import Path

import pytest

from ponder.batch import results as results_module
from ponder.batch.results import ResultsFile, is_result, read_results
from ponder.errors import UsageError
from ponder.trace.jsonl import WriteError


def ok(id_, answer="9"):
    return {"id": id_, "line": 1, "question": "q", "answer": answer, "status": "ok", "error": None}


def line(record):
    return json.dumps(record) + "\n"


@pytest.mark.parametrize("record, whole", [
    (ok("1"), True),
    ({"id": "line:3", "line": 3, "question": None, "answer": None, "status": "error", "error": "bad"}, True),
    ({"id": 3}, False),
    ({"id": "3", "status": "ok", "answer": "9"}, False),  # no error field: not what the writer writes
    (ok("1", answer=""), False),
    (ok("1", answer=None), False),
    ({**ok("1"), "error": "boom"}, False),
    ({**ok("1"), "status": "maybe"}, False),
    ({**ok("1"), "id": 1}, False),
    ({"id": "4", "answer": None, "status": "error", "error": None}, False),
    (["1"], False),
    ("1", False),
])
def test_what_counts_as_a_whole_record(record, whole):
    assert is_result(record) is whole


def test_resume_keeps_whole_records_and_moves_the_rest_aside(tmp_path):
    out = tmp_path / "out.jsonl"
    lines = [line(ok("1")), "garbage\n", line({"id": 3}), line(ok("1", "10")), "\n", line(ok("2")),
             json.dumps(ok("4"))]  # the last line is torn: no newline, though it parses
    out.write_text("".join(lines))
    results = ResultsFile(out, resume=True)
    results.close()
    assert results.done == {"1": "ok", "2": "ok"} and results.rejected == 4
    assert out.read_text() == line(ok("1")) + line(ok("2"))  # the blank line carried nothing
    assert results.rejected_path == tmp_path / "out.jsonl.rejected"
    assert results.rejected_path.read_text() == ("garbage\n" + line({"id": 3}) + line(ok("1", "10"))
                                                 + json.dumps(ok("4")) + "\n")


def test_a_clean_file_is_left_as_it_is(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(line(ok("1")))
    inode = out.stat().st_ino
    results = ResultsFile(out, resume=True)
    results.write(ok("2"))
    results.close()
    assert results.rejected == 0 and out.stat().st_ino == inode
    assert not (tmp_path / "out.jsonl.rejected").exists()
    assert [r["id"] for r in read_results(out)] == ["1", "2"]


def test_resuming_follows_a_symlink_and_keeps_it(tmp_path):
    (tmp_path / "real.jsonl").write_text(line(ok("1")) + "junk\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to("real.jsonl")
    ResultsFile(link, resume=True).close()
    assert link.is_symlink() and (tmp_path / "real.jsonl").read_text() == line(ok("1"))


def test_resuming_reads_only_a_bounded_regular_file(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="a device"):
        ResultsFile(Path("/dev/full"), resume=True)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match="FIFO"):
        ResultsFile(tmp_path / "fifo", resume=True)
    big = tmp_path / "big.jsonl"
    big.write_text(line(ok("1")) * 10)
    monkeypatch.setattr(results_module, "MAX_RESULTS_BYTES", 100)
    with pytest.raises(UsageError, match="larger than"):
        ResultsFile(big, resume=True)


def test_a_write_that_fails_leaves_whole_lines(tmp_path, monkeypatch):
    import ponder.trace.jsonl as jsonl

    out = tmp_path / "out.jsonl"
    results = ResultsFile(out)
    results.write(ok("1"))
    real, calls = jsonl.os.write, []

    def full_disk(fd, data):  # ten bytes fit, then the disk is full
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, bytes(data[:10]))

    monkeypatch.setattr(jsonl.os, "write", full_disk)
    with pytest.raises(WriteError, match="cannot write results file .*No space left"):
        results.write(ok("2"))
    results.close()
    assert out.read_text() == line(ok("1"))
    assert [r["id"] for r in read_results(out)] == ["1"]


def test_an_unusable_output_is_a_usage_error_before_anything_runs(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot write"):
        ResultsFile(tmp_path / "file" / "out.jsonl")
    with pytest.raises(UsageError, match="directory"):
        ResultsFile(tmp_path)


def test_a_folder_that_cannot_take_the_rewrite_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    path.write_text(line(ok("1")) + "junk\n")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(results_module.tempfile, "mkstemp", refuse)
    with pytest.raises(WriteError, match="Permission denied"):
        ResultsFile(path, resume=True)
    assert path.read_text() == line(ok("1")) + "junk\n" and not (tmp_path / "out.jsonl.rejected").exists()


def test_a_rejected_file_that_takes_no_line_is_not_left_behind(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    path.write_text(line(ok("1")) + "junk\n")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("ponder.trace.jsonl._write_all", full)
    with pytest.raises(WriteError, match="No space"):
        ResultsFile(path, resume=True)
    assert path.read_text() == line(ok("1")) + "junk\n" and not (tmp_path / "out.jsonl.rejected").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
