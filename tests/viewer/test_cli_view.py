"""`ponder view` as a subprocess: export to stdout or a file, exit codes, one-line errors."""

from __future__ import annotations

from tests.cli_helpers import ponder
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
