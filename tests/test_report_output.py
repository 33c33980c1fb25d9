"""Writing the site safely (temporary folder, symlinks, another store's site, stale pages) and
CSV export that a spreadsheet cannot run."""
from __future__ import annotations

import csv
import errno
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import Example, Prediction
from harness.cli import cli
from harness.store.export import csv_cell, write_rows
from harness.store.store import Store


def make_store(path: Path, tasks: str, data_dir: Path) -> Path:
    result = CliRunner().invoke(cli, ["run", "--tasks", tasks, "--models", "vader,spacy-en-sm", "--data-dir", str(data_dir),
                                      "--store", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    return path


def report(store: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out), *extra])


@pytest.fixture
def store(tmp_path, data_dir) -> Path:
    return make_store(tmp_path / "one.sqlite", "ner,sentiment", data_dir)


def test_a_symlinked_page_is_replaced_never_followed(tmp_path, store):
    site = tmp_path / "site"
    assert report(store, site).exit_code == 0
    outside = tmp_path / "precious.html"
    outside.write_text("keep me")
    (site / "index.html").unlink()
    (site / "index.html").symlink_to(outside)
    assert report(store, site).exit_code == 0
    assert outside.read_text() == "keep me"
    assert not (site / "index.html").is_symlink() and "leaderboard" in (site / "index.html").read_text()


def test_a_failed_write_leaves_the_old_site_whole(tmp_path, store, monkeypatch):
    site = tmp_path / "site"
    assert report(store, site).exit_code == 0
    before = {p.name: p.read_bytes() for p in site.iterdir()}
    real_write = Path.write_text
    calls = []

    def disk_full_on_second_page(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_on_second_page)
    result = report(store, site)
    monkeypatch.undo()
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {site}: could not write the report (No space left on device); the site there is unchanged"
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before  # no 0-byte page, no leftover temporary folder


def test_a_site_from_another_store_is_replaced_only_with_force(tmp_path, store, data_dir):
    site = tmp_path / "site"
    assert report(store, site).exit_code == 0
    other = make_store(tmp_path / "two.sqlite", "sentiment", data_dir)
    refused = report(other, site)
    assert refused.exit_code == 1
    assert refused.output.strip() == (f"Error: {site}: holds a site built from another results store; pass --force to replace "
                                      "it, or choose another --out")
    assert "task-ner-test.html" in {p.name for p in site.iterdir()}
    forced = report(other, site, "--force")
    assert forced.exit_code == 0
    pages = {p.name for p in site.iterdir()}
    assert "task-ner-test.html" not in pages  # the page the earlier report wrote, gone with its column
    assert {"index.html", "task-sentiment-validation.html"} <= pages


def test_an_index_harness_did_not_write_is_kept_without_force(tmp_path, store):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>my homepage</h1>")
    result = report(store, site)
    assert result.exit_code == 1 and "holds an index.html that harness report did not write" in result.output
    assert (site / "index.html").read_text() == "<h1>my homepage</h1>"


def test_published_pages_name_no_path_of_this_machine(tmp_path, store):
    site = tmp_path / "site"
    assert report(store, site).exit_code == 0
    for page in site.iterdir():
        assert str(store) not in page.read_text(), page.name


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"),
    ("plain", "plain"), (-0.5, -0.5), (["=1"], '["=1"]'),
])
def test_csv_cells_that_would_run_as_formulas_are_neutralised(value, cell):
    assert csv_cell(value) == cell


def test_csv_export_of_hostile_predictions(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    from harness.core.scores import Scores

    examples = [Example("x-0", "=HYPERLINK(\"http://evil\")", "positive")]
    from harness.store.store import RunRecord

    run = RunRecord(task="sentiment", task_version="1", kind="classification", dataset="d", split="validation",
                    data_source="local", data_location="here", model="m", model_identity={}, settings={},
                    cache_key="k", selection_key="s", n=1, seed=0, wall_time_s=0.1, compute_time_s=0.1,
                    examples_per_s=10.0, cached=0)
    store.save_run(run, Scores("accuracy", []), examples, [Prediction("@SUM(1)", raw="+cmd")], [False])
    from harness.store.export import export_rows

    out = io.StringIO()
    write_rows(export_rows(store, "predictions"), "csv", out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["input"] == "'=HYPERLINK(\"http://evil\")" and row["prediction"] == "'@SUM(1)" and row["raw"] == "'+cmd"


def test_a_models_results_round_trip_through_a_hugging_face_model_card(tmp_path):
    """``harness export --format model-index``: huggingface_hub's ModelCard parses the card
    back into the same results (task type, dataset, split, metric values, n and interval)."""
    from huggingface_hub import ModelCard

    from harness.store.store import Store

    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,sentiment", "--models", "spacy-en-sm,vader", "--source", "demo",
                                      "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "README.md"
    result = CliRunner().invoke(cli, ["export", "--format", "model-index", "--model", "vader", "--store", str(store), "-o", str(out),
                                      "--source-url", "https://example.org/board/"])
    assert result.exit_code == 0, result.output
    card = ModelCard.load(out)
    assert card.data.model_name == "vader"
    results = {(r.task_type, r.dataset_name, r.dataset_split, r.metric_type): r for r in card.data.eval_results}
    db = Store(store, readonly=True)
    run = db.latest_runs().query("model == 'vader'").iloc[0]
    metrics = db.metrics([int(run["id"])])
    for _, metric in metrics[metrics["breakdown"] == ""].iterrows():
        got = results[("text-classification", run["dataset"], run["split"], metric["name"])]
        assert got.metric_value == metric["value"] and got.metric_args["n"] == metric["n"]
        if metric["ci_low"] == metric["ci_low"]:
            assert got.metric_args["ci95"] == [metric["ci_low"], metric["ci_high"]]
        assert got.source_url == "https://example.org/board/" and got.source_name.startswith("harness ")
    assert len(results) == len(metrics[metrics["breakdown"] == ""])
    assert str(tmp_path) not in out.read_text()
    missing = CliRunner().invoke(cli, ["export", "--format", "model-index", "--store", str(store)])
    assert missing.exit_code == 1 and "--model" in missing.output


def test_lm_eval_results_json_has_the_structure_lm_eval_writes(tmp_path):
    """``harness export --format lm-eval`` against a results file lm-eval 0.4 itself wrote
    (tests/fixtures/lm_eval_results.json, made by bench/lm_eval_results_fixture.py): the same
    top-level keys, and per task the same kinds of entries (``acc,none``, ``acc_stderr,none``,
    ``alias``; n-samples' original and effective; higher_is_better per metric)."""
    import json

    from harness.store.store import Store

    written = json.loads((Path(__file__).parent / "fixtures" / "lm_eval_results.json").read_text())
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment,coref:wsc273,ner", "--models", "vader,coref-first,spacy-en-sm",
                                      "--source", "demo", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    exported = {}
    for model in ("vader", "coref-first", "spacy-en-sm"):
        out = tmp_path / f"{model}.json"
        result = CliRunner().invoke(cli, ["export", "--format", "lm-eval", "--model", model, "--store", str(store), "-o", str(out)])
        assert result.exit_code == 0, result.output
        exported[model] = json.loads(out.read_text())
    for ours in exported.values():
        assert {"results", "versions", "n-shot", "n-samples", "higher_is_better", "group_subtasks"} <= set(ours) <= set(written) | {"config"}
    for model, theirs_name, ours_name in (("vader", "local_sst2", "sst2"), ("coref-first", "local_wsc273", "wsc273")):
        ours, theirs = exported[model], written
        assert set(theirs["results"][theirs_name]) - {"name", "sample_len"} <= set(ours["results"][ours_name])
        assert set(ours["n-samples"][ours_name]) == set(theirs["n-samples"][theirs_name]) == {"original", "effective"}
        assert set(theirs["higher_is_better"][theirs_name]) <= set(ours["higher_is_better"][ours_name])
        assert isinstance(ours["n-shot"][ours_name], int) and ours["n-shot"][ours_name] == theirs["n-shot"][theirs_name]
    db = Store(store, readonly=True)
    run = db.latest_runs().query("model == 'vader'").iloc[0]
    accuracy = db.metrics([int(run["id"])]).query("name == 'accuracy' and breakdown == ''").iloc[0]
    sst2 = exported["vader"]["results"]["sst2"]
    assert sst2["acc,none"] == accuracy["value"]
    assert abs(sst2["acc_stderr,none"] - (accuracy["ci_high"] - accuracy["ci_low"]) / (2 * 1.959963984540054)) < 1e-12
    ner = exported["spacy-en-sm"]["results"]["ner"]  # no lm-eval counterpart: our names, the same suffixes
    assert "f1,none" in ner and "f1_stderr,none" in ner and ner["alias"] == "ner"
