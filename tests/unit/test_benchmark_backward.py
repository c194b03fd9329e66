"""The backward-verification ablation: which numbers are masked, what the model is asked,
and how each rule chooses among answer groups from their recovered masks."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_backward as backward  # noqa: E402
import quality  # noqa: E402
import quality_judge  # noqa: E402


def test_the_first_numbers_that_occur_once_are_masked_one_at_a_time():
    question = "Ann has $500 and 3 cats. Bob has 3 dogs and 1,200 fish. How many pets?"
    assert backward.masks(question, 3) == [
        ("Ann has $x and 3 cats. Bob has 3 dogs and 1,200 fish. How many pets?", "500"),
        ("Ann has $500 and 3 cats. Bob has 3 dogs and x fish. How many pets?", "1200"),
    ]
    assert backward.masks(question, 1) == backward.masks(question, 3)[:1]


def test_numbers_inside_words_ordinals_and_decimals_are_not_split():
    question = "On the 5th day a 2.5 kg box and a B52 cost 40% more. What now?"
    assert backward.masks(question, 5) == [
        ("On the 5th day a x kg box and a B52 cost 40% more. What now?", "2.5"),
        ("On the 5th day a 2.5 kg box and a B52 cost x% more. What now?", "40"),
    ]


def test_a_question_without_a_number_in_digits_has_no_mask():
    assert backward.masks("Twice three is what?", 2) == []


def test_the_backward_program_is_asked_the_masked_question_and_the_candidate_alone():
    from ponder.agent.engine.routes import PROGRAM, route_prompt
    from ponder.llm.fake import FakeBackend
    from ponder.thought_factors.catalogue import load_catalogue

    catalogue = backward.backward_catalogue(load_catalogue(), "-12")
    prompt = route_prompt(FakeBackend(), catalogue, PROGRAM, "Ann has $x and 4 cats. How many legs?")
    assert "The answer to the question below is -12," in prompt
    assert "print(solve(answer - -12, x)[0])" in prompt
    assert prompt.count("Question: Ann has $x and 4 cats. How many legs?") == 1
    assert "{answer}" not in prompt
    assert "computes the answer to this question" not in prompt  # the forward prompt is replaced, not kept


def test_an_answer_with_a_dollar_sign_stays_literal_text():
    from ponder.agent.engine.routes import PROGRAM, route_prompt
    from ponder.llm.fake import FakeBackend
    from ponder.thought_factors.catalogue import load_catalogue

    catalogue = backward.backward_catalogue(load_catalogue(), "$question $5")
    prompt = route_prompt(FakeBackend(), catalogue, PROGRAM, "Ann has x cats.")
    assert "The answer to the question below is $question $5," in prompt


def scored(*groups):
    """One item whose groups are (answer, correct, votes, recovered of one mask)."""
    return {"id": "i", "question": "Ann has 3 cats. How many legs?",
            "groups": [{"answer": a, "correct": c, "votes": v} for a, c, v, _ in groups]}, {
        ("i", a, 0): {"recovered": r, "completion_tokens": 5} for a, _, _, r in groups}


def chosen(rule, item):
    return quality_judge.pick(item["groups"], backward.rules()[rule])["answer"]


def test_a_recovered_group_overturns_a_vote_only_by_its_weight():
    item, rows = scored(("4", False, 3.0, False), ("12", True, 2.0, True))
    backward.attach([item], rows, 1)
    assert [g["share"] for g in item["groups"]] == [0.0, 1.0]
    assert chosen("vote + 0.5 x share recovered", item) == "4"
    assert chosen("vote + 1.5 x share recovered", item) == "12"
    assert chosen("recovered alone (vote breaks ties)", item) == "12"
    assert chosen("vote, ties broken by recovered", item) == "4"


def test_a_tie_goes_to_the_recovered_group():
    item, rows = scored(("4", False, 2.0, False), ("12", True, 2.0, True))
    backward.attach([item], rows, 1)
    assert chosen("vote, ties broken by recovered", item) == "12"


def test_a_missing_backward_run_stops_the_evaluation():
    item, rows = scored(("4", False, 2.0, False), ("12", True, 2.0, True))
    del rows[("i", "12", 0)]
    try:
        backward.attach([item], rows, 1)
    except SystemExit as stop:
        assert "collect them first" in str(stop)
    else:
        raise AssertionError("a missing run went unnoticed")


def test_a_count_below_one_is_a_usage_error_before_anything_runs():
    import subprocess

    script = Path(backward.__file__)
    for flag in ("--masks", "--samples", "--items", "--parallel"):
        done = subprocess.run([sys.executable, str(script), "collect", flag, "0"], capture_output=True, text=True)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1].endswith(f"argument {flag}: 0 is not at least 1")
        assert done.stdout == ""


@pytest.mark.skipif(not quality.DATA.is_file(), reason="the GSM8K training file (../shared/data) is not beside this clone")
def test_the_gpu_written_routes_give_the_items_past_the_pool_their_groups():
    import json

    gpu = backward.ROUTE_FILES["gpu"]
    written = {json.loads(line)["id"] for line in gpu.read_text(encoding="utf-8").splitlines()}
    found = backward.disagreeing(300, 20, 6, 4, gpu)
    assert [i["id"] for i in found] and all(i["id"] in written for i in found)
    assert any(i["groups"] for i in found) and any(i["groups"] is None for i in found)
    try:
        backward.disagreeing(300, 20, 6, 4, backward.POOL)
    except SystemExit as stop:
        assert str(stop).endswith("pool.jsonl lacks a route the cascade reads; collect it first")
    else:
        raise AssertionError("the CPU pool has no routes past item 299")
