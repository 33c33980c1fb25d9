"""Spelling correction: loaders, metrics (accuracy, over-correction, top-k), normalisation, baselines."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness import DataError, Example, Prediction, get_model, get_task, resolve_tasks, score
from harness.cli import cli
from harness.kinds.correction.scoring import normalise_text, score_correction

from .conftest import write_file as write


def test_group_expands_to_every_dataset():
    assert [t.name for t in resolve_tasks(["spelling"])] == [
        "spelling:norvig1", "spelling:norvig2", "spelling:birkbeck", "spelling:toefl", "spelling:codespell"
    ]
    assert [t.name for t in resolve_tasks(["spelling:toefl", "spelling"])][0] == "spelling:toefl"


def test_norvig_loader_adds_clean_words_after_their_misspellings(tmp_path):
    write(tmp_path, "spelling/norvig/spell-testset1.txt", "tests1 = {'garden': 'gardn', 'window': 'windo windw',\n'Paris': 'parris'}\n")
    examples = get_task("spelling:norvig1").load(data_dir=tmp_path).examples
    assert [(e.input, e.reference) for e in examples] == [
        ("gardn", ["garden"]), ("garden", ["garden"]), ("windo", ["window"]), ("window", ["window"]),
        ("windw", ["window"]), ("parris", ["Paris"]), ("Paris", ["Paris"]),
    ]
    assert examples[5].meta["line"] == 2


def test_birkbeck_loader_reads_crlf_and_underscores(tmp_path):
    write(tmp_path, "spelling/birkbeck/missp.dat", b"$a_lot\r\nalot\r\n$Christmas\r\nChrist_mas\r\nchristmas\r\n")
    examples = get_task("spelling:birkbeck").load(data_dir=tmp_path).examples
    # "christmas" differs from "Christmas" only in case: not a misspelling, so dropped.
    assert [(e.input, e.reference) for e in examples] == [
        ("alot", ["a lot"]), ("a lot", ["a lot"]), ("Christ mas", ["Christmas"]), ("Christmas", ["Christmas"]),
    ]


def test_toefl_loader_keeps_type_m_only(tmp_path):
    write(tmp_path, "spelling/toefl_spell/Annotations.tsv",
          "Filename\tOffsetSpan\tMisspelling\tType\tCorrection\n1\t1-5\tbeacuse\tM\tbecause\n1\t7-9\talot\tMWM\ta lot\n")
    examples = get_task("spelling:toefl").load(data_dir=tmp_path).examples
    assert [(e.input, e.reference) for e in examples] == [("beacuse", ["because"]), ("because", ["because"])]


def test_codespell_loader_splits_fixes(tmp_path):
    write(tmp_path, "spelling/codespell/dictionary.txt", "existant->existent, existing,\nteh->the\n")
    examples = get_task("spelling:codespell").load(data_dir=tmp_path).examples
    assert [(e.input, e.reference) for e in examples] == [
        ("existant", ["existent", "existing"]), ("existent", ["existent"]), ("existing", ["existing"]),
        ("teh", ["the"]), ("the", ["the"]),
    ]


def test_codespell_ships_in_its_package():
    loaded = get_task("spelling:codespell").load(source="package")
    assert loaded.source == "package" and loaded.location == "codespell_lib/data/dictionary.txt"
    assert sum(not e.meta.get("clean") for e in loaded.examples) > 50_000


@pytest.mark.parametrize(
    "task, relative, content, line, message",
    [
        ("spelling:norvig1", "spelling/norvig/spell-testset1.txt", "no equals sign here\n", 1,
         "expected 'name = {'right': 'wrong1 wrong2', ...}'"),
        ("spelling:norvig1", "spelling/norvig/spell-testset1.txt", "t = {'a': 'b',\n'c' 'd'}\n", 2,
         "expected a Python dict literal of 'right': 'wrong1 wrong2' (SyntaxError)"),
        ("spelling:norvig2", "spelling/norvig/spell-testset2.txt", "t = {'a': 3}\n", 1,
         "expected a dict mapping each correct word to a string of misspellings"),
        ("spelling:birkbeck", "spelling/birkbeck/missp.dat", "alot\n$a_lot\n", 1,
         "expected a '$correct' line before the first misspelling, got 'alot'"),
        ("spelling:birkbeck", "spelling/birkbeck/missp.dat", "$word\nwrod\n$\n", 3, "expected a word after '$'"),
        ("spelling:toefl", "spelling/toefl_spell/Annotations.tsv", "File\tSpan\n", 1,
         "expected the header 'Filename<TAB>OffsetSpan<TAB>Misspelling<TAB>Type<TAB>Correction', got ['File', 'Span']"),
        ("spelling:toefl", "spelling/toefl_spell/Annotations.tsv",
         "Filename\tOffsetSpan\tMisspelling\tType\tCorrection\n1\t2-3\tbeacuse\tM\n", 2, "expected 5 tab-separated fields (Filename, OffsetSpan, Misspelling, Type, Correction), got 4"),
        ("spelling:toefl", "spelling/toefl_spell/Annotations.tsv",
         "Filename\tOffsetSpan\tMisspelling\tType\tCorrection\n1\t2-3\t\tM\tbecause\n", 2,
         "expected non-empty fields 'Misspelling' and 'Correction'"),
        ("spelling:codespell", "spelling/codespell/dictionary.txt", "teh->the\nrecieve receive\n", 2,
         "expected 'typo->fix1, fix2', got 'recieve receive'"),
        ("spelling:codespell", "spelling/codespell/dictionary.txt", "teh->\n", 1, "expected 'typo->fix1, fix2', got 'teh->'"),
    ],
)
def test_malformed_spelling_files_name_file_and_line(tmp_path, task, relative, content, line, message):
    path = write(tmp_path, relative, content)
    with pytest.raises(DataError) as info:
        get_task(task).load(data_dir=tmp_path)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert str(info.value).startswith(f"{path}:{line}: {message}")


def test_normalisation_ignores_case_and_whitespace():
    assert normalise_text("  A   Lot ") == "a lot"
    assert normalise_text("Straße") == normalise_text("STRASSE")


def test_correction_metrics_by_hand():
    examples = [
        Example("0", "acess", ["access"]),
        Example("1", "access", ["access"]),  # clean
        Example("2", "adres", ["address"]),
        Example("3", "address", ["address"]),  # clean
        Example("4", "Teh ", ["the"]),
        Example("5", "the", ["the"]),  # clean
    ]
    predictions = [
        Prediction("Access", candidates=["Access", "acres"]),  # right (case ignored)
        Prediction("access"),  # unchanged
        Prediction("acres", candidates=["acres", "adders", "address"]),  # wrong, but address is 3rd
        Prediction("addresses"),  # over-corrected
        Prediction(" the"),  # right (whitespace ignored)
        Prediction("THE"),  # unchanged once case is ignored
    ]
    scores = score_correction(examples, predictions)
    assert scores.get("accuracy").value == pytest.approx(2 / 3) and scores.get("accuracy").n == 3
    assert scores.get("over_correction_rate").value == pytest.approx(1 / 3) and scores.get("over_correction_rate").n == 3
    assert scores.get("top_5_accuracy").value == pytest.approx(1.0)


def test_top_k_counts_only_the_first_five_distinct_candidates():
    examples = [Example("0", "wrod", ["word"])]
    candidates = ["wood", "wood", "ward", "wad", "rod", "wrong", "word"]  # "word" is 6th distinct
    scores = score_correction(examples, [Prediction("wood", candidates=candidates)])
    assert scores.get("top_5_accuracy").value == 0.0


@pytest.mark.parametrize("name", ["pyspellchecker", "symspell", "autocorrect", "textblob"])
def test_baselines_correct_common_misspellings_and_leave_words_alone(name):
    task = get_task("spelling:norvig1")
    model = get_model(name)
    examples = [Example("0", "speling", ["spelling"]), Example("1", "house", ["house"]), Example("2", "recieve", ["receive"])]
    predictions = model.predict(task, examples)
    assert [normalise_text(p.output) for p in predictions] == ["spelling", "house", "receive"]
    assert predictions[0].candidates[0] == predictions[0].output


def test_identity_is_the_floor():
    task = get_task("spelling:norvig1")
    examples = task.load(source="demo").examples
    scores = score(task, examples, get_model("identity").predict(task, examples))
    assert scores.get("accuracy").value == 0.0 and scores.get("over_correction_rate").value == 0.0


def test_spelling_runs_from_the_cli_on_the_demo(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "spelling", "--models", "symspell,identity", "--source", "demo",
                                      "--store", str(tmp_path / "s.sqlite"), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    import json

    cells = json.loads(result.stdout)["results"]
    assert len(cells) == 10
    symspell = [c for c in cells if c["model"] == "symspell" and c["task"] == "spelling:norvig1"][0]
    names = {m["name"] for m in symspell["metrics"]}
    assert names == {"accuracy", "over_correction_rate", "top_5_accuracy"}


def test_few_shot_examples_for_one_norvig_set_come_from_the_other(tmp_path):
    from harness.run.runner import few_shot_examples

    write(tmp_path, "spelling/norvig/spell-testset1.txt", "Testset1 = {'access': 'acess', 'address': 'adress'}\n")
    write(tmp_path, "spelling/norvig/spell-testset2.txt", "Testset2 = {'forbidden': 'forbiden', 'decided': 'descided'}\n")
    shots = few_shot_examples(get_task("spelling:norvig2"), 4, seed=0, data_dir=tmp_path, source="auto")
    assert {e.reference[0] for e in shots} == {"access", "address"}  # set 1's words, never set 2's
    shots = few_shot_examples(get_task("spelling:norvig1"), 4, seed=0, data_dir=tmp_path, source="auto")
    assert {e.reference[0] for e in shots} == {"forbidden", "decided"}
