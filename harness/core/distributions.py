"""Which installed code defines an object: distribution names, versions and source digests
(models put them in their identity, so edited or upgraded code never serves cached answers)."""
from __future__ import annotations

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


def source_digest(obj: Any) -> str | None:
    """A digest of the source file that defines ``obj``'s class (None when there is no file)."""
    module = sys.modules.get(type(obj).__module__)
    path = getattr(module, "__file__", None)
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]
