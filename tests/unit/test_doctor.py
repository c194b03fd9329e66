"""`ponder doctor`: each check on stand-ins (a build with and without GPU offload, model states
in a cache of our own, torch's build file, a stub server and a closed port), and then the real
command on this machine: the real llama_cpp build, bubblewrap and model cache, loading no model."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.cli import doctor
from ponder.cli.doctor import FAIL, OK, WARN, Build, Line, Report
from ponder.errors import EXIT_FAILURE, EXIT_MODEL, EXIT_OK
from ponder.llm import registry
from ponder.llm.registry import EmbeddedModel
from tests.unit.test_openai_http import Stub

TINY = EmbeddedModel(name="tiny", filename="tiny.gguf", size=8, sha256=hashlib.sha256(b"GGUF1234").hexdigest(),
                     package_prefix="ponder_no_such_package_part", parts=1, extra="model-tiny")


@pytest.fixture
def stub():
    with Stub.running() as server:
        yield server


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


# -- llama.cpp's build --------------------------------------------------------------------


def test_a_gpu_build_offloads_every_layer_and_names_its_backend():
    build = Build("0.3.36", offload=True, backends=("CUDA", "CPU"))
    assert doctor.llama_line(build) == Line("llama-cpp-python", OK, "0.3.36, GPU offload (CUDA)")
    assert "offloads every layer" in doctor.gpu_layers_line(build).text


def test_a_cpu_build_offloads_nothing():
    build = Build("0.3.36", offload=False, backends=("CPU",))
    assert doctor.llama_line(build).text == "0.3.36, CPU build: no GPU offload"
    assert doctor.gpu_layers_line(build).text.startswith("--gpu-layers auto offloads 0 layers")


def test_a_build_with_amx_is_a_warning_naming_the_rebuild():
    info = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 | REPACK = 1 | "
    assert doctor._amx(info) and doctor._backends(info) == ("CPU",)
    assert not doctor._amx(info.replace("AMX_INT8 = 1 | ", "")) and not doctor._amx("")
    line = doctor.llama_line(Build("0.3.36", offload=False, backends=("CPU",), amx=True))
    assert line.level == WARN and "llama.cpp issue 20824" in line.text and "`make clean` then `make setup`" in line.text


def test_llama_cpp_that_cannot_be_imported_makes_the_default_model_unusable(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp raises ImportError
    build = doctor.llama_build()
    assert build.error and doctor.llama_line(build).level == FAIL
    lines, usable = doctor.model_lines(False, None, doctor._probe_once())
    assert not usable


# -- models -------------------------------------------------------------------------------


def assemble_tiny(cache: Path, stamp: bool = True) -> Path:
    target = cache / "models" / TINY.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF1234")
    if stamp:
        registry._stamp(target).write_text(f"{TINY.sha256} {TINY.size} {target.stat().st_mtime_ns}\n")
    return target


def test_model_states_come_from_the_stamp_and_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path))
    line, usable = doctor.embedded_line(TINY, chosen=True)
    assert (line.level, usable) == (FAIL, False)
    assert line.text == "not installed, used without -m: pip install 'ponder[model-tiny]'"
    assert doctor.embedded_line(TINY, chosen=False)[0].level == WARN  # only the model in use fails the doctor
    target = assemble_tiny(tmp_path)
    line, usable = doctor.embedded_line(TINY, chosen=True)
    assert (line.level, usable) == (OK, True) and line.text.startswith("ready, used without -m: assembled, checksum")
    assert str(target) in line.text
    target.write_bytes(b"GGUF4321")  # same size, new mtime: the stamp no longer vouches for it
    line, usable = doctor.embedded_line(TINY, chosen=True)
    assert not usable and "not verified" in line.text


def test_a_checksum_is_never_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path))
    assemble_tiny(tmp_path)
    monkeypatch.setattr(hashlib, "sha256", lambda *a: pytest.fail("doctor hashed a model file"))
    assert doctor.embedded_line(TINY, chosen=True)[1]


def test_a_default_model_that_is_no_gguf_file_is_exit_3(tmp_path, monkeypatch):
    bogus = tmp_path / "model.gguf"
    bogus.write_text("not a model")
    monkeypatch.setenv("PONDER_MODEL", str(bogus))
    monkeypatch.setattr(doctor, "sandbox_line", lambda: Line("sandbox", OK, "stand-in"))
    report = doctor.examine()
    chosen = next(line for line in report.lines if line.label == "model (no -m)")
    assert chosen.level == FAIL and "not a GGUF model file" in chosen.text
    assert report.exit_code == EXIT_MODEL


def test_a_model_path_too_long_for_the_system_is_a_fail_line_not_an_exit_2(monkeypatch):
    monkeypatch.setenv("PONDER_MODEL", "a" * 5000)
    monkeypatch.setattr(doctor, "sandbox_line", lambda: Line("sandbox", OK, "stand-in"))
    report = doctor.examine()
    chosen = next(line for line in report.lines if line.label == "model (no -m)")
    assert chosen.level == FAIL and "File name too long" in chosen.text
    assert report.exit_code == EXIT_MODEL


def test_the_exit_code_needs_the_model_first_then_the_sandbox():
    assert Report([], model_ok=True, sandbox_ok=True).exit_code == EXIT_OK
    assert Report([], model_ok=False, sandbox_ok=True).exit_code == EXIT_MODEL
    assert Report([], model_ok=False, sandbox_ok=False).exit_code == EXIT_MODEL
    assert Report([], model_ok=True, sandbox_ok=False).exit_code == EXIT_FAILURE


# -- torch --------------------------------------------------------------------------------


def test_torch_builds_are_told_apart_without_importing_torch(tmp_path):
    cpu, gpu = tmp_path / "cpu.py", tmp_path / "gpu.py"
    cpu.write_text("__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\n")
    gpu.write_text("__version__ = '2.5.1+cu124'\ncuda: Optional[str] = '12.4'\n")
    assert doctor.torch_build_cuda(cpu) is None
    assert doctor.torch_build_cuda(gpu) == "12.4"
    assert doctor.torch_build_cuda(tmp_path / "missing.py") == "unknown"


def test_without_torch_the_line_says_how_to_get_it(monkeypatch):
    real = doctor.util.find_spec
    monkeypatch.setattr(doctor.util, "find_spec", lambda name: None if name in ("torch", "transformers") else real(name))
    assert doctor.torch_line() == Line("torch", WARN, "not installed (the transformers backend needs it: "
                                                      "pip install 'ponder[torch]')")
    assert doctor.transformers_line().text.startswith("not installed")


# -- a server -----------------------------------------------------------------------------


def test_no_server_is_contacted_when_none_is_set():
    assert doctor.configured_server() is None
    assert doctor.server_line(None, lambda url: pytest.fail("contacted")).text.startswith("none:")


def test_a_configured_server_is_asked_once_and_its_model_is_the_default(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
    monkeypatch.setattr(doctor, "sandbox_line", lambda: Line("sandbox", OK, "stand-in"))
    report = doctor.examine()
    labels = {line.label: line for line in report.lines}
    assert labels["server"].level == OK and "serving stub-model" in labels["server"].text
    assert labels["model (no -m)"].text.startswith("stub-model on the server http://127.0.0.1:")
    assert report.exit_code == EXIT_OK
    assert [(m, p) for m, p, _, _ in stub.requests] == [("GET", "/v1/models")]


def test_a_server_that_does_not_answer_is_one_line_and_exit_3(monkeypatch):
    monkeypatch.setenv("PONDER_BASE_URL", closed_port_url())
    monkeypatch.setattr(doctor, "sandbox_line", lambda: Line("sandbox", OK, "stand-in"))
    report = doctor.examine()
    server = next(line for line in report.lines if line.label == "server")
    assert server.level == FAIL and "connection refused" in server.text
    assert report.exit_code == EXIT_MODEL


def test_a_server_without_the_named_model(stub, monkeypatch):
    monkeypatch.setenv("PONDER_BASE_URL", stub.url)
    monkeypatch.setenv("PONDER_MODEL", "other")
    line, usable = doctor.chosen_line("other", stub.url, True, doctor._probe_once())
    assert not usable and "serves no model 'other'" in line.text


def test_a_server_that_trickles_or_floods_its_models_answer_is_cut_off(stub, monkeypatch):
    import time

    from tests.unit.test_openai_http import raw

    monkeypatch.setattr(doctor, "SERVER_TIMEOUT", 0.5)
    stub.routes["GET /v1/models"] = raw(b" ", content_type="application/json", pause=0.1, times=100)
    began = time.monotonic()
    assert doctor.probe(stub.url).error == "no answer within 0 s" and time.monotonic() - began < 3
    monkeypatch.setattr(doctor, "PROBE_BYTES", 4096)
    stub.routes["GET /v1/models"] = raw(b'{"data": [' + b" " * 8192 + b"]}", content_type="application/json")
    assert doctor.probe(stub.url).error == "its /models answer is over 4 KiB"


def test_a_server_that_sends_its_headers_a_byte_at_a_time_is_cut_off(monkeypatch):
    import threading
    import time

    monkeypatch.setattr(doctor, "SERVER_TIMEOUT", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 100:
                if stop.wait(0.1):
                    return
                connection.send(bytes([byte]))

    threading.Thread(target=drip, daemon=True).start()
    began = time.monotonic()
    try:
        found = doctor.probe(f"http://127.0.0.1:{listener.getsockname()[1]}/v1")
    finally:
        stop.set()
        listener.close()
    assert found.error == "no answer within 0 s" and time.monotonic() - began < 3


def test_a_servers_long_model_names_are_cut_for_one_line(stub):
    stub.models = [{"id": "m" * 300, "object": "model", "owned_by": "stub"}]
    line = doctor.server_line(stub.url, doctor.probe)
    assert line.level == OK and "m" * 79 + "…" in line.text and "m" * 80 not in line.text


# -- the real command ---------------------------------------------------------------------

NO_MODEL_LOAD = """
import llama_cpp, sys
def refuse(*args, **kwargs):
    sys.stderr.write("doctor loaded a model\\n")
    sys.exit(99)
llama_cpp.Llama.__init__ = refuse
llama_cpp.llama_model_load_from_file = refuse
from ponder.cli.app import main
main(["doctor"])
"""


@pytest.mark.bwrap
def test_doctor_on_this_machine_reports_every_line_and_loads_no_model():
    env = {k: v for k, v in os.environ.items() if k not in ("PONDER_BASE_URL", "OPENAI_BASE_URL", "PONDER_MODEL")}
    done = subprocess.run([sys.executable, "-c", NO_MODEL_LOAD], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["ponder", "llama-cpp-python", "gpu layers", "sandbox",
                                                         "model default", "model small", "torch", "transformers",
                                                         "server"]
    import llama_cpp

    offload = llama_cpp.llama_supports_gpu_offload()
    assert lines[1].startswith(f"llama-cpp-python  {llama_cpp.__version__}, ")
    assert ("GPU offload" in lines[1] and "no GPU offload" not in lines[1]) == offload
    assert ("offloads every layer" if offload else "offloads 0 layers") in lines[2]
    assert lines[3] == "sandbox           bubblewrap: model code runs isolated, without network (a test program ran)"
    state = registry.embedded_state(registry.EMBEDDED["default"])
    assert lines[4].startswith("model default     " + ("ready, used without -m" if state.verified else "installed"))
    assert str(state.path) in lines[4] or not state.verified
    assert "\x1b" not in done.stdout and done.stderr == ""  # piped: no colour, nothing else said


def test_a_cache_where_nothing_can_be_created_fails_the_model_it_would_hold(tmp_path, monkeypatch):
    from ponder.llm.registry import EmbeddedState

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert doctor.unwritable(tmp_path / "new" / "models") is None
    assert doctor.unwritable(blocker / "models") == f"{blocker} is not a directory"
    assert doctor.unwritable(tmp_path / ("a" * 300) / "models").endswith("File name too long")
    state = EmbeddedState(installed=True, assembled=False, verified=False, path=blocker / "models" / "m.gguf")
    monkeypatch.setattr("ponder.llm.registry.embedded_state", lambda model: state)
    line, usable = doctor.embedded_line(TINY, chosen=True)
    assert (line.level, usable) == (FAIL, False)
    assert line.text == f"installed, used without -m, but it cannot be assembled: {blocker} is not a directory"


def test_a_model_for_transformers_is_checked_as_transformers_loads_it(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("PONDER_BACKEND", "transformers")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    (tmp_path / "bare").mkdir()
    line, usable = doctor.chosen_line(str(tmp_path / "hf"), None, True, doctor._probe_once())
    torch_there = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
    assert usable is torch_there and ("Hugging Face model directory" in line.text) is torch_there
    line, usable = doctor.chosen_line(str(tmp_path / "bare"), None, True, doctor._probe_once())
    assert not usable
