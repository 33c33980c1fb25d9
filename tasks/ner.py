"""Named-entity recognition: CoNLL-2003 (test = CoNLL++) and WNUT-17, kind ``tagging``."""
from __future__ import annotations

import re
from pathlib import Path

from harness import Example, PromptVariant, Task, hookimpl
from harness import DataError, text_lines

TAG = re.compile(r"^(O|[BI]-(.+))$")


def read_conll(path: Path, split: str, *, columns: int, delimiter: str | None, types: tuple[str, ...],
               encoding: str = "utf-8") -> list[Example]:
    """Read a CoNLL-style file: one token per line, the IOB2 tag in the last column.

    Blank (or whitespace-only) lines end a sentence; ``-DOCSTART-`` lines are skipped.
    Every line must have ``columns`` fields and a tag whose type is one of ``types``.
    """
    examples: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    layout = "tab-separated" if delimiter == "\t" else "space-separated"

    def flush() -> None:
        if tokens:
            examples.append(Example(f"{split}-{len(examples)}", list(tokens), list(tags), {"line": first_line}))
            tokens.clear()
            tags.clear()

    for number, line in text_lines(path, encoding):
        if not line.strip():
            flush()
            continue
        fields = line.split(delimiter) if delimiter else line.split()
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if len(fields) != columns:
            raise DataError(path, number, f"expected {columns} {layout} columns, got {len(fields)}: {line[:60]!r}")
        tag = fields[-1]
        match = TAG.match(tag)
        if not match or (match.group(2) is not None and match.group(2) not in types):
            raise DataError(
                path, number, f"expected an IOB2 tag O, B-X or I-X with X in {{{', '.join(types)}}}, got {tag[:60]!r}"
            )
        if not tokens:
            first_line = number
        tokens.append(fields[0])
        tags.append(tag)
    flush()
    return examples


def from_hub(hub_id: str, split: str, config: str | None = None) -> list[Example]:
    """Load a token-classification dataset from the Hub (``tokens`` + ClassLabel ``ner_tags``)."""
    import datasets

    ds = datasets.load_dataset(hub_id, config, split=split)
    return examples_from_hf(ds, split)


def examples_from_hf(ds, split: str) -> list[Example]:
    """Convert a ``datasets.Dataset`` with ``tokens`` and ClassLabel ``ner_tags`` columns."""
    names = ds.features["ner_tags"].feature.names
    return [
        Example(f"{split}-{i}", list(row["tokens"]), [names[t] for t in row["ner_tags"]])
        for i, row in enumerate(ds)
    ]


class NERTask(Task):
    """Shared behaviour of the NER datasets."""

    example_unit = "sentence"
    kind = "tagging"
    version = "1"
    answer_prefix = "["
    #: what each entity type means, for the decoder prompt
    type_descriptions: dict[str, str] = {}
    # Decoders answer with a JSON list that the harness grounds back to the tokens (harness.kinds.tagging.grounding).
    prompt_template = (
        "List the named entities in the sentence as a JSON list of objects with keys \"text\" (the entity exactly as "
        "written) and \"type\" (one of {% for t in task.labels %}{{ t }}{% if t in task.type_descriptions %} = "
        "{{ task.type_descriptions[t] }}{% endif %}{{ '; ' if not loop.last else '' }}{% endfor %}). Answer [] if there are none.\n"
        "Sentence: {{ input | join(' ') }}\nEntities:"
    )
    _types = "{% for t in task.labels %}{{ t }}{{ ', ' if not loop.last else '' }}{% endfor %}"
    prompt_variants = {
        "terse": PromptVariant(
            "Sentence: {{ input | join(' ') }}\nNamed entities (" + _types + ") as a JSON list of "
            "{\"text\": ..., \"type\": ...}:", "the sentence first, a short cue, types without descriptions"),
        "types-listed": PromptVariant(
            "Find the named entities in the text. Entity types:\n{% for t in task.labels %}- {{ t }}"
            "{% if t in task.type_descriptions %}: {{ task.type_descriptions[t] }}{% endif %}\n{% endfor %}"
            "Answer with a JSON list of objects with keys \"text\" and \"type\" ([] if there are none).\n\n"
            "Text: {{ input | join(' ') }}\nAnswer:", "the types as a list, one per line, then the text"),
        "question": PromptVariant(
            "Question: Which named entities (" + _types + ") does this sentence mention? Answer with a JSON list of "
            "objects with keys \"text\" (as written) and \"type\".\nSentence: {{ input | join(' ') }}\nAnswer:",
            "a question before the sentence"),
    }
    default_split = "test"
    columns = 4
    delimiter: str | None = None

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Read the dataset's CoNLL-format file."""
        return read_conll(path, split, columns=self.columns, delimiter=self.delimiter, types=self.labels,
                          encoding=self.encoding)

    def from_hub(self, split: str) -> list[Example]:
        """Load the split from the Hub."""
        return from_hub(self.hub_id, self.hub_splits[split], self.hub_config)


class CoNLL2003(NERTask):
    """CoNLL-2003 English NER; local ``test`` is CoNLL++ (Wang et al. 2019, 186 sentences corrected)."""

    name = "ner"
    dataset = "CoNLL-2003"
    licence = "Reuters RCV1 text: research use only, never redistribute"
    text_redistributable = False
    local_datasets = {"test": "CoNLL++ (CoNLL-2003 test, 186 sentences corrected)"}
    description = "English newswire NER (PER, ORG, LOC, MISC); local test split is CoNLL++"
    labels = ("LOC", "MISC", "ORG", "PER")
    type_descriptions = {"LOC": "location", "MISC": "other name: nationality, event, product...", "ORG": "organisation",
                         "PER": "person"}
    local_files = {"train": "ner/conll2003/train.txt", "dev": "ner/conll2003/dev.txt", "test": "ner/conll2003/test.txt"}
    demo_files = {"test": "conll2003-demo.txt", "train": "conll2003-demo.txt"}
    hub_id = "eriktks/conll2003"
    published = (("BERT-base, CoNLL-2003 test (Devlin et al. 2019)", "f1", 0.924), ("BERT-large, CoNLL-2003 test (Devlin et al. 2019)", "f1", 0.928))
    hub_splits = {"train": "train", "dev": "validation", "test": "test"}


class WNUT17(NERTask):
    """WNUT-17 emerging and rare entities in social media text."""

    name = "ner:wnut17"
    dataset = "WNUT-17"
    licence = "CC-BY-4.0"
    text_redistributable = True
    description = "Emerging and rare entities in user-generated text (6 types)"
    labels = ("corporation", "creative-work", "group", "location", "person", "product")
    columns = 2
    delimiter = "\t"
    local_files = {"train": "ner/wnut17/train.conll", "dev": "ner/wnut17/dev.conll", "test": "ner/wnut17/test.conll"}
    demo_files = {"test": "wnut17-demo.conll", "train": "wnut17-demo.conll"}
    hub_id = "leondz/wnut_17"
    published = (("BERTweet (Nguyen et al. 2020)", "f1", 0.565),)
    hub_splits = {"train": "train", "dev": "validation", "test": "test"}


@hookimpl
def harness_register_tasks(register):
    register(CoNLL2003(), aliases=("ner:conll2003",))
    register(WNUT17())
