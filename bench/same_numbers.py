"""Dump every metric and every per-example prediction of a fixed set of runs, for a
before/after diff of a refactoring that must not change a number.

Usage: python bench/same_numbers.py --data-dir ../shared/data --out before.json [--quick]
       (change the code) python bench/same_numbers.py --data-dir ../shared/data --out after.json
       diff before.json after.json      # empty: identical metrics and predictions

The runs: spacy-en-sm and vader on CoNLL++ test and SST-2 validation; smollm2-135m on
SST-2 validation, WSC273 and the first 100 CoNLL++ test sentences; pyspellchecker and
symspell on Norvig's two sets; the coreference heuristics on GAP test. Each goes into a
fresh store, so nothing is served from an old cache. ``--quick`` leaves out smollm2-135m.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from harness import get_model, resolve_tasks
from harness.run.config import RunConfig
from harness.run.runner import run_matrix
from harness.store.store import Store

RUNS = [
    (["ner", "sentiment"], ["spacy-en-sm", "vader"], {}),
    (["sentiment", "coref:wsc273"], ["smollm2-135m"], {}),
    (["ner"], ["smollm2-135m"], {"limit": 100}),
    (["spelling:norvig1", "spelling:norvig2"], ["pyspellchecker", "symspell"], {}),
    (["coref:gap"], ["coref-nearest", "coref-first"], {}),
]


def dump(store: Store) -> dict:
    """Metrics and predictions of every run in the store, keyed by task, model and n."""
    out = {}
    runs = store.runs()
    metrics = store.metrics()
    predictions = store.predictions()
    for run in runs.itertuples():
        key = f"{run.task} | {run.model} | n={run.n}"
        rows = metrics[metrics["run_id"] == run.id]
        out[key] = {
            "metrics": sorted([r.name, r.breakdown, r.value, r.ci_low, r.ci_high, int(r.n)] for r in rows.itertuples()),
            "predictions": [[p.example_id, p.prediction] for p in predictions[predictions["run_id"] == run.id].itertuples()],
        }
    return out


def main() -> None:
    """Run everything into a fresh store and write the JSON dump."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="leave out smollm2-135m")
    args = parser.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "same.sqlite")
        for tasks, models, extra in RUNS:
            if args.quick and "smollm2-135m" in models:
                continue
            summary = run_matrix(RunConfig.build(resolve_tasks(tasks), [get_model(m) for m in models], store, data_dir=args.data_dir,
                                 progress=False, log=lambda message: None, **extra))
            if summary.failed:
                raise SystemExit(f"failed: {summary.failed[0].message}")
            for r in summary.results:
                print(f"{r.task:<18} {r.model:<16} n={r.n:<5} {r.scores.headline}={r.scores.get(r.scores.headline).value:.4f}")
        result = dump(store)
        store.close()
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {args.out}: {len(result)} runs")


if __name__ == "__main__":
    main()
