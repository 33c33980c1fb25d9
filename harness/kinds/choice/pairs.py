"""The choice kind's fine-tune head: one (passage, candidate) pair per candidate, each asked
"is this the pronoun's antecedent?" by a sequence-classification head (labels
:data:`~harness.kinds.base.PAIR_LABELS`), the answer the most probable candidate.

A pair classifier rather than a multiple-choice head, because GAP's gold may be neither
candidate: each pair is scored on its own, so "none of them" is every candidate below one
half, and the same model answers GAP, WSC273 and Winogender (two candidates or more).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from harness.kinds.base import FinetuneHead

#: the marks put around the pronoun and around the candidate's mention in the passage
PRONOUN_MARK = "*"
CANDIDATE_MARKS = ("[", "]")


def candidate_pairs(example_input: dict[str, Any]) -> list[tuple[str, str]]:
    """One (passage, candidate) text pair per candidate of a choice example: the passage with
    the pronoun between ``*`` and the candidate's mention, where its offset is known, between
    brackets; the second text is the candidate's own words."""
    text = example_input["text"]
    pronoun, at = example_input["pronoun"], example_input["pronoun_offset"]
    pairs = []
    for candidate in example_input["candidates"]:
        marks = [(at, at + len(pronoun), PRONOUN_MARK, PRONOUN_MARK)]
        offset = candidate.get("offset")
        end = None if offset is None else offset + len(candidate["text"])
        if offset is not None and end is not None and text[offset:end] == candidate["text"] \
                and (end <= at or offset >= at + len(pronoun)):
            marks.append((offset, end, *CANDIDATE_MARKS))
        marked = text
        for start, stop, left, right in sorted(marks, reverse=True):  # from the end: offsets stay right
            marked = marked[:start] + left + marked[start:stop] + right + marked[stop:]
        pairs.append((marked, candidate["text"]))
    return pairs


def choose_candidate(probabilities: Sequence[float], allow_none: bool) -> int | None:
    """The answer from each candidate's probability of being the antecedent: the most probable
    one (the first of a tie), or None where the task allows none and no candidate reaches 0.5."""
    if not probabilities:
        return None
    best = max(range(len(probabilities)), key=lambda i: (probabilities[i], -i))
    if allow_none and probabilities[best] < 0.5:
        return None
    return best


@dataclass(frozen=True)
class PairHead(FinetuneHead):
    """The choice kind's fine-tune head: a pair per candidate, the answer :func:`choose_candidate`'s."""

    head: str = "pair"
    metric: str = "accuracy"

    def pairs(self, example_input: Any) -> list[tuple[str, str]]:
        """:func:`candidate_pairs`."""
        return candidate_pairs(example_input)

    def choose(self, probabilities: Sequence[float], example_input: Any) -> int | None:
        """:func:`choose_candidate`, none allowed where the example allows it."""
        return choose_candidate(probabilities, bool(example_input.get("allow_none")))
