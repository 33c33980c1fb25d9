"""Metrics agree with independent reference implementations; CIs are seeded and sane."""
from __future__ import annotations

import random

import numpy as np
import pytest
from conlleval import evaluate as conlleval_evaluate

from harness.kinds.classification.scoring import score_classification
from harness.kinds.tagging.scoring import score_tagging
from harness.scoring.stats import bootstrap_ci

GOLD = [
    ["B-PER", "I-PER", "O", "B-ORG", "O"],
    ["B-LOC", "O", "B-MISC", "I-MISC", "I-MISC"],
    ["O", "O", "B-PER"],
    ["B-ORG", "I-ORG", "I-ORG", "O"],
]
PRED = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],  # PER right, ORG typed as LOC
    ["I-LOC", "O", "B-MISC", "I-MISC", "O"],  # I- start counts as a chunk (conlleval); MISC too short
    ["O", "O", "B-PER"],
    ["B-ORG", "I-ORG", "B-ORG", "O"],  # ORG split in two
]


def conlleval_f1(gold, pred):
    lines = []
    for g_sent, p_sent in zip(gold, pred):
        lines += [f"tok {g} {p}" for g, p in zip(g_sent, p_sent)] + [""]
    result = conlleval_evaluate(lines)
    return result["overall"]["chunks"]["evals"], {k: v["evals"] for k, v in result["slots"]["chunks"].items()}


def test_ner_f1_matches_conlleval_on_hand_made_fixture():
    scores = score_tagging(GOLD, PRED)
    overall, per_type = conlleval_f1(GOLD, PRED)
    # Hand count: gold 6 entities, predicted 7, correct 3 (PER, LOC, PER) -> P 3/7, R 3/6, F1 6/13.
    assert scores.get("precision").value == pytest.approx(3 / 7, abs=1e-12)
    assert scores.get("recall").value == pytest.approx(1 / 2, abs=1e-12)
    assert scores.get("f1").value == pytest.approx(6 / 13, abs=1e-12)
    for name, key in (("f1", "f1"), ("precision", "prec"), ("recall", "rec")):
        assert scores.get(name).value == pytest.approx(overall[key], abs=1e-4)
    for entity_type, evals in per_type.items():
        assert scores.get("f1", f"type={entity_type}").value == pytest.approx(evals["f1"], abs=1e-4)


def test_zero_predicted_entities_precision_convention():
    """No predicted entities: precision 0 here (seqeval's zero_division=0), 1 in conlleval; F1 and recall agree."""
    from seqeval.metrics import precision_score

    gold, pred = [["B-PER", "O"]], [["O", "O"]]
    scores = score_tagging(gold, pred)
    overall, _ = conlleval_f1(gold, pred)
    assert scores.get("precision").value == 0.0 == precision_score(gold, pred, zero_division=0)
    assert overall["prec"] == 1
    assert scores.get("f1").value == overall["f1"] == 0.0 and scores.get("recall").value == overall["rec"] == 0.0


def test_ner_f1_matches_conlleval_on_random_taggings():
    rng = random.Random(7)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 15))] for _ in range(300)]
    pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in sentence] for sentence in gold]
    overall, _ = conlleval_f1(gold, pred)
    assert score_tagging(gold, pred).get("f1").value == pytest.approx(overall["f1"], abs=1e-4)


def test_ner_ci_brackets_the_point_estimate_and_is_seeded():
    rng = random.Random(3)
    tags = ["O", "B-PER", "I-PER", "B-LOC"]
    gold = [[rng.choice(tags) for _ in range(8)] for _ in range(200)]
    pred = [[t if rng.random() < 0.8 else "O" for t in s] for s in gold]
    a, b, c = score_tagging(gold, pred, seed=1), score_tagging(gold, pred, seed=1), score_tagging(gold, pred, seed=2)
    f1 = a.get("f1")
    assert f1.ci_low < f1.value < f1.ci_high
    assert (f1.ci_low, f1.ci_high) == (b.get("f1").ci_low, b.get("f1").ci_high)
    assert (f1.ci_low, f1.ci_high) != (c.get("f1").ci_low, c.get("f1").ci_high)
    assert f1.ci_high - f1.ci_low < 0.2


def test_tagging_rejects_wrong_length_predictions():
    from harness import HarnessError

    with pytest.raises(HarnessError, match="Example 0: expected 5 tags, the model returned 4"):
        score_tagging([GOLD[0]], [GOLD[0][:4]])


def test_classification_matches_sklearn_and_counts_invalid_outputs():
    from sklearn.metrics import accuracy_score, f1_score

    refs = ["positive", "negative", "positive", "positive", "negative", "negative"]
    preds = ["positive", "positive", "positive", "negative", "negative", "<script>"]
    scores = score_classification(refs, preds, ["negative", "positive"])
    assert scores.get("accuracy").value == pytest.approx(accuracy_score(refs, preds)) == pytest.approx(3 / 6)
    # Hand count: negative P=1/2 R=1/3 F1=0.4; positive P=2/3 R=2/3 F1=2/3 -> macro 8/15.
    assert scores.get("macro_f1").value == pytest.approx(8 / 15)
    assert scores.get("macro_f1").value == pytest.approx(
        f1_score(refs, preds, labels=["negative", "positive"], average="macro", zero_division=0)
    )
    assert scores.get("invalid_rate").value == pytest.approx(1 / 6)
    assert scores.get("f1", "label=negative").value == pytest.approx(0.4)


def test_bootstrap_matches_a_direct_resampling_loop():
    """The vectorised bootstrap equals resampling examples one replicate at a time."""
    rng = np.random.default_rng(0)
    stats = rng.integers(0, 3, size=(50, 3)).astype(float)

    def f1(sums):
        return 2 * sums[..., 0] / (sums[..., 1] + sums[..., 2])

    low, high = bootstrap_ci(stats, f1, resamples=200, seed=5)
    direct_rng = np.random.default_rng(5)
    idx = direct_rng.integers(0, 50, size=(200, 50))
    values = [f1(stats[row].sum(axis=0)) for row in idx]
    assert low == np.percentile(values, 2.5) and high == np.percentile(values, 97.5)  # counts: exactly the same sums
    fractions = stats / 7  # not whole numbers: summed row by row, as before
    low, high = bootstrap_ci(fractions, f1, resamples=200, seed=5)
    values = [f1(fractions[row].sum(axis=0)) for row in idx]
    assert low == pytest.approx(np.percentile(values, 2.5)) and high == pytest.approx(np.percentile(values, 97.5))


def test_accuracy_ci_is_close_to_the_normal_approximation():
    refs = ["positive"] * 1000
    preds = ["positive"] * 800 + ["negative"] * 200
    acc = score_classification(refs, preds, ["negative", "positive"]).get("accuracy")
    half_width = 1.96 * (0.8 * 0.2 / 1000) ** 0.5
    assert acc.ci_low == pytest.approx(0.8 - half_width, abs=0.005)
    assert acc.ci_high == pytest.approx(0.8 + half_width, abs=0.005)


def test_paired_comparison_matches_an_exact_mcnemar_sum_and_its_ci():
    import math

    from harness.scoring.stats import paired_comparison

    first = [True] * 40 + [False] * 10 + [True] * 9 + [False] * 2  # 9 only-first, 2 only-second
    second = [True] * 40 + [False] * 10 + [False] * 9 + [True] * 2
    result = paired_comparison(first, second, seed=1)
    n, k = 11, 2  # two-sided exact binomial test on the discordant pairs, summed by hand
    expected_p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert result["mcnemar_p"] == pytest.approx(expected_p)
    assert (result["only_first"], result["only_second"]) == (9, 2)
    assert result["difference"] == pytest.approx((2 - 9) / 61)
    assert result["ci_low"] < result["difference"] < result["ci_high"] < 0  # 7 more losses than wins: below 0
    assert result["agree"] is False
    same = paired_comparison(first, first)
    assert same["agree"] is True and same["mcnemar_p"] == 1.0 and same["ci_low"] == same["ci_high"] == 0.0


def _random_tags(rng: random.Random, length: int) -> list[str]:
    """Tag sequences that include every oddity seqeval's chunker handles: I- after O, type
    changes inside an entity, IOBES tags, and the '.' tag."""
    choices = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "E-PER", "S-LOC", "B-MISC", "."]
    return [rng.choice(choices) for _ in range(length)]


def test_entity_spans_equal_seqeval_get_entities():
    from seqeval.metrics.sequence_labeling import get_entities

    from harness.kinds.tagging.scoring import entity_spans

    rng = random.Random(7)
    for _ in range(3000):
        tags = _random_tags(rng, rng.randint(0, 12))
        assert entity_spans(tags) == get_entities(list(tags)), tags


def test_tagging_point_estimates_equal_seqeval_to_the_last_bit():
    import warnings

    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    rng = random.Random(3)
    for trial in range(30):
        gold = [_random_tags(rng, rng.randint(1, 10)) for _ in range(rng.randint(1, 40))]
        pred = [[t if rng.random() < 0.6 else rng.choice(["O", "B-PER", "I-LOC", "S-LOC"]) for t in s] for s in gold]
        if trial == 0:
            pred = [["O"] * len(s) for s in gold]  # nothing predicted: precision is 0 by seqeval's convention
        scores = score_tagging(gold, pred, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert scores.get("f1").value == float(f1_score(gold, pred))
            assert scores.get("precision").value == float(precision_score(gold, pred))
            assert scores.get("recall").value == float(recall_score(gold, pred))
            report = classification_report(gold, pred, output_dict=True, zero_division=0)
        for metric in scores.metrics:
            if metric.breakdown:
                row = report[metric.breakdown.split("=", 1)[1]]
                key = "f1-score" if metric.name == "f1" else metric.name
                assert (metric.value, metric.n) == (row[key], row["support"]), (metric, row)


def test_classification_point_estimates_equal_sklearn_to_the_last_bit():
    from sklearn.metrics import accuracy_score, f1_score

    rng = random.Random(5)
    labels = ["negative", "neutral", "positive"]
    for _ in range(40):
        n = rng.randint(1, 60)
        refs = [rng.choice(labels) for _ in range(n)]
        preds = [rng.choice([*labels, "positive", "?"]) for _ in range(n)]
        scores = score_classification(refs, preds, labels, seed=0)
        assert scores.get("accuracy").value == float(accuracy_score(refs, preds))
        assert scores.get("macro_f1").value == float(f1_score(refs, preds, labels=labels, average="macro", zero_division=0))
        per_class = f1_score(refs, preds, labels=labels, average=None, zero_division=0)
        for label, value in zip(labels, per_class):
            assert scores.get("f1", f"label={label}").value == float(value)


def test_scoring_imports_neither_scikit_learn_nor_seqeval():
    import subprocess
    import sys

    script = ("import sys; from harness.kinds.tagging.scoring import score_tagging;"
              "from harness.kinds.classification.scoring import score_classification;"
              "score_tagging([['B-PER', 'O']], [['B-PER', 'O']]); score_classification(['a'], ['a'], ['a', 'b']);"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'seqeval')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_iob1_gold_scores_as_its_iob2_conversion_as_documented():
    """docs/plugins.md: IOB1 gold (an entity opening with I-) is read as conlleval reads it."""
    from harness.kinds.tagging.scoring import score_tagging, spans_of

    iob1 = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"], ["O", "I-MISC", "I-MISC"]]
    iob2 = [["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"], ["O", "B-MISC", "I-MISC"]]
    predicted = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"], ["O", "B-MISC", "O"]]
    as_iob1 = score_tagging(iob1, predicted, ["a", "b"])
    as_iob2 = score_tagging(iob2, predicted, ["a", "b"])
    assert [(m.name, m.value, m.n) for m in as_iob1.metrics] == [(m.name, m.value, m.n) for m in as_iob2.metrics]
    precision, recall = 3 / 4, 3 / 5  # 3 of the 4 predicted entities are among the 5 gold ones
    assert abs(as_iob1.metrics[0].value - 2 * precision * recall / (precision + recall)) < 1e-12
    assert [spans_of(t) for t in iob1] == [spans_of(t) for t in iob2]
