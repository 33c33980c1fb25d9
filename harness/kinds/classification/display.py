"""How classification examples show in the report: the confusion matrix, per-class scores,
calibration over the labels, and the gold class as a facet."""
from __future__ import annotations

from typing import Any, Sequence

from harness.kinds.base import Presenter
from harness.scoring.tables import Table

NO_LABEL = "(no answer)"


def classification_tables(labels: Sequence[str], references: Sequence[Any], outputs: Sequence[Any]) -> list[Table]:
    """The confusion matrix (gold rows, predicted columns; answers outside the labels in a
    column of their own) and scikit-learn's classification report."""
    from collections import Counter

    from sklearn.metrics import classification_report

    labels = [str(label) for label in labels]
    gold = [str(r) for r in references]
    predicted = [str(o) if o is not None and str(o) in labels else NO_LABEL for o in outputs]
    columns = labels + ([NO_LABEL] if NO_LABEL in predicted else [])
    pairs = Counter(zip(gold, predicted))
    matrix = [[pairs[g, p] for p in columns] for g in columns]
    confusion = Table("Confusion matrix", ["gold \\ predicted", *columns],
                      [[label, *matrix[i]] for i, label in enumerate(columns) if label != NO_LABEL],
                      "Rows: the gold label; columns: the model's answer.", data={"labels": columns, "matrix": matrix})
    code = {label: i for i, label in enumerate(columns)}  # integer labels: sklearn checks them much faster than strings
    report = classification_report([code[g] for g in gold], [code[p] for p in predicted], labels=list(range(len(labels))),
                                   target_names=labels, output_dict=True, zero_division=0)
    rows = [[label, report[label]["precision"], report[label]["recall"], report[label]["f1-score"], int(report[label]["support"])]
            for label in labels]
    for average in ("macro avg", "weighted avg"):
        if average in report:
            r = report[average]
            rows.append([average, r["precision"], r["recall"], r["f1-score"], int(r["support"])])
    return [confusion, Table("Per-class precision, recall and F1", ["class", "precision", "recall", "F1", "support"], rows,
                             "scikit-learn's classification_report.", data={"report": report})]


# -- tagging ---------------------------------------------------------------------------------


class ClassificationPresenter(Presenter):
    """The text, the gold and predicted labels."""

    def analyses(self, task, examples, predictions, correct):
        """The confusion matrix and the per-class report."""
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
