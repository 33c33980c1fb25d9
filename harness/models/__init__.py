"""Built-in model plugins, one module each (registered from ``DEFAULT_PLUGINS``)."""
