"""Suite files: a whole leaderboard (tasks, models, options, shots, limits, data, fine-tunes) in
one TOML file, so ``harness run --suite FILE`` reproduces it.

```toml
[suite]
name = "my-leaderboard"
data_dir = "../data"            # relative to this file; --data-dir overrides it
seed = 0

[[finetune]]                    # run first; the models it makes join the suite
name = "minilm-sst2"
task = "sentiment"
base = "minilm-l6"
k = [16, 256, "all"]            # one model per k (train examples drawn with the seed)
epochs = 3

[[run]]
tasks = ["ner", "sentiment"]
models = ["spacy-en-sm", "vader", "@minilm-sst2"]   # @NAME: the models of a [[finetune]]; @NAME:K one
shots = [0, 5]
sample = 500
prompts = "all"                 # decoders: every prompt variant of each task ("default" alone if not given)

[labels]                        # optional: the names the report's rows show (tags such as 5-shot kept)
"llamacpp:qwen2.5-coder-1.5b" = "Qwen2.5-Coder 1.5B"
```

Every error names the file, the table and the key, on one line.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import tomllib

from harness.core.model import get_model
from harness.core.paths import check_path_name, inside
from harness.core.prompts import DEFAULT_PROMPT, check_prompt_names, parse_prompt_names
from harness.core.publishing import hide_paths
from harness.core.task import SOURCES, get_task, resolve_tasks
from harness.data.perturb import parse_perturbations
from harness.engines.packaged import cache_root
from harness.errors import HarnessError
from harness.run.finetune import BASES, FinetuneConfig, finetune
from harness.run.cells import RunSummary
from harness.run.config import MAX_BATCH_SIZE, MAX_COUNT, MAX_SEED, Evaluation, Execution, RunConfig
from harness.run.runner import prompts_asked, run_matrix
from harness.run.estimate import Estimator, TokenCounts, describe_minutes, measurements
from harness.run.schedule import Schedule, ScheduledCell, cell_label
from harness.store.records import RecordIndex, row_key
from harness.store.store import Store

SUITE_KEYS = {"name", "description", "data_dir", "source", "seed", "batch_size", "records"}
RUN_KEYS = {"tasks", "models", "shots", "limit", "sample", "split", "options", "perturb", "batch_size", "prompts"}
FINETUNE_KEYS = {"name", "task", "base", "k", "epochs", "lr", "batch_size", "seed", "max_minutes", "max_length",
                 "dev_limit", "augment", "augment_mix", "out", "evaluate", "train_split", "dev_split"}
EVALUATE_KEYS = {"limit", "sample", "split", "perturb", "batch_size"}
#: the largest suite file read (its text is recorded in every run's provenance)
MAX_SUITE_BYTES = 256 * 1024


@dataclass
class RunBlock:
    """One ``[[run]]`` table: its tasks and models, run once per number of shots."""

    tasks: list[str]
    #: model names, the ``@NAME[:K]`` references to fine-tunes already turned into their ``hf:`` names
    models: list[str]
    shots: list[int] = field(default_factory=lambda: [0])
    limit: int | None = None
    sample: int | None = None
    split: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    #: the noise conditions of ``perturb = "typo:0.05,0.1"`` (empty: clean only)
    perturbations: list = field(default_factory=list)
    batch_size: int | None = None
    #: the prompt variants decoders are asked with (``prompts = "all"`` or a list of names;
    #: empty: each task's default prompt)
    prompts: tuple[str, ...] = ()


@dataclass
class FinetuneStep:
    """One ``[[finetune]]`` table: a base encoder fine-tuned on a task at each k."""

    name: str
    task: str
    base: str
    ks: list[int | None]
    out: Path
    settings: dict[str, Any]
    evaluate: RunBlock
    #: epochs for each k (in the order of ``ks``)
    epochs: list[float] = field(default_factory=list)

    def out_for(self, k: int | None) -> Path:
        """The folder the model fine-tuned on k examples is saved to."""
        return self.out / f"{self.name}-k{k if k is not None else 'all'}"

    def model_names(self) -> list[str]:
        """The ``hf:`` names of the models this step makes."""
        return [f"hf:{self.out_for(k)}" for k in self.ks]


@dataclass
class Suite:
    """A parsed, checked suite file."""

    path: Path
    name: str
    sha256: str
    #: the file's text, as read
    text: str = ""
    description: str = ""
    data_dir: Path | None = None
    source: str = "auto"
    seed: int = 0
    batch_size: int = 32
    finetunes: list[FinetuneStep] = field(default_factory=list)
    runs: list[RunBlock] = field(default_factory=list)
    #: where ``harness run --suite`` writes each finished cell's result record (the
    #: ``records`` key, from the suite file's folder; default ``records`` beside the file)
    records: Path | None = None

    def provenance(self) -> dict[str, str]:
        """What each run of this suite records: its name, the file's name, its digest and its text
        (so the store alone can say what produced a run)."""
        return {"name": self.name, "file": self.path.name, "sha256": self.sha256, "text": self.text}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"Cannot read suite file {path}: {exc.strerror}") from None


def suite_digest(path: str | Path) -> str:
    """The sha256 of a suite file's bytes (what runs record and ``report --suite`` matches)."""
    return hashlib.sha256(_read(Path(path))).hexdigest()


class _Checker:
    """Reads typed values out of a TOML table, raising one-line errors that name file, table and key."""

    def __init__(self, path: Path, where: str, table: Any, allowed: set[str]):
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail(None, f"expected a table, got {type(table).__name__}")
        self.table = table
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (expected one of: {', '.join(sorted(allowed))})"
                raise HarnessError(f"{path}: {where}: unknown key {key!r}{hint}")

    def fail(self, key: str | None, message: str):
        at = f" key {key!r}" if key else ""
        raise HarnessError(f"{self.path}: {self.where}{at}: {message}")

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        if key not in self.table:
            if required:
                self.fail(key, "is required (a string)")
            return default
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def integer(self, key: str, *, minimum: int, maximum: int = MAX_COUNT, default: int | None = None) -> int | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.fail(key, f"expected an integer from {minimum} to {maximum}, got {value!r}")
        return value

    def number(self, key: str, *, default: float | None = None) -> float | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.fail(key, f"expected a number > 0, got {value!r}")
        return float(value)

    def boolean(self, key: str, *, default: bool = False) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {value!r}")
        return value

    def names(self, key: str) -> list[str]:
        if key not in self.table:
            self.fail(key, "is required (a list of names)")
        value = self.table[key]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            self.fail(key, f"expected a non-empty list of names, got {value!r}")
        return [v.strip() for v in values]


def load_suite(path: str | Path, *, data_dir: str | Path | None = None) -> Suite:
    """Read and check a suite file: every key known, every value of the right type, every task
    and model registered. ``data_dir`` (``--data-dir``) overrides the file's."""

    path = Path(path)
    raw = _read(path)
    if len(raw) > MAX_SUITE_BYTES:  # its text is recorded with every run
        raise HarnessError(f"{path}: a suite file is at most {MAX_SUITE_BYTES // 1024} KiB (this one is "
                           f"{len(raw) / 2**20:.1f} MiB)")
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except RecursionError:
        raise HarnessError(f"{path}: not valid TOML: its tables or lists are nested too deeply to read") from None
    top = _Checker(path, "top level", data, {"suite", "run", "finetune", "labels"})
    if not top.has("suite"):
        top.fail(None, "a [suite] table with at least name = \"...\" is required")
    head = _Checker(path, "[suite]", data["suite"], SUITE_KEYS)
    name = check_path_name(head.string("name", required=True), f"{path}: [suite] key 'name'")
    suite = Suite(path=path, name=name, sha256=sha, text=text,
                  description=head.string("description", default="") or "",
                  seed=head.integer("seed", minimum=0, maximum=MAX_SEED, default=0),
                  batch_size=head.integer("batch_size", minimum=1, maximum=MAX_BATCH_SIZE, default=32))
    source = head.string("source", default="auto")
    if source not in SOURCES:
        head.fail("source", f"expected one of {', '.join(SOURCES)}, got {source!r}")
    suite.source = source
    folder = head.string("data_dir")
    if data_dir is not None:
        suite.data_dir = Path(data_dir)
    elif folder is not None:
        suite.data_dir = (path.parent / folder).resolve()
        if not suite.data_dir.is_dir():
            head.fail("data_dir", f"{suite.data_dir} is not a folder (relative paths start at the suite file's folder)")
    suite.records = (path.parent / (head.string("records", default="records") or "records")).resolve()
    labels = data.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v.strip() for v in labels.values()):
        top.fail("labels", "expected a table of model name = \"the label its rows show\" (non-empty strings)")
    for index, table in enumerate(_array(top, data, "finetune"), 1):
        suite.finetunes.append(_finetune(path, index, table, suite))
    names = [step.name for step in suite.finetunes]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise HarnessError(f"{path}: [[finetune]] name {duplicate!r} is used twice")
    for index, table in enumerate(_array(top, data, "run"), 1):
        suite.runs.append(_run_block(path, f"[[run]] #{index}", table, RUN_KEYS, suite))
    if not suite.runs and not suite.finetunes:
        top.fail(None, "the suite has no [[run]] and no [[finetune]] table: nothing to do")
    return suite


def _array(top: _Checker, data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        top.fail(key, f"expected [[{key}]] tables, got {type(value).__name__}")
    return value


def _run_block(path: Path, where: str, table: Any, allowed: set[str], suite: Suite, *, implicit: dict | None = None) -> RunBlock:
    check = _Checker(path, where, table, allowed)
    if implicit:
        tasks, models = implicit["tasks"], implicit["models"]
    else:
        tasks, models = check.names("tasks"), check.names("models")
        try:
            tasks = [task.name for task in resolve_tasks(tasks)]  # aliases and groups: each task once
        except HarnessError as exc:
            check.fail("tasks", str(exc))
        steps = {step.name: step for step in suite.finetunes}
        named, models = models, []
        for name in named:  # @NAME and @NAME:K become the hf: names of the fine-tuned models
            if name.startswith("@"):
                step_name, _, k = name[1:].partition(":")
                if step_name not in steps:
                    check.fail("models", f"{name!r} names no [[finetune]] table (known: {', '.join(steps) or 'none'})")
                step = steps[step_name]
                if k and _parse_k(k) not in step.ks:
                    known = ", ".join(str(v or "all") for v in step.ks)
                    check.fail("models", f"{name!r}: [[finetune]] {step_name!r} makes no k={k} model (its k: {known})")
                models.extend([f"hf:{step.out_for(_parse_k(k))}"] if k else step.model_names())
                continue
            try:
                models.append(get_model(name).name)  # an alias names the model it stands for
            except HarnessError as exc:
                check.fail("models", str(exc))
    block = RunBlock(tasks=tasks, models=list(dict.fromkeys(models)))
    if check.has("shots"):
        shots = table["shots"]
        values = [shots] if not isinstance(shots, list) else shots
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            check.fail("shots", f"expected an integer >= 0 or a list of them, got {shots!r}")
        block.shots = list(dict.fromkeys(values))
    block.limit = check.integer("limit", minimum=1, maximum=MAX_COUNT)
    block.sample = check.integer("sample", minimum=1, maximum=MAX_COUNT)
    block.split = check.string("split")
    if block.split:
        for task in resolve_tasks(block.tasks):
            if block.split not in task.splits:
                check.fail("split", f"task {task.name!r} has no split {block.split!r} (its splits: {', '.join(task.splits)})")
    block.batch_size = check.integer("batch_size", minimum=1, maximum=MAX_BATCH_SIZE)
    if check.has("options"):
        options = table["options"]
        if not isinstance(options, dict) or not all(isinstance(v, (str, int, float, bool)) for v in options.values()):
            check.fail("options", f"expected a table of KEY = value, got {options!r}")
        block.options = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in options.items()}
        _check_options(check, block)
    if check.has("prompts"):
        value = table["prompts"]
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            check.fail("prompts", f"expected \"all\" or a list of prompt names, got {value!r}")
        try:
            block.prompts = parse_prompt_names(value)
            check_prompt_names(block.prompts, resolve_tasks(block.tasks))
        except HarnessError as exc:
            check.fail("prompts", str(exc).removeprefix("--prompts: "))
    perturb = check.string("perturb")
    if perturb:
        try:
            block.perturbations = parse_perturbations(perturb, option="perturb")
        except HarnessError as exc:
            check.fail("perturb", str(exc))
    return block


def _check_options(check: _Checker, block: RunBlock) -> None:
    """Every option of a block taken by one of its models, with a value it allows (checked
    when the file is read, before anything runs)."""
    models = [get_model(name) for name in block.models]
    for name in block.options:
        if not any(model.takes_option(name) for model in models):
            takers = sorted({option for model in models for option in model.declared_options()})
            check.fail("options", f"no model of this block takes option {name!r} (theirs: {', '.join(takers) or 'none'})")
    for model in models:
        try:
            model.with_options(block.options)
        except HarnessError as exc:
            check.fail("options", str(exc))


def _parse_k(text: str) -> int | None | str:
    return None if text == "all" else int(text) if text.isdigit() else text


def _finetune(path: Path, index: int, table: Any, suite: Suite) -> FinetuneStep:

    where = f"[[finetune]] #{index}"
    check = _Checker(path, where, table, FINETUNE_KEYS)
    name = check_path_name(check.string("name", required=True), f"{path}: {where} key 'name'")
    task = check.string("task", required=True)
    try:
        resolved = resolve_tasks([task])
    except HarnessError as exc:
        check.fail("task", str(exc))
    if len(resolved) != 1:
        check.fail("task", f"names a group of {len(resolved)} tasks; a fine-tune needs one task")
    base = check.string("base", required=True)
    if base not in BASES and not Path(base).exists() and "/" not in base:
        check.fail("base", f"{base!r} is not a registered base ({', '.join(sorted(BASES))}), a folder, or a Hub id (org/name)")
    if not check.has("k"):
        check.fail("k", "is required: an integer, \"all\", or a list of them")
    raw = table["k"]
    values = raw if isinstance(raw, list) else [raw]
    ks: list[int | None] = []
    for value in values:
        if value == "all":
            ks.append(None)
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            ks.append(value)
        else:
            check.fail("k", f"expected integers >= 1 or \"all\", got {value!r}")
    if not ks:
        check.fail("k", "is an empty list")
    epochs: list[float] = []
    if isinstance(table.get("epochs"), list):  # one per k
        if len(table["epochs"]) != len(ks) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                                      for v in table["epochs"]):
            check.fail("epochs", f"expected a number > 0, or a list of {len(ks)} of them (one per k), got {table['epochs']!r}")
        epochs = [float(v) for v in table["epochs"]]
    else:
        epochs = [check.number("epochs", default=3.0)] * len(ks)
    settings = {"lr": check.number("lr", default=5e-5),
                "batch_size": check.integer("batch_size", minimum=1, maximum=MAX_BATCH_SIZE, default=32),
                "seed": check.integer("seed", minimum=0, maximum=MAX_SEED, default=suite.seed),
                "max_minutes": check.number("max_minutes"), "max_length": check.integer("max_length", minimum=8, default=128),
                "dev_limit": check.integer("dev_limit", minimum=1), "augment": check.string("augment"),
                "augment_mix": check.boolean("augment_mix")}
    for key in ("train_split", "dev_split"):  # kept out of the settings where not given: saved models stay saved
        split = check.string(key)
        if split is not None:
            if split not in resolved[0].splits:
                check.fail(key, f"task {resolved[0].name!r} has no split {split!r} (its splits: {', '.join(resolved[0].splits)})")
            settings[key] = split
    if settings["augment"]:

        try:
            conditions = parse_perturbations(settings["augment"], option="augment")
        except HarnessError as exc:
            check.fail("augment", str(exc))
        if len(conditions) != 1:
            check.fail("augment", f"expected one NAME:RATE, got {settings['augment']!r}")
    elif settings["augment_mix"]:
        check.fail("augment_mix", "needs augment = \"NAME:RATE\"")
    out_text = check.string("out")
    # a shared suite writes only inside its own folder or the cache
    out = inside(path.parent, out_text, f"{path}: {where} key 'out'") if out_text else finetune_home() / suite.name
    evaluate = _run_block(path, f"{where} evaluate", table.get("evaluate", {}), EVALUATE_KEYS, suite,
                          implicit={"tasks": [task], "models": []})
    step = FinetuneStep(name=name, task=resolved[0].name, base=base, ks=ks, out=out, settings=settings, evaluate=evaluate,
                        epochs=epochs)
    evaluate.models = step.model_names()  # each model it makes, on its task
    return step


def finetune_home() -> Path:
    """Where suites keep the models they fine-tune: ``$HARNESS_CACHE_DIR/finetuned`` (default
    ``~/.cache/harness/finetuned``)."""

    return cache_root() / "finetuned"


# -- running ----------------------------------------------------------------------------------------


#: a fine-tune's seconds per train example per epoch, and per dev example per epoch (its
#: evaluation), where nothing is measured: MiniLM-L6 on the reference machine (2 CPU cores;
#: the published board's ten fine-tunes took 23-164 s, within 1.4x of these)
FINETUNE_TRAIN_S, FINETUNE_DEV_S, FINETUNE_OVERHEAD_S = 0.0115, 0.03, 10.0


def finetune_seconds(step: FinetuneStep, k: int | None, epochs: float, train_size: int | None) -> float | None:
    """Estimated seconds of fine-tuning ``step`` at ``k`` (``train_size``: the train split's
    size, for k = all; None where unknown), capped by its ``max_minutes``."""
    seen = k if k is not None else train_size
    if seen is None:
        return None
    dev = step.settings.get("dev_limit") or 1000
    seconds = FINETUNE_OVERHEAD_S + epochs * (seen * FINETUNE_TRAIN_S + dev * FINETUNE_DEV_S)
    cap = step.settings.get("max_minutes")
    return min(seconds, cap * 60 + epochs * dev * FINETUNE_DEV_S + FINETUNE_OVERHEAD_S) if cap else seconds


def _finetune_saved(step: FinetuneStep, k: int | None, epochs: float, suite: Suite) -> bool:
    out = step.out_for(k)
    marker = out / "harness_suite_step.json"
    if not (marker.exists() and (out / "harness_finetune.json").exists()):
        return False
    try:
        return json.loads(marker.read_text()) == _finetune_wanted(step, k, epochs, suite)
    except ValueError:
        return False


def _finetune_wanted(step: FinetuneStep, k: int | None, epochs: float, suite: Suite) -> dict[str, Any]:
    return {"task": step.task, "base": step.base, "k": k, **step.settings, "epochs": epochs,
            "data_dir": str(suite.data_dir) if suite.data_dir else None, "source": suite.source}


def run_finetunes(suite: Suite, *, progress: bool, log: Callable[[str], None],
                  needed: Callable[[FinetuneStep, int | None], bool] = lambda step, k: True,
                  fits: Callable[[float | None], bool] = lambda seconds: True) -> list[str]:
    """Fine-tune every model of the suite that is not already saved with the same settings,
    that some cell still ``needed`` (cells that result records fill need none) and that
    ``fits`` before the deadline on its estimate. Returns the ``hf:`` names of the models
    held back by the deadline."""
    held = []
    for step in suite.finetunes:
        for k, epochs in zip(step.ks, step.epochs):
            out = step.out_for(k)
            label = f"{step.name} k={k or 'all'}"
            if _finetune_saved(step, k, epochs, suite):
                log(f"{label}: already fine-tuned with these settings ({out.name})")
                continue
            if not needed(step, k):
                log(f"{label}: every cell of this model is in the result records; not fine-tuned")
                continue
            size = _train_size(step, suite) if k is None else None
            estimate = finetune_seconds(step, k, epochs, size)
            if not fits(estimate):
                log(f"{label}: not fine-tuned: its ~{(estimate or 0) / 60:.0f} min would pass the deadline")
                held.append(f"hf:{out}")
                continue
            settings = {**step.settings, "epochs": epochs}
            augment = settings.pop("augment")
            config = FinetuneConfig(task=step.task, base=step.base, out=str(out), train_limit=k,
                                    data_dir=str(suite.data_dir) if suite.data_dir else None, source=suite.source,
                                    augment=parse_perturbations(augment, option="augment")[0] if augment else None,
                                    **settings)
            log(f"{label}: fine-tuning {step.base} on {step.task}...")
            started = time.perf_counter()
            finetune(config, progress=progress, log=log)
            (out / "harness_suite_step.json").write_text(json.dumps(_finetune_wanted(step, k, epochs, suite), indent=2) + "\n")
            log(f"{label}: done in {time.perf_counter() - started:.0f} s")
    return held


def _train_size(step: FinetuneStep, suite: Suite) -> int | None:
    try:
        task = get_task(step.task)
        split = step.settings.get("train_split", "train")
        return len(task.load(split, data_dir=suite.data_dir, source=suite.source).examples)
    except (HarnessError, OSError, ValueError):
        return None


@dataclass
class SuitePlan:
    """A suite's cells with their status and estimates, and its fine-tunes'."""

    cells: list[ScheduledCell]
    #: (label, estimated seconds, status: "saved", "records" or "")
    finetunes: list[tuple[str, float | None, str]]
    #: the records the plan counted
    records: RecordIndex

    def left_seconds(self) -> tuple[float, int]:
        """Estimated seconds of everything not done (fine-tunes included) and how many cells have no estimate."""
        cells = [c for c in self.cells if not c.status]
        seconds = sum(c.estimate.seconds or 0.0 for c in cells) + sum(s or 0.0 for _, s, status in self.finetunes if not status)
        return seconds, sum(c.estimate.seconds is None for c in cells)


def plan_suite(suite: Suite, store: Store | None = None) -> SuitePlan:
    """Every cell of the suite — filled by a result record, held by ``store``, or to compute,
    with its estimate on this machine (:mod:`harness.run.estimate`; calibrated on the store's
    runs and the records measured on this kind of machine) — and every fine-tune."""

    records = RecordIndex.of(suite.records)
    stored = [] if store is None else [row for _, row in store.runs().iterrows()]
    counts = TokenCounts(suite.data_dir, suite.source)
    estimator = Estimator(measurements([dict(r) for r in stored] + records.runs(), counts))
    in_store = {row_key(dict(r)) for r in stored}
    cells = []
    for cell, block in suite_cells(suite):
        task, model = get_task(cell.task), get_model(cell.model)
        work = counts.workload(task, model, split=block.split, limit=block.limit, sample=block.sample, shots=cell.shots,
                               source=suite.source)
        status = "record" if cell.key in records else "done" if cell.key in in_store else ""
        cells.append(ScheduledCell(cell.key, cell.label, estimator.estimate(work), status))
    needs = _needed_by_cells(suite, cells)
    finetunes = []
    for step in suite.finetunes:
        for k, epochs in zip(step.ks, step.epochs):
            label = f"fine-tune {step.name} k={k or 'all'}"
            status = "saved" if _finetune_saved(step, k, epochs, suite) else "" if needs(step, k) else "records"
            finetunes.append((label, finetune_seconds(step, k, epochs, _train_size(step, suite) if k is None else None), status))
    return SuitePlan(cells, finetunes, records)


def _needed_by_cells(suite: Suite, cells: list[ScheduledCell]) -> Callable[[FinetuneStep, int | None], bool]:
    """Whether a fine-tuned model still has a cell no record fills."""
    def needed(step: FinetuneStep, k: int | None) -> bool:
        name = hide_paths(f"hf:{step.out_for(k)}")
        return any(c.key[1] == name and c.status != "record" for c in cells)
    return needed


def run_suite(suite: Suite, execution: Execution, *, max_minutes: float | None = None) -> RunSummary:
    """Fine-tune what the suite asks first, then evaluate each ``[[run]]`` (once per number of
    shots, and fine-tuned models on their task), all into ``execution.store``. Cells that the
    suite's result records fill are not computed again; with ``max_minutes``, no cell (or
    fine-tune) starts that would not finish by then on its estimate, and the summary says what
    is left. Returns one :class:`~harness.run.cells.RunSummary` for the whole suite."""
    started = time.monotonic()
    plan = plan_suite(suite, execution.store)
    schedule = Schedule(plan.cells, plan.records, started + max_minutes * 60 if max_minutes else None, execution.log,
                        records_folder=hide_paths(str(suite.records)))
    left, unknown = plan.left_seconds()
    done = sum(bool(c.status) for c in plan.cells)
    execution.log(f"Suite {suite.name}: {len(plan.cells)} cells, {done} in the records or the store; "
                  f"{describe_minutes(left)} left by the estimates" + (f" ({unknown} cells without one)" if unknown else "")
                  + (f"; stopping before {max_minutes:g} min" if max_minutes else ""))
    if plan.records.outdated:
        execution.log(f"{len(plan.records.outdated)} result records are outdated (their model or task answers "
                      "differently now): their cells run again")
    held = run_finetunes(suite, progress=execution.progress, log=execution.log, needed=_needed_by_cells(suite, plan.cells),
                         fits=schedule.fits)
    total = RunSummary()
    for block in [step.evaluate for step in suite.finetunes] + suite.runs:
        tasks = tuple(resolve_tasks(block.tasks))
        wanted = [name for name in block.models if name not in held]
        for cell in plan.cells:  # the cells of a model whose fine-tune was held back are left too
            if cell.key[1] in {hide_paths(name) for name in block.models if name in held} and not cell.status:
                schedule.hold_back(cell.key, cell.label)
        models = []
        for name in wanted:
            model = _model_unless_recorded(name, plan)
            if model is None:  # its records fill every cell: no folder needed
                schedule.recorded.extend(c.label for c in plan.cells if c.key[1] == hide_paths(name)
                                         and c.label not in schedule.recorded)
            else:
                models.append(model)
        models = tuple(models)
        if not models:
            continue
        how = replace(execution, batch_size=block.batch_size or suite.batch_size, records=suite.records, schedule=schedule)
        for shots in block.shots:
            what = Evaluation(tasks, models, split=block.split, data_dir=suite.data_dir, source=suite.source,
                              limit=block.limit, sample=block.sample, shots=shots, options=dict(block.options),
                              seed=suite.seed, perturbations=tuple(block.perturbations), suite=suite.provenance(),
                              prompts=block.prompts)
            summary = run_matrix(RunConfig(what, how))
            total.results.extend(summary.results)
            total.skipped.extend(summary.skipped)
            total.failed.extend(summary.failed)
    total.notes.extend(schedule.summary_lines())
    total.recorded.extend(schedule.recorded)
    total.left.extend(c.label for c in schedule.left)
    return total


def _model_unless_recorded(name: str, plan: SuitePlan):
    """The model of ``name``, or None for a fine-tuned model not on this machine whose every
    cell a record fills (it needs no folder then)."""
    hidden = hide_paths(name)
    if name.startswith("hf:") and not Path(name[3:]).exists():
        if all(c.status == "record" for c in plan.cells if c.key[1] == hidden):
            return None
    return get_model(name)


@dataclass(frozen=True)
class PlannedCell:
    """One (task, model, shots, noise) cell a suite asks for."""

    task: str
    model: str
    shots: int
    #: the noise condition ("typo 0.1"; empty: the clean set)
    condition: str = ""
    #: the prompt variant a decoder is asked with
    prompt: str = DEFAULT_PROMPT

    @property
    def key(self) -> tuple[str, str, int, str, str]:
        """What a run filling this cell has (:func:`~harness.store.records.row_key`)."""
        return (self.task, hide_paths(self.model), self.shots, self.condition, self.prompt)

    @property
    def label(self) -> str:
        """"ner × llamacpp:x (5-shot, typo 0.1, prompt=review)"."""
        return cell_label(self.key)


def planned_cells(suite: Suite) -> list[PlannedCell]:
    """Every cell the suite's blocks ask for that can run: the pairs a model answers, few-shot
    only where the model takes shots and the task has examples to draw them from (what
    ``harness run --suite`` skips is not planned)."""
    return list(dict.fromkeys(cell for cell, _ in suite_cells(suite)))


def suite_cells(suite: Suite) -> list[tuple[PlannedCell, RunBlock]]:
    """Each planned cell (see :func:`planned_cells`) with the block that asks for it, in the
    order the suite runs them (a cell two blocks ask for: the first)."""
    from harness.run.runner import few_shot_source

    cells: dict[PlannedCell, RunBlock] = {}
    # a fine-tuned model answers the task it is fine-tuned on and the tasks of its kind with the
    # same labels (a coreference head: every choice task), known before the model exists
    made_for = {name: get_task(step.task) for step in suite.finetunes for name in step.model_names()}

    def answers(trained, task) -> bool:
        return task.name == trained.name or (task.kind == trained.kind and list(task.labels) == list(trained.labels))
    for block in [step.evaluate for step in suite.finetunes] + suite.runs:
        tasks = resolve_tasks(block.tasks)
        models = [get_model(name) for name in block.models]
        conditions = [p.label if p.rate > 0 else "" for p in block.perturbations] or [""]
        for shots in block.shots:  # the runner's order: shots, noise condition, task, model, prompt
            for condition in conditions:
                for task in tasks:
                    for model in models:
                        if (not answers(made_for[model.name], task) if model.name in made_for
                                else model.supports(task) is not None):
                            continue
                        if shots and (not model.few_shot or few_shot_source(task) is None):
                            continue
                        for prompt in prompts_asked(task, model, block.prompts):
                            cells.setdefault(PlannedCell(task.name, model.name, shots, condition, prompt), block)
    return list(cells.items())


def missing_cells(planned: list[PlannedCell], runs: list[dict[str, Any]]) -> list[PlannedCell]:
    """The planned cells no run covers. ``runs``: each run's task, model (its row name: the
    model's name and tags) and settings, as the store or a result record holds them."""
    done = {row_key(run) for run in runs}
    return [c for c in planned if c.key not in done]
