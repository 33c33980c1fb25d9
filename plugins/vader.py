"""VADER lexicon sentiment baseline (vaderSentiment) for binary classification tasks."""
from __future__ import annotations

from importlib.metadata import version

from harness import hookimpl
from plugins.polarity import PolarityBaseline


class Vader(PolarityBaseline):
    """Rule-based sentiment: compound score >= 0 is positive on a binary task; on a task with a
    neutral label, VADER's own band: neutral strictly between -0.05 and 0.05 (``-o neutral=``)."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "vader"
    licence = "MIT (vaderSentiment)"
    description = "VADER lexicon sentiment (vaderSentiment), compound >= 0 -> positive (neutral: |compound| < 0.05)"
    #: VADER's authors' threshold (the vaderSentiment README): neutral when -0.05 < compound < 0.05
    default_band = 0.05

    def __init__(self) -> None:
        self._analyzer = None

    def identity(self):
        """Name plus the vaderSentiment version (its lexicon ships with it)."""
        return {"name": self.name, **self.code_identity(), "vaderSentiment": version("vaderSentiment"), "threshold": 0.0}

    def polarity(self, text):
        """VADER's compound score."""
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        return self._analyzer.polarity_scores(text)["compound"]


@hookimpl
def harness_register_models(register):
    register(Vader())
