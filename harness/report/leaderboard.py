"""Everything the report's pages show, read from the results store: per task column the runs
with their metrics, ranks and pairwise tests, error analyses, calibration, cost and the
example explorer's rows."""
from __future__ import annotations

import math
import random
import re
from typing import Any, Sequence

from harness.core.example import Example, Prediction, dominant_answer
from harness.core.secrets import redact_json
from harness.core.task import get_task
from harness.errors import HarnessError
from harness.kinds import breakdown_units, paired_statistics, shown_kind
from harness.report.charts import degradation, dot_whisker, learning_curves, pareto, reliability
from harness.report.columns import Column, Loaded, RunView
from harness.report.explorer import clipped, explorer_data
from harness.core.publishing import hide_paths, hide_paths_in, text_allowed
from harness.report.prompts import describe_prompts, fold_prompt_variants, prompt_of, prompt_sensitivity, spread_interval
from harness.report.overview import common_task_set, family_leaders, overall_win_rates, overview_rows
from harness.report.significance import (compare_models, comparison_matrix, headline_detectable, rank_intervals,
                                         small_sample)
from harness.scoring.calibration import calibration
from harness.store.provenance import Provenance, timed_rate
from harness.store.store import Store

#: Incorrect examples shown per model on a task page (a seeded sample).
ERRORS_SHOWN = 5
#: Families of models, in the order the leaderboard's filter lists them.
FAMILIES = ("baseline", "encoder", "fine-tuned encoder", "decoder", "endpoint")


def slug(text: str) -> str:
    """A file-name-safe form of ``text``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "task"


def shown_settings(settings: dict) -> dict:
    """The run settings worth showing beside its numbers, as the user gave them: model options
    (``chat_template=auto``, not what it resolved to), how answers are read, the shots."""
    settings = settings or {}
    shown = dict(settings.get("options") or {})
    for key in ("chat_template", "method", "answer_parsing"):
        if key in settings and key not in shown:
            shown[key] = settings[key]
    if settings.get("shots"):
        shown["shots"] = len(settings["shots"])
    return hide_paths_in(shown)


def model_family(model: str, settings: dict, finetuned: dict | None, declared: str | None = None) -> tuple[str, str]:
    """(family, label): baseline, encoder, fine-tuned encoder (with its k), decoder or endpoint
    (with its shots). The family the model ``declared`` when it ran files it; a run stored
    before models declared one is filed by its name and settings."""
    shots = len((settings or {}).get("shots") or [])
    if finetuned:
        k = finetuned.get("k")
        return "fine-tuned encoder", f"fine-tuned encoder (k={k})" if k else "fine-tuned encoder (all)"
    if declared in ("decoder", "endpoint"):
        return declared, f"{declared}, {shots}-shot"
    if declared is not None:
        return declared, declared
    if model.startswith("openai:"):
        return "endpoint", f"endpoint, {shots}-shot"
    if "prompt_template" in (settings or {}) or "verbalizers" in (settings or {}) or shots:
        return "decoder", f"decoder, {shots}-shot"
    if model.startswith("hf:"):
        return "encoder", "encoder"
    return "baseline", "baseline"


def display_model(model: str, identity: dict[str, Any]) -> str:
    """The model's row label without paths: a local folder shows as its name (a suite's
    fine-tune folder ``name-k64`` as ``name k=64``); see :func:`weights_digest` for telling
    two folders of one name apart."""
    # a path, or one hidden already (a result record's label): "…/name#digest"
    folder = re.sub(r"…/([^#\s]+)#\w+", r"\1", hide_paths(model))
    if folder != model:
        return re.sub(r"-k(\d+|all)\b", r" k=\1", folder)
    return model


def finetuned_display(card: dict[str, Any] | None) -> str | None:
    """A fine-tuned model's name on every page: its base, what it was fine-tuned on, its k, and
    its training noise where it had some ("minilm-l6 fine-tuned on GAP k=all", also on WSC273's
    page; the index row being "minilm-l6 fine-tuned" with each k a point of its sparkline);
    None for other models."""
    if not card or not card.get("base") or not card.get("k_label"):
        return None
    noise = card.get("augment") or {}
    augmented = f", {noise['name']} {noise['rate']:g} augmented" if noise.get("name") and noise.get("rate") else ""
    on = f" on {card['dataset']}" if card.get("dataset") else ""
    return f"{hide_paths(str(card['base']))} fine-tuned{on} k={card['k_label']}{augmented}"


def weights_digest(identity: dict[str, Any]) -> str:
    """The first 12 hex digits of the weights' revision digest ("" where the identity has none)."""
    revision = str((identity or {}).get("revision") or "")
    return revision.split(":")[-1][:12] if revision else ""


def suite_labels(text: str) -> dict[str, str]:
    """A suite file's ``[labels]`` table (model name -> the label its rows show); empty where it
    has none or the text does not parse."""
    import tomllib

    try:
        labels = tomllib.loads(text).get("labels") or {}
    except (tomllib.TOMLDecodeError, RecursionError):
        return {}
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, dict) else {}


def labelled(row_name: str, labels: dict[str, str]) -> str | None:
    """``row_name`` ("llamacpp:x (5-shot)") with its model name replaced by the suite's label
    for it, keeping the tags; None where the suite gives it no label."""
    name, tags = (row_name.split(" (", 1) + [""])[:2]
    label = labels.get(name)
    if label is None:
        return None
    return f"{label} ({tags}" if tags else label


def _subset_of(provenance: Provenance, n: int) -> int | None:
    total = provenance.selection.get("of")
    return int(total) if total and n < total else None


def _hardware(provenance: Provenance) -> str:
    """The machine a run was timed on, in a few words: the GPU, else the CPU's architecture
    and cores (and torch's threads)."""
    hardware = provenance.hardware
    if hardware.get("gpu"):
        return str(hardware["gpu"])
    label = f"{hardware.get('machine') or 'CPU'}, {hardware.get('cpu_count') or '?'} cores"
    if hardware.get("torch_threads"):
        label += f", {hardware['torch_threads']} torch threads"
    return label


#: predictions from which the report fills its task columns in parallel processes by default
PARALLEL_FROM = 20_000


def suite_runs(store: Store, suite: dict | None):
    """The newest run of each row the board of ``suite`` shows: every run where there is no
    suite; with the suite's planned ``cells``, the runs a suite of its name made (any version
    of its file: a board grows by editing it) that fill a cell it plans now; else the runs of
    this very file (its sha256)."""
    if not suite:
        return store.latest_runs()
    if suite.get("cells") is not None:
        return store.latest_runs(suite_name=suite["name"], cells=suite["cells"])
    return store.latest_runs(suite=suite["sha256"])


def build_context(store: Store, *, publish: bool = False, seed: int = 0, workers: int | None = None,
                  suite: dict | None = None) -> dict[str, Any]:
    """Everything the templates need, read from the store. ``workers``: processes that fill the
    task columns (default: every core for a store of :data:`PARALLEL_FROM` predictions or
    more, else this process alone). ``suite``: only the runs of that suite file (by sha256), or
    where it lists its planned ``cells``, the runs of a suite of its name that fill one of them."""
    runs = suite_runs(store, suite)
    empty = {"columns": [], "clean_columns": [], "noisy_columns": [], "models": [], "cells": {}, "families": [], "rows": [],
             "common": [], "leaders": [], "model_info": {}, "publish": publish, "suite": suite, "stamp": None}
    if runs.empty:
        if suite:
            raise HarnessError(f"The store holds no run of a cell suite {suite['name']!r} plans as its file {suite['file']} "
                               f"reads now (sha256 {suite['sha256'][:12]}); run it first: harness run --suite {suite['file']}")
        return empty
    board_labels = suite_labels(suite["text"]) if suite and suite.get("text") else None
    metrics = store.metrics([int(i) for i in runs["id"]])
    metrics_of = {int(run_id): rows for run_id, rows in metrics.groupby("run_id", sort=False)}
    columns: dict[tuple[str, str, str, str], Column] = {}
    models: list[str] = []
    model_info: dict[str, dict[str, Any]] = {}
    for _, row in runs.iterrows():
        noise = (row["settings"] or {}).get("perturbation")
        condition = f"{noise['name']} {noise['rate']:g}" if noise else ""
        key = (row["task"], row["split"], row["data_source"], condition)
        provenance = Provenance.from_json(row["provenance"])
        task_facts = provenance.task
        if key not in columns:
            stem = (f"{slug(row['task'])}-{slug(row['split'])}" + ("-demo" if row["data_source"] == "demo" else "")
                    + (f"-{slug(condition)}" if condition else ""))
            columns[key] = Column(row["task"], row["split"], row["data_source"], row["kind"], row["dataset"], row["headline"],
                                  f"task-{stem}.html", f"explore-{stem}.html", perturbation=condition, noise=noise,
                                  licence=str(task_facts.get("licence") or "not declared"),
                                  text_shown=text_allowed(task_facts, publish),
                                  published=provenance.task.get("published", []))
            installed = _installed_task(row["task"])
            if installed is not None:  # what its n count (sentences, words, misspellings)
                columns[key].example_unit = installed.example_unit
                columns[key].metric_units = dict(installed.metric_units)
                try:
                    columns[key].breakdown_units = breakdown_units(installed)
                except HarnessError:  # its kind is not installed: the metric's unit stands
                    pass
        finetuned = provenance.finetuned
        family, family_label = model_family(row["model"], row["settings"], finetuned, provenance.family)
        if row["model"] not in models:
            models.append(row["model"])
            # the board's suite names its rows as its file reads now; a run's own suite otherwise
            labels = (board_labels if board_labels is not None
                      else suite_labels(provenance.suite.text) if provenance.suite and provenance.suite.text else {})
            digest = weights_digest(row["model_identity"])
            model_info[row["model"]] = {
                "display": (labelled(row["model"], labels) or finetuned_display(finetuned)
                            or display_model(row["model"], row["model_identity"])),
                "full_name": hide_paths(row["model"]) + (f", weights {digest}" if digest else ""),
                "digest": digest,
                "family": family, "family_label": family_label,
                "parameters": provenance.parameters,
                "base": hide_paths(str(finetuned["base"])) if (finetuned or {}).get("base") else None,
                "finetuned_label": (finetuned or {}).get("label"),
                "licence": provenance.licence,
            }
        run_metrics = metrics_of[int(row["id"])].to_dict("records")
        overall = [m for m in run_metrics if m["breakdown"] == ""]
        breakdown = [m for m in run_metrics if m["breakdown"] != ""]
        headline = next(m for m in overall if m["name"] == row["headline"])
        suite_ref = provenance.suite
        columns[key].runs.append(RunView(
            id=int(row["id"]),
            model=row["model"],
            display=model_info[row["model"]]["display"],
            family=family,
            created_at=row["created_at"],
            suite={"name": suite_ref.name, "sha256": suite_ref.sha256} if suite_ref else None,
            executor=provenance.executor_name,
            n=int(row["n"]),
            seed=int(row["seed"]),
            headline={"value": headline["value"], "low": headline["ci_low"], "high": headline["ci_high"], "n": headline["n"],
                      "detectable": headline_detectable(headline["ci_low"], headline["ci_high"]),
                      "small": small_sample(headline["ci_low"], headline["ci_high"])},
            metrics=overall,
            breakdown=breakdown,
            wall_time_s=row["wall_time_s"],
            examples_per_s=timed_rate(row["examples_per_s"], row["compute_time_s"]),
            data_location=hide_paths(row["data_location"]),
            task_version=row["task_version"],
            model_identity=hide_paths_in(row["model_identity"]),
            settings=shown_settings(row["settings"]),
            subset_of=_subset_of(provenance, int(row["n"])),
            packages=provenance.packages,
            hardware=hide_paths_in(provenance.hardware),
            hardware_label=_hardware(provenance),
            finetuned=hide_paths_in(finetuned) if finetuned else None,
            throughput=provenance.throughput,
            parameters=provenance.parameters,
            engine=redact_json(hide_paths_in(provenance.engine)),
            requests=provenance.requests,
            prompt=prompt_of(row["settings"]),
            ref=str(row["cache_key"])[:12],
        ))
    folded = fold_prompt_variants(columns.values())  # a decoder's other prompts join its default row
    shown = {run.model for col in columns.values() for run in col.runs}
    models = [m for m in models if m not in folded or m in shown]
    _tell_apart(model_info, columns.values())
    if workers is None:
        import os

        workers = (os.cpu_count() or 1) if int(runs["n"].sum()) >= PARALLEL_FROM else 1
    ordered = _fill_columns(store, sorted(columns.values(), key=lambda c: (c.task, c.split, c.source, c.noise is not None,
                                                                             (c.noise or {}).get("name", ""),
                                                                             (c.noise or {}).get("rate", 0))),
                            seed=seed, workers=workers)
    _robustness(ordered)
    every_run = [r for col in ordered for r in col.runs]
    stamp = {"first": min(r.created_at for r in every_run)[:10], "last": max(r.created_at for r in every_run)[:10],
             "harness": sorted({str(r.packages.get("harness")) for r in every_run if r.packages.get("harness")})}
    cells = {(col.task, col.split, col.source, col.perturbation, r.model): r for col in ordered for r in col.runs}
    families = [f for f in FAMILIES if any(info["family"] == f for info in model_info.values())]
    clean = [col for col in ordered if not col.noise]
    rows = overview_rows(clean, models, model_info)
    common = common_task_set(rows, clean)
    overall_win_rates(rows, common)
    # best first: rows ranked overall by their win rate, then the others family by family
    rows.sort(key=lambda r: (r.overall is None, -(r.overall or 0.0), FAMILIES.index(r.family) if r.family in FAMILIES else 99))
    return {"columns": ordered, "clean_columns": clean, "noisy_columns": [col for col in ordered if col.noise],
            "models": models, "cells": cells, "model_info": model_info, "families": families,
            "rows": rows, "common": common, "leaders": family_leaders(rows, clean, families),
            "publish": publish, "comparison_matrix": comparison_matrix, "suite": suite, "stamp": stamp}


def _tell_apart(model_info: dict[str, dict[str, Any]], columns) -> None:
    """Rows whose display names coincide (two folders of one name) get their weights digest."""
    seen: dict[str, int] = {}
    for info in model_info.values():
        seen[info["display"]] = seen.get(info["display"], 0) + 1
    for model, info in model_info.items():
        if seen[info["display"]] > 1:
            info["display"] += f" (weights {info['digest'] or hide_paths(model)})"
    for col in columns:
        for run in col.runs:
            run.display = model_info[run.model]["display"]


def _fill_columns(store: Store, columns: list[Column], *, seed: int, workers: int) -> list[Column]:
    """Every column filled from its predictions: in up to ``workers`` processes, a column at a
    time each, where the platform forks (the columns are independent and the work is
    CPU-bound), else here. The result is the same either way."""
    import multiprocessing

    workers = min(len(columns), workers)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods() and store.path.is_file():
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(_filled, [str(store.path)] * len(columns), columns, [seed] * len(columns)))
    return [_filled_here(store, col, seed) for col in columns]


def _filled(store_path: str, col: Column, seed: int) -> Column:
    """A column filled in a worker process, from its own read-only connection to the store."""
    store = Store(store_path, readonly=True)
    try:
        return _filled_here(store, col, seed)
    finally:
        store.close()


def _filled_here(store: Store, col: Column, seed: int) -> Column:
    try:
        _fill_column(store, col, seed=seed)
    finally:
        shown_kind(col.kind).presenter.forget()
    return col


def _robustness(columns: list[Column]) -> None:
    """Degradation curves: for each task column and kind of noise, each model's headline
    against the noise rate (the clean run is rate 0), with a summary of how much it keeps."""
    groups: dict[tuple[str, str, str], list[Column]] = {}
    for col in columns:
        groups.setdefault((col.task, col.split, col.source), []).append(col)
    for group in groups.values():
        clean = next((c for c in group if c.noise is None), None)
        names = sorted({c.noise["name"] for c in group if c.noise})
        home = clean or group[0]
        for name in names:
            noisy = sorted((c for c in group if c.noise and c.noise["name"] == name), key=lambda c: c.noise["rate"])
            points = ([(0.0, clean)] if clean else []) + [(float(c.noise["rate"]), c) for c in noisy]
            series: dict[str, list[dict[str, Any]]] = {}
            for rate, col in points:
                for run in col.runs:
                    series.setdefault(run.display, []).append({"rate": rate, **run.headline})
            rows = [{"model": model, "points": pts, **robustness_summary(pts)} for model, pts in series.items()
                    if any(p["rate"] > 0 for p in pts)]  # models run on the clean set only have no curve
            home.robustness.append({"name": name, "pages": [(rate, col.page, col.label) for rate, col in points],
                                    "rows": rows, "chart": degradation(series, home.headline, name)})


def robustness_summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """How much of its clean score a model keeps under noise: the area under its
    score-against-rate curve (trapezoids) divided by the area of its clean score held flat
    over the same rates, and the rate at which its score first falls to half the clean one
    (linear between measured rates; None when it never does). Needs the clean point (rate 0)."""
    pts = sorted((p for p in points if p["value"] is not None and p["value"] == p["value"]), key=lambda p: p["rate"])
    if len(pts) < 2 or pts[0]["rate"] != 0 or not pts[0]["value"]:
        return {"kept": None, "half_rate": None}
    clean, top = pts[0]["value"], pts[-1]["rate"]
    area = sum((b["rate"] - a["rate"]) * (a["value"] + b["value"]) / 2 for a, b in zip(pts, pts[1:]))
    half = None
    for a, b in zip(pts, pts[1:]):
        if b["value"] <= clean / 2 < a["value"] or b["value"] <= clean / 2 == a["value"]:
            half = a["rate"] + (b["rate"] - a["rate"]) * (a["value"] - clean / 2) / ((a["value"] - b["value"]) or 1)
            break
    return {"kept": area / (clean * top) if top else None, "half_rate": half}


def _fill_column(store: Store, col: Column, *, seed: int) -> None:
    """Metrics tables, curves, and everything computed from the column's predictions."""
    col.runs.sort(key=lambda r: -(r.headline["value"] if r.headline["value"] == r.headline["value"]
                                  and r.headline["value"] is not None else -math.inf))
    col.metric_names = sorted({m["name"] for r in col.runs for m in r.metrics}, key=lambda n: (n != col.headline, n))
    col.curves = learning_curves(col.runs)
    col.prompt_sensitivity = prompt_sensitivity(col)
    col.breakdown_rows = sorted({(m["breakdown"], m["name"]) for r in col.runs for m in r.breakdown},
                                key=lambda row: (row[0], row[1] != col.headline, row[1]))
    col.breakdown_by = ", ".join(sorted({b.split("=", 1)[0] for b, _ in col.breakdown_rows}))
    col.breakdown_cells = {(r.model, m["breakdown"], m["name"]): m for r in col.runs for m in r.breakdown}
    loaded = _load_predictions(store, col.runs)
    for run in col.runs:  # a model that answers one label for nearly everything is named so
        if run.id in loaded:
            run.dominant = dominant_answer([p.output for p in loaded[run.id].predictions])
    task, kind = _installed_task(col.task), shown_kind(col.kind)
    _significance(col, task, loaded, seed=seed)
    _prompt_spreads(store, col, task, loaded, seed=seed)
    _analyses(col, task, kind, loaded)
    _errors(col, kind, loaded, seed=seed)
    col.chart = dot_whisker([{"model": r.display, **r.headline, "rank": r.rank,
                              "rank_label": r.rank_interval.label if r.rank_interval else None} for r in col.runs], col.headline)
    col.pareto = pareto([{"model": r.display, "value": r.headline["value"], "speed": r.examples_per_s,
                          "hardware": r.hardware_label} for r in col.runs], col.headline)
    col.explorer = explorer_data(col, kind, loaded)


def _load_predictions(store: Store, runs: Sequence[RunView]) -> dict[int, Loaded]:
    loaded: dict[int, Loaded] = {}
    shared: dict[tuple, Example] = {}  # one Example per example, however many models answered it
    for run_id, example_id, data, reference, prediction, correct, meta in store.prediction_rows([r.id for r in runs]):
        run = loaded.setdefault(int(run_id), Loaded([], [], []))
        key = (example_id, id(data), id(reference), id(meta))  # the store decodes each distinct text once
        example = shared.get(key)
        if example is None:
            example = shared[key] = Example(str(example_id), data, reference, meta)
        run.examples.append(example)
        run.predictions.append(Prediction.from_json(prediction))
        run.correct.append(correct)
    return loaded


def _installed_task(name: str):
    try:
        return get_task(name)
    except HarnessError:
        return None


def _significance(col: Column, task, loaded: dict[int, Loaded], *, seed: int) -> None:
    """Pairwise tests, ranks; left out (with the reason) where the task is not installed
    (``task`` None) or its per-example statistics do not give the stored headline."""
    if task is None:
        col.significance = {"missing": f"the task {col.task!r} is not installed here, so its headline cannot be recomputed"}
        return
    systems = {}
    for run in col.runs:
        data = loaded.get(run.id)
        if data is None:
            continue
        stats = paired_statistics(task, data.examples, data.predictions)
        stored = run.headline["value"]
        if stored is None or stored != stored or abs(stats.value() - stored) > 1e-9:
            col.significance = {"missing": f"{task.name}'s per-example statistics do not give its stored {col.headline} "
                                           f"for {run.display}; no pairwise tests"}
            return
        systems[run.model] = stats
    pairs = compare_models(systems, seed=seed)
    intervals = rank_intervals({model: stats.value() for model, stats in systems.items()}, pairs)
    for run in col.runs:
        run.rank_interval = intervals.get(run.model)
        run.rank = run.rank_interval.best if run.rank_interval else None
    tests = sorted({p.test for p in pairs})
    col.significance = {"pairs": pairs, "tests": tests, "models": [r.model for r in col.runs if r.model in systems],
                        "displays": {r.model: r.display for r in col.runs}}


def _prompt_spreads(store: Store, col: Column, task, loaded: dict[int, Loaded], *, seed: int) -> None:
    """Each decoder's spread over its prompts with its bootstrap interval, and the prompt pairs
    that differ significantly (:func:`harness.report.prompts.spread_interval`), from the
    predictions of every prompt's run on the examples they all scored (``loaded``: the
    column's rows' predictions; the variant runs' are read here, in one query)."""
    sensitivity = col.prompt_sensitivity
    if sensitivity is None or task is None:
        return
    describe_prompts(sensitivity, task)
    loaded = {**loaded, **_load_predictions(store, [run for r in col.runs for run in r.prompt_runs])}
    for spread in sensitivity.decoders:
        if any(score.run.id not in loaded for score in spread.scores):
            continue
        systems = {score.prompt: paired_statistics(task, loaded[score.run.id].examples, loaded[score.run.id].predictions)
                   for score in spread.scores}
        common = set.intersection(*(set(stats.ids) for stats in systems.values()))
        ids = [example_id for example_id in next(iter(systems.values())).ids if example_id in common]
        if not ids:
            continue
        systems = {prompt: stats.subset(ids) for prompt, stats in systems.items()}
        spread.spread_low, spread.spread_high, spread.differing = spread_interval(systems, seed=seed)
        spread.n = len(ids)


def _analyses(col: Column, task, kind, loaded: dict[int, Loaded]) -> None:
    """The kind's error analyses per model, and calibration where models give probabilities
    (none where the task is not installed here)."""
    if task is None:
        return
    by_title: dict[str, list[dict[str, Any]]] = {}
    for run in col.runs:
        data = loaded.get(run.id)
        if data is None:
            continue
        for table in kind.presenter.analyses(task, data.examples, data.predictions, data.correct):
            by_title.setdefault(table.title, []).append({"model": run.display, "table": table})
        # examples whose gold answer is not an option (GAP's "neither") have no place in it
        usable = [r for r in (kind.presenter.option_probabilities(task, e, p) for e, p in zip(data.examples, data.predictions))
                  if r is not None]
        if usable:
            result = calibration([p for p, _ in usable], [g for _, g in usable])
            col.calibration.append({"model": run.display, "result": result, "chart": reliability(result.bins),
                                    "left_out": sum(e.reference is None for e in data.examples)})
    col.analyses = [{"title": title, "tables": tables} for title, tables in by_title.items()]


def _errors(col: Column, kind, loaded: dict[int, Loaded], *, seed: int) -> None:
    """A seeded sample of each model's wrong answers, as the kind shows them (none where the
    text may not be shown)."""
    for run in col.runs:
        run.errors, run.wrong = [], 0
        data = loaded.get(run.id)
        if data is None:
            continue
        wrong = [i for i, ok in enumerate(data.correct) if not ok]
        run.wrong = len(wrong)
        if not col.text_shown:
            continue
        # seeded by the row's name with paths hidden: the same sample on every machine, and from records
        picked = sorted(random.Random(f"{seed}:{col.task}:{hide_paths(run.model)}").sample(wrong, min(ERRORS_SHOWN, len(wrong))))
        for i in picked:
            e, p = data.examples[i], data.predictions[i]
            run.errors.append({"id": e.id, **clipped(kind.presenter.describe(e.input, e.reference, p.output, p.raw))})
