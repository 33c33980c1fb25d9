"""Heuristic floors for ``choice`` (pronoun resolution) tasks.

Both look only at character offsets: candidates whose mention was not found verbatim
in the text (offset None) are never chosen unless no candidate has an offset, in which
case the first candidate is. Neither ever answers "none of them".
"""
from __future__ import annotations

from harness import Model, Prediction, hookimpl


def _located(example) -> list[tuple[int, int]]:
    """(offset, index) of the candidates found in the text."""
    return [(c["offset"], i) for i, c in enumerate(example.input["candidates"]) if c["offset"] is not None]


def nearest_preceding(example) -> int:
    """The candidate closest before the pronoun; if none precedes it, the closest after it."""
    located = _located(example)
    if not located:
        return 0
    pronoun = example.input["pronoun_offset"]
    before = [(offset, i) for offset, i in located if offset < pronoun]
    if before:
        return max(before)[1]
    return min(located, key=lambda item: abs(item[0] - pronoun))[1]


def first_mentioned(example) -> int:
    """The candidate mentioned first in the text."""
    located = _located(example)
    return min(located)[1] if located else 0


class Heuristic(Model):
    """A coreference heuristic over candidate offsets."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    kinds = frozenset({"choice"})
    baseline = True
    batch_invariant = True

    def __init__(self, name: str, rule, description: str):
        self.name = name
        self.rule = rule
        self.description = description

    def identity(self):
        """Name and the answers version (bumped with a changed rule: it never serves cached answers)."""
        return {"name": self.name, **self.code_identity()}

    def predict(self, task, examples, *, batch_size=32):
        """Apply the rule to each example."""
        return [Prediction(self.rule(example)) for example in examples]


@hookimpl
def harness_register_models(register):
    register(Heuristic("coref-nearest", nearest_preceding, "nearest candidate before the pronoun (else nearest after)"))
    register(Heuristic("coref-first", first_mentioned, "the first-mentioned candidate"))
