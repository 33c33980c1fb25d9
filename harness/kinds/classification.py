"""Kind ``classification``: text -> one label from the task's closed set (SST-2)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from . import FinetuneHead, Kind


class Classification(Kind):
    name = "classification"
    description = "text -> one label from a closed set"
    labels_needed = "class labels"
    decoders = True
    finetune = FinetuneHead("sequence", "accuracy")

    def score(self, task, examples, predictions, seed=0):
        """Accuracy, macro-F1, per-class F1 and the rate of outputs outside the label set."""
        from ..metrics import score_classification

        from ..metrics import parse_failure_metrics

        scores = score_classification([e.reference for e in examples], [p.output for p in predictions], list(task.labels),
                                      seed=seed)
        scores.metrics.extend(parse_failure_metrics(predictions, seed=seed))
        return scores

    def check_output(self, task, example, output):
        """A label of the task's, or None for an answer that named none (an int or another
        name would silently count as wrong)."""
        if output is not None and output not in task.labels:
            return f"output {output!r} is not one of the task's labels ({', '.join(task.labels)})"
        return None

    def gold_answer(self, task, example):
        """The label's verbaliser."""
        from ..prompts import verbalise

        return verbalise(task, example.reference)

    def options(self, task, example):
        """Each label's verbaliser (" negative", " positive")."""
        from ..prompts import verbalise

        return [verbalise(task, label) for label in task.labels]

    def option_output(self, task, example, index):
        """The label of option ``index``."""
        return list(task.labels)[index]

    def option_prediction(self, task, requests, best, probabilities, *, method):
        """The best label, and each label's probability."""
        labels = list(task.labels)
        return labels[best], dict(zip(labels, probabilities)), requests[best][1]

    def analyses(self, task, examples, predictions):
        """The confusion matrix and the per-class report."""
        from ..analysis import classification_tables

        return classification_tables(task.labels, [e.reference for e in examples], [p.output for p in predictions])

    def option_probabilities(self, task, example, prediction):
        """The probabilities of the task's labels, in label order."""
        labels = list(task.labels)
        scores = prediction.scores or {}
        if example.reference not in labels or not all(label in scores for label in labels):
            return None
        return [float(scores[label]) for label in labels], labels.index(example.reference)

    def facets(self, data, reference, meta):
        """The gold class."""
        return {"class": [str(reference)]}

    def perturbation_refused(self, task):
        """Any text may be perturbed."""
        return None

    def perturb(self, task, example, noise):
        """Every word of the text (its spacing kept); the label stays."""
        from ..perturb import perturb_text
        from ..task import Example

        return Example(example.id, perturb_text(str(example.input), noise)[0], example.reference, example.meta)

    def decoder_settings(self, decoder, task):
        """The verbalisers (editing them must not serve cached answers)."""
        return {"verbalizers": dict(task.verbalizers)}


@hookimpl
def harness_register_kinds(register):
    register(Classification())
