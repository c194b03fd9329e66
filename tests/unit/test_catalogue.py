import pytest

from ponder.thought_factors.catalogue import CatalogueError, load_catalogue, parse_catalogue, render

MINIMAL = """
[chain]
start = "a"
max_corrections = 1
[prompt]
system = "s"
user = "$question"
factor_line = "<$tag>"
observation = "$body"
[[factor]]
name = "a"
tag = "a"
purpose = "p"
instruction = "i"
max_tokens = 10
next = ["%s"]
"""


def test_shipped_catalogue_has_the_guided_chain():
    cat = load_catalogue()
    assert cat.start == "restate"
    order, name = [], cat.start
    while name != "answer":
        order.append(name)
        name = cat.factor(name).next[0]
    assert order == ["restate", "decompose", "hypothesize", "verify"]
    assert cat.factor("verify").on_fail == "correct"
    assert cat.factor("correct").next == ("verify", "answer")  # search may also answer straight away
    assert cat.factor("verify").tools


def test_unknown_successor_is_rejected():
    with pytest.raises(CatalogueError, match="unknown"):
        parse_catalogue(MINIMAL % "nowhere")


def test_valid_minimal_catalogue_parses():
    assert parse_catalogue(MINIMAL % "a").factor("a").max_tokens == 10


def test_missing_template_value_is_an_error():
    with pytest.raises(CatalogueError):
        render("Question: $question")
