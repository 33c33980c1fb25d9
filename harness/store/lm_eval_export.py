"""A model's results in lm-evaluation-harness's results JSON (the 0.4 structure: ``results``,
``versions``, ``n-shot``, ``n-samples``, ``higher_is_better``, ``config``), which many dashboards
and scripts already parse. Tasks with an lm-eval counterpart carry its name and metric names."""
from __future__ import annotations

import math
from typing import Any

from harness.core.distributions import installed_version
from harness.core.publishing import hide_paths
from harness.kinds import higher_is_better
from harness.store.export import clean_runs_of
from harness.store.store import Store

#: our task -> (lm-eval's task name, our metric -> lm-eval's metric name)
COUNTERPARTS = {"sentiment": ("sst2", {"accuracy": "acc"}), "coref:wsc273": ("wsc273", {"accuracy": "acc"})}
#: half a 95% normal interval, in standard errors
Z95 = 1.959963984540054


def lm_eval_results(store: Store, model: str) -> dict[str, Any]:
    """``model``'s newest clean run on each task as lm-eval's results dict: per task every
    overall metric as ``name,none`` with ``name_stderr,none`` (the bootstrap interval's half
    width over 1.96), the task version, shots, n of the split's examples, and a ``config`` naming
    the model (no paths), harness's version and the suite's sha256."""
    runs = clean_runs_of(store, model)
    metrics = store.metrics([int(i) for i in runs["id"]])
    out: dict[str, Any] = {"results": {}, "group_subtasks": {}, "versions": {}, "n-shot": {}, "higher_is_better": {},
                           "n-samples": {}}
    suites = set()
    for _, run in runs.iterrows():
        name, renamed = COUNTERPARTS.get(run["task"], (run["task"], {}))
        provenance = run["provenance"] or {}
        if (provenance.get("suite") or {}).get("sha256"):
            suites.add(provenance["suite"]["sha256"])
        scores: dict[str, Any] = {"alias": name}
        better: dict[str, bool | None] = {}
        for _, metric in metrics[(metrics["run_id"] == run["id"]) & (metrics["breakdown"] == "")].iterrows():
            key = renamed.get(metric["name"], metric["name"])
            scores[f"{key},none"] = float(metric["value"])
            low, high = metric["ci_low"], metric["ci_high"]
            finite = low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
            scores[f"{key}_stderr,none"] = (high - low) / (2 * Z95) if finite else "N/A"
            better[key] = higher_is_better(run["task"], run["kind"], metric["name"])  # None: neither
        out["results"][name] = scores
        out["versions"][name] = run["task_version"]
        out["n-shot"][name] = len((run["settings"] or {}).get("shots") or [])
        out["higher_is_better"][name] = better
        selection = provenance.get("selection") or {}
        out["n-samples"][name] = {"original": int(selection.get("of") or run["n"]), "effective": int(run["n"])}
    out["config"] = {"model": "harness", "model_args": hide_paths(model), "harness_version": installed_version("harness"),
                     "suite_sha256": sorted(suites), "bootstrap": "percentile, 95%"}
    return out
