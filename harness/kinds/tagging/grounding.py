"""Turn a generated entity list back into IOB2 tags over the input tokens.

A decoder answers NER with JSON (``[{"text": "EU", "type": "ORG"}, ...]``; ``["EU", "ORG"]``
pairs are accepted too). Each listed entity is placed on a span of the sentence's tokens:

1. left to right: the search starts after the previous placed entity and wraps around to
   the start, so an entity listed twice lands on its first and second occurrences;
2. case-sensitive first (the tokens joined by spaces equal the text), then relaxed (case
   and spacing ignored: "u.s" matches ``U.S``, "Smith's" matches ``Smith 's``);
3. never over tokens already given to another entity.

An entity that cannot be placed (not in the text, an unknown type, or only overlapping
spans left) is *ungroundable*. An answer that is not a JSON list is a *parse failure* (all
tokens tagged O); so is a list holding an item that is not an entity (``[1]``, ``["EU"]``):
its entities are still placed, and the items it could not read are counted
(``malformed_items``). Both rates are reported as metrics.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class Grounded:
    """The tags for one sentence and what happened to each listed entity."""

    tags: list[str]
    parse_failed: bool = False
    listed: int = 0
    ungrounded: list[str] = field(default_factory=list)
    #: list items that are not entities (they make the answer a parse failure)
    malformed_items: int = 0

    def details(self) -> dict[str, Any]:
        """JSON-able facts kept with the prediction (the metrics are computed from these)."""
        facts = {"parse_failed": self.parse_failed, "entities_listed": self.listed, "ungrounded": self.ungrounded}
        if self.malformed_items:
            facts["malformed_items"] = self.malformed_items
        return facts


def parse_entity_list(text: str) -> tuple[list[tuple[str, str]] | None, int]:
    """The (entity text, type) pairs of a generated answer (None when it is not a JSON list),
    and how many of its items are not entities.

    The first ``[`` starts the list; anything after the matching ``]`` is ignored. An item is
    an entity when it is a ``{"text", "type"}`` object or a two-string list.
    """
    start = text.find("[")
    if start < 0:
        return None, 0
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None, 0
    if not isinstance(value, list):
        return None, 0
    entities, malformed = [], 0
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("text"), str) and isinstance(item.get("type"), str):
            entities.append((item["text"], item["type"]))
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            entities.append((item[0], item[1]))
        else:
            malformed += 1
    return entities, malformed


def parse_entities(text: str) -> list[tuple[str, str]] | None:
    """The entities of a generated answer (:func:`parse_entity_list` without the count of
    items that are not entities), or None when it is not a JSON list."""
    return parse_entity_list(text)[0]


def _relaxed(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _spans(tokens: Sequence[str], target: str, relaxed: bool):
    """Every (start, end) token span whose text equals ``target`` (exactly, or relaxed)."""
    if relaxed:
        target = _relaxed(target)
        for start in range(len(tokens)):
            joined = ""
            for end in range(start, len(tokens)):
                joined += _relaxed(tokens[end])
                if joined == target:
                    yield start, end + 1
                if len(joined) >= len(target):
                    break
    else:
        width = len(target.split())
        for start in range(len(tokens) - width + 1):
            if " ".join(tokens[start : start + width]) == target:
                yield start, start + width


def ground_entities(tokens: Sequence[str], entities: Sequence[tuple[str, str]] | None, types: Sequence[str],
                    malformed_items: int = 0) -> Grounded:
    """IOB2 tags for ``tokens`` from listed ``entities`` (None: the answer did not parse;
    ``malformed_items``: the list also held that many items that are not entities, which makes
    it a parse failure whose entities are still placed)."""
    tags = ["O"] * len(tokens)
    if entities is None:
        return Grounded(tags, parse_failed=True)
    result = Grounded(tags, parse_failed=malformed_items > 0, listed=len(entities), malformed_items=malformed_items)
    taken = [False] * len(tokens)
    cursor = 0
    for text, entity_type in entities:
        span = None
        if entity_type in types and text.strip():
            for relaxed in (False, True):
                free = [s for s in _spans(tokens, text.strip(), relaxed) if not any(taken[s[0] : s[1]])]
                # Left to right: the first free span after the previous entity, else the first one before it.
                span = next((s for s in free if s[0] >= cursor), free[0] if free else None)
                if span:
                    break
        if span is None:
            result.ungrounded.append(text)
            continue
        start, end = span
        for i in range(start, end):
            taken[i] = True
            tags[i] = ("B-" if i == start else "I-") + entity_type
        cursor = end
    return result
