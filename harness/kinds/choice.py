"""Kind ``choice``: text, a pronoun and candidate mentions -> the antecedent's index (coreference).

The input is a dict: ``text``, ``pronoun``, ``pronoun_offset``, ``candidates`` (``{"text",
"offset"}``) and ``allow_none``; the reference is the right candidate's index, or None.
"""
from __future__ import annotations

from ..hookspecs import hookimpl
from . import Kind


#: The output of a generated answer that names no candidate (never right, unlike None).
NO_ANSWER = -1


def _choice_label(data, index) -> str:
    if index is None:
        return "(none of them)"
    if index == NO_ANSWER:
        return "(no answer)"
    candidates = data.get("candidates", [])
    return candidates[index]["text"] if isinstance(index, int) and 0 <= index < len(candidates) else str(index)


class Choice(Kind):
    name = "choice"
    description = "text + pronoun + candidates -> the antecedent"
    decoders = True

    def score(self, task, examples, predictions, seed=0):
        """Accuracy."""
        from ..metrics import parse_failure_metrics, score_choice

        scores = score_choice([e.reference for e in examples], [p.output for p in predictions], seed=seed)
        scores.metrics.extend(parse_failure_metrics(predictions, seed=seed))
        return scores

    def describe(self, data, reference, output, raw):
        """The text with its pronoun, the gold and the chosen candidate."""
        if not isinstance(data, dict):
            return super().describe(data, reference, output, raw)
        return {
            "input": f"{data['text']} [pronoun: {data['pronoun']!r} at {data['pronoun_offset']}]",
            "reference": _choice_label(data, reference),
            "prediction": raw or _choice_label(data, output),
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

    def perturbation_refused(self, task):
        """The words around the pronoun and the candidates may be perturbed."""
        return None

    def perturb(self, task, example, noise):
        """Every word except the pronoun and the candidate mentions, which are left untouched
        and whose offsets move with the text."""
        from ..perturb import perturb_text
        from ..task import Example

        data = dict(example.input)
        keep = [(data["pronoun_offset"], data["pronoun_offset"] + len(data["pronoun"]))]
        keep += [(c["offset"], c["offset"] + len(c["text"])) for c in data["candidates"] if c.get("offset") is not None]
        text, moved = perturb_text(data["text"], noise, keep)
        data["text"] = text
        data["pronoun_offset"] = moved(data["pronoun_offset"])
        data["candidates"] = [{**c, "offset": None if c.get("offset") is None else moved(c["offset"])}
                              for c in data["candidates"]]
        return Example(example.id, data, example.reference, example.meta)

    def gold_answer(self, task, example):
        """The antecedent's text."""
        return " " + example.input["candidates"][example.reference]["text"]

    def shows_as_shot(self, example):
        """Examples whose pronoun refers to none of the candidates are not shown."""
        return example.reference is not None

    def shots_prefix(self, task, shots, method):
        """With the substitution method, each shot is its text with the pronoun replaced by its antecedent."""
        if method != "substitution":
            return None
        from ..prompts import substitution_requests

        parts = [context + rest for shot in shots if shot.reference is not None
                 for context, rest in [substitution_requests(shot)[shot.reference]]]
        return "".join(part + "\n\n" for part in parts)

    def option_names(self, task, example):
        """Each candidate's text."""
        return [candidate["text"] for candidate in example.input["candidates"]]

    def unanswered_output(self, task, example):
        """:data:`NO_ANSWER` (None would mean "none of them", which can be right)."""
        return NO_ANSWER

    def options(self, task, example):
        """Each candidate as the answer to the task's question (method ``question``)."""
        return [" " + candidate["text"] for candidate in example.input["candidates"]]

    def lm_requests(self, task, example, shots, *, method, chat, style="harness"):
        """Substitution (Trinh & Le): the text up to the pronoun with each candidate in its place,
        then the rest of the text is scored; or the question prompt and each candidate. With
        ``style="lm-eval"`` the requests are lm-evaluation-harness's stock ``wsc273``'s: the rest
        is scored after an extra space (its target delimiter " " before a rest that starts with
        one), and candidates are adapted by its rules (:func:`~harness.prompts.substitution_requests`)."""
        if method != "substitution":
            return super().lm_requests(task, example, shots, method=method, chat=chat)
        from ..prompts import shots_prefix, substitution_requests

        prefix = shots_prefix(task, shots, method)
        delimiter = " " if style == "lm-eval" else ""
        return [(prefix + context, delimiter + rest) for context, rest in substitution_requests(example, style)]

    def option_prediction(self, task, requests, best, probabilities, *, method):
        """The best candidate's index; with substitution the raw answer is the substituted text."""
        names = [str(i) for i in range(len(requests))]
        context, continuation = requests[best]
        return best, dict(zip(names, probabilities)), context + continuation if method == "substitution" else continuation

    def decoder_settings(self, decoder, task):
        """How the pronoun is asked about (``-o coref=``)."""
        return {"method": decoder.option("coref")}


@hookimpl
def harness_register_kinds(register):
    register(Choice())
