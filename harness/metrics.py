"""Metrics per task kind, computed with seqeval / scikit-learn, each with a bootstrap CI.

Point estimates come from the reference libraries (seqeval for entity-level NER scores,
scikit-learn for accuracy and F1: the implementations ``evaluate``'s metrics wrap).
Intervals come from :func:`harness.stats.bootstrap_ci` on the same counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .errors import HarnessError
from .stats import bootstrap_ci, safe_ratio

if TYPE_CHECKING:
    from .model import Prediction
    from .task import Example, Task


@dataclass
class Metric:
    """One number: ``breakdown`` names a slice ('' = whole set, 'type=PER', ...)."""

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    breakdown: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass
class Scores:
    """All metrics of one run; ``headline`` names the leaderboard metric."""

    headline: str
    metrics: list[Metric] = field(default_factory=list)

    def get(self, name: str, breakdown: str = "") -> Metric:
        """The metric with this name and breakdown."""
        for metric in self.metrics:
            if metric.name == name and metric.breakdown == breakdown:
                return metric
        raise KeyError((name, breakdown))


def score(task: Task, examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
    """Score predictions as the task's kind does."""
    from .kinds import kind_of

    if len(examples) != len(predictions):
        raise HarnessError(f"{len(predictions)} predictions for {len(examples)} examples")
    return kind_of(task).score(task, examples, predictions, seed=seed)


def _f1(tp: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    return safe_ratio(2 * tp, pred + gold)


def score_tagging(
    references: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    ids: Sequence[str] | None = None,
    seed: int = 0,
) -> Scores:
    """Entity-level micro P/R/F1 (seqeval, conlleval-compatible default mode) and per-type scores."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.metrics.sequence_labeling import get_entities

    ids = ids or [str(i) for i in range(len(references))]
    for ex_id, ref, pred in zip(ids, references, predictions):
        if not isinstance(pred, (list, tuple)) or len(pred) != len(ref):
            got = len(pred) if isinstance(pred, (list, tuple)) else type(pred).__name__
            raise HarnessError(f"Example {ex_id}: expected {len(ref)} tags, the model returned {got}")
    refs = [list(r) for r in references]
    preds = [list(p) for p in predictions]
    gold_sets = [set(get_entities(r)) for r in refs]
    pred_sets = [set(get_entities(p)) for p in preds]
    types = sorted({t for s in gold_sets for t, _, _ in s} | {t for s in pred_sets for t, _, _ in s})

    # Per sentence: [tp, pred, gold] overall, then the same triple per entity type.
    stats = np.zeros((len(refs), 3 * (1 + len(types))))
    for i, (g, p) in enumerate(zip(gold_sets, pred_sets)):
        stats[i, 0:3] = (len(g & p), len(p), len(g))
        for j, t in enumerate(types, start=1):
            gt = {e for e in g if e[0] == t}
            pt = {e for e in p if e[0] == t}
            stats[i, 3 * j : 3 * j + 3] = (len(gt & pt), len(pt), len(gt))

    def all_metrics(sums: np.ndarray) -> np.ndarray:
        tp, pr, go = sums[..., 0::3], sums[..., 1::3], sums[..., 2::3]
        return np.concatenate([safe_ratio(tp[..., :1], pr[..., :1]), safe_ratio(tp[..., :1], go[..., :1]), _f1(tp, pr, go)], axis=-1)

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    n = len(refs)
    metrics = [
        Metric("f1", float(f1_score(refs, preds)), float(low[2]), float(high[2]), n),
        Metric("precision", float(precision_score(refs, preds)), float(low[0]), float(high[0]), n),
        Metric("recall", float(recall_score(refs, preds)), float(low[1]), float(high[1]), n),
    ]
    report = classification_report(refs, preds, output_dict=True, zero_division=0)
    for j, t in enumerate(types, start=1):
        row = report.get(t, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        breakdown = f"type={t}"
        metrics += [
            Metric("f1", float(row["f1-score"]), float(low[2 + j]), float(high[2 + j]), int(row["support"]), breakdown),
            Metric("precision", float(row["precision"]), None, None, int(row["support"]), breakdown),
            Metric("recall", float(row["recall"]), None, None, int(row["support"]), breakdown),
        ]
    return Scores("f1", metrics)


def grounding_metrics(predictions: Sequence[Prediction], seed: int = 0) -> list[Metric]:
    """For generated entity lists (:mod:`harness.grounding`): the share of answers that did not
    parse (over sentences) and of listed entities that could not be placed (over entities)."""
    details = [p.details for p in predictions if p.details and "entities_listed" in p.details]
    if not details:
        return []
    stats = np.array([[d["parse_failed"], len(d["ungrounded"]), d["entities_listed"]] for d in details], dtype=float)

    def rates(sums: np.ndarray) -> np.ndarray:
        return np.stack([sums[..., 0] / len(stats), safe_ratio(sums[..., 1], sums[..., 2])], axis=-1)

    low, high = bootstrap_ci(stats, rates, seed=seed)
    point = rates(stats.sum(axis=0))
    return [
        Metric("parse_failure_rate", float(point[0]), float(low[0]), float(high[0]), len(stats)),
        Metric("ungroundable_rate", float(point[1]), float(low[1]), float(high[1]), int(stats[:, 2].sum())),
    ]


def score_classification(
    references: Sequence[str], predictions: Sequence[Any], labels: Sequence[str], seed: int = 0
) -> Scores:
    """Accuracy and macro-F1 over ``labels`` (scikit-learn); outputs outside ``labels`` count as wrong."""
    from sklearn.metrics import accuracy_score, f1_score

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
        per_class = _f1(sums[..., 1::3], sums[..., 2::3], sums[..., 3::3])
        return np.concatenate([acc, per_class.mean(axis=-1, keepdims=True), per_class], axis=-1)

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    per_class_f1 = f1_score(refs, preds, labels=labels, average=None, zero_division=0)
    metrics = [
        Metric("accuracy", float(accuracy_score(refs, preds)), float(low[0]), float(high[0]), n),
        Metric("macro_f1", float(f1_score(refs, preds, labels=labels, average="macro", zero_division=0)), float(low[1]), float(high[1]), n),
        Metric("invalid_rate", float(invalid.mean()) if n else 0.0, None, None, n),
    ]
    for j, label in enumerate(labels):
        support = int(sum(r == label for r in refs))
        metrics.append(Metric("f1", float(per_class_f1[j]), float(low[2 + j]), float(high[2 + j]), support, f"label={label}"))
    return Scores("accuracy", metrics)


def normalise_text(text: Any) -> str:
    """How corrections are compared: surrounding and repeated whitespace collapsed, case folded."""
    return " ".join(str(text).split()).casefold()


def is_correct(kind: str, example: Example, prediction: Prediction) -> bool:
    """Whether one prediction is exactly right, as the kind named ``kind`` judges it."""
    from .kinds import get_kind

    return get_kind(kind).is_correct(example, prediction)


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


def score_choice(references: Sequence[Any], predictions: Sequence[Any], seed: int = 0) -> Scores:
    """Accuracy of picking the right candidate (``None`` = none of them)."""
    stats = np.array([[r == p] for r, p in zip(references, predictions)], dtype=float).reshape(-1, 1)
    low, high = bootstrap_ci(stats, lambda sums: sums / len(stats), seed=seed)
    value = float(stats.mean()) if len(stats) else 0.0
    return Scores("accuracy", [Metric("accuracy", value, float(low[0]), float(high[0]), len(stats))])
