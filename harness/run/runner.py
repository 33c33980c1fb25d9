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
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from harness.core.distributions import distribution_of, installed_version
from harness.core.example import Example, dominant_answer
from harness.core.model import Model, RunContext, Usage
from harness.core.prompts import DEFAULT_PROMPT, prompts_of
from harness.core.publishing import hide_paths
from harness.core.task import LoadedSplit, Task, get_task, training_source
from harness.engines.decoder import RequestCache
from harness.errors import HarnessError
from harness.kinds import check_task, is_correct, kind_of, score
from harness.run.cells import Cell, CellWork, Collected, Computed, Failed, RunResult, RunSummary, Skipped
from harness.run.config import RunConfig
from harness.run.predicting import PLUGIN_ERRORS, ModelFailure, plugin_failure, predict_pending
from harness.store.provenance import Provenance, SuiteRef, Throughput, timed_rate
from harness.run.schedule import cell_label
from harness.store.records import example_digest, export_records
from harness.store.store import RunRecord, Store, cache_key, example_json

PACKAGES = ("harness", "torch", "transformers", "datasets", "seqeval", "scikit-learn", "spacy", "vaderSentiment", "numpy")


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


def run_matrix(config: RunConfig) -> RunSummary:
    """Evaluate every model on every task it supports and store the results.

    Predictions are cached per example as they are computed, so a killed run resumes
    where it stopped and a rerun computes nothing. ``config.evaluation`` says what to
    evaluate (see :class:`~harness.run.config.Evaluation`): options go to every model that
    takes them, and everything runs once per noise condition; ``config.execution`` how
    (its executor computes the cells; this process alone writes the store either way).

    A model that fails on a task is recorded in ``summary.failed`` and the other pairs go on.
    Ctrl-C raises :class:`RunInterrupted` once what was computed is committed.
    """
    what = config.evaluation
    if what.options:  # configured copies; the registered models stay as they are
        config = replace(config, evaluation=replace(what, models=tuple(m.with_options(dict(what.options)) for m in what.models)))
    summary = RunSummary()
    executor = config.execution.executor or LocalExecutor()
    try:
        for condition in what.perturbations or (None,):
            condition_config = config.for_condition(condition)
            executor.run(plan_cells(summary, condition_config), summary, condition_config)
    finally:
        for model in [*config.evaluation.models, *config.prompted_models.values()]:
            model.close()
    return summary


class LocalExecutor:
    """Computes cells in this process, one after another."""

    name = "local"

    def run(self, cells, summary: RunSummary, config: RunConfig) -> None:
        """Compute, score and store each cell in turn."""
        for cell in cells:
            try:
                summary.results.append(run_cell_here(cell, summary, config))
            except ModelFailure as exc:
                summary.failed.append(Failed(cell.task.name, cell.model.name, str(exc), exc.trace))


def plan(tasks: Sequence[Task], models: Sequence[Model], summary: RunSummary, shots: int) -> list[tuple[Task, list[Model]]]:
    """Each task with the models that will run it. Pairs a model cannot answer are skipped;
    a task or model that is not fit for the pair (no prompt for a decoder, no labels) is a
    failure recorded now, before any data or weights load."""
    planned = []
    for task in tasks:
        try:
            check_task(task)
        except PLUGIN_ERRORS as exc:
            failure = plugin_failure(f"Task {task.name!r} failed its check", exc)
            summary.failed.extend(Failed(task.name, model.name, str(failure), failure.trace) for model in models)
            continue
        supported = []
        for model in models:
            try:
                reason = model.supports(task)
                if reason is None and shots and not model.few_shot:
                    reason = f"{model.name} takes no few-shot examples"
                if reason is None and shots and few_shot_source(task) is None:
                    reason = f"{task.name} has no {task.few_shot_split} split to draw few-shot examples from"
                if reason:
                    summary.skipped.append(Skipped(task.name, model.name, reason))
                    continue
                model.check_task(task)
            except PLUGIN_ERRORS as exc:
                failure = plugin_failure(f"{model.name} failed checking {task.name}", exc)
                summary.failed.append(Failed(task.name, model.name, str(failure), failure.trace))
                continue
            supported.append(model)
        if supported:
            planned.append((task, supported))
    return planned


def plan_cells(summary: RunSummary, config: RunConfig) -> Iterator[Cell]:
    """Each (task, model) cell to evaluate, its examples loaded (and perturbed) and its cached
    predictions looked up; a task whose data fails to load fails its cells here."""
    what, how = config.evaluation, config.execution
    for task, supported in plan(what.tasks, what.models, summary, what.shots):
        try:
            kind = kind_of(task)
            refused = kind.perturbation_refused(task) if config.perturbation is not None else None
            if refused:
                raise HarnessError(refused)
            loaded = task.load(what.split, data_dir=what.data_dir, source=what.source)
            examples = select_examples(loaded.examples, limit=what.limit, sample=what.sample, seed=what.seed)
            if not examples:
                raise HarnessError(f"Task {task.name!r}: split {loaded.split!r} from {loaded.location} has no examples")
            check_references(task, kind, loaded, examples)
            if config.perturbation is not None:
                examples = [kind.noise.perturb(task, e, config.perturbation.noise(what.seed, e.id)) for e in examples]
            shots = (few_shot_examples(task, what.shots, seed=what.seed, data_dir=what.data_dir, source=what.source)
                     if what.shots else [])
        except PLUGIN_ERRORS as exc:  # a task plugin's read_file raising is its own cells' failure
            failure = plugin_failure(f"Task {task.name!r} failed loading its data", exc)
            summary.failed.extend(Failed(task.name, model.name, str(failure), failure.trace) for model in supported)
            continue
        if loaded.source == "demo":
            why = f", as {loaded.why}" if loaded.why else ""
            how.log(f"{task.name}: using the built-in demo {loaded.split} split ({len(examples)} examples){why}; "
                    "pass --data-dir for real data")
        if what.sample is not None and what.sample > len(loaded.examples):
            how.log(f"{task.name}: --sample {what.sample} is more than the {len(loaded.examples)} examples of its "
                    f"{loaded.split} split: evaluating all of them")
        for model in supported:
            asked = prompts_asked(task, model, what.prompts)
            if not asked:
                summary.skipped.append(Skipped(task.name, model.name, f"{task.name} has no prompt named "
                                               f"{', '.join(what.prompts)} (its prompts: {', '.join(task.prompt_names())})"))
            for prompt in asked:
                if how.schedule is not None and scheduled_out(how.schedule, task, model, prompt, examples, config):
                    continue
                try:
                    prompted_task, prompted_model = prompted(task, model, prompt, config)
                    cell = prepare_cell(prompted_task, prompted_model, loaded, examples, shots, config)
                except PLUGIN_ERRORS as exc:  # identity(), task_settings() ... of a model plugin
                    failure = plugin_failure(f"{model.name} failed on {task.name} before predicting", exc)
                    summary.failed.append(Failed(task.name, model.name, str(failure), failure.trace))
                    continue
                yield cell


def scheduled_out(schedule, task: Task, model: Model, prompt: str, examples: Sequence[Example], config: RunConfig) -> bool:
    """Whether the schedule holds this cell back: a result record fills it (same examples,
    same digests) or it would not finish before the deadline; says so in the log either way."""
    condition = config.perturbation.label if config.perturbation is not None else ""
    key = (task.name, hide_paths(model.name), config.evaluation.shots, condition, prompt)
    digests = ([(e.id, example_digest(*example_json(e)[:2])) for e in examples] if key in schedule.records else [])
    return schedule.admit(key, cell_label(key), digests, tuple(e.id for e in examples)) is not None


def prompts_asked(task: Task, model: Model, asked: Sequence[str]) -> list[str]:
    """The prompts ``model`` is asked ``task`` with under ``--prompts asked``: the selected
    ones for a model that reads prompts, the default alone for any other."""
    if not model.reads_prompts:
        return [DEFAULT_PROMPT]
    return prompts_of(task.prompt_names(), asked, task.prompt_formats())


def prompted(task: Task, model: Model, prompt: str, config: RunConfig) -> tuple[Task, Model]:
    """The task asking with ``prompt`` and the model as that prompt needs it: configured with
    the variant's decoder options (one copy per set of options in a run, closed with the run)."""
    asked = task.with_prompt(prompt)
    variant = asked.prompt_variant()
    wanted = {k: v for k, v in (variant.options if variant else {}).items() if model.takes_option(k)}
    if not wanted or all(str(model.option(k)) == v for k, v in wanted.items()):
        return asked, model
    key = (id(model), tuple(sorted(wanted.items())))
    copies = config.prompted_models
    if key not in copies:
        copies[key] = model.with_options(wanted)
    return asked, copies[key]


def check_references(task: Task, kind, loaded: LoadedSplit, examples: Sequence[Example]) -> None:
    """A one-line error naming the file and the example whose gold answer the kind cannot score
    (a label outside ``Task.labels`` would silently count against every model)."""
    for example in examples:
        wrong = kind.scorer.check_reference(task, example)
        if wrong:
            raise HarnessError(f"{loaded.location}: example {example.id}: {wrong}")


def few_shot_source(task: Task) -> tuple[Task, str] | None:
    """The task and split few-shot examples come from (``Task.few_shot_task``'s, else its own
    ``few_shot_split``), or None if there is no such split."""
    return training_source(task)


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


def throughput(examples: int, seconds: float, usage: Usage, load_seconds: float) -> Throughput:
    """Examples and tokens per second over the predictions this run computed (not the cached ones)."""
    rate = (lambda count: count / seconds if seconds > 0 else None)
    if not (usage.prompt_tokens or usage.generated_tokens):
        return Throughput(examples, seconds, rate(examples), load_seconds)
    return Throughput(examples, seconds, rate(examples), load_seconds, usage.prompt_tokens, usage.generated_tokens,
                      usage.cached_prompt_tokens, rate(usage.prompt_tokens), rate(usage.generated_tokens),
                      rate(usage.prompt_tokens + usage.generated_tokens))


def prepare_cell(task: Task, model: Model, loaded: LoadedSplit, examples: list[Example], shots: list[Example],
                 config: RunConfig) -> Cell:
    """The cache key, settings and row name of a (task, model) pair, and its cached predictions."""
    started = time.perf_counter()
    what = config.evaluation
    settings = {"seed": what.seed, **model.task_settings(task)}
    if config.perturbation is not None:  # part of the cache key: a noisy run never serves a clean one
        settings["perturbation"] = config.perturbation.to_json()
    options = model.prediction_options()
    if options:
        settings["options"] = options
    tags = model.option_tags()
    variant = task.prompt_variant()
    if variant is not None:  # the variant's name labels the row; the options it sets do not
        settings["prompt"] = task.prompt_name
        tags = [t for t in tags if t.partition("=")[0] not in variant.options] + [f"prompt={task.prompt_name}"]
    if shots:
        settings["shots"] = [e.key for e in shots]
        tags.insert(0, f"{len(shots)}-shot")
    name = f"{model.name} ({', '.join(tags)})" if tags else model.name  # its own leaderboard row
    identity = model.identity()  # once: it may digest the weights
    key = cache_key(identity, task.name, task.version, settings)
    by_request = model.caches_requests
    # Decoders keep their engine's outputs per request and read answers afresh each run:
    # changing how answers are read recomputes no request and needs no version bump.
    cached = {} if by_request else config.execution.store.cached(key, (e.key for e in examples))
    todo = [e for e in examples if e.key not in cached]
    selection = {"limit": what.limit, "sample": what.sample, "of": len(loaded.examples)}
    return Cell(task=task, model=model, loaded=loaded, examples=examples, selection=selection, settings=settings,
                shots=shots, name=name, identity=identity, key=key, by_request=by_request, cached=cached, todo=todo,
                perturbation=config.perturbation, started=started)


def cell_work(cell: Cell, config: RunConfig, *, workers: int | None = None) -> CellWork:
    """What computing ``cell`` needs, wherever it runs (``workers``: processes there)."""
    how = config.execution
    return CellWork(task=cell.task, model=cell.model, todo=cell.todo, identity=cell.identity, by_request=cell.by_request,
                    shots=cell.shots, batch_size=how.batch_size, workers=how.workers if workers is None else workers,
                    progress=how.progress,
                    data_dir=None if config.evaluation.data_dir is None else str(config.evaluation.data_dir),
                    source=config.evaluation.source)


def compute_predictions(work: CellWork, *, requests, collected: Collected, advance: Callable[[int], None]) -> Computed:
    """Predict ``work.todo``: each answered batch goes to ``collected`` as it comes; ``requests``
    keeps decoders' engine outputs (the store, or a stand-in with its methods where the store
    is out of reach). The model answers inside a :class:`RunContext` of its own, nothing set on
    it. The same code runs in this process and on a Ray worker."""
    model = work.model
    cache = RequestCache(requests, model.engine_identity(work.identity)) if work.by_request else None
    context = RunContext(request_cache=cache, progress=work.progress, data_dir=work.data_dir, source=work.source)
    computed = Computed()
    with model.running(context):
        if work.todo and not work.by_request:  # weights and engines load outside the throughput clock
            t0 = time.perf_counter()
            try:
                model.prepare()
            except PLUGIN_ERRORS as exc:
                raise plugin_failure(f"{model.name} failed preparing for {work.task.name} (prepare())", exc) from exc
            computed.load_seconds = time.perf_counter() - t0
        extra = {"shots": work.shots} if work.shots else {}
        computed.seconds, failure = predict_pending(
            model, work.task, work.todo, batch_size=work.batch_size, extra=extra, workers=work.workers,
            store_batch=lambda answered: collected.add(answered.examples, answered.predictions, answered.seconds),
            advance=advance)
        if failure:
            computed.failure, computed.trace = failure.failure, failure.trace
        computed.usage = context.usage
        computed.model_facts = model_facts(model)
    return computed


def model_facts(model: Model) -> dict[str, Any]:
    """What a run records of the model where it ran: its provenance and parameter count
    (None until a torch module is loaded)."""
    return {"provenance": model.provenance(), "parameters": model.parameter_count()}


def store_sink(cell: Cell, store: Store):
    """Where a cell's answered batches are written: the prediction cache, unless the model
    caches per request (decoders), whose engine outputs the request cache holds."""
    if cell.by_request:
        return None
    return lambda examples, predictions, seconds: store.put_cached(cell.key, examples, predictions, seconds)


def run_cell_here(cell: Cell, summary: RunSummary, config: RunConfig) -> RunResult:
    """Compute one cell in this process (a progress bar per cell), score it and store it;
    Ctrl-C raises :class:`RunInterrupted` naming what is stored and how to resume."""
    store = config.execution.store
    collected = Collected(store_sink(cell, store))
    with tqdm(total=len(cell.examples), initial=len(cell.examples) - len(cell.todo), desc=f"{cell.task.name} x {cell.name}",
              unit="ex", disable=not config.execution.progress, leave=False, mininterval=0.5) as bar:
        try:
            computed = compute_predictions(cell_work(cell, config), requests=store, collected=collected, advance=bar.update)
        except KeyboardInterrupt:
            done = len(cell.examples) - len(cell.todo) + len(collected.fresh)
            raise RunInterrupted(
                f"Interrupted: {done} of {len(cell.examples)} predictions of {cell.task.name} x {cell.name} are stored in {store.path}"
                + (f" ({len(summary.results)} finished runs too)" if summary.results else "")
                + f"; resume with: {resume_command()}", summary
            ) from None
    return finish_cell(cell, computed, collected, config)


def finish_cell(cell: Cell, computed: Computed, collected: Collected, config: RunConfig) -> RunResult:
    """Score a cell whose predictions are all in (cached + fresh) and save its run record;
    a failure while computing raises :class:`ModelFailure` (what was computed is stored)."""
    task, fresh, seed = cell.task, collected.fresh, config.evaluation.seed
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
    scores = score(task, examples, predictions, seed=seed)
    correct = [is_correct(task, e, p) for e, p in zip(examples, predictions)]
    wall = time.perf_counter() - cell.started
    timing = throughput(computed_count, fresh_seconds, usage, load_seconds) if computed_count else None
    provenance = run_provenance(cell, config, computed.model_facts, timing)
    loaded = cell.loaded
    run = RunRecord(
        task=task.name, task_version=task.version, kind=task.kind, dataset=task.dataset_evaluated(loaded.split, loaded.source), split=loaded.split,
        data_source=loaded.source, data_location=loaded.location, model=cell.name, model_identity=cell.identity,
        settings=cell.settings, cache_key=cell.key, selection_key=selection_key(loaded, examples, cell.selection), n=len(examples),
        seed=seed, wall_time_s=wall, compute_time_s=compute_time,
        examples_per_s=len(examples) / compute_time if compute_time > 0 else None, cached=len(examples) - computed_count,
        provenance=provenance.to_json(),
    )
    run_id = config.execution.store.save_run(run, scores, examples, predictions, correct)
    if config.execution.records is not None:
        export_records(config.execution.store, [run_id], config.execution.records)
    return RunResult(run_id, task.name, cell.name, loaded.split, loaded.source, len(examples), computed_count, scores,
                     timed_rate(run.examples_per_s, compute_time), cell.perturbation.label if cell.perturbation is not None else "",
                     dominant_answer([p.output for p in predictions]))


def run_provenance(cell: Cell, config: RunConfig, facts: dict[str, Any], timing: Throughput | None) -> Provenance:
    """What a run's numbers came from: package versions, hardware, model and task facts (with
    the data's licence and whether its text may be republished), the plugins' distributions,
    batching, the selection, and the throughput of what it computed (``timing``; None when
    everything came from the cache). ``facts`` (:func:`model_facts`, plus hardware, executor
    and workers from a Ray worker) come from wherever the model ran."""
    task, model = cell.task, cell.model
    model_facts = dict(facts["provenance"])
    if facts.get("parameters"):
        model_facts["parameters"] = facts["parameters"]
    if model.licence:
        model_facts["licence"] = model.licence
    family = model.declared_family()
    if family is not None:  # the board files the row by it (runs stored before say none)
        model_facts["family"] = family
    suite = config.evaluation.suite
    return Provenance(
        packages=package_versions(),
        hardware=facts.get("hardware") or hardware(),
        model=model_facts,
        task={**task.describe(), **task.text_policy(cell.loaded.source)},
        plugins={"model": distribution_of(model), "task": distribution_of(task)},
        batch_size=config.execution.batch_size,
        selection=cell.selection,
        suite=SuiteRef(**suite) if suite is not None else None,
        executor=facts.get("executor"),
        throughput=timing,
        workers=facts.get("workers", config.execution.workers) if timing is not None and model.cpu_bound else None,
    )


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
