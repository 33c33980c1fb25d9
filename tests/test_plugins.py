"""The plugin core: discovery, listing, and one-line errors for bad plugins and names."""
from __future__ import annotations

import json
import textwrap

import pluggy
import pytest
from click.testing import CliRunner

from harness import (
    HarnessError,
    Model,
    Task,
    UnknownNameError,
    get_model,
    get_task,
    hookimpl,
)
from harness.cli import cli
from harness.errors import PluginError
from harness.plugins import hookspecs
from harness.plugins.registry import check_plugins, get_plugins, pm

from .conftest import FIXTURES, harness_subprocess

TASKS = (
    "coref, coref:gap, coref:winogender, coref:wsc273, ner, ner:wnut17, sentiment, spelling, spelling:birkbeck, "
    "spelling:codespell, spelling:norvig1, spelling:norvig2, spelling:toefl"
)
MODELS = (
    "autocorrect, capitalised-spans, coref-first, coref-nearest, hf-causal:<hub-id-or-path>, hf:<hub-id-or-path>, identity, "
    "llamacpp:<packaged-model-or-gguf-file>, majority-class, openai:<served-model-id>, "
    "pyspellchecker, "
    "qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m, spacy-en-sm, symspell, textblob, textblob-polarity, vader, vllm:<hub-id-path-or-packaged-model>"
)


class Echo(Model):
    name = "echo"
    kinds = frozenset({"classification"})


def test_builtins_are_registered():
    tasks = {t["name"]: t for t in json.loads(CliRunner().invoke(cli, ["tasks", "--json"]).output)}
    assert {"ner", "ner:wnut17", "sentiment", "spelling:norvig1", "coref:gap"} <= set(tasks)
    assert tasks["spelling"]["group"] == [
        "spelling:norvig1", "spelling:norvig2", "spelling:birkbeck", "spelling:toefl", "spelling:codespell"
    ]
    assert tasks["coref:wsc273"]["kind"] == "choice" and tasks["coref:wsc273"]["aliases"] == ["wsc273"]
    models = {m["name"]: m for m in json.loads(CliRunner().invoke(cli, ["models", "--json"]).output)}
    assert models["vader"]["kinds"] == ["classification"]
    assert models["spacy-en-sm"]["plugin"] == "plugins.spacy_ner"
    assert models["hf:<hub-id-or-path>"]["kinds"] == ["classification", "tagging"]


def test_plugins_listing_hides_builtins_unless_all():
    assert get_plugins() == []
    names = {p["name"] for p in get_plugins(all=True)}
    assert "tasks.ner" in names and "plugins.vader" in names
    result = CliRunner().invoke(cli, ["plugins", "--all"])
    from importlib.metadata import version

    assert {"name": "plugins.vader", "hooks": ["harness_register_models"], "built_in": True,
            "version": version("harness")} in json.loads(result.output)  # discovered through harness's entry points


def test_registered_test_plugin_is_listed(register_plugin):
    class EchoPlugin:
        @hookimpl
        def harness_register_models(self, register):
            register(Echo(), aliases=("parrot",))

    register_plugin(EchoPlugin(), "echo-plugin")
    assert get_model("echo").name == "echo"
    assert get_model("parrot").name == "echo"
    assert {"name": "echo-plugin", "hooks": ["harness_register_models"]} in get_plugins()


def test_unknown_task_lists_available():
    with pytest.raises(UnknownNameError) as info:
        get_task("nre")
    assert str(info.value) == "Unknown task 'nre'. Did you mean 'ner'? Available: " + TASKS


def test_unknown_model_lists_available():
    with pytest.raises(UnknownNameError) as info:
        get_model("bert-large")
    assert str(info.value) == "Unknown model 'bert-large'. Available: " + MODELS


def test_unknown_names_are_one_line_cli_errors(data_dir):
    for args, expected in [
        (["run", "--tasks", "nre"], "Error: Unknown task 'nre'. Did you mean 'ner'? Available: " + TASKS),
        (["run", "--tasks", "ner", "--models", "nope"], "Error: Unknown model 'nope'. Available: " + MODELS),
    ]:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert result.output.strip() == expected


def test_duplicate_task_name_names_both_plugins(register_plugin):
    class Clash(Task):
        name = "ner"
        kind = "tagging"

    class ClashPlugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(Clash())

    register_plugin(ClashPlugin(), "clash")
    with pytest.raises(PluginError) as info:
        get_task("sentiment")
    message = str(info.value)
    assert "'ner'" in message and "'tasks.ner'" in message and "'clash'" in message
    assert "\n" not in message


def test_duplicate_alias_is_an_error(register_plugin):
    class Other(Task):
        name = "sentiment-other"
        kind = "classification"

    class AliasPlugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(Other(), aliases=("sst2",))

    register_plugin(AliasPlugin(), "alias-clash")
    with pytest.raises(PluginError, match="Task name 'sst2' is registered by both plugin 'alias-clash' and plugin 'tasks.sentiment'"):
        get_task("ner")


def test_registering_a_non_task_is_an_error(register_plugin):
    class Wrong:
        @hookimpl
        def harness_register_tasks(self, register):
            register(object())

    register_plugin(Wrong(), "wrong-type")
    with pytest.raises(PluginError, match="Plugin 'wrong-type' registered object, which is not a harness Task"):
        get_task("ner")


def test_misspelt_hook_is_reported(register_plugin):
    class Misspelt:
        @hookimpl
        def harness_register_task(self, register):  # missing "s"
            pass

    register_plugin(Misspelt(), "misspelt")
    with pytest.raises(PluginError) as info:
        check_plugins()
    assert str(info.value) == "Plugin 'misspelt': unknown hook 'harness_register_task' (did you mean 'harness_register_tasks'?)"
    assert pm.get_plugin("misspelt") is None  # left out: the other plugins go on working


def test_wrong_hook_arguments_fail_at_registration():
    class BadArgs:
        @hookimpl
        def harness_register_tasks(self, register, extra):
            pass

    with pytest.raises(pluggy.PluginValidationError):
        pm.register(BadArgs(), name="bad-args")
    assert pm.get_plugin("bad-args") is None


@pytest.mark.parametrize("hook", [name for name in dir(hookspecs) if name.startswith("harness_")])
def test_every_hook_is_documented_and_tested(hook):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and ":param register:" in spec.__doc__
    readme = (__import__("pathlib").Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    assert f"{hook}(register)" in readme
    assert hook in open(__file__).read().replace(f'"{hook}"', "")


def _fake_distribution(root, dist, version, module, source, ep_name=None):
    """Write an installed-looking distribution (dist-info + module) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{ep_name or module} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


def test_third_party_plugin_that_fails_to_import_is_named(tmp_path):
    _fake_distribution(tmp_path, "harness-broken", "0.3", "harness_broken", "import nonexistent_dependency_xyz\n")
    result = harness_subprocess(["tasks"], env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0 and "sentiment" in result.stdout  # listings work, and say which plugin failed
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Warning: Could not load plugin 'harness_broken' (harness-broken 0.3): ModuleNotFoundError: ")
    assert "nonexistent_dependency_xyz" in lines[0] and lines[0].endswith("; it is left out (set "
                                                                           "HARNESS_LOAD_PLUGINS='' to run without third-party plugins)")
    for command in (["models"], ["plugins"]):
        assert harness_subprocess(command, env={"PYTHONPATH": str(tmp_path)}).returncode == 0
    run = harness_subprocess(["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store",
                              str(tmp_path / "s.sqlite")], env={"PYTHONPATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr  # the run goes on without it, saying so in the same one line
    assert [w for w in run.stderr.splitlines() if w.startswith("Warning:")] == lines
    unknown = harness_subprocess(["run", "--tasks", "broken-task", "--models", "vader", "--source", "demo", "--store",
                                  str(tmp_path / "s.sqlite")], env={"PYTHONPATH": str(tmp_path)})
    assert unknown.returncode == 1 and unknown.stderr.strip().splitlines()[-1].endswith(
        "(left out, as warned: plugin 'harness_broken')")
    # The escape hatch skips third-party plugins.
    ok = harness_subprocess(["tasks"], env={"PYTHONPATH": str(tmp_path), "HARNESS_LOAD_PLUGINS": ""})
    assert ok.returncode == 0 and "sentiment" in ok.stdout


def test_two_distributions_with_one_entry_point_name_is_an_error(tmp_path):
    source = "from harness import hookimpl\n"
    _fake_distribution(tmp_path / "a", "harness-one", "1.0", "harness_one", source, ep_name="shared")
    _fake_distribution(tmp_path / "b", "harness-two", "2.0", "harness_two", source, ep_name="shared")
    result = harness_subprocess(["tasks"], env={"PYTHONPATH": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: Plugin entry point 'shared' is declared by both harness-one 1.0 and harness-two 2.0; uninstall one of them"
    )


def test_load_plugins_env_selects_distributions(tmp_path):
    plugin = """
        from harness import Model, Prediction, hookimpl

        class Constant(Model):
            name = "constant-positive"
            kinds = frozenset({"classification"})
            def predict(self, task, examples, *, batch_size=32):
                return [Prediction("positive") for _ in examples]

        @hookimpl
        def harness_register_models(register):
            register(Constant())
    """
    _fake_distribution(tmp_path, "harness-constant", "0.1", "harness_constant", plugin)
    env = {"PYTHONPATH": str(tmp_path)}
    listed = harness_subprocess(["plugins"], env=env)
    assert json.loads(listed.stdout) == [{"name": "harness-constant", "hooks": ["harness_register_models"], "version": "0.1"}]
    assert "constant-positive" in harness_subprocess(["models"], env={**env, "HARNESS_LOAD_PLUGINS": "harness-constant"}).stdout
    assert "constant-positive" not in harness_subprocess(["models"], env={**env, "HARNESS_LOAD_PLUGINS": "other"}).stdout


def test_harness_error_is_not_swallowed_for_bad_source():
    with pytest.raises(HarnessError, match="Unknown data source 'web'"):
        get_task("ner").load(source="web")


def test_a_kind_in_its_own_folder_adds_a_fifth_kind_with_a_task_and_a_model(register_plugin, tmp_path, monkeypatch):
    """A new kind is one folder plus its registration (harness_register_kinds, with a task and
    a model of it): the fixture folder, copied where nothing else in the project can know it,
    is loaded as a plugin and runs through run and report."""
    import importlib
    import shutil

    shutil.copytree(FIXTURES / "stars_kind", tmp_path / "plugins" / "stars_kind")
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    register_plugin(importlib.import_module("stars_kind"), "stars-plugin")
    (tmp_path / "ratings.tsv").write_text("5\tgreat <b>fun</b> from start to end , loved it\n1\tbad\n3\tfine , I guess\n")
    store = tmp_path / "r.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ratings", "--models", "length-rater,vader,smollm2-135m",
                                      "--data-dir", str(tmp_path), "--store", str(store), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [cell] = payload["results"]
    mae = next(m for m in cell["metrics"] if m["name"] == "mae")
    assert cell["headline"] == "mae" and mae["value"] == pytest.approx((1 + 0 + 1) / 3)  # predicted 4, 1, 2
    skipped = {s["model"]: s["reason"] for s in payload["skipped"]}
    assert skipped["vader"].endswith("not stars")
    assert skipped["smollm2-135m"].endswith("not stars")  # no decoder adapter: decoders do not answer it
    from harness.store import Store

    assert Store(store, readonly=True).runs().iloc[0]["kind"] == "stars"
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    page = (site / "task-ratings-test.html").read_text()
    assert "great &lt;b&gt;fun&lt;/b&gt; from start to end" in page and "<td>*****</td>" in page  # its own display, escaped
    assert "length-rater" in (site / "index.html").read_text()
    # both exports read the kind: its Hub task type, and its metric as lower-is-better
    lm_eval, card = tmp_path / "lm-eval.json", tmp_path / "README.md"
    for form, out in (("lm-eval", lm_eval), ("model-index", card)):
        done = CliRunner().invoke(cli, ["export", "--format", form, "--model", "length-rater", "--store", str(store), "-o", str(out)])
        assert done.exit_code == 0, done.output
    assert json.loads(lm_eval.read_text())["higher_is_better"] == {"ratings": {"mae": False}}
    from huggingface_hub import ModelCard

    [result] = ModelCard.load(card).data.eval_results
    assert (result.task_type, result.metric_type, result.metric_args["better"]) == ("text-regression", "mae", "lower")


class ReversedExecutorPlugin:
    """An executor a plugin adds (harness_register_executors): the cells in reverse order."""

    @hookimpl
    def harness_register_executors(self, register):
        from harness.run.executors import ExecutorType
        from harness.run.runner import run_cell_here

        class Reversed:
            name = "reversed"

            def run(self, cells, summary, config):
                for cell in reversed(list(cells)):
                    summary.results.append(run_cell_here(cell, summary, config))

        register(ExecutorType("reversed", "the cells in reverse order", lambda address: Reversed()))


def test_a_plugin_adds_an_executor(register_plugin, tmp_path):
    register_plugin(ReversedExecutorPlugin(), "reversed-executor")
    args = ["run", "--tasks", "sentiment,coref:gap", "--models", "vader,coref-nearest", "--source", "demo",
            "--store", str(tmp_path / "s.sqlite"), "--json", "--no-progress"]
    local = CliRunner().invoke(cli, args)
    reversed_run = CliRunner().invoke(cli, [*args, "--executor", "reversed"])
    assert local.exit_code == reversed_run.exit_code == 0, reversed_run.output
    cells = [(r["task"], r["model"]) for r in json.loads(local.stdout)["results"]]
    assert cells == [("sentiment", "vader"), ("coref:gap", "coref-nearest")]
    assert [(r["task"], r["model"]) for r in json.loads(reversed_run.stdout)["results"]] == cells[::-1]
    wrong = CliRunner().invoke(cli, [*args, "--executor", "revresed"])
    assert wrong.exit_code == 1
    assert wrong.output.strip() == "Error: Unknown executor 'revresed'. Did you mean 'reversed'? Available: local, ray, reversed"
