"""How a prompt is put together for a decoder LM, whatever the kind.

Every task owns its zero-shot prompt as a jinja2 ``prompt_template`` (variables: ``input``,
``example`` and ``task``). Few-shot examples are *turns*: the rendered prompt of a solved
train example followed by its gold answer (the kind's :meth:`DecoderAdapter.gold_answer`).
A model then joins the turns either as plain text (each turn followed by a blank line, then
the question) or through its chat template (user / assistant messages; answers without
their leading space). What each kind asks and how it reads answers lives in its folder's
``decoding.py``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import jinja2

from harness.core.requests import Turn
from harness.core.task import Example, Task
from harness.errors import HarnessError


@lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    # Prompts are plain text, not HTML: no autoescaping; undefined variables are errors.
    return jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(source)


def render_prompt(task: Task, example: Example) -> str:
    """The task's prompt template rendered for one example (``input``, ``example`` and ``task`` are available)."""
    if not task.prompt_template:
        raise HarnessError(f"Task {task.name!r} has no prompt_template for decoder models")
    return _template(task.prompt_template).render(input=example.input, example=example, task=task)


def chat_messages(turns: Sequence[Turn], prompt: str) -> list[dict[str, str]]:
    """Solved turns as user / assistant messages, then the prompt as the last user message."""
    messages = []
    for question, answer in turns:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": prompt})
    return messages


def plain(turns: Sequence[Turn], prompt: str) -> str:
    """Solved turns as plain text, each followed by a blank line, then the prompt."""
    return "".join(question + answer + "\n\n" for question, answer in turns) + prompt


def verbalise(task: Task, label: str) -> str:
    """The continuation that stands for ``label`` (its verbaliser, else a space and the label)."""
    return task.verbalizers.get(label, f" {label}")
