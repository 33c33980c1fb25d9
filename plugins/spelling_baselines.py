"""Classic spelling correctors as baselines for ``correction`` tasks.

Each corrects its input word by word (whitespace-separated) and, for one-word inputs,
returns its ranked candidates so top-k accuracy can be reported.
"""
from __future__ import annotations

from importlib.metadata import version
from typing import Callable

from harness import Model, Prediction, hookimpl

Ranker = Callable[[str], list[str]]


class SpellingModel(Model):
    """A corrector defined by a function from a word to its ranked corrections (best first)."""

    kinds = frozenset({"correction"})
    baseline = True
    package = ""

    def __init__(self) -> None:
        self._rank: Ranker | None = None

    def identity(self):
        """Name plus the version of the package that holds the corrector and its dictionary."""
        return {"name": self.name, self.package: version(self.package)}

    def load(self) -> Ranker:
        """Build the word -> ranked corrections function (heavy: dictionaries load here)."""
        raise NotImplementedError

    def predict(self, task, examples, *, batch_size=32):
        """Correct each word of each input; keep a word when the corrector has nothing for it."""
        if self._rank is None:
            self._rank = self.load()
        predictions = []
        for example in examples:
            words = str(example.input).split()
            ranked = [self._rank(word) or [word] for word in words]
            output = " ".join(r[0] for r in ranked)
            predictions.append(Prediction(output, candidates=ranked[0][:10] if len(words) == 1 else None))
        return predictions


class PySpellChecker(SpellingModel):
    name = "pyspellchecker"
    package = "pyspellchecker"
    description = "pyspellchecker (Norvig's algorithm, edit distance 2, its English word frequencies)"

    def load(self) -> Ranker:
        from spellchecker import SpellChecker

        checker = SpellChecker()

        def rank(word: str) -> list[str]:
            best = checker.correction(word)
            others = sorted(checker.candidates(word) or [], key=lambda c: (-checker.word_usage_frequency(c), c))
            return list(dict.fromkeys([best, *others])) if best else others

        return rank


class SymSpell(SpellingModel):
    name = "symspell"
    package = "symspellpy"
    description = "SymSpell (symspellpy) with its bundled 82,765-word frequency dictionary, edit distance 2"

    def load(self) -> Ranker:
        import importlib.resources

        from symspellpy import SymSpell as Engine
        from symspellpy import Verbosity

        engine = Engine(max_dictionary_edit_distance=2, prefix_length=7)
        ref = importlib.resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt")
        with importlib.resources.as_file(ref) as path:
            engine.load_dictionary(str(path), term_index=0, count_index=1)

        def rank(word: str) -> list[str]:
            return [s.term for s in engine.lookup(word, Verbosity.ALL, max_edit_distance=2)]

        return rank


class Autocorrect(SpellingModel):
    name = "autocorrect"
    package = "autocorrect"
    description = "autocorrect's English Speller (word frequencies, up to two edits)"

    def load(self) -> Ranker:
        from autocorrect import Speller

        speller = Speller(lang="en")

        def rank(word: str) -> list[str]:
            best = speller.autocorrect_word(word)
            others = [w for _, w in sorted(speller.get_candidates(word), reverse=True)]
            return list(dict.fromkeys([best, *others]))

        return rank


class TextBlob(SpellingModel):
    name = "textblob"
    package = "textblob"
    description = "TextBlob's Word.spellcheck (Norvig's algorithm, its en-spelling word counts)"

    def load(self) -> Ranker:
        from textblob import Word

        return lambda word: [w for w, _ in Word(word).spellcheck()]


class Identity(Model):
    """Returns the input unchanged: the floor for accuracy, zero over-correction."""

    name = "identity"
    description = "returns its input unchanged (the floor)"
    kinds = frozenset({"correction"})
    baseline = True

    def predict(self, task, examples, *, batch_size=32):
        """Echo every input."""
        return [Prediction(example.input) for example in examples]


@hookimpl
def harness_register_models(register):
    register(PySpellChecker())
    register(SymSpell())
    register(Autocorrect())
    register(TextBlob())
    register(Identity())
