"""Scoring correction: top-1 accuracy on misspelt inputs, over-correction on clean ones, top-5."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from harness.core.example import Example, Prediction
from harness.core.scores import Metric, Scores
from harness.kinds.base import Scorer, list_of_str, wrong_type
from harness.plugins.registry import warn
from harness.scoring.paired import accuracy_statistics
from harness.scoring.stats import bootstrap_ci, safe_ratio


def normalise_text(text: Any) -> str:
    """How corrections are compared: surrounding and repeated whitespace collapsed, case folded."""
    return _normalised(text) if isinstance(text, str) else " ".join(str(text).split()).casefold()


@lru_cache(maxsize=1 << 16)
def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_clean(example: Example) -> bool:
    """A correction example whose input is already correct (it must be left unchanged)."""
    return normalise_text(example.input) in {normalise_text(r) for r in example.reference}


TOP_K = 5


def score_correction(examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
    """Spelling correction: top-1 accuracy on misspelt inputs, over-correction rate on clean ones,
    and top-5 accuracy where the model returned ranked candidates.

    Inputs and references are compared after :func:`normalise_text` (case-insensitive,
    whitespace-normalised). An example is *clean* when its input is one of its references.
    """
    stats = np.zeros((len(examples), 5))
    has_candidates = any(p.candidates for p in predictions)
    for i, (example, prediction) in enumerate(zip(examples, predictions)):
        refs = {normalise_text(r) for r in example.reference}
        clean = normalise_text(example.input) in refs
        # The output first, then the model's ranked candidates; the first TOP_K distinct ones.
        ranked = [prediction.output, *(prediction.candidates or [])]
        top_k = list(dict.fromkeys(normalise_text(c) for c in ranked if c is not None))[:TOP_K]
        in_top_k = bool(refs.intersection(top_k))
        right = normalise_text(prediction.output) in refs
        changed = normalise_text(prediction.output) != normalise_text(example.input)
        stats[i] = (not clean, (not clean) and right, clean, clean and changed, (not clean) and in_top_k)

    def all_metrics(sums: np.ndarray) -> np.ndarray:
        return np.stack(
            [safe_ratio(sums[..., 1], sums[..., 0]), safe_ratio(sums[..., 3], sums[..., 2]), safe_ratio(sums[..., 4], sums[..., 0])],
            axis=-1,
        )

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    totals = stats.sum(axis=0)
    point = all_metrics(totals)
    n_misspelt, n_clean = int(totals[0]), int(totals[2])
    metrics = [Metric("accuracy", float(point[0]), float(low[0]), float(high[0]), n_misspelt)]
    if n_clean:
        metrics.append(Metric("over_correction_rate", float(point[1]), float(low[1]), float(high[1]), n_clean))
    if has_candidates:
        metrics.append(Metric(f"top_{TOP_K}_accuracy", float(point[2]), float(low[2]), float(high[2]), n_misspelt))
    return Scores("accuracy", metrics)


class CorrectionScorer(Scorer):
    """Any listed correction counts, ignoring case and spacing."""

    #: failure rates: lower is better
    metric_directions = {"parse_failure_rate": False, "over_correction_rate": False}

    def score(self, task, examples, predictions, seed=0):
        """Top-1 accuracy, over-correction rate on clean words, top-5 accuracy (a task with no
        clean inputs is told, once, that it gets no over-correction rate)."""
        if examples and not any(is_clean(e) for e in examples):
            warn(f"Task {task.name!r} has no clean inputs (correct words given as their own correction), so "
                 "over_correction_rate is not computed; harness.kinds.correction.correction_examples adds them")
        return score_correction(examples, predictions, seed=seed)

    def check_reference(self, task, example):
        """The input is one word (a str) and the gold answer a non-empty list of its accepted
        corrections (a bare string would be read as a list of its characters)."""
        if not isinstance(example.input, str):
            return wrong_type("Example.input", example.input, "the misspelt word, a str")
        if not list_of_str(example.reference) or not example.reference:
            return wrong_type("Example.reference", example.reference,
                              "a non-empty list of accepted corrections (str), e.g. ['receive']")
        return None

    def evaluate_view(self, example, prediction):
        """The corrected word, and the listed correction it matches (else the first): one
        reference string, as single-reference ``evaluate`` metrics take it."""
        matched = [r for r in example.reference if normalise_text(r) == normalise_text(prediction.output or "")]
        return prediction.output, (matched or list(example.reference))[0]

    def is_correct(self, example, prediction):
        """Right when it equals any listed correction, ignoring case and spacing."""
        return normalise_text(prediction.output) in {normalise_text(r) for r in example.reference}

    def paired_statistics(self, task, examples, predictions):
        """Accuracy over the misspelt inputs (clean ones are left out, as the headline does)."""
        return accuracy_statistics([e.id for e in examples], [self.is_correct(e, p) for e, p in zip(examples, predictions)],
                                   [not is_clean(e) for e in examples])
