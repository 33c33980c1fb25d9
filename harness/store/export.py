"""Export metrics and per-example predictions from the store as JSONL or CSV."""
from __future__ import annotations

import csv
import json
from typing import IO, Any, Iterable, Sequence

from harness.errors import HarnessError
from harness.store.store import Store

FORMATS = ("jsonl", "csv")
WHAT = ("metrics", "predictions")


def _select_runs(store: Store, run_ids: Sequence[int] | None, task: str | None, model: str | None, latest: bool) -> list[int]:
    if run_ids:
        runs = store.runs()
        missing = set(run_ids) - set(runs["id"])
        if missing:
            raise HarnessError(f"No run with id {', '.join(map(str, sorted(missing)))} in {store.path}")
        runs = runs[runs["id"].isin(run_ids)]
    else:
        runs = store.latest_runs() if latest else store.runs()
    if task:
        runs = runs[runs["task"] == task]
    if model:
        runs = runs[runs["model"] == model]
    return [int(i) for i in runs["id"]]


def export_rows(
    store: Store,
    what: str,
    *,
    run_ids: Sequence[int] | None = None,
    task: str | None = None,
    model: str | None = None,
    latest: bool = False,
) -> list[dict[str, Any]]:
    """Rows of metrics or predictions for the selected runs.

    Prediction rows carry the input (tokens for NER), the reference (gold tags) and
    the model's output (predicted tags), plus per-label scores, ranked candidates (top-k)
    and details (log-likelihoods, grounding) where the model gave them.
    """
    if what not in WHAT:
        raise HarnessError(f"Cannot export {what!r}; expected one of {', '.join(WHAT)}")
    ids = _select_runs(store, run_ids, task, model, latest)
    if what == "metrics":
        df = store.metrics(ids)
        columns = ["run_id", "task", "split", "data_source", "model", "name", "breakdown", "value", "ci_low", "ci_high", "n"]
        return [{c: _plain(row[c]) for c in columns} for _, row in df.iterrows()]
    df = store.predictions(ids)
    rows = []
    for _, row in df.iterrows():
        prediction = row["prediction"]
        rows.append(
            {
                "run_id": int(row["run_id"]),
                "task": row["task"],
                "split": row["split"],
                "model": row["model"],
                "position": int(row["position"]),
                "example_id": row["example_id"],
                "input": row["input"],
                "reference": row["reference"],
                "prediction": prediction["output"],
                "correct": bool(row["correct"]),
                "scores": prediction.get("scores"),
                "raw": prediction.get("raw"),
                "candidates": prediction.get("candidates"),
                "details": prediction.get("details"),
            }
        )
    return rows


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN -> null
        return None
    return value


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write rows as JSONL or CSV (lists and dicts JSON-encoded in CSV cells); returns the count."""
    if fmt not in FORMATS:
        raise HarnessError(f"Unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    rows = list(rows)
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return len(rows)
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return len(rows)


#: A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: lists and dicts JSON-encoded; text a spreadsheet would run as a formula
    (``=HYPERLINK(...)``, ``+1``, ``-2``, ``@SUM``) prefixed with ``'`` so it stays text."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
