"""The prompt ablations of `benchmarks/quality.py` are templates the engine can render; its p-values print honestly."""

import sys
from pathlib import Path

import pytest

from ponder.thought_factors.catalogue import PROMPTS, placeholders, render

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality  # noqa: E402

ABLATIONS = [("reason_user", name, text) for name, text in quality.CHAIN_PROMPTS.items()] + [
    ("program_user", name, text) for name, text in quality.PROGRAM_PROMPTS.items()]


@pytest.mark.parametrize("key,name,text", ABLATIONS, ids=[f"{k}:{n}" for k, n, _ in ABLATIONS])
def test_an_ablation_prompt_uses_only_its_templates_placeholders(key, name, text):
    assert placeholders(text) == set(PROMPTS[key])
    rendered = render(text, question="Tom has $3 and 4 apples. How many apples?")
    times = 2 if name == "reread" else 1  # RE2 asks the question, then "Read the question again:" and it once more
    assert rendered.count("Tom has $3 and 4 apples. How many apples?") == times
    assert "$question" not in rendered


@pytest.mark.parametrize("p,printed", [(0.0, "< 0.0001"), (0.00004, "< 0.0001"), (0.0001, "0.0001"), (0.035, "0.035")])
def test_a_p_value_below_the_fourth_decimal_never_prints_as_zero(p, printed):
    assert quality.format_p(p) == printed



EXAMPLES = dict(argvalues=quality.PROGRAM_EXAMPLES, ids=[f"example{i}" for i in range(len(quality.PROGRAM_EXAMPLES))])


@pytest.mark.parametrize("question,code,answer", **EXAMPLES)
def test_a_few_shot_examples_program_prints_its_answer_in_the_sandbox(question, code, answer):
    from ponder.agent.engine.checks import printed_value
    from ponder.tools.answers import equivalent
    from ponder.tools.sandbox import Sandbox

    assert equivalent(printed_value(Sandbox().run(code)).normalized, answer)


@pytest.mark.skipif(not quality.DATA.is_file(), reason="the GSM8K training file (../shared/data) is not beside this clone")
@pytest.mark.parametrize("question,code,answer", **EXAMPLES)
def test_a_few_shot_example_is_a_training_problem_far_from_every_measured_item(question, code, answer):
    shuffle = quality.items(10_000)  # every training problem, in the benchmark's fixed order
    position = next(i for i, row in enumerate(shuffle) if row["question"] == question.replace("$$", "$"))
    assert position >= 7000
    assert shuffle[position]["answer"] == answer


@pytest.mark.parametrize("flag,value", [("--top-p", "5"), ("--top-p", "0"), ("--top-p", "x"), ("--top-k", "0"), ("--top-k", "2.5")])
def test_a_nucleus_out_of_range_is_a_usage_error_before_anything_loads(flag, value, monkeypatch, tmp_path):
    out = tmp_path / "pool.jsonl"
    monkeypatch.setattr(sys, "argv", ["quality.py", "collect", flag, value, "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        quality.main()
    assert stop.value.code == 2
    assert not out.exists()


def test_retrieved_examples_never_come_from_a_measured_item_nor_show_the_question_itself():
    import retrieval

    measured = {item["question"] for item in quality.items(retrieval.EXCLUDED)}
    bank_item = quality.items(1, offset=retrieval.EXCLUDED)[0]  # a question the bank holds
    for question in [item["question"] for item in quality.items(5)] + [bank_item["question"]]:
        shown = retrieval.nearest(question, 3)
        assert len(shown) == 3 and all(row["question"] not in measured for _, row in shown)
        assert all(row["question"] != question for _, row in shown)
        prompt = retrieval.with_examples(question, 3)
        assert prompt.endswith(f"Question: {question}") and prompt.count("\\boxed{") == 3
