"""Built-in task plugins (installed as ``harness.tasks``)."""
