"""What a causal LM is asked, per task kind: (context, continuation) pairs scored by log-likelihood.

Classification renders the task's jinja2 ``prompt_template`` and appends each label's
verbaliser (" negative", " positive"); the label with the most likely continuation wins.
Choice (pronoun resolution) uses the substitution method of Trinh & Le (2018), as
lm-evaluation-harness's ``wsc273`` does: the pronoun is replaced by each candidate and the
text after the pronoun is scored given that context ("partial scoring").
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import jinja2

from .errors import HarnessError

if TYPE_CHECKING:
    from .task import Example, Task

Request = tuple[str, str]  # (context, continuation)


@lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    # Prompts are plain text, not HTML: no autoescaping; undefined variables are errors.
    return jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(source)


def render_prompt(task: Task, example: Example) -> str:
    """The task's prompt template rendered for one example (``input`` and ``example`` are available)."""
    if not task.prompt_template:
        raise HarnessError(f"Task {task.name!r} has no prompt_template for decoder models")
    return _template(task.prompt_template).render(input=example.input, example=example)


def substitution_requests(example: Example) -> list[Request]:
    """Trinh & Le's substitution: for each candidate, (text before the pronoun + candidate, rest of text)."""
    data = example.input
    text, start = data["text"], data["pronoun_offset"]
    before, after = text[:start], text[start + len(data["pronoun"]):]
    requests = []
    for candidate in data["candidates"]:
        mention = candidate["text"]
        # A mention that opens a sentence mid-text keeps its article lower-case ("because the trophy").
        if before.strip() and mention[:4] == "The " and not before.rstrip().endswith((".", "!", "?")):
            mention = "the " + mention[4:]
        requests.append((before + mention, after))
    return requests


def verbalise(task: Task, label: str) -> str:
    """The continuation that stands for ``label`` (its verbaliser, else a space and the label)."""
    return task.verbalizers.get(label, f" {label}")


def shots_prefix(task: Task, shots: Sequence[Example]) -> str:
    """Solved examples put before the prompt, each followed by a blank line.

    Classification: the rendered prompt and the gold label's verbaliser. Choice: the text
    with the pronoun replaced by its gold antecedent.
    """
    parts = []
    for shot in shots:
        if task.kind == "classification":
            parts.append(render_prompt(task, shot) + verbalise(task, shot.reference))
        elif shot.reference is not None:
            context, rest = substitution_requests(shot)[shot.reference]
            parts.append(context + rest)
    return "".join(part + "\n\n" for part in parts)


def lm_requests(task: Task, example: Example, shots: Sequence[Example] = ()) -> list[Request]:
    """One (context, continuation) pair per answer option, in option order, after any solved ``shots``."""
    prefix = shots_prefix(task, shots)
    if task.kind == "classification":
        prompt = prefix + render_prompt(task, example)
        return [(prompt, verbalise(task, label)) for label in task.labels]
    if task.kind == "choice":
        return [(prefix + context, rest) for context, rest in substitution_requests(example)]
    raise HarnessError(f"Task {task.name!r} is of kind {task.kind}; log-likelihood scoring answers classification and choice")
