"""What a plugin author runs into: each mistake is a one-line message, early."""
from __future__ import annotations

import importlib
import json
import sys
import types

from click.testing import CliRunner

from harness import Example, Model, Prediction, Task, TaskGroup, hookimpl
from harness.cli import cli
from harness.store.export import export_rows
from harness.store import Store

from .conftest import write_file


class NoPrompt(Task):
    name = "noprompt"
    kind = "classification"
    dataset = "no prompt"
    labels = ("negative", "positive")
    local_files = {"test": "noprompt/test.tsv"}

    def read_file(self, path, split):
        return [Example(f"{split}-{i}", line, "positive") for i, line in enumerate(path.read_text().split("\n")) if line]

    def from_hub(self, split):
        raise LookupError("no Hub copy")


class NoLabels(NoPrompt):
    name = "nolabels"
    labels = ()
    prompt_template = "{{ input }}"


class Folders(NoPrompt):
    name = "folders"
    local_files = {"test": "reviews/", "dev": ["more/b.txt", "more/a.txt"]}


class TaskPlugin:
    @hookimpl
    def harness_register_tasks(self, register):
        for task in (NoPrompt(), NoLabels(), Folders()):
            register(task)


def run(*args):
    return CliRunner().invoke(cli, ["run", "--no-progress", *args])


def test_a_task_without_a_prompt_fails_before_any_weights_load(tmp_path, register_plugin, monkeypatch):
    register_plugin(TaskPlugin(), "author-tasks")
    write_file(tmp_path, "noprompt/test.tsv", "good\nbad\n")
    from harness import PackagedWeights

    monkeypatch.setattr(PackagedWeights, "ensure_converted", lambda self: (_ for _ in ()).throw(AssertionError("converted")))
    result = run("--tasks", "noprompt", "--models", "smollm2-135m", "--data-dir", str(tmp_path), "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: Task 'noprompt' has no prompt_template, which decoder models such as smollm2-135m "
                                     "need (set Task.prompt_template: a jinja2 template of the input)")


def test_a_classification_task_without_labels_is_a_one_line_error(tmp_path, register_plugin):
    register_plugin(TaskPlugin(), "author-tasks")
    result = run("--tasks", "nolabels", "--models", "smollm2-135m", "--data-dir", str(tmp_path), "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Task 'nolabels' (classification) has no labels: set Task.labels to its class labels"


def test_local_files_may_name_a_folder_or_several_files(tmp_path, register_plugin):
    register_plugin(TaskPlugin(), "author-tasks")
    write_file(tmp_path, "reviews/2.txt", "second file\n")
    write_file(tmp_path, "reviews/1.txt", "first file\nline two\n")
    write_file(tmp_path, "reviews/.hidden", "not data\n")
    write_file(tmp_path, "more/a.txt", "from a\n")
    write_file(tmp_path, "more/b.txt", "from b\n")
    from harness import get_task

    task = get_task("folders")
    test = task.load("test", data_dir=tmp_path)
    assert [(e.id, e.input) for e in test.examples] == [("1.txt:test-0", "first file"), ("1.txt:test-1", "line two"),
                                                         ("2.txt:test-0", "second file")]
    assert [e.input for e in task.load("dev", data_dir=tmp_path).examples] == ["from b", "from a"]  # in the order listed
    (tmp_path / "more" / "a.txt").unlink()
    result = run("--tasks", "folders", "--split", "dev", "--models", "vader", "--data-dir", str(tmp_path),
                 "--store", str(tmp_path / "s.sqlite"))
    assert result.output.strip() == f"Error: Task 'folders': {tmp_path / 'more' / 'a.txt'} not found (expected more/a.txt under {tmp_path})"


def test_unmarked_hooks_and_plugins_that_register_nothing_are_named(register_plugin, capsys):
    from harness.plugins.registry import _warned, collect, warn_about_unhooked

    unmarked = types.ModuleType("unmarked_plugin")
    unmarked.harness_register_models = lambda register: register(None)  # forgot @hookimpl

    class Empty:
        @hookimpl
        def harness_register_tasks(self, register):
            pass  # registers nothing

    register_plugin(unmarked, "unmarked-plugin")
    register_plugin(Empty(), "empty-plugin")
    _warned.clear()
    warn_about_unhooked()
    collect("harness_register_tasks", (Task, TaskGroup), "task")
    err = capsys.readouterr().err.splitlines()
    assert ("Warning: plugin 'unmarked-plugin': harness_register_models is not marked with @harness.hookimpl, "
            "so harness ignores it") in err
    assert "Warning: plugin 'empty-plugin': harness_register_tasks registered nothing (call register(obj) for each task)" in err


def test_editing_a_plugin_never_serves_its_old_cached_predictions(tmp_path, register_plugin, monkeypatch, data_dir):
    source = tmp_path / "edited_plugin.py"
    code = '''
from harness import Model, Prediction, hookimpl

class Constant(Model):
    name = "constant"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction("LABEL") for _ in examples]

@hookimpl
def harness_register_models(register):
    register(Constant())
'''
    source.write_text(code.replace("LABEL", "positive"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_plugin")
    register_plugin(module, "edited")
    args = ["--tasks", "sentiment", "--models", "constant", "--data-dir", str(data_dir), "--store", str(tmp_path / "s.sqlite"), "--json"]
    first = json.loads(run(*args).stdout)["results"][0]
    source.write_text(code.replace("LABEL", "negative"))  # the author fixes the model
    second = json.loads(run(*args).stdout)["results"][0]
    assert first["computed"] == second["computed"] == 8  # not served from the first version's cache
    accuracy = [next(m["value"] for m in r["metrics"] if m["name"] == "accuracy") for r in (first, second)]
    assert accuracy[0] + accuracy[1] == 1.0
    sys.modules.pop("edited_plugin", None)


def test_editing_one_model_or_task_of_a_file_leaves_the_others_identities(tmp_path, monkeypatch):
    """The code digest of a model without an answers version leaves out the file's other
    models and tasks; a helper they share is in every one of them."""
    source = tmp_path / "several_plugins.py"
    code = '''
from harness import Example, Model, Prediction, Task

def shared(examples):
    return [Prediction("positive") for _ in examples]

class First(Model):
    name = "first"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return shared(examples)

class Second(First):
    name = "second"

    def predict(self, task, examples, *, batch_size=32):
        return shared(examples)[::-1]

class Reviews(Task):
    name, kind, labels = "reviews-x", "classification", ("negative", "positive")

    def read_file(self, path, split):
        return [Example("r1", "fine", "positive")]
'''
    source.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("several_plugins")
    first, second = module.First(), module.Second()
    before = first.identity()["code"], second.identity()["code"]
    source.write_text(code.replace('"r1", "fine"', '"r1", "fine, really"'))  # the task edited
    assert (first.identity()["code"], second.identity()["code"]) == before
    source.write_text(code.replace("shared(examples)[::-1]", "list(reversed(shared(examples)))"))  # Second edited
    assert first.identity()["code"] == before[0] and second.identity()["code"] != before[1]  # First is Second's base
    source.write_text(code.replace("def shared(examples):", "def shared(examples):  # edited"))  # the helper edited
    assert first.identity()["code"] != before[0] and second.identity()["code"] != before[1]
    sys.modules.pop("several_plugins", None)


class Detailed(Model):
    name = "detailed"
    kinds = frozenset({"correction"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction(e.input, candidates=[e.input, "other"], details={"why": "echo"}) for e in examples]


class DetailedPlugin:
    @hookimpl
    def harness_register_models(self, register):
        register(Detailed())


def test_export_keeps_candidates_and_details(tmp_path, register_plugin):
    register_plugin(DetailedPlugin(), "detailed-plugin")
    store = tmp_path / "s.sqlite"
    assert run("--tasks", "spelling:norvig1", "--models", "detailed", "--source", "demo", "--store", str(store)).exit_code == 0
    [row, *_] = export_rows(Store(store, readonly=True), "predictions")
    assert row["candidates"] == [row["input"], "other"] and row["details"] == {"why": "echo"}


class Threshold(Model):
    """A model with typed options: one that changes predictions, one for speed only."""

    name = "threshold-classifier"
    kinds = frozenset({"classification"})
    batch_invariant = True

    def __init__(self):
        from harness import Option

        self.options = {"cutoff": Option("cutoff", 3, parse=int, help="words needed to say positive")}
        self.engine_options = {"threads": Option("threads", 1, parse=int, changes_predictions=False)}

    def predict(self, task, examples, *, batch_size=32):
        cutoff = self.option("cutoff")
        return [Prediction("positive" if len(e.input.split()) >= cutoff else "negative") for e in examples]


class ThresholdPlugin:
    @hookimpl
    def harness_register_models(self, register):
        register(Threshold())


def test_typed_options_label_rows_only_when_they_change_predictions(tmp_path, register_plugin, data_dir):
    register_plugin(ThresholdPlugin(), "threshold-plugin")
    from harness import get_model

    base = get_model("threshold-classifier")
    tuned = base.with_options({"cutoff": "6", "threads": "4"})
    assert (tuned.option("cutoff"), tuned.option("threads")) == (6, 4)
    assert base.option("cutoff") == 3 and tuned is not base  # a new model; the registered one is unchanged
    assert tuned.option_tags() == ["cutoff=6"] and tuned.prediction_options() == {"cutoff": 6}
    bad = run("--tasks", "sentiment", "--models", "threshold-classifier", "-o", "cutoff=many", "--data-dir", str(data_dir),
              "--store", str(tmp_path / "s.sqlite"))
    assert bad.exit_code == 1 and bad.output.strip() == (
        "Error: Model 'threshold-classifier': option cutoff takes a int (default 3), got 'many'")
    store = tmp_path / "s.sqlite"
    args = ["--tasks", "sentiment", "--models", "threshold-classifier", "--data-dir", str(data_dir), "--store", str(store), "--json"]
    first = json.loads(run(*args, "-o", "cutoff=6").stdout)["results"][0]
    again = json.loads(run(*args, "-o", "cutoff=6", "-o", "threads=8").stdout)["results"][0]
    assert first["model"] == again["model"] == "threshold-classifier (cutoff=6)"
    assert again["computed"] == 0  # a speed-only option is not part of the cache key
    listing = json.loads(CliRunner().invoke(cli, ["models", "--json"]).stdout)
    options = next(r for r in listing if r["name"] == "threshold-classifier")["options"]
    assert options["threads"]["changes_predictions"] is False and options["cutoff"]["type"] == "int"


class EchoEngine(__import__("harness", fromlist=["DecoderLM"]).DecoderLM):
    """A decoder engine with no tokenizer and no scoring (as a chat-only HTTP API): it
    generates by echoing the last word of each prompt."""

    name = "echo-engine"

    def identity(self):
        return {"name": self.name}

    def generate(self, prompts, *, max_new_tokens, stops=(), batch_size=16, structured=None):
        return [" " + prompt.split("Word: ")[-1].split("\n")[0] for prompt in prompts]


class EchoPlugin:
    @hookimpl
    def harness_register_models(self, register):
        register(EchoEngine())


def test_an_engine_without_a_tokenizer_answers_generation_kinds_only(tmp_path, register_plugin):
    register_plugin(EchoPlugin(), "echo-plugin")
    store = str(tmp_path / "s.sqlite")
    spelling = run("--tasks", "spelling:norvig1", "--models", "echo-engine", "--source", "demo", "--store", store, "--json")
    assert spelling.exit_code == 0, spelling.output
    [cell] = json.loads(spelling.stdout)["results"]
    over = next(m for m in cell["metrics"] if m["name"] == "over_correction_rate")
    assert over["value"] == 0.0  # echoing leaves every correct word alone
    sentiment = run("--tasks", "sentiment", "--models", "echo-engine", "--source", "demo", "--store", store)
    assert sentiment.exit_code == 1
    assert sentiment.output.strip() == ("Error: echo-engine cannot score continuations, which classification tasks "
                                        "such as 'sentiment' are answered by")
