"""A plugin author's mistakes, each caught early with one clear line (one test per point of the
plugin author's second pass), and the kind reference in docs/plugins.md complete."""
from __future__ import annotations

import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import (DecoderAdapter, Example, FinetuneHead, HarnessError, Kind, Noise, Presenter, Scorer, Task,
                     hookimpl)
from harness.cli import cli

from .conftest import PROJECT, harness_subprocess

DOCS = (PROJECT / "docs" / "plugins.md").read_text()


def run(*args: str):
    return CliRunner().invoke(cli, ["run", *args, "--no-progress"])


class Lines(Task):
    """``label<TAB>text`` lines; no Hub copy."""

    name = "lines"
    kind = "classification"
    labels = ("negative", "positive")
    local_files = {"test": "lines.tsv"}

    def read_file(self, path, split):
        rows = [line.split("\t") for line in path.read_text().splitlines() if line]
        return [Example(f"{split}-{i}", text, label) for i, (label, text) in enumerate(rows)]

    def from_hub(self, split):
        raise LookupError("no Hub dataset")


class Tasks:
    def __init__(self, *tasks):
        self.tasks = tasks

    @hookimpl
    def harness_register_tasks(self, register):
        for task in self.tasks:
            register(task)


# 1. a gold label outside Task.labels

def test_a_gold_label_outside_the_labels_stops_the_run_naming_the_file_and_example(tmp_path, register_plugin):
    register_plugin(Tasks(Lines()), "lines")
    (tmp_path / "lines.tsv").write_text("positive\tgood\nneutral\tfine , I guess\nnegative\tbad\n")
    result = run("--tasks", "lines", "--models", "vader", "--data-dir", str(tmp_path), "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0] == (
        f"Error: {tmp_path / 'lines.tsv'}: example test-1: gold label 'neutral' is not one of Task.labels "
        "(negative, positive)")


# 2. a kind without score

def test_a_kind_without_score_leaves_its_plugin_out_alone_with_one_warning(tmp_path, register_plugin):
    class HalfScorer(Scorer):
        def is_correct(self, example, prediction):
            return True

    class HalfKind:
        @hookimpl
        def harness_register_kinds(self, register):
            register(Kind("halfkind", scorer=HalfScorer()))

    register_plugin(HalfKind(), "half-kind")
    line = ("Warning: Kind 'halfkind' (plugin 'half-kind'): its scorer HalfScorer does not implement score(); see "
            "docs/plugins.md for the parts and their methods; it is left out (set HARNESS_LOAD_PLUGINS='' to run without "
            "third-party plugins)")
    result = run("--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 0, result.output  # the other tasks and models run: only the broken plugin is out
    assert [w for w in result.stderr.splitlines() if w.startswith("Warning:")] == [line]
    from harness.kinds import get_kinds

    assert "halfkind" not in get_kinds()


def test_a_generation_adapter_must_read_what_it_asks_for(register_plugin, capsys):
    from harness.kinds import get_kinds

    class Asks(DecoderAdapter):
        method = "generation"

        def generation(self, decoder, task, examples, chat):
            return [8] * len(examples), None, ""

    class Plugin:
        @hookimpl
        def harness_register_kinds(self, register):
            register(Kind("asks", scorer=type("S", (Scorer,), {"score": lambda self, *a, **k: None})(), decoding=Asks()))

    register_plugin(Plugin(), "asks")
    assert "asks" not in get_kinds()  # its plugin is left out, with one warning naming what is missing
    assert re.fullmatch(r"Warning: Kind 'asks' \(plugin 'asks'\): its decoding Asks answers by generation but does "
                        r"not implement read_generation\(\); it is left out \(.*\)", capsys.readouterr().err.strip())


# 3. the kind reference documents every part, with signatures

def _signature(function) -> str:
    parts, star = [], False
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        if parameter.kind == parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(parameter.name if parameter.default is parameter.empty else f"{parameter.name}={parameter.default!r}")
    return f"{function.__name__}({', '.join(parts)})"


@pytest.mark.parametrize("part", [Scorer, Presenter, Noise, DecoderAdapter, FinetuneHead])
def test_every_public_kind_part_is_documented_with_its_signature(part):
    methods = [f for name, f in inspect.getmembers(part, inspect.isfunction) if not name.startswith("_")]
    assert methods
    missing = [_signature(f) for f in methods if f"`{_signature(f)}`" not in DOCS and f"{_signature(f)}`" not in DOCS]
    assert missing == [], f"docs/plugins.md lacks {missing}"
    assert f"`{part.__name__}" in DOCS


def test_the_types_a_kind_returns_are_importable_from_harness():
    import harness

    for name in ("Scores", "Metric", "PairedStatistics", "accuracy_statistics", "Table", "bootstrap_ci", "GenerationRequest"):
        assert name in harness.__all__ and f"`{name}`" in DOCS


# 4. prompts for tagging and correction tasks, as documented, work with decoders

def _documented_prompt(kind: str) -> str:
    block = DOCS[DOCS.index(f"* **{kind}**"):]
    return json.loads(re.search(r'`("(?:[^"\\]|\\.)*")`', block).group(1))


def test_the_documented_tagging_and_correction_prompts_run_with_a_decoder(tmp_path, register_plugin):
    class Entities(Task):
        name, kind, labels, answer_prefix = "my-ner", "tagging", ("PER", "LOC"), "["
        prompt_template = _documented_prompt("tagging")
        local_files = {"test": "ner.txt"}

        def read_file(self, path, split):
            return [Example("s1", ["Maria", "lives", "in", "Lisbon"], ["B-PER", "O", "O", "B-LOC"])]

    class Words(Task):
        name, kind = "my-spelling", "correction"
        prompt_template = _documented_prompt("correction")
        local_files = {"test": "words.txt"}

        def read_file(self, path, split):
            from harness.kinds.correction import correction_examples

            return correction_examples([("recieve", ["receive"], 1)], split)

    register_plugin(Tasks(Entities(), Words()), "prompted")
    (tmp_path / "ner.txt").write_text("x")
    (tmp_path / "words.txt").write_text("x")
    result = run("--tasks", "my-ner,my-spelling", "--models", "smollm2-135m", "--data-dir", str(tmp_path), "--store",
                 str(tmp_path / "s.sqlite"), "--json")
    assert result.exit_code == 0, result.output
    cells = {c["task"]: c for c in json.loads(result.stdout)["results"]}
    assert set(cells) == {"my-ner", "my-spelling"} and cells["my-spelling"]["n"] == 2  # the misspelling and its clean word
    ner_metrics = {m["name"] for m in cells["my-ner"]["metrics"]}
    assert {"f1", "parse_failure_rate", "ungroundable_rate"} <= ner_metrics  # the entity list was asked for and read


def test_the_example_task_plugin_sets_a_prompt():
    source = (PROJECT / "examples" / "harness-reviews" / "harness_reviews" / "__init__.py").read_text()
    assert "prompt_template = " in source


# 5. a misspelt hook in an installed plugin

def _plugin_package(root: Path, source: str) -> dict[str, str]:
    info = root / "harness_typo-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-typo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[harness]\nharness_typo = harness_typo\n")
    (root / "harness_typo.py").write_text(textwrap.dedent(source))
    return {"PYTHONPATH": str(root)}


def test_a_misspelt_hook_is_named_with_a_suggestion_and_its_plugin_left_out_alone(tmp_path):
    env = _plugin_package(tmp_path, """
        from harness import hookimpl

        @hookimpl
        def harness_register_task(register):
            pass
    """)
    line = "Plugin 'harness_typo': unknown hook 'harness_register_task' (did you mean 'harness_register_tasks'?)"
    listed = harness_subprocess(["tasks"], env=env)
    assert listed.returncode == 0 and "sentiment" in listed.stdout
    assert listed.stderr.strip() == (f"Warning: {line}; it is left out (set HARNESS_LOAD_PLUGINS='' to run without "
                                     "third-party plugins)")
    assert str(tmp_path) not in listed.stderr and "<module" not in listed.stderr
    ran = harness_subprocess(["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store",
                              str(tmp_path / "s.sqlite")], env=env)
    assert ran.returncode == 0, ran.stderr  # only the plugin at fault is left out, with the same one line
    assert [w for w in ran.stderr.splitlines() if w.startswith("Warning:")] == [listed.stderr.strip()]


# 6. correction tasks without clean inputs

def test_a_correction_task_without_clean_inputs_says_once_that_it_has_no_over_correction_rate(tmp_path, register_plugin):
    class Misspellings(Task):
        name, kind = "misspellings", "correction"
        local_files = {"test": "words.tsv"}

        def read_file(self, path, split):
            rows = [line.split("\t") for line in path.read_text().splitlines()]
            return [Example(f"w{i}", wrong, [right]) for i, (wrong, right) in enumerate(rows)]

    register_plugin(Tasks(Misspellings()), "misspellings")
    (tmp_path / "words.tsv").write_text("recieve\treceive\nteh\tthe\n")
    result = run("--tasks", "misspellings", "--models", "identity,pyspellchecker", "--data-dir", str(tmp_path),
                 "--store", str(tmp_path / "s.sqlite"), "--json")
    assert result.exit_code == 0, result.output
    note = ("Warning: Task 'misspellings' has no clean inputs (correct words given as their own correction), so "
            "over_correction_rate is not computed; harness.kinds.correction.correction_examples adds them")
    assert result.stderr.count(note) == 1  # once, for both models
    metrics = {m["name"] for c in json.loads(result.stdout)["results"] for m in c["metrics"]}
    assert "over_correction_rate" not in metrics and "accuracy" in metrics


# 7. perturbation refusals come from the kinds' own declarations

def test_the_correction_refusal_lists_the_kinds_that_take_noise(register_plugin, tmp_path):
    class Stars(Noise):
        def perturb(self, task, example, noise):
            return example

    class Plugin:
        @hookimpl
        def harness_register_kinds(self, register):
            register(Kind("stars", scorer=type("S", (Scorer,), {"score": lambda self, *a, **k: None})(), noise=Stars()))

    register_plugin(Plugin(), "stars")
    result = run("--tasks", "spelling:norvig1", "--models", "identity", "--source", "demo", "--perturb", "typo:0.1",
                 "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0].endswith(
        "--perturb applies to tasks of kind choice, classification, stars, tagging")


# 8. a split of several files that belong together

def test_a_split_may_be_read_from_paired_files(tmp_path, register_plugin):
    class Paired(Task):
        name, kind, labels = "paired", "classification", ("negative", "positive")
        local_files = {"test": ["paired/test_text.txt", "paired/test_labels.txt"]}

        def read_files(self, paths, split):
            texts, labels = (path.read_text().splitlines() for path in paths)
            return [Example(f"{split}-{i}", text, ("negative", "positive")[int(label)])
                    for i, (text, label) in enumerate(zip(texts, labels))]

    register_plugin(Tasks(Paired()), "paired")
    (tmp_path / "paired").mkdir()
    (tmp_path / "paired" / "test_text.txt").write_text("a wonderful day\nan awful mess\n")
    (tmp_path / "paired" / "test_labels.txt").write_text("1\n0\n")
    result = run("--tasks", "paired", "--models", "vader", "--data-dir", str(tmp_path), "--store", str(tmp_path / "s.sqlite"),
                 "--json")
    assert result.exit_code == 0, result.output
    [cell] = json.loads(result.stdout)["results"]
    assert cell["n"] == 2 and {m["name"]: m["value"] for m in cell["metrics"]}["accuracy"] == 1.0


# 9. the CLI line: the headline's n, and ex/s only where the report shows it

def test_the_cli_line_shows_the_headlines_n_and_no_speed_for_an_untimed_run(tmp_path):
    result = run("--tasks", "spelling:norvig1,coref:gap", "--models", "identity,coref-nearest", "--source", "demo",
                 "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 0, result.output
    spelling = next(line for line in result.output.splitlines() if line.startswith("spelling:norvig1"))
    from harness import get_task

    examples = get_task("spelling:norvig1").load(source="demo").examples
    misspelt = sum(1 for e in examples if not e.meta.get("clean"))
    assert f"n={misspelt} " in spelling and misspelt < len(examples)  # the accuracy counts the misspellings only
    gap = next(line for line in result.output.splitlines() if line.startswith("coref:gap"))
    assert "- ex/s" in gap  # a heuristic over the demo split in well under 50 ms: no meaningful speed


# 10. a plugin's from_hub that says it has no Hub copy

def test_a_task_with_no_hub_copy_says_so_not_that_the_hub_is_unreachable(tmp_path, register_plugin):
    register_plugin(Tasks(Lines()), "lines")
    result = run("--tasks", "lines", "--models", "vader", "--source", "hub", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0] == (
        "Error: Task 'lines' has no Hub copy of split 'test' (no Hub dataset); pass --data-dir DIR with lines.tsv in it")


# 11. read_file as a generator, and the wrong return type

def test_read_file_may_yield_and_a_wrong_return_is_one_line(tmp_path):
    class Yielding(Lines):
        def read_file(self, path, split):
            for i, line in enumerate(path.read_text().splitlines()):
                label, text = line.split("\t")
                yield Example(f"{split}-{i}", text, label)

    class Strings(Lines):
        def read_file(self, path, split):
            return ["positive good"]

    (tmp_path / "lines.tsv").write_text("positive\tgood\nnegative\tbad\n")
    assert [e.reference for e in Yielding().load(data_dir=tmp_path).examples] == ["positive", "negative"]
    with pytest.raises(HarnessError, match=r"^Task 'lines': read_file\(\) gave a str \('positive good'\); "
                                                   r"expected harness.Example\(id, input, reference\)$"):
        Strings().load(data_dir=tmp_path)



# 3b. the public API the built-ins stand on is typed and documented

def _public_signature(name: str, function) -> str:
    parts, star = [], False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind == parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(parameter.name if parameter.default is parameter.empty else f"{parameter.name}={parameter.default!r}")
    return f"{name}({', '.join(parts)})"


#: the helpers of harness the built-in tasks and baselines read and score with
TASK_HELPERS = ("read_text", "text_lines", "tsv_rows", "correction_examples", "spans_to_bio", "score_choice", "safe_ratio",
                "get_kinds", "kind_of", "training_examples")


@pytest.mark.parametrize("module, names", [("harness.engine", None), ("harness", TASK_HELPERS)])
def test_every_public_function_a_built_in_uses_is_typed_and_documented_with_its_signature(module, names):
    import importlib

    public = importlib.import_module(module)
    names = names or public.__all__
    undocumented, untyped = [], []
    for name in names:
        obj = getattr(public, name)
        assert name in public.__all__
        if inspect.isfunction(obj):
            signature = inspect.signature(obj)
            if any(p.annotation is p.empty for p in signature.parameters.values()) or signature.return_annotation is signature.empty:
                untyped.append(name)
            if f"`{_public_signature(name, obj)}`" not in DOCS:
                undocumented.append(_public_signature(name, obj))
        elif f"`{name}`" not in DOCS:
            undocumented.append(name)
    assert undocumented == [] and untyped == [], f"docs/plugins.md lacks {undocumented}; not fully annotated: {untyped}"


# a wrongly typed example: named as a type error, not counted as characters

class OneExample(Task):
    """One example, built as the test says, read from a one-line file."""

    name = "one-example"
    local_files = {"test": "one.txt"}

    def __init__(self, kind, labels, input, reference):
        self.kind, self.labels, self.input, self.reference = kind, labels, input, reference

    def read_file(self, path, split):
        return [Example("test-0", self.input, self.reference)]


TYPED_WRONG = [
    # kind, labels, input, reference, the one line expected after "example test-0: "
    ("tagging", ("PER", "ORG", "LOC", "MISC"), "EU rejects German call", ["B-ORG", "O", "O", "O"],
     "Example.input is a str ('EU rejects German call'), expected a list of tokens (str): split the sentence into its tokens"),
    ("tagging", ("PER", "ORG", "LOC", "MISC"), ["EU", "rejects"], "B-ORG O",
     "Example.reference is a str ('B-ORG O'), expected a list of tags (str), one per token"),
    ("classification", ("negative", "positive"), "a fine film", 1,
     "Example.reference is an int (1), expected a str, one of Task.labels (negative, positive): map the dataset's ids "
     "to its names"),
    ("correction", (), "recieve", "receive",
     "Example.reference is a str ('receive'), expected a non-empty list of accepted corrections (str), e.g. ['receive']"),
    ("choice", (), {"text": "Anna met Beth and she waved.", "pronoun": "she", "pronoun_offset": 18,
                    "candidates": [{"text": "Anna", "offset": 0}, {"text": "Beth", "offset": 9}]}, "Anna",
     "Example.reference is a str ('Anna'), expected the index (int) of the right candidate, 0 to 1, or None"),
    ("choice", (), {"text": "Anna met Beth and she waved.", "candidates": ["Anna", "Beth"]}, 0,
     "Example.input['candidates'] is a list (['Anna', 'Beth']), expected a list of dicts, each with its 'text' (str)"),
    # a byte offset where characters are counted: "Zoë" is 3 characters, 4 bytes
    ("choice", (), {"text": "Zoë met Beth and she waved.", "pronoun": "she", "pronoun_offset": 18,
                    "candidates": [{"text": "Zoë", "offset": 0}, {"text": "Beth", "offset": 8}]}, 0,
     "Example.input['pronoun_offset'] is 18, where 'text' reads 'he ', not the pronoun 'she' (offsets count "
     "characters of 'text' from 0)"),
]


@pytest.mark.parametrize(("kind", "labels", "given", "reference", "expected"), TYPED_WRONG,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(TYPED_WRONG)])
def test_a_wrongly_typed_example_is_named_as_a_type_error(tmp_path, register_plugin, kind, labels, given, reference,
                                                          expected):
    register_plugin(Tasks(OneExample(kind, labels, given, reference)), "one-example")
    (tmp_path / "one.txt").write_text("x\n")
    model = {"tagging": "spacy-en-sm", "classification": "vader", "correction": "identity", "choice": "coref-first"}
    result = run("--tasks", "one-example", "--models", model[kind], "--data-dir", str(tmp_path),
                 "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[0] == f"Error: {tmp_path / 'one.txt'}: example test-0: {expected}"
