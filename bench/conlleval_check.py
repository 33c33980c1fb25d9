"""Cross-check stored NER scores against the independent `conlleval` scorer.

Usage: python bench/conlleval_check.py --store harness.sqlite [--task ner]

For the newest run of each model on the task, rebuilds conlleval's input
(token gold predicted) from the exported per-example predictions and prints
harness's stored F1, conlleval's F1 and their difference.
"""
from __future__ import annotations

import argparse

from conlleval import evaluate

from harness.store.export import export_rows
from harness.store.store import Store


def conlleval_lines(rows):
    """conlleval input lines for exported prediction rows (sentence boundary = blank line)."""
    for row in rows:
        for gold, pred in zip(row["reference"], row["prediction"]):
            yield f"x {gold} {pred}"
        yield ""


def main() -> None:
    """Print harness vs conlleval F1 per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="harness.sqlite")
    parser.add_argument("--task", default="ner")
    args = parser.parse_args()
    store = Store(args.store, readonly=True)
    metrics = export_rows(store, "metrics", task=args.task, latest=True)
    for metric in metrics:
        if metric["name"] != "f1" or metric["breakdown"]:
            continue
        rows = export_rows(store, "predictions", run_ids=[metric["run_id"]])
        reference = evaluate(conlleval_lines(rows))["overall"]["chunks"]["evals"]["f1"]
        print(
            f"{args.task} {metric['split']} {metric['model']}: harness F1 {metric['value']:.6f}  "
            f"conlleval F1 {reference:.6f}  |diff| {abs(metric['value'] - reference):.2e}  (n={len(rows)})"
        )


if __name__ == "__main__":
    main()
