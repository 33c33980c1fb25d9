"""The results store's schema, as one ordered list of named migrations.

A new store runs them all; a store written by an earlier release runs the ones it lacks.
Each applied migration is recorded by name in the ``_migrations`` table, and the store's
``PRAGMA user_version`` is the number applied. Stores written before migrations were
recorded carry only their ``user_version`` (0 for the first releases): the first that many
migrations (at least one) are what they hold. Add a migration at the end; never edit or
reorder one that has been released.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

Migration = Callable[[sqlite3.Connection], None]

#: every migration, in the order they run
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Add ``function`` (named ``mNNN_what_it_does``) to the end of :data:`MIGRATIONS`."""
    MIGRATIONS.append(function)
    return function


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


@migration
def m001_runs_metrics_predictions_cache(db: sqlite3.Connection) -> None:
    """The first releases' tables: the prediction cache, runs, their metrics and predictions."""
    db.execute("""
CREATE TABLE IF NOT EXISTS cache (
    cache_key   TEXT NOT NULL,
    example_key TEXT NOT NULL,
    prediction  TEXT NOT NULL,
    seconds     REAL NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (cache_key, example_key)
)""")
    db.execute("""
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
)""")
    db.execute("""
CREATE TABLE IF NOT EXISTS metrics (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    breakdown TEXT NOT NULL DEFAULT '',
    value     REAL,
    ci_low    REAL,
    ci_high   REAL,
    n         INTEGER
)""")
    db.execute("""
CREATE TABLE IF NOT EXISTS predictions (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    example_id TEXT NOT NULL,
    input      TEXT NOT NULL,
    reference  TEXT NOT NULL,
    prediction TEXT NOT NULL,
    correct    INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
)""")
    db.execute("CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id)")


@migration
def m002_store_id_and_one_run_per_selection(db: sqlite3.Connection) -> None:
    """A random store id (``meta``), and one run per (cache key, selection of examples); runs
    stored before selections were digested each keep a key of their own."""
    if "selection_key" not in _columns(db, "runs"):
        db.execute("ALTER TABLE runs ADD COLUMN selection_key TEXT")
    db.execute("UPDATE runs SET selection_key = 'run-' || id WHERE selection_key IS NULL")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_selection ON runs(cache_key, selection_key)")


@migration
def m003_request_cache(db: sqlite3.Connection) -> None:
    """Decoder engines' outputs per (engine, request)."""
    db.execute("""
CREATE TABLE IF NOT EXISTS requests (
    engine_key  TEXT NOT NULL,
    request_key TEXT NOT NULL,
    output      TEXT NOT NULL,
    seconds     REAL NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (engine_key, request_key)
)""")


@migration
def m004_prediction_metadata(db: sqlite3.Connection) -> None:
    """Each prediction's example metadata (gender, subset: the report's slices)."""
    if "meta" not in _columns(db, "predictions"):
        db.execute("ALTER TABLE predictions ADD COLUMN meta TEXT")


#: the schema version of a store with every migration applied
SCHEMA_VERSION = len(MIGRATIONS)


def applied(db: sqlite3.Connection) -> list[str]:
    """The names of the migrations the store holds, in order."""
    if db.execute("SELECT name FROM sqlite_master WHERE name = '_migrations'").fetchone() is None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        has_tables = db.execute("SELECT name FROM sqlite_master WHERE name = 'runs'").fetchone() is not None
        return [m.__name__ for m in MIGRATIONS[:max(version, 1 if has_tables else 0)]]
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations the store lacks, in one transaction, recording each; returns their
    names (none when the store is up to date)."""
    done = applied(db)
    missing = [m for m in MIGRATIONS if m.__name__ not in done]
    recorded = db.execute("SELECT name FROM sqlite_master WHERE name = '_migrations'").fetchone() is not None
    if not missing and recorded:
        return []
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
               "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    db.executemany("INSERT OR IGNORE INTO _migrations (name) VALUES (?)", [(name,) for name in done])
    for step in missing:
        step(db)
        db.execute("INSERT INTO _migrations (name) VALUES (?)", (step.__name__,))
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return [m.__name__ for m in missing]
