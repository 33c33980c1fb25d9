"""Noise on tagging inputs: each token on its own, so the token count and the gold tags stay aligned."""
from __future__ import annotations

from harness.core.example import Example
from harness.data.perturb import perturb_words
from harness.kinds.base import Noise


class TokenNoise(Noise):
    """Any token may be perturbed."""

    def perturb(self, task, example, noise):
        """Each token perturbed on its own."""
        return Example(example.id, perturb_words(list(example.input), noise), example.reference, example.meta)
