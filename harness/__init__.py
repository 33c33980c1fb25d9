"""harness: evaluate encoders and LLMs on low-abstraction NLP tasks.

The public API for plugin authors is re-exported here.
"""
from .errors import DataError, HarnessError, PluginError, UnknownNameError
from .hookspecs import hookimpl
from .model import Model, ModelFamily, Prediction, get_model, get_models
from .plugins import get_plugins
from .task import Example, LoadedSplit, Task, TaskGroup, get_task, get_tasks, resolve_tasks
from .textio import read_text, text_lines, tsv_rows

__all__ = [
    "DataError",
    "Example",
    "HarnessError",
    "LoadedSplit",
    "Model",
    "ModelFamily",
    "PluginError",
    "Prediction",
    "Task",
    "TaskGroup",
    "UnknownNameError",
    "get_model",
    "get_models",
    "get_plugins",
    "get_task",
    "get_tasks",
    "hookimpl",
    "read_text",
    "resolve_tasks",
    "text_lines",
    "tsv_rows",
]
