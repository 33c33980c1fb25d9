"""The second offline baselines: capitalised runs for NER (checked by hand, then scored by
conlleval as the task scores them) and TextBlob's polarity for sentiment (its own package)."""
from __future__ import annotations

from harness import get_model, get_task
from harness.core.example import Example
from plugins.simple_baselines import capitalised_spans


def test_capitalised_runs_by_hand():
    assert capitalised_spans("ACME rejects Polish plan to buy Danish pork .".split()) == [(2, 3), (6, 7)]
    assert capitalised_spans("Anna Berg said in New York".split()) == [(0, 2), (4, 6)]
    assert capitalised_spans("The Hague is far".split()) == [(0, 2)]  # a run that starts the sentence is kept
    assert capitalised_spans("It rained in USA".split()) == []  # a lone first word; all-caps words are not names here


def test_capitalised_spans_tags_persons_in_iob2_and_scores_like_conlleval():
    from conlleval import evaluate

    task = get_task("ner")
    model = get_model("capitalised-spans")
    sentences = [("Anna Berg said in New York .".split(), ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"]),
                 ("It rained in Paris".split(), ["O", "O", "O", "B-LOC"])]
    predictions = model.predict(task, [Example(str(i), s, g) for i, (s, g) in enumerate(sentences)])
    assert [p.output for p in predictions] == [["B-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O"], ["O", "O", "O", "B-PER"]]
    lines = []
    for (tokens, gold), prediction in zip(sentences, predictions):
        lines += [f"{t} {g} {p}" for t, g, p in zip(tokens, gold, prediction.output)] + [""]
    overall = evaluate(lines)["overall"]["chunks"]["evals"]
    # by hand: gold Anna Berg (PER), New York (LOC), Paris (LOC); guessed three persons, one right
    assert abs(overall["prec"] - 1 / 3) < 1e-9 and abs(overall["rec"] - 1 / 3) < 1e-9
    assert get_model("capitalised-spans").supports(get_task("ner:wnut17")) is None


def test_textblob_sentiment_is_textblobs_polarity():
    from textblob import TextBlob

    model = get_model("textblob-polarity")
    texts = ["a wonderful , moving film", "dull and lifeless", "it is a film"]
    predictions = model.predict(get_task("sentiment"), [Example(str(i), t, "positive") for i, t in enumerate(texts)])
    for text, prediction in zip(texts, predictions):
        polarity = TextBlob(text).sentiment.polarity
        assert prediction.output == ("positive" if polarity >= 0 else "negative")
        assert abs(prediction.scores["positive"] - (polarity + 1) / 2) < 1e-12
    assert [p.output for p in predictions] == ["positive", "negative", "positive"]
