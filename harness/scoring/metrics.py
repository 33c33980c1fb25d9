"""Metric arithmetic shared by the kinds' scorers, each figure with a bootstrap CI.

Point estimates are computed from counts with the arithmetic of the reference libraries
(seqeval for entity-level NER scores, scikit-learn for accuracy and F1: the implementations
``evaluate``'s metrics wrap) and equal theirs to the last bit; tests compare them with
seqeval, scikit-learn and the independent ``conlleval``. Computing them here spares every
run importing scikit-learn (3-4 s) and seqeval's slow per-token chunking. Intervals come
from :func:`harness.scoring.stats.bootstrap_ci` on the same counts. Each kind's own scoring
lives in its folder (``harness/kinds/<kind>/scoring.py``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.core.example import Prediction
from harness.core.scores import Metric
from harness.scoring.stats import bootstrap_ci, safe_ratio


def f1_from_counts(tp: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """F1 from true positives, predicted and gold counts (0 where undefined)."""
    return safe_ratio(2 * tp, pred + gold)


def prf(tp: np.ndarray, predicted: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 from counts, with seqeval's arithmetic (0 where undefined), so
    the figures equal ``seqeval.metrics`` to the last bit."""
    tp, predicted, gold = (np.asarray(a, dtype=float) for a in (tp, predicted, gold))
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted != 0)
    recall = np.divide(tp, gold, out=np.zeros_like(tp), where=gold != 0)
    denom = 1.0 * precision + recall
    denom[denom == 0.0] = 1
    return precision, recall, 2.0 * precision * recall / denom


def parse_failure_metrics(predictions: Sequence[Prediction], seed: int = 0) -> list[Metric]:
    """For options asked as generation (``details["parse_failed"]``, outside entity lists): the
    share of answers that named no option, with its CI; nothing when no answer was generated."""
    flags = [p.details["parse_failed"] for p in predictions
             if p.details and "parse_failed" in p.details and "entities_listed" not in p.details]
    if not flags:
        return []
    stats = np.array(flags, dtype=float).reshape(-1, 1)
    low, high = bootstrap_ci(stats, lambda sums: sums / len(stats), seed=seed)
    return [Metric("parse_failure_rate", float(stats.mean()), float(low[0]), float(high[0]), len(stats))]


