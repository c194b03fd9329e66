"""Reading question files: formats, ids, and every kind of bad line."""

import io

import pytest

from ponder.batch.items import BadLine, Item, read_items
from ponder.batch.metrics import gsm8k_reference, wilson_interval
from ponder.errors import UsageError


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


def test_a_custom_id_beside_an_id_is_kept_as_data():
    (item,) = read(b'{"id": "a", "custom_id": "req-7", "question": "q1"}\n')
    assert (item.id, item.extra) == ("a", {"custom_id": "req-7"})
    (alias,) = read(b'{"custom_id": "req-7", "question": "q1"}\n')
    assert (alias.id, alias.extra) == ("req-7", {})


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


def test_a_leading_bom_is_dropped_and_the_jsonl_still_recognised():
    entries = read(b'\xef\xbb\xbf{"id": "a", "question": "q1"}\n{"id": "b", "question": "q2"}\n')
    assert [(e.id, e.question) for e in entries] == [("a", "q1"), ("b", "q2")]
    (text,) = read(b"\xef\xbb\xbfplain question?\n")
    assert text == Item("1", "plain question?", 1)


def test_auto_is_jsonl_only_when_the_first_line_is_a_json_object():
    entries = read(b"{x} + 1 = 3: what is x?\n{\"question\": \"looks like json\"}\n")
    assert entries == [Item("1", "{x} + 1 = 3: what is x?", 1), Item("2", '{"question": "looks like json"}', 2)]
    (item,) = read(b'  {"question": "q", "n": 1}\n')
    assert item.extra == {"n": 1}
    torn, whole = read(b'{"id": "1", "question": "q1"\n{"id": "2", "question": "q2"}\n')
    assert isinstance(torn, BadLine) and whole == Item("2", "q2", 2)


def test_a_forced_format_wins_over_the_first_line():
    data = b'{"id": "a", "question": "q1"}\nsecond\n'
    assert [e.question for e in read(data, fmt="text")] == ['{"id": "a", "question": "q1"}', "second"]
    forced = read(b"{x} is 2\n" + data, fmt="jsonl")
    assert [type(e).__name__ for e in forced] == ["BadLine", "Item", "BadLine"]


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown question format 'xml'"):
        read(b"q\n", fmt="xml")


def test_json_python_cannot_hold_becomes_bad_lines_and_later_items_run():
    data = (b'{"id": "s", "question": "\\ud800 alone"}\n'
            b'{"id": "k", "question": "key", "\\udfff": 1}\n'
            b'{"id": "p", "question": "pair \\ud83d\\ude00"}\n'
            b'{"id": "n", "question": "q", "n": ' + b"7" * 4301 + b'}\n'
            b'{"id": "d", "question": "q", "x": ' + b"[" * 5000 + b"]" * 5000 + b'}\n'
            b'{"id": "z", "question": "fine"}\n')
    entries = read(data)
    assert [(type(e).__name__, e.id) for e in entries] == [
        ("BadLine", "line:1"), ("BadLine", "line:2"), ("Item", "p"), ("BadLine", "line:4"),
        ("BadLine", "line:5"), ("Item", "z")]
    assert "lone surrogate" in entries[0].error and "lone surrogate" in entries[1].error
    assert entries[2].question == "pair \U0001F600"
    assert entries[3].error == "line 4 holds a number too long to read"
    assert entries[4].error == "line 5 is nested too deeply to read"


def test_a_big_int_on_the_first_line_still_means_jsonl():
    entries = read(b'{"question": "q", "n": ' + b"7" * 5000 + b'}\n{"question": "next"}\n')
    assert isinstance(entries[0], BadLine) and entries[1] == Item("2", "next", 2)


def test_the_whole_file_is_bounded_in_bytes_and_lines():
    with pytest.raises(UsageError, match="stdin is larger than 1,000 bytes"):
        read(b"\0" * 5000, max_line=100, max_bytes=1000, what="stdin")  # /dev/zero on stdin ends
    with pytest.raises(UsageError, match="has more than 10 lines"):
        read(b"q\n" * 11, max_lines=10)
    assert len(read(b"q\n" * 10, max_lines=10)) == 10


@pytest.mark.parametrize("answer", ['["391"]', "true", '"#### "', '"Some working.\\n####  "', '{"a": 1}'])
def test_a_reference_that_cannot_grade_is_a_bad_line(answer):
    line = f'{{"id": "a", "question": "q?", "answer": {answer}}}\n'.encode()
    (entry,) = read_items(io.BytesIO(line), reference_key="answer")
    assert isinstance(entry, BadLine) and "unusable 'answer'" in entry.error


@pytest.mark.parametrize("answer, kept", [('"#### 18"', "#### 18"), ("18", "18"), ("2.5", "2.5")])
def test_a_usable_reference_is_kept_as_text(answer, kept):
    line = f'{{"id": "a", "question": "q?", "answer": {answer}}}\n'.encode()
    (entry,) = read_items(io.BytesIO(line), reference_key="answer")
    assert isinstance(entry, Item) and entry.reference == kept


@pytest.mark.parametrize("raw_id", ['""', '"  "'])
def test_a_blank_id_is_a_bad_line(raw_id):
    (entry,) = read_items(io.BytesIO(f'{{"id": {raw_id}, "question": "q?"}}\n'.encode()))
    assert isinstance(entry, BadLine) and "unusable id" in entry.error


def test_nesting_past_32_levels_is_a_bad_line():
    data = b'{"id": "e", "question": "ok"}\n' + b'{"id": "d", "question": "q", "x": ' + b"[" * 33 + b"]" * 33 + b"}\n"
    first, second = read(data)
    assert first == Item("e", "ok", 1)
    assert second.error == "line 2 is nested deeper than 32 levels"


def test_a_first_line_written_as_an_object_means_jsonl_even_when_broken():
    tab = read(b'{"id": "a", "question": "What\tis 1+1?"}\n{"id": "b", "question": "What is 2+2?"}\n')
    assert tab == [Item("a", "What\tis 1+1?", 1), Item("b", "What is 2+2?", 2)]
    broken = read(b'{"id": "a", "question": "missing quote}\n{"id": "b", "question": "next"}\n')
    assert isinstance(broken[0], BadLine) and "not valid JSON" in broken[0].error and broken[1] == Item("b", "next", 2)
    deep = read(b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b'}\n{"question": "next"}\n')
    assert isinstance(deep[0], BadLine) and deep[1] == Item("2", "next", 2)


def test_a_null_id_is_no_id():
    entries = read(b'{"id": null, "question": "a"}\n{"id": null, "custom_id": "c", "question": "b"}\n'
                   b'{"custom_id": null, "question": "c"}\n')
    assert [(e.id, e.extra) for e in entries] == [("1", {}), ("c", {}), ("3", {})]
