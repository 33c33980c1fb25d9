"""What published pages may show: paths hidden, model folders named by their name and weights."""
from __future__ import annotations

import pytest

from harness.report.leaderboard import display_model, labelled, model_family, shown_settings, suite_labels, weights_digest
from harness.core.publishing import hide_paths, hide_paths_in, text_allowed


@pytest.mark.parametrize("text", [
    "/home/alice/data/ner/conll2003/test.txt", "hf:/srv/models/minilm-ner", "~/models/minilm", "C:\\Users\\bob\\m",
    "a, b /tmp/pytest-1/x/y, c",
])
def test_absolute_paths_are_hidden_but_their_last_part_kept(text):
    shown = hide_paths(text)
    assert "/home/" not in shown and "/srv/" not in shown and "~/" not in shown and "Users" not in shown and "/tmp/" not in shown
    last = text.replace("\\", "/").rstrip(", c").split("/")[-1]
    assert last in shown


@pytest.mark.parametrize("text", ["http://127.0.0.1:8000/v1/models", "https://huggingface.co/org/name", "a/b relative",
                                  "type=PER", "n=3/4", "built-in demo (x.tsv)"])
def test_urls_relative_paths_and_plain_text_are_left_alone(text):
    assert hide_paths(text) == text


def test_two_folders_with_the_same_name_stay_told_apart():
    assert hide_paths("/a/x/model") != hide_paths("/b/y/model")
    assert hide_paths_in({"k": ["/a/b/c", 3]}) == {"k": [hide_paths("/a/b/c"), 3]}


def test_local_model_rows_show_the_folder_and_keep_the_digest_apart():
    assert display_model("hf:/work/acceptance/minilm-ner", {"revision": "sha256:0123456789abcdef0123"}) == "hf:minilm-ner"
    assert display_model("hf:/home/u/.cache/harness/finetuned/minilm-ner-full-kall", {}) == "hf:minilm-ner-full k=all"
    assert display_model("hf:/x/minilm-sst2-k64 (5-shot)", {}) == "hf:minilm-sst2 k=64 (5-shot)"
    assert weights_digest({"revision": "sha256:0123456789abcdef0123"}) == "0123456789ab"
    assert display_model("spacy-en-sm", {}) == "spacy-en-sm"


def test_a_suite_label_replaces_the_model_name_and_keeps_its_tags():
    labels = suite_labels('[suite]\nname = "s"\n[labels]\n"llamacpp:qwen2.5-coder-1.5b" = "Qwen2.5-Coder 1.5B"\n')
    assert labelled("llamacpp:qwen2.5-coder-1.5b (5-shot)", labels) == "Qwen2.5-Coder 1.5B (5-shot)"
    assert labelled("llamacpp:qwen2.5-coder-1.5b", labels) == "Qwen2.5-Coder 1.5B"
    assert labelled("vader", labels) is None
    assert suite_labels("not = [toml") == {}


def test_families_and_options_as_given():
    assert model_family("vader", {}, None) == ("baseline", "baseline")
    assert model_family("hf:/x/y", {}, {"k": 3000}) == ("fine-tuned encoder", "fine-tuned encoder (k=3000)")
    assert model_family("smollm2-135m", {"prompt_template": "p", "shots": [1, 2, 3, 4, 5]}, None) == ("decoder", "decoder, 5-shot")
    assert model_family("openai:m", {"prompt_template": "p"}, None) == ("endpoint", "endpoint, 0-shot")
    assert shown_settings({"chat_template": True, "options": {"chat_template": "auto"}}) == {"chat_template": "auto"}


def test_text_is_withheld_only_when_publishing_restricted_data():
    from tasks.ner import CoNLL2003

    restricted = {"text_redistributable": False}
    assert text_allowed(restricted, publish=False)
    assert not text_allowed(restricted, publish=True)
    assert not text_allowed({}, publish=True)  # not declared: withheld
    assert text_allowed({"text_redistributable": True}, publish=True)
    conll = CoNLL2003()  # restricted, but the demo split harness ships is the project's own
    assert conll.text_policy("local")["text_redistributable"] is False
    assert conll.text_policy("demo") == {"licence": "harness demo data (Apache-2.0)", "text_redistributable": True}
