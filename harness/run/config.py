"""One run's configuration, built once (by the CLI or a suite) and never changed: what to
evaluate, how to run it, and, derived per noise condition, the condition being run."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from harness.core.model import Model
from harness.core.prompts import check_prompt_names, parse_prompt_names
from harness.core.task import Task
from harness.data.perturb import Perturbation
from harness.errors import HarnessError
from harness.run.cells import Cell, RunSummary
from harness.run.predicting import default_workers
from harness.store.store import Store


#: the largest seed (what every random number generator used takes; SQLite stores it)
MAX_SEED = 2**32 - 1
#: the most examples per batch
MAX_BATCH_SIZE = 65536
#: the largest --limit, --sample or worker count
MAX_COUNT = 10**9


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class Evaluation:
    """What to evaluate: tasks, models, which data and examples, shots, options, noise, seed."""

    tasks: tuple[Task, ...]
    models: tuple[Model, ...]
    split: str | None = None
    data_dir: str | Path | None = None
    source: str = "auto"
    #: the first N examples
    limit: int | None = None
    #: a seeded random N examples, file order kept
    sample: int | None = None
    #: solved examples shown to few-shot models (the others are skipped)
    shots: int = 0
    #: ``-o KEY=VALUE`` settings, given to every model that takes them
    options: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    #: noise conditions (``--perturb``): everything runs once per condition (rate 0: the clean run)
    perturbations: tuple[Perturbation, ...] = ()
    #: the suite this run belongs to (name, file, sha256, text), recorded in each run's provenance
    suite: Mapping[str, Any] | None = None
    #: prompt variants decoders are asked with (``--prompts``): ("all",), names, or () for each
    #: task's default prompt alone; models that read no prompt run once either way
    prompts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise HarnessError(f"--seed must be from 0 to {MAX_SEED}, got {self.seed}")
        check_prompt_names(self.prompts, self.tasks)
        for name in self.options:
            if not any(model.takes_option(name) for model in self.models):
                takers = sorted({f"{o} ({m.name})" for m in self.models for o in m.declared_options()})
                raise HarnessError(f"No model in this run takes option {name!r}; options: {', '.join(takers) or 'none'}")


class Executor(Protocol):
    """Computes a run's cells (in this process, on a Ray cluster, ...); whatever it does, the
    finished predictions come back to this process, which alone writes the store."""

    name: str

    def run(self, cells: Iterable[Cell], summary: RunSummary, config: RunConfig) -> None:
        """Compute ``cells``; append each finished cell's result (or failure) to ``summary``."""


@dataclass(frozen=True)
class Execution:
    """How to run it: the store, batching, worker processes, the executor, progress, messages."""

    store: Store
    batch_size: int = 32
    #: processes for CPU-bound models (default: every core)
    workers: int = field(default_factory=default_workers)
    #: where cells are computed (None: in this process, one after another)
    executor: Executor | None = None
    progress: bool = True
    log: Callable[[str], None] = _stderr
    #: a folder each finished run's result record is written to as well (``run --suite``)
    records: Path | None = None
    #: which cells to start (records that fill cells, a deadline) and the progress over them
    #: (:class:`~harness.run.schedule.Schedule`; None: every cell, no cell-level progress)
    schedule: Any = None

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise HarnessError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE}, got {self.batch_size}")


@dataclass(frozen=True)
class RunConfig:
    """A whole run: :class:`Evaluation` and :class:`Execution`, and the noise condition of the
    pass being run (derived with :meth:`for_condition`; None: clean)."""

    evaluation: Evaluation
    execution: Execution
    perturbation: Perturbation | None = None
    #: models configured with a prompt variant's options, made once per run (see
    #: :func:`harness.run.runner.prompted`) and closed with the run's models
    prompted_models: dict[tuple, Model] = field(default_factory=dict, compare=False)

    def for_condition(self, condition: Perturbation | None) -> RunConfig:
        """The same run under one noise condition (a rate of 0 is the clean run)."""
        return replace(self, perturbation=condition if condition is not None and condition.rate > 0 else None)

    @classmethod
    def build(cls, tasks: Sequence[Task], models: Sequence[Model], store: Store, **settings: Any) -> RunConfig:
        """A config from keyword settings, each going to :class:`Evaluation` or :class:`Execution`
        by its name (for scripts and tests: ``RunConfig.build(tasks, models, store, limit=10)``)."""
        what = {f.name for f in fields(Evaluation)}
        how = {f.name for f in fields(Execution)}
        unknown = sorted(set(settings) - what - how)
        if unknown:
            raise TypeError(f"RunConfig.build() got unknown settings: {', '.join(unknown)}")
        if settings.get("workers") is None:
            settings.pop("workers", None)
        if "perturbations" in settings:
            settings["perturbations"] = tuple(settings["perturbations"])
        if "prompts" in settings:
            settings["prompts"] = parse_prompt_names(settings["prompts"])
        evaluation = Evaluation(tuple(tasks), tuple(models), **{k: v for k, v in settings.items() if k in what})
        return cls(evaluation, Execution(store, **{k: v for k, v in settings.items() if k in how}))
