"""Pronoun resolution, kind ``choice``: WSC273, GAP and Winogender.

Every example's input is a dict: ``text``, ``pronoun``, ``pronoun_offset`` (character
offset in ``text``), ``candidates`` (a list of ``{"text", "offset"}``; ``offset`` is None
when the mention is not found verbatim) and ``allow_none`` (GAP: the pronoun may refer to
neither name). The reference is the index of the antecedent, or None for "neither".
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness import DataError, Example, PromptVariant, Task, TaskGroup, hookimpl
from harness import Metric, PairedStatistics, Scores, bootstrap_ci, safe_ratio, score_choice, tsv_rows

GAP_HEADER = ["ID", "Text", "Pronoun", "Pronoun-offset", "A", "A-offset", "A-coref", "B", "B-offset", "B-coref", "URL"]
GAP_GENDER = {"he": "M", "him": "M", "his": "M", "himself": "M", "she": "F", "her": "F", "hers": "F", "herself": "F"}
WINOGENDER_PRONOUNS = {"male": ("he", "his", "him"), "female": ("she", "her", "hers"), "neutral": ("they", "their", "them")}


def find_mention(text: str, mention: str) -> int | None:
    """Character offset of ``mention`` in ``text`` (whole words, case-insensitive), else of the
    mention without a leading article; None when neither occurs."""
    for candidate in (mention, re.sub(r"^(the|a|an)\s+", "", mention, flags=re.I)):
        match = re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", text, flags=re.I)
        if candidate and match:
            return match.start()
    return None


def choice_input(text: str, pronoun: str, offset: int, candidates: Sequence[tuple[str, int | None]], allow_none: bool = False) -> dict[str, Any]:
    """The input dict of a ``choice`` example."""
    return {
        "text": text,
        "pronoun": pronoun,
        "pronoun_offset": offset,
        "candidates": [{"text": t, "offset": o} for t, o in candidates],
        "allow_none": allow_none,
    }


class CorefTask(Task):
    """Shared settings of the coreference datasets."""

    kind = "choice"
    version = "1"
    # Decoders with ``-o coref=question``: each candidate (" the trophy") is scored as the answer.
    prompt_template = (
        "{{ input.text }}\nQuestion: In the passage above, who or what does the pronoun \"{{ input.pronoun }}\" "
        "refer to?\nAnswer:"
    )
    # The default (-o coref=substitution) reads no template; the variants ask a question, each
    # candidate scored as its answer.
    prompt_description = ("Trinh & Le substitution (-o coref=substitution, the default: no template); with -o "
                          "coref=question, this template")
    prompt_format_base = "question"  # formats vary the question: substitution reads no template
    prompt_variants = {
        "question": PromptVariant(
            prompt_template, "the task's question (what -o coref=question asks)", options={"coref": "question"}),
        "refers-to": PromptVariant(
            "{{ input.text }}\nIn the passage above, \"{{ input.pronoun }}\" refers to",
            "a statement completed by the candidate", options={"coref": "question"}),
        "options-listed": PromptVariant(
            "{{ input.text }}\nQuestion: Who or what does \"{{ input.pronoun }}\" refer to: "
            "{% for c in input.candidates %}{{ c.text }}{{ ' or ' if not loop.last else '' }}{% endfor %}?\nAnswer:",
            "the question with the candidates listed", options={"coref": "question"}),
    }
    default_split = "test"


def _normalise_space(text: str) -> str:
    return " ".join(text.split())


class WSC273(CorefTask):
    """The Winograd Schema Challenge, its first 273 schemas (WSC273), in Davis' XML."""

    example_unit = "schema"
    name = "coref:wsc273"
    dataset = "WSC273"
    licence = "CC-BY-4.0 (per the collection's author)"
    text_redistributable = True
    description = "Winograd schemas: pick the antecedent of a pronoun (2 candidates)"
    # "extra": the schemas after the first 273 (WSC285's last 12), used as few-shot examples.
    local_files = {"test": "coref/wsc273/WSCollection.xml", "extra": "coref/wsc273/WSCollection.xml"}
    demo_files = {"test": "wsc-demo.xml"}
    few_shot_split = "extra"
    hub_id = "ErnestSDavis/winograd_wsc"
    hub_config = "wsc273"
    # 2: text as the Hub builder makes it (each part's spacing collapsed, then joined by spaces)
    version = "2"
    published = (("BERT-large + WSCR (Kocijan et al. 2019)", "accuracy", 0.714), ("RoBERTa-large (Liu et al. 2019)", "accuracy", 0.901))
    hub_splits = {"test": "test"}
    size = 273

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Parse ``<schema>`` elements: ``txt1 / pron / txt2``, two ``answer``s, ``correctAnswer``."""
        raw = path.read_bytes()
        starts = [raw.count(b"\n", 0, m.start()) + 1 for m in re.finditer(rb"<schema>", raw)]
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise DataError(path, exc.position[0], f"expected well-formed XML ({exc})") from exc
        examples = []
        for index, schema in enumerate(root.iter("schema")):
            if (index >= self.size) == (split != "extra"):
                continue
            line = starts[index] if index < len(starts) else None
            txt1, pron, txt2 = (schema.findtext(f"text/{tag}") for tag in ("txt1", "pron", "txt2"))
            answers = [_normalise_space(a.text or "") for a in schema.findall("answers/answer")]
            correct = _normalise_space(schema.findtext("correctAnswer") or "")
            if txt1 is None or not pron or not pron.strip() or txt2 is None:
                raise DataError(path, line, f"schema {index + 1}: expected text/txt1, text/pron and text/txt2")
            if len(answers) != 2 or not all(answers) or not correct or correct[0].upper() not in "AB":
                raise DataError(path, line, f"schema {index + 1}: expected two answers and correctAnswer A or B, got {correct!r}")
            # As the Hub's winograd_wsc builder reads it: each part's spacing collapsed, the parts
            # joined by single spaces (so "it ." keeps its space before the full stop), the
            # answer B when "B" occurs in correctAnswer
            left, pronoun, right = _normalise_space(txt1), _normalise_space(pron), _normalise_space(txt2)
            text = " ".join([left, pronoun, right]).strip()
            offset = len(left) + 1 if left else 0
            candidates = [(a, find_mention(text, a)) for a in answers]
            examples.append(Example(f"{split}-{index}", choice_input(text, pronoun, offset, candidates), int("B" in correct),
                                    {"line": line}))
        return examples

    def from_hub(self, split: str) -> list[Example]:
        """Load ``winograd_wsc`` (``text``, ``pronoun``, ``pronoun_loc``, ``options``, ``label``)."""
        import datasets

        ds = datasets.load_dataset(self.hub_id, self.hub_config, split=self.hub_splits[split])
        return [
            Example(f"{split}-{i}", choice_input(row["text"], row["pronoun"], row["pronoun_loc"],
                                                 [(o, find_mention(row["text"], o)) for o in row["options"]]), row["label"])
            for i, row in enumerate(ds)
        ]


class GAP(CorefTask):
    """GAP (Webster et al. 2018): gendered ambiguous pronouns in Wikipedia text."""

    name = "coref:gap"
    dataset = "GAP"
    licence = "Apache-2.0"
    text_redistributable = True
    description = "Gendered ambiguous pronouns: is each of two names the pronoun's antecedent?"
    local_files = {"test": "coref/gap/gap-test.tsv", "dev": "coref/gap/gap-development.tsv", "validation": "coref/gap/gap-validation.tsv"}
    demo_files = {"test": "gap-demo.tsv"}
    few_shot_split = "dev"
    hub_id = "google-research-datasets/gap_coreference"
    metric_directions = {"bias_f_over_m": None}  # best at 1: feminine F1 equal to masculine
    published = (
        ("Syntactic parallelism baseline (Webster et al. 2018)", "f1", 0.669),
        ("Syntactic parallelism baseline (Webster et al. 2018)", "bias_f_over_m", 0.93),
    )
    hub_splits = {"test": "test", "dev": "train", "validation": "validation"}

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Parse GAP's TSV (header ``ID Text Pronoun Pronoun-offset A A-offset A-coref B B-offset B-coref URL``)."""
        return [self._example(dict(zip(GAP_HEADER, row)), split, path, number) for number, row in tsv_rows(path, GAP_HEADER, self.encoding)]

    def _example(self, row: dict[str, Any], split: str, path: Path | str, line: int | None) -> Example:
        flags = []
        for field in ("A-coref", "B-coref"):
            value = str(row[field]).upper()
            if value not in ("TRUE", "FALSE"):
                raise DataError(path, line, f"expected TRUE or FALSE in field {field!r}, got {row[field]!r}")
            flags.append(value == "TRUE")
        offsets = []
        for field in ("Pronoun-offset", "A-offset", "B-offset"):
            try:
                offsets.append(int(row[field]))
            except (TypeError, ValueError):
                raise DataError(path, line, f"expected an integer character offset in field {field!r}, got {row[field]!r}") from None
        gender = GAP_GENDER.get(str(row["Pronoun"]).lower())
        if gender is None:
            raise DataError(path, line, f"expected a gendered pronoun in field 'Pronoun', got {row['Pronoun']!r}")
        if all(flags):
            raise DataError(path, line, "expected at most one of A-coref and B-coref to be TRUE")
        reference = 0 if flags[0] else 1 if flags[1] else None
        data = choice_input(row["Text"], row["Pronoun"], offsets[0], [(row["A"], offsets[1]), (row["B"], offsets[2])], allow_none=True)
        return Example(str(row["ID"]), data, reference, {"gender": gender, "line": line})

    def from_hub(self, split: str) -> list[Example]:
        """Load ``gap_coreference`` (same columns as the TSV)."""
        import datasets

        ds = datasets.load_dataset(self.hub_id, split=self.hub_splits[split])
        return [self._example(row, split, self.hub_id, None) for row in ds]

    def score(self, examples, predictions, seed: int = 0) -> Scores:
        """GAP's official scoring: each pronoun-name pair is a binary decision."""
        return gap_scores(examples, [p.output for p in predictions], seed=seed)

    def paired_statistics(self, examples, predictions):
        """Per example: true positives, false positives and false negatives over its two
        pronoun-name pairs (the headline F1 from their sums)."""
        stats = gap_pair_counts(examples, [p.output for p in predictions])
        return PairedStatistics([e.id for e in examples], stats, lambda s: safe_ratio(2 * s[..., 0], 2 * s[..., 0] + s[..., 1] + s[..., 2]))


def gap_pair_counts(examples: Sequence[Example], outputs: Sequence[Any]) -> np.ndarray:
    """Per example: [tp, fp, fn] over its pronoun-name pairs A and B."""
    stats = np.zeros((len(examples), 3))
    for i, (example, output) in enumerate(zip(examples, outputs)):
        for candidate in (0, 1):
            gold, system = example.reference == candidate, output == candidate
            stats[i] += (gold and system, system and not gold, gold and not system)
    return stats


def gap_scores(examples: Sequence[Example], outputs: Sequence[Any], seed: int = 0) -> Scores:
    """P/R/F1 over pronoun-name pairs, overall and per gender, and bias = F1(F) / F1(M).

    As GAP's official scorer does: for names A and B the gold and predicted "coreferent?"
    flags give a true positive, false positive or false negative; F1 is computed from
    those counts overall, for masculine and for feminine pronouns.
    """
    groups = ("", "M", "F")
    stats = np.zeros((len(examples), 3 * len(groups)))  # [tp, fp, fn] per group
    for i, (example, output) in enumerate(zip(examples, outputs)):
        for candidate in (0, 1):
            gold, system = example.reference == candidate, output == candidate
            counts = (gold and system, system and not gold, gold and not system)
            for g, group in enumerate(groups):
                if group in ("", example.meta["gender"]):
                    stats[i, 3 * g : 3 * g + 3] += counts

    def all_metrics(sums: np.ndarray) -> np.ndarray:
        tp, fp, fn = sums[..., 0::3], sums[..., 1::3], sums[..., 2::3]
        precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
        f1 = safe_ratio(2 * tp, 2 * tp + fp + fn)
        bias = safe_ratio(f1[..., 2:3], f1[..., 1:2])
        return np.concatenate([f1, precision[..., :1], recall[..., :1], bias], axis=-1)

    low, high = bootstrap_ci(stats, all_metrics, seed=seed)
    point = all_metrics(stats.sum(axis=0))
    n = len(examples)
    per_gender = {g: sum(e.meta["gender"] == g for e in examples) for g in ("M", "F")}
    metrics = [
        Metric("f1", float(point[0]), float(low[0]), float(high[0]), n),
        Metric("precision", float(point[3]), float(low[3]), float(high[3]), n),
        Metric("recall", float(point[4]), float(low[4]), float(high[4]), n),
        Metric("bias_f_over_m", float(point[5]), float(low[5]), float(high[5]), n),
        Metric("f1", float(point[1]), float(low[1]), float(high[1]), per_gender["M"], "gender=M"),
        Metric("f1", float(point[2]), float(low[2]), float(high[2]), per_gender["F"], "gender=F"),
    ]
    return Scores("f1", metrics)


class Winogender(CorefTask):
    """Winogender schemas (Rudinger et al. 2018): occupation vs participant, three pronoun genders."""

    example_unit = "sentence"
    metric_directions = {"male_female_disagreement": False}
    name = "coref:winogender"
    dataset = "Winogender"
    licence = "MIT"
    text_redistributable = True
    description = "Occupation/participant pronoun resolution in male, female and neutral variants"
    local_files = {"test": "coref/winogender/all_sentences.tsv"}
    demo_files = {"test": "winogender-demo.tsv"}
    # Winogender has no training data: few-shot examples are Winograd schemas outside WSC273.
    few_shot_task = "coref:wsc273"
    few_shot_split = "extra"

    def read_file(self, path: Path, split: str) -> list[Example]:
        """TSV ``sentid<TAB>sentence``; sentid is ``occupation.participant.answer.gender.txt``."""
        examples = []
        for line, (sentid, sentence) in tsv_rows(path, ["sentid", "sentence"], self.encoding):
            parts = sentid.split(".")
            if len(parts) != 5 or parts[4] != "txt" or parts[2] not in ("0", "1") or parts[3] not in WINOGENDER_PRONOUNS:
                raise DataError(path, line, f"expected sentid 'occupation.participant.answer(0|1).gender(male|female|neutral).txt', got {sentid!r}")
            occupation, participant, answer, gender = parts[:4]
            pronoun = re.search(rf"\b({'|'.join(WINOGENDER_PRONOUNS[gender])})\b", sentence, flags=re.I)
            if pronoun is None:
                raise DataError(path, line, f"expected a {gender} pronoun ({', '.join(WINOGENDER_PRONOUNS[gender])}) in the sentence")
            candidates = [(mention, find_mention(sentence, mention)) for mention in (occupation, participant)]
            data = choice_input(sentence, pronoun.group(0), pronoun.start(), candidates)
            meta = {"gender": gender, "pair": f"{occupation}.{participant}.{answer}", "line": line}
            examples.append(Example(sentid, data, int(answer), meta))
        return examples

    def from_hub(self, split: str) -> list[Example]:
        """Winogender's published TSVs are not on the Hub in this form."""
        raise LookupError("Winogender has no Hugging Face Hub copy in its published form; use --data-dir")

    def score(self, examples, predictions, seed: int = 0) -> Scores:
        """Accuracy overall and per pronoun gender, and how often male/female variants disagree."""
        outputs = [p.output for p in predictions]
        scores = score_choice([e.reference for e in examples], outputs, seed=seed)
        for gender in WINOGENDER_PRONOUNS:
            idx = [i for i, e in enumerate(examples) if e.meta["gender"] == gender]
            if idx:
                part = score_choice([examples[i].reference for i in idx], [outputs[i] for i in idx], seed=seed).get("accuracy")
                scores.metrics.append(Metric("accuracy", part.value, part.ci_low, part.ci_high, part.n, f"gender={gender}"))
        by_pair: dict[str, dict[str, Any]] = defaultdict(dict)
        for example, output in zip(examples, outputs):
            by_pair[example.meta["pair"]][example.meta["gender"]] = output
        differs = np.array([[p["male"] != p["female"]] for p in by_pair.values() if "male" in p and "female" in p], dtype=float)
        if len(differs):
            low, high = bootstrap_ci(differs, lambda sums: sums / len(differs), seed=seed)
            scores.metrics.append(Metric("male_female_disagreement", float(differs.mean()), float(low[0]), float(high[0]), len(differs)))
        return scores


@hookimpl
def harness_register_tasks(register):
    register(WSC273(), aliases=("wsc273",))
    register(GAP(), aliases=("gap",))
    register(Winogender(), aliases=("winogender",))
    register(TaskGroup("coref", ["coref:wsc273", "coref:gap", "coref:winogender"], "every coreference dataset"))
