"""A third-party task package, pip-installed, runs through ``harness run`` with no core change."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import PROJECT, harness_subprocess


def install_example(name: str, tmp_path) -> dict[str, str]:
    """pip-install ``examples/<name>`` into a folder of its own; the environment that sees it."""
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PROJECT / "examples" / name)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return {"PYTHONPATH": str(target)}


def run_own_tests(name: str, env: dict[str, str], tmp_path) -> None:
    """The example package's own tests pass against the installed package, through the public API."""
    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(PROJECT / "examples" / name / "tests")],
                         capture_output=True, text=True, env={**__import__("os").environ, **env}, cwd=tmp_path, timeout=300)
    assert own.returncode == 0, own.stdout + own.stderr


def test_pip_installed_task_plugin_runs(tmp_path):
    env = install_example("harness-reviews", tmp_path)

    plugins = json.loads(harness_subprocess(["plugins"], env=env).stdout)
    assert plugins == [{"name": "harness-reviews", "hooks": ["harness_register_tasks"], "version": "0.1.0"}]

    store = tmp_path / "third.sqlite"
    result = harness_subprocess(["run", "--tasks", "reviews", "--models", "vader", "--source", "demo",
                                 "--store", str(store), "--json", "--no-progress"], env=env)
    assert result.returncode == 0, result.stderr
    [cell] = json.loads(result.stdout)["results"]
    assert (cell["task"], cell["model"], cell["n"], cell["data_source"]) == ("reviews", "vader", 8, "demo")
    accuracy = next(m for m in cell["metrics"] if m["name"] == "accuracy")
    assert accuracy["value"] >= 0.75  # VADER reads these clear-cut reviews correctly

    run_own_tests("harness-reviews", env, tmp_path)


def test_pip_installed_model_plugin_runs(tmp_path):
    env = install_example("harness-textblob", tmp_path)
    plugins = json.loads(harness_subprocess(["plugins"], env=env).stdout)
    assert plugins == [{"name": "harness-textblob", "hooks": ["harness_register_models"], "version": "0.1.0"}]

    store = tmp_path / "third.sqlite"
    result = harness_subprocess(["run", "--tasks", "sentiment,ner", "--models", "textblob-sentiment", "--source", "demo",
                                 "--store", str(store), "--json", "--no-progress"], env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    [cell] = payload["results"]
    assert (cell["task"], cell["model"], cell["n"]) == ("sentiment", "textblob-sentiment", 16)
    assert payload["skipped"][0]["reason"] == "textblob-sentiment answers classification tasks, not tagging"
    from harness.store.store import Store

    run = Store(store, readonly=True).runs().iloc[0]
    assert run["provenance"]["plugins"] == {"model": "harness-textblob==0.1.0", "task": "harness==0.1.0"}
    assert run["model_identity"]["plugin"] == "harness-textblob==0.1.0"

    run_own_tests("harness-textblob", env, tmp_path)


def test_a_pip_installed_kind_runs_through_run_report_and_explorer(tmp_path):
    """The worked example of docs/plugins.md: a new kind, a task and a model of it, in one package."""
    import re

    from .conftest import chromium_dom

    env = install_example("harness-tokentags", tmp_path)
    plugins = json.loads(harness_subprocess(["plugins"], env=env).stdout)
    assert plugins == [{"name": "harness-tokentags", "hooks": ["harness_register_kinds", "harness_register_models",
                                                                "harness_register_tasks"], "version": "0.1.0"}]
    store = tmp_path / "kind.sqlite"
    result = harness_subprocess(["run", "--tasks", "pos-toy", "--models", "suffix-pos,smollm2-135m,vader", "--source",
                                 "demo", "--store", str(store), "--json", "--no-progress"], env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    cells = {cell["model"]: cell for cell in payload["results"]}
    assert set(cells) == {"suffix-pos", "smollm2-135m"}  # the decoder answers the kind through its adapter
    assert payload["skipped"][0]["reason"] == "vader answers classification tasks, not token-tags"
    accuracy = {m["name"]: m for m in cells["suffix-pos"]["metrics"]}["token_accuracy"]
    assert accuracy["value"] > 0.7 and accuracy["n"] == 51  # every token of the 8 demo sentences
    site = tmp_path / "board"  # not the folder the plugin was pip-installed into: report refuses that
    report = harness_subprocess(["report", "--store", str(store), "--out", str(site)], env=env)
    assert report.returncode == 0, report.stderr
    task_page = (site / "task-pos-toy-test-demo.html").read_text()
    assert "Wrong tags by gold tag" in task_page and "heavily/OTHER" in task_page  # the kind's analysis and display
    dom = chromium_dom(site / "explore-pos-toy-test-demo.html", tmp_path / "profile")
    rows = re.findall(r'<tr class="explorer-row" data-id="[^"]*">(.*?)</tr>', dom, re.S)
    assert len(rows) == 8 and any("curious child" in row for row in rows)

    run_own_tests("harness-tokentags", env, tmp_path)
