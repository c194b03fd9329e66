"""`ponder ask` end to end on the real default model, as a process."""

from __future__ import annotations

import json

from tests.cli_helpers import ponder


def test_seventeen_times_twenty_three_is_checked_and_answered(tmp_path):
    done = ponder("ask", "--strategy", "chain", "--json", "--trace-dir", str(tmp_path), stdin="What is 17 * 23?\n")
    assert done.returncode == 0, done.stderr.decode()
    run = json.loads(done.stdout)
    assert run["answer"] == "391"
    factors = [json.loads(line).get("factor") for line in open(run["trace"])]
    for step in ("restate", "decompose", "verify"):
        assert step in factors
    verify = [s for s in run["steps"] if s["factor"] == "verify"]
    assert verify[0]["tools"] and verify[0]["tools"][0]["status"] == "ok"
    assert {t["tool"] for s in verify for t in s["tools"]} >= {"python"}
    # The arithmetic trap: the model's own working says 221; the sandboxed check catches it.
    assert verify[0]["outcome"] == "fail" and "MISMATCH" in verify[0]["observation"]
    usage = run["usage"]
    # every context (the chain's rounds, each review) evaluates at most its own transcript
    assert usage["prompt_tokens_evaluated"] + usage["completion_tokens"] <= usage["transcript_tokens_total"] + usage["steps"]
    # the review ran; whatever it said, the checked answer 391 stays
    assert run["strategy"] == "chain" and run["reviews"]


def test_piped_answer_only_and_events_match_the_trace(tmp_path):
    done = ponder("ask", "--strategy", "chain", "--events", "--trace-dir", str(tmp_path), "--max-tokens", "600",
                  stdin="Tom has 5 apples and buys 7 more. How many apples does he have?")
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    (trace,) = list(tmp_path.iterdir())
    assert lines == trace.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "run_finished" and last["answer"] == "12"
    assert last["usage"]["completion_tokens"] <= 600


def test_plain_pipe_prints_one_clean_line():
    """The default strategy (the cascade), as a shell script would call it."""
    done = ponder("ask", "--no-trace", stdin="What is 9 + 10?")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"19\n"
    assert done.stderr == b"", "llama.cpp's logs must be silent unless -v"


def test_truncated_gguf_exits_3_with_one_line(tmp_path, default_model_path):
    truncated = tmp_path / "truncated.gguf"
    with open(default_model_path, "rb") as src:
        truncated.write_bytes(src.read(20 * 1024 * 1024))
    done = ponder("ask", "-m", str(truncated), "q")
    assert done.returncode == 3
    assert b"Traceback" not in done.stderr
    assert done.stderr.decode().count("\n") == 1, done.stderr.decode()
