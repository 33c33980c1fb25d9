"""Noise on choice inputs: every word but the pronoun and the candidate mentions, whose
offsets move with the text."""
from __future__ import annotations

from harness.core.example import Example
from harness.data.perturb import perturb_text
from harness.kinds.base import Noise


class ContextNoise(Noise):
    """The words around the pronoun and the candidates may be perturbed."""

    def perturb(self, task, example, noise):
        """The pronoun and the candidate mentions untouched, their offsets moved."""
        data = dict(example.input)
        keep = [(data["pronoun_offset"], data["pronoun_offset"] + len(data["pronoun"]))]
        keep += [(c["offset"], c["offset"] + len(c["text"])) for c in data["candidates"] if c.get("offset") is not None]
        text, moved = perturb_text(data["text"], noise, keep)
        data["text"] = text
        data["pronoun_offset"] = moved(data["pronoun_offset"])
        data["candidates"] = [{**c, "offset": None if c.get("offset") is None else moved(c["offset"])}
                              for c in data["candidates"]]
        return Example(example.id, data, example.reference, example.meta)
