"""`ponder ask`: read the question, load the model, run, and feed every consumer of events.

Rules that must hold:
- The question is checked (non-empty, valid UTF-8 in the argument and on stdin, at most
  256 KiB, stdin read through `ponder.inputs` so a read stops at the limit) and the trace
  directory made usable before the model is loaded, so user errors fail fast with exit 2.
- Every event goes, in order, to the trace file, to `--events` on stdout, to the reasoning
  view on stderr, and to the collector for `--json`; on Ctrl-C (or SIGTERM) a closing
  `interrupted` event reaches the same sinks before exit 130 (143).
- A failure names what failed: the trace (WriteError), stdout (StdoutError), both exit 1;
  the sinks that still work get a closing `error` event. A failing stderr costs nothing
  (`cli/streams.py` drops it): the answer still reaches stdout.
- The trace directory must be one ponder can create files in (tried before the model loads).
- `run_question` runs one question on a loaded backend and is the one way a question is run
  for a person (`ask`, each turn of `chat`): it returns the run's events, closed as
  `interrupted` on Ctrl-C; reporting the answer is the caller's.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Generator, Iterator

from ponder import interrupts
from ponder.cli.options import Options
from ponder.cli.streams import print_line
from ponder.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, PonderError, UsageError
from ponder.inputs import MAX_QUESTION_BYTES, argument_text, decode_utf8, read_stream, stdin_bytes
from ponder.interrupts import held
from ponder.tools.answers import ExtractedAnswer, as_written
from ponder.trace.events import Answer, Event, RunFinished, RunStarted, StepFinished, ToolCall, ToolResult
from ponder.agent.engine.scaffold import NO_ANSWER_ERROR


def read_question(argument: str | None) -> str:
    """The question from the argument and/or piped stdin (stdin first, like `llm`), at most 256 KiB."""
    parts = [_piped_question(), argument_text(argument or "", "the question").strip()]
    question = "\n".join(part for part in parts if part)
    if len(question.encode("utf-8")) > MAX_QUESTION_BYTES:
        raise UsageError(f"the question is larger than {MAX_QUESTION_BYTES // 1024} KiB")
    if not question:
        raise UsageError("no question given: pass it as an argument or pipe it on stdin")
    if "\x00" in question:
        raise UsageError("the question contains NUL bytes")
    return question


def _piped_question() -> str:
    """Piped stdin as text, read through the bounded reader ('' when stdin is a terminal or closed)."""
    stream = stdin_bytes()
    if stream is None or sys.stdin.isatty():
        return ""
    data = read_stream(stream, MAX_QUESTION_BYTES, "the question on stdin")
    return decode_utf8(data, "the question on stdin").strip()


def trace_path(options: Options, run_id: str) -> Path | None:
    """Where this run's trace goes, after making sure the directory is usable."""
    directory = trace_directory(options)
    return directory / f"{run_id}.jsonl" if directory else None


def trace_directory(options: Options) -> Path | None:
    """The usable trace directory (created if needed), or None with --no-trace."""
    if options.output.no_trace:
        return None
    from ponder import paths

    directory = options.output.trace_dir or paths.trace_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"cannot use trace directory {directory}: it is not a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot use trace directory {directory}: {exc.strerror}") from None
    if not directory.is_dir():
        raise UsageError(f"trace directory {directory} is not a directory")
    _try_writing(directory)
    return directory


def _try_writing(directory: Path) -> None:
    """Create and remove a file in the trace directory, or fail with one line (exit 2)."""
    import os
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".ponder-", suffix=".probe", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write in trace directory {directory}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:
        pass


def run_ask(argument: str | None, options: Options) -> int:
    """Run `ponder ask`; return the exit code."""
    from ponder.agent.engine.ids import new_run_id

    question = read_question(argument)
    run_id = new_run_id()
    path = trace_path(options, run_id)
    backend = load_model(options)
    events = run_question(backend, question, options, run_id, path)
    if was_interrupted(events):
        interrupts.tell()
        return EXIT_INTERRUPTED
    return _report(events, options, path)


def load_model(options: Options):  # type: ignore[no-untyped-def]
    """Load the backend the options name (assembling an embedded model once)."""
    from ponder.llm.loader import load_backend, model_spec
    from ponder.llm.registry import needs_assembly

    from ponder.cli.safe import one_line

    spec = model_spec(options.model, server=bool(options.load.base_url))
    if not options.load.base_url and needs_assembly(spec):
        sys.stderr.write(f"ponder: assembling the {one_line(spec)} model into the cache (once)…\n")
    if options.load.backend == "transformers" and not spec.startswith("fake"):
        from ponder.llm.transformers_backend import conversion_pending

        if conversion_pending(spec):
            sys.stderr.write(f"ponder: converting the {one_line(spec)} model for transformers into the cache (once)…\n")
    backend = load_backend(spec, options.load)
    unsaved = getattr(backend, "conversion_unsaved", None)
    if unsaved:
        sys.stderr.write(one_line(f"ponder: warning: the conversion was not kept ({unsaved}); "
                                  "the next run converts again") + "\n")
    if options.run.prm and "prm" in options.run.scorers:  # a reward model that cannot load stops the run before it starts
        from ponder.llm.process_reward import process_reward_model

        process_reward_model(options.run.prm)
    if options.load.base_url and not spec.startswith("fake"):  # say so: $OPENAI_BASE_URL may be set for other tools
        name = one_line(str(getattr(backend, "name", spec)))
        from ponder.llm.openai_http import without_credentials

        where = getattr(backend, "where", None) or without_credentials(options.load.base_url)
        sys.stderr.write(f"ponder: using {name if len(name) <= 80 else name[:79] + '…'} on the server "
                         f"{one_line(where)}\n")
    return backend


def run_question(backend, question: str, options: Options, run_id: str, path: Path | None,  # type: ignore[no-untyped-def]
                 params: dict[str, Any] | None = None) -> list[Event]:
    """Run one question on a loaded backend, every event to every sink; return the run's events,
    which end with its RunFinished (`interrupted` after Ctrl-C or SIGTERM). `params` are added
    to the RunStarted event's params (chat: its session, the turn, the question as typed)."""
    from ponder.agent.strategies import STRATEGIES
    from ponder.cli.render import ReasoningView
    from ponder.trace.jsonl import TraceWriter
    from ponder.trace.usage import summarize

    mode = options.output.reasoning or ("collapse" if sys.stderr.isatty() else "hide")
    view = ReasoningView(mode)
    writer = TraceWriter(path) if path else None
    seen: list[Event] = []
    sinks: list[Callable[[Event], None]] = [seen.append]
    if writer:
        sinks.append(writer.write)  # the trace first: what a second Ctrl-C must not cost
    sinks += [view.handle, warn_weak_isolation]
    if options.output.events:
        sinks.append(_print_event)
    model_name = getattr(backend, "name", "model")
    stream: Generator[Event, None, None] | None = None
    try:
        stream = _with_params(STRATEGIES[options.strategy](backend, question, options.run, run_id=run_id,
                                                           model=model_name), params)
        for event in stream:
            for sink in sinks:
                sink(event)
    except KeyboardInterrupt:
        with held():  # a second Ctrl-C waits until the trace is closed and the view stopped
            finished = bool(seen) and isinstance(seen[-1], RunFinished)  # the signal came after the run ended
            final = None if finished else RunFinished(run_id, status="interrupted", usage=summarize(seen))
            _close(sinks if final else [], final, view, writer)
            if stream is not None:
                stream.close()  # the strategy's own clean-up (open batches) runs now, not when collected
        return seen
    except PonderError as exc:  # the model, the trace (WriteError) or stdout (StdoutError) failed
        _close(sinks, RunFinished(run_id, status="error", usage=summarize(seen), error=str(exc)), view, writer)
        raise
    _close([], None, view, writer)  # the run ended itself: its RunFinished went to every sink
    return seen


def was_interrupted(events: list[Event]) -> bool:
    """Whether Ctrl-C or SIGTERM stopped the run these events are of."""
    return bool(events) and isinstance(events[-1], RunFinished) and events[-1].status == "interrupted"


def _with_params(events: Iterator[Event], params: dict[str, Any] | None) -> Generator[Event, None, None]:
    """The events, with `params` added to the RunStarted event's; closing it closes `events`."""
    try:
        for event in events:
            if params and isinstance(event, RunStarted):
                event = replace(event, params={**event.params, **params})
            yield event
    finally:
        getattr(events, "close", lambda: None)()


_WARNED: set[str] = set()


def warn_weak_isolation(event: Event) -> None:
    """Warn once per process when model code ran without the bubblewrap sandbox."""
    if isinstance(event, ToolResult) and event.isolation == "rlimits" and "rlimits" not in _WARNED:
        _WARNED.add("rlimits")
        sys.stderr.write("ponder: warning: bubblewrap is unavailable, so model code runs with resource limits "
                         "only and can read your files (use --sandbox strict to refuse)\n")


def _close(sinks, final: RunFinished | None, view, writer) -> None:  # type: ignore[no-untyped-def]
    """Give a closing event (if any) to every sink that still works, then close the view and trace."""
    try:
        for sink in sinks if final else []:
            try:
                sink(final)
            except (PonderError, ValueError):
                pass  # this sink already failed; that first failure is what gets reported
    finally:
        view.close()
        if writer:
            writer.close()


def _report(events: list[Event], options: Options, path: Path | None) -> int:
    from ponder.cli.safe import visible
    from ponder.trace.jsonl import to_json

    finished = next(e for e in reversed(events) if isinstance(e, RunFinished))
    if options.output.as_json:
        print_line(to_json(json_result(events, path)))
    elif not options.output.events and finished.answer:
        print_line(visible(shown_answer(events)))
    if not finished.answer:
        sys.stderr.write(f"ponder: error: {NO_ANSWER_ERROR}\n")
        return EXIT_FAILURE
    return EXIT_OK


def shown_answer(events: list[Event]) -> str:
    """The run's answer as stdout shows it: canonical, in the letter case the model wrote it."""
    finished = next(e for e in reversed(events) if isinstance(e, RunFinished))
    answer = next((e for e in reversed(events) if isinstance(e, Answer)), None)
    if answer is None or answer.normalized != finished.answer:
        return finished.answer or ""
    return as_written(ExtractedAnswer(answer.text, answer.normalized, answer.kind))


def json_result(events: list[Event], path: Path | None) -> dict[str, Any]:
    """The `--json` object: answer, steps with their tool calls, usage, trace path."""
    finished = next(e for e in reversed(events) if isinstance(e, RunFinished))
    steps: list[dict[str, Any]] = []
    tools: dict[str, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, ToolCall):
            tools[event.span] = {"tool": event.tool, "input": event.input}
            pending.append(tools[event.span])
        elif isinstance(event, ToolResult) and event.span in tools:
            tools[event.span].update(status=event.status, output=event.output, error=event.error)
        elif isinstance(event, StepFinished):
            steps.append({
                "factor": event.factor, "text": event.text, "outcome": event.outcome,
                "observation": event.observation, "completion_tokens": event.completion_tokens,
                "seconds": event.seconds, "confidence": event.confidence, "tools": pending,
            })
            pending = []
    return {
        "run": finished.run,
        "status": finished.status,
        "answer": finished.answer,
        "steps": steps,
        "usage": finished.usage,
        "trace": str(path) if path else None,
        **strategy_result(events),
    }


def strategy_result(events: list[Event]) -> dict[str, Any]:
    """The strategy's own outcome: its rounds, review verdicts, scored candidates and vote."""
    from dataclasses import asdict

    from ponder.trace.events import CandidateScored, ReviewVerdict, RoundFinished, RoundStarted, RunStarted, VoteTally

    started = next((e for e in events if isinstance(e, RunStarted)), None)
    index = {e.span: e.index for e in events if isinstance(e, RoundStarted)}
    tally = next((e for e in reversed(events) if isinstance(e, VoteTally)), None)
    return {
        "strategy": started.strategy if started else None,
        "rounds": [{"round": index.get(e.span), "answer": e.normalized, "verified": e.verified, "source": e.source,
                    "completion_tokens": e.completion_tokens} for e in events if isinstance(e, RoundFinished)],
        "reviews": [{"round": index.get(e.parent), "verdict": e.verdict, "reasons": e.reasons, "answer": e.answer}
                    for e in events if isinstance(e, ReviewVerdict)],
        "candidates": [{"round": index.get(e.parent), "answer": e.answer, "score": e.score, "scores": e.scores,
                        "rule": e.rule} for e in events if isinstance(e, CandidateScored)],
        "vote": {k: v for k, v in asdict(tally).items() if k in ("groups", "winner", "samples", "stopped")} if tally else None,
    }


def _print_event(event: Event) -> None:
    from ponder.trace.jsonl import dumps

    print_line(dumps(event))


