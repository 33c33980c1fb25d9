"""Built-in task plugins, one module each, with their demo splits in ``demo/``."""
