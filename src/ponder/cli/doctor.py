"""`ponder doctor`: what this machine gives ponder, one line each.

    ponder            0.1.0, Python 3.11.7
    llama-cpp-python  0.3.36, CPU build: no GPU offload
    gpu layers        --gpu-layers auto offloads 0 layers: this build runs on the CPU (…)
    sandbox           bubblewrap: model code runs isolated, without network (a test program ran)
    model default     ready, used without -m: assembled, checksum verified when assembled, 1.1 GB, PATH
    model small       not installed: pip install 'ponder[model-small]'
    torch             2.13.0+cpu, a CPU build: no CUDA
    transformers      5.23.0
    server            none: $PONDER_BASE_URL and $OPENAI_BASE_URL are unset

Rules that must hold:
- Plain text on stdout, one line per check; colour (the label: green, yellow, red) only on a
  terminal without NO_COLOR. Paths, URLs and server text are shown through `visible`.
- Cheap, and it loads no model: a model's state is what `ponder models` shows (installed
  packages, the assembled file's size and the stamp written when its sha256 was verified at
  assembly, `registry.embedded_state`): no checksum is computed again. It imports llama_cpp
  (its library: a fraction of a second); torch only when it is installed as a CUDA build
  (seconds; a CPU build is known from its `version.py`), and never transformers (its version
  is read from the installed metadata).
- A server ($PONDER_BASE_URL, else $OPENAI_BASE_URL, as `--base-url` reads them) is asked
  once, `GET /v1/models` with a SERVER_TIMEOUT timeout and no retry; none is contacted when
  neither is set.
- Exit 0 when the model used without -m and the sandbox are usable (resource limits only is
  usable, with a warning); 3 when that model is missing or unusable (not installed, a path
  that is no GGUF file, llama_cpp that cannot be imported, a server that does not answer or
  lacks it); else 1 when the sandbox cannot run code at all.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any, Callable

from ponder.errors import EXIT_FAILURE, EXIT_MODEL, EXIT_OK

PROBE_BYTES = 1024 * 1024  # the most of a server's /models answer doctor reads
SERVER_TIMEOUT = 2.0  # seconds for the one request to a configured server
OK, WARN, FAIL = "ok", "warn", "fail"
STYLES = {OK: "green", WARN: "yellow", FAIL: "red"}
LABEL_WIDTH = 17


@dataclass(frozen=True)
class Line:
    """One check's result: its label, how it went, and what it found (one line)."""

    label: str
    level: str
    text: str


@dataclass(frozen=True)
class Report:
    """Every line, and whether the model used without -m and the sandbox can be used."""

    lines: list[Line]
    model_ok: bool
    sandbox_ok: bool

    @property
    def exit_code(self) -> int:
        """3 for an unusable default model, 1 for a sandbox that runs nothing, else 0."""
        return EXIT_MODEL if not self.model_ok else EXIT_OK if self.sandbox_ok else EXIT_FAILURE


def run_doctor() -> int:
    """Print the report on stdout; return the exit code."""
    report = examine()
    print_report(report)
    return report.exit_code


def examine() -> Report:
    """Run every check."""
    build = llama_build()
    server = configured_server()
    probe = _probe_once()
    sandbox = sandbox_line()
    models, model_ok = model_lines(build.error is None, server, probe)
    lines = [ponder_line(), llama_line(build), gpu_layers_line(build), sandbox, *models,
             torch_line(), transformers_line(), server_line(server, probe)]
    return Report(lines, model_ok, sandbox.level != FAIL)


def print_report(report: Report) -> None:
    """The lines on stdout; the labels coloured only on a terminal (and never with NO_COLOR)."""
    from rich.console import Console
    from rich.text import Text

    from ponder.cli.safe import visible

    console = Console(highlight=False, soft_wrap=True)
    for line in report.lines:
        text = Text(f"{line.label:<{LABEL_WIDTH}}", style=STYLES[line.level])
        text.append(" " + visible(line.text).replace("\n", " "))
        console.print(text)


# -- the checks ---------------------------------------------------------------------------


def ponder_line() -> Line:
    """ponder's version and the Python it runs on."""
    return Line("ponder", OK, f"{_version('ponder') or 'unknown version'}, Python {platform.python_version()}")


@dataclass(frozen=True)
class Build:
    """The llama-cpp-python here: its version, whether it can offload, its ggml backends; or why it cannot be imported."""

    version: str = ""
    offload: bool = False
    backends: tuple[str, ...] = ()
    error: str | None = None
    amx: bool = False


def llama_build() -> Build:
    """Import llama_cpp (its library, no model) and ask what the build can do."""
    try:
        import llama_cpp
    except Exception as exc:  # ImportError, or OSError from a library that does not load
        return Build(error=_one_line(exc))
    version = getattr(llama_cpp, "__version__", None) or _version("llama_cpp_python") or "unknown version"
    info = _system_info(llama_cpp)
    return Build(version, bool(llama_cpp.llama_supports_gpu_offload()), _backends(info), amx=_amx(info))


def _system_info(llama_cpp: Any) -> str:
    """llama.cpp's system info line (its backends and CPU features), or "" when it cannot be read."""
    try:
        return llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    except Exception:
        return ""


def _backends(info: str) -> tuple[str, ...]:
    """The ggml backends the build names in its system info (CUDA, Metal, Vulkan, CPU…)."""
    import re

    return tuple(dict.fromkeys(re.findall(r"(\w+) : ", info)))


def _amx(info: str) -> bool:
    """Whether the CPU code was built with AMX (its kernels crash on some machines: llama.cpp issue 20824)."""
    import re

    return re.search(r"\bAMX_INT8 = 1\b", info) is not None


def llama_line(build: Build) -> Line:
    """llama-cpp-python's version and whether its build can offload to a GPU (and with what)."""
    if build.error is not None:
        return Line("llama-cpp-python", FAIL, f"cannot be imported: {build.error}")
    if build.amx:
        return Line("llama-cpp-python", WARN, f"{build.version}, built with AMX, whose kernels crash on some "
                                              "machines (llama.cpp issue 20824): `make clean` then `make setup` "
                                              "rebuilds it without")
    if not build.offload:
        return Line("llama-cpp-python", OK, f"{build.version}, CPU build: no GPU offload")
    gpus = [name for name in build.backends if name not in ("CPU", "BLAS")]
    return Line("llama-cpp-python", OK, f"{build.version}, GPU offload" + (f" ({', '.join(gpus)})" if gpus else ""))


def gpu_layers_line(build: Build) -> Line:
    """What `--gpu-layers auto` offloads (`llm.llama.resolve_gpu_layers`: every layer with offload, else none)."""
    if build.error is not None:
        return Line("gpu layers", WARN, "unknown: llama_cpp cannot be imported")
    if build.offload:
        return Line("gpu layers", OK, "--gpu-layers auto offloads every layer of the model to the GPU")
    return Line("gpu layers", OK, "--gpu-layers auto offloads 0 layers: this build runs on the CPU "
                                  "(the README says how to build with CUDA)")


def sandbox_line() -> Line:
    """The isolation model code gets, checked by running a small program in it."""
    from ponder.tools.sandbox import Limits, Sandbox

    sandbox = Sandbox("auto", Limits(wall_seconds=20.0, cpu_seconds=20))
    result = sandbox.run("print(6 * 7)")
    if not result.ok or result.stdout.strip() != "42":
        said = (result.stderr.strip().splitlines() or [result.status])[-1]
        return Line("sandbox", FAIL, f"cannot run code ({result.isolation}, {result.status}): {said[:160]}; "
                                     "only --sandbox off works")
    if result.isolation == "bwrap":
        return Line("sandbox", OK, "bubblewrap: model code runs isolated, without network (a test program ran)")
    return Line("sandbox", WARN, f"resource limits only: {_why_no_bwrap()}; model code can read files and reach "
                                 "the network, and --sandbox strict refuses to run it")


def _why_no_bwrap() -> str:
    import shutil

    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    return "bubblewrap cannot create its namespaces here"


def model_lines(llama_ok: bool, server: str | None, probe: Callable[[str], "Probe"]) -> tuple[list[Line], bool]:
    """A line for each embedded model, and one for the model used without -m when it is another;
    and whether that model can be used."""
    from ponder.llm.loader import model_spec
    from ponder.llm.registry import EMBEDDED

    spec = model_spec(None, server=bool(server))
    lines, usable = [], False
    for name, model in EMBEDDED.items():
        line, ready = embedded_line(model, chosen=spec == name and not server)
        if not llama_ok and ready:
            line = Line(line.label, FAIL, line.text + "; but llama_cpp cannot be imported")
        lines.append(line)
        if spec == name and not server:
            usable = ready and llama_ok
    if spec not in EMBEDDED or server:
        line, usable = chosen_line(spec, server, llama_ok, probe)
        lines.append(line)
    return lines, usable


def embedded_line(model: Any, chosen: bool) -> tuple[Line, bool]:
    """An embedded model's state (`ponder models`' columns, no checksum computed); whether it can be used."""
    from ponder.llm.registry import embedded_state

    state = embedded_state(model)
    label = f"model {model.name}"
    used = ", used without -m" if chosen else ""
    install = f"pip install 'ponder[{model.extra}]'"
    if state.verified:
        return Line(label, OK, f"ready{used}: assembled, checksum verified when assembled, "
                               f"{model.size / 1e9:.1f} GB, {state.path}"), True
    if state.installed and (problem := unwritable(Path(state.path).parent)):
        return Line(label, FAIL if chosen else WARN, f"installed{used}, but it cannot be assembled: {problem}"), False
    if state.installed:
        return Line(label, OK, f"installed{used}: the first run assembles it into {state.path} "
                               f"and verifies its checksum (once)"), True
    level = FAIL if chosen else WARN
    if state.assembled:
        return Line(label, level, f"assembled at {state.path} but not verified, and its packages are not "
                                  f"installed{used}: {install}"), False
    return Line(label, level, f"not installed{used}: {install}"), False


def unwritable(directory: Path) -> str | None:
    """Why files cannot be created in `directory` (made first where it is missing); None when they can."""
    try:
        for place in (directory, *directory.parents):
            if place.exists():
                if not place.is_dir():
                    return f"{place} is not a directory"
                if not os.access(place, os.W_OK | os.X_OK):
                    return f"{place} is not writable"
                return None
    except OSError as exc:
        return f"{directory}: {exc.strerror or exc}"
    return f"{directory} has no existing parent"


def chosen_line(spec: str, server: str | None, llama_ok: bool,
                probe: Callable[[str], "Probe"]) -> tuple[Line, bool]:
    """The model used without -m when it is not an embedded one: registered, a path, the fake, or a server's."""
    from ponder.errors import ModelError
    from ponder.llm.llama import check_gguf
    from ponder.llm.user_models import lookup

    label = "model (no -m)"
    if spec == "fake" or spec.startswith("fake:"):
        return Line(label, WARN, f"{spec}: the scripted fake model, for tests and demos"), True
    registered = lookup(spec)
    url = registered.base_url if registered is not None and registered.path is None else server
    if url:
        wanted = registered.model if registered is not None else (None if spec == "default" else spec)
        found = probe(url)
        if found.error:
            return Line(label, FAIL, f"{spec} on {found.where}: {found.error}"), False
        if wanted and wanted not in found.models:
            return Line(label, FAIL, f"{found.where} serves no model {wanted!r}"), False
        return Line(label, OK, f"{_short(wanted or found.models[0])} on the server {found.where}"), True
    path = registered.path if registered is not None else Path(os.path.expanduser(spec))
    if os.environ.get("PONDER_BACKEND") == "transformers":
        return _transformers_line(label, spec, path)
    try:
        check_gguf(path)
    except ModelError as exc:
        return Line(label, FAIL, f"{spec}: {exc}"), False
    if not llama_ok:
        return Line(label, FAIL, f"{spec}: {path}, but llama_cpp cannot be imported"), False
    return Line(label, OK, f"{spec}: a GGUF file, {path}"), True


def _transformers_line(label: str, spec: str, path: Path) -> tuple[Line, bool]:
    """The model without -m as $PONDER_BACKEND=transformers loads it: a Hugging Face model
    directory or a GGUF file, with torch and transformers installed."""
    from ponder.errors import ModelError
    from ponder.llm.llama import check_gguf

    missing = [name for name in ("torch", "transformers") if util.find_spec(name) is None]
    if missing:
        return Line(label, FAIL, f"{spec}: $PONDER_BACKEND is transformers, but {' and '.join(missing)} "
                                 "cannot be imported (pip install 'ponder[torch]')"), False
    if path.is_dir():
        if (path / "config.json").is_file():
            return Line(label, OK, f"{spec}: a Hugging Face model directory, for transformers"), True
        return Line(label, FAIL, f"{spec}: a directory without config.json, no Hugging Face model"), False
    try:
        check_gguf(path)
    except ModelError as exc:
        return Line(label, FAIL, f"{spec}: {exc}"), False
    return Line(label, OK, f"{spec}: a GGUF file, {path}, for transformers"), True


def torch_line() -> Line:
    """torch's version and whether it sees a CUDA GPU; torch is imported (seconds) only when its
    build has CUDA, since only then can the answer be yes."""
    spec = util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return Line("torch", WARN, "not installed (the transformers backend needs it: pip install 'ponder[torch]')")
    version = _version("torch") or "unknown version"
    if torch_build_cuda(Path(list(spec.submodule_search_locations)[0]) / "version.py") is None:
        return Line("torch", OK, f"{version}, a CPU build: no CUDA")
    try:
        import torch
    except Exception as exc:
        return Line("torch", FAIL, f"{version} cannot be imported: {_one_line(exc)}")
    if not torch.cuda.is_available():
        return Line("torch", WARN, f"{version}, built with CUDA {torch.version.cuda}, but it sees no GPU (runs on the CPU)")
    name = torch.cuda.get_device_name(0)
    return Line("torch", OK, f"{version}, CUDA {torch.version.cuda}: {torch.cuda.device_count()} GPU(s), {name}")


def torch_build_cuda(version_file: Path) -> str | None:
    """The CUDA version torch was built with, read from its `version.py` without importing torch
    (None for a CPU build; "unknown" when the file cannot be read)."""
    import re

    try:
        text = version_file.read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    found = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    if found:
        return found.group(1)
    return None if re.search(r"^cuda\s*(?::[^=]*)?=\s*None\s*$", text, re.MULTILINE) else "unknown"


def transformers_line() -> Line:
    """transformers' version, from its installed metadata (never imported here)."""
    if util.find_spec("transformers") is None:
        return Line("transformers", WARN, "not installed (pip install 'ponder[torch]')")
    return Line("transformers", OK, _version("transformers") or "installed, version unknown")


# -- the server ---------------------------------------------------------------------------


def configured_server() -> str | None:
    """The base URL `--base-url` would take from the environment, as given (None when unset)."""
    for name in ("PONDER_BASE_URL", "OPENAI_BASE_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Probe:
    """What one `GET /v1/models` found: the models served, or why not."""

    where: str
    models: list[str]
    error: str | None = None


def _probe_once() -> Callable[[str], Probe]:
    """`probe`, asking each URL at most once."""
    seen: dict[str, Probe] = {}

    def ask(url: str) -> Probe:
        if url not in seen:
            seen[url] = probe(url)
        return seen[url]

    return ask


def probe(url: str) -> Probe:
    """Ask a server for its models, once, with a short timeout."""
    import httpx

    from ponder.errors import UsageError
    from ponder.llm import openai_http as http

    try:
        base = http.normalize_base_url(url)
    except UsageError:
        return Probe(http.without_credentials(url), [], "not an http:// or https:// URL")
    where, key = http.display_url(base), http.api_key()
    headers = {"Authorization": f"Bearer {key}"} if key and key.isascii() and key.isprintable() else {}
    try:
        status, body = _get_bounded(base + "/models", headers)
    except httpx.HTTPError as exc:
        message, _ = http.transport_failure(exc, where, httpx.URL(base).host)
        if isinstance(exc, httpx.TimeoutException):
            message = f"no answer within {SERVER_TIMEOUT:.0f} s"
        return Probe(where, [], http.snippet(message, key))
    if body is None:
        return Probe(where, [], f"its /models answer is over {PROBE_BYTES // 1024} KiB")
    text = body.decode("utf-8", errors="replace")
    if status >= 300:
        return Probe(where, [], http.status_failure(status, text[:4096], where, "/models", 1, key))
    try:
        listed = json.loads(text).get("data")
    except (ValueError, AttributeError, RecursionError):
        return Probe(where, [], "its /models answer is not a JSON object")
    models = [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)] \
        if isinstance(listed, list) else []
    return Probe(where, models, None if models else "it lists no models at /v1/models")


def _get_bounded(url: str, headers: dict[str, str]) -> tuple[int, bytes | None]:
    """GET `url` within SERVER_TIMEOUT seconds in all (not per read) and PROBE_BYTES at most:
    the status and the body (None when it is larger); httpx.TimeoutException past the deadline.
    The request runs in a daemon thread that is left behind at the deadline: httpx's timeouts
    are per read, so headers sent a byte a second would never trip them."""
    import threading

    import httpx

    done: list[tuple[int, bytes | None] | BaseException] = []

    def fetch() -> None:
        try:
            done.append(_get(url, headers))
        except BaseException as exc:  # handed to the caller's thread
            done.append(exc)

    worker = threading.Thread(target=fetch, name="ponder-doctor-probe", daemon=True)
    worker.start()
    worker.join(SERVER_TIMEOUT + 0.5)
    if not done:
        raise httpx.ReadTimeout(f"no answer within {SERVER_TIMEOUT:.0f} s")
    if isinstance(done[0], BaseException):
        raise done[0]
    return done[0]


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes | None]:
    """The GET itself: the status and the body (None past PROBE_BYTES); a body still coming at
    the deadline is a timeout."""
    import httpx

    deadline = time.monotonic() + SERVER_TIMEOUT
    with httpx.stream("GET", url, headers=headers, timeout=SERVER_TIMEOUT, follow_redirects=False) as response:
        body = bytearray()
        for piece in response.iter_bytes():
            body += piece
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"no answer within {SERVER_TIMEOUT:.0f} s")
            if len(body) > PROBE_BYTES:
                return response.status_code, None
        return response.status_code, bytes(body)


def _short(name: str) -> str:
    """A model name a server gave, cut to 80 characters for one line."""
    return name if len(name) <= 80 else name[:79] + "…"


def server_line(server: str | None, probe: Callable[[str], Probe]) -> Line:
    """The configured server and what it serves (one request, SERVER_TIMEOUT seconds at most)."""
    if server is None:
        return Line("server", OK, "none: $PONDER_BASE_URL and $OPENAI_BASE_URL are unset")
    found = probe(server)
    if found.error:
        return Line("server", FAIL, f"{found.where}: {found.error}")
    shown = ", ".join(map(_short, found.models[:5])) + (f" and {len(found.models) - 5} more" if len(found.models) > 5 else "")
    return Line("server", OK, f"{found.where} answers, serving {shown}")


# -- helpers ------------------------------------------------------------------------------


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
