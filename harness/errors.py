"""Exceptions that the CLI turns into one-line messages for people."""
from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """Base class: anything the user can fix (bad name, bad file, bad plugin)."""


class PluginError(HarnessError):
    """A plugin could not be loaded, or registered something invalid."""


class UnknownNameError(HarnessError):
    """A task or model name that no plugin registered."""

    def __init__(self, what: str, name: str, available: list[str], close: list[str] | None = None, note: str = ""):
        self.name = name
        self.available = available
        self.close = close or []
        hint = f" Did you mean {' or '.join(repr(c) for c in self.close)}?" if self.close else ""
        super().__init__(f"Unknown {what} {name!r}.{hint} Available: {', '.join(available) or '(none)'}{note}")


class DataError(HarnessError):
    """A data file that does not match its published format."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
