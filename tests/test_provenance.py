"""A run's provenance is typed: the runner writes a Provenance, the store keeps its JSON, and
the report reads it back through the typed model only, old field names included."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli
from harness.store.provenance import Provenance, Throughput

TEMPLATES = Path(__file__).parent.parent / "harness" / "report" / "templates"


def test_a_renamed_field_is_read_under_its_old_name_too():
    old = {"throughput": {"computed_examples": 3, "seconds": 0.5, "examples_per_s": 6.0, "load_s": 2.5}}
    assert Provenance.from_json(old).throughput == Throughput(3, 0.5, 6.0, load_seconds=2.5)
    written = Provenance(throughput=Throughput(3, 0.5, 6.0, load_seconds=2.5)).to_json()
    assert written["throughput"]["load_seconds"] == 2.5 and "load_s" not in written["throughput"]
    assert Provenance.from_json(written) == Provenance(throughput=Throughput(3, 0.5, 6.0, load_seconds=2.5))


def test_the_report_renders_a_renamed_field_of_runs_stored_before_and_after_the_rename(tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store", str(store), "--no-progress"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    db = sqlite3.connect(store)
    [(provenance,)] = db.execute("SELECT provenance FROM runs").fetchall()
    provenance = json.loads(provenance)
    assert "load_seconds" in provenance["throughput"]  # what this release writes
    provenance["throughput"]["load_seconds"] = 1.25
    db.execute("UPDATE runs SET provenance = ?", (json.dumps(provenance),))
    db.commit()
    site = tmp_path / "new"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    assert "load 1.2 s" in (site / "task-sentiment-validation-demo.html").read_text()
    # the same run as a release before the rename wrote it
    provenance["throughput"]["load_s"] = provenance["throughput"].pop("load_seconds")
    db.execute("UPDATE runs SET provenance = ?", (json.dumps(provenance),))
    db.commit()
    db.close()
    site = tmp_path / "old"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    page = (site / "task-sentiment-validation-demo.html").read_text()
    assert "load 1.2 s" in page and re.search(r'data-value="1.25">1.2</td>', page)  # the cost table too


def test_no_template_reads_provenance_by_string_key():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        # the only dict lookups left are the page's own tables (cells, matrices, tests), never a run's facts
        lookups = set(re.findall(r"(\w+)\.get\(", text)) | set(re.findall(r"(\w+)\[\"", text))
        assert lookups <= {"sig", "cells", "best", "matrix", "breakdown_cells"}, (template.name, lookups)
