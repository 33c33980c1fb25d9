"""Classic spelling correctors as baselines for ``correction`` tasks.

Each corrects its input word by word (whitespace-separated) and, for one-word inputs,
returns its ranked candidates so top-k accuracy can be reported.
"""
from __future__ import annotations

from importlib.metadata import version
from typing import Callable, Iterable

from harness import Model, Prediction, hookimpl

Ranker = Callable[[str], list[str]]


class EditIndex:
    """The dictionary words one of Norvig's edits away from a string, found by lookups.

    Norvig's correctors (pyspellchecker, TextBlob, autocorrect) generate every string one
    edit away (deletes, adjacent transposes, replaces and inserts of an alphabet letter)
    and keep those in their dictionary; at two edits that is ~300,000 strings per word and
    1-10 words a second. This index answers the same question exactly: a replace or insert
    of an alphabet letter leaves the dictionary word equal to the edited string once that
    letter is removed, so words are indexed by each such one-letter gap.
    Written by hand: no maintained library offers Norvig's candidate sets faster.
    """

    def __init__(self, words: Iterable[str], alphabet: Iterable[str]):
        self.words = set(words)
        self.alphabet = frozenset(alphabet)
        self.gaps: dict[str, list[tuple[int, str]]] = {}
        for word in self.words:
            for i, letter in enumerate(word):
                if letter in self.alphabet:
                    self.gaps.setdefault(word[:i] + word[i + 1 :], []).append((i, word))

    def edits1(self, word: str) -> set[str]:
        """Every string one edit away (Norvig's definition, this index's alphabet)."""
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        return {
            *(a + b[1:] for a, b in splits if b),
            *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
            *(a + c + b[1:] for a, b in splits if b for c in self.alphabet),
            *(a + c + b for a, b in splits for c in self.alphabet),
        }

    def known1(self, word: str) -> set[str]:
        """``edits1(word) & words``, without building ``edits1(word)``."""
        words, gaps, found = self.words, self.gaps, set()
        for i in range(len(word)):
            rest = word[:i] + word[i + 1 :]
            if rest in words:  # delete
                found.add(rest)
            found.update(v for j, v in gaps.get(rest, ()) if j == i)  # replace at i
            if i + 1 < len(word):
                swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                if swapped in words:  # transpose
                    found.add(swapped)
        found.update(v for _, v in gaps.get(word, ()))  # insert anywhere
        return found

    def known2(self, firsts: Iterable[str]) -> set[str]:
        """Dictionary words one edit away from any of ``firsts`` (the first edits of a word)."""
        found: set[str] = set()
        for first in firsts:
            found |= self.known1(first)
        return found


class SpellingModel(Model):
    """A corrector defined by a function from a word to its ranked corrections (best first).

    Spelling correctors are pure-Python and CPU-bound: the runner spreads them over
    ``--workers`` processes. Each ranker breaks ties by a fixed rule, so answers never depend
    on ``PYTHONHASHSEED`` (set iteration order).
    """

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    kinds = frozenset({"correction"})
    baseline = True
    cpu_bound = True
    batch_invariant = True
    package = ""

    def __init__(self) -> None:
        self._rank: Ranker | None = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_rank"] = None  # worker processes build their own (closures do not pickle)
        return state

    def identity(self):
        """Name, the version of the package that holds the corrector and its dictionary, and the
        answers version (bumped with a changed ranking rule: it never serves cached answers)."""
        return {"name": self.name, self.package: version(self.package), **self.code_identity()}

    def load(self) -> Ranker:
        """Build the word -> ranked corrections function (heavy: dictionaries load here)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Load the dictionary before the throughput clock starts."""
        if self._rank is None:
            self._rank = self.load()

    def predict(self, task, examples, *, batch_size=32):
        """Correct each word of each input; keep a word when the corrector has nothing for it."""
        self.prepare()
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
    description = ("pyspellchecker (Norvig's algorithm, edit distance 2, its English word frequencies); "
                   "ties: accent-only matches, then frequency, then alphabetical")

    def load(self) -> Ranker:
        from spellchecker import SpellChecker

        checker = SpellChecker()
        frequency = checker.word_frequency
        index = EditIndex(frequency.dictionary, frequency.letters)
        should_check = checker._check_if_should_check

        def candidates(word: str) -> set[str]:
            """``SpellChecker.candidates`` (0.9.1) with its distance-2 step answered by the index."""
            if checker.known([word]) or not should_check(word):
                return {word}
            firsts = checker.edit_distance_1(word)
            found = checker.known(firsts)
            if not found and checker.distance == 2:
                found = checker.known(index.known2(e for e in firsts if should_check(e)))
            return found

        def rank(word: str) -> list[str]:
            bare = checker._remove_diacritics(word)
            found = candidates(word)
            return sorted(found, key=lambda c: (checker._remove_diacritics(c) != bare, -frequency[c], c))

        rank.candidates = candidates  # type: ignore[attr-defined]
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
            found = engine.lookup(word, Verbosity.ALL, max_edit_distance=2)
            return [s.term for s in sorted(found, key=lambda s: (s.distance, -s.count, s.term))]

        return rank


class Autocorrect(SpellingModel):
    name = "autocorrect"
    package = "autocorrect"
    description = "autocorrect's English Speller (word frequencies, up to two edits)"

    def load(self) -> Ranker:
        from autocorrect import Speller
        from autocorrect.constants import alphabets

        index_holder: list[EditIndex] = []

        class IndexedSpeller(Speller):
            """``Speller.get_candidates`` (2.6.1) with double typos answered by the index."""

            def get_candidates(self, word):
                if not index_holder:
                    index_holder.append(EditIndex(self.nlp_data, alphabets["en"]))
                index = index_holder[0]
                candidates = self.existing([word]) or index.known1(word) or index.known2(index.edits1(word)) or [word]
                return [(self.nlp_data.get(c, 0), c) for c in candidates]

        speller = IndexedSpeller(lang="en")

        def rank(word: str) -> list[str]:
            best = speller.autocorrect_word(word)
            others = [w for _, w in sorted(speller.get_candidates(word), reverse=True)]
            return list(dict.fromkeys([best, *others]))

        rank.speller = speller  # type: ignore[attr-defined]
        return rank


class TextBlob(SpellingModel):
    name = "textblob"
    package = "textblob"
    description = "TextBlob's Word.spellcheck (Norvig's algorithm, its en-spelling word counts)"

    def load(self) -> Ranker:
        from textblob import Word
        from textblob.en import spelling

        spelling.load()
        index = EditIndex(dict.keys(spelling), spelling.ALPHA)
        # Spelling._edit2 (0.20.1) keeps the known strings two edits away: answered by the index.
        spelling._edit2 = lambda word: index.known2(spelling._edit1(word))
        return lambda word: [w for w, _ in Word(word).spellcheck()]


class Identity(Model):
    """Returns the input unchanged: the floor for accuracy, zero over-correction."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    name = "identity"
    description = "returns its input unchanged (the floor)"
    kinds = frozenset({"correction"})
    baseline = True
    batch_invariant = True

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
