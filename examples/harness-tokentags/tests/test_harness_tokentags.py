from harness import get_model, get_plugins, get_task, score


def test_plugin_is_installed():
    assert "harness-tokentags" in {p["name"] for p in get_plugins()}


def test_the_task_loads_and_the_kind_scores_it():
    task = get_task("pos-toy")
    examples = task.load(source="demo").examples
    assert len(examples) == 8 and all(len(e.input) == len(e.reference) for e in examples)
    predictions = get_model("suffix-pos").predict(task, examples)
    scores = score(task, examples, predictions)
    assert scores.headline == "token_accuracy" and 0.5 < scores.get("token_accuracy").value <= 1.0
