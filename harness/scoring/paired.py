"""What the report's paired tests resample: per-example statistics of a task's headline metric."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from harness.scoring.stats import safe_ratio


@dataclass
class PairedStatistics:
    """What a task's headline metric is computed from, one row per example.

    ``stats`` holds additive per-example statistics and ``metric`` maps their column sums
    (``[..., columns]``) to the headline value (as :func:`~harness.scoring.stats.bootstrap_ci` takes
    them). ``correct`` is set for accuracy-type headlines: each counted example's 0/1
    correctness (None where the headline is not a plain share of right answers, e.g. F1),
    and ``counted`` says which examples it covers (spelling accuracy counts misspelt words).
    """

    ids: list[str]
    stats: np.ndarray
    metric: Callable[[np.ndarray], Any]
    correct: np.ndarray | None = None
    counted: np.ndarray | None = None

    def value(self) -> float:
        """The headline value over every example."""
        return float(self.metric(self.stats.sum(axis=0)))

    def subset(self, ids: Sequence[str]) -> PairedStatistics:
        """The statistics of ``ids`` only, in that order."""
        where = {example_id: i for i, example_id in enumerate(self.ids)}
        rows = np.array([where[example_id] for example_id in ids], dtype=int)
        pick = (lambda a: None if a is None else a[rows])
        return PairedStatistics(list(ids), self.stats[rows], self.metric, pick(self.correct), pick(self.counted))


def accuracy_statistics(ids: Sequence[str], correct: Sequence[bool], counted: Sequence[bool] | None = None) -> PairedStatistics:
    """Statistics of a share of right answers over the ``counted`` examples (all by default)."""
    right = np.asarray(correct, dtype=float)
    mask = np.ones(len(right)) if counted is None else np.asarray(counted, dtype=float)
    stats = np.stack([right * mask, mask], axis=1) if len(right) else np.zeros((0, 2))

    def share(sums: np.ndarray) -> np.ndarray:
        return safe_ratio(sums[..., 0], sums[..., 1])

    return PairedStatistics(list(ids), stats, share, right, mask.astype(bool))
