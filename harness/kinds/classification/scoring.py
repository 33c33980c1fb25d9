"""Scoring classification: accuracy, macro-F1 and per-class F1 with bootstrap CIs."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from harness.core.scores import Metric, Scores
from harness.kinds.base import Scorer, wrong_type
from harness.scoring.metrics import f1_from_counts, parse_failure_metrics
from harness.scoring.stats import bootstrap_ci, safe_ratio


def score_classification(
    references: Sequence[str], predictions: Sequence[Any], labels: Sequence[str], seed: int = 0
) -> Scores:
    """Accuracy and macro-F1 over ``labels``; outputs outside ``labels`` count as wrong.

    The figures equal scikit-learn's ``accuracy_score`` and ``f1_score`` (per class and
    macro) to the last bit (a test checks), without importing scikit-learn.
    """
    labels = list(labels)
    refs = [str(r) for r in references]
    preds = [p if isinstance(p, str) else str(p) for p in predictions]
    invalid = np.array([p not in labels for p in preds], dtype=float)
    n = len(refs)
    stats = np.zeros((n, 1 + 3 * len(labels)))
    for i, (r, p) in enumerate(zip(refs, preds)):
        stats[i, 0] = r == p
        for j, label in enumerate(labels):
            stats[i, 1 + 3 * j : 4 + 3 * j] = ((r == label) and (p == label), p == label, r == label)

    def all_metrics(sums: np.ndarray) -> np.ndarray:
        acc = sums[..., :1] / n
        per_class = f1_from_counts(sums[..., 1::3], sums[..., 2::3], sums[..., 3::3])
        return np.concatenate([acc, per_class.mean(axis=-1, keepdims=True), per_class], axis=-1)

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    sums = stats.sum(axis=0)
    per_class_f1 = safe_ratio(2 * sums[1::3], sums[3::3] + sums[2::3])  # sklearn: 2 tp / (true + predicted)
    metrics = [
        Metric("accuracy", float(sums[0] / n), float(low[0]), float(high[0]), n),
        Metric("macro_f1", float(np.average(per_class_f1)), float(low[1]), float(high[1]), n),
        Metric("invalid_rate", float(invalid.mean()) if n else 0.0, None, None, n),
    ]
    for j, label in enumerate(labels):
        support = int(sum(r == label for r in refs))
        metrics.append(Metric("f1", float(per_class_f1[j]), float(low[2 + j]), float(high[2 + j]), support, f"label={label}"))
    return Scores("accuracy", metrics)


class ClassificationScorer(Scorer):
    """Accuracy, macro-F1, per-class F1 and the rate of outputs outside the label set."""

    #: failure rates: lower is better
    metric_directions = {"parse_failure_rate": False, "invalid_rate": False}

    def score(self, task, examples, predictions, seed=0):
        """Accuracy, macro-F1, per-class F1, and the parse-failure rate of options asked as generation."""
        scores = score_classification([e.reference for e in examples], [p.output for p in predictions], list(task.labels),
                                      seed=seed)
        scores.metrics.extend(parse_failure_metrics(predictions, seed=seed))
        return scores

    def check_reference(self, task, example):
        """The gold label must be one of the task's labels (else it would be scored as an error of every model)."""
        if not isinstance(example.reference, str) and example.reference not in task.labels:
            return wrong_type("Example.reference", example.reference,
                              f"a str, one of Task.labels ({', '.join(task.labels)}): map the dataset's ids to its names")
        if example.reference not in task.labels:
            return f"gold label {example.reference!r} is not one of Task.labels ({', '.join(task.labels)})"
        return None

    def check_output(self, task, example, output):
        """A label of the task's, or None for an answer that named none (an int or another
        name would silently count as wrong)."""
        if output is not None and output not in task.labels:
            return f"output {output!r} is not one of the task's labels ({', '.join(task.labels)})"
        return None
