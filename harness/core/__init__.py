"""The vocabulary every layer shares: examples and predictions, the Task and Model bases and
their lookups, options, scores, decoder requests, and reading data files."""
