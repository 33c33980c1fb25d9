"""A model's results as Hugging Face ``model-index`` metadata (the YAML a model card's header
carries, read by the Hub's evaluation widgets), built with huggingface_hub's card types."""
from __future__ import annotations

from typing import Any

from harness.core.distributions import installed_version
from harness.core.publishing import hide_paths
from harness.errors import HarnessError
from harness.kinds import higher_is_better, hub_task_type
from harness.store.export import clean_runs_of
from harness.store.store import Store



#: how a metric's ``better`` argument reads each direction (:func:`harness.kinds.higher_is_better`)
DIRECTIONS = {True: "higher", False: "lower", None: "neither"}


def model_index_card(store: Store, model: str, *, source_url: str | None = None, publish: bool = True) -> str:
    """A model card (YAML header and a line of text) with ``model``'s newest clean run on each
    task as ``model-index`` results: task type, dataset (its Hub id where the task has one,
    else its name), split, every overall metric with its value, and in the metric's ``args``
    its n, 95% interval, whether higher or lower is better (``better``), the harness version
    and the suite's sha256. ``source_url`` (where the results are published, e.g. the
    leaderboard) becomes the results' source, named after the harness version. Paths of this machine never appear (``publish``)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    version = installed_version("harness") or "unknown"
    runs = clean_runs_of(store, model)
    metrics = store.metrics([int(i) for i in runs["id"]])
    name = hide_paths(model) if publish else model
    results: list[Any] = []
    for _, run in runs.iterrows():
        provenance = run["provenance"] or {}
        suite = (provenance.get("suite") or {}).get("sha256", "")
        source = f"harness {version}" + (f", suite sha256 {suite[:12]}" if suite else "")
        hub_id = _hub_id(run["task"]) if run["data_source"] == "hub" else None  # a local file is not the Hub's copy
        for _, metric in metrics[(metrics["run_id"] == run["id"]) & (metrics["breakdown"] == "")].iterrows():
            interval = [_number(metric["ci_low"]), _number(metric["ci_high"])]
            facts = {"n": int(metric["n"]) if metric["n"] == metric["n"] and metric["n"] is not None else None,
                     "ci95": interval if None not in interval else None, "harness": version,
                     "suite_sha256": suite or None, "seed": int(run["seed"]),
                     "better": DIRECTIONS[higher_is_better(run["task"], run["kind"], metric["name"])]}
            results.append(EvalResult(
                task_type=hub_task_type(run["kind"]), task_name=run["task"],
                dataset_type=hub_id or run["dataset"], dataset_name=run["dataset"], dataset_split=run["split"],
                metric_type=metric["name"], metric_value=float(metric["value"]), metric_name=metric["name"],
                metric_args={k: v for k, v in facts.items() if v is not None},
                source_name=source if source_url else None, source_url=source_url))
    data = ModelCardData(model_name=name, eval_results=results)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\nResults of {name} from harness {version} "
                     f"(newest run per task; n, intervals and predictions are in the harness store).\n")
    return str(card)


def _number(value: Any) -> float | None:
    return float(value) if value is not None and value == value else None


def _hub_id(task_name: str) -> str | None:
    """The Hub dataset the task loads for users with the Hub, where it has one."""
    from harness.core.task import get_task

    try:
        return getattr(get_task(task_name), "hub_id", None)
    except HarnessError:
        return None
