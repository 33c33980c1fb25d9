"""Task kinds: what a task's examples and answers are, and everything that depends on it.

Each kind is one folder here (``classification/``, ``tagging/``, ``correction/``,
``choice/``) holding its parts (:mod:`harness.kinds.base`) and its registration; a plugin
adds a kind with the ``harness_register_kinds`` hook. The rest of harness asks a task's
kind through the functions below and never names one.
"""
from __future__ import annotations

import inspect
from typing import Sequence

from harness.core.model import Prediction
from harness.core.options import Option, declared_options
from harness.core.scores import Scores
from harness.core.task import Example, Task
from harness.errors import HarnessError, PluginError, UnknownNameError
from harness.kinds.base import DecoderAdapter, FinetuneHead, Kind, Noise, Presenter, Scorer
from harness.plugins.registry import Registration, collect, load_plugins, pm, unknown, without_broken_plugins
from harness.scoring.paired import PairedStatistics

__all__ = [
    "DecoderAdapter", "FinetuneHead", "Kind", "Noise", "Presenter", "Scorer",
    "check_kind", "check_task", "get_kind", "get_kinds", "higher_is_better", "hub_task_type", "is_correct", "kind_decoder_options", "kind_names", "kind_of", "paired_statistics", "score",
    "shown_kind",
]

_cache: dict[tuple[int, ...], dict[str, Registration]] = {}
#: the decoder options of one collection of kinds (keyed by its id, which _cache keeps alive)
_options_cache: dict[int, dict[str, Option]] = {}


def get_kinds() -> dict[str, Registration]:
    """Every registered kind, by name (collected once per set of registered plugins: kinds
    are asked for every example scored)."""
    load_plugins()
    key = tuple(sorted(id(plugin) for plugin in pm.get_plugins()))
    if key not in _cache:
        def checked() -> dict[str, Registration]:
            kinds = collect("harness_register_kinds", Kind, "kind")
            _check_kinds(kinds)
            return kinds

        kinds = without_broken_plugins(checked)  # a third-party plugin with a broken kind is left out alone
        key = tuple(sorted(id(plugin) for plugin in pm.get_plugins()))
        _cache.clear()
        _cache[key] = kinds
    return _cache[key]


def _check_kinds(kinds: dict[str, Registration]) -> None:
    """Every kind's parts (:func:`check_kind`), and no decoder option two kinds declare; the
    :class:`PluginError` names the plugin at fault (``plugin_name``)."""
    owners: dict[str, str] = {}
    for registration in kinds.values():
        try:
            check_kind(registration.obj, registration.plugin)
            for option in getattr(registration.obj.decoding, "decoder_options", {}):
                if option in owners:
                    raise PluginError(f"Kind {registration.obj.name!r} (plugin {registration.plugin!r}): its decoder "
                                      f"option {option!r} is kind {owners[option]!r}'s already; name it apart")
                owners[option] = registration.obj.name
        except PluginError as exc:
            exc.plugin_name = registration.plugin  # type: ignore[attr-defined]
            raise


def kind_decoder_options() -> dict[str, Option]:
    """Every option a registered kind's decoder adapter declares
    (:attr:`DecoderAdapter.decoder_options`), typed: options of every decoder model."""
    kinds = get_kinds()
    if id(kinds) not in _options_cache:  # asked on every option a decoder reads: once per collection
        found: dict[str, Option] = {}
        for registration in kinds.values():
            decoding = registration.obj.decoding
            if decoding is not None:
                found.update(declared_options(decoding.decoder_options, {}))
        _options_cache.clear()
        _options_cache[id(kinds)] = found
    return _options_cache[id(kinds)]


#: each part's base class
_PART_TYPES = {"scorer": Scorer, "presenter": Presenter, "noise": Noise, "decoding": DecoderAdapter, "finetune": FinetuneHead}
#: what a part must write itself: groups of methods, one of each group at least
_REQUIRED = {"scorer": [("score",)], "noise": [("perturb", "refused")]}
_DECODER_METHODS = {"loglikelihood": [("options", "lm_requests")], "generation": [("generation",), ("read_generation",)]}


def _unwritten(part: object, base: type, groups) -> str | None:
    """The first group of methods ``part`` writes none of, as ``a() or b()`` (None: it writes one of each)."""
    for group in groups:
        if all(getattr(type(part), method, None) is getattr(base, method) for method in group):
            return " or ".join(method + "()" for method in group)
    return None


def check_kind(kind: Kind, plugin: str) -> None:
    """Raise :class:`PluginError` (one line, naming the kind and its plugin) when a registered
    kind lacks a part it needs or a part lacks a method: checked when kinds are collected,
    before any data loads."""
    where = f"Kind {kind.name!r} (plugin {plugin!r})"
    if not kind.name:
        raise PluginError(f"A kind registered by plugin {plugin!r} has no name: Kind(name, ...)")
    for attribute, base in _PART_TYPES.items():
        part = getattr(kind, attribute)
        if part is None and attribute not in ("scorer", "presenter"):  # the optional parts
            continue
        if not isinstance(part, base):
            raise PluginError(f"{where}: {attribute} is a {type(part).__name__}, expected a harness.{base.__name__}")
        missing = _unwritten(part, base, _REQUIRED.get(attribute, ()))
        if missing:
            raise PluginError(f"{where}: its {attribute} {type(part).__name__} does not implement {missing}; "
                              "see docs/plugins.md for the parts and their methods")
    if kind.decoding is not None:
        method = kind.decoding.method
        if method not in _DECODER_METHODS:
            raise PluginError(f"{where}: decoding.method is {method!r}; expected loglikelihood or generation")
        for option, spec in kind.decoding.decoder_options.items():
            if not isinstance(spec, Option) and not (isinstance(spec, (tuple, list)) and spec
                                                     and all(isinstance(v, str) for v in spec)):
                raise PluginError(f"{where}: decoder option {option!r} is {spec!r}; expected its allowed values, "
                                  "default first (a tuple of strings), or a harness.Option")
        missing = _unwritten(kind.decoding, DecoderAdapter, _DECODER_METHODS[method])
        if missing:
            raise PluginError(f"{where}: its decoding {type(kind.decoding).__name__} answers by {method} but does not "
                              f"implement {missing}")


def get_kind(name: str) -> Kind:
    """The kind registered as ``name``; a one-line error listing the kinds otherwise."""
    kinds = get_kinds()
    if name not in kinds:
        raise unknown("kind", name, kinds)
    return kinds[name].obj


def shown_kind(name: str) -> Kind:
    """The kind registered as ``name``, or a plain :class:`Kind` for one no longer installed
    (the report shows its examples plainly, with no analyses)."""
    try:
        return get_kind(name)
    except UnknownNameError:
        return Kind(name)


def breakdown_units(task: Task) -> dict[str, str]:
    """Breakdown dimension -> what its rows' n counts: the kind's scorer's
    (:attr:`Scorer.breakdown_units`), then the task's own (:attr:`Task.breakdown_units`)."""
    return {**kind_of(task).scorer.breakdown_units, **task.breakdown_units}


def higher_is_better(task_name: str, kind_name: str, metric: str) -> bool | None:
    """How the field reads a stored metric: True when higher is better, False when lower is,
    None when neither (its ideal is in the middle). The task's own
    :attr:`~harness.Task.metric_directions` where it is installed and names the metric, else
    its kind's scorer's (:meth:`Scorer.higher_is_better`); a metric of neither (a kind no
    longer installed) is read as higher-is-better."""
    from harness.core.task import get_task

    try:
        task = get_task(task_name)
    except HarnessError:
        task = None
    if task is not None and metric in task.metric_directions:
        return task.metric_directions[metric]
    return shown_kind(kind_name).scorer.higher_is_better(metric)


def hub_task_type(kind_name: str) -> str:
    """The Hugging Face Hub's task type of a kind's tasks (:attr:`Kind.hub_task_type`; the
    kind's name where it declares none or is no longer installed)."""
    return shown_kind(kind_name).hub_task_type or kind_name


def kind_of(task: Task) -> Kind:
    """The kind object of a task; a one-line error naming the task when no plugin registered
    the kind it names."""
    kinds = get_kinds()
    registered = kinds.get(task.kind)
    if registered is None:
        raise HarnessError(f"Task {task.name!r} has kind {task.kind!r}; expected one of {', '.join(sorted(kinds))}")
    return registered.obj


def kind_names() -> list[str]:
    """The names of every registered kind."""
    return sorted({reg.obj.name for reg in get_kinds().values()})


def check_task(task: Task) -> None:
    """Raise :class:`HarnessError` (one line) when the task is not fit to run: an unknown kind,
    no labels where its kind needs them, or a default split it does not have."""
    needed = kind_of(task).labels_needed
    if needed and not task.labels:
        raise HarnessError(f"Task {task.name!r} ({task.kind}) has no labels: set Task.labels to its {needed}")
    task.validate()


def _overrides(task: Task, method: str) -> bool:
    return getattr(type(task), method) is not getattr(Task, method)


def score(task: Task, examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
    """Every metric of one model's answers to ``task``, with bootstrap CIs: as the task scores
    itself where it overrides :meth:`Task.score`, else as its kind's scorer does; then the
    task's :attr:`~harness.core.task.Task.extra_metrics` (``evaluate`` modules)."""
    if len(examples) != len(predictions):
        raise HarnessError(f"{len(predictions)} predictions for {len(examples)} examples")
    if _overrides(task, "score"):
        scores = task.score(examples, predictions, seed=seed)
    else:
        scores = kind_of(task).scorer.score(task, examples, predictions, seed=seed)
    if task.extra_metrics:
        from harness.plugins.registry import warn
        from harness.scoring.evaluate_metrics import evaluate_metrics, module_location

        try:
            task_file: str | None = inspect.getfile(type(task))
        except (TypeError, OSError):  # a task class defined at an interactive prompt has no file
            task_file = None
        views = [kind_of(task).scorer.evaluate_view(e, p) for e, p in zip(examples, predictions)]
        scores.metrics.extend(evaluate_metrics(
            [module_location(m, task_file) for m in task.extra_metrics], [v[0] for v in views], [v[1] for v in views], seed=seed,
            resamples=task.extra_metrics_resamples, taken={m.name for m in scores.metrics}, warn=warn))
    return scores


def is_correct(task: Task, example: Example, prediction: Prediction) -> bool:
    """Whether one prediction is exactly right, as the task's kind judges it."""
    return kind_of(task).scorer.is_correct(example, prediction)


def paired_statistics(task: Task, examples: Sequence[Example], predictions: Sequence[Prediction]) -> PairedStatistics:
    """Per-example statistics of the headline metric, for the report's paired tests: the task's
    own where it overrides :meth:`Task.paired_statistics`, else its kind's."""
    if _overrides(task, "paired_statistics"):
        return task.paired_statistics(examples, predictions)
    return kind_of(task).scorer.paired_statistics(task, examples, predictions)
