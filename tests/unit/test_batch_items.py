"""Reading question files: formats, ids, and every kind of bad line."""

import io

from ponder.batch.items import BadLine, Item, read_items
from ponder.batch.metrics import gsm8k_reference, wilson_interval


def read(data: bytes, **kw):
    return read_items(io.BytesIO(data), **kw)


def test_text_lines_get_line_number_ids_and_blank_lines_are_skipped():
    entries = read(b"first?\n\n  \nsecond?\n")
    assert entries == [Item("1", "first?", 1), Item("4", "second?", 4)]


def test_jsonl_ids_alias_and_passthrough():
    data = b'{"id": "a", "question": "q1", "topic": "x"}\n{"custom_id": 7, "question": "q2"}\n{"question": "q3"}\n'
    a, b, c = read(data)
    assert (a.id, a.extra) == ("a", {"topic": "x"})
    assert b.id == "7" and c.id == "3"


def test_bad_lines_become_errors_naming_the_line_and_others_still_run():
    data = (b'{"id": "a", "question": "ok"}\n'
            b'{"id": "a", "question": "dup"}\n'
            b'{not json}\n'
            b'\xff\xfe\n'
            b'{"id": "n", "question": "has \\u0000 nul"}\n'
            b'{"id": "e", "question": ""}\n'
            b'[1, 2]\n'
            b'{"id": "z", "question": "fine"}\n')
    entries = read(data)
    kinds = [(type(e).__name__, e.id) for e in entries]
    assert kinds == [("Item", "a"), ("BadLine", "line:2"), ("BadLine", "line:3"), ("BadLine", "line:4"),
                     ("BadLine", "line:5"), ("BadLine", "line:6"), ("BadLine", "line:7"), ("Item", "z")]
    assert "repeats id 'a' (first on line 1)" in entries[1].error
    assert "not valid UTF-8" in entries[3].error and "NUL" in entries[4].error


def test_over_long_line_is_skipped_in_bounded_memory():
    data = b"short?\n" + b"x" * 10_000 + b"\nafter?\n"
    entries = read(data, max_line=100)
    assert isinstance(entries[1], BadLine) and "longer than 100 bytes" in entries[1].error
    assert entries[2] == Item("3", "after?", 3)


def test_reference_answers_and_gsm8k_form():
    (item,) = read(b'{"question": "q", "answer": "so 3+3=6\\n#### 6"}\n', reference_key="answer")
    assert gsm8k_reference(item.reference) == "6"


def test_wilson_interval_brackets_the_rate():
    low, high = wilson_interval(6, 10)
    assert low < 0.6 < high and 0 < low and high < 1
    assert wilson_interval(0, 0) == (0.0, 0.0)
