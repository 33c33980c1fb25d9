"""How tagging examples show in the report: the sentence with gold and predicted entities,
entity errors by category (nervaluate's), and the gold entity types as facets."""
from __future__ import annotations

from typing import Sequence

from harness.kinds.base import Presenter
from harness.kinds.tagging.scoring import entity_spans, forget_spans, spans_of
from harness.scoring.tables import Table

#: the entity error categories (SemEval-2013 task 9.1's, as nervaluate counts them)
ENTITY_CATEGORIES = ("correct", "wrong type", "wrong boundary", "wrong type and boundary", "missed", "spurious")


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def entity_error_counts(gold: Sequence[tuple[str, int, int]], predicted: Sequence[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """(category, entity type) of every predicted and missed entity of one sentence.

    Each predicted entity, in order, takes the first unmatched gold entity with its type and
    boundaries (correct), else the first unmatched one it overlaps: the same boundaries make
    a wrong type, the same type a wrong boundary, neither both. One that overlaps none is
    spurious; gold entities left unmatched are missed. The type is the gold entity's (the
    predicted one's for spurious entities). This is nervaluate's strict matching, its
    "incorrect" split by what differs: correct, missed and spurious are its strict counts,
    wrong type its exact scheme's extra matches, and wrong boundary plus wrong type and
    boundary its partial scheme's partial matches.
    """
    out: list[tuple[str, str]] = []
    matched: set[int] = set()
    for entity in predicted:
        exact = next((i for i, g in enumerate(gold) if i not in matched and g == entity), None)
        if exact is not None:
            matched.add(exact)
            out.append(("correct", entity[0]))
            continue
        overlap = next((i for i, g in enumerate(gold) if i not in matched and _overlaps(entity, g)), None)
        if overlap is None:
            out.append(("spurious", entity[0]))
            continue
        matched.add(overlap)
        g = gold[overlap]
        same_span, same_type = g[1:] == entity[1:], g[0] == entity[0]
        out.append(("wrong type" if same_span else "wrong boundary" if same_type else "wrong type and boundary", g[0]))
    out.extend(("missed", g[0]) for i, g in enumerate(gold) if i not in matched)
    return out


def entity_error_table(references: Sequence[Sequence[str]], outputs: Sequence[Sequence[str]]) -> Table:
    """Entity errors by category, overall and per type."""
    counts: dict[str, dict[str, int]] = {}
    for reference, output in zip(references, outputs):
        for category, entity_type in entity_error_counts(spans_of(reference), spans_of(output or [])):
            for row in ("all types", entity_type):
                counts.setdefault(row, dict.fromkeys(ENTITY_CATEGORIES, 0))[category] += 1
    order = ["all types", *sorted(t for t in counts if t != "all types")]
    rows = [[row, *[counts[row][c] for c in ENTITY_CATEGORIES]] for row in order if row in counts]
    return Table("Entity errors by category", ["type", *ENTITY_CATEGORIES], rows,
                 "Each predicted entity matched to a gold one: exact, or overlapping with the wrong type, wrong "
                 "boundaries or both; gold entities no prediction overlaps are missed, predictions that overlap "
                 "no gold entity are spurious (nervaluate's categories).", data={"counts": counts})


# -- correction ------------------------------------------------------------------------------


def _entities(tags, tokens) -> list[str]:
    return [f"{t}: {' '.join(tokens[s : e + 1])}" for t, s, e in entity_spans(list(tags))]


def _unplaced(raw) -> str:
    """A prediction with no entities: "(none)", or the model's own answer when it listed
    something that could not be read or placed."""
    text = (raw or "").strip()
    return "(none)" if text in ("", "[]", "[ ]") else f"(unparsed) {text}"


class TaggingPresenter(Presenter):
    """Sentences as tokens with entity spans."""

    def describe(self, data, reference, output, raw):
        """The sentence, and the gold and predicted entities."""
        if not isinstance(output, list):
            return super().describe(data, reference, output, raw)
        return {
            "input": " ".join(data),
            "reference": "; ".join(_entities(reference, data)) or "(none)",
            "prediction": "; ".join(_entities(output, data)) or _unplaced(raw),
        }

    def analyses(self, task, examples, predictions, correct):
        """Entity errors by category (nervaluate's), overall and per type."""
        return [entity_error_table([e.reference for e in examples], [p.output for p in predictions])]

    def explore(self, data, reference, output, raw, details):
        """The tokens, and gold and predicted entities as (type, first token, last token)."""
        spans = spans_of(output) if isinstance(output, list) else ()
        shown = {"tokens": data, "gold_spans": [list(s) for s in spans_of(reference)],
                 "spans": [list(s) for s in spans]}
        if not spans and (details or {}).get("parse_failed"):
            shown["answer"] = _unplaced(raw)
        return shown

    def facets(self, data, reference, meta):
        """The gold entity types."""
        return {"type": sorted({t for t, _, _ in spans_of(reference)}) or ["(no entities)"]}

    def forget(self):
        """Empty the memory of tag lists' entity spans."""
        forget_spans()
