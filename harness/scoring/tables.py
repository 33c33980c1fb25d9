"""Error analyses the report shows per task kind: confusion matrices and per-class reports,
NER entity errors by category, spelling accuracy by edit distance."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


