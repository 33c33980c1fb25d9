"""Seeded noise for robustness runs (``harness run --perturb``) and noise-augmented fine-tuning
(``harness finetune --augment``).

Noise is applied word by word, so a tagging example keeps one tag per token, and each kind
decides which words may change (its `Noise` part, :meth:`harness.kinds.Noise.perturb`). Which keys neighbour
which on a QWERTY keyboard and which characters OCR confuses come from ``nlpaug``'s resource
files; the edits themselves are written here, drawing from one ``random.Random`` per example
(nlpaug's augmenters draw from the global generator and re-tokenise the text, which would
move tokens and offsets).
"""
from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from functools import cache
from typing import Callable

from harness.errors import HarnessError

#: the perturbations ``--perturb`` and ``--augment`` know, and what each does to a chosen word
KINDS = {
    "typo": "a keyboard typo: a neighbouring key instead of a letter, a neighbouring key added, a letter dropped or "
            "two letters swapped",
    "ocr": "an OCR confusion: a character read as one it looks like (0/o, l/1, rn/m, ...)",
    "case": "case lost: the word in lower case",
    "punct": "punctuation noise: a punctuation mark inside the word dropped, or one added at its end",
}

#: one word changes with probability ``rate``
WordNoise = Callable[[str], str]


@dataclass(frozen=True)
class Perturbation:
    """One noise condition: a kind of noise and the share of words it changes."""

    name: str
    rate: float

    @property
    def label(self) -> str:
        """How columns and rows are labelled ("typo 0.1")."""
        return f"{self.name} {self.rate:g}"

    def to_json(self) -> dict:
        """What the cache key and the run record hold."""
        return {"name": self.name, "rate": self.rate}

    def noise(self, seed: int, example_id: str) -> WordNoise:
        """The word function for one example: deterministic in (seed, noise, rate, example id)."""
        rng = random.Random(f"{seed}:{self.name}:{self.rate!r}:{example_id}")
        edit = _EDITS[self.name]

        def word_noise(word: str) -> str:
            if not word or rng.random() >= self.rate:
                return word
            changed = edit(word, rng)
            return changed if changed else word  # a word never vanishes

        return word_noise


def parse_perturbations(spec: str, *, option: str = "--perturb") -> list[Perturbation]:
    """``typo:0,0.05,0.1`` or ``typo:0.1,ocr:0.05``: a rate without a name is another rate of
    the name before it. A one-line error names what is wrong."""
    out: list[Perturbation] = []
    name = None
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if ":" in item:
            name, _, rate_text = item.partition(":")
            name = name.strip()
        else:
            rate_text = item
        if name is None:
            raise HarnessError(f"{option} {spec!r}: expected NAME:RATE[,RATE...], e.g. typo:0.05,0.1; names: {', '.join(KINDS)}")
        if name not in KINDS:
            raise HarnessError(f"{option} {spec!r}: unknown noise {name!r}; expected one of: {', '.join(KINDS)}")
        try:
            rate = float(rate_text)
        except ValueError:
            raise HarnessError(f"{option} {spec!r}: rate {rate_text.strip()!r} of {name} is not a number") from None
        if not 0 <= rate <= 1:
            raise HarnessError(f"{option} {spec!r}: rate {rate:g} of {name} must be between 0 and 1 (the share of words changed)")
        out.append(Perturbation(name, rate))
    if not out:
        raise HarnessError(f"{option} {spec!r}: expected NAME:RATE[,RATE...], e.g. typo:0.05,0.1")
    return list(dict.fromkeys(out))


@cache
def _nlpaug_map(kind: str) -> dict[str, list[str]]:
    """nlpaug's English keyboard-neighbour or OCR-confusion map (the OCR one made symmetric)."""
    from importlib import resources

    text = resources.files("nlpaug").joinpath("res", "char", kind, "en.json").read_text(encoding="utf-8")
    mapping = {k: list(v) for k, v in json.loads(text).items()}
    if kind == "ocr":
        for key, values in list(mapping.items()):
            for value in values:
                mapping.setdefault(value, [])
                if key not in mapping[value]:
                    mapping[value].append(key)
    return mapping


def _neighbour(char: str, rng: random.Random) -> str | None:
    near = _nlpaug_map("keyboard").get(char.lower())
    if not near:
        return None
    pick = rng.choice(near)
    return pick.upper() if char.isupper() else pick


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if not letters:
        return word
    ops = ["substitute", "insert"] + (["delete", "transpose"] if len(word) > 1 else [])
    op = rng.choice(ops)
    i = rng.choice(letters)
    if op == "substitute":
        near = _neighbour(word[i], rng)
        return word[:i] + near + word[i + 1:] if near else word
    if op == "insert":
        near = _neighbour(word[i], rng)
        return word[: i + 1] + near + word[i + 1:] if near else word
    if op == "delete":
        return word[:i] + word[i + 1:]
    j = i + 1 if i + 1 < len(word) else i - 1
    a, b = sorted((i, j))
    return word[:a] + word[b] + word[a] + word[b + 1:]


def _ocr(word: str, rng: random.Random) -> str:
    mapping = _nlpaug_map("ocr")
    places = [i for i, c in enumerate(word) if mapping.get(c)]
    if not places:
        return word
    i = rng.choice(places)
    return word[:i] + rng.choice(mapping[word[i]]) + word[i + 1:]


def _case(word: str, rng: random.Random) -> str:
    return word.lower()


_PUNCT = ".,;:'-!?"


def _punct(word: str, rng: random.Random) -> str:
    inside = [i for i, c in enumerate(word) if c in string.punctuation]
    if inside and len(word) > 1 and rng.random() < 0.5:
        i = rng.choice(inside)
        return word[:i] + word[i + 1:]
    return word + rng.choice(_PUNCT)


_EDITS: dict[str, Callable[[str, random.Random], str]] = {"typo": _typo, "ocr": _ocr, "case": _case, "punct": _punct}


def perturb_words(words: list[str], noise: WordNoise) -> list[str]:
    """Each word through ``noise`` (one call per word, in order: the draws stay aligned)."""
    return [noise(word) for word in words]


def perturb_text(text: str, noise: WordNoise, keep: list[tuple[int, int]] = ()) -> tuple[str, Callable[[int], int]]:
    """``text`` with its whitespace-separated words through ``noise``, except words overlapping
    a ``keep`` span (start, end); returns the new text and a function that maps an offset in
    the old text to the new one (kept spans move with the text)."""
    import re

    pieces, shifts, last, shift = [], [], 0, 0
    for match in re.finditer(r"\S+", text):
        start, end = match.span()
        pieces.append(text[last:start])
        word = match.group(0)
        kept = any(start < k_end and k_start < end for k_start, k_end in keep)
        new = word if kept else noise(word)
        pieces.append(new)
        shift += len(new) - len(word)
        shifts.append((end, shift))
        last = end
    pieces.append(text[last:])

    def moved(offset: int) -> int:
        before = 0
        for end, total in shifts:
            if end <= offset:
                before = total
            else:
                break
        return offset + before

    return "".join(pieces), moved
