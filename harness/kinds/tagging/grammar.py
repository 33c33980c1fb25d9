"""What an entity-list answer may look like, for engines that hold generation to a grammar:
a JSON schema of the whole list, a regular expression of its rest after a written ``[``
(vLLM's structured outputs), and the same as GBNF (llama.cpp's servers)."""
from __future__ import annotations

import json
import re
from typing import Any, Sequence


def entity_list_schema(types: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of an entity-list answer: ``[{"text": ..., "type": one of types}]``.

    Engines with structured outputs (vLLM) hold generation to it, so every answer parses;
    grounding still decides whether each listed text is in the sentence.
    """
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "type": {"type": "string", "enum": list(types)}},
            "required": ["text", "type"],
            "additionalProperties": False,
        },
    }


def entity_list_continuation_regex(types: Sequence[str]) -> str:
    """A regular expression for the rest of an entity list after its opening ``[``: items
    ``{"text": "...", "type": one of types}`` separated by commas, then ``]`` (single optional
    spaces only, so a constrained model cannot pad with whitespace until its budget runs out).

    It describes the same lists as :func:`entity_list_schema` but lets the prompt write the
    ``[`` for the model, as free generation does.
    """
    text = r'"(?:[^"\\\n]|\\.)*"'
    kinds = "|".join(re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", t) for t in types)
    item = r'\{ ?"text": ?' + text + r', ?"type": ?"(?:' + kinds + r')" ?\}'
    return r" ?(?:" + item + r"(?:, ?" + item + r")*)? ?\]"


def entity_list_gbnf(types: Sequence[str], *, opened: bool) -> str:
    """A GBNF grammar of the entity list ``[{"text": "...", "type": "T"}, ...]`` (``opened``:
    the ``[`` is already written, the grammar covers the rest)."""
    kinds = " | ".join(json.dumps(json.dumps(t)) for t in types)
    head = 'root ::= ws (items)? "]"' if opened else 'root ::= "[" ws (items)? "]"'
    return "\n".join([
        head,
        'items ::= item ("," ws item)*',
        'item ::= "{" ws "\\"text\\"" ws ":" ws string "," ws "\\"type\\"" ws ":" ws kind ws "}" ws',
        f"kind ::= {kinds}",
        'string ::= "\\"" ([^"\\\\\\x7F\\x00-\\x1F] | "\\\\" ["\\\\/bfnrt])* "\\""',
        'ws ::= [ ]?',
    ])
