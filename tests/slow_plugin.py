"""A deterministic test model that can run slowly, so a test can kill a run midway.

It tags capitalised tokens as B-PER (a real, if poor, tagger) and counts how many
examples it computed in ``$SLOW_TAGGER_COUNT`` (one line per call).
"""
from __future__ import annotations

import os
import time

from harness import Model, Prediction, hookimpl


class CapitalTagger(Model):
    name = "capital-tagger"
    description = "tags capitalised tokens as B-PER"
    kinds = frozenset({"tagging"})
    batch_invariant = True  # each sentence is tagged on its own

    def predict(self, task, examples, *, batch_size=32):
        delay = float(os.environ.get("SLOW_TAGGER_DELAY", "0"))
        predictions = []
        for example in examples:
            time.sleep(delay)
            predictions.append(Prediction(["B-PER" if t[:1].isupper() else "O" for t in example.input]))
        log = os.environ.get("SLOW_TAGGER_COUNT")
        if log:
            with open(log, "a") as handle:
                handle.write(f"{len(examples)}\n")
        return predictions


@hookimpl
def harness_register_models(register):
    register(CapitalTagger())
