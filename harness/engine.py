"""The public API for engine plugins: what a decoder backend (a model plugin that runs a
language model, in process or behind a server) builds on, beyond :mod:`harness` itself.

Built-in engines (``hf-causal:``, ``llamacpp:``, ``vllm:``, ``openai:`` in ``plugins/``) import
only this module and :mod:`harness`, which an import-linter contract checks; each name is in
docs/plugins.md's reference ("Reference: what an engine plugin uses").
"""
from harness.core.distributions import installed_version
from harness.core.options import number_in
from harness.core.requests import Formatter, GenerationRequest, Request
from harness.core.secrets import redact, register_secret, register_url
from harness.data.hub import load_config
from harness.data.hub import revision as hub_revision
from harness.engines.decoder import (
    Capabilities,
    DecoderLM,
    PartialFailure,
    TokenizedDecoderLM,
    common_prefix_length,
    cut_at_stops,
    reusable_prefix_length,
)
from harness.engines.http import AnswerTooLarge, deadline_client
from harness.engines.packaged import PACKAGED, PackagedWeights, cache_dir, gguf_parameter_count, packaged_weights
from harness.errors import HarnessError
from harness.kinds.prompting import chat_messages

__all__ = [
    "PACKAGED",
    "AnswerTooLarge",
    "Capabilities",
    "DecoderLM",
    "Formatter",
    "GenerationRequest",
    "HarnessError",
    "PackagedWeights",
    "PartialFailure",
    "Request",
    "TokenizedDecoderLM",
    "cache_dir",
    "chat_messages",
    "common_prefix_length",
    "cut_at_stops",
    "deadline_client",
    "gguf_parameter_count",
    "hub_revision",
    "installed_version",
    "load_config",
    "number_in",
    "packaged_weights",
    "redact",
    "register_secret",
    "register_url",
    "reusable_prefix_length",
]
