"""One rule for every name that becomes part of a path on disk.

Suite files are meant to be shared, so a name read from one (``[suite] name``,
``[[finetune]] name``, ``out``) must never reach outside the folder it is joined to:
``../../x``, ``/etc``, ``C:\\x``, ``..`` or a name with a path separator is refused with one line.
"""
from __future__ import annotations

import re
from pathlib import Path

from harness.errors import HarnessError

#: a name that is one file or folder name on every system: letters, digits, ``.``, ``_`` and
#: ``-``, starting with a letter or digit (so never ``.`` or ``..``), at most 100 characters
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_path_name(value: str, where: str) -> str:
    """``value`` if it is safe as one path component (:data:`SAFE_NAME`); else a one-line
    :class:`HarnessError` that starts with ``where`` (the file and key it came from)."""
    if not SAFE_NAME.fullmatch(value):
        raise HarnessError(f"{where}: {value!r} cannot name a folder (expected 1-100 letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit)")
    return value


def inside(root: Path, relative: str, where: str) -> Path:
    """``root / relative`` resolved, if it stays inside ``root`` (no absolute path, no ``..``
    climbing out, no symbolic link leading out); else a one-line :class:`HarnessError`."""
    base = root.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or Path(relative).drive or not target.is_relative_to(base):
        raise HarnessError(f"{where}: {relative!r} leads outside {base.name or base}/ (expected a folder inside the "
                           "suite file's folder)")
    return target
