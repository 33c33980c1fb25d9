"""Result records: one publish-safe file per finished run, which boards are built from.

A record holds everything the report needs of a run but the examples themselves: the run's
identity, settings, provenance and timing, its metric rows with their intervals, and one
entry per scored example — its id, a digest of its input and gold answer, whether the answer
was right, and the answer. The examples are read back from the local dataset when a board is
built, and each digest is checked (:mod:`harness.report.records`).

Nothing a publisher may not share: no path of the machine (hidden as the published site hides
them), no secret (the store redacts them), no prompt, and for a dataset whose licence forbids
republishing its text (CoNLL-2003) no model text either — raw answers, candidates and the
strings of details are withheld, and the answer itself where the task's kind answers with
text (a corrected word); labels, tags and option numbers stay.

Names are content addresses: ``<task>--<model>--<digest>.json.gz``, the digest taken over
what decides the answers and the answers themselves (not timing, not the machine), so the same
run from two machines is one file and the folder only grows. The format is versioned
(:data:`RECORD_FORMAT`); docs/records.md states it.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from harness.core.model import current_code_identity
from harness.core.publishing import hide_paths, hide_paths_in, text_allowed
from harness.core.task import get_task
from harness.errors import HarnessError
from harness.store.export import plain
from harness.store.store import Store, row_key

#: the version of the record format; a reader refuses records of a format it does not know
RECORD_FORMAT = 1
SUFFIX = ".json.gz"
#: the runs table's columns a record keeps (``id`` and ``selection_key`` are the store's own:
#: the selection key digests the data's location, which differs between machines)
RUN_FIELDS = ("created_at", "task", "task_version", "kind", "dataset", "split", "data_source", "data_location", "model",
              "model_identity", "settings", "cache_key", "n", "seed", "headline", "wall_time_s", "compute_time_s",
              "examples_per_s", "cached", "provenance")
#: prediction fields that carry model text, withheld where the dataset's text may not be republished
TEXT_FIELDS = ("raw", "candidates")


def example_digest(input_json: str, reference_json: str) -> str:
    """Digest of an example's input and gold answer as the store writes them (JSON text)."""
    return hashlib.sha256(f"{input_json}\n{reference_json}".encode()).hexdigest()[:16]


def _strings_withheld(value: Any) -> Any:
    """``value`` with every string inside it replaced by None (numbers, flags and shape kept)."""
    if isinstance(value, dict):
        return {k: _strings_withheld(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings_withheld(v) for v in value]
    return None if isinstance(value, str) else value


#: what a withheld answer is recorded as: which part of the example it equals (the builder
#: puts that text back from the local data), or neither (its text is lost: shown as "…")
WITHHELD = "withheld"


def withheld_answer(output: Any, input_value: Any, reference: Any) -> dict[str, Any]:
    """A text answer without its text: the gold answer it equals (by index; case and
    surrounding space ignored), the input (left unchanged), or neither. Scores that only compare the answer with the gold and the input
    (accuracy over misspellings, changed words) come out the same from the local data."""
    references = [_folded(r) for r in (reference if isinstance(reference, list) else [reference])]
    if _folded(output) in references:
        return {WITHHELD: "reference", "index": references.index(_folded(output))}
    return {WITHHELD: "input" if _folded(output) == _folded(input_value) else "other"}


def _folded(text: Any) -> Any:
    """Text compared as scorers compare answers: case and surrounding space ignored."""
    return " ".join(text.split()).casefold() if isinstance(text, str) else text


def restored_answer(output: Any, input_value: Any, reference: Any) -> Any:
    """The answer :func:`withheld_answer` recorded, its text read back from the local example."""
    if not (isinstance(output, dict) and WITHHELD in output):
        return output
    if output[WITHHELD] == "reference":
        references = reference if isinstance(reference, list) else [reference]
        return references[output["index"]]
    return input_value if output[WITHHELD] == "input" else "…"


def shared_prediction(prediction: dict[str, Any], *, text_shown: bool, answers_quote_text: bool,
                      input_value: Any = None, reference: Any = None) -> dict[str, Any]:
    """The part of a stored prediction a record keeps: never the prompt; where the dataset's
    text may not be shown, no model text (raw answer, candidates, the strings of details) and
    no answer that quotes it (recorded as the part of the example it equals:
    :func:`withheld_answer`)."""
    kept = {k: v for k, v in prediction.items() if k != "prompt"}
    if text_shown:
        return kept
    for name in TEXT_FIELDS:
        if kept.get(name) is not None:
            kept[name] = None
    if kept.get("details") is not None:
        kept["details"] = _strings_withheld(kept["details"])
    if answers_quote_text:
        output = kept.get("output")
        kept["output"] = (withheld_answer(output, input_value, reference) if isinstance(output, str)
                          else _strings_withheld(output))
    return kept


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def cell_key(record: dict[str, Any]) -> str:
    """What makes two records the same cell: the cache key (model identity, task and version,
    settings) and the examples scored, by id and digest."""
    return hashlib.sha256(_canonical([record["run"]["cache_key"], [e[:2] for e in record["examples"]]])).hexdigest()[:32]


def results_digest(record: dict[str, Any]) -> str:
    """Digest of a record's results: metric rows and per-example answers."""
    return hashlib.sha256(_canonical([record["metrics"], record["examples"]])).hexdigest()[:32]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "-", text).strip("-")[:60] or "run"


def record_name(record: dict[str, Any]) -> str:
    """The record's file name: task, model and a digest of its cell and results."""
    digest = hashlib.sha256(f"{cell_key(record)}:{results_digest(record)}".encode()).hexdigest()[:16]
    return f"{_slug(record['run']['task'])}--{_slug(record['run']['model'])}--{digest}{SUFFIX}"


def records_of(store: Store, run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The record of each run of ``run_ids`` (as :func:`record_of` builds it), in order."""
    from harness.kinds import get_kind

    runs = store.runs()
    runs = runs[runs["id"].isin([int(i) for i in run_ids])]
    metrics = store.metrics([int(i) for i in runs["id"]])
    rows: dict[int, list] = {}
    for row in store.raw_predictions([int(i) for i in runs["id"]]):
        rows.setdefault(int(row[0]), []).append(row[1:])
    out = []
    for _, run in runs.iterrows():
        run_id = int(run["id"])
        text_shown = text_allowed((run["provenance"] or {}).get("task") or {}, True)
        try:
            quotes = get_kind(run["kind"]).answers_quote_text
        except HarnessError:  # a kind not installed here: withhold what it answers
            quotes = True
        mine = metrics[metrics["run_id"] == run_id]
        out.append({
            "format": RECORD_FORMAT,
            "run": {name: plain(run[name]) for name in RUN_FIELDS} | {
                "data_location": hide_paths(run["data_location"]), "model": hide_paths(run["model"]),
                "model_identity": hide_paths_in(run["model_identity"]), "settings": hide_paths_in(run["settings"]),
                "provenance": hide_paths_in(run["provenance"])},
            "text_withheld": not text_shown,
            "metrics": [[m["name"], m["breakdown"], plain(m["value"]), plain(m["ci_low"]), plain(m["ci_high"]),
                         plain(m["n"])] for _, m in mine.iterrows()],
            "examples": [[example_id, example_digest(input_json, reference_json), bool(correct),
                          hide_paths_in(shared_prediction(json.loads(prediction), text_shown=text_shown,
                                                          answers_quote_text=quotes, input_value=json.loads(input_json),
                                                          reference=json.loads(reference_json)))]
                         for example_id, input_json, reference_json, prediction, correct in rows.get(run_id, [])],
        })
    return out


def write_record(record: dict[str, Any], folder: str | Path) -> tuple[Path, bool]:
    """Write ``record`` into ``folder`` under its content address unless a file of that name is
    there already (the same run, from this machine or another); returns the path and whether
    it was written. Gzip without a timestamp: the same record is the same bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record_name(record)
    if path.exists():
        return path, False
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode())
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HarnessError(f"{path}: could not write the record ({exc.strerror or exc})") from None
    return path, True


def export_records(store: Store, run_ids: Sequence[int], folder: str | Path) -> tuple[int, int]:
    """Write the records of ``run_ids`` into ``folder``; returns (written, already there)."""
    written = present = 0
    for record in records_of(store, run_ids):
        _, new = write_record(record, folder)
        written, present = written + new, present + (not new)
    return written, present


@dataclass
class LoadedRecord:
    """A record read from its file."""

    path: Path
    record: dict[str, Any]

    @property
    def label(self) -> str:
        """The file's name (what errors name)."""
        return self.path.name


def read_records(folders: Iterable[str | Path]) -> list[LoadedRecord]:
    """Every record in ``folders`` (a missing folder holds none), each checked for its format;
    a file that is not a record is a one-line error naming it."""
    loaded = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            try:
                with gzip.open(path, "rb") as handle:
                    record = json.loads(handle.read())
            except (OSError, EOFError, ValueError) as exc:
                raise HarnessError(f"{path}: not a result record ({exc})") from None
            version = record.get("format") if isinstance(record, dict) else None
            if version != RECORD_FORMAT:
                raise HarnessError(f"{path}: record format {version!r}; this harness reads format {RECORD_FORMAT} "
                                   "(upgrade harness, or rewrite the record with `harness export --format records`)")
            for key in ("run", "metrics", "examples"):
                if key not in record:
                    raise HarnessError(f"{path}: a result record without {key!r}")
            loaded.append(LoadedRecord(path, record))
    return loaded


def merged(records: Sequence[LoadedRecord]) -> list[LoadedRecord]:
    """One record per cell, oldest run first: copies of one record (the same file in two
    folders) count once; two records of one cell with different results are a one-line error
    naming both."""
    by_cell: dict[str, LoadedRecord] = {}
    for loaded in records:
        key = cell_key(loaded.record)
        seen = by_cell.get(key)
        if seen is None:
            by_cell[key] = loaded
        elif results_digest(seen.record) != results_digest(loaded.record):
            run = loaded.record["run"]
            raise HarnessError(f"Records {seen.path} and {loaded.path} hold the same cell ({run['task']} x {run['model']}) "
                               "with different results; keep the one you trust and delete the other")
    return sorted(by_cell.values(), key=lambda r: (str(r.record["run"].get("created_at") or ""), r.label))


def outdated(record: LoadedRecord) -> str | None:
    """Why a record's answers are not what the installed code gives (its model's answers
    version, or its task's version, was bumped since), or None. Models and tasks not installed
    here are taken as recorded."""
    run = record.record["run"]
    try:
        version = get_task(run["task"]).version
    except HarnessError:
        version = run["task_version"]
    if str(version) != str(run["task_version"]):
        return f"task {run['task']} is at version {version}, the record at {run['task_version']}"
    now = current_code_identity(hide_paths(run["model"]))
    identity = run.get("model_identity") or {}
    changed = {key: value for key, value in (now or {}).items() if identity.get(key) != value}
    if changed:
        old = ", ".join(f"{identity.get(k)}" for k in changed)
        return f"{run['model']} answers as {', '.join(map(str, changed.values()))} now, the record as {old}"
    return None


class RecordIndex:
    """The cells the records of a folder fill with the answers of the code installed now
    (outdated records left out), each with the examples it scored (id and digest)."""

    def __init__(self, records: Sequence[LoadedRecord]):
        self.records = [r for r in records if outdated(r) is None]
        self.outdated = [r for r in records if outdated(r) is not None]
        self._examples: dict[tuple, list[tuple]] = {}
        for loaded in self.records:
            self._examples.setdefault(row_key(loaded.record["run"]), []).append(
                tuple((e[0], e[1]) for e in loaded.record["examples"]))

    @classmethod
    def of(cls, folder: str | Path | None) -> RecordIndex:
        """The index of ``folder``'s records (empty where there is no folder)."""
        return cls(read_records([folder]) if folder is not None else [])

    def __contains__(self, key: tuple) -> bool:
        return key in self._examples

    def fills(self, key: tuple, examples: Sequence[tuple[str, str]]) -> bool:
        """Whether a record fills cell ``key`` with exactly these examples (id, digest)."""
        return tuple(examples) in self._examples.get(key, [])

    def runs(self) -> list[dict[str, Any]]:
        """The ``run`` part of each current record."""
        return [loaded.record["run"] for loaded in self.records]
