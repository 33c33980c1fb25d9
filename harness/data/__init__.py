"""Data helpers below the core: whether the Hugging Face Hub answers and where transformers
models come from, and the seeded input noise of ``--perturb``."""
