"""Comparing models on the same examples: paired differences with bootstrap CIs, McNemar's
exact test, Holm's correction across pairs, and the ranks and overall score built on them."""
from __future__ import annotations

import gc
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from harness.scoring.paired import PairedStatistics
from harness.scoring.stats import DEFAULT_RESAMPLES, paired_samples, resample_counts

#: family-wise error rate of the pairwise decisions (Holm)
ALPHA = 0.05


def exact_mcnemar(only_first, only_second):
    """McNemar's exact two-sided p-value from the discordant counts (only the first system
    right, only the second right; numbers or arrays): twice the binomial(discordant, 1/2) tail
    of the smaller count, capped at 1 (scipy's binomial CDF; a test checks it equals
    statsmodels' ``mcnemar(exact=True)``)."""
    from scipy.stats import binom

    only_first, only_second = np.asarray(only_first), np.asarray(only_second)
    total = only_first + only_second
    tail = binom.cdf(np.minimum(only_first, only_second), np.maximum(total, 1), 0.5)
    p = np.where(total > 0, np.minimum(1.0, 2 * tail), 1.0)
    return float(p) if p.ndim == 0 else p


def paired_bootstrap(first: PairedStatistics, second: PairedStatistics, *, seed: int = 0,
                     resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95) -> dict[str, float]:
    """The headline difference (second - first) on the same examples with a paired percentile
    bootstrap CI (:func:`~harness.scoring.stats.paired_samples`), and the bootstrap's two-sided
    p-value (:func:`bootstrap_p`)."""
    samples = paired_samples(first.stats, second.stats, first.metric, seed=seed, resamples=resamples)
    return _summary(first, second, samples, confidence)


def _pairs_on_shared_examples(systems: dict[str, PairedStatistics], *, seed: int, resamples: int) -> list[PairResult]:
    """Every pair of models that scored the same examples: one set of draws serves every pair,
    each model's statistics are resampled once, and the intervals come out of one array."""
    names = list(systems)
    counts = resample_counts(len(systems[names[0]].ids), resamples=resamples, seed=seed).astype(float)
    # one matrix product for every model's statistics side by side, then each model's metric
    widths = np.cumsum([0, *[systems[m].stats.shape[1] for m in names]])
    sums = counts @ np.hstack([systems[m].stats for m in names])
    resampled = np.stack([np.asarray(systems[m].metric(sums[:, widths[i]:widths[i + 1]])) for i, m in enumerate(names)])
    values = np.array([systems[m].value() for m in names])
    index = list(combinations(range(len(names)), 2))
    if not index:
        return []
    first, second = np.array([i for i, _ in index]), np.array([j for _, j in index])
    samples = resampled[second] - resampled[first]
    low, high = np.percentile(samples, [2.5, 97.5], axis=1)
    p = bootstrap_p(samples, values[second] - values[first])
    spread = samples.std(axis=1, ddof=1)
    n = len(systems[names[0]].ids)
    return [PairResult(names[i], names[j], n, float(values[j] - values[i]), float(lo), float(hi), "paired bootstrap", float(pv),
                       spread=float(sd))
            for (i, j), lo, hi, pv, sd in zip(index, low, high, p, spread)]


def bootstrap_p(samples: np.ndarray, observed):
    """The two-sided p-value of an observed paired difference from its bootstrap resamples
    (the last axis): the difference over its bootstrap standard error, against the normal
    distribution (scipy). Unlike counting resamples on either side of 0, it does not stop at
    1/R, so Holm's correction across many pairs can still reject. No spread: 1 for no
    difference, else 0."""
    from scipy.stats import norm

    samples, observed = np.asarray(samples, dtype=float), np.asarray(observed, dtype=float)
    spread = samples.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(spread > 0, 2 * norm.sf(np.abs(observed) / np.where(spread > 0, spread, 1.0)),
                     np.where(observed == 0, 1.0, 0.0))
    return float(p) if p.ndim == 0 else p


def _summary(first: PairedStatistics, second: PairedStatistics, samples: np.ndarray, confidence: float) -> dict[str, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    difference = second.value() - first.value()
    return {"difference": difference, "ci_low": float(low), "ci_high": float(high),
            "bootstrap_p": bootstrap_p(samples, difference), "spread": float(samples.std(ddof=1))}


@dataclass
class PairResult:
    """The comparison of two models on one task (``difference`` is second - first)."""

    first: str
    second: str
    n: int  # the examples the test used (for a share of right answers: the counted ones)
    difference: float
    ci_low: float
    ci_high: float
    test: str
    p: float
    p_holm: float = 1.0
    significant: bool = False
    only_first: int | None = None
    only_second: int | None = None
    #: the bootstrap standard error of the difference (paired: both models on the same draws)
    spread: float | None = None
    #: the smallest difference this sample detects (:func:`detectable_difference`)
    detectable: float | None = None
    #: whether ``n`` counts only some of the shared examples (McNemar on a headline that
    #: scores a subset: spelling's misspelt words), so it is in the headline's unit
    subset: bool = False

    def verdict_for(self, model: str) -> str:
        """"better", "worse" or "same" (no significant difference), from ``model``'s side."""
        if not self.significant or self.difference == 0:
            return "same"
        second_better = self.difference > 0
        return "better" if second_better == (model == self.second) else "worse"


def compare_models(systems: dict[str, PairedStatistics], *, seed: int = 0, alpha: float = ALPHA,
                   resamples: int = DEFAULT_RESAMPLES) -> list[PairResult]:
    """Every pair of models, compared on the examples both scored.

    The test is McNemar's exact test where the headline is a share of right answers (both
    models have ``correct``), else the paired bootstrap's p-value; Holm's step-down method
    (statsmodels) then holds the family-wise error rate across all pairs at ``alpha``.
    """
    from statsmodels.stats.multitest import multipletests

    names = list(systems)
    shared = bool(names) and bool(systems[names[0]].ids) and all(systems[m].ids == systems[names[0]].ids for m in names)
    if shared:
        pairs = _pairs_on_shared_examples(systems, seed=seed, resamples=resamples)
        compared = {(p.first, p.second): (systems[p.first], systems[p.second]) for p in pairs}
    else:
        pairs, compared = [], {}
        for a, b in combinations(systems, 2):
            wanted = set(systems[b].ids)
            common = [i for i in systems[a].ids if i in wanted]
            if not common:
                continue
            first, second = compared[a, b] = systems[a].subset(common), systems[b].subset(common)
            boot = paired_bootstrap(first, second, seed=seed, resamples=resamples)
            pairs.append(PairResult(a, b, len(common), boot["difference"], boot["ci_low"], boot["ci_high"],
                                    "paired bootstrap", boot["bootstrap_p"], spread=boot["spread"]))
    discordant = []
    for pair in pairs:
        first, second = compared[pair.first, pair.second]
        if first.correct is not None and second.correct is not None:
            counted = first.counted & second.counted
            a, b = first.correct[counted].astype(bool), second.correct[counted].astype(bool)
            pair.only_first, pair.only_second = int((a & ~b).sum()), int((~a & b).sum())
            pair.n = int(counted.sum())  # what the test counts (spelling: the misspelt words only)
            pair.subset = bool(pair.n < len(counted))
            pair.test = "McNemar exact"
            if not pair.spread:  # identical answers: no paired variance, so the binomial's
                pooled = (a.sum() + b.sum()) / max(2 * pair.n, 1)
                pair.spread = float(np.sqrt(2 * pooled * (1 - pooled) / max(pair.n, 1)))
            discordant.append(pair)
    if discordant:  # one vectorised binomial CDF for every pair
        exact = exact_mcnemar([p.only_first for p in discordant], [p.only_second for p in discordant])
        for pair, p in zip(discordant, exact):
            pair.p = float(p)
    if pairs:
        # statsmodels' Holm runs a full garbage collection, which costs time in proportion to
        # every object alive (a report holds each prediction): those are set aside meanwhile.
        gc.freeze()
        try:
            reject, adjusted, _, _ = multipletests([p.p for p in pairs], alpha=alpha, method="holm")
        finally:
            gc.unfreeze()
        for pair, rejected, p_holm in zip(pairs, reject, adjusted):
            pair.p_holm, pair.significant = float(p_holm), bool(rejected)
            pair.detectable = detectable_difference(pair.spread, alpha=alpha / len(pairs))
    return pairs


#: the power at which :func:`detectable_difference` states the smallest detectable difference
POWER = 0.8
#: a headline whose 95% interval is wider than this is marked "small sample"
SMALL_SAMPLE_WIDTH = 0.2


def detectable_difference(spread: float | None, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest true difference a two-sided test at level ``alpha`` detects with probability
    ``power``, for a difference whose standard error is ``spread``: (z[1 - alpha/2] + z[power])
    x spread (the normal approximation; scipy's quantiles). Pairs pass ``alpha`` / the number of
    pairs on the task, Holm's strictest step, so the figure holds whatever the other pairs do."""
    from scipy.stats import norm

    if spread is None or spread != spread:
        return None
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * spread)


def headline_detectable(ci_low: float | None, ci_high: float | None, *, alpha: float = ALPHA,
                        power: float = POWER) -> float | None:
    """The smallest difference between this headline and another model's equally precise one
    (scored independently) that a test at ``alpha`` detects with ``power``: the headline's
    standard error read off its 95% bootstrap interval (width / (2 x 1.96)), times the square
    root of 2 for the two models, through :func:`detectable_difference`."""
    from scipy.stats import norm

    if ci_low is None or ci_high is None or ci_low != ci_low or ci_high != ci_high:
        return None
    spread = (ci_high - ci_low) / (2 * norm.ppf(0.975))
    return detectable_difference(float(np.sqrt(2)) * spread, alpha=alpha, power=power)


def small_sample(ci_low: float | None, ci_high: float | None) -> bool:
    """Whether a headline's 95% interval is wider than :data:`SMALL_SAMPLE_WIDTH`."""
    return ci_low is not None and ci_high is not None and ci_high - ci_low > SMALL_SAMPLE_WIDTH


@dataclass(frozen=True)
class RankInterval:
    """A model's rank on a task: ``point`` is its place by headline (1 + the models scoring
    higher), ``best`` and ``worst`` the ranks the pairwise tests leave possible: 1 + the models
    significantly better, and the number of models minus those significantly worse."""

    point: int
    best: int
    worst: int

    @property
    def label(self) -> str:
        """"3" where the tests pin the rank, else "1–6"."""
        return str(self.best) if self.best == self.worst else f"{self.best}–{self.worst}"


def rank_intervals(values: dict[str, float], pairs: Sequence[PairResult]) -> dict[str, RankInterval]:
    """Each model's :class:`RankInterval` from its headline ``values`` and the task's pairs
    (Holm-corrected decisions); the interval always holds the point rank."""
    best = ranks(list(values), pairs)
    worse_than = {model: 0 for model in values}
    for pair in pairs:
        if pair.significant and pair.difference != 0:
            winner = pair.second if pair.difference > 0 else pair.first
            worse_than[winner] += 1
    total, intervals = len(values), {}
    for model, value in values.items():
        point = 1 + sum(other > value for other in values.values())
        # A pair tested on a subset (a decoder's sample) can order two models unlike their full
        # headlines; the interval is widened to hold the point rank then.
        intervals[model] = RankInterval(point, min(best[model], point), max(total - worse_than[model], point))
    return intervals


def ranks(models: Sequence[str], pairs: Sequence[PairResult]) -> dict[str, int]:
    """Each model's rank: 1 + the number of models significantly better than it, so every model
    not significantly worse than the best shares rank 1."""
    better_than = {model: 0 for model in models}
    for pair in pairs:
        if pair.significant and pair.difference != 0:
            loser = pair.first if pair.difference > 0 else pair.second
            better_than[loser] += 1
    return {model: 1 + better_than[model] for model in models}


def mean_win_rate(columns: Sequence[dict[str, float]]) -> dict[str, tuple[float, int]]:
    """HELM's mean win rate: per task, the share of the other models on it whose headline is
    lower (ties count half), averaged over the tasks the model ran; with that task count.
    Tasks with a single model are left out."""
    totals: dict[str, list[float]] = {}
    for values in columns:
        scored = {m: v for m, v in values.items() if v is not None and v == v}
        if len(scored) < 2:
            continue
        for model, value in scored.items():
            others = [v for m, v in scored.items() if m != model]
            wins = sum(1.0 if value > v else 0.5 if value == v else 0.0 for v in others)
            totals.setdefault(model, []).append(wins / len(others))
    return {model: (float(np.mean(rates)), len(rates)) for model, rates in totals.items()}


def comparison_matrix(models: Sequence[str], pairs: Sequence[PairResult]) -> dict[tuple[str, str], dict[str, Any]]:
    """(row model, column model) -> the row model's verdict against the column model, and the pair."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in pairs:
        cells[(pair.first, pair.second)] = {"verdict": pair.verdict_for(pair.first), "pair": pair, "sign": -1}
        cells[(pair.second, pair.first)] = {"verdict": pair.verdict_for(pair.second), "pair": pair, "sign": 1}
    return cells
