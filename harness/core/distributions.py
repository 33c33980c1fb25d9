"""Which installed code defines an object: distribution names, versions and source digests
(models put them in their identity, so edited or upgraded code never serves cached answers)."""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import os
import sys
from typing import Any


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (a PyPI name), or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None

@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=256)
def _distribution_of_package(top: str) -> str | None:
    version = installed_version(top)  # the usual case: the distribution is named after its package
    if version is not None:
        return f"{importlib.metadata.distribution(top).metadata['Name']}=={version}"
    names = _distributions().get(top)  # scans every installed distribution: only when needed
    return f"{names[0]}=={installed_version(names[0])}" if names else None


def ships_with_harness(package: str) -> bool:
    """Whether ``package`` (a dotted module name) is installed as part of harness's own
    distribution (the built-in ``tasks``/``plugins``), not a third party's."""
    return _distribution_of_package(package.partition(".")[0]) == _distribution_of_package("harness")


def distribution_of(obj: Any) -> str | None:
    """``name==version`` of the installed distribution whose code defines ``obj``'s class
    (None for code that is not installed, e.g. a test module)."""
    return _distribution_of_package(type(obj).__module__.partition(".")[0])


def source_digest(obj: Any, apart: tuple[type, ...] = ()) -> str | None:
    """A digest of the source file that defines ``obj``'s class (None when there is no file),
    leaving out every other top-level class of the file that is a subclass of one of ``apart``
    and not one of ``obj``'s own bases: editing one model or task of a file that defines
    several changes the digest of that class's objects only, while an edit anywhere else in
    the file (a helper they share) changes them all."""
    module = sys.modules.get(type(obj).__module__)
    path = getattr(module, "__file__", None)
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        source = handle.read()
    if apart:
        source = _without_other_classes(source, module, type(obj), apart)
    return hashlib.sha256(source).hexdigest()[:16]


def _without_other_classes(source: bytes, module: Any, cls: type, apart: tuple[type, ...]) -> bytes:
    """``source`` without the lines of its top-level classes that are subclasses of ``apart``
    other than ``cls`` and its bases (the file as it is where it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    own = set(cls.__mro__)
    lines = source.splitlines(keepends=True)
    dropped: set[int] = set()
    for node in tree.body:
        other = getattr(module, node.name, None) if isinstance(node, ast.ClassDef) else None
        if isinstance(other, type) and issubclass(other, apart) and other not in own:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            dropped.update(range(start - 1, node.end_lineno or node.lineno))
    return b"".join(line for i, line in enumerate(lines) if i not in dropped)
