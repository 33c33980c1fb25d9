"""Calibration of models that give class probabilities: expected calibration error, Brier
score and the bins of a reliability diagram."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: equal-width confidence bins (torchmetrics' and Guo et al.'s 15)
BINS = 15


@dataclass
class Calibration:
    """How well one model's confidence matches its accuracy on one task."""

    n: int
    #: top-label expected calibration error: sum over bins of (share of examples) x |accuracy - confidence|
    ece: float
    #: multi-class Brier score: mean over examples of sum over classes of (p - 1[gold])^2
    brier: float
    #: per non-empty bin: (low edge, high edge, examples, mean confidence, accuracy)
    bins: list[tuple[float, float, int, float, float]] = field(default_factory=list)


def calibration(probabilities: Sequence[Sequence[float]], gold: Sequence[int], bins: int = BINS) -> Calibration:
    """ECE (top-label, ``bins`` equal-width bins), Brier score and reliability bins of
    probability rows (each summing to 1) against gold indices. Bins are closed on the left,
    and a confidence of exactly 1 forms a bin of its own, as in torchmetrics."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(gold, dtype=int)
    if len(p) == 0:
        return Calibration(0, float("nan"), float("nan"))
    confidence = p.max(axis=1)
    right = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.searchsorted(edges, confidence, side="right") - 1
    ece, shown = 0.0, []
    for b in range(bins + 1):
        inside = which == b
        count = int(inside.sum())
        if not count:
            continue
        mean_confidence, accuracy = float(confidence[inside].mean()), float(right[inside].mean())
        ece += count / len(p) * abs(accuracy - mean_confidence)
        shown.append((float(edges[b]), float(edges[min(b + 1, bins)]), count, mean_confidence, accuracy))
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), y] = 1.0
    brier = float(((p - onehot) ** 2).sum(axis=1).mean())
    return Calibration(len(p), float(ece), brier, shown)
