"""An example third-party task plugin for harness: product-review polarity.

Installing this package (``pip install ./examples/harness-reviews``) makes the task
``reviews`` available to ``harness run`` with no change to harness itself.
"""
from __future__ import annotations

from pathlib import Path

from harness import DataError, Example, PromptVariant, Task, hookimpl, text_lines


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
    #: what decoder LMs are asked; each label's verbaliser (" negative", " positive") is scored after it
    prompt_template = "Review: {{ input }}\nQuestion: Is this review positive or negative?\nAnswer:"
    #: other ways to ask it: `harness run --prompts all` asks decoders with each, and the task
    #: page shows how much their score and rank depend on the prompt
    prompt_variants = {
        "cue": PromptVariant("Review: {{ input }}\nSentiment:", "a bare review / sentiment cue"),
        "cloze": PromptVariant("{{ input }} All in all, it was", "the review continued",
                               verbalizers={"negative": " terrible", "positive": " great"}),
    }

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Read ``label<TAB>review`` lines, label being ``negative`` or ``positive``."""
        examples = []
        # text_lines applies harness's decoding policy: UTF-8, BOM dropped, any line end,
        # a bad byte is a one-line error naming the file, line and byte offset.
        for number, line in text_lines(path):
            label, tab, review = line.partition("\t")
            if not tab or label not in self.labels:
                raise DataError(path, number, "expected 'negative|positive<TAB>review'")
            examples.append(Example(f"{split}-{number}", review, label))
        return examples

    def from_hub(self, split: str) -> list[Example]:
        """This example has no Hub copy."""
        raise LookupError("no Hub dataset")


@hookimpl
def harness_register_tasks(register):
    register(Reviews())
