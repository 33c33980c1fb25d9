"""Prompt variants: the other ways a task can ask a decoder the same question.

A task's :attr:`~harness.core.task.Task.prompt_template` (with its verbalisers and answer
prefix) is its *default* prompt. :attr:`~harness.core.task.Task.prompt_variants` names the
others; ``harness run --prompts all`` runs each decoder once per prompt, so a leaderboard can
show how much a decoder's score, and its rank, depend on the wording.

Beside the variants a task writes by hand, ``--prompts formats:K`` asks with K *format*
variants of its base prompt (``fmt1`` ... ``fmtK``), in the manner of Sclar et al. (2023,
"Quantifying Language Models' Sensitivity to Spurious Features in Prompt Design"): the same
words with another separator between the prompt's parts, another casing of its field names
("Question", "Answer") and another mark after them. They come in one fixed shuffled order
(seed :data:`FORMAT_SEED`), so ``fmt3`` is the same format in every run and a larger K only
adds prompts. Only the template's own text changes, never what its ``{{ }}`` and ``{% %}``
tags insert (the example's text).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from harness.errors import HarnessError

#: the name of a task's own prompt (``prompt_template``), which every task has
DEFAULT_PROMPT = "default"
#: ``--prompts all``: the default prompt and every variant
ALL_PROMPTS = "all"
#: ``--prompts formats:K``: K format variants of each task's base prompt, named fmt1 ... fmtK
FORMATS = "formats:"
FORMAT_NAME = re.compile(r"fmt([1-9][0-9]*)")
#: what a declared prompt variant may be called: one word that ``--prompts a,b`` can name and a
#: result line or a row label can hold (letters, digits, ``.``, ``_``, ``-``; at most 40)
VARIANT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")


def check_variant_name(name: object, task: str) -> None:
    """A one-line error unless ``name`` may name a declared prompt variant of ``task``: it
    matches :data:`VARIANT_NAME` and is none of the names ``--prompts`` gives a meaning of its
    own (``default``, ``all``, ``fmtN``)."""
    shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
    if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
        raise HarnessError(f"Task {task!r}: prompt variant {shown} cannot be a prompt's name (expected 1-40 letters, "
                           "digits, '.', '_' or '-', starting with a letter)")
    if name in (DEFAULT_PROMPT, ALL_PROMPTS) or FORMAT_NAME.fullmatch(name):
        raise HarnessError(f"Task {task!r}: prompt variant {shown} takes a name --prompts gives a meaning of its own "
                           "(default, all, fmtN: the format variants); rename it")
#: what a format changes: the separator between the prompt's parts (its line breaks), the
#: casing of its field names, and the mark after them (the first of each is the task's own)
SEPARATORS = (("line break", "\n"), ("space", " "), ("blank line", "\n\n"), ("bar", " || "))
CASINGS = ("as written", "lower case", "upper case")
FIELD_MARKS = (":", " :", " -", "::")
#: the shuffle of the formats: fixed, so a format's name means the same prompt in every run
FORMAT_SEED = 0
_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.S)
_FIELD = re.compile(r"(^|\n)([A-Z][A-Za-z]*(?: [A-Za-z]+){0,2}):")


@dataclass(frozen=True)
class PromptVariant:
    """One way of asking a task's question: a jinja2 template like ``Task.prompt_template``
    (variables ``input``, ``example``, ``task``), and what else it changes.

    ``verbalizers`` (classification: label -> continuation scored) and ``answer_prefix``
    (generation: the text the answer starts with) replace the task's where given.
    ``options`` are decoder options the variant needs to be asked at all (a coreference
    task's question wordings set ``coref=question``: its default asks by substitution, which
    reads no template); they label nothing, the variant's name does.
    """

    template: str
    description: str = ""
    verbalizers: Mapping[str, str] | None = None
    answer_prefix: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


def format_count() -> int:
    """How many format variants a prompt can have at most (every combination but its own)."""
    return len(SEPARATORS) * len(CASINGS) * len(FIELD_MARKS) - 1


@lru_cache(maxsize=1)
def _format_choices() -> tuple[tuple[int, int, int], ...]:
    combos = [(s, c, m) for s in range(len(SEPARATORS)) for c in range(len(CASINGS)) for m in range(len(FIELD_MARKS))]
    combos.remove((0, 0, 0))  # the task's own format
    random.Random(FORMAT_SEED).shuffle(combos)
    return tuple(combos)


def _cased(name: str, casing: str) -> str:
    return {"lower case": name.lower(), "upper case": name.upper()}.get(casing, name)


def reformat_template(template: str, separator: str, casing: str, mark: str) -> str:
    """``template`` with its field names ("Answer" before a colon at the start of a line) cased
    by ``casing`` and followed by ``mark`` instead of the colon, then its line breaks replaced
    by ``separator``; the text inside jinja tags is left as it is."""
    parts = _TAG.split(template)
    for i in range(0, len(parts), 2):  # even parts are the template's own text, odd ones its tags
        text = _FIELD.sub(lambda m: f"{m.group(1)}{_cased(m.group(2), casing)}{mark}", parts[i])
        parts[i] = text.replace("\n", separator)
    return "".join(parts)


@lru_cache(maxsize=64)
def _formats_of(template: str) -> tuple[tuple[str, str], ...]:
    """The distinct formats of ``template`` in the fixed order: (description, template), each
    unlike the template itself and every earlier one (a template without line breaks or field
    names has fewer)."""
    seen, formats = {template}, []
    for s, c, m in _format_choices():
        (separator_name, separator), casing, mark = SEPARATORS[s], CASINGS[c], FIELD_MARKS[m]
        changed = reformat_template(template, separator, casing, mark)
        if changed not in seen:
            seen.add(changed)
            formats.append((f"parts joined by a {separator_name}, field names {casing}, {mark.strip()!r} after them", changed))
    return tuple(formats)


def formats_available(template: str) -> int:
    """How many formats ``template`` has (``fmt1`` ... ``fmt<that>``)."""
    return len(_formats_of(template)) if template else 0


def format_variant(base: PromptVariant, number: int) -> PromptVariant:
    """Format ``fmt<number>`` of ``base`` (the prompt formats derive from): the same words with
    another separator, field-name casing and mark (see the module's docstring)."""
    formats = _formats_of(base.template)
    if not 1 <= number <= len(formats):
        raise HarnessError(f"this prompt has {len(formats)} formats (fmt1 to fmt{len(formats)}); got fmt{number}")
    description, template = formats[number - 1]
    return replace(base, template=template, description=f"format {number}: {description}")


def _formats_asked(asked: Sequence[str]) -> int:
    return max((int(name[len(FORMATS):]) for name in asked if name.startswith(FORMATS)), default=0)


def parse_prompt_names(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--prompts`` as names: "all", a comma-separated list ("default,review"), and
    "formats:K" (K format variants, alone or with the others); empty or None: the default
    prompt alone (no variants)."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    for name in names:
        if name.startswith(FORMATS):
            count = name[len(FORMATS):]
            if not (count.isdigit() and 1 <= int(count) <= format_count()):
                raise HarnessError(f"--prompts: {name!r}: expected formats:K with K from 1 to {format_count()}")
    named = [name for name in names if not name.startswith(FORMATS)]
    if ALL_PROMPTS in named and len(named) > 1:
        raise HarnessError(f"--prompts: 'all' already names every prompt; got {', '.join(names)}")
    return names


def prompts_of(available: Iterable[str], asked: Sequence[str], formats: int = 0) -> list[str]:
    """The prompts of ``available`` (a task's, default first) that ``asked`` selects, in the
    task's order, then the format variants ``formats:K`` asks for, at most ``formats`` (the
    task's: :meth:`Task.prompt_formats`); ``asked`` empty: the default alone."""
    available = list(available)
    if not asked:
        return [DEFAULT_PROMPT]
    named = [name for name in asked if not name.startswith(FORMATS)]
    if tuple(named) == (ALL_PROMPTS,):
        chosen = available
    else:
        chosen = [name for name in available if name in named]
        chosen += [name for name in named if FORMAT_NAME.fullmatch(name) and available and name not in chosen]
    generated = [f"fmt{i}" for i in range(1, min(_formats_asked(asked), formats) + 1)] if available else []
    return chosen + [name for name in generated if name not in chosen]


def check_prompt_names(asked: Sequence[str], tasks: Iterable) -> None:
    """A one-line error for a name no task of the run (``tasks``: each with ``name`` and
    ``prompt_names()``) declares, listing the names they have; ``fmtN`` names a format variant."""
    if not asked or tuple(asked) == (ALL_PROMPTS,):
        return
    declared = {task.name: names for task in tasks if (names := task.prompt_names())}
    known = {name for names in declared.values() for name in names}
    if declared:
        known |= {f"fmt{i}" for i in range(1, format_count() + 1)}
    unknown = [name for name in asked if name not in known and name != ALL_PROMPTS and not name.startswith(FORMATS)]
    if unknown:
        listing = "; ".join(f"{task}: {', '.join(names)}" for task, names in declared.items())
        raise HarnessError(f"--prompts: no task of this run has a prompt named {', '.join(map(repr, unknown))} "
                           f"(theirs: {listing})")
