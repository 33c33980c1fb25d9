from harness import Example, get_model, get_plugins, get_task


def test_plugin_is_installed():
    assert "harness-textblob" in {p["name"] for p in get_plugins()}


def test_predicts_labels_with_probabilities():
    model = get_model("textblob-sentiment")
    task = get_task("sentiment")
    [good, bad] = model.predict(task, [Example("a", "a wonderful , moving film", "positive"),
                                                 Example("b", "a terrible , boring mess", "negative")])
    assert (good.output, bad.output) == ("positive", "negative")
    assert abs(sum(good.scores.values()) - 1) < 1e-9


def test_identity_names_the_plugin_and_textblob():
    identity = get_model("textblob-sentiment").identity()
    assert identity["plugin"] == "harness-textblob==0.1.0" and identity["textblob"] and identity["code"]
