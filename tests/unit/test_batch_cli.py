"""`ponder batch` and `ponder eval` as processes on the fake backend: files, stdin, resume,
interrupts, bad input and exit codes."""

import json
import os
import resource
import signal
import subprocess
import time

from tests.cli_helpers import PONDER, fake_script, ponder, signal_once_tracing
from tests.unit import scripts


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def script_for(tmp_path, delay=0.0):
    return fake_script(tmp_path, scripts.PASSING | scripts.ACCEPT, delay=delay)


def test_text_file_to_output_file(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n\nAnd again?\n")
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(tmp_path / "out.jsonl"),
                  "-m", script_for(tmp_path), "--trace-dir", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    out = records(tmp_path / "out.jsonl")
    assert [(r["id"], r["status"], r["answer"]) for r in out] == [("1", "ok", "9"), ("3", "ok", "9")]
    assert all(r["strategy"] == "chain" and r["usage"]["completion_tokens"] > 0 for r in out)
    assert all((tmp_path / "t").joinpath(r["trace"].split("/")[-1]).exists() for r in out)
    assert done.stdout == b""


def test_jsonl_from_stdin_to_stdout_with_known_answers(tmp_path):
    data = '{"id": "x", "question": "q", "answer": "9", "topic": "sub"}\n{"id": "y", "question": "q", "answer": "10"}\n'
    done = ponder("batch", "--strategy", "chain", "-", "-m", script_for(tmp_path), "--no-trace", stdin=data)
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [(r["id"], r["correct"]) for r in out] == [("x", True), ("y", False)]
    assert out[0]["extra"] == {"answer": "9", "topic": "sub"}
    assert b"\x1b" not in done.stdout + done.stderr
    assert done.returncode == 0


def test_bad_lines_fail_alone_and_exit_4(tmp_path):
    (tmp_path / "q.jsonl").write_bytes(b'{"id": "a", "question": "q"}\n{"id": "a", "question": "q"}\n\xff\n'
                                       + b"{" * 70_000 + b"\n")
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.jsonl"), "-m", script_for(tmp_path), "--no-trace")
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert done.returncode == 4
    assert [(r["id"], r["status"]) for r in out] == [("a", "ok"), ("line:2", "error"), ("line:3", "error"),
                                                      ("line:4", "error")]
    assert done.stderr == b'ponder: 3 item(s) failed: their result records have status "error" and say why\n'


def test_existing_output_needs_resume_and_resume_needs_output(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "1", "status": "ok"}\n')
    (tmp_path / "q.txt").write_text("q\n")
    refused = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "-m", "fake")
    assert refused.returncode == 2 and b"--resume" in refused.stderr
    assert out.read_text() == '{"id": "1", "status": "ok"}\n'
    assert ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "--resume", "-m", "fake").returncode == 2
    assert ponder("batch", "--strategy", "chain", str(tmp_path / "missing.txt"), "-m", "fake").returncode == 2


def test_resume_repairs_a_torn_last_line_and_never_repeats_an_id(tmp_path):
    (tmp_path / "q.txt").write_text("a\nb\nc\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "1", "status": "ok", "answer": "9", "error": None}) + "\n" + '{"id": "2", "sta')
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in records(out)]
    assert ids == ["1", "2", "3"]
    assert (tmp_path / "out.jsonl.rejected").read_text() == '{"id": "2", "sta\n'  # kept aside, not trusted


def test_ctrl_c_stops_at_an_item_boundary_and_resume_finishes(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"question {i}?\n" for i in range(6)))
    out = tmp_path / "out.jsonl"
    spec = script_for(tmp_path, delay=0.02)
    proc = subprocess.Popen([*PONDER, "batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "-m", spec, "--no-trace"],
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
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", spec, "--no-trace")
    assert done.returncode == 0
    ids = [r["id"] for r in records(out)]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 7)] and len(ids) == len(set(ids))


def test_a_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"question {i}?\n" for i in range(5)))
    out = tmp_path / "out.jsonl"
    spec = script_for(tmp_path, delay=0.02)
    proc = subprocess.Popen([*PONDER, "batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "-m", spec, "--no-trace"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or not out.read_text()):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", spec, "--no-trace")
    assert done.returncode == 0
    ids = [r["id"] for r in records(out)]
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5"]


def test_eval_reports_accuracy_table_json_and_plot(tmp_path):
    data = tmp_path / "gsm.jsonl"
    data.write_text('{"id": "a", "question": "q", "answer": "#### 9"}\n{"id": "b", "question": "q", "answer": "#### 8"}\n'
                    '{"id": "c", "question": "q", "answer": "#### 9"}\n')
    done = ponder("eval", "--strategy", "chain", str(data), "-m", script_for(tmp_path), "--limit", "2", "--out-dir", str(tmp_path / "ev"), "--no-trace")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    chain = report["strategies"]["chain"]
    assert (chain["questions"], chain["correct"], chain["accuracy"]) == (2, 1, 0.5)
    assert chain["ci95"][0] < 0.5 < chain["ci95"][1]
    assert b"chain" in done.stdout and b"50.0%" in done.stdout
    assert (tmp_path / "ev" / "accuracy_vs_tokens.png").read_bytes()[:4] == b"\x89PNG"


def test_dash_as_the_output_is_stdout(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    done = subprocess.run([*PONDER, "batch", "q.txt", "-o", "-", "--strategy", "chain", "-m", script_for(tmp_path), "--no-trace"],
                          cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["answer"] for line in done.stdout.splitlines()] == ["9"]
    assert not (tmp_path / "-").exists()


def test_a_plot_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    data = tmp_path / "gsm.jsonl"
    data.write_text('{"id": "a", "question": "q", "answer": "#### 9"}\n')
    (tmp_path / "ev" / "accuracy_vs_tokens.png").mkdir(parents=True)
    done = ponder("eval", "--strategy", "chain", str(data), "-m", script_for(tmp_path), "--out-dir", str(tmp_path / "ev"), "--no-trace")
    assert done.returncode == 2 and b"accuracy_vs_tokens.png is a directory" in done.stderr
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["accuracy_vs_tokens.png"]


def test_a_results_path_longer_than_the_system_allows_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    data = tmp_path / "gsm.jsonl"
    data.write_text('{"id": "a", "question": "q", "answer": "#### 9"}\n')
    long = str(tmp_path / ("a" * 300))
    for args in (("batch", str(tmp_path / "q.txt"), "-o", long), ("eval", str(data), "--out-dir", long)):
        done = ponder(*args, "--strategy", "chain", "-m", script_for(tmp_path), "--no-trace")
        assert done.returncode == 2, done.stderr
        assert done.stderr.decode().startswith("ponder: error: File name too long: ")
        assert len(done.stderr.decode().splitlines()) == 1


def test_eval_rejects_unknown_strategies_and_unanswered_data(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "q"}\n')
    assert ponder("eval", str(data), "--strategy", "telepathy", "-m", "fake").returncode == 2
    done = ponder("eval", "--strategy", "chain", str(data), "-m", "fake", "--out-dir", str(tmp_path / "ev"))
    assert done.returncode == 2 and b"answer" in done.stderr


def test_an_output_that_is_the_input_is_refused(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("a\nb\n")
    (tmp_path / "alias.txt").symlink_to("q.txt")
    for args, stdin in [((str(questions), "-o", str(questions), "--resume"), ""),
                        ((str(questions), "-o", str(tmp_path / "alias.txt")), ""),
                        (("-", "-o", str(questions), "--resume"), None)]:
        with open(questions, "rb") as f:
            done = subprocess.run([*PONDER, "batch", "--strategy", "chain", *args, "-m", "fake", "--no-trace"], capture_output=True,
                                  stdin=f if stdin is None else subprocess.DEVNULL, timeout=60)
        assert done.returncode == 2 and b"is the input file" in done.stderr, (args, done.stderr)
    assert questions.read_text() == "a\nb\n"


def test_an_input_named_where_a_resume_sets_lines_aside_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("garbage\n")
    questions = tmp_path / "out.jsonl.rejected"
    questions.write_text("a\nb\n")
    done = ponder("batch", "--strategy", "chain", str(questions), "-o", str(out), "--resume", "-m", "fake", "--no-trace")
    assert done.returncode == 2 and b"sets lines aside" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert questions.read_text() == "a\nb\n" and out.read_text() == "garbage\n"


def test_resume_trusts_only_whole_records_and_says_what_it_set_aside(tmp_path):
    (tmp_path / "q.txt").write_text("a\nb\nc\nd\n")
    out = tmp_path / "out.jsonl"
    whole = {"id": "1", "line": 1, "question": "a", "answer": "9", "status": "ok", "error": None}
    out.write_text(json.dumps(whole) + "\ngarbage\n" + '{"id": 3}\n' + json.dumps({**whole, "id": "4"}))
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(b"\n") == 1 and b"3 line(s)" in done.stderr and b"out.jsonl.rejected" in done.stderr
    assert [r["id"] for r in records(out)] == ["1", "2", "3", "4"]
    assert len((tmp_path / "out.jsonl.rejected").read_text().splitlines()) == 3


def test_a_device_output_fails_in_one_line_and_is_never_read_on_resume(tmp_path):
    for args, code in [(("-o", "/dev/full"), 1), (("-o", "/dev/full", "--resume"), 2), (("-o", "/dev/zero", "--resume"), 2)]:
        done = ponder("batch", "--strategy", "chain", "-", *args, "-m", "fake", "--no-trace", stdin="q\n", timeout=60)
        assert done.returncode == code, (args, done.stderr)
        assert done.stderr.count(b"\n") == 1 and done.stderr.startswith(b"ponder: error:"), done.stderr


def test_results_on_stdout_that_fail_are_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([*PONDER, "batch", "--strategy", "chain", "-", "-m", "fake", "--no-trace"], input=b"q\n", stdout=full,
                              stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 1 and done.stderr.count(b"\n") == 1 and b"stdout" in done.stderr, done.stderr


def full_disk_at(limit):
    """A child whose files cannot grow past `limit` bytes: writes then fail, as on a full disk."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_stops_the_batch_in_one_line_leaving_whole_lines(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"question {i}?\n" for i in range(6)))
    out = tmp_path / "out.jsonl"
    spec = "fake"  # runs no sandboxed check, which the file size limit would also hit
    done = subprocess.run([*PONDER, "batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "-m", spec, "--no-trace"],
                          capture_output=True, stdin=subprocess.DEVNULL, preexec_fn=full_disk_at(1200), timeout=120)
    assert done.returncode == 1 and done.stderr.count(b"\n") == 1, done.stderr
    assert b"cannot write results file" in done.stderr
    assert out.read_bytes().endswith(b"\n") and 1 <= len(records(out)) < 6
    traces = tmp_path / "t"
    done = subprocess.run([*PONDER, "batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(tmp_path / "o2.jsonl"), "-m", spec,
                           "--trace-dir", str(traces)], capture_output=True, stdin=subprocess.DEVNULL,
                          preexec_fn=full_disk_at(3000), timeout=120)
    assert done.returncode == 1 and done.stderr.count(b"\n") == 1 and b"cannot write the trace" in done.stderr
    for trace in traces.iterdir():  # cut back to whole lines, never a 0-byte trace
        assert trace.stat().st_size > 0 and trace.read_bytes().endswith(b"\n")
    resumed = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "-m", spec, "--no-trace")
    assert resumed.returncode == 0 and [r["id"] for r in records(out)] == [str(i) for i in range(1, 7)]


def test_non_finite_numbers_are_written_as_strict_json(tmp_path):
    data = '{"id": "a", "question": "q", "n": 1e999, "w": [NaN, -Infinity]}\n{"id": "b", "question": "two"}\n'
    traces = tmp_path / "t"
    done = ponder("batch", "--strategy", "chain", "-", "-m", script_for(tmp_path), "--trace-dir", str(traces), stdin=data)
    assert done.returncode == 0, done.stderr

    def strict(text):
        return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

    out = [strict(line) for line in done.stdout.decode("ascii").splitlines()]
    assert [r["id"] for r in out] == ["a", "b"]
    assert out[0]["extra"] == {"n": "Infinity", "w": ["NaN", "-Infinity"]}
    for trace in traces.iterdir():
        assert [strict(line) for line in trace.read_text(encoding="ascii").splitlines()][-1]["status"] == "ok"


def interrupt_mid_item(tmp_path, args, sig):
    spec = fake_script(tmp_path, ["word " * 400] * 40, delay=0.01)
    traces = tmp_path / "t"
    proc = subprocess.Popen([*PONDER, *args, "-m", spec, "--trace-dir", str(traces)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    signal_once_tracing(proc, traces, sig, settle=0.3)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, [json.loads(t.read_text().splitlines()[-1]) for t in traces.iterdir()]


def test_sigterm_in_batch_and_sigint_in_eval_close_the_running_trace(tmp_path):
    (tmp_path / "q.txt").write_text("a\nb\n")
    code, err, lasts = interrupt_mid_item(tmp_path, ["batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "o")],
                                          signal.SIGTERM)
    assert code == 143 and b"--resume" in err, err
    assert lasts and all(e["type"] == "run_finished" for e in lasts) and lasts[-1]["status"] == "interrupted"
    (tmp_path / "d.jsonl").write_text('{"question": "a", "answer": "1"}\n')
    os.rename(tmp_path / "t", tmp_path / "t-batch")
    code, err, lasts = interrupt_mid_item(tmp_path, ["eval", str(tmp_path / "d.jsonl"), "--out-dir", str(tmp_path / "ev")],
                                          signal.SIGINT)
    assert code == 130, err
    assert [(e["type"], e["status"]) for e in lasts] == [("run_finished", "interrupted")]


def test_nesting_that_json_reads_but_cannot_write_back_is_a_bad_line(tmp_path):
    """Near 975 levels (where exactly depends on the stack) json.loads succeeded and json.dumps
    raised: a traceback before any item ran."""
    lines = [b'{"id": "e", "question": "q"}\n'] + [
        b'{"id": "d%d", "question": "q", "x": ' % depth + b"[" * depth + b"]" * depth + b"}\n"
        for depth in range(950, 1000)]
    (tmp_path / "q.jsonl").write_bytes(b"".join(lines))
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.jsonl"), "-m", script_for(tmp_path), "--no-trace")
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert done.returncode == 4 and b"Traceback" not in done.stderr
    assert [(r["id"], r["status"]) for r in out] == [("e", "ok")] + [(f"line:{n}", "error") for n in range(2, 52)]


def test_resume_with_ill_typed_records_runs_those_items_again(tmp_path):
    """A record that is whole but holds `usage: "bad"`, a string `correct` or a word for seconds
    crashed the eval report after every item had run (and on every rerun)."""
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "1", "question": "What is 17*23?", "answer": "391"}\n'
                    '{"id": "2", "question": "What is 2+2?", "answer": "4"}\n')
    out = tmp_path / "o"
    out.mkdir()
    (out / "chain.jsonl").write_text(
        '{"id": "1", "question": "What is 17*23?", "status": "ok", "answer": "391", "error": null, "usage": "bad"}\n'
        '{"id": "2", "question": "What is 2+2?", "status": "ok", "answer": "5", "error": null, "correct": "false", '
        '"seconds": "slow"}\n')
    done = ponder("eval", str(data), "--strategy", "chain", "-m", script_for(tmp_path), "--no-trace",
                  "--out-dir", str(out), "--resume")
    assert done.returncode in (0, 4) and b"Traceback" not in done.stderr, done.stderr
    assert b"2 line(s)" in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["strategies"]["chain"]["questions"] == 2
    assert [r["id"] for r in records(out / "chain.jsonl")] == ["1", "2"]


def test_resume_counts_only_the_items_of_this_input_and_refuses_another_inputs_results(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "q1"}\n{"id": "b", "question": ""}\n')
    out = tmp_path / "out.jsonl"
    args = ("batch", "--strategy", "chain", str(questions), "-m", script_for(tmp_path), "--no-trace", "-o", str(out))
    assert ponder(*args).returncode == 4
    questions.write_text('{"id": "a", "question": "q1"}\n{"id": "b", "question": "now fixed"}\n')
    assert ponder(*args, "--resume").returncode == 0  # the bad line's old record is no item of this input
    questions.write_text('{"id": "a", "question": "another question"}\n')
    with out.open("a") as f:
        f.write("junk\n")  # a line resuming would set aside
    before = out.read_bytes()
    foreign = ponder(*args, "--resume")
    assert foreign.returncode == 2 and b"another input's results" in foreign.stderr
    assert foreign.stderr.count(b"\n") == 1  # no warning that lines were moved: nothing was
    assert out.read_bytes() == before and not (tmp_path / "out.jsonl.rejected").exists()


def test_a_rejected_lines_file_that_is_a_fifo_is_one_line_not_a_hang(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("q1\nq2\n")
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "1", "status": "ok"')  # a torn last line to set aside
    os.mkfifo(tmp_path / "out.jsonl.rejected")
    done = ponder("batch", "--strategy", "chain", str(questions), "-m", script_for(tmp_path), "--no-trace",
                  "-o", str(out), "--resume", timeout=60)
    assert done.returncode == 1 and b"not a regular file" in done.stderr and b"Traceback" not in done.stderr
    assert out.read_text() == '{"id": "1", "status": "ok"'


def test_an_output_ending_in_a_slash_names_a_directory_and_is_refused(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("q1\n")
    done = ponder("batch", str(questions), "-m", "fake", "--no-trace", "-o", str(tmp_path / "newdir") + "/")
    assert done.returncode == 2 and b"names a directory" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.txt"]


def test_an_empty_output_path_is_refused_in_one_line(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("q1\n")
    done = ponder("batch", str(questions), "-m", "fake", "--no-trace", "-o", "")
    assert done.returncode == 2 and b"is empty; give a file name" in done.stderr and done.stderr.count(b"\n") == 1


def test_eval_draws_any_dataset_name_as_written(tmp_path):
    for name in (b"cost_$5_vs_$.jsonl", b"d\xff.jsonl"):
        data = os.fsencode(tmp_path) + b"/" + name
        with open(data, "w") as f:
            f.write('{"id": "a", "question": "q", "answer": "#### 9"}\n')
        out = tmp_path / f"ev{len(name)}"
        done = ponder("eval", "--strategy", "chain", data, "-m", script_for(tmp_path), "--out-dir", str(out), "--no-trace")  # type: ignore[arg-type]
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
        assert (out / "accuracy_vs_tokens.png").read_bytes()[:4] == b"\x89PNG"
        assert sorted(p.name for p in out.iterdir()) == ["accuracy_vs_tokens.png", "chain.jsonl", "report.json"]


def test_a_dataset_that_is_one_of_evals_outputs_is_refused(tmp_path):
    line = '{"id": "a", "question": "q", "answer": "#### 9"}\n'
    for output in ("report.json", "accuracy_vs_tokens.png", "chain.jsonl"):
        data = tmp_path / output
        data.write_text(line)
        done = ponder("eval", "--strategy", "chain", str(data), "-m", script_for(tmp_path), "--out-dir", str(tmp_path), "--no-trace")
        assert done.returncode == 2 and b"is the input file; choose another --out-dir" in done.stderr, done.stderr
        assert data.read_text() == line
        data.unlink()


def test_a_results_fifo_with_no_reader_is_one_line_not_a_wait(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    os.mkfifo(tmp_path / "fifo")
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "fifo"), "-m", script_for(tmp_path), "--no-trace",
                  timeout=60)
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1
    assert b"a FIFO with no reader" in done.stderr


def test_a_results_pipe_with_a_reader_gets_the_records(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    os.mkfifo(tmp_path / "fifo")
    reader = subprocess.Popen(["cat", str(tmp_path / "fifo")], stdout=subprocess.PIPE)
    try:
        time.sleep(0.2)
        done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "fifo"), "--strategy", "chain",
                      "-m", script_for(tmp_path), "--no-trace", timeout=60)
        out, _ = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["answer"] for line in out.splitlines()] == ["9"]


def test_paths_in_warnings_and_errors_stay_one_visible_line(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    out = tmp_path / "out\x1b[2J.jsonl"
    out.write_text('{"id": 3}\n')
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(out), "--resume", "--strategy", "chain",
                  "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 0 and b"\x1b" not in done.stderr and b"out\\x1b[2J.jsonl" in done.stderr
    missing = ponder("batch", str(tmp_path / "a\nb"), "-m", "fake", "--no-trace")
    assert missing.returncode == 2 and missing.stderr.count(b"\n") == 1 and b"a\\x0ab" in missing.stderr


def test_an_empty_directory_and_a_context_past_what_llama_cpp_counts_are_refused(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "question": "q", "answer": "#### 9"}\n')
    for args, says in [(("eval", str(data), "--out-dir", ""), b"'--out-dir': is empty; give a directory"),
                       (("ask", "--trace-dir", "", "q"), b"'--trace-dir': is empty; give a directory"),
                       (("ask", "--no-trace", "--ctx", str(2**32 + 256), "q"), b"'--ctx'")]:
        done = subprocess.run([*PONDER, *args, "-m", "fake"], cwd=tmp_path, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=60)
        assert done.returncode == 2 and says in done.stderr and done.stderr.count(b"\n") == 1, (args, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]


def test_a_second_run_on_a_results_file_in_use_is_refused(tmp_path):
    (tmp_path / "q.txt").write_text("".join(f"What is {i} + 1?\n" for i in range(6)))
    out = tmp_path / "out.jsonl"
    args = ["batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out), "-m",
            script_for(tmp_path, delay=0.05), "--no-trace"]
    first = subprocess.Popen([*PONDER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        for extra in ([], ["--resume"]):
            second = ponder(*args, *extra)
            assert second.returncode == 2 and b"another ponder is writing" in second.stderr, second.stderr
    finally:
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert sorted(r["id"] for r in records(out)) == [str(i) for i in range(1, 7)]


def test_resuming_a_file_that_holds_no_results_is_refused_and_changes_nothing(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    script = tmp_path / "notes.json"
    script.write_text('{\n  "says": {"answer": "9"}\n}\n')
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(script), "--resume",
                  "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 2 and b"not a results file" in done.stderr and done.stderr.count(b"\n") == 1
    assert script.read_text() == '{\n  "says": {"answer": "9"}\n}\n' and not (tmp_path / "notes.json.rejected").exists()


def test_a_run_that_fails_before_its_first_record_leaves_no_file(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    out = tmp_path / "new" / "out.jsonl"
    done = ponder("batch", "--strategy", "chain", str(tmp_path / "q.txt"), "-o", str(out),
                  "-m", str(tmp_path / "none.gguf"), "--no-trace")
    assert done.returncode == 3 and not out.exists(), done.stderr


def test_stdout_redirected_into_the_input_is_refused(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("What is 16 - 3 - 4?\n")
    with open(questions, "ab") as stdout:
        done = subprocess.run([*PONDER, "batch", "--strategy", "chain", str(questions), "-m", script_for(tmp_path),
                               "--no-trace"], stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 2 and b"stdout is the input file" in done.stderr, done.stderr
    assert questions.read_text() == "What is 16 - 3 - 4?\n"


def test_eval_checks_every_strategys_file_before_it_sets_any_line_aside(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "question": "What is 16 - 3 - 4?", "answer": "9"}\n')
    out = tmp_path / "ev"
    out.mkdir()
    (out / "chain.jsonl").write_text('{"id": 3}\n')
    foreign = json.dumps({"id": "a", "question": "another", "status": "ok", "answer": "1", "error": None}) + "\n"
    (out / "vote.jsonl").write_text(foreign)
    done = ponder("eval", str(data), "--strategy", "chain,vote", "--out-dir", str(out), "--resume",
                  "-m", script_for(tmp_path), "--no-trace")
    assert done.returncode == 2 and b"choose another --out-dir" in done.stderr and done.stderr.count(b"\n") == 1
    assert (out / "chain.jsonl").read_text() == '{"id": 3}\n' and not (out / "chain.jsonl.rejected").exists()


def test_a_dataset_name_that_is_not_utf8_gives_a_report_that_is(tmp_path):
    data = os.path.join(os.fsencode(tmp_path), b"d\xff.jsonl")
    with open(data, "wb") as f:
        f.write(b'{"id": "a", "question": "What is 16 - 3 - 4?", "answer": "9"}\n')
    done = subprocess.run([*PONDER, "eval", data, "--strategy", "chain", "--out-dir", str(tmp_path / "ev"),
                           "-m", script_for(tmp_path), "--no-trace"], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_bytes().decode("utf-8"))
    assert report["dataset"].endswith("d\ufffd.jsonl") and "\ufffd" in report["command"]
    json.dumps(report).encode("utf-8")


def test_an_output_under_a_file_says_its_folder_is_not_a_directory(tmp_path):
    (tmp_path / "q.txt").write_text("What is 16 - 3 - 4?\n")
    (tmp_path / "afile").write_text("")
    done = ponder("batch", str(tmp_path / "q.txt"), "-o", str(tmp_path / "afile" / "out.jsonl"), "-m", "fake", "--no-trace")
    assert done.returncode == 2 and done.stderr.endswith(b"afile is not a directory\n"), done.stderr


def test_a_report_path_that_is_a_directory_is_refused_before_the_run(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "question": "What is 16 - 3 - 4?", "answer": "9"}\n')
    (tmp_path / "ev" / "report.json").mkdir(parents=True)
    done = ponder("eval", str(data), "--strategy", "chain", "--out-dir", str(tmp_path / "ev"), "-m", "fake", "--no-trace")
    assert done.returncode == 2 and b"report.json is a directory" in done.stderr, done.stderr
    assert not (tmp_path / "ev" / "chain.jsonl").exists()
