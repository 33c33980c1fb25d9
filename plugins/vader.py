"""VADER lexicon sentiment baseline (vaderSentiment) for binary classification tasks."""
from __future__ import annotations

from importlib.metadata import version

from harness import Model, Prediction, hookimpl


class Vader(Model):
    """Rule-based sentiment: compound score >= 0 is positive (VADER's own neutral band folded in)."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "vader"
    licence = "MIT (vaderSentiment)"
    description = "VADER lexicon sentiment (vaderSentiment), compound >= 0 -> positive"
    kinds = frozenset({"classification"})
    baseline = True
    batch_invariant = True

    def __init__(self) -> None:
        self._analyzer = None

    def supports(self, task):
        """Only binary negative/positive label sets."""
        reason = super().supports(task)
        if reason is None and set(task.labels) != {"negative", "positive"}:
            return f"vader predicts negative/positive, task {task.name!r} has labels {', '.join(task.labels)}"
        return reason

    def identity(self):
        """Name plus the vaderSentiment version (its lexicon ships with it)."""
        return {"name": self.name, **self.code_identity(), "vaderSentiment": version("vaderSentiment"), "threshold": 0.0}

    def predict(self, task, examples, *, batch_size=32):
        """Score each text; P(positive) is the compound score rescaled to [0, 1]."""
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        predictions = []
        for example in examples:
            compound = self._analyzer.polarity_scores(example.input)["compound"]
            p_pos = (compound + 1) / 2
            predictions.append(
                Prediction(
                    "positive" if compound >= 0 else "negative",
                    {"negative": 1 - p_pos, "positive": p_pos},
                )
            )
        return predictions


@hookimpl
def harness_register_models(register):
    register(Vader())
