"""The schedule ablation: a replay reads the pool's routes in the schedule's order, each route a
chain or a program by its own number; every row is scored on the same items, route 0 the baseline."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality  # noqa: E402
import quality_schedule  # noqa: E402


def row(n, answer, reference="5", tokens=10):
    return {"n": n, "answer": answer, "reference": reference, "correct": answer == reference, "completion_tokens": tokens}


def routes(*answers):
    return {n: row(n, a) for n, a in answers}


def test_by_default_the_replay_reads_the_pool_in_its_own_order():
    pool = routes((0, "4"), (1, "6"), (2, "5"), (3, "5"), (4, "7"), (5, "8"))
    assert quality.replay_cascade(pool, 6, 4, "How many?") == ("5", [0, 1, 2, 3, 4, 5])


def test_a_schedule_of_programs_reads_them_in_its_order_and_stops_when_decided():
    pool = routes((0, "4"), (1, "6"), (2, "4"), (3, "5"), (5, "5"), (7, "5"), (9, "5"))
    answer, read = quality.replay_cascade(pool, 6, 4, "How many?", order=[0, 1, 3, 5, 7, 9])
    assert (answer, read) == ("5", [0, 1, 3, 5, 7, 9])  # three programs outvote the greedy chain; route 2 never read
    # waves of two: the greedy chain's 5 and two programs' (4 with the bonus) could still be caught by
    # four routes left; with two more it cannot, so routes 11 and 13 are never read
    pool = routes((0, "5"), (1, "6"), (3, "5"), (5, "5"), (7, "5"), (9, "4"))
    assert quality.replay_cascade(pool, 8, 2, "How many?", order=[0, 1, 3, 5, 7, 9, 11, 13]) == ("5", [0, 1, 3, 5, 7, 9])


def test_a_schedule_missing_a_route_it_reads_is_not_replayed():
    pool = routes((0, "4"), (1, "6"), (3, "5"))
    assert quality.replay_cascade(pool, 4, 4, "How many?", order=[0, 1, 3, 5]) is None


@pytest.mark.parametrize("order", [[1, 0, 3, 5], [0, 1, 3]])
def test_a_schedule_must_start_with_the_greedy_routes_and_name_every_route_read(order):
    with pytest.raises(ValueError):
        quality.replay_cascade(routes((0, "4"), (1, "6")), 4, 4, "How many?", order=order)


def test_every_row_is_scored_on_the_items_every_configuration_replays(monkeypatch):
    monkeypatch.setattr(quality_schedule, "SCHEDULES", {"alternating (the default)": ([0, 1, 2, 3, 4, 5], [6]),
                                                       "programs": ([0, 1, 3, 5, 7, 9], [6])})
    agreed = routes((0, "5"), (1, "5"))
    disagreed = routes((0, "4"), (1, "6"), (2, "5"), (3, "5"), (4, "5"), (5, "5"), (7, "6"), (9, "6"))
    lacking = routes((0, "4"), (1, "6"), (2, "5"), (3, "5"), (4, "5"), (5, "5"))  # no route 7: programs cannot replay
    result = quality_schedule.compare({"a": agreed, "b": disagreed, "c": lacking},
                                      {"a": "How many?", "b": "How many?", "c": "How many?"})
    assert result["items"] == ["a", "b"]
    table = result["table"]
    assert [ok for ok, _ in table["plain chain of thought (greedy)"]] == [True, False]
    assert table["alternating (the default), 6 routes"] == [(True, 20), (True, 60)]
    assert table["programs, 6 routes"] == [(True, 20), (False, 60)]  # 6, 6 outvote 5, 5 (with 4 and 6 alone)
    text = quality_schedule.markdown(result, "python benchmarks/quality_schedule.py", 0, 150)
    assert "| programs, 6 routes | 1/2 | 0 / 0 (p = 1.0) | 0 / 1 (p = 1.0) | 40.0 | 40.0 |" in text


@pytest.mark.parametrize("flag, value", [("--items", "-5"), ("--items", "0"), ("--offset", "-1"), ("--items", "ten")])
def test_a_count_out_of_range_is_a_usage_error_and_overwrites_no_results(flag, value, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(quality_schedule, "OUT", tmp_path / "schedule.md")
    monkeypatch.setattr(sys, "argv", ["quality_schedule.py", flag, value])
    with pytest.raises(SystemExit) as stop:
        quality_schedule.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"quality_schedule.py: error: argument {flag}:")
    assert list(tmp_path.iterdir()) == []
