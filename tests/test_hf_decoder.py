"""The ``hf-causal:`` backend: efficient option scoring equals brute force; prompts; cache."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from harness import Example, get_model, get_task
from harness.cli import cli
from harness.prompts import lm_requests, render_prompt, substitution_requests

from .conftest import _tiny_tokenizer


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    """A randomly initialised 2-layer Llama with a small WordPiece vocabulary, saved to disk."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = _tiny_tokenizer(folder)
    known = set((folder / "vocab.txt").read_text().split())
    extra = [w for w in ("question", "is", "this", "sentence", "positive", "or", "negative", "answer", "cat", "mouse") if w not in known]
    with open(folder / "vocab.txt", "a") as handle:
        handle.write("".join(f"{w}\n" for w in extra))
    tokenizer = type(tokenizer).from_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def brute_force(folder, context_ids, continuation_ids):
    """Sum of log-probabilities of the continuation from the full logits of one unpadded sequence."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), -1)
    return sum(float(logprobs[len(context_ids) - 1 + j, t]) for j, t in enumerate(continuation_ids))


def test_batched_scoring_equals_brute_force(tiny_decoder):
    model = get_model(f"hf-causal:{tiny_decoder}")
    requests = [
        ("the plot drags", " and the dialogue is wooden ."),
        ("a bright , funny", " film ."),
        ("tedious", " and pointless ."),
        ("one of the season 's finest pictures", " ."),
    ]
    fast = model.score_requests(requests, batch_size=3)  # padded, length-sorted batches
    for (context, continuation), score in zip(requests, fast):
        expected = brute_force(tiny_decoder, model.encode(context), model.encode(continuation))
        assert score == pytest.approx(expected, abs=1e-5)


def test_single_token_path_equals_brute_force(tiny_decoder):
    model = get_model(f"hf-causal:{tiny_decoder}")
    contexts = [
        "it 's a dull , dull , dull film .\nQuestion: Is this sentence positive or negative?\nAnswer:",
        "tedious .\nAnswer:",
        "a bright , funny , generous film . one of the season 's finest pictures .",
    ]
    tokens = [model.encode(" negative")[0], model.encode(" positive")[0]]
    fast = model.score_single_token_options(contexts, tokens, batch_size=2)  # padded batches of different lengths
    for context, scores in zip(contexts, fast):
        for token, score in zip(tokens, scores):
            assert score == pytest.approx(brute_force(tiny_decoder, model.encode(context), [token]), abs=1e-5)


def test_classification_predictions_pick_the_likeliest_label(tiny_decoder, data_dir):
    task = get_task("sentiment")
    examples = task.load(data_dir=data_dir).examples
    model = get_model(f"hf-causal:{tiny_decoder}")
    for example, prediction in zip(examples, model.predict(task, examples)):
        scores = [brute_force(tiny_decoder, model.encode(c), model.encode(x)) for c, x in lm_requests(task, example)]
        assert prediction.output == task.labels[scores.index(max(scores))]
        assert sum(prediction.scores.values()) == pytest.approx(1.0)


def test_choice_predictions_use_substitution(tiny_decoder):
    task = get_task("coref:wsc273")
    examples = task.load(source="demo").examples
    model = get_model(f"hf-causal:{tiny_decoder}")
    for example, prediction in zip(examples, model.predict(task, examples)):
        scores = [brute_force(tiny_decoder, model.encode(c), model.encode(x)) for c, x in substitution_requests(example)]
        assert prediction.output == scores.index(max(scores))


def test_sst2_prompt_and_substitution_requests():
    task = get_task("sentiment")
    example = Example("0", "a bright film .", "positive")
    assert render_prompt(task, example) == "a bright film .\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert [c for _, c in lm_requests(task, example)] == [" negative", " positive"]
    wsc = get_task("coref:wsc273").load(source="demo").examples[2]  # "The cat could not catch the mouse because it was too slow."
    assert substitution_requests(wsc) == [
        ("The cat could not catch the mouse because the cat", " was too slow."),
        ("The cat could not catch the mouse because the mouse", " was too slow."),
    ]


def test_rerun_is_served_from_the_cache(tiny_decoder, data_dir, tmp_path):
    args = ["run", "--tasks", "sentiment", "--models", f"hf-causal:{tiny_decoder}", "--data-dir", str(data_dir),
            "--store", str(tmp_path / "s.sqlite"), "--json", "--no-progress"]
    first = json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]
    second = json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]
    assert first["computed"] == 8 and second["computed"] == 0
    assert first["metrics"] == second["metrics"]


def test_editing_the_prompt_invalidates_the_cache(tiny_decoder, data_dir, tmp_path, monkeypatch):
    args = ["run", "--tasks", "sentiment", "--models", f"hf-causal:{tiny_decoder}", "--data-dir", str(data_dir),
            "--store", str(tmp_path / "p.sqlite"), "--json", "--no-progress"]
    assert json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]["computed"] == 8
    task = get_task("sentiment")
    monkeypatch.setattr(type(task), "prompt_template", "Review: {{ input }}\nSentiment:")
    assert json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]["computed"] == 8


def test_few_shot_prompt_shows_solved_examples_first():
    from harness.prompts import shots_prefix

    task = get_task("sentiment")
    shots = [Example("a", "dull .", "negative"), Example("b", "great fun .", "positive")]
    [(context, continuation), _] = lm_requests(task, Example("c", "a joy .", "positive"), shots)
    question = "\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert context == f"dull .{question} negative\n\ngreat fun .{question} positive\n\na joy .{question}"
    assert continuation == " negative"
    wsc = get_task("coref:wsc273").load(source="demo").examples
    assert shots_prefix(get_task("coref:wsc273"), wsc[2:3]) == "The cat could not catch the mouse because the cat was too slow.\n\n"


def test_shots_run_as_their_own_row_and_cache(tiny_decoder, data_dir, tmp_path):
    store = str(tmp_path / "shots.sqlite")
    zero = json.loads(CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", f"hf-causal:{tiny_decoder},vader",
                                               "--data-dir", str(data_dir), "--store", store, "--json", "--no-progress"]).stdout)
    assert {r["model"] for r in zero["results"]} == {f"hf-causal:{tiny_decoder}", "vader"}
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", f"hf-causal:{tiny_decoder},vader",
                                      "--data-dir", str(data_dir), "--store", store, "--json", "--no-progress", "--shots", "2"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [cell] = payload["results"]
    assert cell["model"] == f"hf-causal:{tiny_decoder} (2-shot)" and cell["computed"] == 8  # not the 0-shot cache
    assert {(s["model"], s["reason"]) for s in payload["skipped"]} == {("vader", "vader takes no few-shot examples")}
    again = json.loads(CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", f"hf-causal:{tiny_decoder}",
                                                "--data-dir", str(data_dir), "--store", store, "--json", "--no-progress",
                                                "--shots", "2"]).stdout)["results"][0]
    assert again["computed"] == 0 and again["metrics"] == cell["metrics"]
    from harness.store import Store

    run = Store(store).runs().iloc[-1]
    assert len(run["settings"]["shots"]) == 2


def test_shots_skip_tasks_without_a_train_split(tiny_decoder, tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:birkbeck", "--models", f"hf-causal:{tiny_decoder}", "--source", "demo",
                                      "--store", str(tmp_path / "w.sqlite"), "--json", "--no-progress", "--shots", "1"])
    payload = json.loads(result.stdout)
    assert payload["results"] == []
    assert payload["skipped"][0]["reason"] == "spelling:birkbeck has no train split to draw few-shot examples from"
