"""The index's compact view of the board: one row per model (a fine-tune's k-series folded
into one row with a learning-curve sparkline), the clean task columns only, an overall win
rate over a task set every ranked row ran, and the best model of each family per task."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from harness.report.columns import Column, RunView
from harness.report.significance import RankInterval, mean_win_rate, rank_intervals

#: sparkline size in px (a learning curve in a table cell)
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 56, 18, 2


@dataclass
class OverviewCell:
    """What a row shows on one task: the run (for a k-series, its largest k) and, for a
    k-series, every point of it with the sparkline drawn through them."""

    run: RunView
    series: list[dict[str, Any]] = field(default_factory=list)
    sparkline: str = ""
    #: the rank interval among the index's rows alone (the task page ranks every run of the
    #: task: each k of a fine-tune, each prompt of a decoder); None where the task has no tests
    rank_interval: RankInterval | None = None

    @property
    def series_title(self) -> str:
        """"k=16: 0.3120, k=64: 0.5521, …" (the sparkline's tooltip)."""
        return ", ".join(f"k={p['label'] or p['k']}: {p['value']:.4f}" for p in self.series)


@dataclass
class OverviewRow:
    """One row of the index: a model, or a base model's fine-tunes on every task."""

    key: str
    display: str
    #: full names and weight digests (the row's tooltip)
    detail: str
    family: str
    family_label: str
    parameters: int | None
    licence: str | None
    base: str | None
    cells: dict[tuple, OverviewCell] = field(default_factory=dict)
    #: mean win rate over the common task set (None: the row did not run all of it)
    overall: float | None = None
    #: how many of the common task set the row ran
    common_ran: int = 0
    #: for a fine-tune's k-series, how many models it folds (0: one model)
    series: int = 0

    @property
    def shots(self) -> int:
        """The solved examples the row's model was shown (0: zero-shot or not a decoder)."""
        def count(shots: Any) -> int:  # a store keeps the shots' keys, a result record their number
            return shots if isinstance(shots, int) else len(shots or [])

        return max((count(c.run.settings.get("shots")) for c in self.cells.values()), default=0)


def column_key(col: Column) -> tuple:
    """A column's identity in :attr:`OverviewRow.cells`."""
    return (col.task, col.split, col.source, col.perturbation)


def _series_key(run: RunView, info: dict[str, Any]) -> str | None:
    """Fine-tunes of one base (and one augmentation) share a row; None for other models."""
    card = run.finetuned
    if not card:
        return None
    augment = card.get("augment") or {}
    return f"fine-tuned:{info.get('base') or card.get('base')}:{augment.get('name', '')}:{augment.get('rate', '')}"


def _sparkline(points: list[dict[str, Any]]) -> str:
    """An SVG polyline's points through (log k, score) scaled to the sparkline box."""
    ks = [math.log10(max(p["k"], 1)) for p in points]
    values = [p["value"] for p in points]
    lo_k, span_k = min(ks), (max(ks) - min(ks)) or 1.0
    lo_v, span_v = min(values), (max(values) - min(values)) or 1.0
    width, height = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD
    return " ".join(f"{SPARK_PAD + (k - lo_k) / span_k * width:.1f},{SPARK_PAD + height - (v - lo_v) / span_v * height:.1f}"
                    for k, v in zip(ks, values))


def overview_rows(columns: Sequence[Column], models: Sequence[str], model_info: dict[str, dict[str, Any]]) -> list[OverviewRow]:
    """The index's rows over the clean ``columns``, in the order of ``models``: each model its
    own row, except fine-tunes of one base, which share one row whose cell on a task shows
    the largest k (every k on the task page) with a sparkline of score against k."""
    rows: dict[str, OverviewRow] = {}
    series_of: dict[str, str] = {}
    for col in columns:
        for run in col.runs:
            key = _series_key(run, model_info[run.model])
            if key:
                series_of[run.model] = key
    for model in models:
        info = model_info[model]
        key = series_of.get(model, model)
        if key in rows:
            rows[key].detail += f"; {info['full_name']}"
            rows[key].series += 1
            rows[key].family_label = "fine-tuned on each task's train split, one model per k"
            continue
        if key != model:
            base = info.get("base") or "encoder"
            rows[key] = OverviewRow(key, f"{base} fine-tuned", info["full_name"], info["family"],
                                    info.get("finetuned_label") or info["family_label"], info["parameters"], info["licence"],
                                    base, series=1)
        else:
            rows[key] = OverviewRow(key, info["display"], info["full_name"], info["family"], info["family_label"],
                                    info["parameters"], info["licence"], info.get("base"))
    series_keys = set(series_of.values())
    for col in columns:
        grouped: dict[str, list[RunView]] = {}
        for run in col.runs:
            grouped.setdefault(series_of.get(run.model, run.model), []).append(run)
        for key, runs in grouped.items():
            if key not in series_keys:
                rows[key].cells[column_key(col)] = OverviewCell(runs[0])
                continue
            points = sorted(({"k": int(r.finetuned.get("k") or 0), "label": r.finetuned.get("k_label", ""), "run": r,
                              **r.headline} for r in runs), key=lambda p: p["k"])
            scored = [p for p in points if p["value"] is not None and p["value"] == p["value"]]
            cell = OverviewCell(points[-1]["run"], [{k: v for k, v in p.items() if k != "run"} for p in scored])
            if len(scored) > 1:
                cell.sparkline = _sparkline(scored)
            rows[key].cells[column_key(col)] = cell
    shown = [row for row in rows.values() if row.cells]
    index_ranks(shown, columns)
    return shown


def index_ranks(rows: Sequence[OverviewRow], columns: Sequence[Column]) -> None:
    """Each index cell's rank interval among the rows the index shows (their pairwise tests
    only), so an index column reads 1, 2, 3-4 over its own rows, not over runs only the task
    page lists."""
    for col in columns:
        key = column_key(col)
        cells = [row.cells[key] for row in rows if key in row.cells]
        values = {c.run.model: c.run.headline["value"] for c in cells if c.run.rank_interval is not None}
        if not values:
            continue
        pairs = [p for p in col.significance.get("pairs", []) if p.first in values and p.second in values]
        intervals = rank_intervals(values, pairs)
        for c in cells:
            c.rank_interval = intervals.get(c.run.model)


def common_task_set(rows: Sequence[OverviewRow], columns: Sequence[Column]) -> list[Column]:
    """The columns the overall win rate is computed over: among the task sets of the rows (and
    their intersections with each other), the one with the most (rows that ran all of it) x
    (its tasks), at least two rows and two tasks (over one task it would only repeat that
    task's ranking); ties go to more rows. Empty where no two rows share two tasks."""
    keys = {column_key(col): col for col in columns}
    candidates = {frozenset(row.cells) for row in rows}
    candidates |= {a & b for a in candidates for b in candidates}
    best, best_score = frozenset(), (0, 0)
    for candidate in candidates:
        if len(candidate) < 2:
            continue
        covering = sum(1 for row in rows if candidate <= row.cells.keys())
        score = (covering * len(candidate), covering)
        if covering >= 2 and (score > best_score or (score == best_score and sorted(candidate) < sorted(best))):
            best, best_score = candidate, score
    return [col for key, col in keys.items() if key in best]


def overall_win_rates(rows: Sequence[OverviewRow], common: Sequence[Column]) -> None:
    """Fill each row's overall (HELM's mean win rate among the rows that ran every task of
    ``common``, on those tasks) and how many of ``common`` it ran."""
    wanted = [column_key(col) for col in common]
    ranked = [row for row in rows if wanted and all(key in row.cells for key in wanted)]
    rates = mean_win_rate([{row.key: row.cells[key].run.headline["value"] for row in ranked} for key in wanted])
    for row in rows:
        row.common_ran = sum(1 for key in wanted if key in row.cells)
        row.overall = rates[row.key][0] if row.key in rates and rates[row.key][1] == len(wanted) else None


def task_group(task: str) -> str:
    """The task family a task belongs to: the part of its name before ':' ("coref:gap" -> "coref")."""
    return re.split(r"[:.]", task, maxsplit=1)[0]


def family_leaders(rows: Sequence[OverviewRow], columns: Sequence[Column], families: Sequence[str]) -> list[dict[str, Any]]:
    """Per task family (NER, sentiment, ...) and task column: the best row of each model family
    by headline, and how the leader compares with the best of each other family (its pairwise
    test on that task)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for col in columns:
        key = column_key(col)
        best: dict[str, tuple[OverviewRow, RunView]] = {}
        for row in rows:
            cell = row.cells.get(key)
            value = cell.run.headline["value"] if cell else None
            if value is None or value != value:
                continue
            held = best.get(row.family)
            if held is None or value > held[1].headline["value"]:
                best[row.family] = (row, cell.run)
        if not best:
            continue
        leader_family = max(best, key=lambda f: best[f][1].headline["value"])
        leader = best[leader_family][1]
        pairs = {frozenset((p.first, p.second)): p for p in col.significance.get("pairs", [])}
        versus = {}
        for family, (_, run) in best.items():
            if family == leader_family:
                continue
            pair = pairs.get(frozenset((leader.model, run.model)))
            # the leader's lead: leader - other, with its paired interval and Holm-corrected p
            sign = 1.0 if pair is not None and pair.second == leader.model else -1.0
            versus[family] = ({"verdict": pair.verdict_for(leader.model), "detectable": pair.detectable, "n": pair.n,
                               "subset": pair.subset, "test": pair.test, "p_holm": pair.p_holm,
                               "difference": sign * pair.difference,
                               "low": min(sign * pair.ci_low, sign * pair.ci_high),
                               "high": max(sign * pair.ci_low, sign * pair.ci_high)}
                              if pair else None)
        groups.setdefault(task_group(col.task), []).append({
            "column": col, "best": {f: {"row": r, "run": run} for f, (r, run) in best.items()},
            "leader": leader_family, "versus": versus})
    order = list(dict.fromkeys(task_group(col.task) for col in columns))
    return [{"group": g, "tasks": groups[g], "families": [f for f in families if any(f in t["best"] for t in groups[g])]}
            for g in order if g in groups]
