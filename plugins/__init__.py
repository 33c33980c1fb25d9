"""Built-in model plugins (installed as ``harness.models``)."""
