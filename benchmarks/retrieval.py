"""Worked examples chosen for each question: the training problems whose wording is nearest
(TF-IDF cosine over words and word pairs), with the training set's own solutions. Used by
`quality.py collect --chain-prompt retrieved` (an ablation, not kept: README); run alone it
prints the question after its examples, as that chain reads it.

    python benchmarks/retrieval.py "A baker sells 14 pastries at $2 ..." --examples 3

Rules that must hold: the bank never holds a problem that a figure is measured on (the first
`EXCLUDED` positions of quality.py's fixed shuffle are left out), and a bank problem whose
wording is the query's own is never shown.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import arguments

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k_train.jsonl"
SHUFFLE_SEED = 2026  # quality.py's shuffle
EXCLUDED = 1600  # the pool (0..299), the GPU-written items (300..1567) and a margin
_WORD = re.compile(r"[a-z]+")


def _terms(text: str) -> Counter[str]:
    words = _WORD.findall(text.lower())
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:])])


@lru_cache(maxsize=1)
def _bank() -> tuple[list[dict[str, str]], list[dict[str, float]], dict[str, float]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = list(range(len(rows)))
    random.Random(SHUFFLE_SEED).shuffle(order)
    bank = [rows[i] for i in order[EXCLUDED:]]
    counts = [_terms(row["question"]) for row in bank]
    frequency = Counter(term for terms in counts for term in terms)
    idf = {term: math.log(len(bank) / df) for term, df in frequency.items()}
    return bank, [_vector(terms, idf) for terms in counts], idf


def _vector(terms: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    weights = {term: (1 + math.log(count)) * idf.get(term, 0.0) for term, count in terms.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {term: w / norm for term, w in weights.items() if w}


def nearest(question: str, k: int) -> list[tuple[float, dict[str, str]]]:
    """The k bank problems nearest the question, most similar first, with their similarity."""
    bank, vectors, idf = _bank()
    query = _vector(_terms(question), idf)
    scored = [(sum(w * vector.get(t, 0.0) for t, w in query.items()), i) for i, vector in enumerate(vectors)]
    scored.sort(reverse=True)
    out = [(s, bank[i]) for s, i in scored if bank[i]["question"].strip() != question.strip()]
    return out[:k]


def solution(row: dict[str, str]) -> str:
    """A training solution as a worked example: calculator notes dropped, the answer boxed."""
    text = re.sub(r"<<[^>]*>>", "", row["solution"]).strip()
    return f"{text}\nThe answer is \\boxed{{{row['answer']}}}."


def with_examples(question: str, k: int) -> str:
    """The question after its k nearest worked examples (the farthest first, the nearest last)."""
    shots = [f"Question: {row['question']}\nAnswer: {solution(row)}" for _, row in reversed(nearest(question, k))]
    return "\n\n".join(shots + [f"Question: {question}"])


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("question")
    parser.add_argument("--examples", type=arguments.positive, default=3)
    args = parser.parse_args()
    for similarity, row in nearest(args.question, args.examples):
        print(f"similarity {similarity:.2f}: {row['question'][:100]}")
    print()
    print(with_examples(args.question, args.examples))


if __name__ == "__main__":
    arguments.run(main)
