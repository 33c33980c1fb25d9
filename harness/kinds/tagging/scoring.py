"""Scoring tagging: entity-level micro P/R/F1 (conlleval's chunking, seqeval's arithmetic) per
type, and the grounding rates of generated entity lists."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from harness.core.example import Prediction
from harness.core.scores import Metric, Scores
from harness.errors import HarnessError
from harness.kinds.base import Scorer, list_of_str, wrong_type
from harness.scoring.metrics import f1_from_counts, prf
from harness.scoring.paired import PairedStatistics
from harness.scoring.stats import bootstrap_ci, safe_ratio


def spans_to_bio(length: int, spans: list[tuple[int, int, str]]) -> list[str]:
    """IOB2 tags for ``length`` tokens from (start, end-exclusive, type) spans."""
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


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
        return np.concatenate([safe_ratio(tp[..., :1], pr[..., :1]), safe_ratio(tp[..., :1], go[..., :1]), f1_from_counts(tp, pr, go)], axis=-1)

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
    """For generated entity lists (:mod:`harness.kinds.tagging.grounding`): the share of answers that did not
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


class TaggingScorer(Scorer):
    """Entity-level scores; an answer is one IOB2 tag per token."""

    #: failure rates: lower is better
    metric_directions = {"parse_failure_rate": False, "ungroundable_rate": False}
    #: a type's P/R/F1 rows count its gold entities (support), not sentences
    breakdown_units = {"type": "gold entity"}

    def score(self, task, examples, predictions, seed=0):
        """Entity-level P/R/F1 (seqeval, conlleval-compatible), per type, and the grounding rates of decoders."""
        scores = score_tagging([e.reference for e in examples], [p.output for p in predictions], [e.id for e in examples],
                               seed=seed)
        scores.metrics.extend(grounding_metrics(predictions, seed=seed))
        return scores

    def check_reference(self, task, example):
        """Tokens and tags are lists of strings (a sentence given as one string is a type error,
        not a count of its characters), one tag per token, each O or B-/I- of one of the
        task's entity types."""
        if not list_of_str(example.input):
            return wrong_type("Example.input", example.input, "a list of tokens (str): split the sentence into its tokens")
        if not list_of_str(example.reference):
            return wrong_type("Example.reference", example.reference, "a list of tags (str), one per token")
        if len(example.reference) != len(example.input):
            return f"{len(example.reference)} gold tags for {len(example.input)} tokens"
        for tag in example.reference:
            if tag != "O" and (tag[:2] not in ("B-", "I-") or tag[2:] not in task.labels):
                return f"gold tag {tag!r} is not O or B-/I- of one of Task.labels ({', '.join(task.labels)})"
        return None

    def check_output(self, task, example, output):
        """One IOB2 tag per token."""
        if not isinstance(output, (list, tuple)) or len(output) != len(example.input):
            got = f"{len(output)} tags" if isinstance(output, (list, tuple)) else f"a {type(output).__name__}"
            return f"output is {got}, expected a list of {len(example.input)} tags (one per token)"
        return None

    def paired_statistics(self, task, examples, predictions):
        """Per sentence: true positives, predicted and gold entities (micro F1 from their sums)."""
        rows = []
        for example, prediction in zip(examples, predictions):
            gold, predicted = set(spans_of(example.reference)), set(spans_of(prediction.output))
            rows.append((len(gold & predicted), len(predicted), len(gold)))
        stats = np.array(rows, dtype=float).reshape(-1, 3)
        return PairedStatistics([e.id for e in examples], stats,
                                lambda s: f1_from_counts(s[..., 0], s[..., 1], s[..., 2]))
