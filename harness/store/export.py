"""Export metrics and per-example predictions from the store as JSONL or CSV."""
from __future__ import annotations

import csv
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Sequence

from harness.core.processes import current_umask
from harness.core.publishing import hide_paths_in, text_allowed
from harness.errors import HarnessError
from harness.store.store import Store

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("jsonl", "csv")
WHAT = ("metrics", "predictions")


def select_runs(store: Store, run_ids: Sequence[int] | None, task: str | None, model: str | None, latest: bool) -> pd.DataFrame:
    """The runs ``--run``, ``--task``, ``--model`` and ``--latest`` select (one-line errors
    naming what the store holds where a name matches nothing)."""
    if run_ids:
        runs = store.runs()
        missing = set(run_ids) - set(runs["id"])
        if missing:
            raise HarnessError(f"No run with id {', '.join(map(str, sorted(missing)))} in {store.path}")
        runs = runs[runs["id"].isin(run_ids)]
    else:
        runs = store.latest_runs() if latest else store.runs()
    if task:
        runs = runs[runs["task"].isin(_matching(runs["task"], task, "task", store, registered=_task_names(task)))]
    if model:
        runs = runs[runs["model"].isin(_matching(runs["model"], model, "model", store))]
    return runs


def clean_runs_of(store: Store, model: str) -> pd.DataFrame:
    """``model``'s newest run on each task without noise added (what a model card or an lm-eval
    results file reports); a one-line error naming the store's models where it has none."""
    runs = store.latest_runs()
    mine = runs[(runs["model"] == model) & runs["settings"].map(lambda s: not (s or {}).get("perturbation"))] \
        if not runs.empty else runs
    if mine.empty:
        known = ", ".join(sorted(set(runs["model"]))[:12]) if not runs.empty else "none"
        raise HarnessError(f"No clean run of model {model!r} in {store.path} (its models: {known})")
    return mine


def _task_names(name: str) -> list[str]:
    """The registered tasks ``name`` stands for (an alias or a group), or none."""
    from harness.core.task import resolve_tasks

    try:
        return [task.name for task in resolve_tasks([name])]
    except HarnessError:
        return []


def _matching(column, name: str, what: str, store: Store, registered: Sequence[str] = ()) -> list[str]:
    """The values of ``column`` that ``name`` means: itself, the tasks it stands for, or the
    same name in other letter case; a one-line error naming what the store holds when none."""
    present = list(dict.fromkeys(column))
    for wanted in ([name], list(registered), [v for v in present if v.casefold() == name.casefold()]):
        found = [v for v in present if v in wanted]
        if found:
            return found
    shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
    raise HarnessError(f"No run of {what} {name!r} in {store.path} (its {what}s: {shown or 'none'})")


def export_rows(
    store: Store,
    what: str,
    *,
    run_ids: Sequence[int] | None = None,
    task: str | None = None,
    model: str | None = None,
    latest: bool = False,
    publish: bool = False,
) -> list[dict[str, Any]]:
    """Rows of metrics or predictions for the selected runs.

    Prediction rows carry the input (tokens for NER), the reference (gold tags) and
    the model's output (predicted tags), plus per-label scores, ranked candidates (top-k)
    and details (log-likelihoods, grounding) where the model gave them. ``publish`` applies
    the published site's rules: no path of this machine, and no example text (input,
    reference, output) of a dataset whose licence forbids republishing it (``text_withheld``
    says where; every number stays).
    """
    if what not in WHAT:
        raise HarnessError(f"Cannot export {what!r}; expected one of {', '.join(WHAT)}")
    runs = select_runs(store, run_ids, task, model, latest)
    ids = [int(i) for i in runs["id"]]
    shown = hide_paths_in if publish else (lambda value: value)
    if what == "metrics":
        df = store.metrics(ids)
        columns = ["run_id", "task", "split", "data_source", "model", "name", "breakdown", "value", "ci_low", "ci_high", "n"]
        return [shown({c: plain(row[c]) for c in columns}) for _, row in df.iterrows()]
    withheld = {int(run["id"]) for _, run in runs.iterrows()
                if not text_allowed((run["provenance"] or {}).get("task") or {}, publish)}
    df = store.predictions(ids)
    rows = []
    for _, row in df.iterrows():
        prediction = row["prediction"]
        hidden = int(row["run_id"]) in withheld
        text = (lambda value: None if hidden else value)  # noqa: E731
        rows.append(shown(
            {
                "run_id": int(row["run_id"]),
                "task": row["task"],
                "split": row["split"],
                "model": row["model"],
                "position": int(row["position"]),
                "example_id": row["example_id"],
                "input": text(row["input"]),
                "reference": text(row["reference"]),
                "prediction": text(prediction["output"]),
                "correct": bool(row["correct"]),
                "scores": prediction.get("scores"),
                "raw": text(prediction.get("raw")),
                "candidates": text(prediction.get("candidates")),
                "details": text(prediction.get("details")),
                **({"text_withheld": hidden} if publish else {}),
            }
        ))
    return rows


def plain(value: Any) -> Any:
    """A JSON-able value: numpy scalars as Python numbers, NaN as None."""
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


def write_export(rows: Iterable[dict[str, Any]], fmt: str, target: str | Path) -> int:
    """Write rows to the file ``target`` whole or not at all (see :func:`_written_whole`)."""
    return _written_whole(target, lambda out: write_rows(rows, fmt, out))


def write_text(target: str | Path, text: str) -> None:
    """Write ``text`` (a model card) to the file ``target`` whole or not at all."""
    _written_whole(target, lambda out: out.write(text))


def _written_whole(target: str | Path, write) -> Any:
    """Call ``write(file)`` on a file beside ``target`` and rename it into place, so a full disk
    leaves no partial file (and an earlier export there as it was); a device or pipe is
    written directly. A failure is one line. Returns what ``write`` returned."""
    target = Path(target)
    if target.exists() and not target.is_file():  # /dev/stdout, a pipe, /dev/full
        try:
            with open(target, "w", encoding="utf-8", newline="") as out:
                return write(out)
        except OSError as exc:
            raise HarnessError(f"{target}: could not write the export ({exc.strerror or exc})") from None
    partial = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=target.parent or ".", delete=False,
                                         prefix=f".{target.name}.", suffix=".partial") as out:
            partial = Path(out.name)
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        # the mode of the export it replaces, else what the umask gives a new file (not
        # the temporary file's 0600)
        os.chmod(partial, stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~current_umask())
        os.replace(partial, target)
        return result
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise HarnessError(f"{target}: could not write the export ({exc.strerror or exc}); nothing was written "
                           "there") from None


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
