"""An example third-party model plugin for harness: TextBlob polarity as sentiment.

Installing this package (``pip install ./examples/harness-textblob``) makes the model
``textblob-sentiment`` available to ``harness run --models`` with no change to harness.
"""
from __future__ import annotations

from importlib.metadata import version

from harness import Model, Prediction, hookimpl


class TextBlobSentiment(Model):
    name = "textblob-sentiment"
    description = "TextBlob's pattern-lexicon polarity: >= 0 is positive"
    kinds = frozenset({"classification"})  # the task kinds it answers
    cpu_bound = True  # pure Python, one example at a time: harness may spread it over --workers processes

    def supports(self, task):
        """Only two-way negative/positive tasks (the reason is shown when a pair is skipped)."""
        reason = super().supports(task)
        if reason is None and set(task.labels) != {"negative", "positive"}:
            reason = f"{self.name} answers negative/positive tasks, not {', '.join(task.labels)}"
        return reason

    def identity(self):
        """The default (name, this plugin's version, a digest of this file) plus TextBlob's version:
        a new TextBlob may answer differently, so it must not be served from the cache."""
        return {**super().identity(), "textblob": version("textblob")}

    def predict(self, task, examples, *, batch_size=32):
        """One Prediction per example, in order: the label, and both labels' probabilities."""
        from textblob import TextBlob  # heavy imports inside methods: registration stays cheap

        predictions = []
        for example in examples:
            polarity = TextBlob(example.input).sentiment.polarity  # -1 .. 1
            positive = (polarity + 1) / 2
            label = "positive" if polarity >= 0 else "negative"
            predictions.append(Prediction(label, scores={"negative": 1 - positive, "positive": positive}))
        return predictions


@hookimpl
def harness_register_models(register):
    register(TextBlobSentiment())
