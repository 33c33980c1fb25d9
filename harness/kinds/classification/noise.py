"""Noise on classification inputs: any word of the text may change; the label stays."""
from __future__ import annotations

from harness.core.example import Example
from harness.data.perturb import perturb_text
from harness.kinds.base import Noise


class TextNoise(Noise):
    """Every word of the text (its spacing kept)."""

    def perturb(self, task, example, noise):
        """The perturbed text, the same label."""
        return Example(example.id, perturb_text(str(example.input), noise)[0], example.reference, example.meta)
