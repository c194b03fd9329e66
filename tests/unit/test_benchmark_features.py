"""The choice model of `benchmarks/quality_features.py`: group features read from the routes'
text, and a conditional logit that learns which groups are right."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_features  # noqa: E402

QUESTION = "Tom has 12 apples and gives away 5. How many are left?"


def member(n: int, route: str, answer: str, text: str = "") -> dict:
    return {"n": n, "route": route, "normalized": answer, "text": text, "answer": answer}


def features(members: list[dict], weight: float = 1.0) -> dict[str, float]:
    return dict(zip(quality_features.FEATURES, quality_features.group_features(QUESTION, members, weight)))


def test_a_group_both_greedy_routes_reached_counts_its_votes_by_route():
    got = features([member(0, "reason", "7", "so \\boxed{7}"), member(1, "program", "7", "```python\nprint(12 - 5)\n")], 3.0)
    assert (got["reason_votes"], got["program_votes"], got["both"]) == (1, 1, 1.0)
    assert (got["greedy_reason"], got["greedy_program"], got["weight"], got["whole"]) == (1.0, 1.0, 3.0, 1.0)
    assert got["leaves_out"] == 0.0 and got["given"] == 0.0


def test_a_given_number_a_negative_answer_and_a_program_that_leaves_out_a_number_are_read():
    assert features([member(3, "program", "12", "```python\nprint(12)\n")])["leaves_out"] == 1.0
    assert features([member(3, "program", "12", "```python\nprint(12)\n")])["given"] == 1.0
    assert features([member(2, "reason", "-7", "\\boxed{-7}")])["negative"] == 1.0
    assert features([member(2, "reason", "3.5", "\\boxed{3.5}")])["whole"] == 0.0


def test_the_choice_model_learns_a_feature_that_marks_right_groups():
    def item(right_first: bool) -> dict:
        good, bad = [1.0] + [0.0] * 13, [0.0] * 14
        groups = [{"x": good, "right": True, "rank": 1 - right_first, "weight": 1.0},
                  {"x": bad, "right": False, "rank": int(right_first), "weight": 1.0}]
        return {"vote": right_first, "groups": groups if right_first else groups[::-1]}

    items = [item(k % 2 == 0) for k in range(20)]
    model = quality_features.fit(items, l2=0.01, steps=200)
    assert model[0][0] > 0
    assert all(quality_features.choose(it, model, "top") for it in items)
    assert quality_features.choose({"vote": True, "groups": []}, model, "top")
