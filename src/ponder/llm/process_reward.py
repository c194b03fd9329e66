"""A process reward model (`--scorer prm:PATH`): a transformers causal LM, read from a local
Hugging Face directory, that gives each step of a chain the probability that it is right.

Two published formats are read (both score a step as P(good) of the softmax over the logits
of a good and a bad token, where the model would write its verdict):
- "tagged" (Math-Shepherd, e.g. peiyi9979/math-shepherd-mistral-7b-prm): the question, then
  each step followed by a step tag ("ки"); a step is scored at its tag.
- "chat" (RLHFlow, e.g. RLHFlow/Llama3.1-8B-PRM-Deepseek-Data): a conversation whose user turns
  are the steps (the first carries the question) and whose assistant turns are "+"; a step is
  scored where the assistant's verdict on it begins.

Rules that must hold:
- The format is "chat" when the tokenizer has a chat template, else "tagged"; a
  `ponder-prm.json` in the directory ({"format", "step_tag", "good", "bad"}) overrides that.
  An unknown format, or a good/bad word that is not one token, is one ModelError line at load.
- A tagged text is tokenized segment by segment (the question, then each step with its tag),
  so a step is scored exactly at its tag's last token whatever the tokenizer merges.
- Nothing comes from a hub and no repository code runs (no `trust_remote_code`): models that
  need their own code (Qwen2.5-Math-PRM's token-classification head) are refused at load.
- Loaded once per path per process (`process_reward_model` caches it); scoring is pure: the
  same question and steps give the same rewards. torch failing mid-run is one PonderError line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ponder.errors import ModelError, PonderError

FORMATS = ("tagged", "chat")
SETTINGS_FILE = "ponder-prm.json"
DEFAULTS = {"step_tag": "ки", "good": "+", "bad": "-"}
MAX_STEP_CHARS = 4000  # a longer step is cut to its last characters (its conclusion)


@dataclass(frozen=True)
class PrmFormat:
    """How a reward model reads steps: its format, step tag and verdict tokens."""

    format: str
    step_tag: str
    good: str
    bad: str


class ProcessRewardModel:
    """A loaded process reward model: `step_rewards` gives each step P(right) in [0, 1]."""

    def __init__(self, model: Any, tokenizer: Any, shape: PrmFormat, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.shape = shape
        self.name = name
        self.good = _one_token(tokenizer, shape.good, name)
        self.bad = _one_token(tokenizer, shape.bad, name)

    def step_rewards(self, question: str, steps: Sequence[str]) -> list[float]:
        """P(right) of each step, in order (empty for no steps)."""
        steps = [step.strip()[-MAX_STEP_CHARS:] for step in steps if step.strip()]
        if not steps:
            return []
        try:
            if self.shape.format == "tagged":
                return self._tagged(question, steps)
            return [self._chat(question, steps[: k + 1]) for k in range(len(steps))]
        except Exception as exc:  # torch: out of memory, a device error; a template that raises; a position past the model's
            raise PonderError(f"the process reward model failed: {' '.join(str(exc).split())[:200] or type(exc).__name__}") from None

    def _tagged(self, question: str, steps: list[str]) -> list[float]:
        tokenizer, tag = self.tokenizer, self.shape.step_tag
        ids: list[int] = tokenizer.encode(question)  # with the model's own leading special tokens
        at: list[int] = []
        for step in steps:  # each step's last token is its tag: the segments are joined as token ids
            ids += tokenizer.encode(f" {step} {tag}", add_special_tokens=False)
            at.append(len(ids) - 1)
            ids += tokenizer.encode("\n", add_special_tokens=False)
        import torch

        logits = self._logits(torch.tensor([ids], device=self.model.device))[0]
        return [self._verdict(logits[i]) for i in at]

    def _chat(self, question: str, steps: list[str]) -> float:
        messages: list[dict[str, str]] = []
        for k, step in enumerate(steps):
            messages.append({"role": "user", "content": f"{question} {step}" if k == 0 else step})
            if k < len(steps) - 1:
                messages.append({"role": "assistant", "content": self.shape.good})
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(self.model.device)
        return self._verdict(self._logits(ids)[0, -1])

    def _logits(self, ids: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(input_ids=ids).logits.float()

    def _verdict(self, logits: Any) -> float:
        pair = logits[[self.good, self.bad]].softmax(dim=-1)
        return round(float(pair[0]), 4)


@lru_cache(maxsize=2)
def process_reward_model(path: str) -> ProcessRewardModel:
    """The reward model in the Hugging Face directory `path`, loaded once (ModelError if it cannot be)."""
    from ponder.llm.llama import LoadOptions
    from ponder.llm.transformers_backend import pretrained

    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file():
        raise ModelError(f"--scorer prm: {directory} has no config.json: not a Hugging Face model directory")
    model, tokenizer = pretrained(directory, None, LoadOptions(), f"the process reward model {directory}")
    return ProcessRewardModel(model, tokenizer, prm_format(directory, tokenizer), directory.name)


def prm_format(directory: Path, tokenizer: Any) -> PrmFormat:
    """The format the reward model in `directory` reads (its settings file, else detected)."""
    settings = dict(DEFAULTS)
    file = directory / SETTINGS_FILE
    if file.is_file():
        try:
            given = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{file} is not readable JSON: {exc}") from None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ModelError(f"{file} must be an object of strings (format, step_tag, good, bad)")
        settings.update(given)
    shape = settings.get("format") or ("chat" if getattr(tokenizer, "chat_template", None) else "tagged")
    if shape not in FORMATS:
        raise ModelError(f"{file}: unknown format {shape!r}; ponder reads {', '.join(FORMATS)}")
    if shape == "chat" and not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"{file}: format 'chat' needs a tokenizer with a chat template, and {directory.name}'s has none")
    return PrmFormat(shape, settings["step_tag"], settings["good"], settings["bad"])


def _one_token(tokenizer: Any, word: str, name: str) -> int:
    ids = tokenizer.encode(word, add_special_tokens=False)
    if len(ids) != 1:
        raise ModelError(f"the process reward model {name} spells {word!r} as {len(ids)} tokens; "
                         f"name one-token words in {SETTINGS_FILE}")
    return int(ids[0])
