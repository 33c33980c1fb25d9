"""Each built-in kind's parts on their own: scorer, presenter, noise, decoder adapter, fine-tune head."""
from __future__ import annotations

import json

import pytest

from harness import Example, FinetuneHead, HarnessError, Kind, Prediction, Scorer, Task, get_task, kind_of, score
from harness.data.perturb import parse_perturbations
from harness.kinds import check_task, is_correct, paired_statistics
from harness.kinds.choice.display import NO_ANSWER
from harness.kinds.correction.decoding import first_word_answer
from harness.kinds.tagging.grammar import entity_list_gbnf, entity_list_schema


class _Engine:
    """What an adapter may ask of the engine it is given: options and the constraint it holds answers to."""

    def __init__(self, constraint=None, coref="substitution"):
        self._constraint, self._coref = constraint, coref

    def constraint(self, task):
        return self._constraint

    def option(self, name):
        return {"coref": self._coref}[name]


def test_classification_parts():
    task = get_task("sentiment")
    kind = kind_of(task)
    assert kind.scorer.check_output(task, None, "neutral").startswith("output 'neutral' is not one of the task's labels")
    assert kind.scorer.check_output(task, None, None) is None  # an answer that named no label: wrong, not an error
    examples = [Example("a", "good", "positive"), Example("b", "bad", "negative")]
    scores = kind.scorer.score(task, examples, [Prediction("positive"), Prediction("positive")])
    assert scores.headline == "accuracy" and scores.get("accuracy").value == 0.5
    assert kind.decoding.options(task, examples[0]) == [" negative", " positive"]
    assert kind.decoding.option_prediction(task, [("p", " negative"), ("p", " positive")], 1, [0.25, 0.75]) == \
        ("positive", {"negative": 0.25, "positive": 0.75}, " positive")
    assert kind.presenter.option_probabilities(task, examples[0], Prediction("positive", {"negative": 0.2, "positive": 0.8})) \
        == ([0.2, 0.8], 1)
    assert kind.finetune.labels(task) == ["negative", "positive"]


def test_tagging_parts():
    task = get_task("ner")
    kind = kind_of(task)
    example = Example("s", ["UN", "rejects", "Dutch", "plan"], ["B-ORG", "O", "B-MISC", "O"])
    assert kind.scorer.check_output(task, example, ["O"]) == "output is 1 tags, expected a list of 4 tags (one per token)"
    assert json.loads(kind.decoding.gold_answer(task, example)) == [{"text": "UN", "type": "ORG"}, {"text": "Dutch", "type": "MISC"}]
    assert kind.decoding.constraint(task, "json") == {"json": entity_list_schema(task.labels)}
    assert set(kind.decoding.constraint(task, "regex")) == {"regex"} and kind.decoding.constraint(task, "ebnf") is None
    assert kind.decoding.constraint(task, "gbnf") == {"gbnf": entity_list_gbnf(task.labels, opened=True)}
    budget, request, opening = kind.decoding.generation(_Engine(), task, [example], chat=None)
    assert budget == [16 + 6 * 4] and list(request.stops) == ["]", "\n"] and request.structured is None and opening == " ["
    _, held, opening = kind.decoding.generation(_Engine({"json": {}}), task, [example], chat=None)
    assert held.structured == {"json": {}} and opening == ""  # the model opens a schema-held list itself
    read = kind.decoding.read_generation(task, example, "prompt", '{"text": "UN", "type": "ORG"}', "[")
    assert read.output == ["B-ORG", "O", "O", "O"] and read.raw.endswith("]") and read.details["entities_listed"] == 1
    shown = kind.presenter.describe(example.input, example.reference, read.output, read.raw)
    assert shown == {"input": "UN rejects Dutch plan", "reference": "ORG: UN; MISC: Dutch", "prediction": "ORG: UN"}
    assert kind.presenter.explore(example.input, example.reference, read.output, read.raw, read.details)["spans"] == [["ORG", 0, 0]]
    assert kind.presenter.facets(example.input, example.reference, {}) == {"type": ["MISC", "ORG"]}
    stats = kind.scorer.paired_statistics(task, [example], [read])
    assert stats.stats.tolist() == [[1.0, 1.0, 2.0]] and stats.value() == pytest.approx(2 / 3)
    noisy = kind.noise.perturb(task, example, parse_perturbations("typo:1")[0].noise(0, example.id))
    assert len(noisy.input) == 4 and noisy.reference == example.reference and noisy.input != example.input
    first = task.labels[0]
    assert kind.finetune.labels(task)[:3] == ["O", f"B-{first}", f"I-{first}"] and len(kind.finetune.labels(task)) == 9


def test_correction_parts():
    task = get_task("spelling:norvig1")
    kind = kind_of(task)
    misspelt, clean = Example("m", "speling", ["spelling"]), Example("c", "house", ["house"])
    assert kind.scorer.is_correct(misspelt, Prediction(" Spelling ")) and not kind.scorer.is_correct(misspelt, Prediction("spieling"))
    stats = kind.scorer.paired_statistics(task, [misspelt, clean], [Prediction("spelling"), Prediction("horse")])
    assert stats.value() == 1.0 and stats.counted.tolist() == [True, False]  # clean words stay out of the accuracy
    assert kind.perturbation_refused(task).startswith("Task 'spelling:norvig1' is a spelling-correction task")
    assert kind.decoding.gold_answer(task, misspelt) == " spelling"
    assert first_word_answer('The correct spelling is "address".') == "address"
    assert kind.decoding.read_generation(task, misspelt, "p", "spelling.\nmore", "").output == "spelling"
    assert kind.presenter.facets("speling", ["spelling"], {}) == {"edit distance": ["1"]}
    assert kind.finetune is None


def test_choice_parts():
    task = get_task("coref:wsc273")
    kind = kind_of(task)
    data = {"text": "The trophy would not fit in the suitcase because it was too big.", "pronoun": "it",
            "pronoun_offset": 49, "candidates": [{"text": "The trophy", "offset": 0}, {"text": "the suitcase", "offset": 28}],
            "allow_none": False}
    example = Example("w", data, 0)
    requests = kind.decoding.lm_requests(task, example, [], chat=None, options={"coref": "substitution"})
    assert requests == [("The trophy would not fit in the suitcase because the trophy", " was too big."),
                        ("The trophy would not fit in the suitcase because the suitcase", " was too big.")]
    assert kind.decoding.unanswered_output(task, example) == NO_ANSWER
    assert kind.decoding.settings(_Engine(coref="question"), task) == {"method": "question"}
    assert kind.presenter.describe(data, 0, 1, None)["prediction"] == "the suitcase"
    assert kind.presenter.describe(data, 0, NO_ANSWER, None)["prediction"] == "(no answer)"
    noisy = kind.noise.perturb(task, example, parse_perturbations("typo:1")[0].noise(0, example.id))
    text = noisy.input["text"]
    assert text[noisy.input["pronoun_offset"]:][:2] == "it"
    assert all(text[c["offset"]:].startswith(c["text"]) for c in noisy.input["candidates"])


def test_a_kind_leaves_out_the_parts_it_has_no_use_for():
    plain = Kind("plain")
    assert plain.decoding is None and plain.noise is None and plain.finetune is None
    task = Task()
    task.name, task.kind = "t", "plain"
    assert plain.perturbation_refused(task) == "Task 't' is of kind plain, which does not say which of its words noise may change"
    with pytest.raises(NotImplementedError):
        Scorer().score(task, [], [])
    assert FinetuneHead("sequence", "accuracy").labels(get_task("sentiment")) == ["negative", "positive"]


def test_score_uses_a_tasks_own_scoring_where_it_has_one():
    gap = get_task("coref:gap")
    assert type(gap).score is not Task.score  # GAP scores pronoun-name pairs its own way
    examples = gap.load(source="demo").examples
    predictions = [Prediction(0) for _ in examples]
    assert score(gap, examples, predictions) == gap.score(examples, predictions)
    assert score(gap, examples, predictions).get("bias_f_over_m")  # GAP's own breakdown, not the kind's
    ner = get_task("ner")
    with pytest.raises(NotImplementedError, match="call harness.score"):
        ner.score([], [])
    assert is_correct(ner, Example("s", ["x"], ["O"]), Prediction(["O"]))
    assert paired_statistics(ner, [Example("s", ["x"], ["B-PER"])], [Prediction(["B-PER"])]).value() == 1.0


def test_check_task_names_the_task_of_an_unknown_kind_and_missing_labels():
    class Odd(Task):
        name, kind = "odd", "nonsense"
        local_files = {"test": "x"}

    with pytest.raises(HarnessError, match="Task 'odd' has kind 'nonsense'; expected one of choice, classification"):
        check_task(Odd())

    class Unlabelled(Odd):
        name, kind = "unlabelled", "classification"

    with pytest.raises(HarnessError, match="has no labels: set Task.labels to its class labels"):
        check_task(Unlabelled())


def test_each_metric_says_how_the_field_reads_it():
    """Failure rates and errors are lower-is-better, GAP's F/M bias ratio is best at 1 (neither),
    the rest higher-is-better; the Hub's task type is the kind's. Both exports read these."""
    from harness.kinds import higher_is_better, hub_task_type

    assert higher_is_better("ner", "tagging", "f1") is True
    assert higher_is_better("ner", "tagging", "parse_failure_rate") is False
    assert higher_is_better("ner", "tagging", "ungroundable_rate") is False
    assert higher_is_better("spelling:norvig1", "correction", "over_correction_rate") is False
    assert higher_is_better("sentiment", "classification", "invalid_rate") is False
    assert higher_is_better("coref:gap", "choice", "bias_f_over_m") is None  # a task's own metric
    assert higher_is_better("coref:winogender", "choice", "male_female_disagreement") is False
    assert higher_is_better("uninstalled-task", "uninstalled-kind", "score") is True
    assert [hub_task_type(k) for k in ("tagging", "classification", "correction", "choice", "gone")] == [
        "token-classification", "text-classification", "text2text-generation", "multiple-choice", "gone"]
