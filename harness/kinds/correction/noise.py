"""Noise and correction: refused (the inputs are misspellings already)."""
from __future__ import annotations

from harness.kinds import get_kinds
from harness.kinds.base import Noise


def kinds_taking_noise() -> list[str]:
    """The registered kinds whose noise part accepts every task of theirs."""
    return sorted({reg.obj.name for reg in get_kinds().values()
                   if reg.obj.noise is not None and type(reg.obj.noise).refused is Noise.refused})


class NoNoise(Noise):
    """Noise would change which correction is right."""

    def refused(self, task):
        """Spelling inputs are misspellings already: noise would change what the right answer is."""
        return (f"Task {task.name!r} is a spelling-correction task: its inputs are misspellings already, and noise "
                f"would change which correction is right; --perturb applies to tasks of kind "
                f"{', '.join(kinds_taking_noise())}")
