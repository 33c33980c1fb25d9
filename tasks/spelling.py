"""Spelling correction, kind ``correction``: Norvig's test sets, Birkbeck, TOEFL-Spell, codespell.

Each example's input is one misspelt word (or, for Birkbeck and TOEFL-Spell, occasionally
a few words) and its reference the list of acceptable corrections. Every distinct correct
word of a dataset is also given as a *clean* example (input = reference), placed right
after its first misspelling, so the over-correction rate is measured on the same words.
Comparison is case-insensitive and whitespace-normalised (:func:`harness.kinds.correction.scoring.normalise_text`).
"""
from __future__ import annotations

import ast
from pathlib import Path

from harness import DataError, Example, PromptVariant, Task, TaskGroup, hookimpl
from harness import correction_examples, read_text, text_lines, tsv_rows


class SpellingTask(Task):
    """Shared settings of the spelling datasets (one test split each)."""

    example_unit = "word"  # each misspelling, and each correct word once (clean)
    metric_units = {"accuracy": "misspelling", "top_5_accuracy": "misspelling", "over_correction_rate": "correct word"}

    kind = "correction"
    # Decoders write the corrected word after the prompt (one line).
    prompt_template = "Correct the spelling of the word. If it is already spelt correctly, repeat it. Answer with the word only.\nWord: {{ input }}\nCorrect spelling:"
    prompt_variants = {
        "terse": PromptVariant("Misspelt: {{ input }}\nCorrected:", "two bare cues, no instruction"),
        "question": PromptVariant("Question: What is the correct spelling of \"{{ input }}\"?\nAnswer:",
                                  "a question with the word quoted"),
        "dictionary": PromptVariant("Word (possibly misspelt): {{ input }}\nDictionary spelling:",
                                    "the word's dictionary form asked for"),
    }
    version = "1"
    default_split = "test"

    def from_hub(self, split: str) -> list[Example]:
        """These datasets have no Hub copy in their published form."""
        raise LookupError(f"{self.dataset} has no Hugging Face Hub copy; use --data-dir")


def read_norvig(path: Path, encoding: str = "utf-8") -> list[tuple[str, list[str], int]]:
    """Norvig's test sets: ``name = {'right': 'wrong1 wrong2', ...}`` (a Python dict literal)."""
    text = read_text(path, encoding)
    name, equals, literal = text.partition("=")
    if not equals:
        raise DataError(path, 1, "expected 'name = {'right': 'wrong1 wrong2', ...}'")
    offset = name.count("\n")
    try:
        table = ast.literal_eval(literal.strip())
    except (SyntaxError, ValueError) as exc:
        line = offset + (getattr(exc, "lineno", None) or 1)
        raise DataError(path, line, f"expected a Python dict literal of 'right': 'wrong1 wrong2' ({type(exc).__name__})") from exc
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise DataError(path, offset + 1, "expected a dict mapping each correct word to a string of misspellings")
    lines = text.splitlines()

    def line_of(word: str) -> int:
        needle = repr(word)[1:-1]
        for number, content in enumerate(lines, start=1):
            if f"'{needle}'" in content or f'"{needle}"' in content:
                return number
        return offset + 1

    return [(wrong, [right], line_of(right)) for right, wrongs in table.items() for wrong in wrongs.split()]


class Norvig(SpellingTask):
    """One of Norvig's two test sets (from 'How to Write a Spelling Corrector')."""

    licence = "none stated (published with Norvig's essay)"
    text_redistributable = True

    def __init__(self, number: int):
        self.name = f"spelling:norvig{number}"
        self.dataset = f"Norvig test set {number}"
        self.description = f"Norvig's spell-testset{number} ({'270' if number == 1 else '400'} misspellings)"
        # Few-shot examples come from the other set (Norvig developed on set 1 and tested on set 2).
        self.local_files = {"test": f"spelling/norvig/spell-testset{number}.txt",
                            "dev": f"spelling/norvig/spell-testset{3 - number}.txt"}
        self.demo_files = {"test": "norvig-demo.txt", "dev": "norvig-demo.txt"}
        self.few_shot_split = "dev"
        self.published = (("Norvig's corrector (Norvig 2007)", "accuracy", 0.75 if number == 1 else 0.68),)

    def read_file(self, path: Path, split: str) -> list[Example]:
        """Parse the dict literal."""
        return correction_examples(read_norvig(path, self.encoding), split)


class Birkbeck(SpellingTask):
    """Mitton's Birkbeck spelling error corpus."""

    name = "spelling:birkbeck"
    dataset = "Birkbeck"
    licence = "research corpus (Mitton, Oxford Text Archive): no right to republish stated"
    text_redistributable = False
    description = "Birkbeck spelling error corpus (Mitton): 36,133 misspellings of 6,136 words"
    local_files = {"test": "spelling/birkbeck/missp.dat"}
    demo_files = {"test": "birkbeck-demo.dat"}

    def read_file(self, path: Path, split: str) -> list[Example]:
        """``$correct`` lines, each followed by its misspellings; ``_`` stands for a space."""
        pairs = []
        target = None
        for number, line in text_lines(path, self.encoding):
            word = line.strip()
            if not word:
                continue
            if word.startswith("$"):
                target = word[1:].replace("_", " ")
                if not target:
                    raise DataError(path, number, "expected a word after '$'")
                continue
            if target is None:
                raise DataError(path, number, f"expected a '$correct' line before the first misspelling, got {word[:60]!r}")
            pairs.append((word.replace("_", " "), [target], number))
        return correction_examples(pairs, split)


class ToeflSpell(SpellingTask):
    """TOEFL-Spell: misspellings annotated in TOEFL essays (Flor et al. 2019), type M only."""

    name = "spelling:toefl"
    dataset = "TOEFL-Spell"
    licence = "CC-BY-SA-4.0"
    text_redistributable = True
    description = "Misspellings in learner essays (type M: single-word misspellings)"
    local_files = {"test": "spelling/toefl_spell/Annotations.tsv"}
    demo_files = {"test": "toefl-demo.tsv"}
    header = ["Filename", "OffsetSpan", "Misspelling", "Type", "Correction"]

    def read_file(self, path: Path, split: str) -> list[Example]:
        """TSV with header ``Filename OffsetSpan Misspelling Type Correction``; rows of type M."""
        pairs = []
        for number, (_, _, wrong, kind, correction) in tsv_rows(path, self.header, self.encoding):
            if kind == "M":
                if not wrong.strip() or not correction.strip():
                    raise DataError(path, number, "expected non-empty fields 'Misspelling' and 'Correction'")
                pairs.append((wrong, [correction], number))
        return correction_examples(pairs, split)


class Codespell(SpellingTask):
    """codespell's dictionary of common misspellings (typo -> fixes); ships in the codespell package."""

    name = "spelling:codespell"
    dataset = "codespell dictionary"
    licence = "CC-BY-SA-3.0"
    text_redistributable = True
    description = "codespell's typo -> fix dictionary (any listed fix counts as correct)"
    local_files = {"test": "spelling/codespell/dictionary.txt"}
    package_files = {"test": ("codespell_lib", "data/dictionary.txt")}
    demo_files = {"test": "codespell-demo.txt"}

    def read_file(self, path: Path, split: str) -> list[Example]:
        """``typo->fix1, fix2,`` lines (a trailing comma marks fixes codespell won't apply itself)."""
        pairs = []
        for number, line in text_lines(path, self.encoding):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            typo, arrow, fixes = line.partition("->")
            corrections = [f.strip() for f in fixes.split(",") if f.strip()]
            if not arrow or not typo.strip() or not corrections:
                raise DataError(path, number, f"expected 'typo->fix1, fix2', got {line[:60]!r}")
            pairs.append((typo.strip(), corrections, number))
        return correction_examples(pairs, split)


@hookimpl
def harness_register_tasks(register):
    register(Norvig(1))
    register(Norvig(2))
    register(Birkbeck())
    register(ToeflSpell())
    register(Codespell())
    register(TaskGroup(
        "spelling",
        ["spelling:norvig1", "spelling:norvig2", "spelling:birkbeck", "spelling:toefl", "spelling:codespell"],
        "every spelling dataset",
    ))
