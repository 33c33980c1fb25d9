"""Binary sentiment: SST-2 (GLUE), kind ``classification``."""
from __future__ import annotations

from pathlib import Path

from harness import Example, PromptVariant, Task, hookimpl
from harness import DataError, tsv_rows


class SST2(Task):
    """Stanford Sentiment Treebank, binary (GLUE SST-2); ``validation`` is the usual test set."""

    example_unit = "sentence"
    name = "sentiment"
    kind = "classification"
    # 2: sentences are read verbatim (GLUE's keep a trailing space, which prompts now show)
    version = "2"
    dataset = "SST-2"
    licence = "none stated (GLUE redistributes it)"
    text_redistributable = True
    description = "Movie-review sentence polarity (negative / positive)"
    labels = ("negative", "positive")
    default_split = "validation"
    # The question and answer options of lm-evaluation-harness's (GLUE) sst2 task.
    prompt_template = "{{ input }}\nQuestion: Is this sentence positive or negative?\nAnswer:"
    verbalizers = {"negative": " negative", "positive": " positive"}
    prompt_variants = {
        "options-reversed": PromptVariant(
            "{{ input }}\nQuestion: Is this sentence negative or positive?\nAnswer:",
            "the default with the options named in the other order"),
        "review-cue": PromptVariant(
            "Review: {{ input | trim }}\nSentiment:", "a bare review / sentiment cue"),
        "it-was": PromptVariant(
            "{{ input | trim }} All in all, it was", "a cloze: the review continued with \"great\" or \"terrible\"",
            verbalizers={"negative": " terrible", "positive": " great"}),
        "instruction": PromptVariant(
            "Classify the sentiment of this movie review as Negative or Positive.\n\nReview: {{ input | trim }}\nSentiment:",
            "an instruction, with capitalised labels",
            verbalizers={"negative": " Negative", "positive": " Positive"}),
    }
    local_files = {
        "train": "sentiment/sst2/train.tsv",
        "dev": "sentiment/sst2/dev.tsv",
        "validation": "sentiment/sst2/validation.tsv",
    }
    demo_files = {"validation": "sst2-demo.tsv", "train": "sst2-demo.tsv"}
    hub_id = "stanfordnlp/sst2"
    published = (("BERT-base (Devlin et al. 2019)", "accuracy", 0.93), ("BERT-large (Devlin et al. 2019)", "accuracy", 0.949))
    hub_splits = {"train": "train", "validation": "validation"}

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Read a TSV with header ``sentence<TAB>label`` and labels 0 (negative) / 1 (positive).
        Sentences are kept exactly as written (GLUE's end in a space, which lm-evaluation-harness's
        prompts keep too)."""
        examples = []
        for number, (sentence, label) in tsv_rows(path, ["sentence", "label"], self.encoding):
            if label.strip() not in ("0", "1"):
                raise DataError(path, number, f"expected label 0 or 1 in field 'label', got {label!r}")
            examples.append(Example(f"{split}-{len(examples)}", sentence, self.labels[int(label)], {"line": number}))
        return examples

    def from_hub(self, split: str) -> list[Example]:
        """Load the split from the Hub (``sentence`` + ``label`` columns), sentences verbatim."""
        import datasets

        ds = datasets.load_dataset(self.hub_id, split=self.hub_splits[split])
        return [Example(f"{split}-{i}", row["sentence"], self.labels[row["label"]]) for i, row in enumerate(ds)]


@hookimpl
def harness_register_tasks(register):
    register(SST2(), aliases=("sentiment:sst2", "sst2"))
