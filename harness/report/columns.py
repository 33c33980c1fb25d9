"""What one leaderboard column holds, and one run's examples and predictions as read back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    runs: list[dict[str, Any]] = field(default_factory=list)
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
