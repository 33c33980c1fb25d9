"""The majority-class baseline: the train split's most frequent answer, counted independently here."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter

from click.testing import CliRunner

from harness.cli import cli
from plugins.majority import most_frequent

from .conftest import write_file as write
from .test_coref import gap_tsv, wsc_xml


def answers_in(store) -> dict[str, list]:
    """task -> the stored answers of its majority-class run, in example order."""
    db = sqlite3.connect(store)
    rows = db.execute("SELECT r.task, p.prediction FROM predictions p JOIN runs r ON r.id = p.run_id "
                      "WHERE r.model = 'majority-class' ORDER BY r.task, p.position").fetchall()
    out: dict[str, list] = {}
    for task, prediction in rows:
        out.setdefault(task, []).append(json.loads(prediction))
    return out


def test_ties_go_to_the_first_in_the_tasks_order():
    assert most_frequent(["b", "a", "b", "a"], ["a", "b"]) == "a"
    assert most_frequent([1, None, None, 1, 0], [0, 1, None]) == 1
    assert most_frequent(["b", "b", "a"], ["a", "b"]) == "b"


def test_every_answer_is_the_train_splits_most_frequent(tmp_path, store_path):
    data = tmp_path / "data"
    sst_train = [("a fine film .", 0), ("a dull film .", 0), ("a bright film .", 1), ("tedious .", 0)]
    sst_test = [("great .", 1), ("bad .", 0), ("lovely .", 1)]
    write(data, "sentiment/sst2/train.tsv", "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in sst_train))
    write(data, "sentiment/sst2/validation.tsv", "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in sst_test))
    # GAP: the development split (its few-shot pool) says B twice, A once; the test split another mix
    write(data, "coref/gap/gap-development.tsv", gap_tsv([("d1", "he", "B"), ("d2", "she", "B"), ("d3", "his", "A")]))
    write(data, "coref/gap/gap-test.tsv", gap_tsv([("t1", "he", "A"), ("t2", "she", "B"), ("t3", "her", "N")]))
    # WSC273: the 12 schemas after the first 273 are the pool; here 2 of 3 say B
    write(data, "coref/wsc273/WSCollection.xml", wsc_xml(*["A"] * 273, "B", "A", "B"), encoding="iso-8859-1")
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment,coref:gap,coref:wsc273", "--models", "majority-class",
                                      "--data-dir", str(data), "--store", str(store_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    # the CLI says so where one answer covers nearly every example (here: all 273)
    assert "(computed 273, cached 0; answered 'candidate 2' to 273 of 273)" in result.output
    stored = answers_in(store_path)
    train_majority = Counter("positive" if y else "negative" for _, y in sst_train).most_common(1)[0][0]
    assert train_majority == "negative"
    assert [p["output"] for p in stored["sentiment"]] == ["negative"] * 3
    assert stored["sentiment"][0]["details"] == {"majority_of": "train: 3 of 4"}
    assert [p["output"] for p in stored["coref:gap"]] == [1, 1, 1]  # candidate B, GAP dev's most frequent
    assert stored["coref:gap"][0]["details"] == {"majority_of": "dev: 2 of 3"}
    assert [p["output"] for p in stored["coref:wsc273"]] == [1] * 273
    assert stored["coref:wsc273"][0]["details"] == {"majority_of": "extra: 2 of 3"}
    # the board says it in words too, on the index and on the task page
    site = tmp_path / "site"
    result = CliRunner().invoke(cli, ["report", "--store", str(store_path), "--out", str(site)])
    assert result.exit_code == 0, result.output
    assert "answered “candidate 2” to 273 of 273" in (site / "index.html").read_text(encoding="utf-8")
    page = next(site.glob("task-coref-wsc273*.html")).read_text(encoding="utf-8")
    assert "answered “candidate 2” to 273 of 273" in page


def test_one_answer_for_nearly_everything_is_named():
    from harness.core.example import dominant_answer

    assert dominant_answer(["positive"] * 485 + ["negative"] * 15) == ("positive", 485)
    assert dominant_answer(["positive"] * 449 + ["negative"] * 51) is None  # under 90%
    assert dominant_answer([None] * 12) == ("none of them", 12) and dominant_answer([0] * 11) == ("candidate 1", 11)
    assert dominant_answer([["O", "B-PER"]] * 20) is None  # tag lists are not one answer
    assert dominant_answer(["positive"] * 5) is None  # too few to say


def test_a_board_of_one_family_says_so_instead_of_a_family_table(tmp_path, data_dir, store_path):
    """README command 1's board (baselines only): no table of one column reading 'one family only'."""
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,sentiment", "--data-dir", str(data_dir), "--store", str(store_path),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store_path), "--out", str(site)]).exit_code == 0
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="family-best"' not in index and "one family only" not in index
    assert 'id="family-best-none">Every model here is a baseline' in index
    assert "Rows sort by Overall (ranked rows first, best first), then by family" in index
