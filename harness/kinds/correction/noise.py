"""Noise and correction: refused (the inputs are misspellings already)."""
from __future__ import annotations

from harness.kinds.base import Noise


class NoNoise(Noise):
    """Noise would change which correction is right."""

    def refused(self, task):
        """Spelling inputs are misspellings already: noise would change what the right answer is."""
        return (f"Task {task.name!r} is a spelling-correction task: its inputs are misspellings already, and noise "
                "would change which correction is right; --perturb applies to NER, sentiment and coreference")
