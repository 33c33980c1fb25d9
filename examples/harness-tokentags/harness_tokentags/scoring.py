"""Token accuracy, with a bootstrap CI over sentences, and the per-tag accuracy."""
from __future__ import annotations

import numpy as np

from harness import Metric, PairedStatistics, Scorer, Scores, bootstrap_ci


def _counts(examples, predictions) -> np.ndarray:
    """Per sentence: tokens tagged right, and tokens."""
    return np.array([[sum(g == p for g, p in zip(e.reference, pred.output)), len(e.reference)]
                     for e, pred in zip(examples, predictions)], dtype=float).reshape(-1, 2)


def _accuracy(sums: np.ndarray) -> np.ndarray:
    return np.divide(sums[..., 0], np.maximum(sums[..., 1], 1))


class TokenTagsScorer(Scorer):
    def score(self, task, examples, predictions, seed=0):
        """Token accuracy (the headline, n = tokens) and each gold tag's accuracy."""
        counts = _counts(examples, predictions)
        low, high = bootstrap_ci(counts, lambda sums: _accuracy(sums)[..., None], seed=seed)
        tokens = int(counts[:, 1].sum())
        metrics = [Metric("token_accuracy", float(_accuracy(counts.sum(axis=0))), float(low[0]), float(high[0]), tokens)]
        for tag in task.labels:
            pairs = [(g, p) for e, pred in zip(examples, predictions) for g, p in zip(e.reference, pred.output) if g == tag]
            if pairs:
                metrics.append(Metric("accuracy", sum(g == p for g, p in pairs) / len(pairs), None, None, len(pairs),
                                      f"tag={tag}"))
        return Scores("token_accuracy", metrics)

    def check_reference(self, task, example):
        """One tag of the task's per token."""
        wrong = [tag for tag in example.reference if tag not in task.labels]
        if len(example.reference) != len(example.input) or wrong:
            return f"gold tags {wrong or example.reference} do not give one of Task.labels per token"
        return None

    def check_output(self, task, example, output):
        """One tag per token."""
        if not isinstance(output, list) or len(output) != len(example.input):
            return f"expected a list of {len(example.input)} tags, got {output!r}"
        return None

    def is_correct(self, example, prediction):
        """Every token tagged right."""
        return list(prediction.output) == list(example.reference)

    def paired_statistics(self, task, examples, predictions):
        """The counts the headline is computed from, for the report's paired tests."""
        return PairedStatistics([e.id for e in examples], _counts(examples, predictions), _accuracy)
