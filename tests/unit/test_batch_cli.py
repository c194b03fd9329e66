"""`ponder batch` and `ponder eval` as processes on the fake backend: files, stdin, resume,
interrupts, bad input and exit codes."""

import json
import signal
import subprocess
import time

from tests.cli_helpers import PONDER, fake_script, ponder
from tests.unit import scripts


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def script_for(tmp_path, delay=0.0):
    return fake_script(tmp_path, scripts.PASSING | scripts.ACCEPT, delay=delay)


def test_text_file_to_output_file(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n\nAnd again?\n")
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "out.jsonl"),
                  "-m", script_for(tmp_path), "--trace-dir", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    out = records(tmp_path / "out.jsonl")
    assert [(r["id"], r["status"], r["answer"]) for r in out] == [("1", "ok", "9"), ("3", "ok", "9")]
    assert all(r["strategy"] == "chain" and r["usage"]["completion_tokens"] > 0 for r in out)
    assert all((tmp_path / "t").joinpath(r["trace"].split("/")[-1]).exists() for r in out)
    assert done.stdout == b""


def test_jsonl_from_stdin_to_stdout_with_known_answers(tmp_path):
    data = '{"id": "x", "question": "q", "answer": "9", "topic": "sub"}\n{"id": "y", "question": "q", "answer": "10"}\n'
    done = ponder("batch", "-", "-m", script_for(tmp_path), "--no-trace", stdin=data)
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [(r["id"], r["correct"]) for r in out] == [("x", True), ("y", False)]
    assert out[0]["extra"] == {"answer": "9", "topic": "sub"}
    assert b"\x1b" not in done.stdout + done.stderr
    assert done.returncode == 0


def test_bad_lines_fail_alone_and_exit_4(tmp_path):
    (tmp_path / "q.jsonl").write_bytes(b'{"id": "a", "question": "q"}\n{"id": "a", "question": "q"}\n\xff\n'
                                       + b"{" * 70_000 + b"\n")
    done = ponder("batch", str(tmp_path / "q.jsonl"), "-m", script_for(tmp_path), "--no-trace")
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert done.returncode == 4
    assert [(r["id"], r["status"]) for r in out] == [("a", "ok"), ("line:2", "error"), ("line:3", "error"),
                                                      ("line:4", "error")]


def test_existing_output_needs_resume_and_resume_needs_output(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "1", "status": "ok"}\n')
    (tmp_path / "q.txt").write_text("q\n")
    refused = ponder("batch", str(tmp_path / "q.txt"), "-o", str(out), "-m", "fake")
    assert refused.returncode == 2 and b"--resume" in refused.stderr
    assert out.read_text() == '{"id": "1", "status": "ok"}\n'
    assert ponder("batch", str(tmp_path / "q.txt"), "--resume", "-m", "fake").returncode == 2
    assert ponder("batch", str(tmp_path / "missing.txt"), "-m", "fake").returncode == 2


def test_resume_repairs_a_torn_last_line_and_never_repeats_an_id(tmp_path):
    (tmp_path / "q.txt").write_text("a\nb\nc\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "1", "status": "ok", "answer": "9"}) + "\n" + '{"id": "2", "sta')
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in records(out)]
    assert ids == ["1", "2", "3"]


def test_ctrl_c_stops_at_an_item_boundary_and_resume_finishes(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"question {i}?\n" for i in range(6)))
    out = tmp_path / "out.jsonl"
    spec = script_for(tmp_path, delay=0.02)
    proc = subprocess.Popen([*PONDER, "batch", str(tmp_path / "q.txt"), "-o", str(out), "-m", spec, "--no-trace"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or not out.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"--resume" in err
    first = records(out)  # every written line is valid JSON
    assert 1 <= len(first) < 6
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", spec, "--no-trace")
    assert done.returncode == 0
    ids = [r["id"] for r in records(out)]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 7)] and len(ids) == len(set(ids))


def test_a_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"question {i}?\n" for i in range(5)))
    out = tmp_path / "out.jsonl"
    spec = script_for(tmp_path, delay=0.02)
    proc = subprocess.Popen([*PONDER, "batch", str(tmp_path / "q.txt"), "-o", str(out), "-m", spec, "--no-trace"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or not out.read_text()):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", spec, "--no-trace")
    assert done.returncode == 0
    ids = [r["id"] for r in records(out)]
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5"]


def test_eval_reports_accuracy_table_json_and_plot(tmp_path):
    data = tmp_path / "gsm.jsonl"
    data.write_text('{"id": "a", "question": "q", "answer": "#### 9"}\n{"id": "b", "question": "q", "answer": "#### 8"}\n'
                    '{"id": "c", "question": "q", "answer": "#### 9"}\n')
    done = ponder("eval", str(data), "-m", script_for(tmp_path), "--limit", "2", "--out-dir", str(tmp_path / "ev"), "--no-trace")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    chain = report["strategies"]["chain"]
    assert (chain["questions"], chain["correct"], chain["accuracy"]) == (2, 1, 0.5)
    assert chain["ci95"][0] < 0.5 < chain["ci95"][1]
    assert b"chain" in done.stdout and b"50.0%" in done.stdout
    assert (tmp_path / "ev" / "accuracy_vs_tokens.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_rejects_unknown_strategies_and_unanswered_data(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "q"}\n')
    assert ponder("eval", str(data), "--strategy", "telepathy", "-m", "fake").returncode == 2
    done = ponder("eval", str(data), "-m", "fake", "--out-dir", str(tmp_path / "ev"))
    assert done.returncode == 2 and b"answer" in done.stderr
