"""An OpenAI-compatible server as a Backend (vLLM, llama.cpp's llama-server, SGLang,
llama-cpp-python's `llama_cpp.server`), reached over HTTP with httpx.

Rules that must hold:
- Only the completions endpoint (`/v1/completions`) with the raw prompt: ponder renders its
  own chat prompts and keeps them append-only, so the server's prefix cache re-uses what it
  evaluated. The chat template is the server's own where it exposes one (llama-server's
  `/props`), else ChatML, the template of Qwen, the embedded default model: a server running
  another family without exposing its template gets ChatML prompts (`template` says which).
- `stream` parses the `data:` lines of the server-sent events (`sse_data`, the one parser)
  and stops on its stop sequences twice: the server is sent them, and `StopScanner` cuts
  here too, so a Completion never holds one. Confidence is the top-token probability from
  the `logprobs` the server returns; a server that returns none gives no confidences, never
  a made-up 1.0. Usage comes from the last chunk's `usage` where the server gives it, else it
  is counted from the chunks (and the prompt tokenized by the server).
- `choose` uses the server's constraint (`structured_outputs.choice` on vLLM, a GBNF
  `grammar` on llama.cpp servers, `regex` on SGLang): the option it picks gets all the
  weight; else it scores every option with `echo` + `logprobs`; else it returns the guided
  order (all weight on the first option). `choose_method` records which was used.
- Parallel requests (`open_batch`) are concurrent HTTP streams, at most `sequences` at once,
  each in a daemon thread; the server's batching does the rest. An abandoned request closes
  its stream at its next chunk, which tells the server to stop. The backend is shared by the
  items `batch --concurrency` keeps in flight: the connection pool has no bound of its own
  (the callers bound what is in flight), so no request waits for a free connection.
- Errors are one line: `ModelError` while loading (the server and model are checked with
  `GET /v1/models`), `ServerError` (a PonderError, exit 1) during a run. Connection failures,
  429 and 5xx are retried, `TRIES` tries in all with exponential backoff and jitter, only
  before any of the answer was read; a stream cut later fails the step. Server text in a
  message is at most `SNIPPET` printable characters on one line; the API key (from
  $PONDER_API_KEY or $OPENAI_API_KEY, never a flag) never appears in one.
- A server is untrusted: every read is bounded (a JSON answer `MAX_BODY_BYTES` within the
  read timeout in all, a stream line `MAX_LINE_BYTES`, decompressed; a body in more than one
  coding, or one outside ENCODINGS, is refused unread), a stream that runs `EXTRA_PIECES` past
  max_tokens is stopped as "length" (each PIECE_CHARS of an event's text counting as a piece),
  one that sends no `data:` line, or no text, for the read timeout (keep-alives, a trickle,
  empty events) fails the step, a number is used only when sane (`_number`; counts not below
  zero, no more than the prompt's bytes or the stream's pieces), and an
  optional endpoint's unusable answer (/tokenize) is passed over for the estimate, and a lone
  surrogate in its text (`"\\udfff"`, valid JSON) is U+FFFD, so no answer or trace holds one. A server's
  chat template renders in Jinja's sandbox with bounds of its own (`render_template`): one that
  exceeds them, or fails, gives way to ChatML.
"""

from __future__ import annotations

import json
import math
import os
import queue
import random
import re
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import httpx

from ponder.errors import ModelError, PonderError, UsageError
from ponder.inputs import well_formed
from ponder.llm.backend import Completion, Delta, ManyItem, Request, Sampling, SeqDelta, SeqDone, StreamItem
from ponder.llm.stops import StopScanner

TRIES = 3  # attempts at one request, the first included
BACKOFF = 0.5  # seconds before the second try; doubled each time, plus as much jitter
MAX_RETRY_AFTER = 30.0  # the longest Retry-After honoured, in seconds
SNIPPET = 200  # the most characters of server text an error message carries
TIMEOUT = httpx.Timeout(10.0, read=300.0)  # connect/write/pool 10 s; 300 s of silence mid-answer
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
KEEP_ALIVE = 32  # idle connections kept for re-use (those in use are bounded by the callers)
MAX_BODY_BYTES = 32 * 1024 * 1024  # the most of a JSON answer read (a larger one is refused)
MAX_LINE_BYTES = 1024 * 1024  # the most of one line of a stream
EXTRA_PIECES = 64  # pieces a stream may send past max_tokens before ponder stops it as "length"
PIECE_CHARS = 256  # the most characters a piece may carry: longer text counts as that many pieces
ENCODINGS = frozenset({"identity", "gzip", "deflate"})  # one of these, once: a body decompresses boundedly
LOAD_TIMEOUT = httpx.Timeout(10.0, read=30.0)  # /models and /props: a server that holds them back fails the load
TEMPLATE_CHARS = 1024 * 1024  # the longest string or list a chat template may build by repetition
TEMPLATE_SECONDS = 2.0  # the longest a chat template may take to render one prompt
KEY_VARIABLES = ("PONDER_API_KEY", "OPENAI_API_KEY")
CHOOSE_METHODS = ("guided", "logprobs", "order")
GUIDED_TOKENS = 32  # the most tokens a guided choice may take


class ServerError(PonderError):
    """The server failed a request during a run (one line; `status` is the HTTP status, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotJson(ServerError):
    """A server's answer that is not a JSON object (an optional endpoint's is passed over)."""


def api_key() -> str | None:
    """The API key from the environment ($PONDER_API_KEY, else $OPENAI_API_KEY), if any."""
    return next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)


def normalize_base_url(url: str) -> str:
    """The server's API root: an http(s) URL without a trailing slash, `/v1` added to a bare host.
    A host name the resolver cannot encode (an empty or 64-character label, "xn--") is no URL."""
    try:
        parsed = httpx.URL(url.strip())
        parsed.host.encode("idna")  # what the socket does on connect (the error is a UnicodeError)
    except (httpx.InvalidURL, TypeError, UnicodeError):
        raise UsageError("--base-url must be an http:// or https:// URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError("--base-url must be an http:// or https:// URL")
    path = parsed.path.rstrip("/")
    return str(parsed.copy_with(path=path or "/v1", query=None, fragment=None)).rstrip("/")


def display_url(url: str) -> str:
    """The URL fit for a message: no user name, password or query."""
    parsed = httpx.URL(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}".rstrip("/")


def without_credentials(url: str) -> str:
    """Any URL, http or not, parseable or not, with its `user:password@` left out (for messages)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1", url.strip())


def snippet(text: str, secret: str | None = None, limit: int = SNIPPET) -> str:
    """At most `limit` printable characters of server text on one line, `secret` masked."""
    if secret:
        text = text.replace(secret, "***")
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def server_message(body: str) -> str:
    """The message of an error body (OpenAI's `error.message`, FastAPI's `detail`), else the body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if isinstance(data, dict):
        error = data.get("error")
        for found in (error.get("message") if isinstance(error, dict) else error, data.get("detail"), data.get("message")):
            if found:
                return found if isinstance(found, str) else json.dumps(found)
    return body


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event (its `data:` lines joined); comments, `event:`,
    `id:` and `retry:` lines are skipped, as the SSE format says."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def token_confidences(logprobs: Any) -> list[float]:
    """The top-token probability of each token a chunk's `logprobs` covers (the completions
    shape or the chat shape); [] when the server sent none."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):  # the chat shape (llama-server)
        entries = [(e.get("logprob"), [t.get("logprob") for t in _list(e.get("top_logprobs")) if isinstance(t, dict)])
                   for e in logprobs["content"] if isinstance(e, dict)]
    else:
        own = _list(logprobs.get("token_logprobs"))
        tops = _list(logprobs.get("top_logprobs")) or [None] * len(own)
        entries = [(lp, list(top.values()) if isinstance(top, dict) else []) for lp, top in zip(own, tops)]
    found = []
    for own_logprob, top in entries:
        values = [v for v in (own_logprob, *top) if _number(v) and v <= 0]  # a log-probability above 0 is none
        if values:
            found.append(math.exp(min(0.0, max(values))))
    return found


def _list(value: Any) -> list[Any]:
    """A server's value where a list belongs: itself if it is one, else empty."""
    return value if isinstance(value, list) else []


def _number(value: Any) -> bool:
    """A JSON number of a sane size: not a bool, NaN, an infinity, nor a 10**400 or a 1e308."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1e15 < value < 1e15


def _count(value: Any) -> bool:
    """A token count a server may state: a sane number, not below zero."""
    return _number(value) and value >= 0


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def transport_failure(exc: httpx.HTTPError, where: str, host: str) -> tuple[str, bool]:
    """One line for a failure to talk to the server, and whether trying again may help."""
    causes = list(_causes(exc))
    if any(isinstance(c, socket.gaierror) for c in causes):
        return f"cannot resolve the server's host {host!r}", False
    if any(isinstance(c, ssl.SSLError) for c in causes):
        reason = next(getattr(c, "reason", None) or str(c) for c in causes if isinstance(c, ssl.SSLError))
        return f"TLS error talking to {where}: {snippet(str(reason), limit=80)}", False
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"cannot connect to {where}: connection refused (is the server running?)", True
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect to {where}: no answer within {TIMEOUT.connect:.0f} s", True
    if isinstance(exc, httpx.ReadTimeout):
        return f"the server at {where} sent nothing for {TIMEOUT.read:.0f} s", False
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where}: {snippet(str(exc), limit=80)}", True
    return (f"the connection to {where} failed: {snippet(str(exc) or type(exc).__name__, limit=80)}",
            isinstance(exc, httpx.TransportError))


def status_failure(status: int, body: str, where: str, path: str, tries: int, key: str | None) -> str:
    """One line for an HTTP error status."""
    said = snippet(server_message(body), key)
    said = f": {said}" if said else ""
    if status in (401, 403):
        hint = "the server refused the API key" if key else "the server wants an API key: set $PONDER_API_KEY or $OPENAI_API_KEY"
        return f"{hint} (HTTP {status} from {where}){said}"
    if 300 <= status < 400:
        return f"{where} redirects {path} (HTTP {status}): give --base-url the address it redirects to"
    if status == 404 and path.endswith("/models"):
        return f"{where} has no {path} (HTTP 404): is --base-url the server's API root, such as http://HOST:PORT/v1?"
    if status == 404:
        return f"the server at {where} has no {path} for this model (HTTP 404){said}"
    attempts = f"{tries} {'try' if tries == 1 else 'tries'}"
    if status == 429:
        return f"the server at {where} is busy (HTTP 429) after {attempts}{said}"
    if 500 <= status < 600:
        return f"the server at {where} failed (HTTP {status}) after {attempts}{said}"
    return f"the server at {where} rejected the request to {path} (HTTP {status}){said}"


def gbnf_choice(options: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are the options."""
    return "root ::= " + " | ".join(json.dumps(option) for option in options)


FLAVOURS = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llama-server", "me": "llama-cpp-python"}


@dataclass(frozen=True)
class _Chunk:
    """What one streamed event carried: text, its tokens' confidences, and how the answer ends."""

    text: str
    confidences: list[float]
    end: dict[str, Any]  # finish_reason, stop_reason, usage, timings: whichever the event gave


DONE = _Chunk("", [], {"done": True})  # the stream's `[DONE]`


class HttpBackend:
    """A model served by an OpenAI-compatible server."""

    def __init__(self, base_url: str, model: str | None = None, sequences: int = 4,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = normalize_base_url(base_url)
        self.where = display_url(self.base_url)
        self.root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        self.key = api_key()
        if self.key and not re.fullmatch(r"[\x21-\x7e]+", self.key):
            raise ModelError("the API key in $PONDER_API_KEY or $OPENAI_API_KEY has characters a key cannot have")
        self.sequences = max(1, sequences)
        headers = {"Accept-Encoding": ", ".join(sorted(ENCODINGS - {"identity"}))}
        headers.update({"Authorization": f"Bearer {self.key}"} if self.key else {})
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=KEEP_ALIVE)
        self.client = httpx.Client(headers=headers, timeout=TIMEOUT, limits=limits, transport=transport,
                                   follow_redirects=False)
        self.tries, self.backoff = TRIES, BACKOFF
        self.choose_method: str | None = None  # "guided", "logprobs" or "order", once `choose` ran
        self._unsupported: set[str] = set()
        self._tokenizer: str | None = None  # the path that counts tokens, "" when none does
        self._special: dict[str, str] = {}  # bos_token, eos_token for the server's template
        try:
            self.model, self.flavour = self._pick_model(model)
            self._template = self._server_template()
        except ServerError as exc:
            raise ModelError(str(exc)) from None
        self.name = self.model
        self.template = "server" if self._template else "chatml"

    # -- loading -------------------------------------------------------------------------

    def _pick_model(self, wanted: str | None) -> tuple[str, str]:
        """The model to use (`wanted`, else the first the server lists) and the server's kind."""
        listed = self._json(self._send("GET", "/models", timeout=LOAD_TIMEOUT), "/models", LOAD_TIMEOUT).get("data")
        models = [m for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(listed, list) else []
        if not models:
            raise ServerError(f"the server at {self.where} lists no models at /v1/models")
        ids = [m["id"] for m in models]
        if wanted in ids:
            chosen = models[ids.index(wanted)]
        elif wanted in (None, "", "default"):
            chosen = models[0]
        else:
            names = snippet(", ".join(ids), self.key, limit=120)
            raise ServerError(f"the server at {self.where} serves no model {snippet(wanted, limit=80)!r} (it serves: {names})")
        return chosen["id"], FLAVOURS.get(str(chosen.get("owned_by", "")), "openai")

    def _server_template(self) -> str | None:
        """The chat template llama-server exposes at /props, if it is one (None otherwise)."""
        if self.flavour != "llama-server":
            return None
        try:
            props = self._json(self._send("GET", "/props", root=True, timeout=LOAD_TIMEOUT), "/props", LOAD_TIMEOUT)
        except ServerError:
            return None
        template = props.get("chat_template")
        self._special = {k: props.get(k) if isinstance(props.get(k), str) else "" for k in ("bos_token", "eos_token")}
        return template if isinstance(template, str) and template.strip() else None

    # -- HTTP ----------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None, *, root: bool = False,
              timeout: httpx.Timeout | None = None) -> httpx.Response:
        """Send a request, retrying connection failures, 429 and 5xx with backoff and jitter;
        the response, its body not yet read (the caller reads it, bounded), or ServerError."""
        url = (self.root if root else self.base_url) + path
        for attempt in range(1, self.tries + 1):
            last = attempt == self.tries
            try:
                request = self.client.build_request(method, url, json=body, timeout=timeout or TIMEOUT)
                response = self.client.send(request, stream=True)
            except httpx.HTTPError as exc:
                message, again = transport_failure(exc, self.where, httpx.URL(self.base_url).host)
                if last or not again:
                    raise ServerError(snippet(message, self.key, limit=2 * SNIPPET)) from None
                self._wait(attempt, None)
                continue
            self._refuse_encoding(response, path)
            if response.status_code < 300:
                return response
            text = self._error_body(response)
            if last or response.status_code not in RETRY_STATUS:
                raise ServerError(status_failure(response.status_code, text, self.where, path, attempt, self.key),
                                  response.status_code)
            self._wait(attempt, response.headers.get("retry-after"))
        raise AssertionError("unreachable")

    def _refuse_encoding(self, response: httpx.Response, path: str) -> None:
        """A body compressed twice (`gzip, gzip`) or in a coding other than ENCODINGS could
        inflate to gigabytes in one read, before any bound is checked: refused unread."""
        codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",") if c.strip()]
        if len(codings) > 1 or any(c not in ENCODINGS for c in codings):
            response.close()
            raise ServerError(f"the server at {self.where} answered {path} encoded as "
                              f"{snippet(', '.join(codings), limit=60)}, which ponder does not read")

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        """Sleep before another try: exponential backoff with full jitter, or the server's Retry-After."""
        delay = self.backoff * 2 ** (attempt - 1)
        delay += random.uniform(0, delay)
        try:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER)) if retry_after else delay
        except ValueError:
            pass
        time.sleep(delay)

    def _error_body(self, response: httpx.Response) -> str:
        """The start of an error response's body (at most 4 KiB read), the response closed."""
        data = b""
        try:
            for piece in response.iter_bytes():
                data += piece
                if len(data) >= 4096:
                    break
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        return data[:4096].decode("utf-8", errors="replace")

    def _json(self, response: httpx.Response, path: str, timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        """The JSON object a (non-streamed) response holds (read bounded, then closed), or ServerError."""
        try:
            text = self._body_text(response, path, timeout)
        except httpx.HTTPError as exc:
            raise ServerError(transport_failure(exc, self.where, "")[0]) from None
        finally:
            response.close()
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise NotJson(f"the server at {self.where} answered {path} with something that is not JSON") from None
        if not isinstance(data, dict):
            raise NotJson(f"the server at {self.where} answered {path} with JSON that is not an object")
        return data

    def _post(self, path: str, body: dict[str, Any], root: bool = False) -> dict[str, Any]:
        """POST a JSON body; the JSON object answered."""
        response = self._send("POST", path, body, root=root)
        return self._json(response, path)

    # -- prompts and tokens --------------------------------------------------------------

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Render messages with the server's chat template, else ChatML (Qwen's)."""
        if self._template:
            try:
                return self._render(self._template, messages)
            except Exception:  # a template jinja cannot render here: ChatML, as the docstring says
                self._template, self.template = None, "chatml"
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    def _render(self, template: str, messages: Sequence[dict[str, str]]) -> str:
        """A Jinja chat template rendered in a sandbox, ending where the assistant speaks; one
        that writes far more than the messages hold (padding, loops) raises."""
        rendered = render_template(template, messages=list(messages), add_generation_prompt=True, **self._special)
        if len(rendered) > TEMPLATE_CHARS + 2 * sum(len(m.get("content", "")) for m in messages):
            raise ValueError("the chat template writes far more than the messages hold")
        return rendered

    def count_tokens(self, text: str) -> int:
        """Tokens in `text`, as the server tokenizes it (an estimate, 4 bytes a token, where it cannot)."""
        if not text:
            return 0
        for path in self._tokenize_paths():
            count = self._rejectable(lambda: self._count_with(path, text))
            if count is not None:
                self._tokenizer = path
                return count
        self._tokenizer = ""
        return max(1, len(text.encode("utf-8")) // 4)

    def _tokenize_paths(self) -> list[str]:
        if self._tokenizer is not None:
            return [self._tokenizer] if self._tokenizer else []
        return ["/extras/tokenize/count", "/tokenize"] if self.flavour == "llama-cpp-python" else ["/tokenize"]

    def _count_with(self, path: str, text: str) -> int | None:
        """The server's token count of `text` through `path`, None if the answer has none."""
        body = {"model": self.model, "input": text} if path.startswith("/extras") else \
            {"model": self.model, "prompt": text, "content": text, "add_special": False, "add_special_tokens": False}
        try:
            data = self._post(path, body, root=True)
        except NotJson:  # an optional endpoint answered with something unusable: estimate instead
            return None
        if _count(data.get("count")):
            return int(data["count"])
        tokens = data.get("tokens")
        return len(tokens) if isinstance(tokens, list) else None

    # -- generation ----------------------------------------------------------------------

    def _body(self, prompt: str, sampling: Sampling) -> dict[str, Any]:
        """The completions request for one prompt and its sampling."""
        body: dict[str, Any] = {
            "model": self.model, "prompt": prompt, "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k,
            "min_p": sampling.min_p, "logprobs": 1, "stream": True, "stream_options": {"include_usage": True},
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self.flavour in ("llama-server", "llama-cpp-python"):
            body["repeat_penalty"] = 1.0  # as in-process; llama-cpp-python's server defaults to 1.1
        if sampling.grammar:
            body.update(self._grammar(sampling.grammar))
        return body

    def _grammar(self, gbnf: str) -> dict[str, Any]:
        """The request fields that constrain the output to a GBNF grammar, in this server's words."""
        if self.flavour == "vllm":
            return {"structured_outputs": {"grammar": gbnf}}
        if self.flavour == "sglang":
            return {"ebnf": gbnf}
        return {"grammar": gbnf}

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[StreamItem]:
        """Stream a completion, stopping at a stop sequence, end of generation or max_tokens."""
        return self._stream(prompt, sampling, None)

    def _stream(self, prompt: str, sampling: Sampling, cancel: threading.Event | None) -> Iterator[StreamItem]:
        """`stream`, ending quietly (no Completion) once `cancel` is set."""
        start = time.perf_counter()
        scanner = StopScanner(sampling.stop)
        emitted: list[str] = []
        confidences: list[float] = []
        end: dict[str, Any] = {}
        counted, first_at, allowed = 0, None, sampling.max_tokens + EXTRA_PIECES
        last_progress = time.monotonic()
        response = self._send("POST", "/completions", self._body(prompt, sampling))
        try:
            for chunk in self._chunks(response):
                if cancel is not None and cancel.is_set():
                    return
                first_at = first_at or time.perf_counter()
                end.update(chunk.end)
                if chunk is DONE:
                    break
                if not chunk.text:  # no progress, whatever else the event carries
                    if time.monotonic() - last_progress > (TIMEOUT.read or 300.0):
                        if end.get("finish_reason"):
                            break  # it finished, then kept sending: the answer is whole
                        raise ServerError(f"the server at {self.where} sent no text for {TIMEOUT.read:.0f} s mid-step")
                    continue
                last_progress = time.monotonic()
                if counted >= allowed:  # a server that ignores max_tokens
                    end["finish_reason"] = "length"
                    break
                piece = chunk.text[: (allowed - counted) * PIECE_CHARS]  # a megabyte in one event is many pieces
                counted += max(1, len(chunk.confidences), -(-len(piece) // PIECE_CHARS))
                confidences.extend(chunk.confidences)
                text = scanner.feed(piece)
                if text:
                    emitted.append(text)
                    yield Delta(text, sum(chunk.confidences) / len(chunk.confidences) if chunk.confidences else None)
                if scanner.stopped:
                    break
            if not (scanner.stopped or end.get("finish_reason") or end.get("done")):
                raise ServerError(f"the server at {self.where} ended the stream mid-step, without finishing")
        finally:
            response.close()
        tail = scanner.flush()
        if tail:
            emitted.append(tail)
            yield Delta(tail, None)
        usage = end.get("usage") or {}
        stated = usage.get("prompt_tokens")  # a count more tokens than the prompt has bytes is no count
        prompt_tokens = int(stated) if _count(stated) and stated <= len(prompt.encode("utf-8")) + 16 \
            else self.count_tokens(prompt)
        served = usage.get("completion_tokens")
        served = served if _count(served) and served <= allowed else None  # nor more than the stream could carry
        yield Completion(
            text="".join(emitted),
            stop_reason=_reason(scanner.stopped, end, sampling),
            completion_tokens=int(served) if _count(served) and not scanner.stopped else counted,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=_evaluated(prompt_tokens, end),
            seconds=time.perf_counter() - start,
            confidences=tuple(confidences),
            prompt_seconds=(first_at or time.perf_counter()) - start,
        )

    def _chunks(self, response: httpx.Response) -> Iterator[_Chunk]:
        """The events of a streamed completion, then DONE; ServerError for a cut or a bad event.
        A server that answers with one JSON object instead of a stream gives it as one event."""
        try:
            if response.headers.get("content-type", "").startswith("application/json"):
                yield self._chunk(self._body_text(response, "/completions"))
                yield DONE
                return
            for data in sse_data(self._lines(response)):
                if data.strip() == "[DONE]":
                    yield DONE
                    return
                if data.strip():
                    yield self._chunk(data)
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.ReadTimeout):
                raise ServerError(transport_failure(exc, self.where, "")[0]) from None
            raise ServerError(f"the server at {self.where} cut the stream mid-step "
                              f"({snippet(str(exc) or type(exc).__name__, limit=80)})") from None

    def _lines(self, response: httpx.Response) -> Iterator[str]:
        """A stream's lines, each at most MAX_LINE_BYTES; ServerError when a line is longer, or
        when no `data:` line came for as long as the read timeout (keep-alive comments or a
        trickle of bytes do not keep a step waiting forever)."""
        buffer, last_data = b"", time.monotonic()
        for piece in response.iter_bytes():
            buffer += piece
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line.rstrip(b"\r").decode("utf-8", errors="replace")
                if text.startswith("data:"):
                    last_data = time.monotonic()
                yield text
            if len(buffer) > MAX_LINE_BYTES:
                raise ServerError(f"the server at {self.where} sent a stream line of over {MAX_LINE_BYTES // 1024} KiB")
            if time.monotonic() - last_data > (TIMEOUT.read or 300.0):
                raise ServerError(f"the server at {self.where} sent no data for {TIMEOUT.read:.0f} s mid-step")
        if buffer:
            yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")

    def _body_text(self, response: httpx.Response, path: str, timeout: httpx.Timeout | None = None) -> str:
        """A response's body as text, at most MAX_BODY_BYTES read (ServerError past that), within
        the request's read timeout in all (a trickle of a byte a second does not hold it for ever)."""
        data = bytearray()
        seconds = (timeout or TIMEOUT).read or 300.0
        deadline = time.monotonic() + seconds
        for piece in response.iter_bytes():
            data += piece
            if len(data) > MAX_BODY_BYTES:
                response.close()
                raise ServerError(f"the server at {self.where} answered {path} with over "
                                  f"{MAX_BODY_BYTES // (1024 * 1024)} MiB")
            if time.monotonic() > deadline:
                response.close()
                raise ServerError(f"the server at {self.where} took over {seconds:.0f} s to send its answer "
                                  f"to {path}")
        return data.decode("utf-8", errors="replace")

    def _chunk(self, data: str) -> _Chunk:
        """One streamed event, read."""
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):
            raise ServerError(f"the server at {self.where} sent a stream event that is not JSON") from None
        if not isinstance(event, dict):
            raise ServerError(f"the server at {self.where} sent a stream event that is not a JSON object")
        if event.get("error"):
            said = snippet(server_message(json.dumps(event)), self.key)
            raise ServerError(f"the server at {self.where} failed mid-step: {said}")
        choices = event.get("choices") if isinstance(event.get("choices"), list) else []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        end = {k: v for k, v in (("usage", event.get("usage")), ("timings", event.get("timings"))) if isinstance(v, dict)}
        if choice.get("finish_reason"):
            end["finish_reason"] = choice["finish_reason"]
            if "stop_reason" in choice:  # vLLM: the matched stop string, or None for end of generation
                end["stop_reason"] = choice["stop_reason"]
        text = choice.get("text")
        return _Chunk(well_formed(text) if isinstance(text, str) else "", token_confidences(choice.get("logprobs")), end)

    # -- choosing ------------------------------------------------------------------------

    def choose(self, prompt: str, options: Sequence[str]) -> list[float]:
        """The weight of each option as what follows `prompt`, summing to 1: the server's
        constrained pick, else each option scored by logprobs, else the guided order."""
        for method in CHOOSE_METHODS:
            if method in self._unsupported:
                continue
            weights = getattr(self, f"_choose_{method}")(prompt, options)
            if weights is not None:
                self.choose_method = method
                return weights
            self._unsupported.add(method)
        raise AssertionError("the guided order always answers")

    def _choose_guided(self, prompt: str, options: Sequence[str]) -> list[float] | None:
        """All the weight on the option the server picks greedily under a constraint (None where it has none)."""
        constraint = {"vllm": {"structured_outputs": {"choice": list(options)}},
                      "sglang": {"regex": "|".join(re.escape(o) for o in options)},
                      "llama-server": {"grammar": gbnf_choice(options)},
                      "llama-cpp-python": {"grammar": gbnf_choice(options)}}.get(self.flavour)
        if constraint is None:
            return None
        body = {**self._body(prompt, Sampling(max_tokens=GUIDED_TOKENS)), "stream": False, **constraint}
        del body["stream_options"]
        text = self._rejectable(lambda: self._post("/completions", body))
        picked = _first_text(text) if text is not None else None
        matches = [i for i, option in enumerate(options) if picked is not None and picked.strip() == option.strip()]
        if not matches:
            return None
        return [1.0 if i == matches[0] else 0.0 for i in range(len(options))]

    def _choose_logprobs(self, prompt: str, options: Sequence[str]) -> list[float] | None:
        """Each option's probability from the logprobs of its tokens, echoed after the prompt
        (None where the server returns none)."""
        scores = []
        for option in options:
            body = {"model": self.model, "prompt": prompt + option, "max_tokens": 1, "temperature": 0.0,
                    "echo": True, "logprobs": 1}
            answer = self._rejectable(lambda: self._post("/completions", body))
            score = _option_logprob(answer, len(prompt), len(prompt) + len(option)) if answer is not None else None
            if score is None:
                return None
            scores.append(score)
        peak = max(scores)
        weights = [math.exp(s - peak) for s in scores]
        return [w / sum(weights) for w in weights]

    @staticmethod
    def _choose_order(prompt: str, options: Sequence[str]) -> list[float]:
        """All the weight on the first option: the guided order."""
        return [1.0 if i == 0 else 0.0 for i in range(len(options))]

    def _rejectable(self, call: Any) -> Any:
        """The call's answer, or None when the server rejects what was asked (HTTP 400, 404, 422, 501)."""
        try:
            return call()
        except ServerError as exc:
            if exc.status in (400, 404, 422, 501):
                return None
            raise

    # -- batches -------------------------------------------------------------------------

    def open_batch(self) -> "HttpBatch":
        """Requests streamed concurrently, at most `sequences` at once."""
        return HttpBatch(self, self.sequences)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()


def render_template(template: str, **context: Any) -> str:
    """Render a server's Jinja template in Jinja's sandbox, bounded: a repetition (`*`, `**`)
    larger than TEMPLATE_CHARS and a render longer than TEMPLATE_SECONDS raise (a template is
    server text: `{{ 'x' * 300000000 }}` or nested loops must not take the machine)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            sizes = [len(v) for v in (left, right) if isinstance(v, (str, list, tuple))]
            times = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
            if operator == "*" and sizes and times and sizes[0] * max(times[-1], 0) > TEMPLATE_CHARS:
                raise SecurityError("a repetition past the template bound")
            if operator == "**" and len(times) == 2 and abs(right) > 64:
                raise SecurityError("a power past the template bound")
            return super().call_binop(context, operator, left, right)

    def fail(message: str) -> None:
        raise ValueError(message)

    env = Bounded(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = fail
    deadline, ticks = time.monotonic() + TEMPLATE_SECONDS, 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal ticks
        ticks += 1
        if ticks % 256 == 0 and time.monotonic() > deadline:
            raise TimeoutError(f"the chat template took over {TEMPLATE_SECONDS:.0f} s")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)  # a loop in the compiled template is Python code: its lines are traced
    try:
        return env.from_string(template).render(**context)
    finally:
        sys.settrace(previous)


def _reason(stopped: bool, end: dict[str, Any], sampling: Sampling) -> str:
    """Why a stream ended: "stop" (a stop sequence), "eos" or "length". A server that says
    only `finish_reason: stop` is taken to have met a stop sequence when some were given."""
    if stopped:
        return "stop"
    if end.get("finish_reason") == "length":
        return "length"
    if "stop_reason" in end:
        return "stop" if isinstance(end["stop_reason"], str) else "eos"
    return "stop" if end.get("finish_reason") == "stop" and sampling.stop else "eos"


def _evaluated(prompt_tokens: int, end: dict[str, Any]) -> int:
    """Prompt tokens the server evaluated: less what its prefix cache held, where it says so."""
    details = (end.get("usage") or {}).get("prompt_tokens_details")
    if isinstance(details, dict) and _count(details.get("cached_tokens")):
        return max(0, prompt_tokens - int(details["cached_tokens"]))
    prompt_n = (end.get("timings") or {}).get("prompt_n")
    return min(int(prompt_n), prompt_tokens) if _count(prompt_n) else prompt_tokens


def _first_text(answer: dict[str, Any]) -> str | None:
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) and isinstance(choices[0].get("text"), str):
        return well_formed(choices[0]["text"])
    return None


def _option_logprob(answer: dict[str, Any], begin: int, end: int) -> float | None:
    """The summed logprob of the echoed tokens that overlap characters [begin, end), or None
    where the answer has no such logprobs."""
    choices = answer.get("choices")
    logprobs = choices[0].get("logprobs") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if not isinstance(logprobs, dict):
        return None
    tokens, values, offsets = (logprobs.get(k) for k in ("tokens", "token_logprobs", "text_offset"))
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)):
        return None
    picked = [v for t, v, o in zip(tokens, values, offsets)
              if isinstance(t, str) and _number(o) and o < end and o + max(1, len(t)) > begin]
    if not picked or not all(_number(v) for v in picked):
        return None
    return float(sum(picked))


@dataclass
class _Failed:
    """A request's thread failed: its error, raised by the next `step`."""

    error: BaseException


class HttpBatch:
    """Requests streamed concurrently, each in a daemon thread; `step` returns what arrived."""

    def __init__(self, backend: HttpBackend, workers: int) -> None:
        self.backend = backend
        self.workers = workers
        self.pending: queue.Queue[tuple[int, Request] | None] = queue.Queue()
        self.arrived: queue.Queue[ManyItem | _Failed] = queue.Queue()
        self.cancel = threading.Event()
        self.threads: list[threading.Thread] = []
        self.added = 0
        self.finished = 0

    def add(self, request: Request) -> int:
        """Start a request (it waits while `workers` others are streaming); its index."""
        index, self.added = self.added, self.added + 1
        self.pending.put((index, request))
        if len(self.threads) < min(self.workers, self.added):
            thread = threading.Thread(target=self._work, name="ponder-http", daemon=True)
            self.threads.append(thread)
            thread.start()
        return index

    def _work(self) -> None:
        """Stream pending requests one after another until the batch closes."""
        while not self.cancel.is_set():
            job = self.pending.get()
            if job is None:
                return
            index, request = job
            stream = self.backend._stream(request.prompt, request.sampling, self.cancel)
            try:
                for item in stream:
                    self.arrived.put(SeqDelta(index, item) if isinstance(item, Delta) else SeqDone(index, item))
            except BaseException as exc:  # handed to the caller, raised by its next step
                self.arrived.put(_Failed(exc))
            finally:
                stream.close()

    def step(self) -> list[ManyItem]:
        """What arrived since the last step (waiting for at least one piece); a request's failure is raised."""
        items = [self._next()]
        while True:
            try:
                items.append(self.arrived.get_nowait())
            except queue.Empty:
                break
        for item in items:
            if isinstance(item, _Failed):
                self.close()
                raise item.error
        self.finished += sum(isinstance(item, SeqDone) for item in items)
        return items  # type: ignore[return-value]

    def _next(self) -> ManyItem | _Failed:
        while True:  # a timed wait, so Ctrl-C is seen promptly
            try:
                return self.arrived.get(timeout=0.2)
            except queue.Empty:
                continue

    @property
    def live(self) -> int:
        """Requests not finished yet."""
        return self.added - self.finished

    def close(self) -> None:
        """Abandon what is still streaming (each stream closes at its next chunk)."""
        self.cancel.set()
        for _ in self.threads:
            self.pending.put(None)
