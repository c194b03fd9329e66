"""The hinted-chain ablation: the hint names the greedy routes' answers and nothing else; each
chooser rule replays what it says on a pool of routes."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality  # noqa: E402
import quality_hint  # noqa: E402

ARBITER, TIE, SEVENTH = quality_hint.RULES[1:]


def pool(*answers):
    """Routes 0..n of one item with these answers, 10 tokens each."""
    return {("x", n): {"answer": a, "completion_tokens": 10} for n, a in enumerate(answers)}


def routes(*answers):
    return {n: row for (_, n), row in pool(*answers).items()}


def test_the_hint_lists_the_greedy_answers_once_each_in_numeric_order():
    assert quality.hinted("Q?", pool("20", "-4"), "x") == "Q? (Hint: The answer is near to -4, 20.)"
    assert quality.hinted("Q?", pool("1,200", "35"), "x") == "Q? (Hint: The answer is near to 35, 1,200.)"
    assert quality.hinted("Q?", pool("7", "7"), "x") == "Q? (Hint: The answer is near to 7.)"
    assert quality.hinted("Q?", pool("7", ""), "x") == "Q? (Hint: The answer is near to 7.)"


def test_without_a_greedy_answer_the_question_goes_unhinted():
    assert quality.hinted("Q?", pool("", ""), "x") == "Q?"
    assert quality.hinted("Q?", {}, "x") == "Q?"


def test_where_the_greedy_routes_agree_every_rule_stops_with_them():
    rules = quality_hint.item_rules(routes("5", "5"), None)
    assert {rules[name] for name in quality_hint.RULES} == {("5", 20)}


def test_the_arbiter_stops_after_three_routes_when_the_hint_sides_with_a_greedy_route():
    rules = quality_hint.item_rules(routes("1", "2", "3", "3", "3", "3"), {"answer": "2", "completion_tokens": 7})
    assert rules[ARBITER] == ("2", 27)
    assert rules["default cascade (samples=6)"] == ("3", 60)


def test_the_arbiter_falls_back_to_the_vote_when_the_hint_sides_with_neither():
    rules = quality_hint.item_rules(routes("1", "2", "3", "3", "3", "3"), {"answer": "9", "completion_tokens": 7})
    assert rules[ARBITER] == ("3", 67)


def test_a_tie_is_broken_for_the_hinted_answer_and_only_a_tie_pays_for_it():
    tied = quality_hint.item_rules(routes("1", "2", "1", "2", "3", "4"), {"answer": "2", "completion_tokens": 7})
    assert tied[TIE] == ("2", 67)
    assert tied["default cascade (samples=6)"][0] == "1"
    clear = quality_hint.item_rules(routes("1", "2", "1", "1", "3", "4"), {"answer": "2", "completion_tokens": 7})
    assert clear[TIE] == ("1", 60)


def test_the_seventh_vote_counts_the_hint_once():
    rules = quality_hint.item_rules(routes("1", "2", "1", "2", "3", "4"), {"answer": "2", "completion_tokens": 7})
    assert rules[SEVENTH] == ("2", 67)
