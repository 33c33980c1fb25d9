"""Error analyses the report shows per task kind: confusion matrices and per-class reports,
NER entity errors by category, spelling accuracy by edit distance."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

#: the entity error categories (SemEval-2013 task 9.1's, as nervaluate counts them)
ENTITY_CATEGORIES = ("correct", "wrong type", "wrong boundary", "wrong type and boundary", "missed", "spurious")


@dataclass
class Table:
    """One analysis of one model's answers: a titled table of plain cells."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    #: the first ``header_columns`` cells of each row are headings (a confusion matrix's gold label)
    header_columns: int = 1
    #: rows as dicts, for tests and exports
    data: dict[str, Any] = field(default_factory=dict)


# -- classification -------------------------------------------------------------------------

NO_LABEL = "(no answer)"


def classification_tables(labels: Sequence[str], references: Sequence[Any], outputs: Sequence[Any]) -> list[Table]:
    """The confusion matrix (gold rows, predicted columns; answers outside the labels in a
    column of their own) and scikit-learn's classification report."""
    from collections import Counter

    from sklearn.metrics import classification_report

    labels = [str(label) for label in labels]
    gold = [str(r) for r in references]
    predicted = [str(o) if o is not None and str(o) in labels else NO_LABEL for o in outputs]
    columns = labels + ([NO_LABEL] if NO_LABEL in predicted else [])
    pairs = Counter(zip(gold, predicted))
    matrix = [[pairs[g, p] for p in columns] for g in columns]
    confusion = Table("Confusion matrix", ["gold \\ predicted", *columns],
                      [[label, *matrix[i]] for i, label in enumerate(columns) if label != NO_LABEL],
                      "Rows: the gold label; columns: the model's answer.", data={"labels": columns, "matrix": matrix})
    code = {label: i for i, label in enumerate(columns)}  # integer labels: sklearn checks them much faster than strings
    report = classification_report([code[g] for g in gold], [code[p] for p in predicted], labels=list(range(len(labels))),
                                   target_names=labels, output_dict=True, zero_division=0)
    rows = [[label, report[label]["precision"], report[label]["recall"], report[label]["f1-score"], int(report[label]["support"])]
            for label in labels]
    for average in ("macro avg", "weighted avg"):
        if average in report:
            r = report[average]
            rows.append([average, r["precision"], r["recall"], r["f1-score"], int(r["support"])])
    return [confusion, Table("Per-class precision, recall and F1", ["class", "precision", "recall", "F1", "support"], rows,
                             "scikit-learn's classification_report.", data={"report": report})]


# -- tagging ---------------------------------------------------------------------------------

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
    from .metrics import spans_of

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

def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (rapidfuzz)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


def distance_bucket(misspelling: str, corrections: Sequence[str]) -> str:
    """"1", "2" or "3+": the edit distance from the misspelling to its nearest correction
    ("clean" when it is one of them)."""
    return _distance_bucket(str(misspelling), tuple(str(c) for c in corrections))


@lru_cache(maxsize=1 << 16)
def _distance_bucket(misspelling: str, corrections: tuple[str, ...]) -> str:
    from .metrics import normalise_text

    distance = min(edit_distance(normalise_text(misspelling), normalise_text(c)) for c in corrections)
    return "clean" if distance == 0 else str(distance) if distance < 3 else "3+"


@lru_cache(maxsize=1 << 16)
def is_real_word(word: str) -> bool:
    """Whether a misspelling is itself an English word (pyspellchecker's word list): a real-word error."""
    from .metrics import normalise_text

    return normalise_text(word) in _english_words()


@lru_cache(maxsize=None)
def _english_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en").word_frequency.keys())


def correction_table(inputs: Sequence[str], references: Sequence[Sequence[str]], correct: Sequence[bool]) -> Table:
    """Accuracy on misspelt words by edit distance to the correction (1, 2, 3+), and on
    real-word errors (misspellings that are English words themselves)."""
    groups: dict[str, list[bool]] = {}
    for text, refs, right in zip(inputs, references, correct):
        bucket = distance_bucket(str(text), [str(r) for r in refs])
        if bucket == "clean":
            continue
        groups.setdefault(f"edit distance {bucket}", []).append(bool(right))
        if is_real_word(str(text)):
            groups.setdefault("real-word errors", []).append(bool(right))
    order = ["edit distance 1", "edit distance 2", "edit distance 3+", "real-word errors"]
    rows = [[g, len(groups[g]), sum(groups[g]) / len(groups[g])] for g in order if g in groups]
    return Table("Accuracy by kind of misspelling", ["misspellings", "n", "accuracy"], rows,
                 "Edit distance (Levenshtein) from the misspelling to its nearest listed correction; real-word errors "
                 "are misspellings that are English words themselves (pyspellchecker's word list).",
                 data={g: {"n": len(v), "accuracy": sum(v) / len(v)} for g, v in groups.items()})
