"""The numbers a run produces: one metric with its interval, and all metrics of a run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
