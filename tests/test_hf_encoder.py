"""The ``hf:`` encoder backend on tiny encoders built in the test."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from harness import HarnessError, get_model, get_task
from harness.cli import cli
from plugins.hf_encoder import first_subword_labels, map_class_labels, map_tag_labels

from .conftest import build_tiny_encoder


def test_first_subword_alignment_hand_checked():
    # "Blackburn runs ." -> [CLS] bl ##ack ##burn runs . [SEP]  (word ids None 0 0 0 1 2 None)
    word_ids = [None, 0, 0, 0, 1, 2, None]
    subword_labels = [9, 1, 2, 2, 0, 0, 9]
    assert first_subword_labels(word_ids, subword_labels, 3) == [1, 0, 0]


def test_alignment_marks_truncated_words():
    assert first_subword_labels([None, 0, 1, None], [0, 3, 4, 0], 4) == [3, 4, None, None]


def test_alignment_with_the_real_tokenizer(tiny_ner_encoder):
    tokenizer = AutoTokenizer.from_pretrained(tiny_ner_encoder)
    encoded = tokenizer([["Clara", "Blackburn"]], is_split_into_words=True)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    assert pieces == ["[CLS]", "clara", "bl", "##ack", "##burn", "[SEP]"]
    labels = [0, 1, 2, 7, 7, 0]  # the word "Blackburn" must take label 2, from "bl"
    assert first_subword_labels(encoded.word_ids(0), labels, 2) == [1, 2]


def test_tag_label_mapping():
    mapping = map_tag_labels({0: "O", 1: "B-per", 2: "I_PER"}, ("LOC", "PER"), "hf:x", "ner")
    assert mapping == {0: "O", 1: "B-PER", 2: "I-PER"}
    with pytest.raises(HarnessError, match=r"hf:x: labels 'B-DISEASE' cannot be mapped onto task 'ner' \(expected O, B-X or I-X with X in LOC, PER\)"):
        map_tag_labels({0: "O", 1: "B-DISEASE"}, ("LOC", "PER"), "hf:x", "ner")


def test_class_label_mapping():
    labels = ("negative", "positive")
    assert map_class_labels({0: "NEGATIVE", 1: "POSITIVE"}, labels, "m", "t") == {0: "negative", 1: "positive"}
    assert map_class_labels({0: "neg", 1: "pos"}, labels, "m", "t") == {0: "negative", 1: "positive"}
    assert map_class_labels({0: "LABEL_0", 1: "LABEL_1"}, labels, "m", "t") == {0: "negative", 1: "positive"}
    with pytest.raises(HarnessError, match="m: labels 'neutral' cannot be mapped onto task 't'"):
        map_class_labels({0: "negative", 1: "neutral", 2: "positive"}, labels, "m", "t")


def _unbatched_tags(folder, tokens):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder).eval()
    encoded = tokenizer([tokens], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        ids = model(**encoded).logits[0].argmax(-1).tolist()
    words = first_subword_labels(encoded.word_ids(0), ids, len(tokens))
    return [model.config.id2label[i] for i in words]


def test_tagging_predictions_equal_unbatched_forward_passes(tiny_ner_encoder, data_dir):
    task = get_task("ner")
    examples = task.load(data_dir=data_dir).examples
    model = get_model(f"hf:{tiny_ner_encoder}")
    assert model.supports(task) is None
    predictions = model.predict(task, examples, batch_size=4)  # length-sorted, padded batches
    for example, prediction in zip(examples, predictions):
        assert prediction.output == _unbatched_tags(tiny_ner_encoder, example.input)


def test_classification_probabilities_equal_unbatched_forward_passes(tiny_sentiment_encoder, data_dir):
    task = get_task("sentiment")
    examples = task.load(data_dir=data_dir).examples
    predictions = get_model(f"hf:{tiny_sentiment_encoder}").predict(task, examples, batch_size=3)
    tokenizer = AutoTokenizer.from_pretrained(tiny_sentiment_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_sentiment_encoder).eval()
    for example, prediction in zip(examples, predictions):
        with torch.no_grad():
            probs = torch.softmax(model(**tokenizer(example.input, return_tensors="pt")).logits[0], -1).tolist()
        assert prediction.scores["negative"] == pytest.approx(probs[0], abs=1e-5)
        assert prediction.scores["positive"] == pytest.approx(probs[1], abs=1e-5)
        assert prediction.output == ("positive" if probs[1] > probs[0] else "negative")


def test_encoder_runs_on_both_tasks_through_the_cli(tiny_ner_encoder, tiny_sentiment_encoder, data_dir, store_path):
    args = ["run", "--tasks", "ner,sentiment", "--models", f"hf:{tiny_ner_encoder},hf:{tiny_sentiment_encoder}",
            "--data-dir", str(data_dir), "--store", str(store_path), "--json", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    cells = {(r["task"], r["model"]): r for r in payload["results"]}
    assert set(cells) == {("ner", f"hf:{tiny_ner_encoder}"), ("sentiment", f"hf:{tiny_sentiment_encoder}")}
    # The token-classification model cannot answer sentiment, and vice versa: skipped with a note.
    assert {(s["task"], s["model"]) for s in payload["skipped"]} == {
        ("sentiment", f"hf:{tiny_ner_encoder}"), ("ner", f"hf:{tiny_sentiment_encoder}")
    }
    for cell in cells.values():
        headline = next(m for m in cell["metrics"] if m["name"] == cell["headline"] and not m["breakdown"])
        assert 0.0 <= headline["ci_low"] <= headline["value"] <= headline["ci_high"] <= 1.0


def test_unmappable_head_is_a_clear_error(tmp_path, data_dir, store_path):
    folder = build_tiny_encoder(tmp_path / "odd", "token", ["O", "B-GENE", "I-GENE"])
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", f"hf:{folder}", "--data-dir", str(data_dir),
                                      "--store", str(store_path), "--no-progress"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: hf:{folder}: labels 'B-GENE', 'I-GENE' cannot be mapped onto task 'ner' "
        "(expected O, B-X or I-X with X in LOC, MISC, ORG, PER)"
    )


def test_missing_model_folder_is_a_clear_error(tmp_path, data_dir, store_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", f"hf:{tmp_path}/nothing-here",
                                      "--data-dir", str(data_dir), "--store", str(store_path)])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: hf:{tmp_path}/nothing-here: cannot load a transformers config from")


def test_identity_changes_when_weights_change(tmp_path):
    a = build_tiny_encoder(tmp_path / "a", "token", ["O", "B-PER", "I-PER"], seed=0)
    b = build_tiny_encoder(tmp_path / "b", "token", ["O", "B-PER", "I-PER"], seed=1)
    assert get_model(f"hf:{a}").identity()["revision"] != get_model(f"hf:{b}").identity()["revision"]
    assert get_model(f"hf:{a}").identity() == get_model(f"hf:{a}").identity()
