"""Kind ``tagging``: tokens -> an IOB2 tag per token (NER). ``Task.labels`` are entity types."""
from __future__ import annotations

import json

from ..hookspecs import hookimpl
from . import FinetuneHead, Kind

#: An entity list may take 16 + 6 tokens per input token, up to this.
MAX_ENTITY_TOKENS = 256


def _entities(tags, tokens) -> list[str]:
    from ..metrics import entity_spans

    return [f"{t}: {' '.join(tokens[s : e + 1])}" for t, s, e in entity_spans(list(tags))]


def _unplaced(raw) -> str:
    """A prediction with no entities: "(none)", or the model's own answer when it listed
    something that could not be read or placed."""
    text = (raw or "").strip()
    return "(none)" if text in ("", "[]", "[ ]") else f"(unparsed) {text}"


class Tagging(Kind):
    name = "tagging"
    description = "tokens -> IOB2 tags (entity spans)"
    labels_needed = "entity types"
    decoder_method = "generation"
    decoders = True
    finetune = FinetuneHead("token", "f1")

    def score(self, task, examples, predictions, seed=0):
        """Entity-level P/R/F1 (seqeval, conlleval-compatible), per type, and the grounding rates of decoders."""
        from ..metrics import grounding_metrics, score_tagging

        scores = score_tagging([e.reference for e in examples], [p.output for p in predictions], [e.id for e in examples],
                               seed=seed)
        scores.metrics.extend(grounding_metrics(predictions, seed=seed))
        return scores

    def check_output(self, task, example, output):
        """One IOB2 tag per token."""
        if not isinstance(output, (list, tuple)) or len(output) != len(example.input):
            got = f"{len(output)} tags" if isinstance(output, (list, tuple)) else f"a {type(output).__name__}"
            return f"output is {got}, expected a list of {len(example.input)} tags (one per token)"
        return None

    def describe(self, data, reference, output, raw):
        """The sentence, and the gold and predicted entities."""
        if not isinstance(output, list):
            return super().describe(data, reference, output, raw)
        return {
            "input": " ".join(data),
            "reference": "; ".join(_entities(reference, data)) or "(none)",
            "prediction": "; ".join(_entities(output, data)) or _unplaced(raw),
        }

    def paired_statistics(self, task, examples, predictions):
        """Per sentence: true positives, predicted and gold entities (micro F1 from their sums)."""
        import numpy as np

        from ..compare import PairedStatistics
        from ..metrics import _f1, spans_of

        rows = []
        for example, prediction in zip(examples, predictions):
            gold, predicted = set(spans_of(example.reference)), set(spans_of(prediction.output))
            rows.append((len(gold & predicted), len(predicted), len(gold)))
        stats = np.array(rows, dtype=float).reshape(-1, 3)
        return PairedStatistics([e.id for e in examples], stats, lambda s: _f1(s[..., 0], s[..., 1], s[..., 2]))

    def analyses(self, task, examples, predictions):
        """Entity errors by category (nervaluate's), overall and per type."""
        from ..analysis import entity_error_table

        return [entity_error_table([e.reference for e in examples], [p.output for p in predictions])]

    def explore(self, data, reference, output, raw, details):
        """The tokens, and gold and predicted entities as (type, first token, last token)."""
        from ..metrics import spans_of

        spans = spans_of(output) if isinstance(output, list) else ()
        shown = {"tokens": data, "gold_spans": [list(s) for s in spans_of(reference)],
                 "spans": [list(s) for s in spans]}
        if not spans and (details or {}).get("parse_failed"):
            shown["answer"] = _unplaced(raw)
        return shown

    def perturbation_refused(self, task):
        """Any token may be perturbed."""
        return None

    def perturb(self, task, example, noise):
        """Each token on its own: the token count, and so the gold tags, stay aligned."""
        from ..perturb import perturb_words
        from ..task import Example

        return Example(example.id, perturb_words(list(example.input), noise), example.reference, example.meta)

    def facets(self, data, reference, meta):
        """The gold entity types."""
        from ..metrics import spans_of

        return {"type": sorted({t for t, _, _ in spans_of(reference)}) or ["(no entities)"]}

    def gold_answer(self, task, example):
        """The gold entities as the JSON list decoders write."""
        from ..prompts import entity_list

        return " " + json.dumps(entity_list(example.input, example.reference), ensure_ascii=False)

    def decoder_settings(self, decoder, task):
        """What an engine holds answers to (how they are read needs no key: decoders cache
        engine outputs per request and read answers afresh on every run)."""
        settings = {}
        constraint = decoder.entity_constraint(task)
        if constraint is not None:
            settings["entity_constraint"] = constraint
        return settings

    def generation(self, decoder, task, examples, chat):
        """A JSON entity list: free (the ``[`` written for the model, stopped at ``]``) or held
        to the engine's constraint."""
        from ..decoder import GenerationRequest

        constraint = decoder.entity_constraint(task)
        opening = "" if constraint is not None and "json" in constraint else self.answer_opening(task, chat)
        budget = [min(MAX_ENTITY_TOKENS, 16 + 6 * len(example.input)) for example in examples]
        if constraint is not None:  # the grammar ends the list; no stop strings
            return budget, GenerationRequest(structured=constraint), opening
        return budget, GenerationRequest(stops=["]"] if chat else ["]", "\n"]), opening  # a plain answer is one line

    def read_generation(self, decoder, task, example, prompt, text, opening):
        """The entity list, grounded back onto the tokens."""
        from ..grounding import ground_entities, parse_entity_list
        from ..model import Prediction

        answer = opening.lstrip() + text
        if opening and not text.rstrip().endswith("]"):
            answer += "]"  # generation stopped at (and dropped) the closing bracket
        entities, malformed = parse_entity_list(answer)
        grounded = ground_entities(example.input, entities, task.labels, malformed)
        return Prediction(grounded.tags, raw=answer, prompt=prompt, details=grounded.details())

    def finetune_labels(self, task):
        """O, then B-/I- per entity type."""
        return ["O"] + [f"{prefix}-{t}" for t in task.labels for prefix in "BI"]


@hookimpl
def harness_register_kinds(register):
    register(Tagging())
