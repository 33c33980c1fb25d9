"""--perturb changes tokens one by one, so the tags stay aligned."""
from __future__ import annotations

from harness import Example, Noise


class TokenNoise(Noise):
    def perturb(self, task, example, noise):
        from harness.data.perturb import perturb_words

        return Example(example.id, perturb_words(list(example.input), noise), example.reference, example.meta)
