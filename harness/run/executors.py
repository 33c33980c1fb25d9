"""Computing the tasks x models matrix on a Ray cluster (``harness run --executor ray``).

Each (task, model) cell whose predictions are not all cached becomes one Ray task, asking for
the CPUs and GPUs its model declares (:meth:`harness.core.model.Model.resources`). The worker
computes the missing predictions and sends them back; the driver, alone, writes them and the
run record to the SQLite store as each cell finishes. A worker that dies takes only its
unfinished cell with it: Ray runs that cell again (up to ``retries`` times) and every finished
cell is already stored.
"""
from __future__ import annotations

import os
import signal
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from harness.engines.decoder import RequestCache
from harness.errors import HarnessError
from harness.plugins.hookspecs import hookimpl
from harness.plugins.registry import Registration, collect, find_name, unknown
from harness.run.cells import Cell, CellWork, Collected, Computed, Failed, RunSummary
from harness.run.config import Executor, RunConfig
from harness.run.predicting import ModelFailure
from harness.run.runner import (
    LocalExecutor,
    RunInterrupted,
    cell_work,
    compute_predictions,
    finish_cell,
    hardware,
    model_facts,
    resume_command,
    store_sink,
)

#: test hook: a path; the first Ray worker to answer a batch while that file is missing creates
#: it and kills itself (SIGKILL), as a crashed machine would, so tests can check the retry
KILL_ONCE_ENV = "HARNESS_TEST_KILL_RAY_WORKER_ONCE"


class RequestsInMemory:
    """Stands in for the store's request cache on a Ray worker: the driver's cached engine
    outputs for one engine, plus whatever the worker adds (sent back to the driver)."""

    def __init__(self, known: dict[str, tuple[Any, float]]):
        self.known = dict(known)
        self.added: dict[str, dict[str, tuple[Any, float]]] = {}

    def cached_requests(self, engine_key: str, request_keys) -> dict[str, tuple[Any, float]]:
        """(output, seconds) of the requests already answered."""
        return {key: self.known[key] for key in request_keys if key in self.known}

    def put_requests(self, engine_key: str, outputs: dict[str, tuple[Any, float]]) -> None:
        """Keep fresh outputs (the driver stores them)."""
        self.known.update(outputs)
        self.added.setdefault(engine_key, {}).update(outputs)


def compute_cell_remotely(work: CellWork, known_requests: dict, progress_actor: Any = None) -> dict[str, Any]:
    """Run on a Ray worker: compute a cell's missing predictions and return them with the
    engine outputs the worker added, or the failure that stopped it."""
    requests = RequestsInMemory(known_requests)
    kill_marker = os.environ.get(KILL_ONCE_ENV)

    def after_batch(examples, predictions, seconds) -> None:
        if kill_marker and not Path(kill_marker).exists():
            Path(kill_marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

    collected = Collected(after_batch)

    def advance(count: int) -> None:
        if progress_actor is not None:
            progress_actor.add.remote(count)

    try:
        computed = compute_predictions(work, requests=requests, collected=collected, advance=advance)
    except ModelFailure as exc:
        return {"failure": str(exc), "trace": exc.trace, "batches": collected.batches, "requests": requests.added}
    except Exception as exc:  # a plugin bug: reported as the cell's failure, like in-process runs
        return {"failure": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(), "batches": collected.batches,
                "requests": requests.added}
    finally:
        work.model.close()
    computed.model_facts["hardware"] = hardware()
    computed.model_facts["executor"] = {"name": "ray", "node": _ray_node_id()}
    computed.model_facts["workers"] = work.workers
    return {"computed": computed, "batches": collected.batches, "requests": requests.added}


def _ray_node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:
        return None


def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise HarnessError("--executor ray needs Ray, which is not installed: pip install 'harness[ray]' "
                           "(or pip install ray)") from None
    return ray


def reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with one line, when nothing listens at a Ray address (``host:port`` or
    ``ray://host:port``); Ray itself would retry for minutes."""
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise HarnessError(f"--address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise HarnessError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
                           "`ray start --head` or leave out --address to start a local one") from None


class RayExecutor:
    """Computes cells as Ray tasks; the driver (this process) stores every result.

    ``address``: an existing cluster (``ray://host:10001``, ``auto``); None starts a local one
    unless ``ray.init`` already ran in this process. ``retries``: times a cell whose worker died
    is run again.
    """

    def __init__(self, address: str | None = None, *, retries: int = 3):
        self.ray = import_ray()
        if address and address not in ("auto", "local") and not self.ray.is_initialized():
            reachable(address)
        self.address = address
        self.retries = retries

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        try:
            ray.init(address=self.address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except Exception as exc:
            where = f" at {self.address}" if self.address else ""
            raise HarnessError(f"Could not start or reach a Ray cluster{where}: {exc}".splitlines()[0]) from exc

    name = "ray"

    def run(self, cells, summary: RunSummary, config: RunConfig) -> None:
        """Compute ``cells`` on the cluster; finish (score, store) each on the driver as it returns."""
        cells = list(cells)  # data loads on the driver, task by task, as the in-process run does
        order = {(cell.task.name, cell.name): i for i, cell in enumerate(cells)}
        first = len(summary.results)
        try:
            self._run([c for c in cells if not c.todo], [c for c in cells if c.todo], summary, config)
        finally:  # results in the order of the cells, as the in-process run lists them
            summary.results[first:] = sorted(summary.results[first:], key=lambda r: order.get((r.task, r.model), 0))

    def _run(self, ready: list[Cell], remote_cells: list[Cell], summary: RunSummary, config: RunConfig) -> None:
        ray, store = self.ray, config.execution.store
        for cell in ready:  # everything cached: nothing to send anywhere
            self._finish(cell, Computed(model_facts=model_facts(cell.model)), Collected(), summary, config)
        if not remote_cells:
            return
        self._connect()
        compute = ray.remote(compute_cell_remotely)
        progress = ray.remote(_Progress).options(num_cpus=0).remote()
        pending = {}
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        for cell in remote_cells:
            resources = cell.model.resources(has_gpus)
            workers = max(1, int(resources.get("num_cpus", 1))) if cell.model.cpu_bound else 1
            known = {}
            if cell.by_request:
                known = store.all_requests(RequestCache(store, cell.model.engine_identity(cell.identity)).engine_key)
            work = replace(cell_work(cell, config, workers=workers), progress=False)
            ref = compute.options(max_retries=self.retries, retry_exceptions=False, **resources).remote(work, known, progress)
            pending[ref] = cell
        total = sum(len(cell.todo) for cell in remote_cells)
        with tqdm(total=total, desc=f"{len(remote_cells)} cells on Ray", unit="ex", disable=not config.execution.progress,
                  mininterval=0.5) as bar:
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                    bar.n = min(total, ray.get(progress.count.remote()))
                    bar.refresh()
                    for ref in done:
                        cell = pending.pop(ref)
                        try:
                            answer = ray.get(ref)
                        except Exception as exc:  # the worker died more often than retries allow
                            summary.failed.append(Failed(cell.task.name, cell.model.name,
                                                         f"{cell.task.name} x {cell.name}: Ray could not finish the cell: "
                                                         + str(exc).splitlines()[0]))
                            continue
                        collected = self._collect(cell, answer, store)
                        if "failure" in answer:
                            computed = Computed(failure=answer["failure"], trace=answer["trace"])
                        else:
                            computed = answer["computed"]
                        self._finish(cell, computed, collected, summary, config)
                bar.n = total
                bar.refresh()
            except KeyboardInterrupt:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise RunInterrupted(f"Interrupted: {len(pending)} of {len(remote_cells)} cells sent to Ray were "
                                     f"unfinished; the others are stored in {store.path}; resume with: {resume_command()}",
                                     summary) from None

    @staticmethod
    def _collect(cell: Cell, answer: dict, store) -> Collected:
        """A finished cell's predictions (and engine outputs) written to the store, by the driver
        only, through the same :class:`Collected` an in-process run fills."""
        for engine_key, outputs in answer["requests"].items():
            store.put_requests(engine_key, outputs)
        collected = Collected(store_sink(cell, store))
        by_key = {e.key: e for e in cell.todo}
        for keys, predictions, seconds in answer["batches"]:
            collected.add([by_key[key] for key in keys], predictions, seconds)
        return collected

    @staticmethod
    def _finish(cell: Cell, computed: Computed, collected: Collected, summary: RunSummary, config: RunConfig) -> None:
        try:
            summary.results.append(finish_cell(cell, computed, collected, config))
        except ModelFailure as exc:
            summary.failed.append(Failed(cell.task.name, cell.model.name, str(exc), exc.trace))


class _Progress:
    """A Ray actor counting the predictions workers have made (for the driver's one bar)."""

    def __init__(self):
        self.total = 0

    def add(self, count: int) -> None:
        """Count ``count`` more predictions."""
        self.total += count

    def count(self) -> int:
        """Predictions made so far."""
        return self.total


@dataclass(frozen=True)
class ExecutorType:
    """A kind of executor a plugin offers: ``harness run --executor NAME [--address ADDRESS]``
    builds one with ``create(address)`` (where Ray-like executors connect; None: their default)."""

    name: str
    description: str
    create: Callable[[str | None], Executor]


def get_executor_types() -> dict[str, Registration]:
    """Every registered executor type, by name."""
    return collect("harness_register_executors", ExecutorType, "executor")


def get_executor(name: str, address: str | None = None) -> Executor:
    """The executor ``name`` connected to ``address``; a one-line error for an unknown name."""
    types = get_executor_types()
    found = find_name(name, types)
    if found is None:
        raise unknown("executor", name, types)
    return types[found].obj.create(address)


def _local(address: str | None) -> Executor:
    if address:
        raise HarnessError("--address is for --executor ray")
    return LocalExecutor()


@hookimpl
def harness_register_executors(register):
    register(ExecutorType("local", "in this process, one cell after another", _local))
    register(ExecutorType("ray", "(task, model) cells as Ray tasks, on this machine or a cluster (--address)", RayExecutor))
