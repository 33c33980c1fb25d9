"""The results store (SQLite: runs, metrics, predictions, caches) and its exports."""
from harness.store.store import Store

__all__ = ["Store"]
