"""What a run records about where its numbers came from, typed: the runner fills these, the
store keeps them as JSON, the report reads them back through :meth:`Provenance.from_json`,
which also reads what earlier releases wrote (a renamed field keeps its old name here, and
nowhere else)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


#: runs computed faster than this (seconds) have no meaningful examples/s
MIN_TIMED_SECONDS = 0.05


def timed_rate(examples_per_s: float | None, compute_time_s: float | None) -> float | None:
    """examples/s where the timing means something: None for a run too fast to time (a
    heuristic over a whole split in milliseconds) or one with no timing."""
    if examples_per_s is None or examples_per_s != examples_per_s or (compute_time_s or 0) < MIN_TIMED_SECONDS:
        return None
    return float(examples_per_s)


def _known(cls, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True)
class Throughput:
    """Speed of what a run computed (cached predictions left out)."""

    computed_examples: int = 0
    seconds: float = 0.0
    examples_per_s: float | None = None
    #: seconds spent loading weights or starting the engine (recorded as ``load_s`` before 2026-12-02)
    load_seconds: float | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    prompt_tokens_per_s: float | None = None
    generated_tokens_per_s: float | None = None
    tokens_per_s: float | None = None

    @property
    def cached_prompt_percent(self) -> float | None:
        """The percentage of prompt tokens served from the engine's prefix cache (None where it does not say)."""
        if self.cached_prompt_tokens is None or not self.prompt_tokens:
            return None
        return 100 * self.cached_prompt_tokens / self.prompt_tokens

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Throughput | None:
        """The throughput a run recorded (None: everything came from the cache)."""
        if not data:
            return None
        data = dict(data)
        if "load_s" in data:
            data.setdefault("load_seconds", data.pop("load_s"))
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RequestSummary:
    """What an endpoint model was asked (``openai:``): counts, tokens, latency, rate."""

    requests: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    failed_attempts: int = 0
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p99: float | None = None
    requests_per_s: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RequestSummary | None:
        """The summary a run recorded (None where the model sent no requests)."""
        return cls(**_known(cls, data)) if data and data.get("requests") else None


@dataclass(frozen=True)
class SuiteRef:
    """The suite a run belongs to: its name, file, sha256 and text."""

    name: str
    sha256: str
    file: str = ""
    text: str = ""


@dataclass(frozen=True)
class Provenance:
    """Everything a run records beyond its numbers."""

    packages: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    #: the model's identity and facts (engine settings, parameters, licence, fine-tune card, requests)
    model: dict[str, Any] = field(default_factory=dict)
    #: the task's description (name, kind, dataset, licence, published scores...)
    task: dict[str, Any] = field(default_factory=dict)
    plugins: dict[str, str | None] = field(default_factory=dict)
    batch_size: int | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    suite: SuiteRef | None = None
    #: where the cell was computed ({"name": "ray", "node": ...}; None: in the driver's process)
    executor: dict[str, Any] | None = None
    throughput: Throughput | None = None
    workers: int | None = None

    # -- what the report reads, each in one place --------------------------------------------

    @property
    def parameters(self) -> int | None:
        """The model's parameter count (where a torch module was loaded, or read from GGUF weights)."""
        return self.model.get("parameters")

    @property
    def licence(self) -> str | None:
        """The model's licence, as it declared it when the run was made."""
        return self.model.get("licence")

    @property
    def family(self) -> str | None:
        """The family the model declared when the run was made (None: a run stored before
        models declared one)."""
        return self.model.get("family")

    @property
    def finetuned(self) -> dict[str, Any] | None:
        """The fine-tune card of a model ``harness finetune`` trained."""
        return self.model.get("finetuned")

    @property
    def engine(self) -> dict[str, Any]:
        """The model's engine settings (speed and memory, not answers)."""
        return self.model.get("engine") or {}

    @property
    def requests(self) -> RequestSummary | None:
        """What an endpoint model was asked."""
        return RequestSummary.from_json(self.model.get("requests"))

    @property
    def executor_name(self) -> str | None:
        """Where the cell was computed ("ray"; None: in this process)."""
        return (self.executor or {}).get("name")

    def to_json(self) -> dict[str, Any]:
        """The JSON the store keeps (fields left unset are left out)."""
        data = asdict(self)
        for name in ("suite", "executor", "throughput", "workers"):
            if data[name] is None:
                del data[name]
        if self.throughput is not None:
            data["throughput"] = {k: v for k, v in asdict(self.throughput).items() if v is not None or k == "examples_per_s"}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Provenance:
        """A run's provenance as stored, by this release or an earlier one."""
        data = dict(data or {})
        suite = data.get("suite")
        return cls(**{**_known(cls, data),
                      "suite": SuiteRef(**_known(SuiteRef, suite)) if suite else None,
                      "throughput": Throughput.from_json(data.get("throughput"))})
