"""The runner: cache, resume after a kill, skips, provenance, export."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from conlleval import evaluate as conlleval_evaluate

from harness import Model, Prediction, get_task
from harness.cli import cli
from harness.store.export import export_rows
from harness.store.store import Store

from . import slow_plugin
from .conftest import CONLL_SENTENCES, write_data_dir

MANY = [s for _ in range(10) for s in CONLL_SENTENCES]  # 60 sentences


@pytest.fixture
def capital_tagger(register_plugin):
    return register_plugin(slow_plugin, "slow-plugin")


def run_cli(*args):
    result = CliRunner().invoke(cli, ["run", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result


def test_rerun_is_served_from_cache(data_dir, store_path, capital_tagger, tmp_path, monkeypatch):
    log = tmp_path / "count.txt"
    monkeypatch.setenv("SLOW_TAGGER_COUNT", str(log))
    args = ["--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data_dir), "--store", str(store_path), "--json"]
    first = json.loads(run_cli(*args).stdout)["results"][0]
    computed_first = sum(int(x) for x in log.read_text().split())
    second = json.loads(run_cli(*args).stdout)["results"][0]
    assert first["computed"] == computed_first == len(CONLL_SENTENCES)
    assert second["computed"] == 0
    assert sum(int(x) for x in log.read_text().split()) == computed_first  # the model was not called again
    assert second["metrics"] == first["metrics"]
    assert second["examples_per_s"] == pytest.approx(first["examples_per_s"])


def test_killed_run_resumes_without_recomputing(tmp_path, capital_tagger, monkeypatch):
    data = write_data_dir(tmp_path / "data", MANY)
    store = tmp_path / "killed.sqlite"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import slow_plugin;"
        "from harness.plugins.registry import pm; pm.register(slow_plugin, name='slow-plugin');"
        "from harness.cli import main; sys.argv = ['harness'] + sys.argv[2:]; main()"
    )
    env = {**os.environ, "SLOW_TAGGER_DELAY": "0.05"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, os.path.dirname(slow_plugin.__file__), "run", "--tasks", "ner",
         "--models", "capital-tagger", "--data-dir", str(data), "--store", str(store), "--batch-size", "1", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # Chunks of 8 examples are committed one by one; kill once some, not all, are stored.
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline:
        if store.exists():
            try:
                stored = sqlite3.connect(store).execute("SELECT COUNT(*) FROM cache").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
        if stored >= 16:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = sqlite3.connect(store).execute("SELECT COUNT(*) FROM cache").fetchone()[0]
    assert 16 <= stored < len(MANY)
    assert sqlite3.connect(store).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0

    log = tmp_path / "count.txt"
    monkeypatch.setenv("SLOW_TAGGER_COUNT", str(log))
    resumed = json.loads(run_cli("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data),
                                 "--store", str(store), "--json").stdout)["results"][0]
    assert resumed["computed"] == len(MANY) - stored
    assert sum(int(x) for x in log.read_text().split()) == len(MANY) - stored
    fresh = json.loads(run_cli("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data),
                               "--store", str(tmp_path / "fresh.sqlite"), "--json").stdout)["results"][0]
    assert fresh["computed"] == len(MANY)
    assert resumed["metrics"] == fresh["metrics"]


def test_cache_key_includes_seed_and_task_version(data_dir, store_path, capital_tagger):
    base = ["--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data_dir), "--store", str(store_path), "--json"]
    run_cli(*base)
    other_seed = json.loads(run_cli(*base, "--seed", "1").stdout)["results"][0]
    assert other_seed["computed"] == len(CONLL_SENTENCES)


def test_limit_split_and_provenance(data_dir, store_path, capital_tagger):
    run_cli("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data_dir), "--store", str(store_path),
            "--limit", "2", "--split", "dev", "--seed", "3", "--batch-size", "4")
    run = Store(store_path).runs().iloc[-1]
    assert (run["n"], run["split"], run["seed"], run["data_source"]) == (2, "dev", 3, "local")
    assert run["data_location"].endswith("ner/conll2003/dev.txt")
    provenance = run["provenance"]
    assert provenance["packages"]["seqeval"] and provenance["hardware"]["cpu_count"] >= 1
    assert provenance["batch_size"] == 4 and provenance["task"]["version"] == "1"
    assert run["wall_time_s"] > 0 and run["examples_per_s"] > 0


def test_baselines_run_on_both_tasks(data_dir, store_path):
    result = run_cli("--tasks", "ner,sentiment", "--models", "spacy-en-sm,vader", "--data-dir", str(data_dir),
                     "--store", str(store_path), "--json")
    payload = json.loads(result.stdout)
    assert {(r["task"], r["model"]) for r in payload["results"]} == {("ner", "spacy-en-sm"), ("sentiment", "vader")}
    assert {(s["task"], s["model"]) for s in payload["skipped"]} == {("ner", "vader"), ("sentiment", "spacy-en-sm")}
    sentiment = next(r for r in payload["results"] if r["task"] == "sentiment")
    accuracy = next(m for m in sentiment["metrics"] if m["name"] == "accuracy")
    # VADER gets the clear-cut fixture sentences right.
    assert accuracy["value"] >= 0.75


def test_exported_ner_predictions_rescore_to_the_stored_f1_with_conlleval(data_dir, store_path, capital_tagger):
    run_cli("--tasks", "ner", "--models", "capital-tagger,spacy-en-sm", "--data-dir", str(data_dir), "--store", str(store_path))
    store = Store(store_path)
    for metric in export_rows(store, "metrics"):
        if metric["name"] != "f1" or metric["breakdown"]:
            continue
        rows = export_rows(store, "predictions", run_ids=[metric["run_id"]])
        assert [r["input"] for r in rows] == [[t for t, _ in s] for s in CONLL_SENTENCES]
        assert [r["reference"] for r in rows] == [[g for _, g in s] for s in CONLL_SENTENCES]
        lines = [f"x {g} {p}" for r in rows for g, p in [*zip(r["reference"], r["prediction"]), ("O", "O")]]
        reference = conlleval_evaluate(lines)["overall"]["chunks"]["evals"]["f1"]
        assert metric["value"] == pytest.approx(reference, abs=1e-4)


def test_export_formats(data_dir, store_path, capital_tagger, tmp_path):
    run_cli("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data_dir), "--store", str(store_path))
    out = tmp_path / "preds.csv"
    result = CliRunner().invoke(cli, ["export", "--what", "predictions", "--format", "csv", "--store", str(store_path), "-o", str(out)])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(CONLL_SENTENCES)
    assert json.loads(rows[1]["input"]) == ["Clara", "Blackburn"]
    assert json.loads(rows[1]["reference"]) == ["B-PER", "I-PER"]
    assert json.loads(rows[1]["prediction"]) == ["B-PER", "B-PER"]
    result = CliRunner().invoke(cli, ["export", "--what", "metrics", "--store", str(store_path)])
    metrics = [json.loads(line) for line in result.stdout.splitlines()]
    f1 = next(m for m in metrics if m["name"] == "f1" and not m["breakdown"])
    assert f1["model"] == "capital-tagger" and f1["ci_low"] <= f1["value"] <= f1["ci_high"]


def test_export_of_a_missing_store_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1 and result.output.strip() == (
        f"Error: {tmp_path / 'none.sqlite'}: no such results store; `harness run` writes one first (or pass --store FILE, "
        "or set $HARNESS_STORE, to read another)")


def test_a_file_that_is_not_a_store_is_an_error(tmp_path, data_dir):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("just some notes\n" * 100)
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--data-dir", str(data_dir), "--store", str(bad)])
    assert result.exit_code == 1 and result.output.strip().startswith(f"Error: {bad}: not a harness results store")


def test_without_models_only_the_offline_baselines_run(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,sentiment", "--source", "demo", "--store", str(tmp_path / "d.sqlite"),
                                      "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {(r["task"], r["model"]) for r in payload["results"]} == {
        ("ner", "spacy-en-sm"), ("ner", "capitalised-spans"), ("sentiment", "vader"), ("sentiment", "textblob-polarity"),
        ("sentiment", "majority-class")}
    skipped_models = {s["model"] for s in payload["skipped"]}
    assert "smollm2-135m" not in skipped_models and "identity" in skipped_models


def test_a_run_sets_no_attribute_on_a_model_and_its_config_is_never_changed(tmp_path):
    """The request cache, progress and usage reach the model in its RunContext; the config is
    frozen, and a noise condition is a derived config."""
    import dataclasses

    from harness.data.perturb import parse_perturbations
    from harness.run.config import RunConfig
    from harness.run.runner import run_matrix
    from harness.store.store import Store

    class Frozen(Model):
        name = "frozen"
        kinds = frozenset({"classification"})

        def __setattr__(self, name, value):
            raise AssertionError(f"the run set {name!r} on the model")

        def predict(self, task, examples, *, batch_size=32):
            assert self.context.progress is False and self.context.request_cache is None
            self.usage.prompt_tokens += 2 * len(examples)  # counted in this cell's context
            return [Prediction("positive") for _ in examples]

    store = Store(tmp_path / "s.sqlite")
    config = RunConfig.build([get_task("sentiment")], [Frozen()], store, source="demo", progress=False,
                             perturbations=parse_perturbations("typo:0,0.2"), log=lambda message: None)
    summary = run_matrix(config)
    assert not summary.failed and [r.perturbation for r in summary.results] == ["", "typo 0.2"]
    throughputs = [p["throughput"] for p in store.runs()["provenance"]]
    assert [t["prompt_tokens"] for t in throughputs] == [2 * summary.results[0].n] * 2  # a fresh count per cell
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.evaluation.seed = 1
    noisy = config.for_condition(config.evaluation.perturbations[1])
    assert noisy.perturbation.rate == 0.2 and config.perturbation is None and noisy.evaluation is config.evaluation
    assert config.for_condition(config.evaluation.perturbations[0]).perturbation is None  # rate 0 is the clean run
