"""A new task kind, ``token-tags``: tokens -> one tag per token, scored by token accuracy.

Everything the kind needs lives in this package: its parts, a task and a model of it, and
the three registrations. harness itself is not edited.
"""
from __future__ import annotations

from harness import Kind, hookimpl

from .decoding import TokenTagsDecoding
from .display import TokenTagsPresenter
from .model import SuffixTagger
from .noise import TokenNoise
from .scoring import TokenTagsScorer
from .task import ToyPOS

TOKEN_TAGS = Kind(
    "token-tags", "tokens -> one tag per token (token accuracy)",
    scorer=TokenTagsScorer(), presenter=TokenTagsPresenter(), noise=TokenNoise(), decoding=TokenTagsDecoding(),
    labels_needed="tags",
)


@hookimpl
def harness_register_kinds(register):
    register(TOKEN_TAGS)


@hookimpl
def harness_register_tasks(register):
    register(ToyPOS())


@hookimpl
def harness_register_models(register):
    register(SuffixTagger())
