"""Scoring choice: accuracy of picking the antecedent (None = none of the candidates)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from harness.core.scores import Metric, Scores
from harness.kinds.base import Scorer, wrong_type
from harness.scoring.metrics import parse_failure_metrics
from harness.scoring.stats import bootstrap_ci


def score_choice(references: Sequence[Any], predictions: Sequence[Any], seed: int = 0) -> Scores:
    """Accuracy of picking the right candidate (``None`` = none of them)."""
    stats = np.array([[r == p] for r, p in zip(references, predictions)], dtype=float).reshape(-1, 1)
    low, high = bootstrap_ci(stats, lambda sums: sums / len(stats), seed=seed)
    value = float(stats.mean()) if len(stats) else 0.0
    return Scores("accuracy", [Metric("accuracy", value, float(low[0]), float(high[0]), len(stats))])


class ChoiceScorer(Scorer):
    """Accuracy, and the parse-failure rate of candidates asked as generation."""

    def score(self, task, examples, predictions, seed=0):
        """Accuracy."""
        scores = score_choice([e.reference for e in examples], [p.output for p in predictions], seed=seed)
        scores.metrics.extend(parse_failure_metrics(predictions, seed=seed))
        return scores

    def check_reference(self, task, example):
        """The input is a dict with the passage's ``text`` and a list of ``candidates`` (each a
        dict with its ``text``); ``pronoun_offset`` counts characters of ``text`` from 0 and points
        at the pronoun, each candidate's ``offset`` (None: not known) at where the mention occurs; the gold
        answer is the index of the right candidate, an int (None: none of them)."""
        data = example.input
        if not isinstance(data, dict):
            return wrong_type("Example.input", data, "a dict with 'text', 'pronoun', 'pronoun_offset' and 'candidates'")
        candidates = data.get("candidates")
        if not isinstance(candidates, (list, tuple)) or not all(isinstance(c, dict) and isinstance(c.get("text"), str)
                                                                for c in candidates):
            return wrong_type("Example.input['candidates']", candidates, "a list of dicts, each with its 'text' (str)")
        text = data.get("text")
        if not isinstance(text, str):
            return wrong_type("Example.input['text']", text, "the passage, a str")
        pronoun, offset = data.get("pronoun"), data.get("pronoun_offset")
        if isinstance(offset, bool) or not isinstance(offset, int):
            return wrong_type("Example.input['pronoun_offset']", offset, "the pronoun's character offset into 'text' (int)")
        if not isinstance(pronoun, str) or text[offset:offset + len(pronoun)] != pronoun:
            return (f"Example.input['pronoun_offset'] is {offset}, where 'text' reads "
                    f"{text[offset:offset + len(pronoun or '')]!r}, not the pronoun {pronoun!r} "
                    "(offsets count characters of 'text' from 0)")
        for i, candidate in enumerate(candidates):
            at = candidate.get("offset")
            if at is not None and (isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < len(text)):
                return wrong_type(f"Example.input['candidates'][{i}]['offset']", at,
                                  f"a character offset into 'text' (int, 0 to {len(text) - 1}), or None")
        reference = example.reference
        if reference is None:
            return None
        if isinstance(reference, bool) or not isinstance(reference, int):
            return wrong_type("Example.reference", reference,
                              f"the index (int) of the right candidate, 0 to {len(candidates) - 1}, or None")
        if not 0 <= reference < len(candidates):
            return f"gold index {reference} is outside the {len(candidates)} candidates (0 to {len(candidates) - 1})"
        return None
