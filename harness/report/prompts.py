"""Prompt sensitivity on a task page: how much each decoder's score, and the models' ranking,
move with the prompt a decoder is asked with (``harness run --prompts all``).

A decoder's runs with a prompt variant fold into its default prompt's run (its row on the
board): the headline stays the default prompt's, and the variants give the spread (min,
median and max with their CIs, the best and worst variant named), each model's rank under
each prompt, and Kendall's τ between the rankings of every two prompts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from harness.core.prompts import DEFAULT_PROMPT
from harness.report.columns import Column, RunView
from harness.report.significance import ALPHA, compare_models
from harness.scoring.paired import PairedStatistics
from harness.scoring.stats import DEFAULT_RESAMPLES, resample_counts


def prompt_of(settings: dict[str, Any] | None) -> str:
    """The prompt a run asked with, from its stored settings ("default" where none is named)."""
    return str((settings or {}).get("prompt") or DEFAULT_PROMPT)


def without_prompt_tag(row_name: str) -> str:
    """A row name without its ``prompt=NAME`` tag: "x (5-shot, prompt=terse)" -> "x (5-shot)"."""
    name, sep, tags = row_name.partition(" (")
    if not sep:
        return row_name
    kept = [t for t in tags.rstrip(")").split(", ") if not t.startswith("prompt=")]
    return f"{name} ({', '.join(kept)})" if kept else name


def fold_prompt_variants(columns: Iterable[Column]) -> set[str]:
    """Move every variant run to its default prompt's run in the same column
    (:attr:`RunView.prompt_runs`), where that run is there; a variant without one stays a row
    of its own. Returns the row names folded away."""
    folded: set[str] = set()
    for col in columns:
        defaults = {r.model: r for r in col.runs if r.prompt == DEFAULT_PROMPT}
        kept = []
        for run in col.runs:
            home = defaults.get(without_prompt_tag(run.model)) if run.prompt != DEFAULT_PROMPT else None
            if home is None:
                kept.append(run)
                continue
            home.prompt_runs.append(run)
            folded.add(run.model)
        col.runs = kept
    return folded


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, (int, float)) and value == value and not math.isinf(value)


@dataclass
class PromptScore:
    """One prompt's headline for one decoder."""

    prompt: str
    run: RunView

    @property
    def value(self) -> float | None:
        """The headline under this prompt."""
        return self.run.headline["value"]


@dataclass
class DecoderSpread:
    """One decoder's headline under each prompt, and its spread."""

    display: str
    model: str
    scores: list[PromptScore]
    low: PromptScore
    median: PromptScore
    high: PromptScore
    #: the spread's 95% bootstrap interval (see :func:`spread_interval`; None: not computed)
    spread_low: float | None = None
    spread_high: float | None = None
    #: the pairs of prompts whose scores differ significantly (Holm across this decoder's
    #: prompt pairs, the task's pairwise test), as (better, worse, difference); None: not tested
    differing: list[tuple[str, str, float]] | None = None
    #: the examples the interval and the tests resampled
    n: int | None = None

    @property
    def spread(self) -> float:
        """The highest prompt's headline less the lowest's."""
        return float(self.high.value - self.low.value)

    @property
    def default(self) -> PromptScore:
        """The default prompt's score (the board's headline)."""
        return self.scores[0]


@dataclass
class PromptSensitivity:
    """A task column's prompt sensitivity (see the module's docstring)."""

    prompts: list[str]
    decoders: list[DecoderSpread]
    #: model -> prompt -> point rank among the column's rows under that prompt
    ranks: dict[str, dict[str, int]]
    displays: dict[str, str]
    #: (prompt a, prompt b) -> Kendall's tau-b between the rows' scores under each (None: undefined)
    tau: dict[tuple[str, str], float | None]
    #: rows that read no prompt (baselines, encoders): the same score under every prompt
    unprompted: list[str] = field(default_factory=list)
    #: (decoder, other row, prompts where the decoder is ahead, prompts where it is behind):
    #: the pairs whose order depends on the prompt
    order_flips: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)
    #: prompt -> what it is (its description, where the task is installed here)
    descriptions: dict[str, str] = field(default_factory=dict)

    def display(self, model: str) -> str:
        """How the page names ``model``'s row."""
        return self.displays.get(model, model)

    def description(self, prompt: str) -> str:
        """What ``prompt`` is (its name where the task is not installed here)."""
        return self.descriptions.get(prompt, prompt)

    def rank(self, model: str, prompt: str) -> int | None:
        """``model``'s point rank under ``prompt`` (None: it was not asked with it)."""
        return self.ranks.get(model, {}).get(prompt)

    def tau_between(self, a: str, b: str) -> float | None:
        """Kendall's tau-b between the rankings under prompts ``a`` and ``b`` (None: undefined)."""
        return self.tau.get((a, b))

    @property
    def lowest_tau(self) -> float | None:
        """The least agreement between two prompts' rankings."""
        values = [t for t in self.tau.values() if t is not None]
        return min(values) if values else None


def spread_interval(systems: dict[str, PairedStatistics], *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
                    alpha: float = ALPHA) -> tuple[float, float, list[tuple[str, str, float]]]:
    """The 95% percentile interval of the spread (highest prompt's headline less the lowest's)
    over bootstrap resamples of the examples, every prompt's statistics resampled with the same
    draws (``systems``: prompt -> its per-example statistics, on the same examples); and the
    prompt pairs whose difference is significant by the task's pairwise test (McNemar's exact
    test or the paired bootstrap) after Holm's correction across the decoder's prompt pairs.

    The range of several noisy scores is above 0 even when the prompts do not matter, so the
    interval says how large the spread is, and the tests whether it is more than noise."""
    names = list(systems)
    counts = resample_counts(len(systems[names[0]].ids), resamples=resamples, seed=seed).astype(float)
    resampled = np.stack([np.asarray(systems[name].metric(counts @ systems[name].stats), dtype=float) for name in names])
    ranges = resampled.max(axis=0) - resampled.min(axis=0)
    low, high = np.percentile(ranges, [2.5, 97.5])
    differing = []
    for pair in compare_models(systems, seed=seed, alpha=alpha, resamples=resamples):
        if pair.significant and pair.difference:
            better, worse = (pair.second, pair.first) if pair.difference > 0 else (pair.first, pair.second)
            differing.append((better, worse, abs(pair.difference)))
    return float(low), float(high), differing


def spread_of(run: RunView) -> DecoderSpread | None:
    """A decoder row's scores under its default prompt and each variant (None: no variants)."""
    scores = [PromptScore(DEFAULT_PROMPT, run)] + [PromptScore(v.prompt, v) for v in run.prompt_runs]
    valid = [s for s in scores if _finite(s.value)]
    if not run.prompt_runs or not valid:
        return None
    ordered = sorted(valid, key=lambda s: s.value)
    return DecoderSpread(run.display, run.model, scores, ordered[0], ordered[(len(ordered) - 1) // 2], ordered[-1])


def point_ranks(values: dict[str, float]) -> dict[str, int]:
    """1 + the number of rows scoring strictly higher (ties share a rank)."""
    return {model: 1 + sum(other > value for other in values.values()) for model, value in values.items()}


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b of two score lists over the same rows (scipy); None where undefined
    (fewer than two rows, or one list constant)."""
    if len(a) < 2:
        return None
    from scipy.stats import kendalltau

    tau = kendalltau(a, b).statistic
    return float(tau) if tau == tau else None


def prompt_sensitivity(col: Column) -> PromptSensitivity | None:
    """The column's prompt sensitivity, or None where no decoder ran more than one prompt."""
    spreads = [s for s in (spread_of(run) for run in col.runs) if s is not None]
    if not spreads:
        return None
    prompts: list[str] = [DEFAULT_PROMPT]
    for spread in spreads:
        prompts += [s.prompt for s in spread.scores if s.prompt not in prompts]
    prompted = {s.model for s in spreads}
    fixed = {r.model: r.headline["value"] for r in col.runs if not r.prompt_runs and _finite(r.headline["value"])}
    by_prompt: dict[str, dict[str, float]] = {}
    for prompt in prompts:
        values = dict(fixed)
        for spread in spreads:
            score = next((s for s in spread.scores if s.prompt == prompt), None)
            if score is not None and _finite(score.value):
                values[spread.model] = float(score.value)
        by_prompt[prompt] = values
    ranks: dict[str, dict[str, int]] = {}
    for prompt, values in by_prompt.items():
        for model, rank in point_ranks(values).items():
            ranks.setdefault(model, {})[prompt] = rank
    tau = {}
    for i, a in enumerate(prompts):
        for b in prompts[i + 1:]:
            shared = [m for m in by_prompt[a] if m in by_prompt[b]]
            tau[(a, b)] = kendall_tau([by_prompt[a][m] for m in shared], [by_prompt[b][m] for m in shared])
    flips = []
    others = [r.model for r in col.runs]
    for spread in spreads:
        for other in others:
            if other == spread.model:
                continue
            ahead = [p for p in prompts if spread.model in by_prompt[p] and other in by_prompt[p]
                     and by_prompt[p][spread.model] > by_prompt[p][other]]
            behind = [p for p in prompts if spread.model in by_prompt[p] and other in by_prompt[p]
                      and by_prompt[p][spread.model] < by_prompt[p][other]]
            if ahead and behind:
                flips.append((spread.model, other, ahead, behind))
    displays = {r.model: r.display for r in col.runs}
    unprompted = [r.display for r in col.runs if r.model not in prompted and r.family != "decoder" and r.family != "endpoint"]
    return PromptSensitivity(prompts, spreads, ranks, displays, tau, unprompted, flips)


def describe_prompts(sensitivity: PromptSensitivity, task: Any) -> None:
    """Fill each prompt's description from the installed ``task`` (a prompt it no longer has
    stays undescribed)."""
    from harness.errors import HarnessError

    for name in sensitivity.prompts:
        try:
            variant = task.with_prompt(name).prompt_variant()
        except HarnessError:
            continue
        sensitivity.descriptions[name] = variant.description if variant is not None else task.prompt_description


def prompt_range(run: RunView) -> dict[str, Any] | None:
    """The index's note beside a decoder's headline: the lowest and highest headline over its
    prompts, and how many prompts (None: the row ran one prompt)."""
    spread = spread_of(run)
    if spread is None:
        return None
    return {"low": spread.low.value, "high": spread.high.value, "count": len(spread.scores),
            "low_prompt": spread.low.prompt, "high_prompt": spread.high.prompt}
