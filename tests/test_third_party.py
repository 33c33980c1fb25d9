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
