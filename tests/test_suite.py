"""Suite files: one TOML file runs a whole leaderboard; its errors are one line naming the key."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from harness import HarnessError
from harness.cli import cli
from harness.run.suite import load_suite, suite_digest
from harness.store.store import Store

SUITE = """
[suite]
name = "tiny"
data_dir = "data"

[[run]]
tasks = ["ner", "sentiment"]
models = ["spacy-en-sm", "vader"]
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def suite_dir(tmp_path, data_dir):
    """A folder holding the fixture data (as data/) and a suite file beside it."""
    (tmp_path / "suite.toml").write_text(SUITE)
    return tmp_path


BAD_SUITES = [
    # (what to write, words the one-line error must contain)
    ('[suite]\nname = "x"\nnmae = "y"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\n', ["[suite]", "'nmae'", "'name'"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodles = ["vader"]\n', ["[[run]] #1", "'modles'", "did you mean 'models'"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["nerr"]\nmodels = ["vader"]\n', ["[[run]] #1", "key 'tasks'", "'nerr'"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vadr"]\n', ["[[run]] #1", "key 'models'", "'vadr'", "vader"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\nlimit = -3\n', ["key 'limit'", "integer from 1 to", "-3"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\nshots = "five"\n', ["key 'shots'", "'five'"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\nperturb = "blur:0.1"\n', ["key 'perturb'", "blur"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["@nothing"]\n', ["key 'models'", "'@nothing'", "[[finetune]]"]),
    ('[suite]\nname = "x"\n[[finetune]]\nname = "f"\ntask = "sentiment"\nbase = "minilm-l6"\nk = [16, 0]\n',
     ["[[finetune]] #1", "key 'k'", "0"]),
    ('[suite]\nname = "x"\n[[finetune]]\nname = "f"\ntask = "sentiment"\nbase = "minilm-l6"\nk = 16\nepochs = [1, 2]\n',
     ["[[finetune]] #1", "key 'epochs'", "one per k"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"\n', ["not valid TOML", "line"]),
    ('[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\n', ["top level", "[suite]"]),
    ('[suite]\nname = "x"\n', ["nothing to do"]),
    ('[suite]\nname = "x"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\n[labels]\nvader = 3\n', ["key 'labels'", "model name"]),
    ('[suite]\nname = "x"\ndata_dir = "nowhere"\n[[run]]\ntasks = ["ner"]\nmodels = ["vader"]\n', ["key 'data_dir'", "not a folder"]),
]


@pytest.mark.parametrize("text, words", BAD_SUITES)
def test_a_bad_suite_is_a_one_line_error_naming_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = invoke("run", "--suite", path, "--store", tmp_path / "s.sqlite")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "bad.toml" in lines[0], result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "s.sqlite").exists()  # nothing ran


def test_suite_flags_that_the_file_sets_are_refused(suite_dir):
    result = invoke("run", "--suite", suite_dir / "suite.toml", "--tasks", "ner", "--limit", "2")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --suite takes tasks, models and their settings from the file; drop --tasks, --limit"


def test_suite_runs_record_the_suite_and_the_report_keeps_only_them(suite_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--suite", suite_dir / "suite.toml", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    # a run outside the suite, later: the full report shows it, the suite's report does not
    result = invoke("run", "--tasks", "sentiment", "--models", "vader", "--limit", "3", "--data-dir", suite_dir / "data",
                    "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    runs = Store(store, readonly=True).runs()
    suite_runs = runs[runs["provenance"].map(lambda p: "suite" in p)]
    assert sorted(suite_runs["model"]) == ["spacy-en-sm", "vader"]
    for provenance in suite_runs["provenance"]:
        assert provenance["suite"] == {"name": "tiny", "file": "suite.toml", "sha256": suite_digest(suite_dir / "suite.toml"),
                                       "text": SUITE}

    from harness.report.leaderboard import build_context

    every = build_context(Store(store, readonly=True))
    only = build_context(Store(store, readonly=True), suite=load_suite(suite_dir / "suite.toml").provenance())
    vader_n = lambda context: next(r.n for c in context["columns"] if c.task == "sentiment" for r in c.runs)  # noqa: E731
    assert vader_n(every) == 3 and vader_n(only) == 8  # the fixture's SST-2 file has 8 rows
    result = invoke("report", "--suite", suite_dir / "suite.toml", "--store", store, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'id="suite-note"' in index and "tiny" in index
    assert "All 2 cells of this suite are in: none is missing." in index  # spacy and vader on their tasks
    assert re.search(r'<p class="muted" id="stamp">Runs made on \d{4}-\d\d-\d\d with harness \d', index)

    # a suite grows by editing its file: the cells it still plans keep their runs, a new one is
    # missing until it runs, and a cell it no longer plans leaves the board
    (suite_dir / "suite.toml").write_text(SUITE.replace('["spacy-en-sm", "vader"]', '["vader", "textblob-polarity"]')
                                          + '\n[labels]\n"vader" = "VADER 3.3.2"\n')
    result = invoke("report", "--suite", suite_dir / "suite.toml", "--store", store, "--out", tmp_path / "site2")
    assert result.exit_code == 0, result.output
    assert "1 of 2 cells are not in the store yet (sentiment × textblob-polarity)" in result.output
    edited = build_context(Store(store, readonly=True), suite={**load_suite(suite_dir / "suite.toml").provenance(),
                                                                "cells": [("sentiment", "vader", 0, "", "default"),
                                                                          ("sentiment", "textblob-polarity", 0, "", "default")]})
    assert [(r.model, r.display, r.n) for c in edited["columns"] for r in c.runs] == [("vader", "VADER 3.3.2", 8)]
    # a suite of another name is another board: the report asks for its runs first
    (suite_dir / "suite.toml").write_text(SUITE.replace('name = "tiny"', 'name = "other"'))
    result = invoke("report", "--suite", suite_dir / "suite.toml", "--store", store, "--out", tmp_path / "site3")
    assert result.exit_code == 1 and "no run of a cell suite 'other' plans" in result.output and "harness run --suite" in result.output


def test_a_suite_fine_tunes_first_and_the_models_join_it(tmp_path, data_dir, tiny_sentiment_encoder):
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suite]
name = "ft"
data_dir = "data"

[[finetune]]
name = "tiny-sst"
task = "sentiment"
base = "{tiny_sentiment_encoder}"
k = [4, "all"]
epochs = [2, 1]
out = "models"

[[run]]
tasks = ["sentiment"]
models = ["vader", "@tiny-sst:4"]
limit = 5
""")
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--suite", suite, "--store", store, "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    for k, epochs in (("4", 2.0), ("all", 1.0)):
        card = json.loads((tmp_path / "models" / f"tiny-sst-k{k}" / "harness_finetune.json").read_text())
        assert card["k"] == (4 if k == "4" else 8) and card["hyperparameters"]["epochs"] == epochs
    runs = Store(store, readonly=True).runs()
    shown = sorted((row.model.rsplit("/", 1)[-1], row.n) for row in runs.itertuples())
    # each fine-tuned model on its task's full split, and the [[run]] block's k=4 model again with limit 5
    assert shown == [("tiny-sst-k4", 5), ("tiny-sst-k4", 8), ("tiny-sst-kall", 8), ("vader", 5)]

    # a second run reuses the saved models and every cached prediction
    result = CliRunner().invoke(cli, ["run", "--suite", str(suite), "--store", str(store), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("already fine-tuned with these settings") == 2
    assert all(r["computed"] == 0 for r in json.loads(result.stdout)["results"])


def test_executor_ray_without_ray_is_a_one_line_error(monkeypatch, data_dir):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = invoke("run", "--tasks", "sentiment", "--models", "vader", "--data-dir", data_dir, "--executor", "ray")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --executor ray needs Ray, which is not installed: pip install 'harness[ray]' (or pip install ray)"]


def test_executor_ray_with_an_address_where_nothing_listens_fails_at_once(data_dir):
    pytest.importorskip("ray", reason="the test extra installs ray")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke("run", "--tasks", "sentiment", "--models", "vader", "--data-dir", data_dir, "--executor", "ray",
                    "--address", f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: --address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused); start one with "
        "`ray start --head` or leave out --address to start a local one"]
    result = invoke("run", "--tasks", "sentiment", "--models", "vader", "--data-dir", data_dir, "--address", "auto")
    assert result.exit_code == 1 and result.output.strip() == "Error: --address is for --executor ray"


def test_the_report_of_an_unfinished_suite_lists_its_missing_cells(suite_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    # the suite with noise added at 0.1; then the noisy NER run is taken out, as if it never finished
    (suite_dir / "suite.toml").write_text(SUITE.replace('models = ["spacy-en-sm", "vader"]',
                                                        'models = ["spacy-en-sm", "vader"]\nperturb = "typo:0,0.1"'))
    result = invoke("run", "--suite", suite_dir / "suite.toml", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    db = Store(store)
    noisy = db.runs()
    noisy = noisy[noisy["settings"].map(lambda s: bool((s or {}).get("perturbation"))) & (noisy["task"] == "ner")]
    db.close()
    import sqlite3

    with sqlite3.connect(store) as raw:  # the noisy NER cell never finished
        for run_id in noisy["id"]:
            raw.execute("DELETE FROM metrics WHERE run_id = ?", (int(run_id),))
            raw.execute("DELETE FROM runs WHERE id = ?", (int(run_id),))
    result = invoke("report", "--suite", suite_dir / "suite.toml", "--store", store, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    assert "1 of 4 cells are not in the store yet (ner × spacy-en-sm (typo 0.1))" in result.output
    assert f"Finish it with: harness run --suite {suite_dir / 'suite.toml'} --store {store}" in result.output
    index = (tmp_path / "site" / "index.html").read_text()
    assert "1 of 4 cells of this suite are not in the store yet" in index and "<li>ner × spacy-en-sm (typo 0.1)</li>" in index
    assert str(suite_dir) not in index  # the page names the file, never its folder on this machine


def test_a_fine_tune_is_planned_on_the_tasks_of_its_kind_and_labels(tmp_path):
    """A coreference fine-tune answers every choice task a block names; an NER fine-tune on
    CoNLL types is not planned on WNUT-17 (other entity types), nor a tagger on SST-2."""
    from harness.run.suite import planned_cells

    suite_file = tmp_path / "suite.toml"
    suite_file.write_text('''[suite]
name = "kinds"

[[finetune]]
name = "coref-head"
task = "coref:gap"
base = "minilm-l6"
k = ["all"]
train_split = "dev"

[[finetune]]
name = "tagger"
task = "ner"
base = "minilm-l6"
k = [16]

[[run]]
tasks = ["coref", "ner", "ner:wnut17", "sentiment"]
models = ["@coref-head", "@tagger"]
''')
    cells = {(c.task, c.model.rsplit("/", 1)[-1]) for c in planned_cells(load_suite(suite_file))}
    assert cells == {("coref:gap", "coref-head-kall"), ("coref:wsc273", "coref-head-kall"),
                     ("coref:winogender", "coref-head-kall"), ("ner", "tagger-k16")}


def test_a_fine_tunes_split_must_be_the_tasks(tmp_path):
    suite_file = tmp_path / "suite.toml"
    suite_file.write_text('[suite]\nname = "x"\n\n[[finetune]]\nname = "c"\ntask = "coref:gap"\nbase = "minilm-l6"\n'
                          'k = ["all"]\ntrain_split = "train"\n')
    with pytest.raises(HarnessError, match=r"\[\[finetune\]\] #1 key 'train_split': task 'coref:gap' has no split 'train' "
                                           r"\(its splits: test, dev, validation\)"):
        load_suite(suite_file)
