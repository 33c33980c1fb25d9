from harness import get_plugins, get_task


def test_plugin_is_installed():
    assert "harness-reviews" in {p["name"] for p in get_plugins()}


def test_registers_task():
    task = get_task("reviews")
    assert task.kind == "classification"
    assert len(task.load(source="demo").examples) == 8
