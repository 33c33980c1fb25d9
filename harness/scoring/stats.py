"""Bootstrap confidence intervals over per-example sufficient statistics."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (the zero_division=0 convention of seqeval/sklearn)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def bootstrap_samples(
    stats: np.ndarray,
    metric: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """The metric on ``resamples`` bootstrap resamples of the examples (rows of ``stats``):
    an array of shape ``(resamples, ...)``. See :func:`bootstrap_ci`."""
    stats = np.asarray(stats, dtype=float)
    n = len(stats)
    rng = np.random.default_rng(seed)
    values = []
    flat = stats.reshape(n, -1)
    # Counts are whole numbers: summing them as "how often each example was drawn" times its
    # counts (one matrix product) is exact and gives the very sums of the drawn rows.
    whole = bool(np.all(flat == np.round(flat))) and float(np.abs(flat).sum()) * n < 2**52
    chunk = max(1, min(resamples, 20_000_000 // max(1, n * flat.shape[1])))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        idx = rng.integers(0, n, size=(size, n))
        if whole:
            sums = (_draw_counts(idx).astype(float) @ flat).reshape((size, *stats.shape[1:]))
        else:
            sums = stats[idx].sum(axis=1)
        values.append(np.asarray(metric(sums)))
        done += size
    return np.concatenate(values, axis=0)


def resample_counts(n: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """How often each of ``n`` examples is drawn in each of ``resamples`` bootstrap resamples
    (``resamples x n``): the same draws :func:`bootstrap_samples` makes with this seed, so
    several systems' statistics can be resampled together (``counts @ stats``)."""
    return _draw_counts(np.random.default_rng(seed).integers(0, n, size=(resamples, n)))


def _draw_counts(idx: np.ndarray) -> np.ndarray:
    """How often each example was drawn in each resample, from the drawn indices (resamples x n)."""
    size, n = idx.shape
    return np.bincount((idx + n * np.arange(size)[:, None]).ravel(), minlength=size * n).reshape(size, n)


def bootstrap_ci(
    stats: np.ndarray,
    metric: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of corpus-level metrics.

    ``stats`` is an (examples x k) array of additive per-example statistics (e.g. true
    positives, predicted and gold entity counts); ``metric`` maps summed statistics
    (... x k) to one value or a vector of values per resample. Examples are resampled
    with replacement, so corpus-level F1 gets an honest interval. Seeded: the same
    seed gives the same interval.
    """
    stats = np.asarray(stats, dtype=float)
    if len(stats) == 0:
        nan = np.asarray(metric(np.zeros((1, stats.shape[1] if stats.ndim == 2 else 1))))[0] * np.nan
        return nan, nan
    samples = bootstrap_samples(stats, metric, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def paired_comparison(first: Sequence[bool], second: Sequence[bool], *, seed: int = 0,
                      resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95) -> dict[str, float | int | bool]:
    """Compare two systems' per-example correctness on the same examples.

    Returns both accuracies, the difference (second - first) with a paired percentile
    bootstrap CI, the discordant counts (only first right; only second right) and McNemar's
    exact two-sided p-value (a binomial test on the discordant pairs). ``agree`` is True
    when the CI of the difference contains 0.
    """
    from scipy.stats import binomtest

    a = np.asarray(first, dtype=float)
    b = np.asarray(second, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("paired_comparison needs two equally long, non-empty sequences")
    stats = np.stack([b - a, np.ones_like(a)], axis=1)
    low, high = bootstrap_ci(stats, lambda s: s[..., 0] / s[..., 1], resamples=resamples, seed=seed, confidence=confidence)
    only_first = int(((a == 1) & (b == 0)).sum())
    only_second = int(((a == 0) & (b == 1)).sum())
    discordant = only_first + only_second
    p = binomtest(only_first, discordant, 0.5).pvalue if discordant else 1.0
    return {"n": len(a), "accuracy_first": float(a.mean()), "accuracy_second": float(b.mean()),
            "difference": float((b - a).mean()), "ci_low": float(low), "ci_high": float(high),
            "only_first": only_first, "only_second": only_second, "mcnemar_p": float(p),
            "agree": bool(low <= 0 <= high)}


def paired_samples(first: np.ndarray, second: np.ndarray, metric, *, seed: int = 0,
                   resamples: int = DEFAULT_RESAMPLES) -> np.ndarray:
    """The difference of a corpus metric (second - first) on each of ``resamples`` paired
    bootstrap resamples: each draws the same examples for both systems. ``first`` and
    ``second`` hold per-example sufficient statistics of the same examples."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    width = a.shape[1]
    joined = np.concatenate([a, b], axis=1)

    def difference(sums: np.ndarray) -> np.ndarray:
        return np.asarray(metric(sums[..., width:])) - np.asarray(metric(sums[..., :width]))

    return bootstrap_samples(joined, difference, resamples=resamples, seed=seed)


def paired_difference(first: np.ndarray, second: np.ndarray, metric, *, seed: int = 0,
                      resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95) -> dict[str, float | bool]:
    """A corpus metric of two systems on the same examples, and their difference (second -
    first) with a paired percentile bootstrap CI (:func:`paired_samples`). ``first`` and
    ``second`` hold per-example sufficient statistics (one row per example, e.g. true
    positives, predicted and gold entities); ``metric`` maps column sums (``[..., columns]``)
    to the metric, as :func:`bootstrap_ci` takes it."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape[0] != b.shape[0] or a.shape[0] == 0:
        raise ValueError("paired_difference needs per-example statistics of the same, non-empty examples")
    samples = paired_samples(a, b, metric, seed=seed, resamples=resamples)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    value_a, value_b = float(metric(a.sum(axis=0))), float(metric(b.sum(axis=0)))
    return {"first": value_a, "second": value_b, "difference": value_b - value_a, "ci_low": float(low),
            "ci_high": float(high), "agree": bool(low <= 0 <= high)}
