"""The OpenAI-compatible HTTP backend against a small local stub server (stdlib `http.server`
on 127.0.0.1, port 0) that speaks the streaming completions format: streaming, stops,
usage, logprobs present and absent, choosing, batches, and every fault case; then a few
runs of `ponder ask --base-url` as a process. The real-server tests are in
tests/integration/test_server_real.py."""

from __future__ import annotations

from contextlib import contextmanager

import json
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx
import pytest

from ponder.errors import ModelError, PonderError
from ponder.llm.backend import Completion, Delta, Request, Sampling, SeqDelta, SeqDone, stream_many
from ponder.llm import openai_http
from ponder.llm.openai_http import HttpBackend, ServerError, sse_data, token_confidences
from tests.cli_helpers import ponder

KEY = "sk-test-secret-0123456789"
Reply = Callable[[BaseHTTPRequestHandler, dict], None]


def words(text: str) -> list[str]:
    """The stub's tokens: words and the spaces before them."""
    return re.findall(r"\s*\S+|\s+", text)


def sensible(body: dict) -> str:
    """What the stub model says: a program where one is asked for, else a worked answer."""
    if body["prompt"].endswith("```python\n"):
        return "print(17 * 23)\n```"
    return "17 * 23 = 340 + 51 = 391.\nThe answer is \\boxed{391}."


def send_json(handler: BaseHTTPRequestHandler, status: int, data: Any, headers: dict | None = None) -> None:
    payload = (data if isinstance(data, str) else json.dumps(data)).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)


def status(code: int, data: Any = None, headers: dict | None = None) -> Reply:
    """A reply: an HTTP error status with a JSON (or text) body."""
    return lambda handler, body: send_json(handler, code, data if data is not None else {"error": {"message": "nope"}}, headers)


def events(texts: list[str], *, finish: str | None = "stop", usage: dict | None = None, logprobs: bool = False,
           done: bool = True, extra: dict | None = None) -> list[str]:
    """The data of a streamed completion's events."""
    out = []
    for text in texts:
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": None}
        if logprobs:
            choice["logprobs"] = {"tokens": [text], "token_logprobs": [-0.25], "top_logprobs": [{text: -0.25}],
                                  "text_offset": [0]}
        out.append(json.dumps({"object": "text_completion", "choices": [choice]}))
    if finish:
        out.append(json.dumps({"choices": [{"index": 0, "text": "", "finish_reason": finish, **(extra or {})}]}))
    if usage:
        out.append(json.dumps({"choices": [], "usage": usage}))
    if done:
        out.append("[DONE]")
    return out


def stream(data: list[str], cut: str | None = None) -> Reply:
    """A reply: server-sent events; `cut` = "close" ends the connection early (no [DONE]),
    "short" promises more bytes than it sends."""
    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        payload = "".join(f"data: {d}\n\n" for d in data).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        if cut == "short":
            handler.send_header("Content-Length", str(len(payload) + 500))
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()
        handler.close_connection = True
    return reply


def completion(body: dict, answer: Callable[[dict], str] = sensible) -> Reply:
    """A reply like a real server's: the answer cut at the first stop (not included) or after
    max_tokens words, streamed word by word, with logprobs and usage when asked."""
    text = answer(body)
    finish = "length"
    cuts = [i for i in (text.find(s) for s in body.get("stop") or []) if i >= 0]
    if cuts:
        text, finish = text[: min(cuts)], "stop"
    pieces = words(text)
    if len(pieces) > body.get("max_tokens", 16):
        pieces = pieces[: body["max_tokens"]]
    elif not cuts:
        finish = "stop"
    usage = {"prompt_tokens": len(words(body["prompt"])), "completion_tokens": len(pieces)} \
        if (body.get("stream_options") or {}).get("include_usage") else None
    return stream(events(pieces, finish=finish, usage=usage, logprobs=bool(body.get("logprobs"))))


class Stub:
    """A stub OpenAI-compatible server: `/v1/models`, `/v1/completions`, and whatever `routes` adds."""

    def __init__(self) -> None:
        self.models: list[dict] = [{"id": "stub-model", "object": "model", "owned_by": "stub"}]
        self.replies: list[Reply] = []  # for POST /v1/completions, in turn; then `completion`
        self.routes: dict[str, Reply] = {}  # "METHOD /path" -> reply (overrides the defaults)
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, headers, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @classmethod
    @contextmanager
    def running(cls, *args, **kwargs):
        """A started server of this class, shut down and closed after the block."""
        server = cls(*args, **kwargs)
        server.thread.start()
        try:
            yield server
        finally:
            server.server.shutdown()
            server.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def bodies(self, path: str = "/v1/completions") -> list[dict]:
        return [body for _, p, _, body in self.requests if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET", {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", json.loads(self.rfile.read(length) or b"{}"))

            def _serve(self, method: str, body: dict) -> None:
                stub.requests.append((method, self.path, dict(self.headers), body))
                route = stub.routes.get(f"{method} {self.path}")
                if route:
                    return route(self, body)
                if (method, self.path) == ("GET", "/v1/models"):
                    return send_json(self, 200, {"object": "list", "data": stub.models})
                if (method, self.path) == ("POST", "/v1/completions"):
                    reply = stub.replies.pop(0) if stub.replies else completion(body)
                    return reply(self, body)
                send_json(self, 404, {"detail": "Not Found"})

        return Handler


@pytest.fixture
def stub():
    with Stub.running() as server:
        yield server


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(openai_http, "BACKOFF", 0.0)


def backend(stub: Stub, model: str | None = None, sequences: int = 4) -> HttpBackend:
    return HttpBackend(stub.url, model, sequences)


def run(b: HttpBackend, prompt: str = "Q: 17 * 23?\nA:", **kw: Any) -> tuple[Completion, list[Delta]]:
    items = list(b.stream(prompt, Sampling(**kw)))
    assert isinstance(items[-1], Completion)
    deltas = items[:-1]
    assert all(isinstance(d, Delta) for d in deltas)
    assert "".join(d.text for d in deltas) == items[-1].text
    return items[-1], deltas


# -- the pieces ---------------------------------------------------------------------------


def test_sse_data_joins_data_lines_and_skips_the_rest():
    lines = ["data: {\"a\": 1}", "", ": ping", "event: x", "data:b", "data: c", "", "data: [DONE]", ""]
    assert list(sse_data(lines)) == ['{"a": 1}', "b\nc", "[DONE]"]


def test_confidence_is_the_top_token_probability_in_both_shapes():
    legacy = {"tokens": ["a"], "token_logprobs": [-1.0], "top_logprobs": [{"a": -1.0, "b": -0.5}]}
    chat = {"content": [{"token": "a", "logprob": -1.0, "top_logprobs": [{"token": "b", "logprob": -0.5}]}]}
    assert token_confidences(legacy) == token_confidences(chat) == [pytest.approx(0.6065, abs=1e-4)]
    assert token_confidences(None) == [] and token_confidences({"token_logprobs": [None]}) == []


# -- loading ------------------------------------------------------------------------------


def test_the_model_is_the_first_listed_unless_named(stub):
    stub.models.append({"id": "other", "owned_by": "vllm"})
    assert backend(stub).name == "stub-model"
    named = backend(stub, "other")
    assert (named.name, named.flavour) == ("other", "vllm")
    assert backend(stub, "default").name == "stub-model"


def test_an_unknown_model_is_a_model_error_naming_what_is_served(stub):
    with pytest.raises(ModelError, match=r"serves no model 'nope' \(it serves: stub-model\)"):
        backend(stub, "nope")


def test_the_key_comes_from_the_environment_and_is_sent(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    backend(stub)
    assert stub.requests[0][2]["Authorization"] == f"Bearer {KEY}"


def test_a_refused_key_is_one_line_without_the_key(stub, monkeypatch):
    monkeypatch.setenv("PONDER_API_KEY", KEY)
    stub.routes["GET /v1/models"] = status(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    with pytest.raises(ModelError) as caught:
        backend(stub)
    message = str(caught.value)
    assert "refused the API key (HTTP 401" in message and KEY not in message and "***" in message


def test_a_missing_key_says_where_to_put_it(stub):
    stub.routes["GET /v1/models"] = status(403)
    with pytest.raises(ModelError, match=r"set \$PONDER_API_KEY or \$OPENAI_API_KEY"):
        backend(stub)


def test_no_models_endpoint_is_a_model_error(stub):
    stub.routes["GET /v1/models"] = status(404)
    with pytest.raises(ModelError, match=r"has no /models \(HTTP 404\): is --base-url the server's API root"):
        backend(stub)


def test_a_models_answer_that_is_not_json_is_a_model_error(stub):
    stub.routes["GET /v1/models"] = lambda handler, body: send_json(handler, 200, "<html>hello</html>")
    with pytest.raises(ModelError, match="answered /models with something that is not JSON"):
        backend(stub)


def test_connection_refused_is_a_model_error_at_load():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ModelError, match="connection refused"):
        HttpBackend(f"http://127.0.0.1:{port}/v1")


def _failing_transport(cause: BaseException) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
    return httpx.MockTransport(handle)


def test_dns_and_tls_failures_are_named():
    with pytest.raises(ModelError, match="cannot resolve the server's host 'nowhere.invalid'"):
        HttpBackend("http://nowhere.invalid/v1", transport=_failing_transport(socket.gaierror(-2, "Name or service not known")))
    tls = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    with pytest.raises(ModelError, match="TLS error talking to https://example.test/v1"):
        HttpBackend("https://example.test/v1", transport=_failing_transport(tls))


# -- streaming ----------------------------------------------------------------------------


def test_a_stream_gives_text_usage_and_confidence(stub):
    done, deltas = run(backend(stub), max_tokens=64)
    assert done.text == sensible({"prompt": ""})
    assert done.stop_reason == "eos"
    assert done.completion_tokens == len(words(done.text)) == len(done.confidences)
    assert done.prompt_tokens == len(words("Q: 17 * 23?\nA:"))
    assert all(d.confidence == pytest.approx(0.7788, abs=1e-4) for d in deltas)
    sent = stub.bodies()[0]
    assert sent["prompt"] == "Q: 17 * 23?\nA:" and sent["stream"] is True and sent["logprobs"] == 1


def test_the_request_carries_the_sampling(stub):
    run(backend(stub), temperature=0.7, top_p=0.9, seed=5, max_tokens=33, stop=("</a>",))
    sent = stub.bodies()[0]
    assert (sent["temperature"], sent["top_p"], sent["seed"], sent["max_tokens"], sent["stop"]) == (0.7, 0.9, 5, 33, ["</a>"])
    assert sent["stream_options"] == {"include_usage": True}


def test_a_stop_the_server_strips_ends_the_step(stub):
    done, _ = run(backend(stub), stop=(" = 391",), max_tokens=64)
    assert (done.text, done.stop_reason) == ("17 * 23 = 340 + 51", "stop")


def test_a_stop_the_server_leaks_is_cut_here(stub):
    stub.replies.append(stream(events(["Two ", "plus</a", "> two"], finish="length")))
    done, deltas = run(backend(stub), stop=("</a>",))
    assert (done.text, done.stop_reason) == ("Two plus", "stop")
    assert all("<" not in d.text for d in deltas)


def test_max_tokens_is_length(stub):
    done, _ = run(backend(stub), max_tokens=3)
    assert (done.text, done.stop_reason, done.completion_tokens) == ("17 * 23", "length", 3)


def test_vllm_stop_reason_tells_a_stop_from_the_end(stub):
    stub.replies.append(stream(events(["a"], extra={"stop_reason": None})))
    stub.replies.append(stream(events(["a"], extra={"stop_reason": "</a>"})))
    b = backend(stub)
    assert run(b, stop=("</a>",))[0].stop_reason == "eos"
    assert run(b, stop=("</a>",))[0].stop_reason == "stop"


def test_without_logprobs_there_is_no_confidence_and_tokens_are_counted(stub):
    stub.replies.append(stream(events(["one", " two", " three"])))  # no logprobs, no usage
    stub.routes["POST /tokenize"] = lambda handler, body: send_json(handler, 200, {"tokens": [1] * 7})
    done, deltas = run(backend(stub))
    assert done.confidences == () and done.mean_confidence is None
    assert all(d.confidence is None for d in deltas)
    assert (done.completion_tokens, done.prompt_tokens) == (3, 7)


def test_cached_prompt_tokens_are_not_counted_as_evaluated(stub):
    usage = {"prompt_tokens": 50, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 40}}
    stub.replies.append(stream(events(["x"], usage=usage)))
    done, _ = run(backend(stub), prompt="Q: " + "17 * 23 " * 10 + "?\nA:")
    assert (done.prompt_tokens, done.prompt_tokens_evaluated) == (50, 10)


def test_a_json_answer_instead_of_a_stream_is_read(stub):
    stub.replies.append(lambda handler, body: send_json(handler, 200, {"choices": [{"text": "391", "finish_reason": "stop"}],
                                                                       "usage": {"prompt_tokens": 4, "completion_tokens": 1}}))
    assert run(backend(stub))[0].text == "391"


def test_a_lone_surrogate_the_server_escapes_is_a_replacement_character(stub):
    stub.replies.append(lambda handler, body: send_json(handler, 200, {"choices": [{"text": "39\udfff1", "finish_reason": "stop"}]}))
    done, deltas = run(backend(stub))
    assert done.text == "39\ufffd1" and "".join(d.text for d in deltas) == done.text
    done.text.encode("utf-8")  # what the trace and --json write


def test_chat_prompt_is_chatml():
    b = HttpBackend.__new__(HttpBackend)
    b._template = None
    prompt = b.chat_prompt([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_a_template_the_server_exposes_is_used(stub):
    stub.models[0]["owned_by"] = "llamacpp"
    template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    stub.routes["GET /props"] = lambda handler, body: send_json(handler, 200, {"chat_template": template})
    b = backend(stub)
    assert b.template == "server"
    assert b.chat_prompt([{"role": "user", "content": "hi"}]) == "[user]hi[assistant]"


@pytest.mark.parametrize("template, error", [
    ("{{ 'x' * 300000000 }}", "repetition past the template bound"),
    ("{{ 3 * [1, 2] * 300000 }}", "repetition past the template bound"),
    ("{{ 10 ** 100000000 }}", "power past the template bound"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "took over 0 s"),
])
def test_a_template_that_would_take_the_machine_is_stopped_and_chatml_used(stub, monkeypatch, template, error):
    import time

    from jinja2.sandbox import SecurityError

    monkeypatch.setattr(openai_http, "TEMPLATE_SECONDS", 0.3)
    began = time.monotonic()
    with pytest.raises((SecurityError, TimeoutError), match=error):
        openai_http.render_template(template, messages=[])
    assert time.monotonic() - began < 3
    assert openai_http.render_template("{{ 'ab' * 3 }}|{{ 2 ** 10 }}") == "ababab|1024"
    stub.models[0]["owned_by"] = "llamacpp"
    stub.routes["GET /props"] = lambda handler, body: send_json(handler, 200, {"chat_template": template})
    b = backend(stub)
    assert b.chat_prompt([{"role": "user", "content": "hi"}]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert b.template == "chatml"


# -- faults during a run ------------------------------------------------------------------


def test_429_then_ok_is_retried(stub):
    stub.replies.append(status(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}))
    done, _ = run(backend(stub), max_tokens=64)
    assert done.text.endswith("\\boxed{391}.")
    assert len(stub.bodies()) == 2


def test_5xx_three_times_is_one_line_with_the_server_message_cut_and_cleaned(stub):
    noisy = "boom \x1b[31mred\x1b[0m " + "x" * 500
    stub.replies.extend([status(500, {"error": {"message": noisy}})] * 3)
    with pytest.raises(ServerError) as caught:
        run(backend(stub))
    message = str(caught.value)
    assert "failed (HTTP 500) after 3 tries: boom" in message
    assert "\x1b" not in message and "\n" not in message and len(message) < 300
    assert len(stub.bodies()) == 3
    assert not isinstance(caught.value, ModelError) and isinstance(caught.value, PonderError)


def test_a_404_model_during_a_run(stub):
    stub.replies.append(status(404, {"error": {"message": "The model `x` does not exist."}}))
    with pytest.raises(ServerError, match=r"has no /completions for this model \(HTTP 404\): The model `x` does not exist"):
        run(backend(stub))


@pytest.mark.parametrize("cut", ["close", "short"])
def test_a_stream_cut_mid_step_fails_the_step(stub, cut):
    stub.replies.append(stream(events(["one", " two"], finish=None, done=False), cut=cut))
    with pytest.raises(ServerError, match="stream mid-step"):
        run(backend(stub))


def test_a_stream_event_that_is_not_json(stub):
    stub.replies.append(stream(["{\"choices\": [{\"text\": \"a\"}]}", "not json at all"]))
    with pytest.raises(ServerError, match="sent a stream event that is not JSON"):
        run(backend(stub))


def test_an_error_event_in_the_stream(stub):
    stub.replies.append(stream([json.dumps({"error": {"message": "out of memory"}})]))
    with pytest.raises(ServerError, match="failed mid-step: out of memory"):
        run(backend(stub))


def raw(payload: bytes, content_type: str = "text/event-stream", pause: float = 0.0, times: int = 1) -> Reply:
    """A reply: `payload` sent `times` times, `pause` seconds apart, then the connection closed."""
    import time

    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.end_headers()
        try:
            for _ in range(times):
                handler.wfile.write(payload)
                handler.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True
    return reply


def test_a_server_that_ignores_max_tokens_is_stopped_as_length(stub):
    stub.replies.append(stream(events(["blah "] * 2000, finish=None, done=False)))
    done, _ = run(backend(stub), max_tokens=16)
    assert done.stop_reason == "length" and done.completion_tokens == 16 + openai_http.EXTRA_PIECES
    assert done.text == "blah " * (16 + openai_http.EXTRA_PIECES)


def test_a_stream_line_past_the_bound_is_one_error_not_memory(stub, monkeypatch):
    monkeypatch.setattr(openai_http, "MAX_LINE_BYTES", 4096)
    stub.replies.append(raw(b"data: " + b"x" * 8192, times=4))
    with pytest.raises(ServerError, match="sent a stream line of over 4 KiB"):
        run(backend(stub))


def test_a_json_answer_past_the_bound_is_one_error(stub, monkeypatch):
    monkeypatch.setattr(openai_http, "MAX_BODY_BYTES", 4096)
    stub.replies.append(raw(b"[" + b"1," * 4096 + b"1]", content_type="application/json"))
    with pytest.raises(ServerError, match="answered /completions with over 0 MiB"):
        run(backend(stub))
    stub.routes["GET /v1/models"] = raw(b'{"data": [' + b" " * 8192 + b"]}", content_type="application/json")
    with pytest.raises(ModelError, match="answered /models with over"):
        backend(stub)


def test_keep_alive_comments_alone_end_the_step_after_the_read_timeout(stub, monkeypatch):
    monkeypatch.setattr(openai_http, "TIMEOUT", httpx.Timeout(10.0, read=0.3))
    stub.replies.append(raw(b": keep-alive\n\n", pause=0.1, times=50))
    with pytest.raises(ServerError, match="sent no data for 0 s mid-step"):
        run(backend(stub))


@pytest.mark.parametrize("logprobs", [{"token_logprobs": 5}, {"token_logprobs": [-0.1], "top_logprobs": 7},
                                      {"content": [{"logprob": -0.1, "top_logprobs": 3}]}, {"content": 3}])
def test_logprobs_of_the_wrong_shape_give_no_confidence_not_a_crash(logprobs):
    assert token_confidences(logprobs) in ([], [pytest.approx(0.9048, abs=1e-4)])


@pytest.mark.parametrize("usage", [{"prompt_tokens": 10**400, "completion_tokens": 1e308},
                                   {"prompt_tokens": -5, "completion_tokens": -5,
                                    "prompt_tokens_details": {"cached_tokens": 10**400}}])
def test_usage_that_is_no_sane_count_is_counted_here(stub, usage):
    stub.replies.append(stream(events(["one", " two"], usage=usage)))
    done, _ = run(backend(stub))
    assert done.completion_tokens == 2 and 0 < done.prompt_tokens < 100 and done.prompt_tokens_evaluated == done.prompt_tokens


def test_a_tokenizer_that_answers_no_json_is_passed_over_for_the_estimate(stub):
    stub.routes["POST /tokenize"] = raw(b"<html>busy</html>", content_type="text/html")
    b = backend(stub)
    assert b.count_tokens("twelve bytes") == 3


def test_a_server_gone_mid_run_is_a_run_error(stub):
    b = backend(stub)
    stub.server.shutdown()
    stub.server.server_close()
    with pytest.raises(ServerError, match="connection refused"):
        run(b)


# -- choosing -----------------------------------------------------------------------------

OPTIONS = ["<verify>", "<answer>"]


def test_choose_uses_the_servers_grammar_where_it_has_one(stub):
    stub.models[0]["owned_by"] = "me"  # llama-cpp-python's server
    stub.routes["POST /v1/completions"] = lambda handler, body: send_json(
        handler, 200, {"choices": [{"text": "<answer>", "finish_reason": "stop"}]})
    b = backend(stub)
    assert b.choose("p", OPTIONS) == [0.0, 1.0]
    assert b.choose_method == "guided"
    assert stub.bodies()[0]["grammar"] == 'root ::= "<verify>" | "<answer>"'


def test_choose_uses_vllm_structured_choice(stub):
    stub.models[0]["owned_by"] = "vllm"
    stub.routes["POST /v1/completions"] = lambda handler, body: send_json(
        handler, 200, {"choices": [{"text": "<verify>", "finish_reason": "stop"}]})
    assert backend(stub).choose("p", OPTIONS) == [1.0, 0.0]
    assert stub.bodies()[0]["structured_outputs"] == {"choice": OPTIONS}


def test_choose_scores_options_with_echoed_logprobs_where_there_is_no_grammar(stub):
    def echo(handler, body):
        prompt, option = "p", body["prompt"][1:]
        logprob = {"<verify>": -2.0, "<answer>": -1.0}[option]
        logprobs = {"tokens": ["p", "<", option[1:]], "token_logprobs": [None, -0.5, logprob - -0.5],
                    "text_offset": [0, 1, 2]}
        send_json(handler, 200, {"choices": [{"text": prompt + option + "x", "logprobs": logprobs}]})
    stub.routes["POST /v1/completions"] = echo
    b = backend(stub)
    weights = b.choose("p", OPTIONS)
    assert b.choose_method == "logprobs"
    assert weights[1] == pytest.approx(1 / (1 + 2.718281828 ** -1), abs=1e-6) and sum(weights) == pytest.approx(1)
    assert stub.bodies()[0]["echo"] is True


def test_choose_falls_back_to_the_guided_order(stub):
    stub.routes["POST /v1/completions"] = status(400, {"error": {"message": "echo is not supported"}})
    b = backend(stub)
    assert b.choose("p", OPTIONS) == [1.0, 0.0]
    assert b.choose_method == "order"
    b.choose("p", OPTIONS)
    assert len(stub.bodies()) == 1  # what the server cannot do is not asked again


# -- batches ------------------------------------------------------------------------------


def test_a_batch_streams_requests_concurrently_each_ending_once(stub):
    b = backend(stub, sequences=3)
    requests = [Request(f"Q{i}", Sampling(max_tokens=64, seed=i)) for i in range(5)]
    items = list(stream_many(b, requests))
    done = {item.index: item.completion for item in items if isinstance(item, SeqDone)}
    assert sorted(done) == list(range(5))
    for index, completion in done.items():
        text = "".join(i.delta.text for i in items if isinstance(i, SeqDelta) and i.index == index)
        assert text == completion.text == sensible({"prompt": ""})
    assert sorted(body["seed"] for body in stub.bodies()) == list(range(5))


def test_a_failed_request_in_a_batch_is_raised_by_step(stub):
    stub.replies.extend([status(401)])
    with pytest.raises(ServerError, match="HTTP 401"):
        list(stream_many(backend(stub), [Request("Q", Sampling())]))


# -- the command line ---------------------------------------------------------------------


def test_ask_against_a_server_answers(stub, tmp_path):
    done = ponder("ask", "--base-url", stub.url, "--strategy", "cascade", "--json", "--trace-dir", str(tmp_path),
                  "What is 17 * 23?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "391"
    trace = [json.loads(line) for line in open(result["trace"])]
    assert trace[0]["model"] == "stub-model"
    assert stub.bodies() and all(not body["prompt"].endswith("\n\n") for body in stub.bodies())


def test_ask_takes_the_server_from_the_environment_but_the_fake_stays_the_fake(stub):
    env = {"PONDER_BASE_URL": stub.url}
    assert ponder("ask", "--strategy", "cascade", "What is 17 * 23?", env=env).stdout == b"391\n"
    assert ponder("ask", "-m", "fake", "What is 17 * 23?", env={"OPENAI_BASE_URL": stub.url}).returncode == 0
    assert len(stub.bodies()) == 2  # the cascade's two calls; none from the fake's run


def test_ask_with_no_server_is_one_line_and_exit_3():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = ponder("ask", "--base-url", f"http://127.0.0.1:{port}/v1", "What is 17 * 23?")
    assert done.returncode == 3
    assert done.stderr.decode().strip().count("\n") == 0 and b"connection refused" in done.stderr


def test_ask_with_a_bad_url_is_a_usage_error():
    done = ponder("ask", "--base-url", "ftp://example.test", "What is 17 * 23?")
    assert done.returncode == 2 and b"http://" in done.stderr


def test_a_run_whose_stream_is_cut_is_exit_1_with_the_trace_closed_as_error(stub, tmp_path):
    stub.replies.append(stream(events(["17 * 23"], finish=None, done=False), cut="short"))
    done = ponder("ask", "--base-url", stub.url, "--strategy", "cascade", "--trace-dir", str(tmp_path), "What is 17 * 23?")
    assert done.returncode == 1
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 2 and "on the server" in lines[0], lines  # a note says which server answers
    assert "stream mid-step" in lines[1], lines
    trace = [json.loads(line) for line in next(tmp_path.glob("*.jsonl")).open()]
    assert trace[-1]["type"] == "run_finished" and trace[-1]["status"] == "error"


def test_a_status_line_counts_its_tries_and_an_unknown_status_is_a_rejection():
    assert openai_http.status_failure(503, "", "S", "/completions", 1, None) == "the server at S failed (HTTP 503) after 1 try"
    assert openai_http.status_failure(999, "", "S", "/completions", 1, None) == \
        "the server at S rejected the request to /completions (HTTP 999)"


# -- a hostile server's bounds ------------------------------------------------------------


def test_a_megabyte_in_each_event_counts_as_many_pieces_and_is_cut(stub):
    stub.replies.append(stream(events(["x" * 1_000_000] * 5, finish=None, done=False)))
    done, _ = run(backend(stub), max_tokens=16)
    assert done.stop_reason == "length"
    assert len(done.text) == (16 + openai_http.EXTRA_PIECES) * openai_http.PIECE_CHARS


@pytest.mark.parametrize("event", [b'{"choices": [{"text": ""}]}', b'{"choices": [{"text": ""}], "timings": {}}',
                                   b'{"choices": [], "usage": {"completion_tokens": 1}}'])
def test_events_without_text_do_not_hold_a_step_for_ever(stub, monkeypatch, event):
    monkeypatch.setattr(openai_http, "TIMEOUT", httpx.Timeout(10.0, read=0.3))
    stub.replies.append(raw(b"data: " + event + b"\n\n", pause=0.05, times=200))
    with pytest.raises(ServerError, match="sent no text for 0 s mid-step"):
        run(backend(stub))


def test_a_stream_that_finished_and_keeps_sending_ends_with_its_answer(stub, monkeypatch):
    import time

    monkeypatch.setattr(openai_http, "TIMEOUT", httpx.Timeout(10.0, read=0.3))
    finished = b'data: {"choices": [{"text": "", "finish_reason": "stop"}]}\n\n'

    def reply(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        try:
            handler.wfile.write(b'data: {"choices": [{"text": "391"}]}\n\n')
            for _ in range(100):  # never [DONE]
                handler.wfile.write(finished)
                handler.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True

    stub.replies.append(reply)
    done, _ = run(backend(stub))
    assert done.text == "391"


def test_a_body_compressed_twice_is_refused_unread(stub):
    import gzip

    bomb = gzip.compress(gzip.compress(b"\0" * (64 << 20)))

    def reply(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip, gzip")
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        handler.wfile.write(bomb)

    stub.routes["GET /v1/models"] = reply
    with pytest.raises(ModelError, match="encoded as gzip, gzip, which ponder does not read"):
        backend(stub)
    assert stub.requests[0][2].get("Accept-Encoding") == "deflate, gzip"


def test_a_json_answer_trickled_past_the_read_timeout_is_one_error(stub, monkeypatch):
    monkeypatch.setattr(openai_http, "TIMEOUT", httpx.Timeout(10.0, read=0.3))
    b = backend(stub)
    stub.replies.append(raw(b" ", content_type="application/json", pause=0.05, times=100))
    with pytest.raises(ServerError, match="took over 0 s to send its answer to /completions"):
        run(b)


def test_usage_larger_than_the_stream_or_the_prompt_could_be_is_counted_here(stub):
    stub.replies.append(stream(events(["one", " two"], usage={"prompt_tokens": 99_999_999_999_999,
                                                               "completion_tokens": 99_999_999_999_999})))
    done, _ = run(backend(stub))
    assert done.completion_tokens == 2 and 0 < done.prompt_tokens < 100


def test_a_log_probability_above_zero_is_no_confidence():
    assert token_confidences({"token_logprobs": [5.0, -0.1], "top_logprobs": [{"a": 5.0}, {"b": -0.1}]}) == [
        pytest.approx(0.9048, abs=1e-4)]


def test_a_template_that_pads_every_prompt_gives_way_to_chatml(stub):
    stub.models[0]["owned_by"] = "llamacpp"
    template = "{{ 'a'.ljust(5000000) }}{% for m in messages %}{{ m.content }}{% endfor %}"
    stub.routes["GET /props"] = lambda handler, body: send_json(handler, 200, {"chat_template": template})
    b = backend(stub)
    assert b.chat_prompt([{"role": "user", "content": "hi"}]).startswith("<|im_start|>user\nhi")
    assert b.template == "chatml"


def test_the_password_of_a_base_url_is_never_written(stub):
    url = stub.url.replace("http://", "http://user:s3cr3tpass@")
    done = ponder("ask", "--base-url", url, "--strategy", "chain", "--no-review", "--no-trace", "What is 17 * 23?")
    assert b"s3cr3tpass" not in done.stderr + done.stdout and b"on the server http://127.0.0.1:" in done.stderr
    assert openai_http.without_credentials("ftp://user:s3cr3tpass@host/x") == "ftp://host/x"


def test_a_models_answer_trickled_past_the_load_timeout_fails_the_load(stub, monkeypatch):
    monkeypatch.setattr(openai_http, "LOAD_TIMEOUT", httpx.Timeout(10.0, read=0.3))
    stub.routes["GET /v1/models"] = raw(b" ", content_type="application/json", pause=0.05, times=100)
    with pytest.raises(ModelError, match="took over 0 s to send its answer to /models"):
        backend(stub)
