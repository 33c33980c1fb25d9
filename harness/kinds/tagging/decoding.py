"""How decoder LMs answer tagging: they list the entities as JSON (free, or held to the
engine's grammar), and each listed entity is grounded back onto the tokens."""
from __future__ import annotations

import json
from typing import Sequence

import harness.kinds.tagging.grounding as grounding
from harness.core.example import Prediction
from harness.core.requests import GenerationRequest
from harness.kinds.base import DecoderAdapter
from harness.kinds.tagging.grammar import entity_list_continuation_regex, entity_list_gbnf, entity_list_schema
from harness.kinds.tagging.scoring import entity_spans

#: An entity list may take 16 + 6 tokens per input token, up to this.
MAX_ENTITY_TOKENS = 256


def entity_list(tokens: Sequence[str], tags: Sequence[str]) -> list[dict[str, str]]:
    """The entities of an IOB2 tagging as ``[{"text": ..., "type": ...}]``, in order."""
    return [{"text": " ".join(tokens[start : end + 1]), "type": kind} for kind, start, end in entity_spans(list(tags))]


class TaggingDecoding(DecoderAdapter):
    """A JSON entity list, generated."""

    method = "generation"

    def gold_answer(self, task, example):
        """The gold entities as the JSON list decoders write."""
        return " " + json.dumps(entity_list(example.input, example.reference), ensure_ascii=False)

    def constraint(self, task, form):
        """The entity list over the task's types: a JSON schema of the whole list, or the rest of
        it after a written ``[`` as a regular expression or a llama.cpp GBNF grammar."""
        if form == "json":
            return {"json": entity_list_schema(task.labels)}
        if form == "regex":
            return {"regex": entity_list_continuation_regex(task.labels)}
        if form == "gbnf":
            return {"gbnf": entity_list_gbnf(task.labels, opened=True)}
        return None

    def settings(self, decoder, task):
        """What an engine holds answers to (how they are read needs no key: decoders cache
        engine outputs per request and read answers afresh on every run). The key names the
        language answers are held to, not its syntax for one engine: the schema of a whole
        list, or the continuation's regular expression with the types (a GBNF grammar is
        written from the same types and describes the same lists)."""
        constraint = decoder.constraint(task)
        if constraint is None:
            return {}
        if "json" in constraint:
            return {"entity_constraint": constraint}
        return {"entity_constraint": {"regex": entity_list_continuation_regex(task.labels), "types": list(task.labels)}}

    def generation(self, decoder, task, examples, chat):
        """A JSON entity list: free (the ``[`` written for the model, stopped at ``]``) or held
        to the engine's constraint."""
        constraint = decoder.constraint(task)
        opening = "" if constraint is not None and "json" in constraint else self.answer_opening(task, chat)
        budget = [min(MAX_ENTITY_TOKENS, 16 + 6 * len(example.input)) for example in examples]
        if constraint is not None:  # the grammar ends the list; no stop strings
            return budget, GenerationRequest(structured=constraint), opening
        return budget, GenerationRequest(stops=["]"] if chat else ["]", "\n"]), opening  # a plain answer is one line

    def read_generation(self, task, example, prompt, text, opening):
        """The entity list, grounded back onto the tokens."""
        answer = opening.lstrip() + text
        if opening and not text.rstrip().endswith("]"):
            answer += "]"  # generation stopped at (and dropped) the closing bracket
        entities, malformed = grounding.parse_entity_list(answer)
        grounded = grounding.ground_entities(example.input, entities, task.labels, malformed)
        return Prediction(grounded.tags, raw=answer, prompt=prompt, details=grounded.details())
