"""The confidence features and choice rules of `benchmarks/quality_confidence.py`."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_confidence  # noqa: E402


def test_features_read_the_mean_the_weakest_window_and_the_tail():
    top = [0.9] * 40 + [0.5] * 16 + [1.0] * 40
    got = quality_confidence.features(top, [-0.1] * len(top))
    assert got["tokens"] == 96
    assert got["min_window"] == pytest.approx(0.5)
    assert got["tail"] == pytest.approx(1.0)
    assert got["mean_top"] == pytest.approx((0.9 * 40 + 0.5 * 16 + 40) / 96, abs=1e-5)
    assert got["mean_logp"] == pytest.approx(-0.1)


def test_a_route_shorter_than_a_window_is_its_own_window():
    assert quality_confidence.features([0.6, 0.8], [0.0, 0.0])["min_window"] == pytest.approx(0.7)


def _routes(*answers: str) -> dict[int, dict[str, str]]:
    return {n: {"answer": a, "route": "reason" if n % 2 == 0 else "program"} for n, a in enumerate(answers)}


def test_confidence_weights_turn_a_tie_the_plain_vote_breaks_by_order():
    routes = _routes("5", "7", "7", "5")  # 5 and 7 each reached by both routes: a tie
    conf = {0: {"mean_top": 0.6}, 1: {"mean_top": 0.9}, 2: {"mean_top": 0.95}, 3: {"mean_top": 0.5}}
    read = [0, 1, 2, 3]
    assert quality_confidence.choose(routes, read, conf, "vote (the default)") == "5"  # earliest wins the tie
    assert quality_confidence.choose(routes, read, conf, "x mean top-token probability") == "7"
    assert quality_confidence.choose(routes, read, conf, "vote, ties by mean top-token probability") == "7"


def test_a_tie_rule_never_overturns_a_larger_vote():
    routes = _routes("5", "7", "5", "5")
    conf = {0: {"mean_top": 0.1}, 1: {"mean_top": 0.99}, 2: {"mean_top": 0.1}, 3: {"mean_top": 0.1}}
    assert quality_confidence.choose(routes, [0, 1, 2, 3], conf, "vote, ties by mean top-token probability") == "5"
