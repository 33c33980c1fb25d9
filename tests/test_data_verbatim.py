"""Loaders keep the published text exactly: SST-2 byte for byte, WSC273 as the Hub's builder makes it.

The real files are read from ../shared/data when it is there (CI has it beside the clone);
the fixture checks run everywhere.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import get_task

from .conftest import SHARED


def lm_eval_bench():
    """bench/vs_lm_eval.py, whose readers of the raw files use no harness code (they also write
    the data stock lm-eval reads in that bench)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vs_lm_eval", Path(__file__).parent.parent / "bench" / "vs_lm_eval.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def sentences_as_written(path: Path) -> list[str]:
    """Each data line's text before its tab, as bytes decoded, nothing stripped."""
    return [row["sentence"] for row in lm_eval_bench().sst2_rows(path)]


def test_sst2_sentences_equal_the_fixture_byte_for_byte(data_dir):
    examples = get_task("sentiment").load(None, data_dir=data_dir, source="local").examples
    written = sentences_as_written(data_dir / "sentiment" / "sst2" / "validation.tsv")
    assert [e.input for e in examples] == written
    assert all(sentence.endswith(" ") for sentence in written)  # the fixture keeps GLUE's trailing space


@pytest.mark.skipif(not (SHARED / "sentiment" / "sst2").is_dir(), reason="../shared/data is not beside the clone")
@pytest.mark.parametrize("split", ["validation", "train"])
def test_sst2_sentences_equal_the_real_file_byte_for_byte(split):
    examples = get_task("sentiment").load(split, data_dir=SHARED, source="local").examples
    written = sentences_as_written(SHARED / "sentiment" / "sst2" / f"{split}.tsv")
    assert len(examples) == len(written) and [e.input.encode() for e in examples] == [w.encode() for w in written]


def hub_builder_wsc273(path: Path) -> list[dict]:
    """The Hub builder's rows, from the bench's re-implementation of it."""
    return lm_eval_bench().wsc273_rows(path)


@pytest.mark.skipif(not (SHARED / "coref" / "wsc273" / "WSCollection.xml").is_file(),
                    reason="../shared/data is not beside the clone")
def test_wsc273_equals_the_hub_builder_on_the_real_file():
    path = SHARED / "coref" / "wsc273" / "WSCollection.xml"
    examples = get_task("coref:wsc273").load("test", data_dir=SHARED, source="local").examples
    expected = hub_builder_wsc273(path)
    assert len(examples) == len(expected) == 273
    for example, row in zip(examples, expected):
        data = example.input
        assert data["text"] == row["text"] and data["pronoun"] == row["pronoun"]
        assert data["pronoun_offset"] == row["pronoun_loc"]
        assert [c["text"] for c in data["candidates"]] == row["options"]
        assert example.reference == row["label"]


def test_wsc_demo_equals_the_hub_builder():
    import tasks.coref as coref

    task = get_task("coref:wsc273")
    expected = hub_builder_wsc273(Path(coref.__file__).parent / "demo" / task.demo_files["test"])
    examples = task.load("test", source="demo").examples
    assert [e.input["text"] for e in examples] == [r["text"] for r in expected]
    assert [e.input["pronoun_offset"] for e in examples] == [r["pronoun_loc"] for r in expected]
    assert [e.reference for e in examples] == [r["label"] for r in expected]


def test_lm_eval_prompt_style_reproduces_its_wsc273_requests():
    """lm-eval's stock wsc273: the rest after a doubled space, a sentence start only after ".";
    the harness's own style: a single space, and "!" / "?" end sentences too."""
    from harness import Example

    from .conftest import lm_requests

    task = get_task("coref:wsc273")
    data = {"text": "Stop! The man saw the dog. It ran.", "pronoun": "It", "pronoun_offset": 27,
            "candidates": [{"text": "The man", "offset": 6}, {"text": "the dog", "offset": 18}], "allow_none": False}
    example = Example("x", data, 1)
    assert lm_requests(task, example) == [("Stop! The man saw the dog. The man", " ran."),
                                          ("Stop! The man saw the dog. the dog", " ran.")]
    assert lm_requests(task, example, style="lm-eval") == [("Stop! The man saw the dog. The man", "  ran."),
                                                           ("Stop! The man saw the dog. the dog", "  ran.")]
    after_bang = Example("y", {**data, "text": "Stop! It ran.", "pronoun_offset": 6,
                               "candidates": [{"text": "The man", "offset": None}, {"text": "A dog", "offset": None}]}, 0)
    assert [c for c, _ in lm_requests(task, after_bang)] == ["Stop! The man", "Stop! A dog"]
    assert [c for c, _ in lm_requests(task, after_bang, style="lm-eval")] == ["Stop! the man", "Stop! a dog"]
