"""Kind ``correction``: a misspelt word -> its correction (any listed correction counts)."""
from __future__ import annotations

from harness.kinds.base import Kind
from harness.kinds.correction.data import correction_examples
from harness.kinds.correction.decoding import CorrectionDecoding
from harness.kinds.correction.display import CorrectionPresenter
from harness.kinds.correction.noise import NoNoise
from harness.kinds.correction.scoring import CorrectionScorer
from harness.plugins.hookspecs import hookimpl

CORRECTION = Kind(
    "correction", "misspelt text -> corrected text",
    scorer=CorrectionScorer(), presenter=CorrectionPresenter(), noise=NoNoise(), decoding=CorrectionDecoding(),
    hub_task_type="text2text-generation",
)

__all__ = ["CORRECTION", "correction_examples"]


@hookimpl
def harness_register_kinds(register):
    register(CORRECTION)
