"""A resumable JSONL results file: one whole line per item, never an id twice.

Rules that must hold:
- A record is written as one whole line (`LineFile`: SIGINT and SIGTERM held off, a failed
  write cut back), so an interrupted run or a full disk leaves only whole lines.
- Without `resume`, an existing non-empty file is refused rather than overwritten.
- With `resume`, the file is read bounded (a regular file of at most MAX_RESULTS_BYTES).
  Only whole result records count as done: a line ending in a newline that holds a JSON
  object with a non-empty string `id`, `status` "ok" with a non-empty string `answer` and a
  null `error`, or `status` "error" with a string `error` (and an `answer` key), fields of
  the types the runner writes (`usage` numbers, `seconds` a number, `correct` a bool), and an
  id not seen on an earlier line. Every other line (not JSON, a stub, a torn last line, a
  repeated id) is moved to OUT.rejected, the file keeps only the records, and `rejected`
  counts them for the caller to report; items left without a record run again. Blank lines carry nothing
  and are dropped when the file is rewritten. A file whose record for an id was asked another
  question than the input's item of that id (`asked`) holds another input's results, and a
  file with no record but whole lines that are no JSON object is no results file: both are
  refused (exit 2) before anything is set aside or written, as is a file ponder cannot write.
- One run writes a results file at a time: it holds an exclusive lock (flock) on it from
  before it is read to the end of the run; another ponder on the same file is refused (exit 2).
- A run that fails (an exception) removes a file it created and wrote no record into.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping

from ponder.errors import UsageError
from ponder.inputs import MAX_RESULTS_BYTES, open_regular
from ponder.interrupts import held
from ponder.trace.events import as_float
from ponder.trace.jsonl import TEMP_NAME_CHARS, LineFile, WriteError, to_json

WHAT = "results file"


class ResultsFile:
    """Appends result records as JSON lines (to a file, or to stdout)."""

    def __init__(self, path: Path | None, resume: bool = False, asked: Mapping[str, str] | None = None,
                 option: str = "-o") -> None:
        self.path = path
        self.done: dict[str, str] = {}
        self.questions: dict[str, str] = {}  # the question each done id was asked (where its record says)
        self.rejected = 0
        self._file: LineFile | None = None
        if path is None:
            if resume:
                raise UsageError("--resume needs -o OUT.jsonl")
            return
        guard = _claim(path, option)
        try:
            scan = _prepare(path, resume, asked or {}, option)
            self._file = _append_to(path)
            if guard is not None and _same_file(guard, self._file.fileno()):
                _release(guard)  # the same file: its lock passes to the run's descriptor (a file set
                guard = None     # aside and replaced is locked anew before the old lock goes)
            if not _locked(self._file):
                self._file.close()
                raise UsageError(f"another ponder is writing {path}; wait for it to finish, or choose another {option}")
        finally:
            _release(guard)
        self.done, self.questions, self.rejected = scan.done, scan.questions, scan.rejected

    @property
    def rejected_path(self) -> Path | None:
        """Where lines that were not whole records went (when there were any)."""
        return rejected_path(self.path) if self.path and self.rejected else None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a whole line; record its id as done."""
        line = to_json(record)
        with held():  # a signal held through the write is raised once the record counts as done
            if self._file is not None:
                self._file.write_line(line)
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            self.done[str(record["id"])] = str(record.get("status"))

    def close(self) -> None:
        """Close the file (never stdout); never raises."""
        if self._file is not None:
            self._file.close()

    def abandon(self) -> None:
        """Close the file after a run failed: one it created and wrote no record into is removed."""
        if self._file is not None:
            self._file.close(drop_if_empty=True)


def is_result(record: Any) -> bool:
    """Whether a parsed line is a whole result record, as the batch runner writes them."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        return False
    if not _typed_as_written(record):
        return False
    if record.get("status") == "ok":
        answer = record.get("answer")
        return isinstance(answer, str) and bool(answer) and "error" in record and record["error"] is None
    if record.get("status") == "error":
        return isinstance(record.get("error"), str) and "answer" in record
    return False


def _typed_as_written(record: dict[str, Any]) -> bool:
    """The fields a summary reads have the types the runner writes: `usage` an object of
    numbers (or nulls), `seconds` a number, `correct` a bool (where they are present)."""
    usage = record.get("usage", {})
    return (isinstance(usage, dict) and all(v is None or v in NON_FINITE or _is_number(v) for v in usage.values())
            and ("seconds" not in record or _is_number(record["seconds"]))
            and ("correct" not in record or isinstance(record["correct"], bool)))


NON_FINITE = ("NaN", "Infinity", "-Infinity")  # how to_json writes a non-finite number


def _is_number(value: object) -> bool:
    number = as_float(value)
    return number is not None and math.isfinite(number)


@dataclass
class Scan:
    """What resuming found: the ids done (with their status) and how many lines were set aside."""

    done: dict[str, str]
    rejected: int
    questions: dict[str, str] = field(default_factory=dict)
    foreign: int = 0  # rejected lines that end in a newline (not a torn last line) and are no JSON object


def check_results(path: Path, resume: bool, asked: Mapping[str, str], option: str = "-o") -> None:
    """Refuse an output `ResultsFile` would refuse, changing nothing: so a run with several
    outputs (eval's strategies) refuses before it sets aside any line of any of them."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    if resume and os.path.lexists(path):
        with _open_results(path) as f:
            scan = _scan(f)
        _refuse_foreign(path, scan.questions, asked, option)
        _refuse_unrelated(path, scan, option)
    elif path.is_file() and path.stat().st_size > 0:
        raise UsageError(f"{path} already has results; pass --resume to continue it, or choose another file")


def _prepare(path: Path, resume: bool, asked: Mapping[str, str], option: str = "-o") -> Scan:
    """Check an output before writing to it: what it already holds when resuming (read once:
    `resume_results` refuses before it sets anything aside), else that it is new."""
    if resume and os.path.lexists(path) and not path.is_dir():
        return resume_results(path, asked, option)
    check_results(path, resume, asked, option)
    return Scan({}, 0)


def _claim(path: Path, option: str) -> int | None:
    """Open an existing regular results file for writing and lock it (flock) before it is read:
    a file ponder cannot write is refused before anything is set aside, and a file another
    ponder is writing is refused (exit 2). None where there is no such file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except OSError:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot write {WHAT} {path}: {exc.strerror or exc}") from None
    if not _locked_fd(fd):
        os.close(fd)
        raise UsageError(f"another ponder is writing {path}; wait for it to finish, or choose another {option}")
    return fd


def _same_file(fd: int, other: int | None) -> bool:
    if other is None:
        return False
    a, b = os.fstat(fd), os.fstat(other)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _locked(file: LineFile) -> bool:
    """Lock the open results file for this run (held until it is closed); True where it is
    ours, or where the file system cannot lock."""
    return file.fileno() is None or not file.regular or _locked_fd(file.fileno())


def _locked_fd(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks: nothing to hold
        return True
    return True


def _append_to(path: Path) -> LineFile:
    """Open the output for whole-line appends; failing here (before any item runs) is exit 2."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return LineFile(path, WHAT)
    except (FileExistsError, NotADirectoryError):  # a folder on the way is a file (or a dangling link)
        raise UsageError(f"cannot write {path}: {path.parent} is not a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except WriteError as exc:
        raise UsageError(str(exc)) from None


def rejected_path(path: Path) -> Path:
    """Where lines of a results file that are not whole records are moved: OUT.rejected."""
    return path.with_name(path.name + ".rejected")


def resume_results(path: Path, asked: Mapping[str, str] | None = None, option: str = "-o") -> Scan:
    """Read a results file to resume (refusing another input's: `asked`, each id's question,
    and a file with no record at all but whole lines of something else); move every line
    that is not a whole record aside."""
    with _open_results(path) as f:
        scan = _scan(f)
    _refuse_foreign(path, scan.questions, asked or {}, option)
    _refuse_unrelated(path, scan, option)
    if scan.rejected:
        _set_aside(path)
    return scan


def _scan(f: BinaryIO) -> Scan:
    done: dict[str, str] = {}
    questions: dict[str, str] = {}
    rejected = foreign = 0
    for raw, record in _classify(f):
        if record is None:
            rejected += 1
            foreign += raw.endswith(b"\n") and not _json_object(raw)
            continue
        done[record["id"]] = record["status"]
        if isinstance(record.get("question"), str):
            questions[record["id"]] = record["question"]
    return Scan(done, rejected, questions, foreign)


def _json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


def _refuse_foreign(path: Path, questions: Mapping[str, str], asked: Mapping[str, str], option: str = "-o") -> None:
    """A record for an id that was asked another question: the file holds another input's
    results, and resuming would skip this input's item (exit 2)."""
    for id_, question in asked.items():
        if questions.get(id_, question) != question:
            raise UsageError(f"the results file {path} answers id {id_[:40]!r} for another question: it holds "
                             f"another input's results; choose another {option}")


def _refuse_unrelated(path: Path, scan: Scan, option: str = "-o") -> None:
    """No record, and whole lines that are not even JSON objects (a crash leaves at most one
    torn last line): not a results file at all, which resuming would empty (exit 2)."""
    if not scan.done and scan.foreign:
        raise UsageError(f"{path} holds no result records ({scan.foreign} line(s) of something else): it is not a "
                         f"results file, and resuming would empty it; choose another {option}")


def read_results(path: Path) -> list[dict[str, Any]]:
    """The whole result records of a results file (bounded read; other lines skipped)."""
    with _open_results(path) as f:
        return [record for _, record in _classify(f) if record is not None]


def _open_results(path: Path) -> BinaryIO:
    f = open_regular(path, WHAT)
    if os.fstat(f.fileno()).st_size > MAX_RESULTS_BYTES:
        f.close()
        raise UsageError(f"{WHAT} {path} is larger than {MAX_RESULTS_BYTES // 2**20} MiB; refusing to read it")
    return f


def _classify(f: BinaryIO) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
    """Each non-blank line with its record, or None when it is not a whole, new result record."""
    seen: set[str] = set()
    for raw in _bounded_lines(f):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw) if raw.endswith(b"\n") else None
        except (ValueError, RecursionError):
            record = None
        if not is_result(record) or record["id"] in seen:
            yield raw, None
            continue
        seen.add(record["id"])
        yield raw, record


def _bounded_lines(f: BinaryIO) -> Iterator[bytes]:
    left = MAX_RESULTS_BYTES
    while True:
        raw = f.readline(left + 1)
        if not raw:
            return
        left -= len(raw)
        if left < 0:
            raise UsageError(f"{WHAT} is larger than {MAX_RESULTS_BYTES // 2**20} MiB; refusing to read it")
        yield raw


def _set_aside(path: Path) -> None:
    """Move the lines that are not records to OUT.rejected, keeping only the records: the
    records are written to a temporary file first, so a folder that cannot take it changes
    nothing; then the lines are appended (a .rejected this made and wrote nothing into is
    removed), then the temporary file replaces the results file atomically."""
    target = Path(os.path.realpath(path))
    temp = _records_copy(path, target)
    try:
        aside = LineFile(rejected_path(path), "rejected results", regular_only=True, drop_empty=True)
        try:
            with _open_results(path) as f:
                for raw, record in _classify(f):
                    if record is None:
                        aside.append(raw if raw.endswith(b"\n") else raw + b"\n")
        finally:
            aside.close()
        with held():
            try:
                os.replace(temp, target)  # a symlink to the file stays one
            except OSError as exc:
                raise WriteError(f"cannot rewrite {WHAT} {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temp):
            _discard(temp)


def _records_copy(path: Path, target: Path) -> str:
    """A temporary file beside the results file holding only its whole records (its mode kept)."""
    temp = None
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name[:TEMP_NAME_CHARS]}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as out, _open_results(path) as f:
            for raw, record in _classify(f):
                if record is not None:
                    out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, os.stat(target).st_mode & 0o7777)
        return temp
    except OSError as exc:
        if temp is not None:
            _discard(temp)
        raise WriteError(f"cannot rewrite {WHAT} {path}: {exc.strerror or exc}") from None


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
