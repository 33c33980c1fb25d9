"""Metrics per task kind, each with a bootstrap CI.

Point estimates are computed from counts with the arithmetic of the reference libraries
(seqeval for entity-level NER scores, scikit-learn for accuracy and F1: the implementations
``evaluate``'s metrics wrap) and equal theirs to the last bit; tests compare them with
seqeval, scikit-learn and the independent ``conlleval``. Computing them here spares every
run importing scikit-learn (3-4 s) and seqeval's slow per-token chunking. Intervals come
from :func:`harness.stats.bootstrap_ci` on the same counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from functools import lru_cache

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


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tag sequence as (type, first, last) token positions.

    The chunking rules of seqeval's ``get_entities`` (default mode, the conlleval rules:
    an ``I-`` after ``O`` or after another type starts an entity; IOBES tags are read
    too), written out inline: seqeval calls two functions and a validator per token, and
    importing it imports scikit-learn. Tests check equality with seqeval on random sequences.
    """
    chunks = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate([*tags, "O"]):
        tag = chunk[0]
        type_ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
        if (prev_tag in ("E", "S") or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
                or (prev_tag not in ("O", ".") and prev_type != type_)):
            chunks.append((prev_type, begin, i - 1))
        if (tag in ("B", "S") or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
                or (tag not in ("O", ".") and prev_type != type_)):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


@lru_cache(maxsize=1 << 16)
def _spans_of(tags: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    return tuple(entity_spans(tags))


#: id(tag list) -> (the list, its spans): lists the report reads many times (each gold sequence
#: once per model), found without hashing their contents; the list is held, so its id is not
#: reused while the entry lives. :func:`forget_spans` empties it.
_by_identity: dict[int, tuple[Sequence[str], tuple[tuple[str, int, int], ...]]] = {}


def spans_of(tags: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """:func:`entity_spans`, remembered (call :func:`forget_spans` when done)."""
    entry = _by_identity.get(id(tags))
    if entry is not None and entry[0] is tags:
        return entry[1]
    spans = _spans_of(tuple(tags))
    _by_identity[id(tags)] = (tags, spans)
    return spans


def forget_spans() -> None:
    """Empty :func:`spans_of`'s memory of tag lists."""
    _by_identity.clear()


def prf(tp: np.ndarray, predicted: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 from counts, with seqeval's arithmetic (0 where undefined), so
    the figures equal ``seqeval.metrics`` to the last bit."""
    tp, predicted, gold = (np.asarray(a, dtype=float) for a in (tp, predicted, gold))
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted != 0)
    recall = np.divide(tp, gold, out=np.zeros_like(tp), where=gold != 0)
    denom = 1.0 * precision + recall
    denom[denom == 0.0] = 1
    return precision, recall, 2.0 * precision * recall / denom


def score_tagging(
    references: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    ids: Sequence[str] | None = None,
    seed: int = 0,
) -> Scores:
    """Entity-level micro P/R/F1 (conlleval's chunking, seqeval's default mode) and per-type scores.

    Point estimates equal ``seqeval.metrics`` (``f1_score``, ``classification_report``) and
    conlleval's (tests check both); they are computed from per-sentence entity counts, which
    also give the bootstrap intervals. Precision with no predicted entities is 0 (seqeval's
    ``zero_division=0``); the ``conlleval`` package reports 1 there, with the same F1.
    """
    ids = ids or [str(i) for i in range(len(references))]
    for ex_id, ref, pred in zip(ids, references, predictions):
        if not isinstance(pred, (list, tuple)) or len(pred) != len(ref):
            got = len(pred) if isinstance(pred, (list, tuple)) else type(pred).__name__
            raise HarnessError(f"Example {ex_id}: expected {len(ref)} tags, the model returned {got}")
    gold_sets = [set(entity_spans(r)) for r in references]
    pred_sets = [set(entity_spans(p)) for p in predictions]
    types = sorted({t for s in gold_sets for t, _, _ in s} | {t for s in pred_sets for t, _, _ in s})
    column = {t: j for j, t in enumerate(types, start=1)}

    # Per sentence: [tp, pred, gold] overall, then the same triple per entity type.
    stats = np.zeros((len(references), 3 * (1 + len(types))))
    for i, (g, p) in enumerate(zip(gold_sets, pred_sets)):
        stats[i, 0:3] = (len(g & p), len(p), len(g))
        for t, _, _ in g & p:
            stats[i, 3 * column[t]] += 1
        for t, _, _ in p:
            stats[i, 3 * column[t] + 1] += 1
        for t, _, _ in g:
            stats[i, 3 * column[t] + 2] += 1

    def all_metrics(sums: np.ndarray) -> np.ndarray:
        tp, pr, go = sums[..., 0::3], sums[..., 1::3], sums[..., 2::3]
        return np.concatenate([safe_ratio(tp[..., :1], pr[..., :1]), safe_ratio(tp[..., :1], go[..., :1]), _f1(tp, pr, go)], axis=-1)

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    sums = stats.sum(axis=0)
    precision, recall, f1 = prf(sums[0::3], sums[1::3], sums[2::3])
    n = len(references)
    metrics = [
        Metric("f1", float(f1[0]), float(low[2]), float(high[2]), n),
        Metric("precision", float(precision[0]), float(low[0]), float(high[0]), n),
        Metric("recall", float(recall[0]), float(low[1]), float(high[1]), n),
    ]
    for t, j in column.items():
        support, breakdown = int(sums[3 * j + 2]), f"type={t}"
        metrics += [
            Metric("f1", float(f1[j]), float(low[2 + j]), float(high[2 + j]), support, breakdown),
            Metric("precision", float(precision[j]), None, None, support, breakdown),
            Metric("recall", float(recall[j]), None, None, support, breakdown),
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
        per_class = _f1(sums[..., 1::3], sums[..., 2::3], sums[..., 3::3])
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


def normalise_text(text: Any) -> str:
    """How corrections are compared: surrounding and repeated whitespace collapsed, case folded."""
    return _normalised(text) if isinstance(text, str) else " ".join(str(text).split()).casefold()


@lru_cache(maxsize=1 << 16)
def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


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
