"""The results store: one SQLite file with runs, metrics, per-example predictions, and the prediction cache.

The file carries its schema version (``PRAGMA user_version``) and a random store id. A store
written by an earlier release is upgraded in place when opened for writing; a damaged or
foreign file is a one-line error and is never modified. ``report`` and ``export`` open the
store read-only: they never create or change a file, and work on read-only media.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Iterator, Sequence

from harness.core.example import Example, Prediction
from harness.core.prompts import DEFAULT_PROMPT
from harness.core.publishing import hide_paths
from harness.core.scores import Scores
from harness.core.secrets import mask_credentials, redact_json
from harness.errors import HarnessError
from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION, migrate

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_STORE = "harness.sqlite"
#: seconds a writer waits for another writer's lock before giving up
BUSY_TIMEOUT_S = 600.0


@functools.cache
def required_columns(version: int = 1) -> dict[str, frozenset[str]]:
    """Table -> the columns a store of schema ``version`` has (a store lacking one is damaged,
    not old): those its first ``version`` migrations create (the first one for stores of the
    first releases, which carry version 0)."""
    db = sqlite3.connect(":memory:")
    for step in MIGRATIONS[: max(1, min(version, SCHEMA_VERSION))]:
        step(db)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if row[0] != "sqlite_sequence"]
    return {table: frozenset(row[1] for row in db.execute(f"PRAGMA table_info({table})")) for table in tables}


@dataclass
class RunRecord:
    """One finished run, as the ``runs`` table holds it (the store owns this shape)."""

    task: str
    task_version: str
    kind: str
    dataset: str
    split: str
    data_source: str
    data_location: str
    #: the leaderboard row's label (model name plus any option or shot tags)
    model: str
    model_identity: dict[str, Any]
    settings: dict[str, Any]
    cache_key: str
    #: digest of which examples were scored (one record per cache key and selection)
    selection_key: str
    n: int
    seed: int
    wall_time_s: float
    compute_time_s: float
    examples_per_s: float | None
    cached: int
    provenance: dict[str, Any] = field(default_factory=dict)

    def columns(self, headline: str) -> dict[str, Any]:
        """The row to insert: JSON columns encoded, the headline metric's name added."""
        # no secret is ever stored: the values that can hold one (identity, settings, provenance)
        # are redacted; names (task, model, dataset) only lose a URL's credentials
        row = {name: mask_credentials(value) for name, value in asdict(self).items()}
        for name in ("model_identity", "settings", "provenance"):
            row[name] = json.dumps(redact_json(row[name]), sort_keys=True, default=str)
        row["headline"] = headline
        return row


def example_json(example: Example) -> tuple[str, str, str | None]:
    """An example's input, reference and metadata as the predictions table holds them (JSON
    text; None for no metadata): what result records digest and read back."""
    meta = json.dumps(example.meta, ensure_ascii=False, default=str) if example.meta else None
    return json.dumps(example.input, ensure_ascii=False), json.dumps(example.reference, ensure_ascii=False), meta


def default_store_path() -> Path:
    """``$HARNESS_STORE`` if set, else ``harness.sqlite`` in the working directory."""
    return Path(os.environ.get("HARNESS_STORE") or DEFAULT_STORE)


def cache_key(model_identity: dict[str, Any], task_name: str, task_version: str, settings: dict[str, Any]) -> str:
    """Digest of everything a prediction depends on except the example itself."""
    blob = json.dumps(
        {"model": model_identity, "task": task_name, "task_version": task_version, "settings": settings},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _in(column: str, values: Sequence[Any] | None) -> tuple[str, list[Any]] | None:
    """A ``column IN (...)`` condition, or None when there is nothing to filter on."""
    if values is None:
        return None
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def _where(conditions: list[tuple[str, list[Any]] | None]) -> tuple[str, list[Any]]:
    """A WHERE clause and its parameters from the conditions that are not None."""
    present = [c for c in conditions if c is not None]
    if not present:
        return "", []
    return " WHERE " + " AND ".join(sql for sql, _ in present), [p for _, ps in present for p in ps]


def _guarded(method):
    """Turn SQLite failures inside a store method into one-line errors naming the store."""

    @functools.wraps(method)
    def wrapper(self: Store, *args, **kwargs):
        with self.guard():
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """A results store in one SQLite file.

    ``readonly=False`` (``harness run``) creates the file on first use and upgrades a store
    written by an earlier release; ``readonly=True`` (``report``, ``export``) needs an
    existing store and never writes.
    """

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False):
        self.path = Path(path) if path else default_store_path()
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise HarnessError(f"{self.path}: no such results store; `harness run` writes one first (or pass --store "
                               "FILE, or set $HARNESS_STORE, to read another)")
        if not readonly and self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.guard():
            self.db = self._connect()
            self._check_schema()

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            db.execute("PRAGMA foreign_keys=ON")
            return db
        uri = self.path.resolve().as_uri()
        # A reader opens the file read-write but may only query: the last connection to close
        # then checkpoints the write-ahead log and removes -wal and -shm, as a writer does
        # (a read-only connection would leave them beside the store).
        for mode, pragma in (("rw", "PRAGMA query_only=ON"), ("ro", None)):
            try:
                db = sqlite3.connect(f"{uri}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S)
                if pragma:
                    db.execute(pragma)
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.OperationalError:
                continue
        # Read-only media: a WAL store cannot even be read without creating its -shm file.
        # immutable=1 reads the main file as it is, which misses what a -wal file still holds:
        # then the two are read from a copy.
        wal = Path(f"{self.path}-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            return self._connect_copy(wal)
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db

    def _connect_copy(self, wal: Path) -> sqlite3.Connection:
        """A read-only store whose -wal file holds committed transactions: both files copied to a
        temporary folder (removed when the store is closed) and read there, WAL included."""
        import shutil
        import tempfile
        import weakref

        folder = Path(tempfile.mkdtemp(prefix="harness-store-"))
        weakref.finalize(self, shutil.rmtree, folder, True)
        copy = folder / self.path.name
        try:
            shutil.copyfile(self.path, copy)
            shutil.copyfile(wal, f"{copy}-wal")
        except OSError as exc:
            raise HarnessError(f"{self.path}: read-only, and its write-ahead log {wal.name} holds changes that could not be "
                               f"read from a copy ({exc.strerror or exc}); open it once where it can be written") from None
        db = sqlite3.connect(f"{copy.as_uri()}?mode=rw", uri=True)
        db.execute("PRAGMA query_only=ON")
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db

    def _check_schema(self) -> None:
        try:
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise HarnessError(f"{self.path}: not a harness results store ({exc})") from None
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        ours = set(required_columns())
        if not tables & ours:
            if tables - {"sqlite_sequence"}:
                raise HarnessError(f"{self.path}: not a harness results store (it holds tables {', '.join(sorted(tables))}); "
                                   "it was left untouched")
            if self.readonly:
                raise HarnessError(f"{self.path}: an empty file, not a harness results store")
            self._create()
            return
        expected = required_columns(version)
        missing = sorted(set(expected) - tables)
        if missing:
            raise HarnessError(f"{self.path}: damaged results store: table {', '.join(missing)} is missing; "
                               "it was left untouched (restore it from a backup or use another --store)")
        for table, columns in expected.items():
            found = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            if columns - found:
                raise HarnessError(f"{self.path}: damaged results store: table {table} lacks column(s) "
                                   f"{', '.join(sorted(columns - found))}; it was left untouched")
        if version > SCHEMA_VERSION:
            raise HarnessError(f"{self.path}: written by a newer harness (store schema {version}, this release reads "
                               f"up to {SCHEMA_VERSION}); upgrade harness")
        if not self.readonly and (version < SCHEMA_VERSION or "_migrations" not in tables):
            self._migrate()

    def _create(self) -> None:
        # Switching the journal mode takes the file's exclusive lock without SQLite's busy
        # handler: two runs creating one store at once see "database is locked" at once, so
        # wait here as the busy timeout would (the other one's switch and schema take moments).
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._migrate()

    def _migrate(self) -> None:
        """Apply the migrations the store lacks (:mod:`harness.store.migrations`: all of them for
        a new store), keeping every run, in one transaction; another writer may have applied them."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            migrate(self.db)
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's failures into one-line :class:`HarnessError` s naming this store."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "full" in text:
                raise HarnessError(f"{self.path}: the disk is full ({text}); what was committed before is kept, "
                                   "free some space and rerun the same command to resume") from None
            if "locked" in text or "busy" in text:
                raise HarnessError(f"{self.path}: another process held the store's lock for over "
                                   f"{BUSY_TIMEOUT_S:.0f} s ({text}); rerun the same command to resume") from None
            if "readonly" in text or "read-only" in text:
                raise HarnessError(f"{self.path}: cannot write the store ({text})") from None
            if "unable to open" in text:
                raise HarnessError(f"{self.path}: cannot open the store ({text})") from None
            raise HarnessError(f"{self.path}: damaged results store ({text})") from None
        except sqlite3.DatabaseError as exc:  # "database disk image is malformed", "file is not a database"
            raise HarnessError(f"{self.path}: damaged results store ({exc}); it was left as it is") from None
        except Exception as exc:  # pandas wraps SQLite's errors in its own DatabaseError
            if type(exc).__name__ == "DatabaseError" and isinstance(exc.__cause__ or exc.__context__, sqlite3.Error):
                cause = exc.__cause__ or exc.__context__
                raise HarnessError(f"{self.path}: damaged results store ({cause}); it was left as it is") from None
            raise

    @property
    @_guarded
    def store_id(self) -> str:
        """A random id given to the store when it was created (a site remembers which store built it)."""
        if self.db.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone():
            row = self.db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
            if row:
                return row[0]
        return "unversioned-" + hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]

    def close(self) -> None:
        """Close the connection (the last one to close a store checkpoints its write-ahead log)."""
        with self.guard():
            self.db.close()

    # -- prediction cache -------------------------------------------------
    @_guarded
    def cached(self, key: str, example_keys: Iterable[str]) -> dict[str, tuple[Prediction, float]]:
        """Cached (prediction, seconds) for those of ``example_keys`` already computed under ``key``."""
        wanted = set(example_keys)
        rows = self.db.execute("SELECT example_key, prediction, seconds FROM cache WHERE cache_key = ?", (key,))
        return {
            ek: (Prediction.from_json(json.loads(pred)), seconds) for ek, pred, seconds in rows if ek in wanted
        }

    @_guarded
    def put_cached(self, key: str, examples: Sequence[Example], predictions: Sequence[Prediction], seconds: float) -> None:
        """Store a batch of fresh predictions and commit at once, so a killed run keeps them."""
        each = seconds / max(1, len(examples))
        rows = [(key, e.key, json.dumps(p.to_json(), ensure_ascii=False), each) for e, p in zip(examples, predictions)]
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO cache (cache_key, example_key, prediction, seconds) VALUES (?, ?, ?, ?)", rows
            )

    # -- request cache (decoder engines) --------------------------------------
    @_guarded
    def cached_requests(self, engine_key: str, request_keys: Sequence[str]) -> dict[str, tuple[Any, float]]:
        """(output, seconds) of those requests an engine already answered."""
        found: dict[str, tuple[Any, float]] = {}
        keys = list(dict.fromkeys(request_keys))
        for start in range(0, len(keys), 500):  # SQLite's limit on parameters
            part = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT request_key, output, seconds FROM requests WHERE engine_key = ? AND request_key IN "
                f"({', '.join('?' for _ in part)})", [engine_key, *part])
            found.update({key: (json.loads(output), seconds) for key, output, seconds in rows})
        return found

    @_guarded
    def all_requests(self, engine_key: str) -> dict[str, tuple[Any, float]]:
        """Every (output, seconds) an engine answered, by request key (sent to Ray workers)."""
        rows = self.db.execute("SELECT request_key, output, seconds FROM requests WHERE engine_key = ?", (engine_key,))
        return {key: (json.loads(output), seconds) for key, output, seconds in rows}

    @_guarded
    def put_requests(self, engine_key: str, outputs: dict[str, tuple[Any, float]]) -> None:
        """Store engine outputs (with their share of the engine's time) and commit at once."""
        # an answer is kept as it came: the plugin holding a secret masks it where the answer
        # arrives, knowing what it sent (harness.core.secrets.redact(text, sent=prompt)), so
        # no other model's answers are touched
        rows = [(engine_key, key, json.dumps(output), seconds) for key, (output, seconds) in outputs.items()]
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO requests (engine_key, request_key, output, seconds) VALUES (?, ?, ?, ?)", rows)

    @_guarded
    def count_cached(self, key: str) -> int:
        """How many predictions are cached under ``key``."""
        return self.db.execute("SELECT COUNT(*) FROM cache WHERE cache_key = ?", (key,)).fetchone()[0]

    # -- runs --------------------------------------------------------------
    @_guarded
    def save_run(
        self,
        run: RunRecord,
        scores: Scores,
        examples: Sequence[Example],
        predictions: Sequence[Prediction],
        correct: Sequence[bool],
    ) -> int:
        """Record a finished run with its metrics and per-example predictions; returns the run id.
        One record per (cache key, selection): a rerun, or the same run finishing twice at once,
        replaces the earlier record."""
        columns = run.columns(scores.headline)
        return self._insert_run(
            columns,
            [(m.name, m.breakdown, m.value, m.ci_low, m.ci_high, m.n) for m in scores.metrics],
            [(e.id, input_json, reference_json, json.dumps(p.to_json(), ensure_ascii=False), int(ok), meta)
             for e, p, ok in zip(examples, predictions, correct)
             for input_json, reference_json, meta in [example_json(e)]],
            replacing=(columns["cache_key"], columns.get("selection_key")),
        )

    @_guarded
    def runs(self) -> pd.DataFrame:
        """All runs, newest last, JSON columns decoded."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM runs ORDER BY id", self.db)
        for name in ("model_identity", "settings", "provenance"):
            df[name] = df[name].map(json.loads)
        return df

    @_guarded
    def metrics(self, run_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """Metric rows (optionally only of ``run_ids``) joined with their run's task and model."""
        import pandas as pd

        query = (
            "SELECT m.*, r.task, r.split, r.model, r.data_source, r.n AS run_n FROM metrics m "
            "JOIN runs r ON r.id = m.run_id"
        )
        where, params = _where([_in("m.run_id", run_ids)])
        return pd.read_sql_query(query + where + " ORDER BY m.run_id, m.rowid", self.db, params=params)

    @_guarded
    def predictions(
        self, run_ids: Sequence[int] | None = None, *, wrong_only: bool = False, limit: int | None = None
    ) -> pd.DataFrame:
        """Per-example predictions (optionally only of ``run_ids``, only incorrect ones, at most
        ``limit``), JSON columns decoded. The filters run in SQL, so large runs stay cheap."""
        import pandas as pd

        query = "SELECT p.*, r.task, r.split, r.model FROM predictions p JOIN runs r ON r.id = p.run_id"
        where, params = _where([_in("p.run_id", run_ids), ("p.correct = 0", []) if wrong_only else None])
        query += where + " ORDER BY p.run_id, p.position"
        if limit is not None:
            query += " LIMIT ?"
            params.append(int(limit))
        df = pd.read_sql_query(query, self.db, params=params)
        for name in ("input", "reference", "prediction"):
            df[name] = df[name].map(json.loads)
        # stores written before schema 4 (read-only, so not upgraded) have no metadata
        df["meta"] = [json.loads(text) if text else {} for text in df["meta"]] if "meta" in df else [{}] * len(df)
        return df

    @_guarded
    def prediction_rows(self, run_ids: Sequence[int]) -> list[tuple[int, str, Any, Any, dict, bool, dict]]:
        """(run id, example id, input, reference, prediction, correct, metadata) of every
        prediction of ``run_ids``, in order, JSON decoded: what the report reads, without
        pandas (a large store has hundreds of thousands). Each example's input, reference and
        metadata are decoded once, however many models answered it."""
        where, params = _where([_in("run_id", run_ids)])
        rows = self.db.execute("SELECT * FROM predictions" + where + " ORDER BY run_id, position", params)
        names = [column[0] for column in rows.description]
        at = {name: names.index(name) for name in names}
        decoded: dict[str, Any] = {}

        def once(text: str | None) -> Any:
            if not text:
                return {}
            if text not in decoded:
                decoded[text] = json.loads(text)
            return decoded[text]

        meta = at.get("meta")
        return [(row[at["run_id"]], row[at["example_id"]], once(row[at["input"]]), once(row[at["reference"]]),
                 json.loads(row[at["prediction"]]), bool(row[at["correct"]]), once(row[meta]) if meta is not None else {})
                for row in rows]

    @_guarded
    def raw_predictions(self, run_ids: Sequence[int]) -> list[tuple[int, str, str, str, str, int]]:
        """(run id, example id, input, reference, prediction, correct) of every prediction of
        ``run_ids`` in order, the JSON columns as the store holds them (undecoded)."""
        where, params = _where([_in("run_id", run_ids)])
        return self.db.execute("SELECT run_id, example_id, input, reference, prediction, correct FROM predictions"
                               + where + " ORDER BY run_id, position", params).fetchall()

    @_guarded
    def add_run(self, columns: dict[str, Any], metrics: Sequence[Sequence[Any]], predictions: Sequence[Sequence[Any]]) -> int:
        """Insert a run as a record describes it: ``columns`` of the runs table (``created_at``
        included), metric rows (name, breakdown, value, low, high, n) and prediction rows
        (example id, input, reference, prediction, correct, meta; JSON text). Returns its id."""
        return self._insert_run(columns, metrics, predictions)

    def _insert_run(self, columns: dict[str, Any], metrics: Sequence[Sequence[Any]], predictions: Sequence[Sequence[Any]],
                    *, replacing: tuple[str, str | None] | None = None) -> int:
        """Insert a run with its metric and prediction rows in one transaction (BEGIN IMMEDIATE
        serialises concurrent writers), first deleting the run of the (cache key, selection key)
        ``replacing`` names; returns the new run's id."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if replacing is not None:
                self.db.execute("DELETE FROM runs WHERE cache_key = ? AND selection_key = ?", replacing)
            names = ", ".join(columns)
            cur = self.db.execute(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' for _ in columns)})", list(columns.values()))
            run_id = cur.lastrowid
            self.db.executemany("INSERT INTO metrics (run_id, name, breakdown, value, ci_low, ci_high, n) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [(run_id, *m) for m in metrics])
            self.db.executemany("INSERT INTO predictions (run_id, position, example_id, input, reference, prediction, correct, meta) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(run_id, i, *p) for i, p in enumerate(predictions)])
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return run_id

    @_guarded
    def latest_runs(self, *, suite: str | None = None, suite_name: str | None = None,
                    cells: Collection[tuple] | None = None) -> pd.DataFrame:
        """The newest run of each (task, split, data source, noise condition, model): what the
        leaderboard shows. ``suite``: only runs that suite file (this sha256) made;
        ``suite_name`` and ``cells``: only runs made by a suite of that name (any version of
        its file) that fill one of ``cells`` (:func:`row_key`), so a
        suite that grows keeps the runs of the cells it still plans."""
        runs = self.runs()
        if suite is not None and not runs.empty:
            runs = runs[runs["provenance"].map(lambda p: ((p or {}).get("suite") or {}).get("sha256") == suite)]
        if suite_name is not None and not runs.empty:
            runs = runs[runs["provenance"].map(lambda p: ((p or {}).get("suite") or {}).get("name") == suite_name)]
        if cells is not None and not runs.empty:
            wanted = set(cells)
            runs = runs[[row_key(run) in wanted for run in runs.to_dict("records")]]
        if runs.empty:
            return runs
        # a noisy run (--perturb) is a condition of its own, not a newer clean run
        noise = runs["settings"].map(lambda settings: json.dumps((settings or {}).get("perturbation"), sort_keys=True))
        keep = ~runs.assign(_noise=noise).duplicated(["task", "split", "data_source", "model", "_noise"], keep="last")
        return runs[keep]


def row_key(run: dict[str, Any]) -> tuple[str, str, int, str, str]:
    """The suite cell a run (a store row or a record's ``run``) fills: task, model (its name
    without tags, paths hidden), shots, noise condition ("typo 0.1"; "" when clean) and prompt."""
    settings = run.get("settings") or {}
    noise = settings.get("perturbation")
    condition = f"{noise['name']} {noise['rate']:g}" if noise else ""
    model = hide_paths(str(run["model"]).split(" (", 1)[0])
    return (run["task"], model, len(settings.get("shots") or []), condition, settings.get("prompt") or DEFAULT_PROMPT)
