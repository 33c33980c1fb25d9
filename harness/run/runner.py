"""Run the tasks x models matrix: load data, predict in cached batches, score, store."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from harness.core.distributions import distribution_of, installed_version
from harness.core.model import Model, Prediction, Usage
from harness.core.scores import Scores
from harness.core.task import Task, get_task
from harness.data.perturb import Perturbation
from harness.engines.decoder import RequestCache
from harness.errors import HarnessError
from harness.kinds import check_task, is_correct, kind_of, score
from harness.run.predicting import ModelFailure, default_workers, predict_pending
from harness.store.store import RunRecord, Store, cache_key

PACKAGES = ("harness", "torch", "transformers", "datasets", "seqeval", "scikit-learn", "spacy", "vaderSentiment", "numpy")


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


@dataclass
class RunSummary:
    """Everything one ``harness run`` did."""

    results: list[RunResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)


class RunInterrupted(HarnessError):
    """Ctrl-C during a run: what was computed is stored, and the message says how to resume."""

    exit_code = 130

    def __init__(self, message: str, summary: RunSummary):
        super().__init__(message)
        self.summary = summary


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {name: installed_version(name) for name in PACKAGES}
    return {name: version for name, version in versions.items() if version is not None}


def hardware() -> dict[str, Any]:
    """The machine a run ran on (GPU only if torch is already imported: no import cost)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_matrix(
    tasks: Sequence[Task],
    models: Sequence[Model],
    store: Store,
    *,
    split: str | None = None,
    data_dir: str | Path | None = None,
    source: str = "auto",
    limit: int | None = None,
    sample: int | None = None,
    shots: int = 0,
    options: dict[str, str] | None = None,
    seed: int = 0,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
    perturbations: Sequence[Perturbation] = (),
    executor: Any = None,
    suite: dict | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> RunSummary:
    """Evaluate every model on every task it supports and store the results.

    Predictions are cached per example as they are computed, so a killed run resumes
    where it stopped and a rerun computes nothing. ``limit`` keeps the first N examples;
    ``sample`` a random N (seeded by ``seed``, file order kept). ``shots`` > 0 gives
    few-shot models that many solved train examples (drawn with ``seed``), and skips the rest.
    ``options`` (``-o KEY=VALUE``) go to every model that takes them (:attr:`Model.options`).
    ``workers`` processes (default: every core) run CPU-bound models. ``perturbations``
    (``--perturb``) runs everything once per noise condition, the evaluated inputs perturbed
    (a rate of 0 is the clean run; few-shot examples stay clean). ``executor`` computes the
    cells elsewhere (:class:`harness.run.executors.RayExecutor`); this process alone writes the
    store either way. ``suite`` (name, sha256) is recorded in each run's provenance.

    A model that fails on a task is recorded in ``summary.failed`` and the other pairs go on.
    Ctrl-C raises :class:`RunInterrupted` once what was computed is committed.
    """
    if batch_size < 1:
        raise HarnessError(f"--batch-size must be at least 1, got {batch_size}")
    if seed < 0:
        raise HarnessError(f"--seed must be 0 or more, got {seed}")
    if options:
        for name in options:
            if not any(model.takes_option(name) for model in models):
                takers = sorted({f"{o} ({m.name})" for m in models for o in m.declared_options()})
                raise HarnessError(f"No model in this run takes option {name!r}; options: {', '.join(takers) or 'none'}")
        models = [model.with_options(options) for model in models]
    summary = RunSummary()
    settings = RunConfig(split=split, data_dir=data_dir, source=source, limit=limit, sample=sample, shots=shots, seed=seed,
                         batch_size=batch_size, workers=workers or default_workers(), progress=progress, log=log,
                         executor=executor, suite=suite)
    try:
        for condition in perturbations or [None]:
            settings.perturbation = condition if condition is not None and condition.rate > 0 else None
            _run_tasks(tasks, models, store, summary, settings)
    finally:
        for model in models:
            model.close()
    return summary


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class RunConfig:
    """How one ``harness run`` evaluates: which data and examples, shots, seed, batching,
    worker processes, and where messages go. (Model options are applied to the models.)"""

    split: str | None = None
    data_dir: str | Path | None = None
    source: str = "auto"
    limit: int | None = None
    sample: int | None = None
    shots: int = 0
    seed: int = 0
    batch_size: int = 32
    #: processes for CPU-bound models (default: every core)
    workers: int = field(default_factory=default_workers)
    progress: bool = True
    log: Callable[[str], None] = _stderr
    #: noise added to the evaluated inputs (None: clean)
    perturbation: Perturbation | None = None
    #: where cells are computed (None: in this process, one after another; or a RayExecutor)
    executor: Any = None
    #: the suite this run belongs to (name, sha256), recorded in each run's provenance
    suite: dict | None = None


def plan(tasks, models, summary: RunSummary, shots: int) -> list[tuple[Task, list[Model]]]:
    """Each task with the models that will run it. Pairs a model cannot answer are skipped;
    a task or model that is not fit for the pair (no prompt for a decoder, no labels) is a
    failure recorded now, before any data or weights load."""
    planned = []
    for task in tasks:
        try:
            check_task(task)
        except HarnessError as exc:
            summary.failed.extend(Failed(task.name, model.name, str(exc)) for model in models)
            continue
        supported = []
        for model in models:
            reason = model.supports(task)
            if reason is None and shots and not model.few_shot:
                reason = f"{model.name} takes no few-shot examples"
            if reason is None and shots and few_shot_source(task) is None:
                reason = f"{task.name} has no {task.few_shot_split} split to draw few-shot examples from"
            if reason:
                summary.skipped.append(Skipped(task.name, model.name, reason))
                continue
            try:
                model.check_task(task)
            except HarnessError as exc:
                summary.failed.append(Failed(task.name, model.name, str(exc)))
                continue
            supported.append(model)
        if supported:
            planned.append((task, supported))
    return planned


def _run_tasks(tasks, models, store: Store, summary: RunSummary, s: RunConfig) -> None:
    cells = plan_cells(tasks, models, store, summary, s)
    if s.executor is not None:
        s.executor.run(cells, store, summary, s)
        return
    for cell in cells:
        try:
            summary.results.append(_run_in_process(cell, store, s, summary))
        except ModelFailure as exc:
            summary.failed.append(Failed(cell.task.name, cell.model.name, str(exc), exc.trace))


def plan_cells(tasks, models, store: Store, summary: RunSummary, s: RunConfig) -> Iterator[Cell]:
    """Each (task, model) cell to evaluate, its examples loaded (and perturbed) and its cached
    predictions looked up; a task whose data fails to load fails its cells here."""
    for task, supported in plan(tasks, models, summary, s.shots):
        try:
            kind = kind_of(task)
            refused = kind.perturbation_refused(task) if s.perturbation is not None else None
            if refused:
                raise HarnessError(refused)
            loaded = task.load(s.split, data_dir=s.data_dir, source=s.source)
            examples = select_examples(loaded.examples, limit=s.limit, sample=s.sample, seed=s.seed)
            if not examples:
                raise HarnessError(f"Task {task.name!r}: split {loaded.split!r} from {loaded.location} has no examples")
            if s.perturbation is not None:
                examples = [kind.noise.perturb(task, e, s.perturbation.noise(s.seed, e.id)) for e in examples]
            shot_examples = few_shot_examples(task, s.shots, seed=s.seed, data_dir=s.data_dir, source=s.source) if s.shots else []
        except HarnessError as exc:
            summary.failed.extend(Failed(task.name, model.name, str(exc)) for model in supported)
            continue
        if loaded.source == "demo":
            s.log(f"{task.name}: using the built-in demo {loaded.split} split ({len(examples)} examples); pass --data-dir for real data")
        for model in supported:
            selection = {"limit": s.limit, "sample": s.sample, "of": len(loaded.examples)}
            yield prepare_cell(task, model, loaded, examples, store, s, selection=selection, shots=shot_examples)


def few_shot_source(task: Task) -> tuple[Task, str] | None:
    """The task and split few-shot examples come from (``Task.few_shot_task``'s, else its own
    ``few_shot_split``), or None if there is no such split."""
    source = get_task(task.few_shot_task) if task.few_shot_task else task
    return (source, task.few_shot_split) if task.few_shot_split in source.splits else None


def few_shot_examples(task: Task, k: int, *, seed: int, data_dir, source: str) -> list:
    """``k`` solved examples drawn with ``seed`` from the task's few-shot split (usually train)."""
    pool = few_shot_source(task)
    if pool is None:
        raise HarnessError(f"Task {task.name!r} has no {task.few_shot_split} split to draw {k} few-shot examples from")
    pool_task, split = pool
    train = pool_task.load(split, data_dir=data_dir, source=source).examples
    if k > len(train):
        raise HarnessError(f"Task {task.name!r}: --shots {k} but {pool_task.name} {split} has {len(train)} examples")
    return [train[i] for i in random.Random(seed).sample(range(len(train)), k)]


def select_examples(examples: list, *, limit: int | None, sample: int | None, seed: int) -> list:
    """The first ``limit`` examples, or a seeded random ``sample`` of them in their original order."""
    if sample is not None and sample < len(examples):
        keep = sorted(random.Random(seed).sample(range(len(examples)), sample))
        examples = [examples[i] for i in keep]
    return examples[:limit] if limit else examples


def throughput(examples: int, seconds: float, usage) -> dict[str, Any]:
    """Examples and tokens per second over the predictions this run computed (not the cached ones)."""
    rate = (lambda count: count / seconds if seconds > 0 else None)
    facts: dict[str, Any] = {"computed_examples": examples, "seconds": seconds, "examples_per_s": rate(examples)}
    if usage.prompt_tokens or usage.generated_tokens:
        facts.update(usage.to_json())
        facts["prompt_tokens_per_s"] = rate(usage.prompt_tokens)
        facts["generated_tokens_per_s"] = rate(usage.generated_tokens)
        facts["tokens_per_s"] = rate(usage.prompt_tokens + usage.generated_tokens)
    return facts


@dataclass
class Cell:
    """One (task, model) pair ready to compute: its examples, cache key, row name, and which
    predictions the store already holds."""

    task: Task
    model: Model
    loaded: Any
    examples: list
    selection: dict
    settings: dict
    extra: dict
    name: str
    identity: dict
    key: str
    #: the model caches engine outputs per request (decoders) instead of per example
    by_request: bool
    cached: dict
    todo: list
    perturbation: Perturbation | None
    started: float


@dataclass
class Computed:
    """What computing a cell's missing predictions gave: the fresh predictions (example key ->
    (prediction, seconds)), time spent, usage, model facts, and a failure if one stopped it."""

    fresh: dict
    seconds: float = 0.0
    load_seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    model_facts: dict = field(default_factory=dict)
    failure: str | None = None
    trace: str | None = None


def prepare_cell(task, model, loaded, examples, store: Store, s: RunConfig, *, selection: dict, shots: list) -> Cell:
    """The cache key, settings and row name of a (task, model) pair, and its cached predictions."""
    started = time.perf_counter()
    settings = {"seed": s.seed, **model.task_settings(task)}
    if s.perturbation is not None:  # part of the cache key: a noisy run never serves a clean one
        settings["perturbation"] = s.perturbation.to_json()
    options = model.prediction_options()
    if options:
        settings["options"] = options
    extra = {}
    tags = model.option_tags()
    if shots:
        settings["shots"] = [e.key for e in shots]
        extra["shots"] = shots
        tags.insert(0, f"{len(shots)}-shot")
    name = f"{model.name} ({', '.join(tags)})" if tags else model.name  # its own leaderboard row
    identity = model.identity()  # once: it may digest the weights
    key = cache_key(identity, task.name, task.version, settings)
    by_request = model.caches_requests
    # Decoders keep their engine's outputs per request and read answers afresh each run:
    # changing how answers are read recomputes no request and needs no version bump.
    cached = {} if by_request else store.cached(key, (e.key for e in examples))
    todo = [e for e in examples if e.key not in cached]
    return Cell(task, model, loaded, examples, selection, settings, extra, name, identity, key, by_request, cached, todo,
                s.perturbation, started)


def compute_predictions(task, model, todo, *, identity: dict, by_request: bool, extra: dict, batch_size: int,
                        workers: int, progress: bool, requests, store_batch, advance, fresh: dict) -> Computed:
    """Predict ``todo`` with ``model``: each answered batch goes to ``store_batch`` and into
    ``fresh`` as it comes; ``requests`` keeps decoders' engine outputs (the store, or a stand-in
    with its methods where the store is out of reach). The same code runs in this process and on
    a Ray worker."""
    if by_request:
        model.request_cache = RequestCache(requests, model.engine_identity(identity))
    model.reset_usage()
    model.show_progress = progress
    computed = Computed(fresh)

    def keep(answered) -> None:
        store_batch(answered)
        if answered.examples:
            each = answered.seconds / len(answered.examples)
            for e, p in zip(answered.examples, answered.predictions):
                fresh[e.key] = (p, each)

    if todo and not by_request:  # weights and engines load outside the throughput clock
        t0 = time.perf_counter()
        try:
            model.prepare()
        except HarnessError as exc:
            raise ModelFailure(str(exc)) from exc
        computed.load_seconds = time.perf_counter() - t0
    computed.seconds, failure = predict_pending(model, task, todo, batch_size=batch_size, extra=extra, workers=workers,
                                                store_batch=keep, advance=advance)
    if failure:
        computed.failure, computed.trace = failure.failure, failure.trace
    computed.usage = model.usage
    computed.model_facts = model_facts(model)
    return computed


def model_facts(model: Model) -> dict[str, Any]:
    """What a run records of the model where it ran: its provenance and parameter count
    (None until a torch module is loaded)."""
    return {"provenance": model.provenance(), "parameters": model.parameter_count()}


def _run_in_process(cell: Cell, store: Store, s: RunConfig, summary: RunSummary) -> RunResult:
    fresh: dict[str, tuple[Prediction, float]] = {}

    def store_batch(answered) -> None:
        if answered.examples and not cell.by_request:
            store.put_cached(cell.key, answered.examples, answered.predictions, answered.seconds)

    with tqdm(total=len(cell.examples), initial=len(cell.examples) - len(cell.todo), desc=f"{cell.task.name} x {cell.name}",
              unit="ex", disable=not s.progress, leave=False, mininterval=0.5) as bar:
        try:
            computed = compute_predictions(
                cell.task, cell.model, cell.todo, identity=cell.identity, by_request=cell.by_request, extra=cell.extra,
                batch_size=s.batch_size, workers=s.workers, progress=s.progress, requests=store, store_batch=store_batch,
                advance=bar.update, fresh=fresh,
            )
        except KeyboardInterrupt:
            done = len(cell.examples) - len(cell.todo) + len(fresh)
            raise RunInterrupted(
                f"Interrupted: {done} of {len(cell.examples)} predictions of {cell.task.name} x {cell.name} are stored in {store.path}"
                + (f" ({len(summary.results)} finished runs too)" if summary.results else "")
                + f"; resume with: {resume_command()}", summary
            ) from None
    return finish_cell(cell, computed, store, s)


def finish_cell(cell: Cell, computed: Computed, store: Store, s: RunConfig) -> RunResult:
    """Score a cell whose predictions are all in (cached + fresh) and save its run record;
    a failure while computing raises :class:`ModelFailure` (what was computed is stored)."""
    task, fresh = cell.task, computed.fresh
    if computed.failure:
        stored = f" ({len(fresh)} prediction{'s' if len(fresh) != 1 else ''} computed before it stored)" if fresh else ""
        raise ModelFailure(computed.failure + stored, computed.trace)
    both = {**cell.cached, **fresh}
    examples = cell.examples
    predictions = [both[e.key][0] for e in examples]
    compute_time = sum(both[e.key][1] for e in examples)
    computed_count = len(cell.todo)
    fresh_seconds, load_seconds = computed.seconds, computed.load_seconds
    usage = computed.usage
    if cell.by_request:  # examples answered from cached engine outputs count as cached, with the time they took
        computed_count -= usage.cached_examples
        compute_time += usage.cached_seconds
        load_seconds = usage.load_seconds  # loaded only once a request was missing
        fresh_seconds = max(0.0, fresh_seconds - load_seconds)
    scores = score(task, examples, predictions, seed=s.seed)
    correct = [is_correct(task, e, p) for e, p in zip(examples, predictions)]
    wall = time.perf_counter() - cell.started
    provenance = run_provenance(task, cell.model, s, cell.selection, computed=computed_count, seconds=fresh_seconds,
                                load_seconds=load_seconds, usage=usage, facts=computed.model_facts)
    loaded = cell.loaded
    provenance["task"].update(task.text_policy(loaded.source))  # what the report may republish of this data
    run = RunRecord(
        task=task.name, task_version=task.version, kind=task.kind, dataset=task.dataset_evaluated(loaded.split, loaded.source), split=loaded.split,
        data_source=loaded.source, data_location=loaded.location, model=cell.name, model_identity=cell.identity,
        settings=cell.settings, cache_key=cell.key, selection_key=selection_key(loaded, examples, cell.selection), n=len(examples),
        seed=s.seed, wall_time_s=wall, compute_time_s=compute_time,
        examples_per_s=len(examples) / compute_time if compute_time > 0 else None, cached=len(examples) - computed_count,
        provenance=provenance,
    )
    run_id = store.save_run(run, scores, examples, predictions, correct)
    return RunResult(run_id, task.name, cell.name, loaded.split, loaded.source, len(examples), computed_count, scores,
                     run.examples_per_s, cell.perturbation.label if cell.perturbation is not None else "")


def run_provenance(task: Task, model: Model, s: RunConfig, selection: dict, *, computed: int, seconds: float,
                   load_seconds: float, usage: Usage, facts: dict) -> dict[str, Any]:
    """What a run's numbers came from: package versions, hardware, model and task facts, the
    plugins' distributions, batching, the selection, and the throughput of what it computed.
    ``facts`` (:func:`model_facts`, plus hardware, executor and workers from a Ray worker) come
    from wherever the model ran."""
    provenance: dict[str, Any] = {
        "packages": package_versions(),
        "hardware": facts.get("hardware") or hardware(),
        "model": dict(facts["provenance"]),
        "task": task.describe(),
        "plugins": {"model": distribution_of(model), "task": distribution_of(task)},
        "batch_size": s.batch_size,
        "selection": selection,
    }
    if facts.get("parameters"):
        provenance["model"]["parameters"] = facts["parameters"]
    if model.licence:
        provenance["model"]["licence"] = model.licence
    if s.suite is not None:
        provenance["suite"] = s.suite
    if facts.get("executor"):
        provenance["executor"] = facts["executor"]
    if computed:
        provenance["throughput"] = {**throughput(computed, seconds, usage), "load_s": load_seconds}
        if model.cpu_bound:
            provenance["workers"] = facts.get("workers", s.workers)
    return provenance


def selection_key(loaded, examples: Sequence, selection: dict) -> str:
    """Digest of which examples a run scored: split, data source and location, and every example key."""
    blob = json.dumps({"split": loaded.split, "source": loaded.source, "location": loaded.location,
                       "selection": selection, "examples": [e.key for e in examples]}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def resume_command() -> str:
    """The command line of this process, quoted for a shell (rerunning it resumes from the cache)."""
    args = list(sys.argv)
    if args and Path(args[0]).name in ("harness", "__main__.py", "cli.py"):
        args[0] = "harness"
    return shlex.join(args) if args else "the same harness run command"
