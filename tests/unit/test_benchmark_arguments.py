"""Every benchmark script: `--help` prints its usage and writes nothing; a bad count, an offset
below 0 or an argument it does not take is a usage error (exit 2) that writes nothing.

Each script runs as a user runs it, in its own process, and the results folder is compared
before and after (`quality_hint.py --help` once rewrote hint.md, and `quality_probe.py --help`
once died on a renamed helper)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py") if path.name != "arguments.py")
sys.path.insert(0, str(BENCHMARKS))
import arguments  # noqa: E402


def snapshot() -> dict[str, tuple[int, int]]:
    """Every file under benchmarks/results with its size and modification time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in (BENCHMARKS / "results").rglob("*") if p.is_file()}


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_every_script_is_covered():
    assert "quality.py" in SCRIPTS and "quality_learned.py" in SCRIPTS and len(SCRIPTS) >= 18


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage_and_writes_nothing(script, tmp_path):
    before = snapshot()
    done = run(script, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:")
    assert snapshot() == before and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["quality_arith.py", "quality_exec.py", "quality_features.py",
                                    "quality_signals.py", "quality_learned.py", "quality_hint.py"])
def test_an_argument_a_script_does_not_take_is_a_usage_error(script, tmp_path):
    before = snapshot()
    done = run(script, "1", "2", "3", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"{script}: error:")
    assert snapshot() == before


@pytest.mark.parametrize("script, args", [
    ("quality_backward.py", ["evaluate", "--items", "0"]),
    ("quality_backward.py", ["evaluate", "--offset", "-1"]),
    ("quality_confidence.py", ["score", "--items", "-5"]),
    ("quality_confidence.py", ["evaluate", "--items", "ten"]),
    ("quality_judge.py", ["--samples", "0"]),
    ("quality_walltime.py", ["--report", "--items", "0"]),
    ("quality_hint.py", ["-1", "150"]),
    ("quality_hint.py", ["0", "0"]),
    ("quality_learned.py", ["1"]),
    ("quality.py", ["report", "--parallel", "0"]),
    ("quality.py", ["report", "--top-p", "high"]),
    ("quality.py", ["collect", "--routes", "x-y", "--items", "1"]),
    ("quality.py", ["report", "--out", "/nonexistent/pool.jsonl"]),
    ("quality_walltime.py", ["--report", "--name", "../evil"]),
    ("quality_probe.py", ["evaluate", "--routes", "/nonexistent/routes.jsonl"]),
    ("strategies.py", ["--summarize", "--data", "/nonexistent/gsm8k.jsonl"]),
    ("strategies.py", ["--summarize", "--budgets", "1500,lots"]),
    ("strategies.py", ["--summarize", "--start", "-3"]),
    ("decode_speed.py", ["--trials", "0"]),
    ("parallel_sampling.py", ["--items", "0"]),
])
def test_a_number_out_of_range_is_a_usage_error_that_writes_nothing(script, args, tmp_path):
    before = snapshot()
    done = run(script, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(script) and ": error: argument " in last
    assert snapshot() == before


@pytest.mark.parametrize("kind, text, value", [(arguments.positive, "3", 3), (arguments.offset, "0", 0),
                                               (arguments.at_least(2), "2", 2), (arguments.fraction, "0.8", 0.8)])
def test_the_shared_types_take_what_is_in_range(kind, text, value):
    assert kind(text) == value


def test_a_report_without_a_pool_is_a_usage_error_that_writes_nothing(tmp_path):
    done = run("quality.py", "report", "--out", str(tmp_path / "pool.jsonl"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("quality.py: error: argument --out: no pool at ")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_model_is_one_line_and_exit_3_not_a_traceback(tmp_path):
    done = run("quality_judge.py", "--items", "1", "--model", str(tmp_path / "absent.gguf"), cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [f"quality_judge.py: error: model file {tmp_path / 'absent.gguf'}: not found"]


@pytest.mark.parametrize("spec, routes", [("0-7", list(range(8))), ("8,10, 12", [8, 10, 12]), ("3", [3]), ("2-3,3", [2, 3])])
def test_route_specs_read_as_route_numbers(spec, routes):
    import quality

    assert quality.parse_routes(spec) == routes
