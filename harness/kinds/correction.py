"""Kind ``correction``: a misspelt word -> its correction (any listed correction counts)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from . import Kind

#: A corrected word may take this many generated tokens.
MAX_WORD_TOKENS = 16


class Correction(Kind):
    name = "correction"
    description = "misspelt text -> corrected text"
    decoder_method = "generation"
    decoders = True

    def score(self, task, examples, predictions, seed=0):
        """Top-1 accuracy, over-correction rate on clean words, top-5 accuracy."""
        from ..metrics import score_correction

        return score_correction(examples, predictions, seed=seed)

    def is_correct(self, example, prediction):
        """Right when it equals any listed correction, ignoring case and spacing."""
        from ..metrics import normalise_text

        return normalise_text(prediction.output) in {normalise_text(r) for r in example.reference}

    def paired_statistics(self, task, examples, predictions):
        """Accuracy over the misspelt inputs (clean ones are left out, as the headline does)."""
        from ..compare import accuracy_statistics
        from ..metrics import is_clean

        return accuracy_statistics([e.id for e in examples], [self.is_correct(e, p) for e, p in zip(examples, predictions)],
                                   [not is_clean(e) for e in examples])

    def analyses(self, task, examples, predictions):
        """Accuracy by edit distance and on real-word errors."""
        from ..analysis import correction_table

        return [correction_table([e.input for e in examples], [e.reference for e in examples],
                                 [self.is_correct(e, p) for e, p in zip(examples, predictions)])]

    def facets(self, data, reference, meta):
        """The edit distance from the misspelling to its correction."""
        from ..analysis import distance_bucket

        return {"edit distance": [distance_bucket(str(data), [str(r) for r in reference])]}

    def perturbation_refused(self, task):
        """Spelling inputs are misspellings already: noise would change what the right answer is."""
        return (f"Task {task.name!r} is a spelling-correction task: its inputs are misspellings already, and noise "
                "would change which correction is right; --perturb applies to NER, sentiment and coreference")

    def describe(self, data, reference, output, raw):
        """The input, every accepted correction, and the answer."""
        return {"input": str(data), "reference": " / ".join(map(str, reference)), "prediction": str(raw or output)}

    def gold_answer(self, task, example):
        """The first listed correction."""
        return " " + example.reference[0]

    def generation(self, decoder, task, examples, chat):
        """One line."""
        from ..decoder import GenerationRequest

        return [MAX_WORD_TOKENS] * len(examples), GenerationRequest(stops=["\n"]), self.answer_opening(task, chat)

    def read_generation(self, decoder, task, example, prompt, text, opening):
        """The word, read from the line (an echoed cue, quotes and a full stop removed)."""
        from ..decoder import first_word_answer
        from ..model import Prediction
        from ..prompts import render_prompt

        cue = render_prompt(task, example).rstrip().splitlines()[-1]
        return Prediction(first_word_answer(text, cue), raw=text, prompt=prompt)


@hookimpl
def harness_register_kinds(register):
    register(Correction())
