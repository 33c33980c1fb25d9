"""Task kinds as objects.

A kind says what a task's examples and answers are, and bundles everything that depends
on it: scoring and metrics, what counts as exactly right, how decoder LMs are asked and
how their answers are read, the head an encoder is fine-tuned with, and how an example
and a prediction are shown in the report. The core asks a task's kind (:func:`kind_of`)
and never names one. The four built-in kinds are plugins in this package; a plugin adds a
kind with the ``harness_register_kinds`` hook.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import HarnessError
from ..plugins import Registration, collect, unknown

if TYPE_CHECKING:
    from ..analysis import Table
    from ..compare import PairedStatistics
    from ..decoder import DecoderLM, GenerationRequest
    from ..metrics import Scores
    from ..model import Prediction
    from ..prompts import Formatter, Request
    from ..task import Example, Task


@dataclass(frozen=True)
class FinetuneHead:
    """How an encoder is fine-tuned for a kind: its transformers head and what it predicts."""

    #: "token" (a label per word) or "sequence" (one label per example)
    head: str
    #: the metric the best checkpoint is chosen on
    metric: str


class Kind:
    """Base class of task kinds: subclass it, set ``name``, override what the kind needs."""

    name: str = ""
    description: str = ""
    #: what ``Task.labels`` lists for tasks of this kind (None: the kind needs no labels)
    labels_needed: str | None = None
    #: how decoder LMs answer: "loglikelihood" (each option scored) or "generation"
    decoder_method: str = "loglikelihood"
    #: how encoders are fine-tuned for it (None: ``harness finetune`` does not train it)
    finetune: FinetuneHead | None = None
    #: decoder LMs (``hf-causal:``, ``vllm:``, packaged models) can answer it: it implements
    #: :meth:`options` (log-likelihood) or :meth:`generation` and :meth:`read_generation`
    decoders: bool = False

    # -- scoring ---------------------------------------------------------------------------

    def score(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
        """Every metric with a bootstrap CI (``Task.score`` calls this unless a task overrides it)."""
        raise HarnessError(f"Task {task.name!r}: kind {self.name!r} has no default scoring; override Task.score")

    def check_output(self, task: Task, example: Example, output: Any) -> str | None:
        """None when ``output`` has the shape this kind's answers have, else what is wrong
        (a model returning it is stopped with a one-line error naming the example)."""
        return None

    def is_correct(self, example: Example, prediction: Prediction) -> bool:
        """Whether one prediction is exactly right (the report lists the others as errors)."""
        return prediction.output == example.reference

    # -- the report ------------------------------------------------------------------------

    def describe(self, data: Any, reference: Any, output: Any, raw: str | None) -> dict[str, str]:
        """Human-readable input, gold answer and predicted answer of one example."""
        return {"input": str(data), "reference": str(reference), "prediction": str(raw or output)}

    def paired_statistics(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction]) -> PairedStatistics:
        """Per-example statistics the headline metric is computed from (the report's paired
        tests resample them): by default the share of exactly right answers."""
        from ..compare import accuracy_statistics

        return accuracy_statistics([e.id for e in examples], [self.is_correct(e, p) for e, p in zip(examples, predictions)])

    def analyses(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction]) -> list[Table]:
        """Error analyses of one model's answers, shown on the task page (none by default)."""
        return []

    def option_probabilities(self, task: Task, example: Example, prediction: Prediction) -> tuple[list[float], int] | None:
        """The model's probability of each option and the gold option's index, for calibration
        (None: the prediction has no probabilities, or the gold answer is not an option)."""
        return None

    def explore(self, data: Any, reference: Any, output: Any, raw: str | None, details: dict | None) -> dict[str, Any]:
        """One example as the example explorer shows it: ``text``, ``gold`` and ``answer`` as
        plain strings (a kind may give ``tokens`` and entity ``spans`` instead)."""
        shown = self.describe(data, reference, output, raw)
        return {"text": shown["input"], "gold": shown["reference"], "answer": shown["prediction"]}

    def facets(self, data: Any, reference: Any, meta: dict[str, Any]) -> dict[str, list[str]]:
        """What the explorer can filter one example by (facet name -> its values)."""
        return {}

    # -- robustness ------------------------------------------------------------------------

    def perturbation_refused(self, task: Task) -> str | None:
        """None when ``--perturb`` can add noise to the task's inputs, else why not."""
        return f"Task {task.name!r} is of kind {self.name}, which does not say which of its words noise may change"

    def perturb(self, task: Task, example: Example, noise) -> Example:
        """The example with ``noise`` (:class:`~harness.perturb.WordNoise`) applied to its words,
        its gold answer still aligned with them."""
        raise HarnessError(self.perturbation_refused(task) or f"Task {task.name!r}: no perturbation")

    # -- decoder LMs -----------------------------------------------------------------------

    def gold_answer(self, task: Task, example: Example) -> str:
        """The answer a solved (few-shot) example shows after its prompt, with its leading space."""
        raise HarnessError(f"Task {task.name!r}: kind {self.name!r} gives no gold answer for few-shot examples")

    def shows_as_shot(self, example: Example) -> bool:
        """Whether a solved example can be shown as a few-shot example."""
        return True

    def shots_prefix(self, task: Task, shots: Sequence[Example], method: str) -> str | None:
        """Solved examples as plain text before the prompt when the kind writes them its own
        way (None: the usual prompt-and-answer turns)."""
        return None

    def options(self, task: Task, example: Example) -> list[str]:
        """Log-likelihood kinds: the continuations scored after the prompt, in option order."""
        raise HarnessError(f"Task {task.name!r} is of kind {self.name}; it is answered by generation, not by scoring options")

    def lm_requests(self, task: Task, example: Example, shots: Sequence[Example], *, method: str,
                    chat: Formatter | None) -> list[Request]:
        """One (context, continuation) request per option, after any solved ``shots``."""
        from ..prompts import generation_prompt

        context = generation_prompt(task, example, shots, chat=chat)
        return [(context, option.lstrip() if chat else option) for option in self.options(task, example)]

    def option_names(self, task: Task, example: Example) -> list[str]:
        """Log-likelihood kinds asked as generation: each option as the model should write it
        (listed in the prompt and matched against its answer), in option order."""
        return [option.strip() for option in self.options(task, example)]

    def option_output(self, task: Task, example: Example, index: int) -> Any:
        """The output that option ``index`` stands for (an option's index by default)."""
        return index

    def unanswered_output(self, task: Task, example: Example) -> Any:
        """The output of an answer that names no option: always scored as wrong."""
        return None

    def option_prediction(self, task: Task, requests: Sequence[Request], best: int, probabilities: Sequence[float],
                          *, method: str) -> tuple[Any, dict[str, float], str]:
        """(output, per-option probabilities, raw text) for the best-scoring option."""
        names = [str(i) for i in range(len(requests))]
        return best, dict(zip(names, probabilities)), requests[best][1]

    def decoder_settings(self, decoder: DecoderLM, task: Task) -> dict[str, Any]:
        """What decoders' predictions on the task depend on beyond the prompt (in the cache key)."""
        return {}

    def answer_opening(self, task: Task, chat: Formatter | None) -> str:
        """The answer's opening written for the model after the prompt (``Task.answer_prefix``,
        after a space in plain prompts)."""
        if not task.answer_prefix:
            return ""
        return task.answer_prefix if chat else " " + task.answer_prefix

    def generation(self, decoder: DecoderLM, task: Task, examples: Sequence[Example],
                   chat: Formatter | None) -> tuple[list[int], GenerationRequest, str]:
        """Generation kinds: token budgets, what the engine is asked, and the answer's opening
        written for the model after the prompt."""
        raise HarnessError(f"Task {task.name!r} is of kind {self.name}; it is answered by scoring options, not by generation")

    def read_generation(self, decoder: DecoderLM, task: Task, example: Example, prompt: str, text: str,
                        opening: str) -> Prediction:
        """One generated answer as a prediction."""
        raise NotImplementedError

    # -- fine-tuning -----------------------------------------------------------------------

    def finetune_labels(self, task: Task) -> list[str]:
        """The labels a fine-tuned head predicts."""
        return list(task.labels)


_cache: dict[tuple[int, ...], dict[str, Registration]] = {}


def get_kinds() -> dict[str, Registration]:
    """Every registered kind, by name (collected once per set of registered plugins: kinds
    are asked for every example scored)."""
    from ..plugins import load_plugins, pm

    load_plugins()
    key = tuple(sorted(id(plugin) for plugin in pm.get_plugins()))
    if key not in _cache:
        _cache.clear()
        _cache[key] = collect("harness_register_kinds", Kind, "kind")
    return _cache[key]


def get_kind(name: str) -> Kind:
    """The kind registered as ``name``; a one-line error listing the kinds otherwise."""
    kinds = get_kinds()
    if name not in kinds:
        raise unknown("kind", name, kinds)
    return kinds[name].obj


def shown_kind(name: str) -> Kind:
    """The kind registered as ``name``, or a plain :class:`Kind` for one no longer installed
    (the report shows its examples plainly, with no analyses)."""
    from ..errors import UnknownNameError

    try:
        return get_kind(name)
    except UnknownNameError:
        return Kind()


def kind_of(task: Task) -> Kind:
    """The kind object of a task (its ``kind`` names a registered kind)."""
    return get_kind(task.kind)


def kind_names() -> list[str]:
    """The names of every registered kind."""
    return sorted({reg.obj.name for reg in get_kinds().values()})


def answers(kinds: frozenset[str] | set[str], task: Task) -> bool:
    """Whether a model that answers ``kinds`` can answer ``task``."""
    return task.kind in kinds
