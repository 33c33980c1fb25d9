"""What one leaderboard column holds, and one run's examples and predictions as read back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.report.numbers import counted
from harness.report.significance import RankInterval
from harness.store.provenance import RequestSummary, Throughput


@dataclass(kw_only=True)
class RunView:
    """One run as a task page and the leaderboard show it (paths hidden, facts typed)."""

    #: the store's run id (what the report's own lookups use; never shown: it differs between stores)
    id: int
    model: str
    display: str
    family: str
    created_at: str
    #: the suite's name and sha256 (None: not run from a suite)
    suite: dict[str, str] | None
    #: where the cell was computed ("ray"; None: in the driver's process)
    executor: str | None
    n: int
    seed: int
    #: the headline metric: value, low, high, n
    headline: dict[str, Any]
    metrics: list[dict[str, Any]]
    breakdown: list[dict[str, Any]]
    wall_time_s: float
    examples_per_s: float | None
    data_location: str
    task_version: str
    model_identity: dict[str, Any]
    settings: dict[str, Any]
    #: the split's size where the run scored part of it
    subset_of: int | None
    packages: dict[str, str]
    hardware: dict[str, Any]
    hardware_label: str
    finetuned: dict[str, Any] | None
    throughput: Throughput | None
    parameters: int | None
    engine: dict[str, Any]
    requests: RequestSummary | None
    #: (answer, count) where one answer covers nearly every example (:func:`harness.core.example.dominant_answer`)
    dominant: tuple[str, int] | None = None
    #: filled once the column's pairwise tests ran: the best rank they leave possible, and the interval
    rank: int | None = None
    rank_interval: RankInterval | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    wrong: int = 0
    #: the prompt a decoder asked with ("default" for every other model)
    prompt: str = "default"
    #: a decoder's runs of the same cell with the other prompts (folded into this, its default
    #: prompt's run; see :mod:`harness.report.prompts`)
    prompt_runs: list[RunView] = field(default_factory=list)
    #: what the page names the run by: its cache key's start (the same wherever it was computed)
    ref: str = ""

    @property
    def load_seconds(self) -> float | None:
        """Seconds spent loading weights or starting the engine in this run."""
        return self.throughput.load_seconds if self.throughput is not None else None


@dataclass
class Column:
    """One leaderboard column: a task on one split from one data source."""

    task: str
    split: str
    source: str
    kind: str
    dataset: str
    headline: str
    page: str
    explorer_page: str
    #: the noise condition ("typo 0.1"; empty: clean) and its JSON form
    perturbation: str = ""
    noise: dict | None = None
    licence: str = "not declared"
    text_shown: bool = True
    runs: list[RunView] = field(default_factory=list)
    published: list = field(default_factory=list)
    metric_names: list[str] = field(default_factory=list)
    curves: list[dict[str, Any]] = field(default_factory=list)
    breakdown_rows: list[tuple[str, str]] = field(default_factory=list)
    breakdown_by: str = ""
    breakdown_cells: dict = field(default_factory=dict)
    significance: dict[str, Any] = field(default_factory=dict)
    analyses: list[dict[str, Any]] = field(default_factory=list)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    chart: Any = None
    pareto: Any = None
    explorer: dict[str, Any] = field(default_factory=dict)
    #: degradation curves under noise (on the clean column's page)
    robustness: list[dict[str, Any]] = field(default_factory=list)
    #: how decoders' scores and the ranking move with the prompt (None: one prompt each)
    prompt_sensitivity: Any = None
    #: what one example is, and what each metric's n counts where not every example (the task's)
    example_unit: str = "example"
    metric_units: dict[str, str] = field(default_factory=dict)
    #: breakdown dimension -> what its rows' n counts ("type" -> "gold entity")
    breakdown_units: dict[str, str] = field(default_factory=dict)

    def counted(self, n: int | None, metric: str | None = None, breakdown: str = "") -> str:
        """``n`` with what it counts: "270 misspellings", "3,453 sentences" (``metric``: whose
        n; ``breakdown``: the row's slice, "type=PER", whose dimension may count another unit)."""
        if n is None:
            return "–"
        dimension = breakdown.split("=", 1)[0]
        if dimension in self.breakdown_units:
            return counted(n, self.breakdown_units[dimension])
        return counted(n, self.metric_units.get(metric or "", self.example_unit))

    def pair_counted(self, pair: Any) -> str:
        """A paired test's n with what it counts: the examples both models answered, or, where
        McNemar's test counted only some (spelling: the misspelt words), the headline's unit."""
        return self.counted(pair.n, self.headline if pair.subset else None)

    @property
    def label(self) -> str:
        """Column heading ("ner (test)", "ner (test, typo 0.1)")."""
        return f"{self.task} ({self.split}{', ' + self.perturbation if self.perturbation else ''})"


@dataclass
class Loaded:
    """One run's examples and predictions, rebuilt from the store."""

    examples: list
    predictions: list
    correct: list[bool]
