"""How long a cell will take on this machine, before it runs (``run --plan``, ``--max-minutes``,
the ETA of a long suite, the warning before a long plain run).

An estimate is ``tokens x rate``:

- **tokens**: the cell's input, counted the same way for every cell, measured or not: the
  characters of each example's input (as the store writes it, JSON) divided by
  :data:`CHARS_PER_TOKEN`, plus, at k shots, k times the mean of the few-shot pool's examples
  once: every example of a cell is shown the same shots, and the engines keep that shared
  prefix (llama.cpp's and vLLM's prefix caches; measured here, SmolLM2's 5-shot cells took
  0.9-1.2x its 0-shot ones).
  The count is rough, but it is the same count on both sides of the rate, so its error cancels
  where the rate was measured on the same task.
- **rate**: seconds per token, from the runs this machine measured (the store's runs and the
  suite's result records, kept where their hardware — CPU count, GPU, architecture — is this
  machine's). A run's seconds are what it would take from scratch: its wall time, scaled up
  by the share of its examples served from the cache (all cached: the compute time they took). The closest measurement wins:

  1. the same model on the same task with the same shots;
  2. the same model on the same task (other shots: the token count carries the difference);
  3. the same model on a task of the same kind (tagging, classification, ...);
  4. the same engine (model class) on the same task, scaled by parameter count
     (as parameters ** :data:`SIZE_EXPONENT`);
  5. the same engine on a task of the same kind, scaled likewise;
  6. a prior for the engine (:data:`PRIORS`: rates measured on the project's reference machine,
     two CPU cores, scaled likewise).

  Where none applies the cell has no estimate: it is shown as unknown and a deadline does not
  hold it back. Several measurements at one level pool their seconds and tokens.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from harness.core.model import Model
from harness.core.publishing import hide_paths
from harness.core.task import Task, get_task
from harness.errors import HarnessError

#: characters of an example's input (as JSON) taken as one token
CHARS_PER_TOKEN = 4.0
#: time grows as parameters ** SIZE_EXPONENT between models of one engine: small models are
#: bound by per-token work and by their quantised kernels' speeds, not by their FLOPs
#: (bench/README.md's roofline: Qwen2.5-0.5B has 4.7x SmolLM2-135M's parameters and takes
#: 2.1-2.2x its time through llama.cpp)
SIZE_EXPONENT = 0.6
#: seconds a cell costs beyond its tokens (loading data and weights, scoring) where nothing is measured
CELL_OVERHEAD_S = 3.0

#: (engine, kind) -> (seconds per token, parameters of the model measured or None), measured on
#: the reference machine (2 CPU cores, no GPU) from the published board's runs; what
#: ``bench/estimates.py`` prints from a store
PRIORS: dict[tuple[str, str], tuple[float, int | None]] = {
    ("Autocorrect", "correction"): (0.001, None),
    ("CapitalisedSpans", "tagging"): (2.17e-06, None),
    ("HFEncoder", "classification"): (0.000588, 22713986),
    ("HFEncoder", "tagging"): (0.000509, 22568841),
    ("Heuristic", "choice"): (4.18e-07, None),
    ("Identity", "correction"): (1.81e-05, None),
    ("LlamaCppCausal", "choice"): (0.00346, 134515008),
    ("LlamaCppCausal", "classification"): (0.00663, 134515008),
    ("LlamaCppCausal", "correction"): (0.0264, 134515008),
    ("LlamaCppCausal", "tagging"): (0.0147, 134515008),
    ("PySpellChecker", "correction"): (0.00122, None),
    ("SpacyNER", "tagging"): (7e-05, None),
    ("SymSpell", "correction"): (0.000275, None),
    ("TextBlob", "correction"): (0.000561, None),
    ("TextBlobSentiment", "classification"): (5.23e-05, None),
    ("Vader", "classification"): (3.61e-06, None),
}


@dataclass(frozen=True)
class Workload:
    """What decides a cell's time: its model (name, engine, size), its task and its token count."""

    task: str
    kind: str
    #: the model's name, paths hidden (a fine-tuned model's folder differs between machines)
    model: str
    #: the model class (what runs it), or the name for a model that declares no answers version
    engine: str
    parameters: int | None
    examples: int
    shots: int
    tokens: float


@dataclass(frozen=True)
class Measurement:
    """A run this machine computed: its workload and the seconds it took from scratch."""

    workload: Workload
    seconds: float


@dataclass(frozen=True)
class Estimate:
    """A cell's estimated seconds (None: nothing to go on) and what the estimate rests on."""

    seconds: float | None
    basis: str


def engine_of(model: Model) -> str:
    """The engine a model's time is calibrated with: its class where it declares an answers
    version (every built-in), else its name."""
    declared = type(model).declared_answers()
    return type(model).__name__ if declared else hide_paths(model.name)


def _engine_of_identity(identity: dict[str, Any], model_name: str) -> str:
    answers = str((identity or {}).get("answers") or "")
    return answers.rsplit(" v", 1)[0] if answers else model_name


def this_machine() -> dict[str, Any]:
    """What measurements must share with this machine to be used: CPU count, architecture, GPU."""
    import sys

    info = {"cpu_count": os.cpu_count(), "machine": platform.machine()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def same_machine(hardware: dict[str, Any] | None) -> bool:
    """Whether a run's recorded hardware is this machine's kind (CPU count, architecture, GPU)."""
    if not hardware:
        return False
    here = this_machine()
    return (hardware.get("cpu_count") == here["cpu_count"] and hardware.get("machine") == here["machine"]
            and hardware.get("gpu") == here.get("gpu"))


class TokenCounts:
    """Mean estimated tokens per example of each task's split, each split read once."""

    def __init__(self, data_dir=None, source: str = "auto"):
        self.data_dir, self.source = data_dir, source
        self._means: dict[tuple, tuple[int, float] | None] = {}
        self._sizes: dict[str, int | None] = {}

    def split(self, task: Task, split: str | None, source: str | None = None) -> tuple[int, float] | None:
        """(examples, mean tokens per example) of ``task``'s split (None where it cannot be read)."""
        key = (task.name, split or task.default_split, source or self.source)
        if key not in self._means:
            try:
                examples = task.load(key[1], data_dir=self.data_dir, source=key[2]).examples
            except (HarnessError, OSError, ValueError):
                self._means[key] = None
            else:
                chars = sum(len(json.dumps(e.input, ensure_ascii=False, default=str)) for e in examples)
                self._means[key] = (len(examples), chars / CHARS_PER_TOKEN / max(1, len(examples)))
        return self._means[key]

    def shot_tokens(self, task: Task, source: str | None = None) -> float:
        """Mean tokens of one few-shot example of ``task`` (0 where it has no few-shot split)."""
        pool_task = get_task(task.few_shot_task) if task.few_shot_task else task
        if task.few_shot_split not in pool_task.splits:
            return 0.0
        found = self.split(pool_task, task.few_shot_split, source)
        return found[1] if found else 0.0

    def parameters(self, model: Model) -> int | None:
        """The model's parameter count as it says before loading (read once per model name)."""
        if model.name not in self._sizes:
            try:
                self._sizes[model.name] = model.parameter_count()
            except Exception:  # a plugin's own parameter_count failing costs only its size
                self._sizes[model.name] = None
        return self._sizes[model.name]

    def workload(self, task: Task, model: Model, *, split: str | None, limit: int | None, sample: int | None,
                 shots: int, source: str | None = None, parameters: int | None = None) -> Workload | None:
        """The workload of ``model`` on ``task`` with this selection (None: its data cannot be read)."""
        found = self.split(task, split, source)
        if found is None:
            return None
        size, mean = found
        n = min(size, *(v for v in (limit, sample) if v is not None)) if (limit or sample) else size
        tokens = n * mean + shots * self.shot_tokens(task, source)
        if parameters is None:
            parameters = self.parameters(model)
        return Workload(task.name, task.kind, hide_paths(model.name).split(" (", 1)[0], engine_of(model), parameters,
                        n, shots, tokens)


def measurements(runs: Iterable[dict[str, Any]], counts: TokenCounts) -> list[Measurement]:
    """The runs (store rows or records' ``run`` parts) this machine measured, as measurements;
    runs of another machine, of a task not installed or whose data cannot be read, left out."""
    out = []
    for run in runs:
        provenance = run.get("provenance") or {}
        if not same_machine(provenance.get("hardware")) or not run.get("wall_time_s"):
            continue
        try:
            task = get_task(run["task"])
        except HarnessError:
            continue
        found = counts.split(task, run.get("split"), run.get("data_source"))
        if found is None:
            continue
        settings = run.get("settings") or {}
        shots = len(settings.get("shots") or [])
        n = int(run["n"])
        tokens = n * found[1] + shots * counts.shot_tokens(task, run.get("data_source"))
        cached = int(run.get("cached") or 0)
        if cached < n:  # the wall time, scaled up for the share served from the cache
            seconds = float(run["wall_time_s"]) * n / (n - cached)
        else:  # all cached: what computing them took (summed over worker processes), and loading
            load = (provenance.get("throughput") or {}).get("load_seconds") or 0.0
            seconds = float(run.get("compute_time_s") or 0.0) + float(load)
        name = hide_paths(str(run["model"])).split(" (", 1)[0]
        parameters = (provenance.get("model") or {}).get("parameters")
        workload = Workload(run["task"], run.get("kind") or task.kind, name,
                            _engine_of_identity(run.get("model_identity") or {}, name),
                            int(parameters) if parameters else None, n, shots, tokens)
        out.append(Measurement(workload, seconds))
    return out


class Estimator:
    """Estimates cells from measurements (see the module's docstring for the order used)."""

    def __init__(self, measured: Sequence[Measurement], priors: dict[tuple[str, str], tuple[float, int | None]] | None = None):
        self.measured = list(measured)
        self.priors = PRIORS if priors is None else priors

    def estimate(self, work: Workload | None) -> Estimate:
        """The estimated seconds of ``work`` and what they rest on."""
        if work is None:
            return Estimate(None, "its data cannot be read")
        levels = [
            ("same model, task and shots", lambda m: m.model == work.model and m.task == work.task and m.shots == work.shots, False),
            ("same model and task", lambda m: m.model == work.model and m.task == work.task, False),
            ("same model, same kind of task", lambda m: m.model == work.model and m.kind == work.kind, False),
            ("same engine and task", lambda m: m.engine == work.engine and m.task == work.task, True),
            ("same engine, same kind of task", lambda m: m.engine == work.engine and m.kind == work.kind, True),
        ]
        for basis, matches, scaled in levels:
            chosen = [m for m in self.measured if matches(m.workload)]
            if chosen:
                seconds = sum(m.seconds for m in chosen)
                tokens = sum(m.workload.tokens for m in chosen)
                rate = seconds / tokens if tokens > 0 else 0.0
                factor = self._scale(work, [m.workload.parameters for m in chosen]) if scaled else 1.0
                return Estimate(rate * work.tokens * factor, f"{basis} ({len(chosen)} run{'s' * (len(chosen) != 1)})")
        prior = self.priors.get((work.engine, work.kind))
        if prior is not None:
            rate, parameters = prior
            return Estimate(CELL_OVERHEAD_S + rate * work.tokens * self._scale(work, [parameters]), "prior for the engine")
        return Estimate(None, f"nothing measured for {work.engine} on {work.kind} here")

    @staticmethod
    def _scale(work: Workload, sizes: Sequence[int | None]) -> float:
        known = [s for s in sizes if s]
        if not work.parameters or not known:
            return 1.0
        return (work.parameters / (sum(known) / len(known))) ** SIZE_EXPONENT


def describe_minutes(seconds: float | None) -> str:
    """"~12 min", "<1 min" or "?" for an estimate."""
    if seconds is None:
        return "?"
    minutes = seconds / 60
    return "<1 min" if minutes < 1 else f"~{minutes:.0f} min" if minutes < 100 else f"~{minutes / 60:.1f} h"
