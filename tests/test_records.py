"""Result records: a board built from records plus the local data is the board built from the
store; the records quote no restricted text, no path, no secret; drift and conflicts are one
line; an edit that changes no answer keeps every record valid, a version bump does not."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.store.records import read_records, record_name
from tests.conftest import CONLL_SENTENCES, build_tiny_decoder

DEMO = Path(__file__).resolve().parent.parent / "tasks" / "demo"

#: every kind: tagging on CoNLL-2003 (Reuters: its text may not be republished), classification,
#: choice and correction (their data may), a noise condition, and a prompted decoder
SUITE = """
[suite]
name = "every-kind"
data_dir = "data"
records = "records"

[[run]]
tasks = ["ner", "sentiment", "coref:wsc273", "spelling:norvig1"]
models = ["spacy-en-sm", "vader", "capitalised-spans", "coref-first", "identity", "symspell"]

[[run]]
tasks = ["ner"]
models = ["spacy-en-sm"]
perturb = "typo:0.2"

[[run]]
tasks = ["ner", "sentiment"]
models = ["hf-causal:DECODER"]
limit = 3
prompts = "all"
"""


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.fixture
def board(tmp_path, data_dir):
    """A suite of every kind run into a store (its records written as cells finish)."""
    root = tmp_path / "board"
    shutil.copytree(data_dir, root / "data")
    (root / "data" / "coref" / "wsc273").mkdir(parents=True)
    shutil.copy(DEMO / "wsc-demo.xml", root / "data" / "coref" / "wsc273" / "WSCollection.xml")
    (root / "data" / "spelling" / "norvig").mkdir(parents=True)
    shutil.copy(DEMO / "norvig-demo.txt", root / "data" / "spelling" / "norvig" / "spell-testset1.txt")
    decoder = build_tiny_decoder(tmp_path / "models" / "tiny-decoder")
    (root / "suite.toml").write_text(SUITE.replace("DECODER", str(decoder)))
    store = root / "board.sqlite"
    result = invoke("run", "--suite", root / "suite.toml", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    return root, store


def site_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_site_from_records_is_the_site_from_the_store(board, tmp_path):
    root, store = board
    records = sorted((root / "records").glob("*.json.gz"))
    planned = invoke("report", "--suite", root / "suite.toml", "--store", store, "--out", tmp_path / "from-store",
                     "--publish")
    assert planned.exit_code == 0, planned.output
    built = invoke("report", "--suite", root / "suite.toml", "--out", tmp_path / "from-records", "--publish")
    assert built.exit_code == 0, built.output
    assert "from the records in" in built.output
    # one per finished cell: 6 clean pairs a baseline answers, 1 noisy, the decoder's prompts of 2 tasks
    assert len(records) == 7 + len(list((root / "records").glob("*hf-causal*")))
    assert len(list((root / "records").glob("*hf-causal*"))) >= 4
    diff = subprocess.run(["diff", "-r", tmp_path / "from-store", tmp_path / "from-records"], capture_output=True, text=True)
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout[:2000]
    # and the export writes the same files from the store
    exported = invoke("export", "--format", "records", "--store", store, "-o", tmp_path / "exported")
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == [p.name for p in records]
    assert all((tmp_path / "exported" / p.name).read_bytes() == p.read_bytes() for p in records)


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+|[^\w\s]", text)


def test_records_quote_no_restricted_sentence_no_path_no_secret(board, monkeypatch):
    root, _ = board
    texts = []
    for path in sorted((root / "records").glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            texts.append(handle.read())
    blob = "\n".join(texts)
    tokens = _words(blob)
    grams = {tuple(tokens[i:i + 5]) for i in range(len(tokens) - 4)}
    for sentence in CONLL_SENTENCES:
        words = [word for word, *_ in sentence]
        for i in range(len(words) - 4):
            assert tuple(_words(" ".join(words[i:i + 5]))[:5]) not in grams, words[i:i + 5]
    assert str(root) not in blob and str(Path.home()) not in blob and "/tmp/" not in blob
    ner = [r for r in read_records([root / "records"]) if r.record["run"]["task"] == "ner"]
    assert ner and all(r.record["text_withheld"] for r in ner)
    assert all(r.record["examples"][0][3]["output"] for r in ner)  # the tags stay
    decoded = [r for r in ner if "hf-causal" in r.record["run"]["model"]]
    assert decoded and all(e[3].get("raw") is None and "prompt" not in e[3] for r in decoded for e in r.record["examples"])
    sentiment = [r for r in read_records([root / "records"]) if r.record["run"]["task"] == "sentiment"
                 and "hf-causal" in r.record["run"]["model"]]
    assert sentiment and not sentiment[0].record["text_withheld"]


def test_a_changed_example_is_one_line_naming_record_task_and_example(board, tmp_path):
    root, _ = board
    test = root / "data" / "ner" / "conll2003" / "test.txt"
    lines = test.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line and not line.startswith("-DOCSTART-"))
    word, rest = lines[first].split(" ", 1)
    lines[first] = word + "x " + rest
    test.write_text("\n".join(lines) + "\n")
    result = invoke("report", "--suite", root / "suite.toml", "--out", tmp_path / "site", "--publish")
    assert result.exit_code == 1
    error = result.output.strip()
    assert error.count("\n") == 0 and error.startswith("Error: Record ") and "ner (test, local)" in error
    assert "differs from the local data" in error and "example '" in error


def test_two_records_of_one_cell_with_different_numbers_are_one_line_naming_both(board, tmp_path):
    root, _ = board
    path = next(p for p in sorted((root / "records").glob("*.json.gz")) if p.name.startswith("sentiment--vader"))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        record = json.load(handle)
    record["metrics"][0][2] = 0.123
    other = root / "elsewhere"
    other.mkdir()
    twin = other / record_name(record)
    with gzip.open(twin, "wt", encoding="utf-8") as handle:
        json.dump(record, handle)
    result = invoke("report", "--suite", root / "suite.toml", "--records", root / "records", "--records", other,
                    "--out", tmp_path / "site", "--publish")
    assert result.exit_code == 1
    error = result.output.strip()
    assert error.count("\n") == 0 and path.name in error and twin.name in error and "same cell" in error


def test_an_edit_that_changes_no_answer_keeps_every_record_and_a_bump_makes_its_cells_missing(board, tmp_path, monkeypatch):
    from plugins.vader import Vader
    from harness.store.store import Store

    root, store = board
    before = sorted(p.name for p in (root / "records").iterdir())
    # every plugin's source file edited (wherever its digest is taken): built-in models declare
    # an answers version instead, so their identities, cache keys and records stay
    import sys

    for module in [m for name, m in sys.modules.items() if name.startswith("harness") and hasattr(m, "source_digest")]:
        monkeypatch.setattr(module, "source_digest", lambda obj, apart=(): "edited0000000000")
    result = invoke("run", "--suite", root / "suite.toml", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (root / "records").iterdir()) == before  # the same cells: no new record
    assert f"{len(before)} cells already filled by result records" in result.output  # nothing recomputed
    opened = Store(store, readonly=True)
    assert len(opened.runs()) == len(before)
    opened.close()
    # and without the records, from the store's cache: the same cache keys
    (root / "records").rename(root / "records-aside")
    result = invoke("run", "--suite", root / "suite.toml", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    opened = Store(store, readonly=True)
    runs = opened.runs()
    opened.close()
    assert len(runs) == len(before) and (runs["cached"] == runs["n"]).all()
    shutil.rmtree(root / "records")
    (root / "records-aside").rename(root / "records")
    monkeypatch.setattr(Vader, "answers_version", Vader.answers_version + 1)
    built = invoke("report", "--suite", root / "suite.toml", "--out", tmp_path / "site", "--publish")
    assert built.exit_code == 0, built.output
    assert "Left out (outdated): sentiment--vader--" in built.output and "Vader v2" in built.output
    assert "1 of " in built.output and "sentiment × vader" in built.output  # its cell is missing again
