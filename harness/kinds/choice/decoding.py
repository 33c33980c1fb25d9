"""How decoder LMs answer choice: Trinh & Le substitution (the default, ``-o coref=substitution``)
or the task's question with each candidate scored as the answer (``-o coref=question``)."""
from __future__ import annotations

from harness.kinds.base import DecoderAdapter
from harness.kinds.choice.display import NO_ANSWER
from harness.kinds.choice.substitution import substitution_requests


class ChoiceDecoding(DecoderAdapter):
    """Candidates scored by log-likelihood."""

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
        one), and candidates are adapted by its rules (:func:`substitution_requests`)."""
        if method != "substitution":
            return super().lm_requests(task, example, shots, method=method, chat=chat)
        prefix = self.shots_text(task, shots, method)
        delimiter = " " if style == "lm-eval" else ""
        return [(prefix + context, delimiter + rest) for context, rest in substitution_requests(example, style)]

    def option_prediction(self, task, requests, best, probabilities, *, method):
        """The best candidate's index; with substitution the raw answer is the substituted text."""
        names = [str(i) for i in range(len(requests))]
        context, continuation = requests[best]
        return best, dict(zip(names, probabilities)), context + continuation if method == "substitution" else continuation

    def settings(self, decoder, task):
        """How the pronoun is asked about (``-o coref=``)."""
        return {"method": decoder.option("coref")}
