"""``hf:<hub-id-or-path>``: transformers encoders with a token- or sequence-classification head."""
from __future__ import annotations

import re
import sys
from functools import cached_property
from typing import Any, Sequence

from harness import PAIR_LABELS, HarnessError, Model, ModelFamily, Prediction, hookimpl
from harness import get_kinds, kind_of
from harness.engine import hub_revision, load_config

#: architecture name ending -> the fine-tune head (:class:`harness.kinds.FinetuneHead`) it is
HEADS = {"ForTokenClassification": "token", "ForSequenceClassification": "sequence"}


def kinds_with_heads(heads: set[str] | frozenset[str]) -> frozenset[str]:
    """The registered kinds an encoder head of ``heads`` answers (their fine-tune head's)."""
    return frozenset(reg.obj.name for reg in get_kinds().values() if reg.obj.finetune and reg.obj.finetune.head in heads)
BIO = re.compile(r"^([BI])[-_](.+)$")
GENERIC = re.compile(r"^LABEL_(\d+)$")


def map_tag_labels(id2label: dict[int, str], types: Sequence[str], model: str, task: str) -> dict[int, str]:
    """Map a token-classification head's labels (O, B-X, I-X; any case) onto the task's IOB2 tags."""
    lookup = {t.lower(): t for t in types}
    mapping, bad = {}, []
    for index, label in sorted(id2label.items()):
        if label.upper() == "O":
            mapping[index] = "O"
            continue
        match = BIO.match(label)
        entity = lookup.get(match.group(2).lower()) if match else None
        if entity is None:
            bad.append(label)
        else:
            mapping[index] = f"{match.group(1)}-{entity}"
    if bad:
        raise HarnessError(
            f"{model}: labels {', '.join(map(repr, bad))} cannot be mapped onto task {task!r} "
            f"(expected O, B-X or I-X with X in {', '.join(types)})"
        )
    return mapping


def map_class_labels(id2label: dict[int, str], labels: Sequence[str], model: str, task: str) -> dict[int, str]:
    """Map a sequence-classification head's labels onto the task's labels.

    Accepts exact names (any case), unambiguous prefixes (``neg`` -> ``negative``), and
    generic ``LABEL_i`` names when the head has exactly as many labels as the task
    (then ``LABEL_i`` is the task's i-th label).
    """
    mapping, bad = {}, []
    for index, label in sorted(id2label.items()):
        low = label.lower()
        exact = [t for t in labels if t.lower() == low]
        prefix = [t for t in labels if t.lower().startswith(low) or low.startswith(t.lower())]
        generic = GENERIC.match(label)
        if exact:
            mapping[index] = exact[0]
        elif len(prefix) == 1:
            mapping[index] = prefix[0]
        elif generic and len(id2label) == len(labels) and int(generic.group(1)) < len(labels):
            mapping[index] = labels[int(generic.group(1))]
        else:
            bad.append(label)
    if bad:
        raise HarnessError(
            f"{model}: labels {', '.join(map(repr, bad))} cannot be mapped onto task {task!r} "
            f"(its labels: {', '.join(labels)})"
        )
    return mapping


def first_subword_labels(word_ids: Sequence[int | None], subword_labels: Sequence[int], n_words: int) -> list[int | None]:
    """Word-level labels from sub-word outputs: each word takes its first sub-word's label.

    Words with no sub-word (cut off by truncation, or tokenised to nothing) get None.
    """
    labels: list[int | None] = [None] * n_words
    previous = None
    for word, label in zip(word_ids, subword_labels):
        if word is not None and word != previous:
            labels[word] = int(label)
        previous = word
    return labels


class HFEncoder(Model):
    """A transformers encoder evaluated through its classification head.

    Batches are length-sorted with dynamic padding and run under ``torch.inference_mode``.
    """

    family = "encoder"

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    description = "transformers encoder (token or sequence classification head)"
    uses_gpu = True

    def __init__(self, source: str):
        self.source = source
        self.name = f"hf:{source}"
        self._model = None
        self._tokenizer = None

    @cached_property
    def config(self):
        """The model's transformers config (downloads only config.json from the Hub)."""
        return load_config(self.name, self.source)

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        """The task kinds its head answers."""
        return kinds_with_heads(self.heads)

    @property
    def heads(self) -> frozenset[str]:
        """The heads of its architecture: "token" (a label per word), "sequence", or "pair" (a
        sequence head whose labels are :data:`harness.PAIR_LABELS`: a choice fine-tune's)."""
        heads = frozenset(head for arch in (self.config.architectures or []) for suffix, head in HEADS.items()
                          if arch.endswith(suffix))
        labels = tuple(label for _, label in sorted((int(k), v) for k, v in (self.config.id2label or {}).items()))
        if "sequence" in heads and labels == PAIR_LABELS:
            return (heads - {"sequence"}) | {"pair"}
        return heads

    def identity(self) -> dict[str, Any]:
        """Source plus a revision: a digest of the files for a local folder, the Hub commit otherwise."""
        return {"name": self.name, "revision": hub_revision(self.source, self.config), **self.code_identity()}

    def provenance(self) -> dict[str, Any]:
        """Identity plus architecture and label names."""
        return {
            **self.identity(),
            "architectures": self.config.architectures,
            "id2label": {int(k): v for k, v in self.config.id2label.items()},
            "finetuned": getattr(self.config, "harness_finetune", None),
        }

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

            token_head = "token" in self.heads
            auto = AutoModelForTokenClassification if token_head else AutoModelForSequenceClassification
            self._tokenizer = AutoTokenizer.from_pretrained(self.source)
            if not self._tokenizer.is_fast and token_head:
                raise HarnessError(f"{self.name}: a token-classification head needs a fast tokenizer (word_ids), this one is slow")
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = auto.from_pretrained(self.source).to(self.device).eval()
        return self._model, self._tokenizer

    def _max_length(self, tokenizer) -> int:
        limits = [512, getattr(self.config, "max_position_embeddings", 512) or 512]
        if tokenizer.model_max_length and tokenizer.model_max_length < 1_000_000:
            limits.append(tokenizer.model_max_length)
        return min(limits)

    def predict(self, task, examples, *, batch_size=32):
        """Predict word-level IOB2 tags (tagging), a label with probabilities (classification),
        or a pair head's answer (choice: a pair per candidate, :meth:`harness.FinetuneHead.pairs`)."""
        import torch

        if "pair" in self.heads:
            return self._choose(task, examples, batch_size)
        id2label = {int(k): v for k, v in self.config.id2label.items()}
        tagging = "token" in self.heads  # a label per word
        mapping = (map_tag_labels if tagging else map_class_labels)(id2label, task.labels, self.name, task.name)
        model, tokenizer = self._load()
        max_length = self._max_length(tokenizer)
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].input))
        results: list[Prediction | None] = [None] * len(examples)
        truncated = 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                inputs = [list(examples[i].input) if tagging else examples[i].input for i in idx]
                encoded = tokenizer(
                    inputs,
                    is_split_into_words=tagging,
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = model(**{k: v.to(self.device) for k, v in encoded.items()}).logits.float().cpu()
                for row, i in enumerate(idx):
                    if tagging:
                        n_words = len(inputs[row])
                        word_labels = first_subword_labels(encoded.word_ids(row), logits[row].argmax(-1).tolist(), n_words)
                        truncated += sum(label is None for label in word_labels)
                        tags = ["O" if label is None else mapping[label] for label in word_labels]
                        results[i] = Prediction(tags)
                    else:
                        probs = torch.softmax(logits[row], -1).tolist()
                        scores = {label: 0.0 for label in task.labels}
                        for index, p in enumerate(probs):
                            scores[mapping[index]] += p
                        results[i] = Prediction(max(scores, key=scores.get), scores)
        if truncated:
            print(f"{self.name}: {truncated} words had no sub-word within {max_length} tokens and were tagged O", file=sys.stderr)
        return results  # type: ignore[return-value]


    def _choose(self, task, examples, batch_size: int) -> list[Prediction]:
        """Each example's answer as its kind's pair head chooses from the probability of each of
        its pairs (choice: the candidate most believed to be the antecedent, or none)."""
        import torch

        head = kind_of(task).finetune
        if head is None or head.head != "pair":
            raise HarnessError(f"{self.name}: a pair head answers tasks whose kind fine-tunes one; {task.name} is {task.kind}")
        model, tokenizer = self._load()
        max_length = self._max_length(tokenizer)
        pairs = [(i, pair) for i, e in enumerate(examples) for pair in head.pairs(e.input)]
        order = sorted(range(len(pairs)), key=lambda j: len(pairs[j][1][0]))
        antecedent = [0.0] * len(pairs)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                encoded = tokenizer([pairs[j][1][0] for j in rows], [pairs[j][1][1] for j in rows], truncation="only_first",
                                    max_length=max_length, padding=True, return_tensors="pt")
                logits = model(**{k: v.to(self.device) for k, v in encoded.items()}).logits.float().cpu()
                for row, j in enumerate(rows):
                    antecedent[j] = float(torch.softmax(logits[row], -1)[1])
        counts = [0] * len(examples)
        for i, _ in pairs:
            counts[i] += 1
        return [Prediction(answer, details={"pair_probabilities": [round(p, 6) for p in share]})
                for answer, share in head.answers(antecedent, [e.input for e in examples], counts)]


class HFEncoderFamily(ModelFamily):
    """Claims ``hf:<hub-id-or-path>``."""

    prefix = "hf"
    argument = "hub-id-or-path"
    description = "transformers encoder with a token- or sequence-classification head"
    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        """Every kind a token or a sequence head answers."""
        return kinds_with_heads(frozenset(HEADS.values()))

    def create(self, argument: str) -> Model:
        """A lazily loaded encoder for a Hub id or local folder."""
        return HFEncoder(argument)


@hookimpl
def harness_register_models(register):
    register(HFEncoderFamily())
