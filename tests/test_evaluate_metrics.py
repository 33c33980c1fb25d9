"""Hugging Face ``evaluate`` modules as a task's extra metrics (``Task.extra_metrics``): a local
module the test writes (offline), stored with a bootstrap CI and shown by the report; the NER
F1 cross-checked through a local module that asks seqeval; an unloadable module is one
warning line and the run's other metrics stand."""
from __future__ import annotations

import re
import sys

from click.testing import CliRunner

from harness import hookimpl
from harness.cli import cli
from harness.store import Store
from tasks.ner import CoNLL2003
from tasks.sentiment import SST2

EXACT_MATCH = '''
import datasets
import evaluate


class ExactMatchHere(evaluate.Metric):
    """The share of predictions equal to their reference (written for this test)."""

    def _info(self):
        return evaluate.MetricInfo(description="exact match", citation="", inputs_description="",
                                   features=datasets.Features({"predictions": datasets.Value("string"),
                                                               "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return {"exact_match": sum(p == r for p, r in zip(predictions, references)) / len(predictions)}
'''

SEQEVAL_F1 = '''
import datasets
import evaluate
from seqeval.metrics import f1_score


class SeqevalF1Here(evaluate.Metric):
    """Entity-level micro F1 from seqeval (default mode: conlleval's chunking), written for this test."""

    def _info(self):
        return evaluate.MetricInfo(description="seqeval F1", citation="", inputs_description="",
                                   features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("string")),
                                                               "references": datasets.Sequence(datasets.Value("string"))}))

    def _compute(self, predictions, references):
        return {"f1": f1_score(references, predictions)}
'''


def _tasks(tmp_path):
    (tmp_path / "exact_match_here.py").write_text(EXACT_MATCH)
    (tmp_path / "seqeval_f1_here.py").write_text(SEQEVAL_F1)

    class SentimentEM(SST2):
        name = "sentiment-em"
        demo_package = "tasks"  # the built-in task's demo rows
        extra_metrics = (str(tmp_path / "exact_match_here.py"), str(tmp_path / "not_there.py"))
        extra_metrics_resamples = 50

    class NerSeqeval(CoNLL2003):
        name = "ner-seqeval"
        demo_package = "tasks"
        extra_metrics = (str(tmp_path / "seqeval_f1_here.py"),)
        extra_metrics_resamples = 20

    class Plugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(SentimentEM())
            register(NerSeqeval())

    return Plugin()


def _metrics(store, task):
    db = Store(store, readonly=True)
    run = db.latest_runs().query(f"task == '{task}'").iloc[0]
    rows = db.metrics([int(run["id"])])
    return {r["name"]: r for _, r in rows[rows["breakdown"] == ""].iterrows()}


def test_a_task_declares_local_evaluate_modules_stored_with_a_ci_and_shown(tmp_path, register_plugin):
    register_plugin(_tasks(tmp_path), "evaluate-tasks")
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment-em,ner-seqeval", "--models", "vader,spacy-en-sm",
                                      "--source", "demo", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    # the module that cannot load: one line naming it; the run completes with the rest
    warnings = [line for line in result.output.splitlines() if "not_there.py" in line]
    assert len(warnings) == 1 and warnings[0].startswith("Warning: evaluate module") and "left out" in warnings[0]
    sentiment = _metrics(store, "sentiment-em")
    exact = sentiment["exact_match"]
    assert exact["value"] == sentiment["accuracy"]["value"]  # vader's label equals the gold label exactly when it is right
    assert exact["ci_low"] <= exact["value"] <= exact["ci_high"] and exact["ci_low"] < exact["ci_high"]
    assert exact["n"] == sentiment["accuracy"]["n"]
    ner = _metrics(store, "ner-seqeval")
    # the kind's F1 (conlleval's chunking) and seqeval's through an evaluate module agree
    assert abs(ner["seqeval_f1_here:f1"]["value"] - ner["f1"]["value"]) < 1e-12
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    page = next(site.glob("task-sentiment-em-*.html")).read_text()
    assert re.search(r"<th[^>]*>exact_match", page) and f"{exact['value']:.4f}" in page


def test_a_relative_extra_metrics_path_is_read_next_to_the_plugin_not_the_working_directory(tmp_path, register_plugin,
                                                                                             monkeypatch):
    """An author writes ``extra_metrics = ("metrics/exact_match_here.py",)`` beside the task's
    module; the run works from any folder, and a file of that name in the working directory
    is never the one loaded."""
    import importlib.util

    package = tmp_path / "author_plugin"
    (package / "metrics").mkdir(parents=True)
    (package / "metrics" / "exact_match_here.py").write_text(EXACT_MATCH)
    (package / "author_task.py").write_text(
        "from harness import hookimpl\nfrom tasks.sentiment import SST2\n\n\n"
        "class SentimentLocalEM(SST2):\n    name = 'sentiment-local-em'\n    demo_package = 'tasks'\n"
        "    extra_metrics = ('metrics/exact_match_here.py',)\n    extra_metrics_resamples = 10\n\n\n"
        "class Plugin:\n    @hookimpl\n    def harness_register_tasks(self, register):\n"
        "        register(SentimentLocalEM())\n")
    spec = importlib.util.spec_from_file_location("author_task_for_test", package / "author_task.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "author_task_for_test", module)  # as an installed plugin's module is
    spec.loader.exec_module(module)
    register_plugin(module.Plugin(), "author-task")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "metrics").mkdir(parents=True)
    # a decoy of the same relative name in the working directory: loading it would fail the run's metric
    (elsewhere / "metrics" / "exact_match_here.py").write_text("raise ImportError('the decoy was loaded')\n")
    monkeypatch.chdir(elsewhere)
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment-local-em", "--models", "vader", "--source", "demo",
                                      "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output, result.output
    metrics = _metrics(store, "sentiment-local-em")
    assert metrics["exact_match"]["value"] == metrics["accuracy"]["value"]
