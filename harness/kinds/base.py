"""A task kind, composed of parts that each do one job.

A kind says what a task's examples and answers are. Its parts, each in the kind's folder:

- :class:`Scorer` (required): every metric with its interval, the shape an answer must
  have, what counts as exactly right, the per-example statistics of the headline;
- :class:`Presenter`: how an example and an answer show in the report, its error analyses,
  what the example explorer filters by, the option probabilities calibration reads;
- :class:`Noise`: how ``--perturb`` adds noise to an example with its gold answer aligned;
- :class:`DecoderAdapter`: how decoder LMs are asked (options scored, or generation) and
  how their answers are read back; engines ask it, it never names an engine;
- :class:`FinetuneHead`: the transformers head ``harness finetune`` trains and its labels.

A kind leaves out the parts it has no use for: without a decoder adapter decoders skip its
tasks, without noise ``--perturb`` refuses them, without a head ``finetune`` does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from harness.core.model import Prediction
from harness.core.options import declared_options
from harness.core.requests import Formatter, GenerationRequest, Request
from harness.core.scores import Scores
from harness.core.task import Example, Task
from harness.errors import HarnessError
from harness.kinds.prompting import plain, render_prompt
from harness.scoring.paired import PairedStatistics, accuracy_statistics
from harness.scoring.tables import Table


class Scorer:
    """Scores one model's answers to a task of the kind. Subclasses implement :meth:`score`."""

    #: how the field reads each metric where higher is not better: False (lower is better: a
    #: failure rate), None (neither: its ideal is in the middle, a ratio of 1); unlisted
    #: metrics are higher-is-better. The exports say so (lm-eval's ``higher_is_better``, the
    #: model card's metric args); :attr:`harness.Task.metric_directions` adds a task's own
    metric_directions: dict[str, bool | None] = {"parse_failure_rate": False}
    #: what the n of a breakdown's rows counts, by the breakdown's dimension, where not the
    #: metric's own unit: tagging's ``type=PER`` rows count gold entities (their support);
    #: :attr:`harness.Task.breakdown_units` adds a task's own
    breakdown_units: dict[str, str] = {}

    def higher_is_better(self, metric: str) -> bool | None:
        """Whether a higher value of ``metric`` is better (None: neither), by :attr:`metric_directions`."""
        return self.metric_directions.get(metric, True)

    def score(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction], seed: int = 0) -> Scores:
        """Every metric with a bootstrap CI; ``Scores.headline`` names the leaderboard's."""
        raise NotImplementedError

    def check_output(self, task: Task, example: Example, output: Any) -> str | None:
        """None when ``output`` has the shape this kind's answers have, else what is wrong
        (a model returning it is stopped with a one-line error naming the example)."""
        return None

    def check_reference(self, task: Task, example: Example) -> str | None:
        """None when the example's gold answer is one this kind can score for the task, else what
        is wrong with it (a split holding one is stopped when it loads, naming the file)."""
        return None

    def is_correct(self, example: Example, prediction: Prediction) -> bool:
        """Whether one prediction is exactly right (the report lists the others as errors)."""
        return prediction.output == example.reference

    def evaluate_view(self, example: Example, prediction: Prediction) -> tuple[Any, Any]:
        """(prediction, reference) as an ``evaluate`` metric is given them (:attr:`Task.extra_metrics`):
        by default the output and the gold answer as they are (a label, a list of tags, an index)."""
        return prediction.output, example.reference

    def paired_statistics(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction]) -> PairedStatistics:
        """Per-example statistics the headline metric is computed from (the report's paired
        tests resample them): by default the share of exactly right answers."""
        return accuracy_statistics([e.id for e in examples], [self.is_correct(e, p) for e, p in zip(examples, predictions)])


class Presenter:
    """How examples and answers of the kind show in the report (plain by default)."""

    def describe(self, data: Any, reference: Any, output: Any, raw: str | None) -> dict[str, str]:
        """Human-readable input, gold answer and predicted answer of one example."""
        return {"input": str(data), "reference": str(reference), "prediction": str(raw or output)}

    def explore(self, data: Any, reference: Any, output: Any, raw: str | None, details: dict | None) -> dict[str, Any]:
        """One example as the example explorer shows it: ``text``, ``gold`` and ``answer`` as
        plain strings (a kind may give ``tokens`` and entity ``spans`` instead)."""
        shown = self.describe(data, reference, output, raw)
        return {"text": shown["input"], "gold": shown["reference"], "answer": shown["prediction"]}

    def facets(self, data: Any, reference: Any, meta: dict[str, Any]) -> dict[str, list[str]]:
        """What the explorer can filter one example by (facet name -> its values)."""
        return {}

    def analyses(self, task: Task, examples: Sequence[Example], predictions: Sequence[Prediction],
                 correct: Sequence[bool]) -> list[Table]:
        """Error analyses of one model's answers, shown on the task page (``correct``: the
        scorer's verdict on each); none by default."""
        return []

    def option_probabilities(self, task: Task, example: Example, prediction: Prediction) -> tuple[list[float], int] | None:
        """The model's probability of each option and the gold option's index, for calibration
        (None: the prediction has no probabilities, or the gold answer is not an option)."""
        return None

    def forget(self) -> None:
        """Drop what was remembered about the examples shown (the report calls this once a
        task column is done)."""


class Noise:
    """How ``--perturb`` adds noise to an example of the kind."""

    def refused(self, task: Task) -> str | None:
        """None when noise may be added to the task's inputs, else why not."""
        return None

    def perturb(self, task: Task, example: Example, noise) -> Example:
        """The example with ``noise`` (:class:`~harness.data.perturb.WordNoise`) applied to
        its words, its gold answer still aligned with them."""
        raise NotImplementedError


class DecoderAdapter:
    """How decoder LMs are asked a task of the kind and how their answers are read.

    ``method`` "loglikelihood": the engine scores each of :meth:`options` after the prompt
    (or, for engines that cannot score, is asked to name one); "generation": it writes an
    answer (:meth:`generation`), read back by :meth:`read_generation`.
    """

    method: str = "loglikelihood"
    #: options of every decoder that only this kind reads, as ``Model.options`` declares them
    #: (name -> allowed values, default first, or a :class:`harness.Option`): ``-o NAME=VALUE``
    #: on any decoder; their values reach :meth:`lm_requests`, :meth:`shots_prefix` and
    #: :meth:`option_prediction` as ``options``
    decoder_options: dict[str, Any] = {}

    def gold_answer(self, task: Task, example: Example) -> str:
        """The answer a solved (few-shot) example shows after its prompt, with its leading space."""
        raise HarnessError(f"Task {task.name!r}: kind {task.kind!r} gives no gold answer for few-shot examples")

    def shows_as_shot(self, example: Example) -> bool:
        """Whether a solved example can be shown as a few-shot example."""
        return True

    def shots_prefix(self, task: Task, shots: Sequence[Example], options: Mapping[str, Any]) -> str | None:
        """Solved examples as plain text before the prompt when the kind writes them its own
        way (None: the usual prompt-and-answer turns); ``options``: the values of
        :attr:`decoder_options`."""
        return None

    def shot_turns(self, task: Task, shots: Sequence[Example]) -> list[tuple[str, str]]:
        """Solved examples as (prompt, gold answer) turns (those the kind cannot show are left out)."""
        return [(render_prompt(task, shot), self.gold_answer(task, shot)) for shot in shots if self.shows_as_shot(shot)]

    def shots_text(self, task: Task, shots: Sequence[Example], options: Mapping[str, Any] | None = None) -> str:
        """Solved examples as plain text put before the prompt, each followed by a blank line
        (or the kind's own :meth:`shots_prefix`; ``options`` left out: every
        :attr:`decoder_options` at its default)."""
        custom = self.shots_prefix(task, shots, self.option_values(options))
        return custom if custom is not None else plain(self.shot_turns(task, shots), "")

    def generation_prompt(self, task: Task, example: Example, shots: Sequence[Example] = (), *,
                          chat: Formatter | None = None) -> str:
        """The full prompt after which the model writes its answer (solved shots first)."""
        turns = self.shot_turns(task, shots)
        if chat:
            return chat([(question, answer.strip()) for question, answer in turns], render_prompt(task, example))
        return plain(turns, render_prompt(task, example))

    def option_values(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The value of each of :attr:`decoder_options`: those in ``options``, else its default."""
        given = options or {}
        declared = declared_options(self.decoder_options, {})
        return {name: given.get(name, option.default) for name, option in declared.items()}

    def settings(self, decoder, task: Task) -> dict[str, Any]:
        """What decoders' predictions on the task depend on beyond the prompt (in the cache key)."""
        return {}

    def answer_opening(self, task: Task, chat: Formatter | None) -> str:
        """The answer's opening written for the model after the prompt (``Task.answer_prefix``,
        after a space in plain prompts)."""
        if not task.answer_prefix:
            return ""
        return task.answer_prefix if chat else " " + task.answer_prefix

    # -- log-likelihood kinds ----------------------------------------------------------------

    def options(self, task: Task, example: Example) -> list[str]:
        """The continuations scored after the prompt, in option order."""
        raise HarnessError(f"Task {task.name!r} is of kind {task.kind}; it is answered by generation, not by scoring options")

    def lm_requests(self, task: Task, example: Example, shots: Sequence[Example], *, chat: Formatter | None,
                    options: Mapping[str, Any] | None = None) -> list[Request]:
        """One (context, continuation) request per option, after any solved ``shots``
        (``options``: the values of :attr:`decoder_options`)."""
        context = self.generation_prompt(task, example, shots, chat=chat)
        return [(context, option.lstrip() if chat else option) for option in self.options(task, example)]

    def option_names(self, task: Task, example: Example) -> list[str]:
        """Options asked as generation: each option as the model should write it (listed in
        the prompt and matched against its answer), in option order."""
        return [option.strip() for option in self.options(task, example)]

    def option_output(self, task: Task, example: Example, index: int) -> Any:
        """The output that option ``index`` stands for (an option's index by default)."""
        return index

    def unanswered_output(self, task: Task, example: Example) -> Any:
        """The output of an answer that names no option: always scored as wrong."""
        return None

    def option_prediction(self, task: Task, requests: Sequence[Request], best: int, probabilities: Sequence[float],
                          *, options: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, float], str]:
        """(output, per-option probabilities, raw text) for the best-scoring option."""
        names = [str(i) for i in range(len(requests))]
        return best, dict(zip(names, probabilities)), requests[best][1]

    # -- generation kinds --------------------------------------------------------------------

    def constraint(self, task: Task, form: str) -> dict[str, Any] | None:
        """What an answer is held to, written in the engine's ``form``: ``{form: value}``, with
        "json" a JSON schema of the whole answer, "regex" a regular expression and "gbnf" a
        llama.cpp grammar of the rest of it after the written opening; None where the kind has
        no grammar for its answers or none in that form. Engines pass it through unread."""
        return None

    def generation(self, decoder, task: Task, examples: Sequence[Example],
                   chat: Formatter | None) -> tuple[list[int], GenerationRequest, str]:
        """Token budgets, what the engine is asked, and the answer's opening written for the
        model after the prompt."""
        raise HarnessError(f"Task {task.name!r} is of kind {task.kind}; it is answered by scoring options, not by generation")

    def read_generation(self, task: Task, example: Example, prompt: str, text: str, opening: str) -> Prediction:
        """One generated answer as a prediction."""
        raise NotImplementedError


def wrong_type(field: str, value: Any, expected: str) -> str:
    """A type error named as one: ``Example.input is a str ('EU rejects …'), expected a list
    of tokens`` (what kinds' :meth:`Scorer.check_reference` return for a wrongly built example)."""
    shown, name = repr(value), type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{field} is {article} {name} ({shown[:40] + '…' if len(shown) > 40 else shown}), expected {expected}"


def list_of_str(value: Any) -> bool:
    """Whether ``value`` is a list or tuple of strings (tokens, tags, corrections)."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True)
class FinetuneHead:
    """How an encoder is fine-tuned for a kind: its transformers head and what it predicts."""

    #: "token" (a label per word), "sequence" (one label per example) or "pair" (a sequence
    #: head asked once per candidate of an example: is this the answer? :data:`PAIR_LABELS`)
    head: str
    #: the metric the best checkpoint is chosen on
    metric: str

    def labels(self, task: Task) -> list[str]:
        """The labels the head predicts: a token head's O, then B-/I- per entity type; a
        sequence head's the task's labels; a pair head's :data:`PAIR_LABELS`."""
        if self.head == "token":
            return ["O"] + [f"{prefix}-{t}" for t in task.labels for prefix in "BI"]
        if self.head == "pair":
            return list(PAIR_LABELS)
        return list(task.labels)

    def pairs(self, example_input: Any) -> list[tuple[str, str]]:
        """A pair head's text pairs for one example, one per row the head is asked (the choice
        kind: one per candidate); only pair heads have them."""
        raise NotImplementedError(f"a {self.head} head asks no pairs")

    def choose(self, probabilities: Sequence[float], example_input: Any) -> Any:
        """A pair head's answer to an example from each of its pairs' probability of
        :data:`PAIR_LABELS`' second label; only pair heads answer so."""
        raise NotImplementedError(f"a {self.head} head answers from no pairs")

    def answers(self, probabilities: Sequence[float], example_inputs: Sequence[Any],
                counts: Sequence[int]) -> list[tuple[Any, list[float]]]:
        """Each example's answer (:meth:`choose`) and its pairs' probabilities, from the
        probabilities of every pair of ``example_inputs`` in order, ``counts`` of them each."""
        answered, at = [], 0
        for example_input, count in zip(example_inputs, counts):
            share = [float(p) for p in probabilities[at:at + count]]
            at += count
            answered.append((self.choose(share, example_input), share))
        return answered


#: the labels of a pair head (:class:`FinetuneHead`): the candidate is not / is the answer
PAIR_LABELS = ("other", "antecedent")


@dataclass(frozen=True)
class Kind:
    """A task kind: its name, what ``Task.labels`` lists for it, and its parts."""

    name: str
    description: str = ""
    scorer: Scorer = field(default_factory=Scorer)
    presenter: Presenter = field(default_factory=Presenter)
    #: None: ``--perturb`` refuses the kind's tasks
    noise: Noise | None = None
    #: None: decoder LMs do not answer the kind
    decoding: DecoderAdapter | None = None
    #: None: ``harness finetune`` does not train the kind
    finetune: FinetuneHead | None = None
    #: what ``Task.labels`` lists for tasks of this kind (None: the kind needs no labels)
    labels_needed: str | None = None
    #: the Hugging Face Hub's task type of the kind's tasks (a model card's ``model-index``:
    #: ``token-classification``); None: the kind's name
    hub_task_type: str | None = None
    #: a model's answer may quote the example's text (a corrected word): published result
    #: records of a dataset whose text may not be republished then withhold the answer too.
    #: False where answers are labels, tags or option numbers (what every record keeps)
    answers_quote_text: bool = True

    def perturbation_refused(self, task: Task) -> str | None:
        """None when ``--perturb`` can add noise to the task's inputs, else why not."""
        if self.noise is None:
            return f"Task {task.name!r} is of kind {self.name}, which does not say which of its words noise may change"
        return self.noise.refused(task)
