"""How decoder LMs answer classification: each label's verbaliser scored after the prompt."""
from __future__ import annotations

from harness.kinds.base import DecoderAdapter
from harness.kinds.prompting import verbalise


class ClassificationDecoding(DecoderAdapter):
    """The prompt, then each label's verbaliser (" negative", " positive") by log-likelihood."""

    def gold_answer(self, task, example):
        """The label's verbaliser."""
        return verbalise(task, example.reference)

    def options(self, task, example):
        """Each label's verbaliser."""
        return [verbalise(task, label) for label in task.labels]

    def option_output(self, task, example, index):
        """The label of option ``index``."""
        return list(task.labels)[index]

    def option_prediction(self, task, requests, best, probabilities, *, options=None):
        """The best label, and each label's probability."""
        labels = list(task.labels)
        return labels[best], dict(zip(labels, probabilities)), requests[best][1]

    def settings(self, decoder, task):
        """The verbalisers (editing them must not serve cached answers)."""
        return {"verbalizers": dict(task.verbalizers)}
