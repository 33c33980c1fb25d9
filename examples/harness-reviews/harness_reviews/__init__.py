"""An example third-party task plugin for harness: product-review polarity.

Installing this package (``pip install ./examples/harness-reviews``) makes the task
``reviews`` available to ``harness run`` with no change to harness itself.
"""
from __future__ import annotations

import csv
from pathlib import Path

from harness import DataError, Example, Task, hookimpl


class Reviews(Task):
    """One-line product reviews labelled negative / positive."""

    name = "reviews"
    kind = "classification"
    version = "1"
    dataset = "Reviews (example)"
    description = "Product-review polarity, an example third-party task"
    labels = ("negative", "positive")
    default_split = "test"
    #: with --data-dir DIR the task reads DIR/reviews/test.tsv
    local_files = {"test": "reviews/test.tsv"}
    #: shipped in this package's demo/ folder, used when no --data-dir is given
    demo_files = {"test": "reviews.tsv"}

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Read ``label<TAB>review`` lines, label being ``negative`` or ``positive``."""
        examples = []
        with open(path, encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
                if len(row) != 2 or row[0] not in self.labels:
                    raise DataError(path, number, "expected 'negative|positive<TAB>review'")
                examples.append(Example(f"{split}-{number}", row[1], row[0]))
        return examples

    def from_hub(self, split: str) -> list[Example]:
        """This example has no Hub copy."""
        raise LookupError("no Hub dataset")


@hookimpl
def harness_register_tasks(register):
    register(Reviews())
