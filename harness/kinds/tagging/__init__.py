"""Kind ``tagging``: tokens -> an IOB2 tag per token (NER). ``Task.labels`` are entity types."""
from __future__ import annotations

from harness.kinds.base import FinetuneHead, Kind
from harness.kinds.tagging.decoding import TaggingDecoding
from harness.kinds.tagging.display import TaggingPresenter
from harness.kinds.tagging.noise import TokenNoise
from harness.kinds.tagging.scoring import TaggingScorer
from harness.plugins.hookspecs import hookimpl

TAGGING = Kind(
    "tagging", "tokens -> IOB2 tags (entity spans)",
    scorer=TaggingScorer(), presenter=TaggingPresenter(), noise=TokenNoise(), decoding=TaggingDecoding(),
    finetune=FinetuneHead("token", "f1"), labels_needed="entity types",
    answers_quote_text=False, hub_task_type="token-classification",
)


@hookimpl
def harness_register_kinds(register):
    register(TAGGING)
