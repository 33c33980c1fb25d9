"""The records of a run: one (task, model) cell ready to compute, what computing it gave, the
predictions collected as they come, and the run's summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from harness.core.example import Example, Prediction
from harness.core.model import Model, Usage
from harness.core.scores import Scores
from harness.core.secrets import redact
from harness.core.task import LoadedSplit, Task
from harness.data.perturb import Perturbation


@dataclass
class RunResult:
    """One finished (task, model) cell."""

    run_id: int
    task: str
    model: str
    split: str
    data_source: str
    n: int
    computed: int
    scores: Scores
    examples_per_s: float | None
    #: the noise condition ("typo 0.1"; empty: clean)
    perturbation: str = ""
    #: (answer, how many examples got it) where one answer covers nearly all of them
    #: (:func:`harness.core.example.dominant_answer`); None otherwise
    dominant: tuple[str, int] | None = None




@dataclass
class Skipped:
    """A (task, model) pair the model cannot answer."""

    task: str
    model: str
    reason: str


@dataclass
class Failed:
    """A (task, model) pair that failed (a model plugin raised or answered wrongly, a data file was bad)."""

    task: str
    model: str
    message: str
    #: the traceback, where a plugin raised (shown with ``--debug``)
    trace: str | None = None

    def __post_init__(self) -> None:
        self.message = redact(self.message)  # a secret a plugin quoted is never printed
        self.trace = redact(self.trace) if self.trace else self.trace


@dataclass
class RunSummary:
    """Everything one ``harness run`` did."""

    results: list[RunResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    #: cells a result record filled already (not computed), and cells left for the deadline (labels)
    recorded: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    #: what the run says at its end beyond its results (records used, cells left)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One (task, model) pair ready to compute: its examples, cache key, row name, and which
    predictions the store already holds."""

    task: Task
    model: Model
    loaded: LoadedSplit
    examples: list[Example]
    #: which examples were asked for: ``limit``, ``sample`` and the split's size (``of``)
    selection: dict[str, int | None]
    #: what the predictions depend on beyond the model's identity (part of the cache key)
    settings: dict[str, Any]
    #: solved examples shown first (``--shots``)
    shots: list[Example]
    #: the leaderboard row: the model's name with its shot and option tags
    name: str
    identity: dict[str, Any]
    key: str
    #: the model caches engine outputs per request (decoders) instead of per example
    by_request: bool
    #: example key -> (prediction, seconds) of the predictions already stored
    cached: dict[str, tuple[Prediction, float]]
    todo: list[Example]
    perturbation: Perturbation | None
    started: float


@dataclass(frozen=True, kw_only=True)
class CellWork:
    """What computing one cell's missing predictions needs (no store, no loaded dataset: it
    travels to a Ray worker as it is)."""

    task: Task
    model: Model
    todo: list[Example]
    identity: dict[str, Any]
    by_request: bool
    shots: list[Example]
    batch_size: int
    workers: int
    progress: bool
    #: where the run reads its data (``--data-dir``, ``--source``: :class:`RunContext`)
    data_dir: str | None = None
    source: str = "auto"


Sink = Callable[[Sequence[Example], Sequence[Prediction], float], None]


class Collected:
    """A cell's fresh predictions as they come in, batch by batch: each batch goes to ``sink``
    (the store, where this process writes it) and is kept, per example, with its share of
    the batch's seconds. The one path every executor collects finished predictions by."""

    def __init__(self, sink: Sink | None = None):
        self.sink = sink
        #: example key -> (prediction, seconds)
        self.fresh: dict[str, tuple[Prediction, float]] = {}
        #: (example keys, predictions, seconds) of each batch, in order (what a Ray worker sends back)
        self.batches: list[tuple[list[str], list[Prediction], float]] = []

    def add(self, examples: Sequence[Example], predictions: Sequence[Prediction], seconds: float) -> None:
        """One answered batch."""
        if not examples:
            return
        if self.sink is not None:
            self.sink(examples, predictions, seconds)
        self.batches.append(([e.key for e in examples], list(predictions), seconds))
        each = seconds / len(examples)
        for example, prediction in zip(examples, predictions):
            self.fresh[example.key] = (prediction, each)


@dataclass
class Computed:
    """What computing a cell's missing predictions gave: time spent, usage, model facts, and
    a failure if one stopped it (the predictions are in the cell's :class:`Collected`)."""

    seconds: float = 0.0
    load_seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    model_facts: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    trace: str | None = None
