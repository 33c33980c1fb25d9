"""A toy part-of-speech task: ``word<TAB>TAG`` lines, a blank line between sentences."""
from __future__ import annotations

from harness import DataError, Example, Task, text_lines


class ToyPOS(Task):
    name = "pos-toy"
    kind = "token-tags"
    dataset = "Toy POS (written for this example)"
    labels = ("NOUN", "VERB", "ADJ", "DET", "PRON", "ADP", "PUNCT", "OTHER")
    default_split = "test"
    local_files = {"test": "pos-toy/test.tsv"}
    demo_files = {"test": "pos-toy.tsv"}
    licence = "CC0 (written for this example)"
    text_redistributable = True
    prompt_template = (
        "Tag each word with its part of speech, one of {{ task.labels | join(', ') }}, in order, separated by spaces.\n"
        "Words: {{ input | join(' ') }}\nTags:"
    )

    def read_file(self, path, split):
        """Sentences of ``word<TAB>TAG`` lines."""
        sentence, tags = [], []
        for number, line in text_lines(path):
            if not line.strip():
                if sentence:
                    yield Example(f"{split}-{number}", sentence, tags)  # a generator is fine
                sentence, tags = [], []
                continue
            word, tab, tag = line.partition("\t")
            if not tab:
                raise DataError(path, number, "expected 'word<TAB>TAG'")
            sentence, tags = [*sentence, word], [*tags, tag.strip()]
        if sentence:
            yield Example(f"{split}-end", sentence, tags)

    def from_hub(self, split):
        raise LookupError("this example has no Hub copy")
