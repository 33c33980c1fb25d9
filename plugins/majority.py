"""``majority-class``: the floor of every classification and choice task.

It answers every example with the most frequent gold answer of the task's solved examples —
the split ``--shots`` draws from (:func:`harness.training_examples`): SST-2's train split,
GAP's development split, the 12 WSC schemas after the first 273 for WSC273 and Winogender.
On a choice task the answer is a candidate's position (GAP: A, B or neither). A task
without such a split gets its first label (classification) or its first candidate
(choice), and each answer says so. A decoder that answers one label for everything scores
what this row scores.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from harness import Model, Prediction, hookimpl, training_examples


def most_frequent(answers: list[Any], order: list[Any]) -> Any:
    """The most frequent of ``answers``; a tie goes to the one first in ``order`` (the task's
    labels, or candidate positions with None last), so the answer never depends on file order."""
    counts = Counter(answers)
    best = max(counts.values())
    tied = [a for a in counts if counts[a] == best]
    rank = {a: i for i, a in enumerate(order)}
    return min(tied, key=lambda a: rank.get(a, len(rank)))


class MajorityClass(Model):
    """The most frequent gold answer of the task's train split, for every example."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "majority-class"
    licence = "project code"
    description = "the most frequent label (or candidate position) of the task's train split, for every example"
    kinds = frozenset({"classification", "choice"})
    baseline = True
    batch_invariant = True

    def identity(self) -> dict[str, Any]:
        """Name and the answers version (what it answers follows from the task's data)."""
        return {"name": self.name, **self.code_identity()}

    def majority(self, task) -> tuple[Any, str]:
        """The answer and where it was learned (``"train: 38,544 of 67,349"``)."""
        loaded = training_examples(task, data_dir=self.context.data_dir, source=self.context.source)
        choice = task.kind == "choice"
        if loaded is None or not loaded.examples:
            return (0 if choice else task.labels[0]), "no train split: the task's first " + ("candidate" if choice else "label")
        answers = [e.reference for e in loaded.examples]
        if choice:
            order: list[Any] = sorted({a for a in answers if a is not None}) + [None]
        else:
            order = list(task.labels)
        answer = most_frequent(answers, order)
        split = (f"{task.few_shot_task} " if task.few_shot_task else "") + loaded.split
        return answer, f"{split}: {answers.count(answer):,} of {len(answers):,}"

    def predict(self, task, examples, *, batch_size=32):
        """The majority answer for each example (a candidate position the example lacks: its first)."""
        answer, learned = self.majority(task)
        details = {"majority_of": learned}
        if task.kind != "choice":
            return [Prediction(answer, details=details) for _ in examples]
        return [Prediction(answer if answer is None or answer < len(e.input["candidates"]) else 0, details=details)
                for e in examples]


@hookimpl
def harness_register_models(register):
    register(MajorityClass())
