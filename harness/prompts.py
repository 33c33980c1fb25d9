"""What a causal LM is asked, per task kind.

Every task owns its zero-shot prompt as a jinja2 ``prompt_template`` (variables: ``input``,
``example`` and ``task``). Few-shot examples are *turns*: the rendered prompt of a solved
train example followed by its gold answer (:func:`gold_answer`). A model then joins the
turns either as plain text (each turn followed by a blank line, then the question) or
through its chat template (user / assistant messages; answers without their leading space).

- classification: the prompt, then each label's verbaliser (" negative", " positive") is
  scored by log-likelihood.
- choice, ``substitution`` (the default): Trinh & Le (2018), as lm-evaluation-harness's
  ``wsc273`` does: the pronoun is replaced by each candidate and the rest of the text is
  scored given that context (partial scoring). Raw text: no chat template.
- choice, ``question``: the task's prompt asks what the pronoun refers to; each candidate
  (" the trophy") is scored as the answer.
- tagging and correction: the model generates its answer (a JSON entity list; a word).
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Sequence

import jinja2

from .errors import HarnessError
from .kinds import kind_of

if TYPE_CHECKING:
    from .task import Example, Task

Request = tuple[str, str]  # (context, continuation)
Turn = tuple[str, str]  # (prompt, answer)
#: Renders solved turns and a final prompt into one context string (plain text or a chat template).
Formatter = Callable[[Sequence[Turn], str], str]

#: Possessive determiners: the candidate replacing one takes "'s" ("his turn" -> "Bill's turn").
POSSESSIVES = ("my", "his", "her", "our", "their")
#: Capitalised first words a substituted candidate lower-cases mid-sentence ("because the trophy").
CAPITALISED = ("A", "An", "The", "She", "He", "It", "They", "My", "His", "Her", "Their")


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


def substitution_requests(example: Example, style: str = "harness") -> list[Request]:
    """Trinh & Le's substitution: for each candidate, (text before the pronoun + candidate, rest of text).

    The candidate is adapted as lm-evaluation-harness's ``wsc273`` adapts it: "'s" after it
    when the pronoun is a possessive determiner, and its capitalised first word lower-cased
    unless the pronoun starts a sentence. A sentence starts after ".", "!" or "?" (or at the
    start of the text); with ``style="lm-eval"`` exactly as lm-eval decides it (the character
    two before the pronoun is ".") and lower-cases as it does (every occurrence of that word).
    """
    data = example.input
    text, start = data["text"], data["pronoun_offset"]
    before, after = text[:start], text[start + len(data["pronoun"]):]
    if style == "lm-eval":
        sentence_start = text[start - 2] == "."
    else:
        sentence_start = not before.strip() or before.rstrip().endswith((".", "!", "?"))
    requests = []
    for candidate in data["candidates"]:
        mention = candidate["text"]
        if data["pronoun"].lower() in POSSESSIVES:
            mention += "'s"
        first = mention.split()[0] if mention.split() else ""
        if not sentence_start and first in CAPITALISED:
            mention = mention.replace(first, first.lower()) if style == "lm-eval" else first.lower() + mention[len(first):]
        requests.append((before + mention, after))
    return requests


def verbalise(task: Task, label: str) -> str:
    """The continuation that stands for ``label`` (its verbaliser, else a space and the label)."""
    return task.verbalizers.get(label, f" {label}")


def entity_list(tokens: Sequence[str], tags: Sequence[str]) -> list[dict[str, str]]:
    """The entities of an IOB2 tagging as ``[{"text": ..., "type": ...}]``, in order."""
    from .metrics import entity_spans

    return [{"text": " ".join(tokens[start : end + 1]), "type": kind} for kind, start, end in entity_spans(list(tags))]


def gold_answer(task: Task, example: Example) -> str:
    """The answer a solved example shows after its prompt (with its leading space): the kind's."""
    return kind_of(task).gold_answer(task, example)


def shot_turns(task: Task, shots: Sequence[Example]) -> list[Turn]:
    """Solved examples as (prompt, gold answer) turns (those the kind cannot show are left out)."""
    kind = kind_of(task)
    return [(render_prompt(task, shot), gold_answer(task, shot)) for shot in shots if kind.shows_as_shot(shot)]


def shots_prefix(task: Task, shots: Sequence[Example], method: str = "substitution") -> str:
    """Solved examples as plain text put before the prompt, each followed by a blank line
    (a kind may write them its own way: a choice shot under substitution is its text with the
    pronoun replaced by its gold antecedent)."""
    custom = kind_of(task).shots_prefix(task, shots, method)
    return custom if custom is not None else plain(shot_turns(task, shots), "")


def lm_requests(
    task: Task, example: Example, shots: Sequence[Example] = (), *, method: str = "substitution", chat: Formatter | None = None,
    style: str = "harness",
) -> list[Request]:
    """One (context, continuation) pair per answer option, in option order, after any solved ``shots``.

    ``chat`` renders the turns through a chat template (continuations lose their leading
    space, as an assistant reply has none); without it the prompt is plain text. ``style``
    "lm-eval" reproduces lm-evaluation-harness's requests where they differ on purpose (its
    ``wsc273`` scores the rest of the text after an extra space).
    """
    extra = {"style": style} if style != "harness" else {}  # kinds without styles need not take it
    return kind_of(task).lm_requests(task, example, shots, method=method, chat=chat, **extra)


def generation_prompt(task: Task, example: Example, shots: Sequence[Example] = (), *, chat: Formatter | None = None) -> str:
    """The full prompt after which the model writes its answer (solved shots first)."""
    turns = shot_turns(task, shots)
    if chat:
        return chat([(question, answer.strip()) for question, answer in turns], render_prompt(task, example))
    return plain(turns, render_prompt(task, example))
