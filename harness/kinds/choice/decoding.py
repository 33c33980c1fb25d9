"""How decoder LMs answer choice: Trinh & Le substitution (the default, ``-o coref=substitution``)
or the task's question with each candidate scored as the answer (``-o coref=question``)."""
from __future__ import annotations

from harness.kinds.base import DecoderAdapter
from harness.kinds.choice.display import NO_ANSWER
from harness.kinds.choice.substitution import substitution_requests


class ChoiceDecoding(DecoderAdapter):
    """Candidates scored by log-likelihood."""

    decoder_options = {
        # how choice (pronoun) tasks are asked: Trinh & Le substitution, or the task's question prompt
        "coref": ("substitution", "question"),
        # lm-eval: reproduce lm-evaluation-harness's stock requests where the harness differs on
        # purpose (WSC273's rest of the text scored after a doubled space)
        "prompt_style": ("harness", "lm-eval"),
    }

    def gold_answer(self, task, example):
        """The antecedent's text."""
        return " " + example.input["candidates"][example.reference]["text"]

    def shows_as_shot(self, example):
        """Examples whose pronoun refers to none of the candidates are not shown."""
        return example.reference is not None

    def shots_prefix(self, task, shots, options):
        """With the substitution method, each shot is its text with the pronoun replaced by its antecedent."""
        if options["coref"] != "substitution":
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

    def lm_requests(self, task, example, shots, *, chat, options=None):
        """Substitution (Trinh & Le, ``coref=substitution``): the text up to the pronoun with each
        candidate in its place, then the rest of the text is scored; or (``coref=question``) the
        question prompt and each candidate. With ``prompt_style="lm-eval"`` the requests are
        lm-evaluation-harness's stock ``wsc273``'s: the rest is scored after an extra space (its
        target delimiter " " before a rest that starts with one), and candidates are adapted by
        its rules (:func:`substitution_requests`)."""
        values = self.option_values(options)
        if values["coref"] != "substitution":
            return super().lm_requests(task, example, shots, chat=chat, options=values)
        prefix = self.shots_text(task, shots, values)
        style = values["prompt_style"]
        delimiter = " " if style == "lm-eval" else ""
        return [(prefix + context, delimiter + rest) for context, rest in substitution_requests(example, style)]

    def option_prediction(self, task, requests, best, probabilities, *, options=None):
        """The best candidate's index; with substitution the raw answer is the substituted text."""
        names = [str(i) for i in range(len(requests))]
        context, continuation = requests[best]
        substituted = self.option_values(options)["coref"] == "substitution"
        return best, dict(zip(names, probabilities)), context + continuation if substituted else continuation

    def settings(self, decoder, task):
        """How the pronoun is asked about (``-o coref=``)."""
        return {"method": decoder.option("coref")}
