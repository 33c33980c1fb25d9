"""How choice (coreference) examples show in the report: the text with its pronoun, the gold
and chosen candidates, candidate probabilities for calibration, gender and subset facets."""
from __future__ import annotations

from harness.kinds.base import Presenter

#: The output of a generated answer that names no candidate (never right, unlike None).
NO_ANSWER = -1


def choice_label(data, index) -> str:
    """A candidate's text for an output or reference index ("(none of them)" for None)."""
    if index is None:
        return "(none of them)"
    if index == NO_ANSWER:
        return "(no answer)"
    candidates = data.get("candidates", [])
    return candidates[index]["text"] if isinstance(index, int) and 0 <= index < len(candidates) else str(index)


class ChoicePresenter(Presenter):
    """The text, its pronoun and the candidates."""

    def describe(self, data, reference, output, raw):
        """The text with its pronoun, the gold and the chosen candidate."""
        if not isinstance(data, dict):
            return super().describe(data, reference, output, raw)
        return {
            "input": f"{data['text']} [pronoun: {data['pronoun']!r} at {data['pronoun_offset']}]",
            "reference": choice_label(data, reference),
            "prediction": raw or choice_label(data, output),
        }

    def option_probabilities(self, task, example, prediction):
        """Each candidate's probability (examples whose answer is "none of them" have no gold option)."""
        scores = prediction.scores or {}
        count = len(example.input.get("candidates", []))
        if not isinstance(example.reference, int) or not all(str(i) in scores for i in range(count)):
            return None
        return [float(scores[str(i)]) for i in range(count)], example.reference

    def facets(self, data, reference, meta):
        """The pronoun's gender and the example's subset, where the data gives them."""
        return {name: [str(meta[name])] for name in ("gender", "subset") if meta.get(name) is not None}
