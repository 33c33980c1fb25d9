"""A suite that runs in pieces: ``--max-minutes`` starts no cell that would pass the deadline on
its estimate and stops at a cell boundary with the records written; a rerun (on a machine
without the store) skips the cells the records fill and finishes; the site is the one-go
run's. ``--plan`` says which cells are done and what is left; estimates come from the rates
measured here, the closest measurement first."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.run import schedule as schedule_module
from harness.run.estimate import SIZE_EXPONENT, Estimate, Estimator, Measurement, Workload
from harness.store.store import Store

SUITE = """
[suite]
name = "in-pieces"
data_dir = "data"

[[run]]
tasks = ["sentiment", "ner"]
models = ["vader", "textblob-polarity", "capitalised-spans", "spacy-en-sm"]
"""
#: each cell's estimate in the test (and, on the fake clock, what it takes)
CELL_SECONDS = 60.0


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def fake_clock(monkeypatch):
    """Every cell is estimated at a minute and takes exactly its estimate on a clock that only
    running cells move, so a deadline falls between the same cells on any machine."""
    now = [1000.0]
    monkeypatch.setattr(Estimator, "estimate", lambda self, work: Estimate(CELL_SECONDS, "the test's"))
    monkeypatch.setattr(schedule_module.time, "monotonic", lambda: now[0])
    admit = schedule_module.Schedule.admit

    def admit_and_take_a_minute(self, key, label, examples, selection=()):
        verdict = admit(self, key, label, examples, selection)
        if verdict is None:
            now[0] += CELL_SECONDS
        return verdict
    monkeypatch.setattr(schedule_module.Schedule, "admit", admit_and_take_a_minute)
    return now


def suite_in(folder: Path, data_dir: Path) -> Path:
    folder.mkdir()
    shutil.copytree(data_dir, folder / "data")
    (folder / "suite.toml").write_text(SUITE)
    return folder / "suite.toml"


def site_of(suite: Path, out: Path) -> Path:
    built = invoke("report", "--suite", suite, "--out", out, "--publish")
    assert built.exit_code == 0, built.output
    return out


def test_max_minutes_stops_at_a_cell_boundary_and_a_rerun_finishes(tmp_path, data_dir, fake_clock):
    suite = suite_in(tmp_path / "board", data_dir)
    records = suite.parent / "records"
    first = invoke("run", "--suite", suite, "--store", tmp_path / "machine-1.sqlite", "--no-progress", "--max-minutes", 2.5)
    assert first.exit_code == 0, first.output
    # 2 cells of a minute fit in 2.5 minutes; the third would end at 3
    assert "[cell 1 of 4: ~4 min left" in first.output and "[cell 2 of 4" in first.output
    assert "[cell 3 of 4" not in first.output
    assert "Stopped before the deadline: 2 cells left (~2 min by their estimates)" in first.output
    assert len(list(records.glob("*.json.gz"))) == 2
    plan = invoke("run", "--suite", suite, "--store", tmp_path / "machine-2.sqlite", "--plan")
    assert plan.exit_code == 0, plan.output
    assert plan.output.count("done (record)") == 2 and "2 of 4 cells done; 2 left: ~2 min" in plan.output
    # another machine (its own, empty store): the records' cells are not computed again
    second = invoke("run", "--suite", suite, "--store", tmp_path / "machine-2.sqlite", "--no-progress")
    assert second.exit_code == 0, second.output
    assert "2 cells already filled by result records" in second.output
    assert second.output.count("(computed ") == 2
    assert len(list(records.glob("*.json.gz"))) == 4
    again = invoke("run", "--suite", suite, "--store", tmp_path / "machine-3.sqlite", "--no-progress")
    assert again.exit_code == 0 and "4 cells already filled by result records" in again.output
    assert "(computed " not in again.output
    pieces = site_of(suite, tmp_path / "site-pieces")

    records.rename(suite.parent / "records-in-pieces")  # the same suite again, in one go
    whole = invoke("run", "--suite", suite, "--store", tmp_path / "one-go.sqlite", "--no-progress")
    assert whole.exit_code == 0, whole.output
    assert whole.output.count("(computed ") == 4
    one_go = site_of(suite, tmp_path / "site-one-go")
    files = sorted(p.relative_to(pieces) for p in pieces.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(one_go) for p in one_go.rglob("*") if p.is_file())
    for name in files:  # the same numbers, predictions and ranks: only when and how fast the cells ran differ
        assert _untimed((pieces / name).read_bytes()) == _untimed((one_go / name).read_bytes()), name


def _untimed(page: bytes) -> str:
    """A page without what differs between two runs of one cell: when they ran, their timing
    (wall, load and speed cells, the cost section), and whether torch was imported before them (torch_threads)."""
    import re

    text = page.decode()
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "WHEN", text)
    text = re.sub(r'<td class="mono throughput">.*?</td>', "TIMING", text)
    text = re.sub(r'<td class="num" data-value="[^"]*"( title="too fast[^"]*")?>[^<]*</td>', "NUMBER", text)
    text = re.sub(r"Cost</h2>.*?(?=<h2|</main>)", "COST", text, flags=re.S)  # speed, by what was timed
    text = re.sub(r"torch_threads: \d+<br>|, \d+ torch threads", "", text)
    return text


def test_a_fine_tune_whose_cells_all_have_records_is_not_redone(tmp_path, data_dir):
    from harness.run.suite import load_suite, plan_suite

    folder = tmp_path / "ft"
    folder.mkdir()
    shutil.copytree(data_dir, folder / "data")
    (folder / "suite.toml").write_text(
        '[suite]\nname = "ft"\ndata_dir = "data"\n\n[[finetune]]\nname = "tiny"\ntask = "sentiment"\n'
        'base = "minilm-l6"\nk = 16\nepochs = 1\ndev_limit = 8\nout = "models"\n')
    first = invoke("run", "--suite", folder / "suite.toml", "--store", tmp_path / "a.sqlite", "--no-progress")
    assert first.exit_code == 0, first.output
    shutil.rmtree(folder / "models")  # a new machine: the fine-tuned model is gone, its record stays
    plan = plan_suite(load_suite(folder / "suite.toml"))
    assert [status for _, _, status in plan.finetunes] == ["records"]
    second = invoke("run", "--suite", folder / "suite.toml", "--store", tmp_path / "b.sqlite", "--no-progress")
    assert second.exit_code == 0, second.output
    assert "every cell of this model is in the result records; not fine-tuned" in second.output
    assert not (folder / "models").exists()


def _work(model="m", task="sentiment", kind="classification", engine="E", parameters=None, shots=0, tokens=1000.0):
    return Workload(task, kind, model, engine, parameters, 100, shots, tokens)


def test_estimates_use_the_closest_measurement_first():
    measured = [
        Measurement(_work(model="small", parameters=100, tokens=1000.0), 10.0),              # 0.01 s per token
        Measurement(_work(model="small", task="ner", kind="tagging", parameters=100, tokens=1000.0), 40.0),
        Measurement(_work(model="small", shots=5, tokens=6000.0), 30.0),                       # 0.005 s per token
    ]
    estimator = Estimator(measured, priors={("E", "choice"): (0.5, 100)})
    same = estimator.estimate(_work(model="small", parameters=100, tokens=2000.0))
    assert same.seconds == pytest.approx(20.0) and same.basis.startswith("same model, task and shots")
    other_shots = estimator.estimate(_work(model="small", shots=2, tokens=3000.0))  # both sentiment runs pooled
    assert other_shots.seconds == pytest.approx(3000 * 40 / 7000) and other_shots.basis.startswith("same model and task")
    bigger = estimator.estimate(_work(model="big", task="ner", kind="tagging", parameters=400, tokens=1000.0))
    assert bigger.seconds == pytest.approx(40.0 * 4 ** SIZE_EXPONENT) and bigger.basis.startswith("same engine and task")
    prior = estimator.estimate(_work(model="big", task="coref", kind="choice", parameters=200, tokens=10.0))
    assert prior.seconds == pytest.approx(3.0 + 0.5 * 10 * 2 ** SIZE_EXPONENT) and prior.basis == "prior for the engine"
    unknown = estimator.estimate(_work(model="x", engine="Other", kind="correction"))
    assert unknown.seconds is None and "nothing measured for Other" in unknown.basis


def test_plan_and_max_minutes_are_suite_options(tmp_path):
    refused = invoke("run", "--tasks", "sentiment", "--max-minutes", 5, "--store", tmp_path / "s.sqlite")
    assert refused.exit_code != 0 and "--max-minutes works with --suite FILE" in refused.output


def test_a_long_plain_run_says_so_before_it_starts(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(Estimator, "estimate", lambda self, work: Estimate(9 * 60.0, "the test's"))
    result = invoke("run", "--tasks", "sentiment", "--models", "vader,textblob-polarity", "--data-dir", data_dir,
                    "--store", tmp_path / "s.sqlite", "--no-progress")
    assert result.exit_code == 0, result.output
    first_line = result.output.splitlines()[0]
    assert first_line.startswith("This run is estimated at ~18 min on this machine (longest: sentiment × ")
    assert "--sample 200" in first_line


def test_a_cell_two_blocks_ask_for_is_counted_once(tmp_path, data_dir, fake_clock):
    suite = suite_in(tmp_path / "twice", data_dir)
    suite.write_text(SUITE + '\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n')
    first = invoke("run", "--suite", suite, "--store", tmp_path / "a.sqlite", "--no-progress", "--max-minutes", 1.5)
    assert first.exit_code == 0, first.output
    assert "Stopped before the deadline: 3 cells left" in first.output
    second = invoke("run", "--suite", suite, "--store", tmp_path / "b.sqlite", "--no-progress")
    assert "1 cell already filled by result records" in second.output, second.output
    # in one go, the cell both blocks name runs once: one run of it in the store, one record
    whole = suite_in(tmp_path / "once", data_dir)
    whole.write_text(SUITE + '\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n')
    once = invoke("run", "--suite", whole, "--store", tmp_path / "c.sqlite", "--no-progress")
    assert once.exit_code == 0, once.output
    runs = Store(tmp_path / "c.sqlite", readonly=True).runs()
    assert len(runs.query("task == 'sentiment' and model == 'vader'")) == 1
