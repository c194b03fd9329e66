"""A duration of two or more units is one length of time; it agrees with its length in hours, minutes or seconds."""

from fractions import Fraction

import pytest

from ponder.tools.answers import equivalent, extract_answer, printed_answer
from ponder.tools.durations import duration_seconds, format_duration

QUESTION = "How long is it from 9:45 am to 2:10 pm?"


@pytest.mark.parametrize("text,seconds", [
    ("4 hours 25 minutes", 15900), ("4 hours and 25 minutes", 15900), ("4 h, 25 min", 15900), ("4 hrs 25 mins", 15900),
    ("1 day, 2 hours", 93600), ("2 hours 30 minutes 15 seconds", 9015), ("1 hour 1 minute.", 3660),
    ("1.5 hours 10 minutes", 6000),
])
def test_two_or_more_units_larger_first_are_a_duration(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", [
    "25 minutes", "25 minutes 4 hours", "4 hours 4 hours", "in 4 hours 25 minutes", "4 hours 25 minutes later",
    "4 hours 25", "", "4 hours " * 100 + "25 minutes",
])
def test_one_unit_units_out_of_order_or_other_words_are_no_duration(text):
    assert duration_seconds(text) is None


@pytest.mark.parametrize("seconds,written", [
    (15900, "4 hours 25 minutes"), (93600, "1 day 2 hours"), (3661, "1 hour 1 minute 1 second"), (0, "0 seconds"),
    (Fraction(61, 2), "30.5 seconds"),
])
def test_a_duration_is_written_largest_unit_first_without_zero_units(seconds, written):
    assert format_duration(Fraction(seconds)) == written


def test_a_programs_printed_hours_and_minutes_are_a_duration_not_the_last_number():
    """The program printed '4 hours 25 minutes' and was read as 25; the vote answered 25."""
    printed = printed_answer("4 hours 25 minutes\n", QUESTION)
    assert (printed.normalized, printed.kind) == ("4 hours 25 minutes", "duration")
    assert equivalent(extract_answer("\\boxed{4 \\text{ hours and } 25 \\text{ minutes}}"), printed)


@pytest.mark.parametrize("number,agrees", [
    ("265", True), ("4.42", True), ("15900", True), ("25", False), ("4.4", False), ("4", False), ("205", False)])
def test_a_duration_agrees_with_its_length_in_hours_minutes_or_seconds(number, agrees):
    duration = printed_answer("4 hours 25 minutes\n", QUESTION)
    assert equivalent(duration, extract_answer(f"\\boxed{{{number}}}")) is agrees
    assert equivalent(extract_answer(f"\\boxed{{{number}}}"), duration) is agrees


def test_a_lone_unit_stays_its_number():
    assert extract_answer("\\boxed{25 \\text{ minutes}}").normalized == "25"
