"""A board from result records plus the local data (``harness report --records``).

The records (:mod:`harness.store.records`) hold no example: each run's examples are read from
the local dataset (the task's split, from ``--data-dir``; with the run's noise added again, as
it is seeded by example), each one's digest checked against the record's, and the runs go into
a temporary store that the report is rendered from like any other. A digest that does not
match is one error naming the record, the task and the first example that differs: the data
changed since the run, and a board never mixes the two.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from harness.core.example import Example
from harness.core.task import get_task
from harness.data.perturb import Perturbation
from harness.errors import HarnessError
from harness.kinds import kind_of
from harness.store.records import WITHHELD, LoadedRecord, cell_key, example_digest, merged, outdated, read_records, restored_answer
from harness.store.store import Store, example_json


def _local_examples(run: dict[str, Any], data_dir: str | Path | None, loaded: dict) -> dict[str, Example]:
    """The examples of a record's run, by id, read from the local data (noise added again for
    a noisy run); loaded once per (task, split, source, noise)."""
    settings = run.get("settings") or {}
    noise = settings.get("perturbation")
    key = (run["task"], run["split"], run["data_source"], json.dumps(noise, sort_keys=True))
    if key not in loaded:
        task = get_task(run["task"])
        examples = task.load(run["split"], data_dir=data_dir, source=run["data_source"]).examples
        if noise:
            perturbation, kind = Perturbation(noise["name"], float(noise["rate"])), kind_of(task)
            examples = [kind.noise.perturb(task, e, perturbation.noise(int(run["seed"]), e.id)) for e in examples]
        loaded[key] = {e.id: e for e in examples}
    return loaded[key]


def _rows(loaded: LoadedRecord, examples: dict[str, Example]) -> list[tuple]:
    """The record's prediction rows with each example's input, gold and metadata from the local
    data; a one-line error at the first example that is missing there or differs."""
    run = loaded.record["run"]
    where = f"{run['task']} ({run['split']}, {run['data_source']})"
    rows = []
    for example_id, digest, correct, prediction in loaded.record["examples"]:
        example = examples.get(example_id)
        if example is None:
            raise HarnessError(f"Record {loaded.label}: example {example_id!r} of {where} is not in the local data; "
                               "the dataset changed since the run (or --data-dir points at another copy)")
        input_json, reference_json, meta = example_json(example)
        if example_digest(input_json, reference_json) != digest:
            raise HarnessError(f"Record {loaded.label}: example {example_id!r} of {where} differs from the local data "
                               "(digest mismatch): the dataset changed since the run; rerun the cell or restore the data")
        if isinstance(prediction.get("output"), dict) and WITHHELD in prediction["output"]:
            prediction = {**prediction, "output": restored_answer(prediction["output"], example.input, example.reference)}
        rows.append((example_id, input_json, reference_json, json.dumps(prediction, ensure_ascii=False), int(correct), meta))
    return rows


def fill_store(store: Store, records: Sequence[LoadedRecord], data_dir: str | Path | None) -> tuple[int, list[str]]:
    """Put ``records`` (merged: one per cell) into ``store``, oldest first, their examples read
    from the local data, leaving out those the installed code answers differently now
    (:func:`outdated`: their cells are missing again). Returns how many runs went in and, for
    each record left out, its name and why."""
    loaded: dict = {}
    count, left_out = 0, []
    for record in merged(records):
        reason = outdated(record)
        if reason is not None:
            left_out.append(f"{record.label}: {reason}")
            continue
        run = dict(record.record["run"])
        rows = _rows(record, _local_examples(run, data_dir, loaded))
        columns = {**run, "selection_key": cell_key(record.record)}
        for name in ("model_identity", "settings", "provenance"):
            columns[name] = json.dumps(columns[name], sort_keys=True, default=str)
        store.add_run(columns, record.record["metrics"], rows)
        count += 1
    return count, left_out


@contextmanager
def store_from_records(folders: Sequence[str | Path], data_dir: str | Path | None) -> Iterator[tuple[Store, list[str]]]:
    """A temporary store holding the records of ``folders`` with their examples from the local
    data (deleted afterwards), and the records left out as outdated (see :func:`fill_store`);
    a one-line error when the folders hold no record."""
    records = read_records(folders)
    if not records:
        raise HarnessError(f"No result record in {', '.join(str(f) for f in folders)}; write them with "
                           "`harness run --suite FILE` or `harness export --format records --out FOLDER`")
    with tempfile.TemporaryDirectory(prefix="harness-records-") as tmp:
        store = Store(Path(tmp) / "records.sqlite")
        try:
            _, left_out = fill_store(store, records, data_dir)
            yield store, left_out
        finally:
            store.close()
