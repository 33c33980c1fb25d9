"""The sentence as word/TAG pairs; the tag set as a facet; errors by gold tag."""
from __future__ import annotations

from collections import Counter

from harness import Presenter, Table


def _pairs(tokens, tags) -> str:
    return " ".join(f"{token}/{tag}" for token, tag in zip(tokens, tags))


class TokenTagsPresenter(Presenter):
    def describe(self, data, reference, output, raw):
        return {"input": " ".join(data), "reference": _pairs(data, reference),
                "prediction": _pairs(data, output) if isinstance(output, list) else str(raw or output)}

    def facets(self, data, reference, meta):
        return {"length": ["short" if len(data) < 6 else "long"]}

    def analyses(self, task, examples, predictions, correct):
        wrong = Counter(g for e, p in zip(examples, predictions) for g, o in zip(e.reference, p.output) if g != o)
        rows = [[tag, wrong[tag]] for tag in task.labels]
        return [Table("Wrong tags by gold tag", ["gold tag", "tokens tagged wrong"], rows)]
