"""Hugging Face ``evaluate`` modules as extra metrics of a task: each is computed on the
predictions and references, and its bootstrap interval by recomputing it on resampled
examples (``resamples`` calls of the module: the cost grows with it; 0 gives no interval)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from harness.core.scores import Metric

#: loaded modules, by id or path (loading a module is slow; the same one serves every run)
_LOADED: dict[str, Any] = {}


def is_hub_id(module: str) -> bool:
    """Whether ``module`` names an ``evaluate`` module on the Hub (``exact_match``,
    ``org/metric``) rather than a file or folder of this machine."""
    return (not module.endswith(".py") and not Path(module).is_absolute() and not module.startswith(".")
            and module.count("/") <= 1)


def module_location(module: str, task_file: str | Path | None) -> str:
    """Where ``module`` of a task's ``extra_metrics`` is loaded from: a Hub id as it is, an
    absolute path as it is, and a relative file or folder (``metrics/cer.py``) relative to the
    folder of the task's module file ``task_file``, not to the working directory (only a task
    class with no file, typed at an interactive prompt, has its paths read as given)."""
    if is_hub_id(module) or Path(module).is_absolute() or task_file is None:
        return module
    return str((Path(task_file).resolve().parent / module).resolve())


def local_shadow(module: str) -> Path | None:
    """The file of the working directory that ``evaluate.load`` would run instead of the Hub
    module ``module`` (it looks for ``module/<name>.py`` there first), if there is one."""
    if not is_hub_id(module):
        return None
    shadow = Path(module) / (module.split("/")[-1] + ".py")
    return shadow if shadow.is_file() else None


def load_module(module: str, warn: Callable[[str], None]) -> Any | None:
    """``evaluate.load(module)``, once per process; None, after a one-line warning naming it,
    where it cannot load (no network for a Hub id, a missing or broken file) or where a Hub id
    would run a file of the working directory that the plugin did not name."""
    if module in _LOADED:
        return _LOADED[module]
    shadow = local_shadow(module)
    if shadow is not None:
        warn(f"evaluate module {module!r} is a Hub id, but evaluate would run {shadow.resolve()} of the working "
             "directory instead, which the task did not name; its metrics are left out (run from another folder, "
             "or name the file in extra_metrics)")
        _LOADED[module] = None
        return None
    import evaluate

    try:
        loaded = evaluate.load(str(Path(module).resolve()) if module.endswith(".py") else module)
    except Exception as exc:  # evaluate raises many kinds (FileNotFoundError, ConnectionError, ImportError, ...)
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        warn(f"evaluate module {module!r} could not be loaded ({reason}); its metrics are left out, the others stand")
        loaded = None
    _LOADED[module] = loaded
    return loaded


def _numbers(result: Any) -> dict[str, float]:
    """The scalar numbers of a module's result (its lists and strings are left out)."""
    if not isinstance(result, dict):
        return {}
    return {str(k): float(v) for k, v in result.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}


def evaluate_metrics(modules: Sequence[str], predictions: Sequence[Any], references: Sequence[Any], *, seed: int,
                     resamples: int, taken: set[str], warn: Callable[[str], None]) -> list[Metric]:
    """One :class:`Metric` per number each module returns, named as the module names it (or
    ``module:name`` where a metric of that name is already ``taken``), with the 2.5 and 97.5
    percentiles of ``resamples`` recomputations on examples drawn with replacement (seeded)."""
    metrics: list[Metric] = []
    n = len(predictions)
    for module in modules:
        loaded = load_module(module, warn)
        if loaded is None or n == 0:
            continue
        try:
            point = _numbers(loaded.compute(predictions=list(predictions), references=list(references)))
        except Exception as exc:
            warn(f"evaluate module {module!r} failed on these predictions ({str(exc).strip()[:160] or type(exc).__name__}); "
                 "its metrics are left out")
            continue
        draws: dict[str, list[float]] = {name: [] for name in point}
        rng = np.random.default_rng(seed)
        for _ in range(resamples):
            index = rng.integers(0, n, n)
            again = _numbers(loaded.compute(predictions=[predictions[i] for i in index],
                                            references=[references[i] for i in index]))
            for name in point:
                if name in again:
                    draws[name].append(again[name])
        prefix = Path(module).stem if module.endswith(".py") else module.split("/")[-1]
        for name, value in point.items():
            shown = name if name not in taken else f"{prefix}:{name}"
            taken.add(shown)
            values = [v for v in draws[name] if math.isfinite(v)]
            low, high = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))) if values else (math.nan, math.nan)
            metrics.append(Metric(shown, value, low, high, n))
    return metrics
