"""Count the modules of the built-in plugins (plugins/, tasks/) that import an internal
module of harness, that is anything but its public API (``harness`` and ``harness.engine``).

Usage: python bench/internal_imports.py [--list]

Every import statement counts, those inside functions and under ``if TYPE_CHECKING:``
included (grimp reads them all). Prints "built-in modules importing harness internals: N of
M (K internal modules named)", with each import under --list; exit status 1 when N > 0.
The import-linter contract "built-ins use only the public API" enforces the same rule.
"""
from __future__ import annotations

import argparse
import sys

import grimp

#: what a plugin may import from harness (documented in docs/plugins.md)
PUBLIC = {"harness", "harness.engine"}
#: the packages of the built-in plugins
BUILT_INS = ("plugins", "tasks")


def internal_imports() -> tuple[dict[str, list[str]], int]:
    """Each built-in module -> the harness internals it imports directly; and how many
    built-in modules there are."""
    graph = grimp.build_graph("harness", *BUILT_INS, cache_dir=None)
    modules = sorted(m for m in graph.modules if m.split(".")[0] in BUILT_INS)
    found = {}
    for module in modules:
        named = sorted(t for t in graph.find_modules_directly_imported_by(module)
                       if t.split(".")[0] == "harness" and t not in PUBLIC)
        if named:
            found[module] = named
    return found, len(modules)


def main() -> None:
    """Print the count (and with --list each import)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print each built-in module and what it imports")
    args = parser.parse_args()
    found, total = internal_imports()
    if args.list:
        for module, named in found.items():
            print(f"{module} -> {', '.join(named)}")
    internals = {t for named in found.values() for t in named}
    print(f"built-in modules importing harness internals: {len(found)} of {total} ({len(internals)} internal modules named)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
