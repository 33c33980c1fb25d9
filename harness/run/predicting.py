"""Getting a model's predictions for the examples it has not answered yet.

Checks every answer (one :class:`Prediction` per example, JSON-serialisable), names the
example a failing model plugin stumbled on, sizes calls so that slow models report
progress and commit every few seconds, and spreads CPU-bound models over worker processes.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from harness.core.example import Example, Prediction
from harness.core.model import Model
from harness.core.task import Task
from harness.errors import HarnessError, UnknownNameError
from harness.kinds import kind_of

#: The most examples handed to a model per call (length-sorted batching happens inside it).
CHUNK_BATCHES = 8
#: Calls to a batch-invariant model grow while they take less than this, so a slow model
#: reports progress and commits every few seconds and a fast one gets large calls.
TARGET_CALL_S = 3.0
#: Fresh predictions are committed at least this often.
COMMIT_EVERY_S = 3.0
#: Fewer pending examples than this are not worth starting worker processes for.
MIN_POOL_EXAMPLES = 64


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ModelFailure(HarnessError):
    """A model plugin raised, or returned something that is not one Prediction per example."""

    def __init__(self, message: str, trace: str | None = None):
        super().__init__(message)
        self.trace = trace


#: what a plugin's code may raise that fails its own (task, model) pair and no other: any
#: exception, and ``SystemExit`` too (a plugin calling ``sys.exit`` must not end the run)
PLUGIN_ERRORS = (Exception, SystemExit)


def plugin_failure(what: str, exc: BaseException) -> ModelFailure:
    """A plugin's exception as a one-line :class:`ModelFailure` that says ``what`` failed (a
    plugin's own :class:`HarnessError` as it is), with its traceback for ``--debug``."""
    if isinstance(exc, HarnessError):
        return ModelFailure(str(exc), getattr(exc, "trace", None) or _trace(exc))
    return ModelFailure(f"{what}: {_describe_exception(exc)}", _trace(exc))


@dataclass
class Answered:
    """What one call produced: the examples answered, their predictions, the seconds it took,
    and the failure that stopped it (None when every example was answered)."""

    examples: list[Example] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None
    #: the failure's traceback (shown with ``--debug``)
    trace: str | None = None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_predictions(model: Model, task: Task, batch: Sequence[Example], predictions: Any) -> list[Prediction]:
    """The predictions if they are one JSON-serialisable :class:`Prediction` per example; else a
    one-line :class:`ModelFailure` naming the model, the task and the example."""
    where = f"{model.name} on {task.name}"
    if predictions is None:
        raise ModelFailure(f"{where}: predict() returned None for {len(batch)} examples (expected a list of Prediction)")
    if not isinstance(predictions, (list, tuple)):
        raise ModelFailure(f"{where}: predict() returned a {type(predictions).__name__} (expected a list of "
                           f"{len(batch)} Prediction, one per example, in order)")
    if len(predictions) != len(batch):
        raise ModelFailure(f"{where}: predict() returned {len(predictions)} predictions for {len(batch)} examples")
    try:
        kind = kind_of(task)
    except (UnknownNameError, HarnessError):  # tasks of unregistered kinds fail when they are checked
        kind = None
    for example, prediction in zip(batch, predictions):
        if not isinstance(prediction, Prediction):
            raise ModelFailure(f"{where}, example {example.id}: got {type(prediction).__name__} {_short(prediction)} "
                               "(expected harness.Prediction(output, ...))")
        wrong = kind.scorer.check_output(task, example, prediction.output) if kind is not None else None
        if wrong:
            raise ModelFailure(f"{where}, example {example.id}: {wrong}")
        try:
            json.dumps(prediction.to_json(), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ModelFailure(f"{where}, example {example.id}: the prediction cannot be stored as JSON "
                               f"({type(exc).__name__}: {exc})") from None
    return list(predictions)


def _describe_exception(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def predict_checked(model: Model, task: Task, batch: Sequence[Example], batch_size: int, extra: dict) -> Answered:
    """Answer ``batch``; when the model fails, answer what it can one example at a time and
    name the first example it fails on (what it did answer is kept)."""
    started = time.perf_counter()
    try:
        predictions = check_predictions(model, task, batch, model.predict(task, list(batch), batch_size=batch_size, **extra))
        return Answered(list(batch), predictions, time.perf_counter() - started)
    except HarnessError as exc:  # the plugin's own one-line error (or ours): shown as it is
        return Answered(seconds=time.perf_counter() - started, failure=str(exc), trace=_trace(exc))
    except PLUGIN_ERRORS as exc:
        first_error = exc
    if len(batch) == 1:
        return Answered(seconds=time.perf_counter() - started, failure=_failure(model, task, batch[0], first_error),
                        trace=_trace(first_error))
    answered = Answered()
    for example in batch:
        t0 = time.perf_counter()
        try:
            single = check_predictions(model, task, [example], model.predict(task, [example], batch_size=batch_size, **extra))
        except PLUGIN_ERRORS as exc:
            answered.failure, answered.trace = _failure(model, task, example, exc), _trace(exc)
            break
        answered.examples.append(example)
        answered.predictions.extend(single)
        answered.seconds += time.perf_counter() - t0
    else:  # every example passes alone: the batch as a whole is what fails
        answered.failure, answered.trace = _failure(model, task, None, first_error), _trace(first_error)
    return answered


def _trace(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


def _failure(model: Model, task: Task, example: Example | None, exc: BaseException) -> str:
    if isinstance(exc, HarnessError):
        return str(exc)
    where = f"{model.name} failed on {task.name}" + (f", example {example.id}" if example is not None else "")
    return f"{where}: {_describe_exception(exc)}"


# -- worker processes ----------------------------------------------------------------

_worker_state: dict[str, Any] = {}


def _init_worker(model: Model, task: Task, batch_size: int, extra: dict) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _worker_state.update(model=model, task=task, batch_size=batch_size, extra=extra)
    model.prepare()


def _worker_predict(batch: list[Example]) -> Answered:
    state = _worker_state
    return predict_checked(state["model"], state["task"], batch, state["batch_size"], state["extra"])


def _pool_context():
    # fork: workers inherit the loaded model (dictionaries, indexes) instead of rebuilding it
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


# -- the loop --------------------------------------------------------------------------

Sink = Callable[[Answered], None]


def predict_pending(
    model: Model,
    task: Task,
    todo: Sequence[Example],
    *,
    batch_size: int,
    extra: dict,
    workers: int,
    store_batch: Sink,
    advance: Callable[[int], None],
) -> tuple[float, Answered | None]:
    """Predict ``todo`` and hand each answered batch to ``store_batch`` (which commits it).

    Returns (seconds spent predicting, the call that failed, or None). CPU-bound models
    (``model.cpu_bound``) run in ``workers`` processes. Batch-invariant models
    (``model.batch_invariant``) get calls sized by time (:func:`_predict_in_calls`); other
    models one batch of ``batch_size`` per call, so their answers never depend on timing.
    Every call's predictions are committed when it returns.
    """
    if not todo:
        return 0.0, None
    if model.whole_task_per_call:  # engines that schedule their own batches (vLLM) get everything
        shown = _report_inside(model, len(todo), advance)
        try:
            answered = predict_checked(model, task, todo, batch_size, extra)
        finally:
            model.context.on_share = None
        store_batch(answered)
        advance(max(0, len(answered.examples) - shown[0]))
        return answered.seconds, answered if answered.failure else None
    if model.cpu_bound and workers > 1 and len(todo) >= MIN_POOL_EXAMPLES:
        return _predict_in_pool(model, task, todo, batch_size=batch_size, extra=extra, workers=workers,
                                store_batch=store_batch, advance=advance)
    # An answer may depend on the batch it is computed in (padding in a neural model): such
    # models get one batch per call, so results never depend on timing.
    return _predict_in_calls(model, task, todo, batch_size, extra, store_batch, advance, timed=model.batch_invariant)


def _predict_in_calls(model, task, todo, batch_size, extra, store_batch, advance, *, timed: bool
                      ) -> tuple[float, Answered | None]:
    """Call the model on consecutive slices of ``todo``: one ``batch_size`` batch each, or with
    ``timed`` a first call of one example, then doubling while calls take under
    :data:`TARGET_CALL_S` (up to ``batch_size x 8``), halving when one takes over twice that."""
    seconds = 0.0
    largest = batch_size * CHUNK_BATCHES
    size = 1 if timed else batch_size
    start = 0
    while start < len(todo):
        batch = todo[start : start + size]
        shown = _report_inside(model, len(batch), advance)
        try:
            answered = predict_checked(model, task, batch, batch_size, extra)
        finally:
            model.context.on_share = None
        seconds += answered.seconds
        store_batch(answered)
        advance(max(0, len(answered.examples) - shown[0]))
        if answered.failure:
            return seconds, answered
        start += len(batch)
        if timed and answered.seconds < TARGET_CALL_S:
            size = min(largest, size * 2)
        elif timed and answered.seconds > 2 * TARGET_CALL_S:
            size = max(1, size // 2)
    return seconds, None


def _report_inside(model: Model, examples: int, advance: Callable[[int], None]) -> list[int]:
    """Let ``model`` move the progress bar inside its next call (:meth:`Model.report_progress`):
    the share it reports, in whole examples of the call's ``examples``. Returns the examples
    shown so far (one mutable count), so the call's end shows only the rest."""
    shown = [0]

    def hook(share: float) -> None:
        now = min(examples, int(examples * share))
        if now > shown[0]:
            advance(now - shown[0])
            shown[0] = now

    model.context.on_share = hook  # the cell's context (Model.running), never the model itself
    return shown


def _predict_in_pool(model, task, todo, *, batch_size, extra, workers, store_batch, advance) -> tuple[float, Answered | None]:
    size = max(1, min(batch_size * CHUNK_BATCHES, math.ceil(len(todo) / (workers * 8))))
    batches = [list(todo[i : i + size]) for i in range(0, len(todo), size)]
    started = time.perf_counter()
    failure = None
    pending: list[Answered] = []
    last_commit = time.monotonic()

    def flush() -> None:
        nonlocal last_commit
        if pending:
            merged = Answered([e for a in pending for e in a.examples], [p for a in pending for p in a.predictions],
                              sum(a.seconds for a in pending))
            store_batch(merged)
            pending.clear()
        last_commit = time.monotonic()

    pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_init_worker,
                               initargs=(model, task, batch_size, extra))
    try:
        running: set[Future] = set()
        queue = iter(batches)
        for batch in queue:
            running.add(pool.submit(_worker_predict, batch))
            if len(running) >= workers * 2:
                break
        while running:
            done, running = wait(running, timeout=COMMIT_EVERY_S, return_when=FIRST_COMPLETED)
            for future in done:
                answered: Answered = future.result()
                pending.append(answered)
                advance(len(answered.examples))
                if answered.failure and failure is None:
                    failure = answered
            if failure is None:
                for batch in queue:
                    running.add(pool.submit(_worker_predict, batch))
                    if len(running) >= workers * 2:
                        break
            if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                flush()
        flush()
    except BaseException:
        flush()  # keep what finished, then stop the workers at once
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return time.perf_counter() - started, failure
