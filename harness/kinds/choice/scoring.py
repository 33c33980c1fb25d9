"""Scoring choice: accuracy of picking the antecedent (None = none of the candidates)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from harness.core.scores import Metric, Scores
from harness.kinds.base import Scorer
from harness.scoring.metrics import parse_failure_metrics
from harness.scoring.stats import bootstrap_ci


def score_choice(references: Sequence[Any], predictions: Sequence[Any], seed: int = 0) -> Scores:
    """Accuracy of picking the right candidate (``None`` = none of them)."""
    stats = np.array([[r == p] for r, p in zip(references, predictions)], dtype=float).reshape(-1, 1)
    low, high = bootstrap_ci(stats, lambda sums: sums / len(stats), seed=seed)
    value = float(stats.mean()) if len(stats) else 0.0
    return Scores("accuracy", [Metric("accuracy", value, float(low[0]), float(high[0]), len(stats))])


class ChoiceScorer(Scorer):
    """Accuracy, and the parse-failure rate of candidates asked as generation."""

    def score(self, task, examples, predictions, seed=0):
        """Accuracy."""
        scores = score_choice([e.reference for e in examples], [p.output for p in predictions], seed=seed)
        scores.metrics.extend(parse_failure_metrics(predictions, seed=seed))
        return scores
