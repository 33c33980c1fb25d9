"""Progress that moves on slow models: a model reports how much of a call is done
(``Model.report_progress``) and the bar advances before the call returns; the batches, and
so the answers, are the same as without it."""
from __future__ import annotations

import time

from harness import Model, Prediction
from harness.core.example import Example
from harness.core.task import get_task
from harness.run.predicting import predict_pending


class SlowDecoder(Model):
    """Answers one example at a time, slowly, inside a single call (as a decoder's batch does)."""

    name = "slow-decoder"
    kinds = frozenset({"classification"})

    def __init__(self):
        self.calls: list[int] = []
        self.in_call = False

    def predict(self, task, examples, *, batch_size=32):
        self.in_call = True
        self.calls.append(len(examples))
        predictions = []
        for i, _ in enumerate(examples):
            time.sleep(0.02)
            predictions.append(Prediction("positive"))
            self.report_progress((i + 1) / len(examples))
        self.in_call = False
        return predictions


def _run(model, todo, batch_size=32):
    events, stored = [], []
    predict_pending(model, get_task("sentiment"), todo, batch_size=batch_size, extra={}, workers=1,
                    store_batch=stored.append, advance=lambda n: events.append((n, model.in_call, time.monotonic())))
    return events, stored


def test_a_slow_decoder_moves_the_bar_before_its_first_batch_returns():
    todo = [Example(f"e{i}", f"text {i}", "positive") for i in range(20)]
    model = SlowDecoder()
    events, stored = _run(model, todo)
    assert model.calls == [20]  # one --batch-size batch, as before: the batch composition rule is unchanged
    inside = [n for n, in_call, _ in events if in_call]
    assert len(inside) >= 10 and sum(inside) >= 19  # example by example, while the call runs
    assert sum(n for n, _, _ in events) == 20  # never more than the examples
    assert len(stored) == 1 and len(stored[0].predictions) == 20
    assert model.context.on_share is None  # cleared once the call returns


def test_a_model_that_reports_nothing_advances_once_per_call():
    class Quiet(SlowDecoder):
        def report_progress(self, share):
            pass

    events, _ = _run(Quiet(), [Example(f"e{i}", "t", "positive") for i in range(5)], batch_size=2)
    assert [n for n, _, _ in events] == [2, 2, 1] and not any(in_call for _, in_call, _ in events)
