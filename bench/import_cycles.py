"""Count import cycles among harness's modules: every import statement counts, those inside
functions and under ``if TYPE_CHECKING:`` included (grimp reads them all).

Usage: python bench/import_cycles.py [--package harness]

Prints each strongly connected component of more than one module (a cycle) with its
modules, then "cycles: N, largest: M modules"; exit status 1 when there is any.
"""
from __future__ import annotations

import argparse
import sys

import grimp
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components


def cycles(package: str) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (largest first)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = [(index[m], index[t]) for m in modules for t in graph.find_modules_directly_imported_by(m) if t in index]
    rows, cols = zip(*edges) if edges else ((), ())
    adjacency = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(modules), len(modules)))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for module, label in zip(modules, labels):
        groups.setdefault(int(label), []).append(module)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def main() -> None:
    """Print the cycles and their count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="harness")
    args = parser.parse_args()
    found = cycles(args.package)
    for group in found:
        print(f"cycle of {len(group)} modules: {', '.join(group)}")
    print(f"cycles: {len(found)}, largest: {max((len(g) for g in found), default=0)} modules")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
