"""harness: evaluate encoders and LLMs on low-abstraction NLP tasks.

Everything a plugin author needs is importable from here: tasks, models and kinds with
their parts, the numbers a scorer returns, the helpers the built-in tasks read and score
with, and the decoder engine base; what an engine plugin needs beyond it is in
:mod:`harness.engine`. Plugins import nothing else of harness (the built-ins in ``plugins/``
and ``tasks/`` are held to that by an import-linter contract). The layers behind these names
are described in ARCHITECTURE.md.
"""
from harness.core.example import Example, Prediction
from harness.core.model import Model, ModelFamily, Usage, get_model, get_models
from harness.core.options import Option
from harness.core.prompts import PromptVariant
from harness.core.requests import GenerationRequest, Request
from harness.core.scores import Metric, Scores
from harness.core.task import LoadedSplit, Task, TaskGroup, get_task, get_tasks, resolve_tasks, training_examples
from harness.core.textio import read_text, text_lines, tsv_rows
from harness.engines.decoder import Capabilities, DecoderLM, PartialFailure, TokenizedDecoderLM
from harness.engines.packaged import PackagedWeights
from harness.errors import DataError, HarnessError, PluginError, UnknownNameError
from harness.kinds import (
                           DecoderAdapter,
                           FinetuneHead,
                           Kind,
                           Noise,
                           Presenter,
                           Scorer,
                           get_kind,
                           get_kinds,
                           is_correct,
                           kind_of,
                           score,
)
from harness.kinds.base import PAIR_LABELS
from harness.kinds.choice.scoring import score_choice
from harness.kinds.correction.data import correction_examples
from harness.kinds.tagging.scoring import spans_to_bio
from harness.plugins.hookspecs import hookimpl
from harness.plugins.registry import get_plugins
from harness.scoring.paired import PairedStatistics, accuracy_statistics
from harness.scoring.stats import bootstrap_ci, safe_ratio
from harness.scoring.tables import Table

__all__ = [
    "Capabilities",
    "DataError",
    "DecoderAdapter",
    "DecoderLM",
    "Example",
    "FinetuneHead",
    "GenerationRequest",
    "HarnessError",
    "Kind",
    "LoadedSplit",
    "Metric",
    "Model",
    "ModelFamily",
    "Noise",
    "Option",
    "PAIR_LABELS",
    "PackagedWeights",
    "PairedStatistics",
    "PartialFailure",
    "PluginError",
    "Prediction",
    "Presenter",
    "PromptVariant",
    "Request",
    "Scorer",
    "Scores",
    "Table",
    "Task",
    "TaskGroup",
    "TokenizedDecoderLM",
    "UnknownNameError",
    "Usage",
    "accuracy_statistics",
    "bootstrap_ci",
    "correction_examples",
    "get_kind",
    "get_kinds",
    "get_model",
    "get_models",
    "get_plugins",
    "get_task",
    "get_tasks",
    "hookimpl",
    "is_correct",
    "kind_of",
    "read_text",
    "resolve_tasks",
    "safe_ratio",
    "score",
    "score_choice",
    "spans_to_bio",
    "text_lines",
    "training_examples",
    "tsv_rows",
]
