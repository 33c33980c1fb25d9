"""Task loaders: the published formats, the Hub's form, the demo split, and malformed-input errors."""
from __future__ import annotations

import pytest

from harness import DataError, HarnessError, get_task

from .conftest import CONLL_SENTENCES, SST2_ROWS, write_file


def test_conll_loader_reads_sentences_and_skips_docstart(data_dir):
    loaded = get_task("ner").load("test", data_dir=data_dir)
    assert loaded.source == "local" and loaded.location.endswith("ner/conll2003/test.txt")
    assert len(loaded.examples) == len(CONLL_SENTENCES)
    first = loaded.examples[0]
    assert first.input == [t for t, _ in CONLL_SENTENCES[0]]
    assert first.reference == [g for _, g in CONLL_SENTENCES[0]]
    assert first.meta["line"] == 3  # after "-DOCSTART-" and a blank line


def test_wnut_loader_reads_tab_separated_with_whitespace_only_separators(tmp_path):
    folder = tmp_path / "ner" / "wnut17"
    folder.mkdir(parents=True)
    # WNUT-17's train file separates sentences with a line holding a single tab.
    (folder / "test.conll").write_text("Hi\tO\nParis\tB-location\n\t\nok\tO\n")
    examples = get_task("ner:wnut17").load("test", data_dir=tmp_path).examples
    assert [e.input for e in examples] == [["Hi", "Paris"], ["ok"]]
    assert examples[0].reference == ["O", "B-location"]


def test_sst2_loader(data_dir):
    loaded = get_task("sentiment").load(data_dir=data_dir)
    assert loaded.split == "validation"
    assert [(e.input, e.reference) for e in loaded.examples] == [
        (s + " ", "positive" if label else "negative") for s, label in SST2_ROWS  # the fixture's trailing space, kept
    ]


@pytest.mark.parametrize(
    "task, relative, content, line, message",
    [
        ("ner", "ner/conll2003/test.txt", "EU NNP B-ORG\n", 1, "expected 4 space-separated columns, got 3"),
        ("ner", "ner/conll2003/test.txt", "EU NNP I-NP B-ORG\nrejects VBZ I-VP B-FOO\n", 2,
         "expected an IOB2 tag O, B-X or I-X with X in {LOC, MISC, ORG, PER}, got 'B-FOO'"),
        ("ner", "ner/conll2003/test.txt", "EU NNP I-NP ORG\n", 1, "expected an IOB2 tag"),
        ("ner:wnut17", "ner/wnut17/test.conll", "hi\tO\nParis B-location\n", 2, "expected 2 tab-separated columns, got 1"),
        ("sentiment", "sentiment/sst2/validation.tsv", "text\tlabel\n", 1, "expected the header 'sentence<TAB>label', got ['text', 'label']"),
        ("sentiment", "sentiment/sst2/validation.tsv", "sentence\tlabel\ngood film\t1\nbad film\tneg\n", 3,
         "expected label 0 or 1 in field 'label', got 'neg'"),
        ("sentiment", "sentiment/sst2/validation.tsv", "sentence\tlabel\ngood\tfilm\t1\n", 2,
         "expected 2 tab-separated fields (sentence, label), got 3"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, task, relative, content, line, message):
    path = write_file(tmp_path, relative, content)
    with pytest.raises(DataError) as info:
        get_task(task).load(data_dir=tmp_path)
    error = info.value
    assert error.path == str(path) and error.line == line
    assert str(error).startswith(f"{path}:{line}: {message}")
    assert "\n" not in str(error)


def test_malformed_file_is_a_one_line_cli_error(tmp_path):
    from click.testing import CliRunner

    from harness.cli import cli

    path = write_file(tmp_path, "ner/conll2003/test.txt", "EU NNP I-NP B-ORG\n\nbad line\n")
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", "spacy-en-sm", "--data-dir", str(tmp_path),
                                      "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {path}:3: expected 4 space-separated columns, got 2: 'bad line'"


def test_missing_local_file_says_what_was_expected(tmp_path):
    with pytest.raises(HarnessError, match=r"ner/conll2003/test.txt not found \(expected ner/conll2003/test.txt under"):
        get_task("ner").load(data_dir=tmp_path)


def test_unknown_split_lists_splits():
    with pytest.raises(HarnessError, match="Task 'sentiment' has no split 'test'; it has: train, dev, validation"):
        get_task("sentiment").load("test", source="demo")


@pytest.mark.parametrize("name, split", [("ner", "test"), ("ner:wnut17", "test"), ("sentiment", "validation")])
def test_demo_splits_load_offline(name, split):
    loaded = get_task(name).load(source="demo")
    assert loaded.source == "demo" and loaded.split == split
    assert len(loaded.examples) >= 8
    assert all(len(e.input) == len(e.reference) for e in loaded.examples) or name == "sentiment"


def test_auto_source_falls_back_to_demo_when_hub_is_offline(monkeypatch):
    from harness.data import hub as task_module

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    task_module.hub_reachable.cache_clear()
    try:
        assert get_task("ner").load().source == "demo"
    finally:
        task_module.hub_reachable.cache_clear()


def test_hub_rows_convert_to_examples():
    """The Hub code path's conversion (ClassLabel ids -> tag names), on an in-memory dataset."""
    import datasets

    from tasks.ner import examples_from_hf

    features = datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
    })
    ds = datasets.Dataset.from_dict({"tokens": [["Ada", "Lovelace", "wrote"]], "ner_tags": [[1, 2, 0]]}, features=features)
    [example] = examples_from_hf(ds, "test")
    assert example.input == ["Ada", "Lovelace", "wrote"]
    assert example.reference == ["B-PER", "I-PER", "O"]


def test_example_key_changes_with_input():
    from harness import Example

    assert Example("a", ["x"], ["O"]).key != Example("a", ["y"], ["O"]).key
    assert Example("a", ["x"], ["O"]).key == Example("a", ["x"], ["B-PER"]).key
