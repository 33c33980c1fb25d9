"""Second offline baselines for NER and sentiment, so the default run compares two models on
each task: a capitalisation heuristic for NER and TextBlob's pattern lexicon for sentiment."""
from __future__ import annotations

from importlib.metadata import version

from harness import Model, Prediction, hookimpl
from harness import spans_to_bio
from plugins.polarity import PolarityBaseline

#: the entity type capitalised spans are given, per task label set (the person type: the most
#: frequent type of CoNLL-2003 test and WNUT-17 test)
PERSON_TYPES = {frozenset({"PER", "ORG", "LOC", "MISC"}): "PER",
                frozenset({"person", "location", "corporation", "group", "product", "creative-work"}): "person"}


def capitalised_spans(tokens: list[str]) -> list[tuple[int, int]]:
    """(start, end-exclusive) of each maximal run of capitalised words, leaving out a
    sentence's first word where it starts a run of one (it is capitalised by position)."""
    spans, start = [], None
    for i, token in enumerate(tokens + [""]):
        capital = token[:1].isupper() and any(c.islower() for c in token)  # "Paris", not "USA" or "A"
        if capital and start is None:
            start = i
        elif not capital and start is not None:
            if not (start == 0 and i == 1):
                spans.append((start, i))
            start = None
    return spans


class CapitalisedSpans(Model):
    """The lower bound of NER: every run of capitalised words is a person."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "capitalised-spans"
    licence = "project code"
    description = "NER lower bound: each run of capitalised words (not a lone sentence-initial one) tagged as a person"
    kinds = frozenset({"tagging"})
    baseline = True
    batch_invariant = True

    def supports(self, task):
        """Tagging tasks with a person type."""
        reason = super().supports(task)
        if reason is None and frozenset(task.labels) not in PERSON_TYPES:
            return f"no person type among entity types {', '.join(task.labels)}"
        return reason

    def predict(self, task, examples, *, batch_size=32):
        """Tag each sentence's capitalised runs as the task's person type."""
        kind = PERSON_TYPES[frozenset(task.labels)]
        return [Prediction(spans_to_bio(len(e.input), [(s, t, kind) for s, t in capitalised_spans(list(e.input))]))
                for e in examples]


class TextBlobSentiment(PolarityBaseline):
    """TextBlob's default analyser (the pattern lexicon): polarity >= 0 is positive; on a task
    with a neutral label, polarity 0 (no sentiment word) is neutral, or ``-o neutral=`` a band.
    (The plugin example ``examples/harness-textblob`` registers ``textblob-sentiment``, a
    third-party take on the same lexicon; this built-in keeps another name.)"""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "textblob-polarity"
    licence = "MIT (TextBlob)"
    description = "TextBlob pattern-lexicon polarity, >= 0 -> positive (neutral: polarity 0)"

    def identity(self):
        """Name plus the TextBlob version (its lexicon ships with it)."""
        return {**super().identity(), "textblob": version("textblob"), "threshold": 0.0}

    def polarity(self, text):
        """TextBlob's polarity."""
        from textblob import TextBlob

        return TextBlob(text).sentiment.polarity


@hookimpl
def harness_register_models(register):
    register(CapitalisedSpans())
    register(TextBlobSentiment())
