"""What the lexicon sentiment baselines (VADER, TextBlob) share: a score in [-1, 1] read as a
label, on binary tasks (>= 0 is positive) and on three-class ones with a neutral band."""
from __future__ import annotations

from typing import Any

from harness import HarnessError, Model, Option, Prediction
from harness.engine import number_in

BINARY = frozenset({"negative", "positive"})
THREE_CLASS = frozenset({"negative", "neutral", "positive"})


class PolarityBaseline(Model):
    """A lexicon baseline that scores each text in [-1, 1]. Subclasses say how (:meth:`polarity`)
    and the band their authors read as neutral (:attr:`default_band`)."""

    kinds = frozenset({"classification"})
    baseline = True
    batch_invariant = True
    #: the neutral band on a three-class task where ``-o neutral=`` is not given
    default_band = 0.0
    options: dict[str, Any] = {
        "neutral": Option("neutral", None, parse=number_in(float, 0, 1), keyed_at_default=False,
                          help="the model's own band on a task with a neutral label; none on a binary task"),
    }

    def polarity(self, text: str) -> float:
        """The text's score, from -1 (negative) to 1 (positive)."""
        raise NotImplementedError

    def band(self, task) -> float | None:
        """The neutral band for ``task``: None on a binary task (no neutral label)."""
        if frozenset(task.labels) != THREE_CLASS:
            return None
        chosen = self.option("neutral")
        return self.default_band if chosen is None else chosen

    def supports(self, task):
        """Binary negative/positive tasks, and negative/neutral/positive ones."""
        reason = super().supports(task)
        if reason is None and frozenset(task.labels) not in (BINARY, THREE_CLASS):
            return (f"{self.name} predicts negative/positive (or neutral), task {task.name!r} has labels "
                    f"{', '.join(task.labels)}")
        return reason

    def check_task(self, task) -> None:
        """A neutral band asked for on a task with no neutral label is a one-line error."""
        super().check_task(task)
        if self.option("neutral") is not None and self.band(task) is None:
            raise HarnessError(f"Model {self.name!r}: -o neutral= needs a task with a neutral label; "
                               f"task {task.name!r} has labels {', '.join(task.labels)}")

    def label(self, score: float, band: float | None) -> str:
        """Binary: >= 0 is positive. Three-class: neutral strictly inside the band (and at 0: no
        sentiment words at all), positive or negative outside it (VADER's own rule at 0.05)."""
        if band is not None and (score == 0 or -band < score < band):
            return "neutral"
        return "positive" if score >= 0 else "negative"

    def predict(self, task, examples, *, batch_size=32):
        """Score each text; on a binary task P(positive) is the score rescaled to [0, 1]."""
        band = self.band(task)
        predictions = []
        for example in examples:
            score = self.polarity(example.input)
            if band is None:
                p_pos = (score + 1) / 2
                predictions.append(Prediction(self.label(score, band), {"negative": 1 - p_pos, "positive": p_pos}))
            else:
                predictions.append(Prediction(self.label(score, band)))
        return predictions
