"""Prompt variants: the other ways a task can ask a decoder the same question.

A task's :attr:`~harness.core.task.Task.prompt_template` (with its verbalisers and answer
prefix) is its *default* prompt. :attr:`~harness.core.task.Task.prompt_variants` names the
others; ``harness run --prompts all`` runs each decoder once per prompt, so a leaderboard can
show how much a decoder's score, and its rank, depend on the wording.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from harness.errors import HarnessError

#: the name of a task's own prompt (``prompt_template``), which every task has
DEFAULT_PROMPT = "default"
#: ``--prompts all``: the default prompt and every variant
ALL_PROMPTS = "all"


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


def parse_prompt_names(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--prompts`` as names: "all", or a comma-separated list ("default,review"); empty or
    None: the default prompt alone (no variants)."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if ALL_PROMPTS in names and len(names) > 1:
        raise HarnessError(f"--prompts: 'all' already names every prompt; got {', '.join(names)}")
    return names


def prompts_of(available: Iterable[str], asked: Sequence[str]) -> list[str]:
    """The prompts of ``available`` (a task's, default first) that ``asked`` selects, in the
    task's order (``asked`` empty: the default alone)."""
    available = list(available)
    if not asked:
        return [DEFAULT_PROMPT]
    if tuple(asked) == (ALL_PROMPTS,):
        return available
    return [name for name in available if name in asked]


def check_prompt_names(asked: Sequence[str], declared: Mapping[str, Sequence[str]]) -> None:
    """A one-line error for a name no task of the run declares (``declared``: task -> its
    prompt names), listing the names they have."""
    if not asked or tuple(asked) == (ALL_PROMPTS,):
        return
    known = {name for names in declared.values() for name in names}
    unknown = [name for name in asked if name not in known]
    if unknown:
        listing = "; ".join(f"{task}: {', '.join(names)}" for task, names in declared.items())
        raise HarnessError(f"--prompts: no task of this run has a prompt named {', '.join(map(repr, unknown))} "
                           f"(theirs: {listing})")
