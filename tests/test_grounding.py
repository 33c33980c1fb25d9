"""Generated entity lists grounded back to token spans (hand-made cases) and the rates reported."""
from __future__ import annotations

import pytest

from harness import Example, Prediction, get_task, score
from harness.kinds.tagging.grounding import ground_entities, parse_entities
from harness.kinds.tagging.scoring import grounding_metrics

TYPES = ("LOC", "MISC", "ORG", "PER")


def tags_for(tokens, answer):
    return ground_entities(tokens, parse_entities(answer), TYPES)


def test_repeated_strings_land_on_successive_occurrences():
    tokens = "Paris beat Lyon and then Paris lost to Nice".split()
    grounded = tags_for(tokens, '[{"text": "Paris", "type": "ORG"}, {"text": "Lyon", "type": "ORG"}, {"text": "Paris", "type": "ORG"}]')
    assert grounded.tags == ["B-ORG", "O", "B-ORG", "O", "O", "B-ORG", "O", "O", "O"]
    assert grounded.ungrounded == []
    # Listed once: only the first occurrence is tagged.
    assert tags_for(tokens, '[{"text": "Paris", "type": "ORG"}]').tags[5] == "O"


def test_entities_listed_out_of_order_wrap_around_to_the_start():
    tokens = "Anna met Bob in Rome".split()
    grounded = tags_for(tokens, '[["Rome", "LOC"], ["Anna", "PER"]]')
    assert grounded.tags == ["B-PER", "O", "O", "O", "B-LOC"]


def test_case_sensitive_match_is_preferred_then_relaxed():
    tokens = "the Apple of apple growers".split()
    assert tags_for(tokens, '[{"text": "apple", "type": "ORG"}]').tags == ["O", "O", "O", "B-ORG", "O"]
    assert tags_for(tokens, '[{"text": "APPLE", "type": "ORG"}]').tags == ["O", "B-ORG", "O", "O", "O"]
    # Relaxed also ignores spacing across tokens: "Smith's" covers the tokens "Smith 's".
    assert tags_for("I saw Smith 's dog".split(), '[["Smith\'s", "PER"]]').tags == ["O", "O", "B-PER", "I-PER", "O"]


def test_multi_token_entities_get_begin_and_inside_tags():
    tokens = "He flew to New York City yesterday".split()
    assert tags_for(tokens, '[{"text": "New York City", "type": "LOC"}]').tags == ["O", "O", "O", "B-LOC", "I-LOC", "I-LOC", "O"]


def test_entities_not_in_the_text_unknown_types_and_overlaps_are_ungroundable():
    tokens = "Maria works at Siemens".split()
    grounded = tags_for(tokens, '[{"text": "Maria", "type": "PER"}, {"text": "Berlin", "type": "LOC"}, '
                                '{"text": "Siemens", "type": "COMPANY"}, {"text": "Maria", "type": "PER"}]')
    assert grounded.tags == ["B-PER", "O", "O", "O"]
    assert grounded.listed == 4 and grounded.ungrounded == ["Berlin", "Siemens", "Maria"]


def test_answers_that_are_not_a_json_list_are_parse_failures():
    assert parse_entities("I think the entities are Maria and Siemens.") is None
    assert parse_entities('[{"text": "Maria", "type": "PER"}') is None  # unterminated
    assert parse_entities('{"text": "Maria"}') is None
    assert parse_entities('[] and some chatter') == []
    assert parse_entities('Sure! [["Maria", "PER"], {"text": "Siemens", "type": "ORG"}, 3]') == [("Maria", "PER"), ("Siemens", "ORG")]
    failed = ground_entities(["Maria"], None, TYPES)
    assert failed.parse_failed and failed.tags == ["O"]


def test_parse_failure_and_ungroundable_rates_are_reported_with_the_f1():
    task = get_task("ner")
    examples = [Example("a", ["Maria", "works"], ["B-PER", "O"]), Example("b", ["in", "Rome"], ["O", "B-LOC"]),
                Example("c", ["hello"], ["O"])]
    groundings = [ground_entities(e.input, parse_entities(answer), TYPES) for e, answer in
                  zip(examples, ['[["Maria", "PER"], ["Oslo", "LOC"]]', "no idea", '[["hello", "MISC"]]'])]
    predictions = [Prediction(g.tags, details=g.details()) for g in groundings]
    scores = score(task, examples, predictions)
    assert scores.get("parse_failure_rate").value == pytest.approx(1 / 3)
    assert scores.get("ungroundable_rate").value == pytest.approx(1 / 3)  # Oslo, of 3 listed
    assert scores.get("ungroundable_rate").n == 3
    assert scores.get("f1").value == pytest.approx(2 * 0.5 * 0.5 / (0.5 + 0.5))  # 1 of 2 predicted, 1 of 2 gold
    assert grounding_metrics([Prediction(["O"])]) == []  # encoders: no such rates


def test_list_items_that_are_not_entities_make_a_parse_failure():
    from harness.kinds.tagging.grounding import parse_entity_list

    assert parse_entity_list("[1]") == ([], 1)
    assert parse_entity_list('[{"text": "Maria", "type": "PER"}, "Siemens", {"text": "x"}]') == ([("Maria", "PER")], 2)
    entities, malformed = parse_entity_list("[1]")
    only_numbers = ground_entities(["Maria"], entities, TYPES, malformed)
    assert only_numbers.parse_failed and only_numbers.tags == ["O"] and only_numbers.details()["malformed_items"] == 1
    mixed = ground_entities(["Maria", "works"], [("Maria", "PER")], TYPES, 1)
    assert mixed.parse_failed and mixed.tags == ["B-PER", "O"]  # the readable entity is still placed
    clean = ground_entities(["Maria"], [("Maria", "PER")], TYPES)
    assert not clean.parse_failed and "malformed_items" not in clean.details()


def test_a_decoders_bracketed_number_counts_in_the_parse_failure_rate():
    from harness.kinds import kind_of

    task = get_task("ner")
    example = Example("a", ["Maria", "works"], ["B-PER", "O"])
    prediction = kind_of(task).decoding.read_generation(task, example, "prompt", "1]", "[")
    assert prediction.raw == "[1]" and prediction.details["parse_failed"] and prediction.output == ["O", "O"]
    rate = {m.name: m.value for m in score(task, [example], [prediction]).metrics}["parse_failure_rate"]
    assert rate == 1.0
