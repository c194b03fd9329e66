"""`ponder ask` as a process, on the fake backend: streams, formats, errors and exit codes."""

import json
import os
import shutil
import signal
import subprocess

import pytest

from tests.cli_helpers import PONDER, fake_script, ponder, signal_once_tracing
from tests.unit import scripts


def test_piped_stdout_gets_only_the_answer(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, stdin="What is 16 - 3 - 4?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"9\n"
    assert b"\x1b" not in done.stderr


def test_stdout_shows_a_word_answer_in_the_case_the_model_wrote_it(tmp_path):
    spec = fake_script(tmp_path, {"reason": "It is \\boxed{Paris}.", "program": "print(75)\n```"})
    done = ponder("ask", "-m", spec, "What is the capital of France?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Paris\n"
    json_done = ponder("ask", "-m", spec, "--json", "What is the capital of France?")
    assert json.loads(json_done.stdout)["answer"] == "paris"  # --json keeps the canonical form


def test_stdout_shows_a_poem_in_its_lines_and_escapes_what_a_terminal_would_obey(tmp_path):
    poem = "Autumn leaves fall,\nSilent trees \x1b[31mwhisper\x1b[0m,\x07\nPeace in the air."
    spec = fake_script(tmp_path, {"reason": poem, "program": "# no computing a poem\n```"})
    done = ponder("ask", "-m", spec, "Write a haiku about autumn.")
    assert done.returncode == 0, done.stderr  # the colour codes' digits are no answer; the bell is shown, not rung
    assert done.stdout == b"Autumn leaves fall,\nSilent trees whisper,\\x07\nPeace in the air\n"


def test_argument_and_stdin_combine(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "and then?", stdin="Context line.")
    run = json.loads(done.stdout)
    trace = [json.loads(line) for line in open(run["trace"])]
    assert trace[0]["question"] == "Context line.\nand then?"


def test_json_has_answer_steps_usage_and_trace(tmp_path):
    spec = fake_script(tmp_path, scripts.CORRECTED)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "q")
    run = json.loads(done.stdout)
    assert run["answer"] == "9" and run["status"] == "ok"
    assert [s["factor"] for s in run["steps"]][:4] == ["restate", "decompose", "hypothesize", "verify"]
    assert run["steps"][3]["tools"][0]["status"] == "ok"
    assert {"prompt_tokens_evaluated", "completion_tokens", "seconds", "tokens_per_second"} <= set(run["usage"])
    assert os.path.exists(run["trace"])


def test_events_on_stdout_equal_the_trace_file(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--events", "--trace-dir", str(tmp_path / "t"), "q")
    lines = done.stdout.decode().splitlines()
    (trace,) = list((tmp_path / "t").iterdir())
    assert lines == trace.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "run_started"
    assert json.loads(lines[-1])["type"] == "run_finished"


def test_no_trace_writes_nothing(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--no-trace", "--trace-dir", str(tmp_path / "t"), "q")
    assert done.returncode == 0 and not (tmp_path / "t").exists()


def test_hostile_model_text_never_reaches_the_terminal_raw(tmp_path):
    evil = "\x1b]0;pwned\x07\x1b[2J[bold red]markup[/]\u202e"
    outputs = [evil, evil, evil + "\nCandidate answer: 9", "print(9)\n```", "9\x1b[31m"]
    spec = fake_script(tmp_path, outputs)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--reasoning", "show", "q")
    assert done.returncode == 0
    assert b"\x1b" not in done.stdout + done.stderr and b"\x07" not in done.stderr
    assert "[bold red]markup[/]".encode() in done.stderr
    assert b"\\x1b" in done.stderr


def test_usage_errors_exit_2_with_one_line(tmp_path):
    cases = [
        ("ask",),
        ("ask", "--bogus", "q"),
        ("ask", "--json", "--events", "q"),
        ("ask", "--max-tokens", "0", "q"),
        ("ask", "--gpu-layers", "lots", "q"),
        ("ask", "--trace-dir", str(tmp_path / "file"), "q"),
    ]
    (tmp_path / "file").write_text("not a dir")
    for args in cases:
        done = ponder(*args, "-m", "fake", stdin="")
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count(b"\n") == 1 and done.stderr.startswith(b"ponder: error:"), done.stderr
        assert done.stdout == b""


def test_invalid_utf8_on_stdin_is_a_usage_error():
    done = ponder("ask", "--strategy", "chain", "-m", "fake", stdin=b"\xff\xfe what")
    assert done.returncode == 2 and b"UTF-8" in done.stderr


def test_model_problems_exit_3_without_traceback(tmp_path):
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_text("hello")
    for spec in (str(tmp_path / "missing.gguf"), str(not_gguf), str(tmp_path)):
        done = ponder("ask", "--strategy", "chain", "-m", spec, "q")
        assert done.returncode == 3, done.stderr
        assert b"Traceback" not in done.stderr and done.stderr.count(b"\n") == 1


def test_model_from_environment_variable(tmp_path):
    done = ponder("ask", "--strategy", "chain", "q", env={"PONDER_MODEL": str(tmp_path / "none.gguf")})
    assert done.returncode == 3 and b"none.gguf" in done.stderr


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_closes_the_trace_as_interrupted(tmp_path, signum, code):
    spec = fake_script(tmp_path, ["word " * 400] * 3, delay=0.01)
    proc = subprocess.Popen([*PONDER, "ask", "--strategy", "chain", "-m", spec, "--trace-dir", str(tmp_path / "t"), "q"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))  # not as nohup left it
    signal_once_tracing(proc, (tmp_path / "t"), signum, settle=0.5)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    (trace,) = list((tmp_path / "t").iterdir())
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] == "interrupted"
    assert out == b""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ignored_when_ponder_starts_stays_ignored(tmp_path, signum):
    spec = fake_script(tmp_path, ["word " * 100] * 3, delay=0.01)
    command = [*PONDER, "ask", "--strategy", "chain", "-m", spec, "--trace-dir", str(tmp_path / "t"), "q"]
    alone = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    shutil.rmtree(tmp_path / "t")
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN))  # as a `&` job's shell does
    signal_once_tracing(proc, (tmp_path / "t"), signum, settle=0.2)
    out, err = proc.communicate(timeout=60)
    (trace,) = list((tmp_path / "t").iterdir())
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] != "interrupted"
    assert (proc.returncode, out) == (alone.returncode, alone.stdout), err


def test_help_lists_the_flags():
    done = ponder("ask", "--help")
    assert done.returncode == 0
    for flag in (b"--model", b"--json", b"--events", b"--reasoning", b"--gpu-layers", b"--trace-dir"):
        assert flag in done.stdout


def test_json_carries_the_strategy_result(tmp_path):
    spec = fake_script(tmp_path, scripts.in_turn(scripts.PASSING | scripts.REVISE, scripts.PASSING | scripts.ACCEPT))
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "--no-trace", "q")
    run = json.loads(done.stdout)
    assert run["strategy"] == "chain" and run["answer"] == "9"
    assert [r["verdict"] for r in run["reviews"]] == ["revise", "accept"]
    assert [r["round"] for r in run["rounds"]] == [1, 2]


def test_vote_flags_reach_the_strategy(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "-m", spec, "--json", "--no-trace", "--strategy", "vote", "--samples", "3",
                  "--budget-tokens", "5000", "--parallel", "1", "q")
    run = json.loads(done.stdout)
    assert run["strategy"] == "vote" and run["vote"]["winner"] == "9"
    # two checked votes for 9 (1.5 each) cannot be overtaken by one more sample: early stop
    assert run["vote"]["samples"] == 2 and run["vote"]["stopped"] == "decided" and len(run["candidates"]) == 2
    waves = json.loads(ponder("ask", "-m", spec, "--json", "--no-trace", "--strategy", "vote", "--samples", "3",
                              "q").stdout)
    # in waves: a first wave of two (the fewest that could decide), which decides, as above
    assert waves["vote"]["samples"] == 2 and waves["vote"]["stopped"] == "decided"


def test_no_review_and_unknown_names_are_usage_errors_or_honoured(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "--no-trace", "--no-review", "q")
    assert json.loads(done.stdout)["reviews"] == []
    assert ponder("ask", "-m", spec, "--strategy", "telepathy", "q").returncode == 2
    assert ponder("ask", "-m", spec, "--strategy", "best-of-n", "--scorer", "vibes", "q").returncode == 2


def test_ask_help_fits_80_columns_in_grouped_panels():
    done = ponder("ask", "--help", env={"COLUMNS": "80", "TERM": "dumb"})
    text = done.stdout.decode()
    assert done.returncode == 0 and max(len(line) for line in text.splitlines()) <= 80
    for panel in ("Model", "Thinking", "Budget", "Output", "Sandbox"):
        assert f"─ {panel} " in text, panel


def test_every_bad_setting_exits_2_before_the_model_loads(tmp_path):
    missing_model = str(tmp_path / "never-loaded.gguf")  # loading it would exit 3
    cases = [
        ("ask", "--strategy", "vote", "--scorer", "nope", "q"),
        ("ask", "--strategy", "telepathy", "q"),
        ("ask", "--strategy", "chain,vote", "q"),
        ("ask", "--weighting", "heavy", "q"),
        ("ask", "--rule", "max", "q"),
        ("ask", "--budget-tokens", "10", "q"),
        ("ask", "--scorer", ",", "q"),
        ("ask", "-t", "inf", "q"),
        ("ask", "--seed", "99999999999999999999", "q"),
        ("batch", "-", "--strategy", "vote,beam"),
        ("eval", "data.jsonl", "--strategy", "chain,chain"),
    ]
    for args in cases:
        done = ponder(*args, "-m", missing_model, stdin="q\n")
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count(b"\n") == 1 and done.stderr.startswith(b"ponder: error:"), (args, done.stderr)


def test_strategies_lists_the_registry():
    from ponder.agent.strategies import STRATEGIES

    done = ponder("strategies")
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0 and [line.split()[0] for line in lines] == list(STRATEGIES)
    assert [line.split()[0] for line in lines if "(default)" in line] == ["cascade"]


def run_with(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close=None):
    """Run ponder with chosen stdout/stderr (a file such as /dev/full), or with fd `close` closed."""
    env = {k: v for k, v in os.environ.items() if k != "PONDER_MODEL"}
    return subprocess.run([*PONDER, *args], stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                          timeout=120, preexec_fn=(lambda: os.close(close)) if close is not None else None)


def one_error_line(stderr: bytes, text: bytes) -> bool:
    return stderr.count(b"\n") == 1 and stderr.startswith(b"ponder: error:") and text in stderr


def test_a_failing_stderr_never_costs_the_answer(tmp_path):
    with open("/dev/full", "w") as full:
        done = run_with(["ask", "-m", "fake", "--reasoning", "show", "--trace-dir", str(tmp_path / "t"), "q"],
                        stderr=full)
    assert done.returncode == 0 and done.stdout == b"391\n"
    closed = run_with(["ask", "-m", "fake", "--reasoning", "show", "--no-trace", "q"], close=2)
    assert closed.returncode == 0 and closed.stdout == b"391\n"
    (trace,) = (tmp_path / "t").iterdir()
    assert json.loads(trace.read_text().splitlines()[-1])["status"] == "ok"


def test_a_failing_stdout_is_one_line_naming_stdout_and_exit_1(tmp_path):
    (tmp_path / "code.py").write_text("print(1)\n")
    cases = [("ask", "-m", "fake", "--no-trace", "q"), ("ask", "-m", "fake", "--no-trace", "--json", "q"),
             ("ask", "-m", "fake", "--events", "--trace-dir", str(tmp_path / "t"), "q"),
             ("tools", "python", str(tmp_path / "code.py")), ("strategies",)]
    for args in cases:
        with open("/dev/full", "w") as full:
            done = run_with(args, stdout=full)
        assert done.returncode == 1, (args, done.stderr)
        assert one_error_line(done.stderr, b"cannot write to stdout: No space left on device"), (args, done.stderr)
    (trace,) = (tmp_path / "t").iterdir()  # --events: the trace still ends, saying what failed
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["status"] == "error" and "stdout" in last["error"]
    closed = run_with(["ask", "-m", "fake", "--no-trace", "q"], close=1)
    assert closed.returncode == 1 and one_error_line(closed.stderr, b"stdout is closed"), closed.stderr


def test_a_reader_that_goes_away_is_one_line_without_noise(tmp_path):
    proc = subprocess.Popen([*PONDER, "ask", "--strategy", "chain", "-m", "fake", "--events", "--no-trace", "q"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 1 and one_error_line(err, b"stdout"), err


def test_a_trace_directory_that_takes_no_files_is_a_usage_error(tmp_path):
    for directory in ("/proc/1", "/proc/self/fd"):
        done = ponder("ask", "--strategy", "chain", "-m", "fake", "--trace-dir", directory, "q")
        assert done.returncode == 2 and one_error_line(done.stderr, b"trace directory"), done.stderr


def test_a_run_without_an_answer_ends_as_an_error_in_json_and_the_trace(tmp_path):
    """`ask --json` said "status": "ok" (and the trace's run_finished too) while exiting 1."""
    spec = fake_script(tmp_path, [""] * 20)
    done = ponder("ask", "--strategy", "chain", "--json", "-m", spec, "--trace-dir", str(tmp_path / "t"), "q")
    assert done.returncode == 1 and b"the model gave no answer" in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "error" and result["answer"] is None
    (trace,) = list((tmp_path / "t").iterdir())
    last = json.loads(trace.read_text().splitlines()[-1])
    assert (last["status"], last["error"]) == ("error", "the model gave no answer")


def test_a_verbose_traceback_shows_control_characters_as_escapes(tmp_path):
    done = ponder("ask", "-v", "-m", f"fake:{tmp_path}/\x1b]52;c;aGk=\x07x.json", "q")
    assert done.returncode == 3 and b"Traceback" in done.stderr and b"ModelError" in done.stderr, done.stderr
    assert b"\x1b" not in done.stderr and b"\x07" not in done.stderr and b"\\x1b]52" in done.stderr
