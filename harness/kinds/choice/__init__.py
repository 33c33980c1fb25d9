"""Kind ``choice``: text, a pronoun and candidate mentions -> the antecedent's index (coreference).

The input is a dict: ``text``, ``pronoun``, ``pronoun_offset``, ``candidates`` (``{"text",
"offset"}``) and ``allow_none``; the reference is the right candidate's index, or None.
"""
from __future__ import annotations

from harness.kinds.base import Kind
from harness.kinds.choice.decoding import ChoiceDecoding
from harness.kinds.choice.display import ChoicePresenter
from harness.kinds.choice.noise import ContextNoise
from harness.kinds.choice.pairs import PairHead
from harness.kinds.choice.scoring import ChoiceScorer
from harness.plugins.hookspecs import hookimpl

CHOICE = Kind(
    "choice", "text + pronoun + candidates -> the antecedent",
    scorer=ChoiceScorer(), presenter=ChoicePresenter(), noise=ContextNoise(), decoding=ChoiceDecoding(),
    finetune=PairHead(), answers_quote_text=False, hub_task_type="multiple-choice",
)


@hookimpl
def harness_register_kinds(register):
    register(CHOICE)
