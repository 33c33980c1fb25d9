"""``--executor ray``: a suite computed on a real local Ray cluster (2 CPUs) gives the same metrics
and predictions as the in-process run, and a worker killed mid-cell loses nothing."""
from __future__ import annotations

from dataclasses import replace

import pytest

from harness.run.config import Execution
from harness.run.executors import KILL_ONCE_ENV, RayExecutor
from harness.run.suite import load_suite, run_suite
from harness.store.store import Store

ray = pytest.importorskip("ray", reason="the test extra installs ray")  # CI installs it: this never skips there


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray cluster of 2 CPUs whose workers see the kill hook's marker path."""
    marker = tmp_path_factory.mktemp("ray") / "killed-once"
    marker.write_text("armed later")  # present: no worker kills itself until a test removes it
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {KILL_ONCE_ENV: str(marker)}})
    yield marker
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    from .conftest import build_tiny_decoder

    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def suite_file(tmp_path, data_dir, tiny_ner_encoder, tiny_decoder):
    path = tmp_path / "suite.toml"
    path.write_text(f"""
[suite]
name = "ray-check"
data_dir = "data"
batch_size = 2

[[run]]
tasks = ["ner", "ner:wnut17", "sentiment"]
models = ["spacy-en-sm", "vader"]

[[run]]
tasks = ["ner"]
models = ["hf:{tiny_ner_encoder}"]

[[run]]  # a decoder: its engine outputs are cached per request, on the driver
tasks = ["sentiment"]
models = ["hf-causal:{tiny_decoder}"]
shots = [0, 2]
limit = 4

[[run]]
tasks = ["sentiment"]
models = ["vader"]
perturb = "typo:0.2"
""")
    return path


def predictions_by_cell(store_path) -> dict:
    """(task, model, noise) -> {example id: (prediction output, rounded scores)}, and each run's n."""
    store = Store(store_path, readonly=True)
    runs = store.latest_runs()
    cells, sizes = {}, {}
    for run in runs.itertuples():
        noise = str(run.settings.get("perturbation"))
        rows = store.prediction_rows([int(run.id)])
        ids = [row[1] for row in rows]
        assert len(ids) == len(set(ids)) == run.n  # no prediction lost or duplicated
        cells[(run.task, run.model, noise)] = {
            row[1]: (row[4]["output"], {k: round(v, 6) for k, v in (row[4].get("scores") or {}).items()}) for row in rows}
        sizes[(run.task, run.model, noise)] = run.n
    metrics = store.metrics([int(i) for i in runs["id"]])
    values = {(row.task, row.model, row.name, row.run_id in set(runs[runs["settings"].map(lambda s: "perturbation" in s)]["id"])):
              round(row.value, 9) for row in metrics.itertuples()}
    store.close()
    return {"cells": cells, "sizes": sizes, "metrics": values}


def test_a_suite_on_ray_matches_the_in_process_run(cluster, suite_file, tmp_path):
    suite = load_suite(suite_file)
    # each run its own records folder: records of the first would fill the second's cells
    local = run_suite(replace(suite, records=tmp_path / "local-records"), Execution(Store(tmp_path / "local.sqlite"), progress=False))
    on_ray = run_suite(replace(suite, records=tmp_path / "ray-records"),
                       Execution(Store(tmp_path / "ray.sqlite"), executor=RayExecutor(), progress=False))
    assert len(list((tmp_path / "ray-records").iterdir())) == 7
    assert not local.failed and not on_ray.failed
    assert len(on_ray.results) == len(local.results) == 7  # spacy x 2 NER, the tiny encoder, the tiny decoder 0/2-shot, vader clean + noisy
    assert all(r.computed == r.n for r in on_ray.results)
    requests = lambda path: Store(path, readonly=True).db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]  # noqa: E731
    assert requests(tmp_path / "ray.sqlite") == requests(tmp_path / "local.sqlite") > 0  # engine outputs came back
    expected, got = predictions_by_cell(tmp_path / "local.sqlite"), predictions_by_cell(tmp_path / "ray.sqlite")
    assert got == expected
    runs = Store(tmp_path / "ray.sqlite", readonly=True).runs()
    assert all(p["executor"]["name"] == "ray" and p["suite"]["name"] == "ray-check" for p in runs["provenance"])

    # a rerun on Ray computes nothing: every cell is served from the driver's store
    again = run_suite(replace(suite, records=None), Execution(Store(tmp_path / "ray.sqlite"), executor=RayExecutor(), progress=False))
    assert [r.computed for r in again.results] == [0] * 7


def test_a_worker_killed_mid_cell_is_retried_and_nothing_is_lost(cluster, suite_file, tmp_path):
    cluster.unlink()  # armed: the first worker to answer a batch kills itself (SIGKILL)
    suite = replace(load_suite(suite_file), records=None)
    summary = run_suite(suite, Execution(Store(tmp_path / "killed.sqlite"), executor=RayExecutor(retries=2), progress=False))
    assert cluster.read_text().isdigit()  # the pid of the worker that died, mid-cell
    assert not summary.failed and len(summary.results) == 7
    run_suite(suite, Execution(Store(tmp_path / "local.sqlite"), progress=False))
    assert predictions_by_cell(tmp_path / "killed.sqlite") == predictions_by_cell(tmp_path / "local.sqlite")
