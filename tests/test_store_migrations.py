"""The store's ordered migrations: a new store runs them all, a store of each earlier schema
version (fixtures written by the landed code of that version) the ones it lacks, and both
end with the same schema."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION, applied
from harness.store.store import Store

from .conftest import FIXTURES


def schema(path) -> list:
    """Every table and index of a store: name, and each column's name, type, not-null flag,
    default and primary-key position (index columns for an index)."""
    db = sqlite3.connect(path)
    rows = []
    for kind, name, table in db.execute("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' "
                                        "ORDER BY type, name"):
        pragma = "table_info" if kind == "table" else "index_info"
        rows.append((kind, name, table, [tuple(r[1:]) for r in db.execute(f"PRAGMA {pragma}({name})")]))
    db.close()
    return rows


def test_the_migrations_are_named_in_order():
    names = [m.__name__ for m in MIGRATIONS]
    assert names == sorted(names) and all(n.startswith(f"m{i:03d}_") for i, n in enumerate(names, start=1))
    assert SCHEMA_VERSION == len(MIGRATIONS) == 4


def test_a_new_store_runs_every_migration_and_records_it(tmp_path):
    Store(tmp_path / "new.sqlite").close()
    db = sqlite3.connect(tmp_path / "new.sqlite")
    assert [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [m.__name__ for m in MIGRATIONS]
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_store_of_every_earlier_version_upgrades_to_the_schema_a_new_store_has(tmp_path, version):
    old = tmp_path / f"v{version}.sqlite"
    shutil.copy(FIXTURES / f"store_v{version}.sqlite", old)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone()[0] == (0 if version == 1 else version)
    assert applied(db) == [m.__name__ for m in MIGRATIONS[:version]]  # what a store of that release holds
    runs_before = db.execute("SELECT id, task, model, n, headline FROM runs ORDER BY id").fetchall()
    predictions_before = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    db.close()
    upgraded = Store(old)
    assert upgraded.db.execute("SELECT id, task, model, n, headline FROM runs ORDER BY id").fetchall() == runs_before
    assert upgraded.db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == predictions_before
    upgraded.close()
    Store(tmp_path / "new.sqlite").close()
    assert schema(old) == schema(tmp_path / "new.sqlite")
    db = sqlite3.connect(old)
    assert [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [m.__name__ for m in MIGRATIONS]


def test_a_read_only_old_store_is_read_and_left_as_it_was(tmp_path):
    old = tmp_path / "v2.sqlite"
    shutil.copy(FIXTURES / "store_v2.sqlite", old)
    before = old.read_bytes()
    store = Store(old, readonly=True)
    assert len(store.runs()) == 2
    store.close()
    assert old.read_bytes() == before
