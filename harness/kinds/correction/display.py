"""How correction examples show in the report: every accepted correction, accuracy by edit
distance and on real-word errors, and the edit distance as a facet."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from harness.kinds.base import Presenter
from harness.kinds.correction.scoring import normalise_text
from harness.scoring.tables import Table


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (rapidfuzz)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


def distance_bucket(misspelling: str, corrections: Sequence[str]) -> str:
    """"1", "2" or "3+": the edit distance from the misspelling to its nearest correction
    ("clean" when it is one of them)."""
    return _distance_bucket(str(misspelling), tuple(str(c) for c in corrections))


@lru_cache(maxsize=1 << 16)
def _distance_bucket(misspelling: str, corrections: tuple[str, ...]) -> str:
    distance = min(edit_distance(normalise_text(misspelling), normalise_text(c)) for c in corrections)
    return "clean" if distance == 0 else str(distance) if distance < 3 else "3+"


@lru_cache(maxsize=1 << 16)
def is_real_word(word: str) -> bool:
    """Whether a misspelling is itself an English word (pyspellchecker's word list): a real-word error."""
    return normalise_text(word) in _english_words()


@lru_cache(maxsize=None)
def _english_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en").word_frequency.keys())


def correction_table(inputs: Sequence[str], references: Sequence[Sequence[str]], correct: Sequence[bool]) -> Table:
    """Accuracy on misspelt words by edit distance to the correction (1, 2, 3+), and on
    real-word errors (misspellings that are English words themselves)."""
    groups: dict[str, list[bool]] = {}
    for text, refs, right in zip(inputs, references, correct):
        bucket = distance_bucket(str(text), [str(r) for r in refs])
        if bucket == "clean":
            continue
        groups.setdefault(f"edit distance {bucket}", []).append(bool(right))
        if is_real_word(str(text)):
            groups.setdefault("real-word errors", []).append(bool(right))
    order = ["edit distance 1", "edit distance 2", "edit distance 3+", "real-word errors"]
    rows = [[g, len(groups[g]), sum(groups[g]) / len(groups[g])] for g in order if g in groups]
    return Table("Accuracy by kind of misspelling", ["misspellings", "n", "accuracy"], rows,
                 "Edit distance (Levenshtein) from the misspelling to its nearest listed correction; real-word errors "
                 "are misspellings that are English words themselves (pyspellchecker's word list).",
                 data={g: {"n": len(v), "accuracy": sum(v) / len(v)} for g, v in groups.items()})


class CorrectionPresenter(Presenter):
    """The misspelling, its corrections and the answer."""

    def describe(self, data, reference, output, raw):
        """The input, every accepted correction, and the answer."""
        return {"input": str(data), "reference": " / ".join(map(str, reference)), "prediction": str(raw or output)}

    def analyses(self, task, examples, predictions, correct):
        """Accuracy by edit distance and on real-word errors."""
        return [correction_table([e.input for e in examples], [e.reference for e in examples], correct)]

    def facets(self, data, reference, meta):
        """The edit distance from the misspelling to its correction."""
        return {"edit distance": [distance_bucket(str(data), [str(r) for r in reference])]}
