"""The example explorer's data: every example of a task column with the gold answer and each
model's, written as plain JavaScript files beside the page (they load from disk, without a
server, and keep each file small)."""
from __future__ import annotations

import json
from typing import Any

from harness.kinds import Kind
from harness.report.columns import Column, Loaded

#: largest data file the explorer writes (bytes); more rows go to further files
CHUNK_BYTES = 1_500_000
#: the longest text shown for one answer or input (characters); the rest is counted, not shown
MAX_SHOWN_CHARS = 2_000


def clipped(value: Any, limit: int = MAX_SHOWN_CHARS) -> Any:
    """``value`` with every string in it (in dicts and lists too) cut to ``limit`` characters
    and the cut said (``… (N more characters)``): a page shows an answer, never megabytes of one."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}… ({len(value) - limit:,} more characters)"
    if isinstance(value, dict):
        return {k: clipped(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clipped(v, limit) for v in value]
    return value


def explorer_data(col: Column, kind: Kind, loaded: dict[int, Loaded]) -> dict[str, Any]:
    """Rows (one per example any model answered) and the facets they can be filtered by.

    A row is ``[id, shown, facets, answers]``: ``shown`` the input and gold answer as the
    kind shows them (None where the dataset's text may not be republished), ``answers`` one
    ``[right, answer]`` per model (``right`` None where the model did not answer the example;
    ``answer`` None where the text may not be shown).
    """
    runs = [r for r in col.runs if r.id in loaded]
    base: list[Any] = []
    answers: dict[str, list[Any]] = {}
    facet_values: dict[str, set[str]] = {}
    for m, run in enumerate(runs):
        data = loaded[run.id]
        for example, prediction, right in zip(data.examples, data.predictions, data.correct):
            if example.id not in answers:
                facets = kind.presenter.facets(example.input, example.reference, example.meta or {})
                for name, values in facets.items():
                    facet_values.setdefault(name, set()).update(values)
                shown = None
                if col.text_shown:
                    shown = kind.presenter.explore(example.input, example.reference, example.reference, None, None)
                    shown = {k: v for k, v in shown.items() if k in ("text", "gold", "tokens", "gold_spans")}
                base.append([example.id, clipped(shown), facets])
                answers[example.id] = [[None, None] for _ in runs]
            answer = None
            if col.text_shown:
                view = kind.presenter.explore(example.input, example.reference, prediction.output, prediction.raw, prediction.details)
                answer = {"spans": view["spans"], "answer": view.get("answer")} if "spans" in view else view.get("answer")
            answers[example.id][m] = [1 if right else 0, clipped(answer)]
    rows = [[*row, answers[row[0]]] for row in base]
    chunks, current, size = [], [], 0
    for row in rows:
        encoded = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        if current and size + len(encoded) > CHUNK_BYTES:
            chunks.append(current)
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        chunks.append(current)
    stem = col.explorer_page.removesuffix(".html")
    files = {f"{stem}-data-{i + 1}.js": "harnessExplorer.push([" + ",".join(chunk) + "]);\n" for i, chunk in enumerate(chunks)}
    return {
        "models": [r.display for r in runs],
        "facets": {name: sorted(values) for name, values in sorted(facet_values.items())},
        "files": files,
        "count": len(rows),
    }
