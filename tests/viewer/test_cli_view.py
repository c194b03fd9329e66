"""`ponder view` as a subprocess: export to stdout or a file, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess

from tests.cli_helpers import PONDER, ponder
from tests.viewer.helpers import DATA, REAL, lines_of, record


def test_export_md_to_stdout_has_no_escape_bytes(tmp_path):
    trace = tmp_path / "t.jsonl"
    lines = lines_of(REAL)
    evil = record(type="step_started", run="r", ts=5.0, span="e1", parent="s1", factor="\x1b[2Jrestate", index=1)
    trace.write_text("".join(lines[:-2]) + evil + "".join(lines[-2:]))
    done = ponder("view", "--export", "md", str(trace), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"# ponder run ")
    assert b"\x1b" not in done.stdout and b"\x1b" not in done.stderr
    assert b"\\x1b\\[2Jrestate" in done.stdout


def test_export_to_a_file_and_from_stdin(tmp_path):
    out = tmp_path / "run.md"
    done = ponder("view", "--export", "md", "-o", str(out), str(REAL), timeout=60)
    assert done.returncode == 0 and done.stdout == b""
    piped = ponder("view", "--export", "md", "-", stdin=REAL.read_bytes(), timeout=60)
    assert piped.returncode == 0
    assert out.read_bytes() == piped.stdout


def test_truncated_trace_exports_with_a_warning():
    done = ponder("view", "--export", "md", str(DATA / "truncated.jsonl"), timeout=60)
    assert done.returncode == 0
    assert b"ponder: warning:" in done.stderr and b"truncated" in done.stderr
    assert b"## Warnings" in done.stdout


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    cases = [
        ("view", str(tmp_path / "missing.jsonl")),
        ("view", "--export", "md", str(DATA / "not_a_trace.csv")),
        ("view", "--export", "md", str(tmp_path)),
        ("view", "-o", str(tmp_path / "x.md"), str(REAL)),
        ("view", str(REAL)),  # no terminal and no --export
    ]
    for args in cases:
        done = ponder(*args, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stdout == b""
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ponder: error: "), (args, lines)


def test_view_is_listed_in_help():
    done = ponder("--help", timeout=60)
    assert done.returncode == 0 and b"view" in done.stdout


def _one_error_line(done, code: int) -> str:
    assert done.returncode == code, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ponder: error: "), lines
    return lines[0]


def test_export_makes_every_field_visible_whatever_its_type(tmp_path):
    lines = lines_of(REAL)
    finished = {**json.loads(lines[-1]), "status": "\x1b]0;TITLE\a\x1b[31m",
                "usage": {"steps": "\x1b[2J", "completion_tokens": ["\x1b"], "seconds": {"s": "\x9b"}}}
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(lines[:-1]) + json.dumps(finished) + "\n")
    done = ponder("view", "--export", "md", str(trace), timeout=60)
    assert done.returncode == 0, done.stderr
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", done.stdout + done.stderr)
    assert b"\\\\x1b\\]0;TITLE\\\\x07" in done.stdout


def test_malformed_events_are_warnings_and_a_file_with_nothing_to_show_is_exit_2(tmp_path):
    lines = lines_of(REAL)
    records = [json.loads(line) for line in lines]
    next(r for r in records if r["type"] == "step_finished")["text"] = None
    trace = tmp_path / "t.jsonl"
    trace.write_text(lines[0] + "[" * 100_000 + "]" * 100_000 + "\n" + "".join(json.dumps(r) + "\n" for r in records[1:]))
    done = ponder("view", "--export", "md", str(trace), timeout=60)
    assert done.returncode == 0, done.stderr
    warnings = done.stderr.decode().splitlines()
    assert len(warnings) == 2 and all(w.startswith("ponder: warning: ") for w in warnings)
    assert "nested too deeply" in warnings[0] and "bad text (null)" in warnings[1]
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    assert "not a ponder trace" in _one_error_line(ponder("view", "--export", "md", str(deep), timeout=60), 2)


def test_fifos_and_devices_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    assert "FIFO" in _one_error_line(ponder("view", "--export", "md", str(fifo), timeout=60), 2)
    assert "FIFO" in _one_error_line(ponder("view", str(fifo), timeout=60), 2)
    assert "device" in _one_error_line(ponder("view", "--export", "md", "/dev/zero", timeout=60), 2)


def test_a_full_or_closed_stdout_is_one_line_and_exit_1():
    with open("/dev/full", "wb") as full:
        done = subprocess.run([*PONDER, "view", "--export", "md", str(REAL)], stdout=full, stderr=subprocess.PIPE,
                              timeout=60)
    assert "cannot write" in _one_error_line(done, 1)
    closed = subprocess.run([*PONDER, "view", "--export", "md", str(REAL)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, timeout=60, preexec_fn=lambda: os.close(1))
    assert "stdout" in _one_error_line(closed, 1)


def test_export_ignores_the_theme_and_the_app_refuses_an_unknown_one():
    done = ponder("view", "--export", "md", str(REAL), env={"PONDER_THEME": "neon"}, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith(b"# ponder run ")
    assert "unknown theme 'neon'" in _one_error_line(ponder("view", str(REAL), env={"PONDER_THEME": "neon"}, timeout=60), 2)
    assert "unknown theme" in _one_error_line(ponder("view", "--theme", "neon", str(REAL), timeout=60), 2)


def test_export_onto_the_trace_it_reads_is_refused_and_the_trace_kept(tmp_path):
    trace = tmp_path / "run.jsonl"
    trace.write_bytes(REAL.read_bytes())
    (tmp_path / "link.jsonl").symlink_to(trace)
    for out in (trace, tmp_path / "link.jsonl"):
        done = ponder("view", "--export", "md", "-o", str(out), str(trace), timeout=60)
        assert done.returncode == 2
        assert done.stderr.decode() == f"ponder: error: -o {out} is the trace being exported; choose another file\n"
    assert trace.read_bytes() == REAL.read_bytes()


def test_export_into_a_directory_or_a_missing_folder_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "d").mkdir()
    done = ponder("view", "--export", "md", "-o", str(tmp_path / "d"), str(REAL), timeout=60)
    assert done.returncode == 2 and done.stderr.decode().endswith("is a directory; name a file\n")
    done = ponder("view", "--export", "md", "-o", str(tmp_path / "absent" / "run.md"), str(REAL), timeout=60)
    assert done.returncode == 1 and done.stderr.decode().startswith("ponder: error: cannot write ")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d"]


def test_export_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "link.md").symlink_to(tmp_path / "real.md")
    done = ponder("view", "--export", "md", "-o", str(tmp_path / "link.md"), str(REAL), timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.md").is_symlink() and (tmp_path / "real.md").read_text().startswith("# ponder run ")


def test_a_trace_name_longer_than_the_system_allows_is_one_line():
    done = ponder("view", "--export", "md", "a" * 300, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode().startswith("ponder: error: trace ") and done.stderr.decode().endswith(": File name too long\n")


def test_an_unknown_theme_with_an_escape_is_shown_escaped_once():
    line = _one_error_line(ponder("view", "--theme", "\x1b[31m", str(REAL), timeout=60), 2)
    assert "unknown theme '\\x1b[31m'" in line and "\\\\x1b" not in line
