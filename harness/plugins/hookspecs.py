"""Hook specifications: the whole plugin API of harness.

A plugin is a module (or object) with functions decorated by ``harness.hookimpl``
whose names match the specs below. Built-in plugins live in ``tasks`` and
``plugins``; third-party ones are found through the ``harness`` entry-point group.
"""
from __future__ import annotations

from typing import Any, Protocol

from pluggy import HookimplMarker, HookspecMarker


class Register(Protocol):
    """The callback handed to ``harness_register_*`` hooks."""

    def __call__(self, obj: Any, *, aliases: tuple[str, ...] | list[str] = ()) -> None: ...


hookspec = HookspecMarker("harness")
hookimpl = HookimplMarker("harness")


@hookspec
def harness_register_tasks(register: Register) -> None:
    """Register evaluation tasks.

    Call ``register(task, aliases=())`` once per task, where ``task`` is an
    instance of :class:`harness.Task`, or a :class:`harness.TaskGroup` (a name that
    runs several tasks). ``task.name`` (and each alias) is what ``harness run --tasks``
    accepts. Constructors must be cheap: load data lazily.

    :param register: callback that records a task under its name and aliases
    """


@hookspec
def harness_register_models(register: Register) -> None:
    """Register models and model families.

    Call ``register(model, aliases=())`` with a :class:`harness.Model` instance
    (a fixed model such as ``vader``), or with a :class:`harness.ModelFamily`
    whose ``prefix`` claims names of the form ``prefix:argument``
    (``hf:<hub-id-or-path>``). Heavy imports belong in the model's methods.

    :param register: callback that records a model or family under its name and aliases
    """


@hookspec
def harness_register_kinds(register: Register) -> None:
    """Register task kinds.

    Call ``register(kind)`` once per kind, where ``kind`` is a :class:`harness.Kind` built
    from its parts (scorer, presenter, noise, decoder adapter, fine-tune head); tasks name
    it in ``Task.kind``.

    :param register: callback that records a kind under its name
    """


@hookspec
def harness_register_executors(register: Register) -> None:
    """Register executors: where ``harness run --executor NAME`` computes the (task, model) cells.

    Call ``register(executor_type)`` with a :class:`harness.run.executors.ExecutorType`
    (``name``, ``description``, and ``create(address)`` returning an object whose
    ``run(cells, summary, config)`` computes the cells and hands each finished cell to
    ``harness.run.runner.finish_cell``, so this process alone writes the store).

    :param register: callback that records an executor type under its name
    """
