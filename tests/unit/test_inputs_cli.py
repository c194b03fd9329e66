"""Reading inputs, as processes: bounded reads, FIFOs and devices refused, argv that is not
UTF-8, an empty `-m`, question-file formats and JSON lines Python cannot hold."""

import json
import os
import subprocess

import pytest

from tests.cli_helpers import PONDER, ponder


def run(*args, stdin=subprocess.DEVNULL, timeout=60):
    """`ponder ARGS` with bytes arguments allowed and stdin any file (e.g. /dev/zero)."""
    env = {k: v for k, v in os.environ.items() if k != "PONDER_MODEL"}
    argv = [os.fsencode(a) for a in PONDER] + [a if isinstance(a, bytes) else a.encode() for a in args]
    return subprocess.run(argv, stdin=stdin, capture_output=True, env=env, timeout=timeout)


def one_line(done, code, words):
    assert done.returncode == code, done.stderr
    assert done.stderr.count(b"\n") == 1 and done.stderr.startswith(b"ponder: error:"), done.stderr
    assert words.encode() in done.stderr, done.stderr


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


def test_unbounded_sources_stop_at_their_limit():
    with open("/dev/zero", "rb") as zero:
        one_line(run("ask", "-m", "fake", "q", stdin=zero), 2, "larger than 256 KiB")
    with open("/dev/zero", "rb") as zero:
        one_line(run("tools", "python", "-", stdin=zero), 2, "larger than 1 MiB")
    one_line(run("tools", "python", "/dev/zero"), 2, "program /dev/zero: a device")
    one_line(run("ask", "-m", "fake:/dev/zero", "q"), 3, "fake script /dev/zero: a device")
    one_line(run("batch", "-m", "fake", "/dev/zero"), 2, "question file /dev/zero: a device")


def test_a_fifo_is_refused_at_once_never_waited_on(fifo):
    one_line(run("ask", "-m", f"fake:{fifo}", "q", timeout=20), 3, "a FIFO (named pipe)")
    one_line(run("ask", "-m", fifo, "q", timeout=20), 3, "a FIFO (named pipe)")
    one_line(run("batch", "-m", "fake", fifo, timeout=20), 2, "pipe it to stdin with '-' instead")
    one_line(run("tools", "python", fifo, timeout=20), 2, "a FIFO (named pipe)")


def test_a_symlink_loop_is_called_what_it_is(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    one_line(run("ask", "-m", str(loop), "q"), 3, "a symlink loop")
    one_line(run("ask", "-m", f"fake:{loop}", "q"), 3, "a symlink loop")


def test_arguments_that_are_not_utf8_are_one_line():
    one_line(run("ask", "-m", "fake", b"a\xffb"), 2, "the question is not valid UTF-8")
    one_line(run("tools", "check", b"1 + \xff == 2"), 2, "the claim is not valid UTF-8")
    one_line(run("ask", "-m", b"fake:\xff", "q"), 2, "-m/--model is not valid UTF-8")
    one_line(ponder("ask", "-m", "fake", stdin=b"\xff"), 2, "the question on stdin is not valid UTF-8")


def test_an_empty_model_is_a_usage_error_before_anything_is_written(tmp_path):
    one_line(run("ask", "-m", "", "q"), 2, "-m/--model is empty")
    out = tmp_path / "out.jsonl"
    one_line(ponder("batch", "-m", " ", "-o", str(out), "-", stdin="q\n"), 2, "-m/--model is empty")
    assert not out.exists()


def results(done):
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_bom_jsonl_and_a_brace_text_file_are_read_as_what_they_are(tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"id": "a", "question": "q1"}\n{"id": "b", "question": "q2"}\n')
    done = ponder("batch", "-m", "fake", "--no-trace", str(bom))
    assert done.returncode == 0 and [r["id"] for r in results(done)] == ["a", "b"]
    brace = tmp_path / "brace.txt"
    brace.write_text("{x} + 1 = 3: what is x?\nand y?\n")
    done = ponder("batch", "-m", "fake", "--no-trace", str(brace))
    assert done.returncode == 0 and [r["question"] for r in results(done)] == ["{x} + 1 = 3: what is x?", "and y?"]


def test_format_forces_text_or_jsonl(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "question": "q1"}\n')
    done = ponder("batch", "-m", "fake", "--no-trace", "--format", "text", str(items))
    assert done.returncode == 0 and results(done)[0]["question"] == '{"id": "a", "question": "q1"}'
    done = ponder("batch", "-m", "fake", "--no-trace", "--format", "jsonl", "-", stdin="plain\n")
    assert done.returncode == 4 and "not valid JSON" in results(done)[0]["error"]
    one_line(ponder("batch", "-m", "fake", "--format", "xml", str(items)), 2, "--format")


def test_json_lines_python_cannot_hold_fail_alone(tmp_path):
    data = (b'{"id": "s", "question": "\\ud800"}\n'
            b'{"id": "n", "question": "q", "n": ' + b"1" * 5000 + b'}\n'
            b'{"id": "z", "question": "fine"}\n')
    done = ponder("batch", "-m", "fake", "--no-trace", "-", stdin=data)
    rows = results(done)
    assert done.returncode == 4 and b"Traceback" not in done.stderr, done.stderr
    assert [(r["id"], r["status"]) for r in rows] == [("line:1", "error"), ("line:2", "error"), ("z", "ok")]
    assert "lone surrogate" in rows[0]["error"] and "number too long" in rows[1]["error"]


def test_a_trace_directory_that_is_a_file_says_so(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    one_line(run("ask", "-m", "fake", "--trace-dir", str(afile), "hi", timeout=20), 2, "it is not a directory")
