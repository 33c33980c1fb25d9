"""The results store: one SQLite file with runs, metrics, per-example predictions, and the prediction cache."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd

    from .metrics import Scores
    from .model import Prediction
    from .task import Example

DEFAULT_STORE = "harness.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    cache_key   TEXT NOT NULL,
    example_key TEXT NOT NULL,
    prediction  TEXT NOT NULL,
    seconds     REAL NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (cache_key, example_key)
);
CREATE TABLE IF NOT EXISTS runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    task           TEXT NOT NULL,
    task_version   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    dataset        TEXT NOT NULL,
    split          TEXT NOT NULL,
    data_source    TEXT NOT NULL,
    data_location  TEXT NOT NULL,
    model          TEXT NOT NULL,
    model_identity TEXT NOT NULL,
    settings       TEXT NOT NULL,
    cache_key      TEXT NOT NULL,
    n              INTEGER NOT NULL,
    seed           INTEGER NOT NULL,
    headline       TEXT NOT NULL,
    wall_time_s    REAL NOT NULL,
    compute_time_s REAL NOT NULL,
    examples_per_s REAL,
    cached         INTEGER NOT NULL,
    provenance     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    breakdown TEXT NOT NULL DEFAULT '',
    value     REAL,
    ci_low    REAL,
    ci_high   REAL,
    n         INTEGER
);
CREATE TABLE IF NOT EXISTS predictions (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    example_id TEXT NOT NULL,
    input      TEXT NOT NULL,
    reference  TEXT NOT NULL,
    prediction TEXT NOT NULL,
    correct    INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id);
"""


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


class Store:
    """A results store in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_store_path()
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise HarnessError(f"{self.path}: not a harness results store ({exc})") from exc

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # -- prediction cache -------------------------------------------------
    def cached(self, key: str, example_keys: Iterable[str]) -> dict[str, tuple[Prediction, float]]:
        """Cached (prediction, seconds) for those of ``example_keys`` already computed under ``key``."""
        from .model import Prediction

        wanted = set(example_keys)
        rows = self.db.execute("SELECT example_key, prediction, seconds FROM cache WHERE cache_key = ?", (key,))
        return {
            ek: (Prediction.from_json(json.loads(pred)), seconds) for ek, pred, seconds in rows if ek in wanted
        }

    def put_cached(self, key: str, examples: Sequence[Example], predictions: Sequence[Prediction], seconds: float) -> None:
        """Store a batch of fresh predictions and commit at once, so a killed run keeps them."""
        each = seconds / max(1, len(examples))
        self.db.executemany(
            "INSERT OR REPLACE INTO cache (cache_key, example_key, prediction, seconds) VALUES (?, ?, ?, ?)",
            [(key, e.key, json.dumps(p.to_json(), ensure_ascii=False), each) for e, p in zip(examples, predictions)],
        )
        self.db.commit()

    def count_cached(self, key: str) -> int:
        """How many predictions are cached under ``key``."""
        return self.db.execute("SELECT COUNT(*) FROM cache WHERE cache_key = ?", (key,)).fetchone()[0]

    # -- runs --------------------------------------------------------------
    def save_run(
        self,
        run: dict[str, Any],
        scores: Scores,
        examples: Sequence[Example],
        predictions: Sequence[Prediction],
        correct: Sequence[bool],
    ) -> int:
        """Record a finished run with its metrics and per-example predictions; returns the run id."""
        columns = dict(run)
        for name in ("model_identity", "settings", "provenance"):
            columns[name] = json.dumps(columns[name], sort_keys=True, default=str)
        columns["headline"] = scores.headline
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        with self.db:
            cur = self.db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(columns.values()))
            run_id = cur.lastrowid
            self.db.executemany(
                "INSERT INTO metrics (run_id, name, breakdown, value, ci_low, ci_high, n) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, m.name, m.breakdown, m.value, m.ci_low, m.ci_high, m.n) for m in scores.metrics],
            )
            self.db.executemany(
                "INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        i,
                        e.id,
                        json.dumps(e.input, ensure_ascii=False),
                        json.dumps(e.reference, ensure_ascii=False),
                        json.dumps(p.to_json(), ensure_ascii=False),
                        int(ok),
                    )
                    for i, (e, p, ok) in enumerate(zip(examples, predictions, correct))
                ],
            )
        return run_id

    def runs(self) -> pd.DataFrame:
        """All runs, newest last, JSON columns decoded."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM runs ORDER BY id", self.db)
        for name in ("model_identity", "settings", "provenance"):
            df[name] = df[name].map(json.loads)
        return df

    def metrics(self, run_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """Metric rows (optionally only of ``run_ids``) joined with their run's task and model."""
        import pandas as pd

        query = (
            "SELECT m.*, r.task, r.split, r.model, r.data_source, r.n AS run_n FROM metrics m "
            "JOIN runs r ON r.id = m.run_id"
        )
        where, params = _where([_in("m.run_id", run_ids)])
        return pd.read_sql_query(query + where + " ORDER BY m.run_id, m.rowid", self.db, params=params)

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
        return df

    def latest_runs(self) -> pd.DataFrame:
        """The newest run of each (task, split, data source, model): what the leaderboard shows."""
        runs = self.runs()
        if runs.empty:
            return runs
        return runs.drop_duplicates(["task", "split", "data_source", "model"], keep="last")
