"""What a published page may show: no path of the machine that built it, and no example
text of a dataset whose licence forbids republishing it."""
from __future__ import annotations

import hashlib
import re
from typing import Any

#: absolute POSIX paths (``/home/me/x``), home-relative ones (``~/x``) and Windows ones (``C:\\x``)
_PATH = re.compile(r"(?<![\w./-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\,;:'\"()<>\[\]{}|]+){2,}[/\\]?")


def hide_paths(text: Any) -> Any:
    """``text`` with every absolute path replaced by its last part and a short digest of the
    whole (``…/minilm-ner#3f2a1c``): two folders stay told apart, the machine's layout does
    not show. Non-strings are returned unchanged."""
    if not isinstance(text, str):
        return text

    def short(match: re.Match) -> str:
        path = match.group(0).rstrip("/\\")
        digest = hashlib.sha256(path.encode()).hexdigest()[:6]
        name = re.split(r"[/\\]", path)[-1]
        return f"…/{name}#{digest}"

    return _PATH.sub(short, text)


def hide_paths_in(value: Any) -> Any:
    """:func:`hide_paths` applied to every string inside dicts and lists."""
    if isinstance(value, dict):
        return {hide_paths(k): hide_paths_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [hide_paths_in(v) for v in value]
    return hide_paths(value)


def text_allowed(task_provenance: dict[str, Any], publish: bool) -> bool:
    """Whether a page may quote a run's example text: always in a private report; when
    publishing, only where the run's data is republishable (:meth:`Task.text_policy` recorded
    it: the demo data harness ships always is; a plugin's own demo data follows its licence)."""
    if not publish:
        return True
    return task_provenance.get("text_redistributable") is True
