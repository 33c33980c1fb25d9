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


SENTENCES = ["The film is wonderful .", "A dull , tedious mess .", "The film opens on Friday .",
             "It is okay , I suppose .", "Not bad at all ."]


class ThreeWay:
    """A three-class sentiment task (negative / neutral / positive), as TweetEval's is."""

    def __new__(cls):
        from harness import Task

        class ThreeWaySentiment(Task):
            name = "three-way-sentiment"
            kind = "classification"
            labels = ("negative", "neutral", "positive")

        return ThreeWaySentiment()


def test_vader_reads_its_own_neutral_band_on_a_three_class_task_and_a_chosen_one_with_o_neutral():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compounds = [analyzer.polarity_scores(s)["compound"] for s in SENTENCES]

    def vader_rule(c, band):  # the vaderSentiment README: positive >= 0.05, negative <= -0.05, else neutral
        return "positive" if c >= band else "negative" if c <= -band else "neutral"

    task, examples = ThreeWay(), [Example(str(i), s, "neutral") for i, s in enumerate(SENTENCES)]
    model = get_model("vader")
    assert [p.output for p in model.predict(task, examples)] == [vader_rule(c, 0.05) for c in compounds]
    assert "neutral" in [p.output for p in model.predict(task, examples)]
    wide = model.with_options({"neutral": "0.5"})
    assert [p.output for p in wide.predict(task, examples)] == [vader_rule(c, 0.5) for c in compounds]
    # binary tasks answer as before (compound >= 0), and the cache key is the one it always had
    binary = [p.output for p in model.predict(get_task("sentiment"), examples)]
    assert binary == ["positive" if c >= 0 else "negative" for c in compounds]
    assert model.prediction_options() == {} and wide.prediction_options() == {"neutral": 0.5}
    assert wide.option_tags() == ["neutral=0.5"]


def test_textblob_reads_polarity_zero_as_neutral_and_a_band_on_a_binary_task_is_refused():
    import pytest
    from textblob import TextBlob

    from harness import HarnessError

    task, examples = ThreeWay(), [Example(str(i), s, "neutral") for i, s in enumerate(SENTENCES)]
    polarities = [TextBlob(s).sentiment.polarity for s in SENTENCES]
    model = get_model("textblob-polarity")
    expected = ["neutral" if p == 0 else "positive" if p > 0 else "negative" for p in polarities]
    assert [p.output for p in model.predict(task, examples)] == expected and "neutral" in expected
    with pytest.raises(HarnessError, match="-o neutral= needs a task with a neutral label"):
        model.with_options({"neutral": "0.1"}).check_task(get_task("sentiment"))
    assert model.supports(task) is None and get_model("vader").supports(task) is None
