"""Model base classes, predictions, and resolving a model name to a model."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .errors import HarnessError
from .plugins import Registration, collect, unknown

if TYPE_CHECKING:
    from .task import Example, Task


@dataclass
class Prediction:
    """A model's answer to one example.

    ``output`` has the task kind's shape (a label; a list of tags; a corrected string; a
    candidate index). ``scores`` holds per-label probabilities where the model has them;
    ``raw`` the model's own text; ``candidates`` a ranked list of alternatives (best first)
    for models that propose several (spelling correctors); ``prompt`` the exact text a
    language model was given; ``details`` anything else worth keeping (log-likelihoods of
    each option, how generated entities were grounded...).
    """

    output: Any
    scores: dict[str, float] | None = None
    raw: str | None = None
    candidates: list[Any] | None = None
    prompt: str | None = None
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (what the cache and store keep)."""
        data = {"output": self.output, "scores": self.scores, "raw": self.raw}
        for name in ("candidates", "prompt", "details"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        """Inverse of :meth:`to_json`."""
        return cls(data["output"], data.get("scores"), data.get("raw"), data.get("candidates"), data.get("prompt"),
                   data.get("details"))


class Model:
    """Base class for model plugins.

    Subclasses set ``name``, ``kinds`` and ``description`` and implement :meth:`predict`.
    """

    name: str = ""
    description: str = ""
    #: task kinds this model can answer
    kinds: frozenset[str] = frozenset()
    #: run when ``harness run`` gets no ``--models``: cheap, offline, always installed
    baseline: bool = False
    #: takes solved examples (``harness run --shots K``) through ``predict(..., shots=...)``
    few_shot: bool = False
    #: settings a user may change with ``harness run -o KEY=VALUE``: name -> allowed values, default first
    options: dict[str, tuple[str, ...]] = {}

    def option(self, name: str) -> str:
        """The value of one of :attr:`options` (its default unless :meth:`with_options` set it)."""
        return getattr(self, "_option_values", {}).get(name, self.options[name][0])

    def with_options(self, values: dict[str, str]) -> Model:
        """A copy of this model with some :attr:`options` set; keys it does not take are ignored.

        Raises :class:`HarnessError` for a value the option does not allow.
        """
        chosen = dict(getattr(self, "_option_values", {}))
        for name, value in values.items():
            if name in self.options:
                if value not in self.options[name]:
                    raise HarnessError(f"Model {self.name!r}: option {name} must be one of {', '.join(self.options[name])}, got {value!r}")
                chosen[name] = value
        configured = copy.copy(self)
        configured._option_values = chosen
        return configured

    def option_tags(self) -> list[str]:
        """``name=value`` for each option set away from its default (they label leaderboard rows)."""
        return [f"{name}={self.option(name)}" for name in self.options if self.option(name) != self.options[name][0]]

    def supports(self, task: Task) -> str | None:
        """None if the model can run ``task``, else the reason it cannot (shown as a skip)."""
        if task.kind not in self.kinds:
            return f"{self.name} answers {', '.join(sorted(self.kinds)) or 'no'} tasks, not {task.kind}"
        return None

    def identity(self) -> dict[str, Any]:
        """What makes predictions reproducible: part of the cache key. Include versions/revisions."""
        return {"name": self.name}

    def task_settings(self, task: Task) -> dict[str, Any]:
        """Per-task facts that change this model's predictions (e.g. the prompt it is given):
        part of the cache key, so editing a prompt never serves stale predictions."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Extra facts recorded with each run (model revision, label mapping...)."""
        return dict(self.identity())

    def predict(self, task: Task, examples: Sequence[Example], *, batch_size: int = 32) -> list[Prediction]:
        """Answer a batch of examples, one :class:`Prediction` per example, in order.

        Models with ``few_shot = True`` also take ``shots``: solved train examples to show first.
        """
        raise NotImplementedError


class ModelFamily:
    """A parametrised model: claims every name ``prefix:argument``."""

    prefix: str = ""
    argument: str = "arg"
    description: str = ""
    kinds: frozenset[str] = frozenset()

    def create(self, argument: str) -> Model:
        """Build the model for ``prefix:argument`` (cheaply: load weights in ``predict``)."""
        raise NotImplementedError


def get_models() -> dict[str, Registration]:
    """Every registered model and model family, by name (``prefix:`` for families) and alias."""
    return collect("harness_register_models", (Model, ModelFamily), "model")


def get_model(name: str) -> Model:
    """Resolve a model name (``vader``, ``hf:./my-model``) to a model; a clear error otherwise."""
    models = get_models()
    if name in models and isinstance(models[name].obj, Model):
        return models[name].obj
    prefix, sep, argument = name.partition(":")
    family = models.get(prefix + ":")
    if sep and argument and family is not None:
        return family.obj.create(argument)
    raise unknown("model", name, models)
