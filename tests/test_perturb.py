"""Robustness runs: seeded noise that keeps gold answers aligned, its own cache entries,
degradation curves in the report, and noise-augmented fine-tuning."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from harness import HarnessError, get_task
from harness.cli import cli
from harness.data.perturb import KINDS, Perturbation, parse_perturbations, perturb_text
from harness.kinds import kind_of
from harness.report.leaderboard import robustness_summary
from harness.store.store import Store


def perturbed(task_name: str, condition: Perturbation, seed: int = 0):
    task = get_task(task_name)
    examples = task.load(source="demo").examples
    return examples, [kind_of(task).noise.perturb(task, e, condition.noise(seed, e.id)) for e in examples]


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_ner_noise_keeps_one_tag_per_token(name, rate, seed):
    clean, noisy = perturbed("ner", Perturbation(name, rate), seed)
    for before, after in zip(clean, noisy):
        assert after.id == before.id and after.reference == before.reference
        assert len(after.input) == len(before.input) == len(after.reference)
        assert all(token and not re.search(r"\s", token) for token in after.input)
    changed = sum(a != b for e, f in zip(clean, noisy) for a, b in zip(e.input, f.input))
    if rate == 1.0 and name != "case":  # every word is chosen; most edits change it
        assert changed > sum(len(e.input) for e in clean) / 2


def test_the_same_seed_gives_the_same_text_and_another_seed_other_text():
    condition = Perturbation("typo", 0.5)
    _, first = perturbed("sentiment", condition, seed=0)
    _, again = perturbed("sentiment", condition, seed=0)
    _, other = perturbed("sentiment", condition, seed=1)
    assert [e.input for e in first] == [e.input for e in again]
    assert [e.input for e in first] != [e.input for e in other]
    clean, _ = perturbed("sentiment", condition)
    assert [e.input for e in first] != [e.input for e in clean]


@pytest.mark.parametrize("task_name", ["coref:gap", "coref:wsc273", "coref:winogender"])
def test_coreference_offsets_still_point_at_the_pronoun_and_candidates(task_name):
    clean, noisy = perturbed(task_name, Perturbation("typo", 1.0))
    assert any(a.input["text"] != b.input["text"] for a, b in zip(clean, noisy))
    def at(data, offset, length):
        return data["text"][offset : offset + length]

    for before, after in zip(clean, noisy):
        data, old = after.input, before.input
        assert at(data, data["pronoun_offset"], len(data["pronoun"])) == at(old, old["pronoun_offset"], len(old["pronoun"]))
        assert at(data, data["pronoun_offset"], len(data["pronoun"])).lower() == data["pronoun"].lower()
        for candidate, was in zip(data["candidates"], old["candidates"]):
            assert candidate["text"] == was["text"]
            if candidate["offset"] is not None:  # the same words, at the moved offset
                assert at(data, candidate["offset"], len(candidate["text"])) == at(old, was["offset"], len(was["text"]))
        assert after.reference == before.reference


def test_offsets_move_with_the_words_before_them():
    text, moved = perturb_text("ab cd he ef", lambda word: word + "xx", keep=[(6, 8)])
    assert text == "abxx cdxx he efxx" and moved(6) == 10 and text[moved(6):moved(6) + 2] == "he"


def test_a_noisy_run_has_cache_entries_of_its_own(tmp_path):
    store = tmp_path / "s.sqlite"

    def run(*extra):
        result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store",
                                          str(store), "--no-progress", "--json", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["results"]

    (clean,) = run()
    (noisy,) = run("--perturb", "typo:0.3")
    assert noisy["perturbation"] == "typo 0.3" and noisy["computed"] == noisy["n"]  # nothing served from the clean run
    (again,) = run("--perturb", "typo:0.3")
    assert again["computed"] == 0  # but the noisy run's own entries serve its rerun
    db = Store(store, readonly=True).db
    assert db.execute("SELECT COUNT(DISTINCT cache_key) FROM cache").fetchone()[0] == 2
    stored = Store(store, readonly=True).prediction_rows([again["run_id"]])  # the rerun replaced the record
    inputs = {row[1]: row[2] for row in stored}
    assert inputs
    clean_inputs = {row[1]: row[2] for row in Store(store, readonly=True).prediction_rows([clean["run_id"]])}
    assert any(inputs[i] != clean_inputs[i] for i in inputs)  # the perturbed input is what is stored


def test_rate_zero_is_the_clean_run_and_spelling_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:norvig1", "--models", "identity", "--source", "demo",
                                      "--perturb", "typo:0,0.1", "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(line.startswith("spelling:norvig1 ") and "identity" in line for line in lines)  # rate 0: the clean run
    assert "Error: Task 'spelling:norvig1' is a spelling-correction task: its inputs are misspellings already" in result.output


@pytest.mark.parametrize(("spec", "message"), [
    ("typo", "expected NAME:RATE"), ("0.1", "expected NAME:RATE"), ("blur:0.1", "unknown noise 'blur'"),
    ("typo:x", "rate 'x' of typo is not a number"), ("typo:1.5", "must be between 0 and 1"),
])
def test_bad_perturbation_specs_are_one_line_errors(spec, message):
    with pytest.raises(HarnessError, match=re.escape(message)):
        parse_perturbations(spec)


def test_several_rates_and_names():
    assert parse_perturbations("typo:0,0.05, 0.1,ocr:0.2") == [
        Perturbation("typo", 0.0), Perturbation("typo", 0.05), Perturbation("typo", 0.1), Perturbation("ocr", 0.2)]


def test_robustness_summary_by_hand():
    points = [{"rate": 0.0, "value": 0.8}, {"rate": 0.1, "value": 0.6}, {"rate": 0.2, "value": 0.2}]
    summary = robustness_summary(points)
    # area: 0.1 * (0.8 + 0.6) / 2 + 0.1 * (0.6 + 0.2) / 2 = 0.11; clean held flat: 0.8 * 0.2 = 0.16
    assert summary["kept"] == pytest.approx(0.11 / 0.16)
    # half of 0.8 is 0.4: between 0.1 (0.6) and 0.2 (0.2), at 0.1 + 0.1 * (0.6 - 0.4) / 0.4
    assert summary["half_rate"] == pytest.approx(0.15)
    assert robustness_summary(points[1:]) == {"kept": None, "half_rate": None}  # no clean point


def test_the_report_draws_degradation_curves(tmp_path):
    from .conftest import chromium_dom

    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,sentiment", "--models", "spacy-en-sm,vader", "--source", "demo",
                                      "--perturb", "typo:0,0.1,0.3", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "site")]).exit_code == 0
    dom = chromium_dom(tmp_path / "site" / "task-ner-test-demo.html", tmp_path / "profile")
    table = dom[dom.index('<table class="robustness" data-noise="typo">'):]
    table = table[: table.index("</table>")]
    assert re.findall(r"<th>typo ([0-9.]+)</th>", table) == ["0", "0.1", "0.3"]
    row = re.search(r"<tr><td>spacy-en-sm</td>(.*?)</tr>", table, re.S).group(1)
    assert len(re.findall(r'<td class="num">[0-9.]+ <span class="ci">\[', row)) == 3  # every point with its CI
    assert dom.count('class="degradation-point"') == 3
    index = chromium_dom(tmp_path / "site" / "index.html", tmp_path / "profile2")
    # noisy runs are listed under their clean task, not as columns of the leaderboard
    board = index[index.index('<table id="leaderboard"'):]
    assert "typo" not in board[: board.index("</table>")]
    assert re.search(r'<a href="task-ner-test-demo-typo-0.1.html">typo 0.1</a>', index)
    assert re.search(r'<a href="task-ner-test-demo-typo-0.3.html">typo 0.3</a>', index)


def test_augmented_fine_tuning_trains_on_noisy_copies_and_says_so(tmp_path, base_encoder, data_dir):
    from harness.run.finetune import augmented

    task = get_task("ner")
    examples = task.load("train", data_dir=data_dir, source="local").examples
    mixed = augmented(task, examples, Perturbation("typo", 1.0), seed=0, mix=True)
    assert len(mixed) == 2 * len(examples) and mixed[0] == examples[0] and mixed[1].input != examples[0].input
    result = CliRunner().invoke(cli, ["finetune", "--task", "ner", "--base", str(base_encoder), "--out", str(tmp_path / "m"),
                                      "--data-dir", str(data_dir), "--epochs", "1", "--augment", "typo:0.2",
                                      "--augment-mix", "--no-progress"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "m" / "config.json").read_text())["harness_finetune"]
    assert card["augment"] == {"name": "typo", "rate": 0.2, "mixed_with_clean": True, "seed": 0,
                               "train_examples": 2 * len(examples)}
    assert "typo 0.2 augmented" in card["label"]
    refused = CliRunner().invoke(cli, ["finetune", "--task", "ner", "--base", str(base_encoder), "--out", str(tmp_path / "x"),
                                       "--data-dir", str(data_dir), "--augment", "typo:0.1,0.2"])
    assert refused.exit_code == 1 and "expected one NAME:RATE" in refused.output


def test_degradation_legends_list_the_drawn_curves_in_distinct_colours(tmp_path):
    """A model run on the clean set only has no curve, so no legend entry and no robustness
    row; two curves on one chart never share a colour (nor do 20: :func:`series_colours`)."""
    from harness.plugins.registry import pm
    from harness.report.charts import series_colours

    from . import slow_plugin
    from .conftest import chromium_dom

    store = tmp_path / "s.sqlite"
    pm.register(slow_plugin, name="slow-plugin")
    try:
        for args in (["--tasks", "ner", "--models", "spacy-en-sm", "--perturb", "typo:0,0.2"],
                     ["--tasks", "ner", "--models", "capital-tagger"],  # clean only
                     ["--tasks", "coref:wsc273", "--models", "coref-first,coref-nearest", "--perturb", "typo:0,0.2"]):
            result = CliRunner().invoke(cli, ["run", *args, "--source", "demo", "--store", str(store), "--no-progress"])
            assert result.exit_code == 0, result.output
        assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "site")]).exit_code == 0
    finally:
        pm.unregister(name="slow-plugin")
    legend = r'<rect x="[\d.]+" y="[\d.]+" width="10" height="10" fill="([^"]+)"></rect><text [^>]*>([^<]+)</text>'
    ner = chromium_dom(tmp_path / "site" / "task-ner-test-demo.html", tmp_path / "p1")
    assert [name for _, name in re.findall(legend, ner)] == ["spacy-en-sm"]
    table = ner[ner.index('<table class="robustness" data-noise="typo">'):]
    assert "capital-tagger" not in table[: table.index("</table>")]
    coref = chromium_dom(tmp_path / "site" / "task-coref-wsc273-test-demo.html", tmp_path / "p2")
    entries = re.findall(legend, coref)
    assert sorted(name for _, name in entries) == ["coref-first", "coref-nearest"]
    assert len({colour for colour, _ in entries}) == 2
    assert len(set(series_colours(20))) == 20 and len(set(series_colours(8))) == 8
