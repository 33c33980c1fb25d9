"""The two records every layer passes around: an example to evaluate, and a model's answer to it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence


@dataclass(frozen=True)
class Example:
    """One item to evaluate: ``input`` is text (classification) or tokens (tagging)."""

    id: str
    input: Any
    reference: Any
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def key(self) -> str:
        """Stable cache key: the example's id plus a digest of its input."""
        digest = hashlib.sha1(json.dumps(self.input, ensure_ascii=False).encode()).hexdigest()[:12]
        return f"{self.id}:{digest}"


@dataclass
class Prediction:
    """A model's answer to one example.

    ``output`` has the task kind's shape (a label; a list of tags; a corrected string; a
    candidate index). ``scores`` holds per-label probabilities where the model has them;
    ``raw`` the model's own text; ``candidates`` a ranked list of alternatives (best first)
    for models that propose several (spelling correctors); ``prompt`` the exact text a
    language model was given; ``details`` anything else worth keeping (log-likelihoods of
    each option, how generated entities were grounded...).
    """

    output: Any
    scores: dict[str, float] | None = None
    raw: str | None = None
    candidates: list[Any] | None = None
    prompt: str | None = None
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (what the cache and store keep)."""
        data = {"output": self.output, "scores": self.scores, "raw": self.raw}
        for name in ("candidates", "prompt", "details"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        """Inverse of :meth:`to_json`."""
        return cls(data["output"], data.get("scores"), data.get("raw"), data.get("candidates"), data.get("prompt"),
                   data.get("details"))


#: the share of examples one answer must cover for a run to say so ("answered 'positive' to 485 of 500")
DOMINANT_SHARE = 0.9


def dominant_answer(outputs: Sequence[Any], share: float = DOMINANT_SHARE) -> tuple[str, int] | None:
    """The answer given to at least ``share`` of the examples and how many got it (labels,
    candidate positions: answers that are one value each), or None. A model that answers one
    label to everything scores what the majority-class baseline scores; the board and the CLI
    say so in words."""
    from collections import Counter

    plain = [o for o in outputs if o is None or isinstance(o, (str, int))]
    if len(plain) < 10 or len(plain) < len(outputs):
        return None
    answer, count = Counter(plain).most_common(1)[0]
    if count < share * len(outputs):
        return None
    # an int answer is a candidate's index (choice tasks): "candidate 2" is the second one
    shown = "none of them" if answer is None else f"candidate {answer + 1}" if isinstance(answer, int) else str(answer)
    return shown, count
