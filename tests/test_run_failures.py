"""A bad day for a run: failing model plugins, slow models, Ctrl-C, and a strict, quiet CLI."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from harness import Model, Prediction, hookimpl
from harness.cli import cli
from harness.store.store import Store

from . import slow_plugin
from .conftest import CONLL_SENTENCES, write_data_dir

MANY = [s for _ in range(10) for s in CONLL_SENTENCES]  # 60 sentences


class Flaky(Model):
    """Raises on the sentence that mentions Blackburn (the second of each six)."""

    name = "flaky-tagger"
    kinds = frozenset({"tagging"})
    batch_invariant = True

    def predict(self, task, examples, *, batch_size=32):
        if any("Blackburn" in e.input for e in examples):
            raise ValueError("cannot tag 'Blackburn'")
        return [Prediction(["O"] * len(e.input)) for e in examples]


class ReturnsNone(Model):
    name = "none-tagger"
    kinds = frozenset({"tagging"})

    def predict(self, task, examples, *, batch_size=32):
        return None


class Unstorable(Model):
    name = "object-tagger"
    kinds = frozenset({"tagging"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction(["O"] * len(e.input), details={"state": object()}) for e in examples]


class BareStrings(Model):
    name = "string-classifier"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return ["positive" for _ in examples]


class IntLabels(Model):
    name = "int-classifier"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction(1) for _ in examples]


class ShortTags(Model):
    name = "short-tagger"
    kinds = frozenset({"tagging"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction(["O"]) for _ in examples]


class Generator(Model):
    name = "generator-classifier"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return (Prediction("positive") for _ in examples)


class BadPlugins:
    @hookimpl
    def harness_register_models(self, register):
        for model in (Flaky(), ReturnsNone(), Unstorable(), BareStrings(), Generator(), IntLabels(), ShortTags()):
            register(model)


@pytest.fixture
def bad_models(register_plugin):
    register_plugin(slow_plugin, "slow-plugin")
    return register_plugin(BadPlugins(), "bad-plugins")


def invoke(*args):
    return CliRunner().invoke(cli, ["run", "--no-progress", *args])


def test_a_raising_model_is_named_with_its_example_and_the_other_pairs_finish(bad_models, data_dir, store_path):
    result = invoke("--tasks", "ner,sentiment", "--models", "flaky-tagger,capital-tagger,vader", "--data-dir", str(data_dir),
                    "--store", str(store_path))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert ("Error: flaky-tagger failed on ner, example test-1: ValueError: cannot tag 'Blackburn' "
            "(1 prediction computed before it stored)") in lines
    assert any(line.startswith("ner ") and "capital-tagger" in line for line in lines)  # later pairs ran and are shown
    assert any(line.startswith("sentiment ") and "vader" in line for line in lines)
    assert lines[-1].startswith(f"Error: 1 of 3 task x model pairs failed; the others are stored in {store_path}")
    assert "Traceback" not in result.output
    runs = Store(store_path, readonly=True).runs()
    assert sorted(runs["model"]) == ["capital-tagger", "vader"]
    cached = sqlite3.connect(store_path).execute("SELECT example_key FROM cache").fetchall()
    assert any(key.startswith("test-0:") for (key,) in cached)  # what the flaky model answered is kept


def test_debug_shows_the_plugins_traceback(bad_models, data_dir, store_path):
    result = CliRunner().invoke(cli, ["--debug", "run", "--no-progress", "--tasks", "ner", "--models", "flaky-tagger",
                                      "--data-dir", str(data_dir), "--store", str(store_path)])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "in predict" in result.output


@pytest.mark.parametrize(("model", "task", "message"), [
    ("none-tagger", "ner", r"none-tagger on ner: predict\(\) returned None for 6 examples \(expected a list of Prediction\)"),
    ("object-tagger", "ner", r"object-tagger on ner, example test-0: the prediction cannot be stored as JSON \(TypeError: .*\)"),
    ("string-classifier", "sentiment",
     r"string-classifier on sentiment, example validation-0: got str 'positive' \(expected harness.Prediction\(output, ...\)\)"),
    ("int-classifier", "sentiment",
     r"int-classifier on sentiment, example validation-0: output 1 is not one of the task's labels \(negative, positive\)"),
    ("short-tagger", "ner", r"short-tagger on ner, example test-0: output is 1 tags, expected a list of 9 tags \(one per token\)"),
    ("generator-classifier", "sentiment",
     r"generator-classifier on sentiment: predict\(\) returned a generator \(expected a list of 8 Prediction, one per example, in order\)"),
])
def test_a_wrong_return_is_a_one_line_error_naming_model_and_example(bad_models, data_dir, store_path, model, task, message):
    result = invoke("--tasks", task, "--models", model, "--data-dir", str(data_dir), "--store", str(store_path))
    assert result.exit_code == 1
    assert re.fullmatch(f"Error: {message}", result.output.strip().splitlines()[-1])


def test_a_slow_model_gets_small_calls_each_committed(tmp_path, register_plugin, monkeypatch):
    register_plugin(slow_plugin, "slow-plugin")
    data = write_data_dir(tmp_path / "data", MANY)
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("SLOW_TAGGER_DELAY", "0.4")
    monkeypatch.setenv("SLOW_TAGGER_COUNT", str(log))
    result = invoke("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data), "--limit", "12",
                    "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 0, result.output
    calls = [int(x) for x in log.read_text().split()]
    # one example first, then doubling while calls stay under three seconds (never the old 256)
    assert calls == [1, 2, 4, 5]


def _harness_process(args, env, cpu_bound: bool = False):
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import slow_plugin;"
        f"slow_plugin.CapitalTagger.cpu_bound = {cpu_bound};"
        "from harness.plugins.registry import pm; pm.register(slow_plugin, name='slow-plugin');"
        "from harness.cli import main; sys.argv = ['harness'] + sys.argv[2:]; main()"
    )
    # Ctrl-C as a terminal delivers it, however the suite was started: a job a shell starts in the
    # background (`nohup ... &`) inherits SIGINT ignored, and Python then leaves it ignored
    return subprocess.Popen([sys.executable, "-c", script, os.path.dirname(slow_plugin.__file__), *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_in_a_terminal)


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_cache(store, at_least: int, deadline_s: float = 60) -> None:
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            if sqlite3.connect(store).execute("SELECT COUNT(*) FROM cache").fetchone()[0] >= at_least:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError("the run stored nothing in time")


def test_ctrl_c_says_what_is_stored_and_how_to_resume(tmp_path, register_plugin, monkeypatch):
    register_plugin(slow_plugin, "slow-plugin")
    data = write_data_dir(tmp_path / "data", MANY)
    store = tmp_path / "s.sqlite"
    args = ["run", "--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data), "--store", str(store), "--no-progress"]
    proc = _harness_process(args, {"SLOW_TAGGER_DELAY": "0.1"})
    _wait_for_cache(store, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    stored = sqlite3.connect(store).execute("SELECT COUNT(*) FROM cache").fetchone()[0]
    assert 3 <= stored < len(MANY)
    last = err.strip().splitlines()[-1]
    assert last == (f"Error: Interrupted: {stored} of {len(MANY)} predictions of ner x capital-tagger are stored in {store}; "
                    f"resume with: harness {' '.join(args)}")
    log = tmp_path / "count.txt"
    monkeypatch.setenv("SLOW_TAGGER_COUNT", str(log))
    resumed = invoke(*args[1:], "--json")
    assert resumed.exit_code == 0
    assert sum(int(x) for x in log.read_text().split()) == len(MANY) - stored


def test_ctrl_c_stops_worker_processes_and_keeps_what_they_finished(tmp_path):
    data = write_data_dir(tmp_path / "data", MANY * 2)  # 120 sentences: enough for the process pool
    store = tmp_path / "s.sqlite"
    args = ["run", "--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data), "--store", str(store),
            "--no-progress", "--workers", "2"]
    proc = _harness_process(args, {"SLOW_TAGGER_DELAY": "0.1"}, cpu_bound=True)
    _wait_for_cache(store, 16)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    stored = sqlite3.connect(store).execute("SELECT COUNT(*) FROM cache").fetchone()[0]
    assert 16 <= stored < 2 * len(MANY)
    assert err.strip().splitlines()[-1].startswith(
        f"Error: Interrupted: {stored} of {2 * len(MANY)} predictions of ner x capital-tagger are stored in {store}")


def test_a_model_that_is_not_batch_invariant_gets_one_batch_per_call(tmp_path, register_plugin, monkeypatch):
    register_plugin(slow_plugin, "slow-plugin")
    monkeypatch.setattr(slow_plugin.CapitalTagger, "batch_invariant", False)  # as a padded neural model
    data = write_data_dir(tmp_path / "data", MANY)
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("SLOW_TAGGER_COUNT", str(log))
    result = invoke("--tasks", "ner", "--models", "capital-tagger", "--data-dir", str(data), "--batch-size", "8",
                    "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 0, result.output
    assert [int(x) for x in log.read_text().split()] == [8] * 7 + [4]  # never timing-dependent


def test_skipped_pairs_are_one_line_and_verbose_lists_them(tmp_path):
    base = ["--tasks", "ner,sentiment", "--source", "demo", "--store", str(tmp_path / "d.sqlite")]
    quiet = invoke(*base)
    assert quiet.exit_code == 0, quiet.output
    skips = [line for line in quiet.output.splitlines() if line.lower().startswith("skip")]
    assert len(skips) == 1 and re.fullmatch(r"Skipped \d+ task x model pairs that the model cannot answer \(--verbose lists them\)", skips[0])
    verbose = invoke(*base, "--verbose")
    listed = [line for line in verbose.output.splitlines() if line.startswith("skip ")]
    assert len(listed) == int(re.search(r"Skipped (\d+)", skips[0]).group(1)) and "skip ner x vader: " in verbose.output


def test_a_run_that_evaluates_nothing_is_an_error(tmp_path):
    store = str(tmp_path / "s.sqlite")
    nothing = invoke("--tasks", "", "--store", store)
    assert nothing.exit_code == 1 and nothing.output.strip() == "Error: --tasks names no task; e.g. --tasks ner,sentiment (see `harness tasks`)"
    skipped = invoke("--tasks", "sentiment", "--models", "identity", "--source", "demo", "--store", store)
    assert skipped.exit_code == 1
    assert skipped.output.strip().splitlines()[-1] == (
        "Error: Nothing was evaluated: no model named can answer the tasks named "
        "(identity answers correction tasks, not classification)")


def test_names_ignore_case_and_suggest_close_matches(tmp_path):
    result = invoke("--tasks", "SENTIMENT", "--models", "VADER", "--source", "demo", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 0 and "sentiment      vader" in result.output
    typo = invoke("--tasks", "sentimnet", "--store", str(tmp_path / "s.sqlite"))
    assert typo.exit_code == 1 and typo.output.startswith("Error: Unknown task 'sentimnet'. Did you mean 'sentiment'? Available: ")
    model = invoke("--tasks", "sentiment", "--models", "vadr", "--store", str(tmp_path / "s.sqlite"))
    assert model.output.startswith("Error: Unknown model 'vadr'. Did you mean 'vader'?")


def test_a_negative_seed_is_a_usage_error(tmp_path):
    result = invoke("--tasks", "sentiment", "--seed", "-1", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 2 and "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295" in result.output
    assert not (tmp_path / "s.sqlite").exists()


def test_an_unreachable_hub_model_fails_at_once(tmp_path, data_dir, monkeypatch):
    from harness.data.hub import hub_reachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without the Hub
    hub_reachable.cache_clear()
    started = time.perf_counter()
    result = invoke("--tasks", "sentiment", "--models", "hf:harness-tests/no-such-model", "--data-dir", str(data_dir),
                    "--store", str(tmp_path / "s.sqlite"))
    hub_reachable.cache_clear()
    assert time.perf_counter() - started < 10
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: hf:harness-tests/no-such-model: 'harness-tests/no-such-model' is not a local folder, the Hugging Face Hub "
        "is unreachable and the model is not in the local Hub cache; pass a model folder, or run where the Hub is reachable")
