"""Built-in model plugins, one module each, each declared as a ``harness`` entry point in
pyproject.toml and discovered as a third-party plugin is."""
