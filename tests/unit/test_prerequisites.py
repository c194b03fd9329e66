"""scripts/prerequisites.sh, the system check of `make ask`, `make test` and .ci/run, run with a
PATH of stand-ins: it names what is missing and how to install it in one line, installs with
apt-get only as root (here in dry-run mode: nothing is installed), and announces the build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "prerequisites.sh"
BASH = "/bin/bash"
BUILD_TOOLS = ("cc", "c++", "cmake", "make")


@pytest.fixture
def machine(tmp_path):
    """A bare machine: a bin directory holding only `id` (which says who we are) and what a test adds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()

    def run(goal: str, *, tools=(), root: bool = False, apt: bool = True, built: bool | str = False,
            python: str = sys.executable, dry_run: bool = True, scripts: dict[str, str] | None = None,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        for path in bin_dir.iterdir():
            path.unlink()
        stub(bin_dir / "id", f"echo {0 if root else 1000}")
        if apt:  # never to be run: dry-run mode prints instead
            stub(bin_dir / "apt-get", f"touch {tmp_path / 'apt-get-ran'}; exit 1")
        for tool in tools:
            stub(bin_dir / tool, "exit 0")
        for tool, body in (scripts or {}).items():
            stub(bin_dir / tool, body)
        venv = tmp_path / "venv"
        if built:  # a venv whose python finds llama_cpp (and answers what `built` says, when it is a script)
            stub(venv / "bin" / "python", built if isinstance(built, str) else "exit 0")
        env = {"PATH": str(bin_dir), "PYTHON": python, "VENV": str(venv), "OSTYPE": "linux-gnu",
               "CUDA_HOME": str(tmp_path / "cuda"), **(env_extra or {})}  # not this machine's /usr/local/cuda
        if dry_run:
            env["PONDER_PREREQ_DRY_RUN"] = "1"
        done = subprocess.run([BASH, str(SCRIPT), goal], env=env, capture_output=True, text=True, timeout=30)
        assert not (tmp_path / "apt-get-ran").exists(), "apt-get must not run"
        return done

    return run


def stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_a_bare_machine_stops_with_one_line_naming_what_and_how(machine):
    done = machine("test")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("ponder: missing make, a C/C++ compiler, CMake, bubblewrap (bwrap): "
                           "install with: sudo apt-get install make build-essential cmake bubblewrap\n")


def test_without_apt_it_names_the_debian_packages(machine):
    done = machine("test", tools=BUILD_TOOLS, apt=False)
    assert done.returncode == 1
    assert done.stderr == ("ponder: missing bubblewrap (bwrap): install with: your package manager "
                           "(Debian's names: bubblewrap)\n")


def test_as_root_with_apt_it_installs_what_is_missing(machine):
    done = machine("test", root=True)
    assert done.returncode == 0
    assert done.stderr == "ponder: would run: apt-get update && apt-get install -y make build-essential cmake bubblewrap\n"


def test_ask_installs_bubblewrap_as_root_and_only_warns_without(machine):
    as_root = machine("ask", tools=BUILD_TOOLS, root=True)
    assert as_root.returncode == 0 and as_root.stderr.endswith("apt-get install -y bubblewrap\n")
    user = machine("ask", tools=BUILD_TOOLS)
    assert user.returncode == 0 and user.stderr.count("\n") == 1
    assert user.stderr.startswith("ponder: warning: bubblewrap (bwrap) is not installed: model code will run")
    assert user.stderr.endswith("install it with: sudo apt-get install bubblewrap\n")


def test_nothing_missing_is_silent(machine):
    done = machine("test", tools=(*BUILD_TOOLS, "bwrap"))
    assert (done.returncode, done.stderr) == (0, "")


def test_a_built_llama_cpp_needs_no_compiler(machine):
    done = machine("test", tools=("make", "bwrap"), built=True)
    assert (done.returncode, done.stderr) == (0, "")


def test_python_without_venv_or_too_old(machine, tmp_path):
    no_venv = tmp_path / "python-no-venv"
    stub(no_venv, 'case "$*" in *ensurepip*) exit 1;; esac; exit 0')
    done = machine("ask", tools=(*BUILD_TOOLS, "bwrap"), python=str(no_venv))
    assert done.returncode == 1
    assert done.stderr == "ponder: missing Python's venv module: install with: sudo apt-get install python3-venv\n"
    old = tmp_path / "python-old"
    stub(old, "exit 1")
    done = machine("ask", tools=(*BUILD_TOOLS, "bwrap"), python=str(old))
    assert done.returncode == 1 and f"missing Python >= 3.10 ({old})" in done.stderr
    assert done.stderr.endswith("sudo apt-get install python3 python3-venv\n")


def test_the_build_is_announced_once(machine):
    done = machine("announce")
    assert done.returncode == 0
    assert done.stderr.startswith("ponder: building llama.cpp for llama-cpp-python for the CPU (no CUDA toolkit and "
                                  "NVIDIA GPU; PONDER_CUDA=1 builds with CUDA): about 5 minutes on 2 cores")
    assert "pip caches the wheel" in done.stderr
    assert machine("announce", built=True).stderr == ""


def test_an_unknown_goal_is_refused(machine):
    done = machine("everything")
    assert done.returncode == 2 and "usage: scripts/prerequisites.sh ask|test|announce|llama" in done.stderr


# -- the llama.cpp build: CUDA when a toolkit and a GPU are both here -----------------------

H100 = 'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0123abcd)"'
NO_GPU = 'echo "No devices were found"; exit 6'


def first_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.splitlines()[0]


def test_nvcc_without_a_gpu_builds_for_the_cpu(machine, tmp_path):
    """This development machine: an nvcc, no GPU. The CPU build, from pip's cache, nothing else run."""
    for scripts in ({"nvcc": "exit 0"}, {"nvcc": "exit 0", "nvidia-smi": NO_GPU}):
        done = machine("llama", scripts=scripts)
        assert done.returncode == 0
        assert first_line(done).startswith(f"ponder: building llama.cpp for llama-cpp-python for the CPU "
                                           f"({tmp_path / 'bin' / 'nvcc'} is here but no NVIDIA GPU; PONDER_CUDA=1")
        assert len(done.stderr.splitlines()) == 2 and "would run" not in done.stderr


def test_a_gpu_without_a_toolkit_builds_for_the_cpu(machine):
    done = machine("llama", scripts={"nvidia-smi": H100})
    assert done.returncode == 0 and "would run" not in done.stderr
    assert "for the CPU (GPU 0: NVIDIA H100 80GB HBM3 is here but no CUDA toolkit (nvcc)" in first_line(done)


def test_a_toolkit_and_a_gpu_build_with_cuda_bypassing_pips_cache(machine, tmp_path):
    done = machine("llama", scripts={"nvcc": "exit 0", "nvidia-smi": H100})
    assert done.returncode == 0
    nvcc = tmp_path / "bin" / "nvcc"
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"ponder: building llama.cpp for llama-cpp-python with CUDA (found {nvcc} and "
                               f"GPU 0: NVIDIA H100 80GB HBM3; PONDER_CUDA=0 builds for the CPU)")
    assert lines[-1] == (f"ponder: would run: CMAKE_ARGS='-DGGML_CUDA=on' CUDACXX='{nvcc}' {tmp_path / 'venv'}/bin/python "
                         "-m pip install --no-cache-dir 'llama-cpp-python>=0.3.16'")
    assert "llama-cpp-python>=0.3.16" in (ROOT / "pyproject.toml").read_text()  # read from there, not spelled twice


def test_the_toolkit_in_cuda_home_counts_and_cmake_args_are_kept(machine, tmp_path):
    stub(tmp_path / "cuda" / "bin" / "nvcc", "exit 0")
    done = machine("llama", scripts={"nvidia-smi": H100}, env_extra={"CMAKE_ARGS": "-DGGML_NATIVE=off"})
    assert done.returncode == 0
    assert (f"would run: CMAKE_ARGS='-DGGML_NATIVE=off -DGGML_CUDA=on' CUDACXX='{tmp_path / 'cuda' / 'bin' / 'nvcc'}'"
            in done.stderr)


def test_ponder_cuda_forces_or_forbids_the_cuda_build(machine):
    forbidden = machine("llama", scripts={"nvcc": "exit 0", "nvidia-smi": H100}, env_extra={"PONDER_CUDA": "0"})
    assert forbidden.returncode == 0 and "for the CPU (PONDER_CUDA=0)" in first_line(forbidden)
    assert "would run" not in forbidden.stderr
    forced = machine("llama", scripts={"nvcc": "exit 0"}, env_extra={"PONDER_CUDA": "1"})
    assert forced.returncode == 0 and "with CUDA (PONDER_CUDA=1)" in first_line(forced)
    assert "-DGGML_CUDA=on" in forced.stderr.splitlines()[-1]


def test_forcing_cuda_without_a_toolkit_or_a_bad_value_is_one_line(machine):
    no_toolkit = machine("llama", scripts={"nvidia-smi": H100}, env_extra={"PONDER_CUDA": "1"})
    assert no_toolkit.returncode == 1 and no_toolkit.stderr.count("\n") == 1
    assert no_toolkit.stderr.startswith("ponder: PONDER_CUDA=1 needs a CUDA toolkit, but there is no nvcc on PATH")
    bad = machine("announce", env_extra={"PONDER_CUDA": "yes"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not 'yes'" in bad.stderr


def test_a_built_llama_cpp_is_kept_and_a_cpu_build_under_cuda_is_named(machine):
    gpu = {"nvcc": "exit 0", "nvidia-smi": H100}
    kept = machine("llama", built=True, scripts=gpu)  # its python says the build offloads
    assert (kept.returncode, kept.stderr) == (0, "")
    noted = machine("llama", built='case "$*" in *gpu_offload*) exit 1;; esac; exit 0', scripts=gpu)
    assert noted.returncode == 0 and noted.stderr.count("\n") == 1 and "would run" not in noted.stderr
    assert "is a CPU build though CUDA is here" in noted.stderr and "`make clean` then `make ask`" in noted.stderr


# -- without AMX: llama.cpp's AMX kernels crash on some machines (llama.cpp issue 20824) -------

AMX_CC = 'echo "#define __AVX512F__ 1"; echo "#define __AMX_TILE__ 1"; echo "#define __AMX_INT8__ 1"'
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def test_a_cpu_with_amx_builds_llama_cpp_without_it_into_ponders_own_wheels(machine, tmp_path):
    done = machine("llama", scripts={"cc": AMX_CC}, env_extra={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0
    wheels = tmp_path / "cache" / "ponder" / "wheels" / "llama-cpu-no-amx"
    python = tmp_path / "venv" / "bin" / "python"
    lines = done.stderr.splitlines()
    assert "for the CPU (no CUDA toolkit and NVIDIA GPU; PONDER_CUDA=1 builds with CUDA), without AMX" in lines[0]
    assert "llama.cpp issue 20824" in lines[0] and f"the wheel is kept in {wheels}" in lines[0]
    assert lines[-2] == (f"ponder: would run: CFLAGS='{NO_AMX}' CXXFLAGS='{NO_AMX}' {python} -m pip wheel --quiet "
                         f"--no-cache-dir --no-deps --find-links {wheels} -w {wheels} llama-cpp-python>=0.3.16")
    assert lines[-1] == (f"ponder: would run: {python} -m pip install --quiet --find-links {wheels} "
                         "--only-binary llama-cpp-python llama-cpp-python>=0.3.16")


def test_an_unwritable_wheel_directory_is_one_line_before_any_build(machine, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    done = machine("llama", scripts={"cc": AMX_CC}, dry_run=False, env_extra={"XDG_CACHE_HOME": str(blocked)})
    assert done.returncode == 1 and not (tmp_path / "venv").exists()
    assert done.stderr.splitlines()[-1] == (f"ponder: cannot write the wheel directory {blocked}/ponder/wheels/"
                                            "llama-cpu-no-amx: set XDG_CACHE_HOME to a writable directory")


def test_a_cpu_without_amx_leaves_the_build_to_pips_cache(machine):
    done = machine("llama", scripts={"cc": 'echo "#define __AVX512F__ 1"'})
    assert done.returncode == 0 and "would run" not in done.stderr and "AMX" not in done.stderr
    assert "pip caches the wheel" in done.stderr


def test_a_cuda_build_on_a_cpu_with_amx_leaves_amx_out_of_its_cpu_code(machine, tmp_path):
    done = machine("llama", scripts={"cc": AMX_CC, "nvcc": "exit 0", "nvidia-smi": H100})
    assert done.returncode == 0 and ", without AMX (its AMX kernels crash" in first_line(done)
    assert done.stderr.splitlines()[-1] == (
        f"ponder: would run: CFLAGS='{NO_AMX}' CXXFLAGS='{NO_AMX}' CMAKE_ARGS='-DGGML_CUDA=on' "
        f"CUDACXX='{tmp_path / 'bin' / 'nvcc'}' {tmp_path / 'venv'}/bin/python -m pip install --no-cache-dir "
        "'llama-cpp-python>=0.3.16'")


def test_the_real_compiler_drops_amx_even_before_march_native():
    """llama.cpp appends -march=native after CFLAGS: the explicit -mno-amx-* must still win."""
    import shutil
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler here")
    args = [cc, *NO_AMX.split(), "-march=native", "-mavx2", "-dM", "-E", "-"]
    defines = subprocess.run(args, input="", capture_output=True, text=True, timeout=30).stdout
    assert "__AVX2__" in defines and "__AMX_TILE__" not in defines and "__AMX_INT8__" not in defines


def test_the_makefile_builds_llama_cpp_through_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "@$(PREREQ) llama\n\t$(BIN)/python -m pip install --quiet -e '.[model,test]'" in makefile


def test_the_makefile_and_ci_share_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "scripts/prerequisites.sh" in makefile and "prerequisites-test $(STAMP)" in makefile
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert "scripts/prerequisites.sh test" in ci and ci[-1] == "make test"
    assert os.access(SCRIPT, os.X_OK) and os.access(ROOT / ".ci" / "run", os.X_OK)


def test_without_bwrap_a_sandbox_test_fails_with_one_line():
    """The `bwrap` marker (tests/conftest.py): the test fails with the fix, not a wall of errors."""
    test = "tests/unit/test_tools_cli.py::test_python_from_stdin_prints_json"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "COLUMNS": "200"}  # no bwrap on it
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "1 failed" in done.stdout
    assert done.stdout.count("bubblewrap (bwrap) is not installed: apt-get install bubblewrap") == 2  # test + summary
    assert "Traceback" not in done.stdout and "def test_" not in done.stdout
