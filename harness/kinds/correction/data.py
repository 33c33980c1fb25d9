"""Building a correction task's examples: the misspellings and, as clean inputs, their corrections."""
from __future__ import annotations

from typing import Iterable

from harness.core.example import Example
from harness.kinds.correction.scoring import normalise_text


def correction_examples(pairs: Iterable[tuple[str, list[str], int]], split: str) -> list[Example]:
    """Examples of a correction task from (misspelling, corrections, line) triples: each
    misspelling (one that equals a correction once case and spacing are ignored is left out),
    and each correction not seen before also as a *clean* example, its own correction
    (``meta["clean"]``), which ``over_correction_rate`` is computed over: a model that changes
    a correct word over-corrects. Ids are ``{split}-{position}``."""
    examples: list[Example] = []
    seen_clean: set[str] = set()
    for wrong, corrections, line in pairs:
        if normalise_text(wrong) in {normalise_text(c) for c in corrections}:
            continue  # not a misspelling once case and spacing are ignored
        examples.append(Example(f"{split}-{len(examples)}", wrong, list(corrections), {"line": line}))
        for correct in corrections:
            if normalise_text(correct) not in seen_clean:
                seen_clean.add(normalise_text(correct))
                examples.append(Example(f"{split}-{len(examples)}", correct, [correct], {"line": line, "clean": True}))
    return examples
