"""The results store on a bad day: a busy writer, concurrent runs, damaged, foreign and old
stores, read-only media, a full disk, and a mistyped --store."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import HarnessError, get_model, resolve_tasks
from harness.cli import cli
from harness.run.config import RunConfig
from harness.run.runner import run_matrix
from harness.store.store import SCHEMA_VERSION, Store

from .conftest import CONLL_SENTENCES, FIXTURES, harness_subprocess, write_data_dir


NO_STORE = ("no such results store; `harness run` writes one first (or pass --store FILE, or set $HARNESS_STORE, "
            "to read another)")


def run_vader(data_dir, store, *extra):
    return CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--data-dir", str(data_dir),
                                    "--store", str(store), "--no-progress", *extra])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_waiting_writer_waits_for_the_lock(data_dir, store_path):
    assert run_vader(data_dir, store_path, "--limit", "2").exit_code == 0
    holder = sqlite3.connect(store_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process writing for a while
    release = threading.Timer(6.0, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.perf_counter()
    result = run_vader(data_dir, store_path)
    release.join()
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started >= 5.5  # it waited instead of dying with "database is locked"
    assert len(Store(store_path, readonly=True).runs()) == 2


def test_the_same_run_twice_at_once_or_again_keeps_one_record(data_dir, store_path):
    args = ["run", "--tasks", "sentiment,ner", "--models", "vader,spacy-en-sm", "--data-dir", str(data_dir),
            "--store", str(store_path), "--no-progress"]
    both = [subprocess.Popen([shutil.which("harness", path=str(Path(sys.executable).parent)), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for proc in both:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    runs = Store(store_path, readonly=True).runs()
    assert sorted(runs["model"]) == ["spacy-en-sm", "vader"]
    assert harness_subprocess(args).returncode == 0  # and once more, later
    assert len(Store(store_path, readonly=True).runs()) == 2
    assert run_vader(data_dir, store_path, "--limit", "3").exit_code == 0  # another selection is another record
    assert len(Store(store_path, readonly=True).runs()) == 3
    metrics = sqlite3.connect(store_path).execute("SELECT COUNT(DISTINCT run_id) FROM metrics").fetchone()[0]
    assert metrics == 3  # replaced records leave no orphaned metrics


def test_a_dropped_table_is_an_error_and_the_store_is_untouched(data_dir, store_path):
    assert run_vader(data_dir, store_path).exit_code == 0
    db = sqlite3.connect(store_path)
    db.execute("DROP TABLE metrics")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = digest(store_path)
    for result in (run_vader(data_dir, store_path),
                   CliRunner().invoke(cli, ["report", "--store", str(store_path), "--out", str(store_path.parent / "site")])):
        assert result.exit_code == 1
        assert result.output.strip() == (f"Error: {store_path}: damaged results store: table metrics is missing; it was left "
                                         "untouched (restore it from a backup or use another --store)")
    assert digest(store_path) == before
    assert not (store_path.parent / "site").exists()


def test_a_foreign_sqlite_file_is_refused_and_untouched(data_dir, tmp_path):
    other = tmp_path / "app.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    before = digest(other)
    result = run_vader(data_dir, other)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {other}: not a harness results store (it holds tables users); it was left untouched"
    assert digest(other) == before


def test_a_store_of_the_previous_release_is_upgraded_with_every_run(tmp_path, data_dir):
    store = tmp_path / "old.sqlite"
    shutil.copy(FIXTURES / "store_v1.sqlite", store)
    old = sqlite3.connect(store)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 0
    before = old.execute("SELECT id, task, model, n, headline FROM runs ORDER BY id").fetchall()
    metrics_before = old.execute("SELECT run_id, name, breakdown, value FROM metrics ORDER BY rowid").fetchall()
    old.close()
    assert len(before) == 6
    upgraded = Store(store)
    assert upgraded.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    after = upgraded.db.execute("SELECT id, task, model, n, headline FROM runs ORDER BY id").fetchall()
    assert after == before  # the two identical vader runs included: each keeps its own record
    assert upgraded.db.execute("SELECT run_id, name, breakdown, value FROM metrics ORDER BY rowid").fetchall() == metrics_before
    upgraded.close()
    # the upgraded store takes new runs (SST-2 is now read verbatim, so the old entries' example
    # keys no longer match and the demo split is computed), and its cache serves them again
    args = ["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store", str(store), "--no-progress",
            "--json"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["results"][0]["computed"] > 0
    again = CliRunner().invoke(cli, args)
    assert json.loads(again.stdout)["results"][0]["computed"] == 0
    assert len(Store(store, readonly=True).runs()) == 7  # the rerun replaced its own record (same selection)


def test_corruption_is_a_one_line_error_naming_the_store(data_dir, store_path):
    assert run_vader(data_dir, store_path).exit_code == 0
    db = sqlite3.connect(store_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw = bytearray(store_path.read_bytes())
    page = 4096
    raw[page:] = os.urandom(len(raw) - page)  # every page after the first (the schema) is damaged
    store_path.write_bytes(bytes(raw))
    for args in (["report", "--store", str(store_path), "--out", str(store_path.parent / "site")],
                 ["export", "--store", str(store_path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {store_path}: ") and "Traceback" not in result.output


def test_a_full_disk_is_a_one_line_error_and_keeps_what_was_committed(tmp_path, data_dir, store_path):
    assert run_vader(data_dir, store_path, "--limit", "2").exit_code == 0
    data_dir = write_data_dir(tmp_path / "more", CONLL_SENTENCES * 50)  # more than the free space left in the file
    store = Store(store_path)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    tasks = resolve_tasks(["ner", "sentiment"])
    with pytest.raises(HarnessError) as info:
        run_matrix(RunConfig.build(tasks, [get_model("spacy-en-sm"), get_model("vader")], store, data_dir=data_dir, progress=False))
    message = str(info.value)
    assert message.startswith(f"{store_path}: the disk is full (database or disk is full)") and "\n" not in message
    store.close()
    assert len(Store(store_path, readonly=True).runs()) == 1  # the earlier run is intact


def test_report_and_export_never_create_a_store(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>published</p>")
    missing = tmp_path / "mistyped.sqlite"
    report = CliRunner().invoke(cli, ["report", "--store", str(missing), "--out", str(site)])
    export = CliRunner().invoke(cli, ["export", "--store", str(missing), "-o", str(tmp_path / "out.jsonl")])
    for result in (report, export):
        assert result.exit_code == 1 and result.output.strip() == f"Error: {missing}: {NO_STORE}"
    assert not missing.exists() and not (tmp_path / "out.jsonl").exists()
    assert (site / "index.html").read_text() == "<p>published</p>"


def _without_root_powers() -> list[str]:
    """A command prefix under which file permissions hold (root normally ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "util-linux's setpriv is needed to test read-only media as root"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_report_and_export_work_on_read_only_media(data_dir, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    store = media / "results.sqlite"
    assert run_vader(data_dir, store).exit_code == 0  # a WAL store: reading it needs its -shm file, or immutable=1
    assert not list(media.glob("results.sqlite-*"))  # the run closed the store: one file, still in WAL mode
    assert sqlite3.connect(store).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.chmod(0o444)
    media.chmod(0o555)
    before = sorted(p.name for p in media.iterdir()), digest(store)
    try:
        exe = shutil.which("harness", path=str(Path(sys.executable).parent))
        report = subprocess.run([*_without_root_powers(), exe, "report", "--store", str(store), "--out", str(tmp_path / "site")],
                                capture_output=True, text=True, timeout=120)
        export = subprocess.run([*_without_root_powers(), exe, "export", "--store", str(store)],
                                capture_output=True, text=True, timeout=120)
    finally:
        media.chmod(0o755)
    assert report.returncode == 0, report.stderr
    assert export.returncode == 0, export.stderr
    assert '"name": "accuracy"' in export.stdout
    assert "sentiment" in (tmp_path / "site" / "index.html").read_text()
    assert (sorted(p.name for p in media.iterdir()), digest(store)) == before
    assert not stat.S_IMODE(store.stat().st_mode) & 0o222


def test_a_schema_3_store_reports_read_only_and_gains_example_metadata_on_upgrade(tmp_path, data_dir):
    """A store from before predictions kept example metadata (written by that release): `report`
    reads it as it is (read-only, no metadata), and the next `run` upgrades it, keeping every prediction."""
    store = tmp_path / "v3.sqlite"
    shutil.copy(FIXTURES / "store_v3.sqlite", store)
    db = sqlite3.connect(store)
    assert "meta" not in {row[1] for row in db.execute("PRAGMA table_info(predictions)")}
    count = db.execute("SELECT COUNT(*) FROM predictions WHERE run_id = 1").fetchone()[0]
    db.close()
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert "vader" in (tmp_path / "site" / "index.html").read_text()
    assert [row[-1] for row in Store(store, readonly=True).prediction_rows([1])] == [{}] * count
    assert run_vader(data_dir, store, "--limit", "4").exit_code == 0
    upgraded = Store(store)
    assert upgraded.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert upgraded.db.execute("SELECT COUNT(*) FROM predictions WHERE run_id = 1").fetchone()[0] == count
    assert "meta" in {row[1] for row in upgraded.db.execute("PRAGMA table_info(predictions)")}
