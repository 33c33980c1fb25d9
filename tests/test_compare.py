"""The report's comparisons and analyses against hand computation and reference implementations:
paired bootstrap, McNemar, Holm, ranks, mean win rate, calibration (torchmetrics), NER error
categories (nervaluate), confusion matrices and spelling by edit distance."""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness.kinds.classification.display import classification_tables
from harness.kinds.correction.display import correction_table
from harness.kinds.tagging.display import entity_error_counts, entity_error_table
from harness.report.significance import (RankInterval, compare_models, detectable_difference, headline_detectable,
                                         mean_win_rate, rank_intervals, ranks, small_sample)
from harness.scoring.calibration import calibration
from harness.scoring.paired import PairedStatistics, accuracy_statistics

# Three systems on the same 12 examples (1 = right).
A = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
B = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]
C = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
IDS = [f"e{i}" for i in range(12)]


def binomial_two_sided(k: int, n: int) -> float:
    """McNemar's exact p written out: twice the smaller binomial(n, 1/2) tail, capped at 1."""
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def holm_by_hand(pvalues, alpha=0.05):
    """Holm's step-down: reject the smallest p while p <= alpha / (m - step)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    decisions = [False] * len(pvalues)
    for step, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - step):
            break
        decisions[i] = True
    return decisions


def test_pairwise_tests_match_hand_computation():
    systems = {name: accuracy_statistics(IDS, right) for name, right in (("A", A), ("B", B), ("C", C))}
    pairs = {(p.first, p.second): p for p in compare_models(systems, seed=7, resamples=400)}
    assert set(pairs) == {("A", "B"), ("A", "C"), ("B", "C")}

    # McNemar on the discordant pairs: A-B 8 (only A right) vs 0, p = 2/2^8; A-C 1 vs 1, p = 1;
    # B-C 1 vs 9, p = 2 (1 + 10) / 2^10.
    ab, ac, bc = pairs["A", "B"], pairs["A", "C"], pairs["B", "C"]
    assert (ab.only_first, ab.only_second) == (8, 0) and ab.p == pytest.approx(binomial_two_sided(0, 8)) == 2 / 256
    assert (ac.only_first, ac.only_second) == (1, 1) and ac.p == pytest.approx(1.0)
    assert (bc.only_first, bc.only_second) == (1, 9) and bc.p == pytest.approx(binomial_two_sided(1, 10)) == 22 / 1024
    assert all(p.test == "McNemar exact" for p in pairs.values())

    # Holm across the three pairs: 2/256 <= 0.05/3 and 22/1024 <= 0.05/2 are rejected, 1 is not;
    # adjusted p-values are the running maximum of (m - step) p.
    order = [ab, ac, bc]
    assert [p.significant for p in order] == holm_by_hand([p.p for p in order])
    assert [p.significant for p in order] == [True, False, True]
    assert ab.p_holm == pytest.approx(3 * ab.p) and bc.p_holm == pytest.approx(max(3 * ab.p, 2 * bc.p))

    # The paired bootstrap CI of B - A, reproduced by drawing the same resamples by hand.
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 12, size=(400, 12))
    a, b = np.array(A, float), np.array(B, float)
    differences = b[idx].mean(axis=1) - a[idx].mean(axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    assert ab.difference == pytest.approx(b.mean() - a.mean())
    assert (ab.ci_low, ab.ci_high) == (pytest.approx(low), pytest.approx(high))

    # Verdicts and ranks: A and C share rank 1; B is significantly worse than both.
    assert ab.verdict_for("A") == "better" and ab.verdict_for("B") == "worse" and ac.verdict_for("A") == "same"
    assert ranks(["A", "B", "C"], list(pairs.values())) == {"A": 1, "C": 1, "B": 3}


def z(q: float) -> float:
    """The standard normal quantile, from the standard library (not scipy)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def test_rank_intervals_and_detectable_differences_match_hand_computation():
    systems = {name: accuracy_statistics(IDS, right) for name, right in (("A", A), ("B", B), ("C", C))}
    pairs = compare_models(systems, seed=7, resamples=400)
    # A and C (11/12 each) tie; B (3/12) is significantly worse than both (A-B and B-C reject).
    intervals = rank_intervals({m: s.value() for m, s in systems.items()}, pairs)
    assert intervals == {"A": RankInterval(1, 1, 2), "C": RankInterval(1, 1, 2), "B": RankInterval(3, 3, 3)}
    assert intervals["A"].label == "1–2" and intervals["B"].label == "3"

    # The detectable difference of B - A: the standard deviation of the 400 paired resampled
    # differences, drawn by hand, times z(1 - 0.05 / 3 / 2) + z(0.8) (Holm's strictest step).
    idx = np.random.default_rng(7).integers(0, 12, size=(400, 12))
    a, b = np.array(A, float), np.array(B, float)
    spread = (b[idx].mean(axis=1) - a[idx].mean(axis=1)).std(ddof=1)
    ab = next(p for p in pairs if (p.first, p.second) == ("A", "B"))
    assert ab.detectable == pytest.approx((z(1 - 0.05 / 6) + z(0.8)) * spread)
    assert detectable_difference(0.1) == pytest.approx((z(0.975) + z(0.8)) * 0.1) == pytest.approx(0.28016, abs=1e-5)

    # A headline's: its standard error from the 95% interval, times sqrt(2) for two models.
    assert headline_detectable(0.70, 0.90) == pytest.approx((z(0.975) + z(0.8)) * np.sqrt(2) * 0.2 / (2 * z(0.975)))
    assert small_sample(0.72, 0.90) is False and small_sample(0.60, 0.90) is True

    # Identical answers have no paired variance: the binomial's at the pooled accuracy instead.
    (same,) = compare_models({"A": systems["A"], "A2": accuracy_statistics(IDS, A)}, resamples=200)
    assert same.detectable == pytest.approx((z(1 - 0.025) + z(0.8)) * np.sqrt(2 * (11 / 12) * (1 / 12) / 12))


def test_a_small_sample_gets_a_wider_rank_interval_than_a_large_one():
    # X on 15 examples, Y and Z on 3,453: X cannot be told from either, Y beats Z clearly.
    rng = np.random.default_rng(0)
    big = [f"e{i}" for i in range(3453)]
    y, w = rng.random(3453) < 0.8, rng.random(3453) < 0.6
    systems = {"X": accuracy_statistics(big[:15], rng.random(15) < 0.8), "Y": accuracy_statistics(big, y),
               "Z": accuracy_statistics(big, w)}
    intervals = rank_intervals({m: s.value() for m, s in systems.items()}, compare_models(systems, resamples=400))
    width = {m: r.worst - r.best for m, r in intervals.items()}
    assert width["X"] > width["Y"] and intervals["X"].best == 1 and intervals["X"].worst == 3
    assert all(r.best <= r.point <= r.worst for r in intervals.values())


def test_a_pair_reports_the_examples_its_test_counted_not_every_example_id():
    # Spelling accuracy counts misspelt words only: 12 words, 7 of them misspelt. McNemar's test
    # and the pair's n use those 7, whether the models scored the same words or not.
    counted = [True, True, False, True, False, True, True, False, False, True, True, False]
    systems = {name: accuracy_statistics(IDS, right, counted) for name, right in (("A", A), ("B", B))}
    (pair,) = compare_models(systems, resamples=200)
    misspelt = np.array(counted)
    a, b = np.array(A, bool)[misspelt], np.array(B, bool)[misspelt]
    assert pair.n == 7 == misspelt.sum()
    assert (pair.only_first, pair.only_second) == (int((a & ~b).sum()), int((~a & b).sum()))

    # Not the same words: B scored only the first nine, of which 5 are counted.
    systems["B"] = accuracy_statistics(IDS[:9], B[:9], counted[:9])
    (pair,) = compare_models(systems, resamples=200)
    assert pair.n == 5 == sum(counted[:9])


def test_corpus_f1_pairs_use_the_paired_bootstrap_on_the_examples_both_scored():
    def f1(s):
        return 2 * s[..., 0] / np.maximum(s[..., 1] + s[..., 2], 1)

    first = PairedStatistics(["x", "y", "z"], np.array([[1, 1, 2], [0, 1, 1], [2, 2, 2]], float), f1)
    second = PairedStatistics(["z", "y", "w"], np.array([[1, 2, 2], [1, 1, 1], [0, 0, 3]], float), f1)
    (pair,) = compare_models({"first": first, "second": second}, resamples=200)
    assert pair.n == 2 and pair.test == "paired bootstrap"
    # on y and z: first tp 2 of (3 predicted, 3 gold), second tp 2 of (3, 3): no difference
    assert pair.difference == pytest.approx(0.0) and not pair.significant


def test_mean_win_rate_counts_ties_half_and_skips_single_model_tasks():
    rates = mean_win_rate([{"a": 0.9, "b": 0.5, "c": 0.5}, {"a": 0.1, "b": 0.2}, {"c": 1.0}])
    assert rates["a"] == (pytest.approx((1.0 + 0.0) / 2), 2)
    assert rates["b"] == (pytest.approx((0.25 + 1.0) / 2), 2)
    assert rates["c"] == (pytest.approx(0.25), 1)


def test_calibration_matches_torchmetrics_and_brier_by_hand():
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet([0.4, 0.4, 0.4], size=700)
    probabilities[:9] = [1.0, 0.0, 0.0]  # certain answers: torchmetrics gives confidence 1 a bin of its own
    gold = rng.integers(0, 3, size=700)
    result = calibration(probabilities, gold)
    reference = multiclass_calibration_error(torch.tensor(probabilities), torch.tensor(gold), num_classes=3, n_bins=15, norm="l1")
    assert result.ece == pytest.approx(float(reference), abs=1e-6)
    brier = np.mean([sum((p - (k == g)) ** 2 for k, p in enumerate(row)) for row, g in zip(probabilities, gold)])
    assert result.brier == pytest.approx(brier)
    assert sum(count for _, _, count, _, _ in result.bins) == 700


def test_entity_error_categories_on_a_hand_made_sentence():
    gold = [("PER", 0, 1), ("LOC", 3, 3), ("ORG", 5, 6), ("MISC", 8, 8), ("LOC", 10, 10)]
    predicted = [("PER", 0, 1), ("ORG", 3, 3), ("ORG", 5, 5), ("PER", 8, 9), ("LOC", 12, 12)]
    assert entity_error_counts(gold, predicted) == [
        ("correct", "PER"), ("wrong type", "LOC"), ("wrong boundary", "ORG"), ("wrong type and boundary", "MISC"),
        ("spurious", "LOC"), ("missed", "LOC"),
    ]


def _nervaluate_identities(references, outputs):
    """Our categories and what nervaluate's schemes give for them."""
    from nervaluate import Evaluator

    types = sorted({tag.split("-", 1)[1] for seq in [*references, *outputs] for tag in seq if tag != "O"})
    ours = entity_error_table(references, outputs).data["counts"]["all types"]
    overall = Evaluator(references, outputs, tags=types, loader="list").evaluate()["overall"]
    strict, exact, partial = overall["strict"], overall["exact"], overall["partial"]
    return ours, {
        "correct": strict.correct, "missed": strict.missed, "spurious": strict.spurious,
        "wrong type": exact.correct - strict.correct,
        "wrong boundary + wrong type and boundary": partial.partial,
        "all wrong": strict.incorrect,
    }


def _check_identities(ours, theirs):
    assert ours["correct"] == theirs["correct"]
    assert ours["missed"] == theirs["missed"]
    assert ours["spurious"] == theirs["spurious"]
    assert ours["wrong type"] == theirs["wrong type"]
    assert ours["wrong boundary"] + ours["wrong type and boundary"] == theirs["wrong boundary + wrong type and boundary"]
    assert ours["wrong type"] + ours["wrong boundary"] + ours["wrong type and boundary"] == theirs["all wrong"]


def test_entity_error_categories_agree_with_nervaluate_on_a_fixture():
    references = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "B-MISC", "O", "B-LOC", "O", "O"],
                  ["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"], ["O", "O"]]
    outputs = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "O", "O", "B-PER", "I-PER", "O", "O", "B-LOC"],
               ["B-ORG", "B-LOC", "I-LOC", "O", "B-PER"], ["B-MISC", "O"]]
    ours, theirs = _nervaluate_identities(references, outputs)
    _check_identities(ours, theirs)
    assert sum(ours.values()) > 0


def test_entity_error_categories_agree_with_nervaluate_on_the_real_spacy_run(tmp_path):
    """spaCy's en_core_web_sm over the whole CoNLL++ test set (../shared/data)."""
    from click.testing import CliRunner

    from harness.cli import cli
    from harness.store.store import Store

    from .conftest import SHARED

    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", "spacy-en-sm", "--data-dir", str(SHARED),
                                      "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    frame = Store(store, readonly=True).predictions()
    assert len(frame) == 3453
    ours, theirs = _nervaluate_identities(list(frame["reference"]), [p["output"] for p in frame["prediction"]])
    _check_identities(ours, theirs)
    assert ours["correct"] > 3000 and ours["wrong type"] > 0 and ours["wrong type and boundary"] > 0


def test_confusion_matrix_and_class_report_by_hand():
    gold = ["pos", "pos", "neg", "neg", "neg", "pos"]
    predicted = ["pos", "neg", "neg", None, "pos", "pos"]
    confusion, report = classification_tables(["neg", "pos"], gold, predicted)
    assert confusion.columns == ["gold \\ predicted", "neg", "pos", "(no answer)"]
    assert confusion.rows == [["neg", 1, 1, 1], ["pos", 1, 2, 0]]
    from sklearn.metrics import confusion_matrix

    as_read = [p if p is not None else "(no answer)" for p in predicted]
    expected = confusion_matrix(gold, as_read, labels=["neg", "pos", "(no answer)"]).tolist()
    assert [row[1:] for row in confusion.rows] == expected[:2]
    neg = next(row for row in report.rows if row[0] == "neg")
    assert neg[1:] == [pytest.approx(1 / 2), pytest.approx(1 / 3), pytest.approx(0.4), 3]  # P 1/2, R 1/3


def test_spelling_accuracy_by_edit_distance_and_real_word_errors():
    inputs = ["speling", "recieve", "acommodation", "form", "there", "clean"]
    references = [["spelling"], ["receive"], ["accommodation", "acommodation"], ["from"], ["their"], ["clean"]]
    correct = [True, False, True, False, True, True]
    table = correction_table(inputs, references, correct)
    data = table.data
    # speling -> spelling is 1 edit; recieve -> receive 2 (a swap is two substitutions); form -> from 2;
    # there -> their 2; acommodation is listed as a correction of itself: clean, like "clean".
    assert data["edit distance 1"] == {"n": 1, "accuracy": 1.0}
    assert data["edit distance 2"] == {"n": 3, "accuracy": pytest.approx(1 / 3)}
    assert data["real-word errors"] == {"n": 2, "accuracy": 0.5}  # "form" and "there" are English words
    assert "edit distance 3+" not in data


def test_shared_draws_give_the_same_intervals_as_each_pair_drawn_alone():
    from harness.report.significance import paired_bootstrap

    rng = np.random.default_rng(1)
    systems = {name: accuracy_statistics(IDS * 5, list(rng.integers(0, 2, 60))) for name in "abcd"}
    for pair in compare_models(systems, seed=3, resamples=300):
        alone = paired_bootstrap(systems[pair.first], systems[pair.second], seed=3, resamples=300)
        assert (pair.ci_low, pair.ci_high) == (pytest.approx(alone["ci_low"]), pytest.approx(alone["ci_high"]))


@pytest.mark.parametrize(("only_first", "only_second"), [(0, 0), (0, 8), (1, 9), (5, 5), (17, 40), (300, 260)])
def test_mcnemar_exact_equals_statsmodels(only_first, only_second):
    from statsmodels.stats.contingency_tables import mcnemar

    from harness.report.significance import exact_mcnemar

    expected = mcnemar([[10, only_first], [only_second, 3]], exact=True).pvalue if only_first + only_second else 1.0
    assert exact_mcnemar(only_first, only_second) == pytest.approx(expected, rel=1e-12)


def test_bootstrap_p_value_by_hand():
    from scipy.stats import norm

    from harness.report.significance import bootstrap_p

    # resamples 1, 2, 3: standard error 1; an observed difference of 2 is z = 2
    assert bootstrap_p(np.array([1.0, 2.0, 3.0]), 2.0) == pytest.approx(2 * (1 - norm.cdf(2.0)))
    assert bootstrap_p(np.array([1.0, 2.0, 3.0]), -0.5) == pytest.approx(2 * (1 - norm.cdf(0.5)))
    assert bootstrap_p(np.zeros(9), 0.0) == 1.0 and bootstrap_p(np.full(9, 0.2), 0.2) == 0.0
    both = bootstrap_p(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), np.array([2.0, 0.0]))
    assert list(both) == [pytest.approx(2 * (1 - norm.cdf(2.0))), 1.0]
    # 20 models' worth of pairs (190): a clear difference still survives Holm, unlike a p floored at 2/(R+1)
    assert 190 * bootstrap_p(np.random.default_rng(0).normal(0.05, 0.01, 1000), 0.05) < 0.05
