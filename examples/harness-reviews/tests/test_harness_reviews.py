from harness import get_plugins, get_task


def test_plugin_is_installed():
    assert "harness-reviews" in {p["name"] for p in get_plugins()}


def test_registers_task():
    task = get_task("reviews")
    assert task.kind == "classification"
    assert len(task.load(source="demo").examples) == 8


def test_declares_prompt_variants():
    task = get_task("reviews")
    assert task.prompt_names() == ["default", "cue", "cloze"]
    cloze = task.with_prompt("cloze")
    assert cloze.verbalizers == {"negative": " terrible", "positive": " great"} and cloze.prompt_name == "cloze"
