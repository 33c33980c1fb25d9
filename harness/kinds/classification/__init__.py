"""Kind ``classification``: text -> one label from the task's closed set (SST-2)."""
from __future__ import annotations

from harness.kinds.base import FinetuneHead, Kind
from harness.kinds.classification.decoding import ClassificationDecoding
from harness.kinds.classification.display import ClassificationPresenter
from harness.kinds.classification.noise import TextNoise
from harness.kinds.classification.scoring import ClassificationScorer
from harness.plugins.hookspecs import hookimpl

CLASSIFICATION = Kind(
    "classification", "text -> one label from a closed set",
    scorer=ClassificationScorer(), presenter=ClassificationPresenter(), noise=TextNoise(),
    decoding=ClassificationDecoding(), finetune=FinetuneHead("sequence", "accuracy"), labels_needed="class labels",
    answers_quote_text=False, hub_task_type="text-classification",
)


@hookimpl
def harness_register_kinds(register):
    register(CLASSIFICATION)
