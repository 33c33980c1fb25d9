"""harness: evaluate encoders and LLMs on low-abstraction NLP tasks.

The public API for plugin authors is re-exported here.
"""
from .errors import DataError, HarnessError, PluginError, UnknownNameError
from .hookspecs import hookimpl
from .model import Model, ModelFamily, Prediction, get_model, get_models
from .plugins import get_plugins
from .task import Example, LoadedSplit, Task, get_task, get_tasks

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
    "UnknownNameError",
    "get_model",
    "get_models",
    "get_plugins",
    "get_task",
    "get_tasks",
    "hookimpl",
]
