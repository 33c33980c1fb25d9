"""The spelling baselines: the edit index gives the libraries' own candidates, answers do not
depend on PYTHONHASHSEED, and worker processes give the same predictions as one process."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from harness import get_model
from harness.cli import cli
from plugins.spelling_baselines import EditIndex
from harness.store.store import Store

from .conftest import write_file

# misspellings at one and two edits, ties ('ghz': hz / khz / mhz are equally frequent), capitals, short words
WORDS = ["speling", "korrectud", "inconvient", "peotryy", "Hapy", "sucessfull", "ghz", "jjs", "wcm", "xqzv", "a", "it's"]


def test_edit_index_equals_generating_every_edit():
    words = {"cat", "cart", "act", "at", "scat", "coat", "cast", "ca", "tac", "chat"}
    index = EditIndex(words, "acehorst")
    for word in ["cat", "ct", "cta", "caat", "xat", "c", "catt", "hcat", "", "tca"]:
        assert index.known1(word) == index.edits1(word) & words, word
        expected = {e2 for e1 in index.edits1(word) for e2 in index.edits1(e1)} & words
        assert index.known2(index.edits1(word)) == expected, word


def test_pyspellchecker_candidates_equal_the_librarys_own():
    from spellchecker import SpellChecker

    rank = get_model("pyspellchecker").load()
    library = SpellChecker()
    for word in WORDS:
        assert rank.candidates(word) == (library.candidates(word) or set()), word


def test_textblob_suggestions_equal_the_librarys_own():
    from textblob.en import Spelling, spelling

    rank = get_model("textblob").load()
    library = Spelling(path=spelling.path)  # a second instance, without the index
    library.load()
    for word in WORDS:
        assert rank(word) == [w for w, _ in library.suggest(word)], word


def test_autocorrect_candidates_equal_the_librarys_own():
    from autocorrect import Speller

    rank = get_model("autocorrect").load()
    library = Speller(lang="en")
    for word in WORDS:
        assert sorted(rank.speller.get_candidates(word)) == sorted(library.get_candidates(word)), word


RANK_SCRIPT = """
import json, sys
from harness import get_model
out = {}
for name in ("pyspellchecker", "symspell"):
    rank = get_model(name).load()
    out[name] = [rank(w) for w in sys.argv[1:]]
print(json.dumps(out))
"""


def test_answers_do_not_depend_on_the_hash_seed():
    """pyspellchecker picked the best of tied candidates in set order, which PYTHONHASHSEED changes."""
    runs = []
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", RANK_SCRIPT, *WORDS], capture_output=True, text=True, timeout=300,
                              env={**__import__("os").environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1]
    ghz = runs[0]["pyspellchecker"][WORDS.index("ghz")]
    assert ghz[:3] == ["hz", "khz", "mhz"]  # equal frequencies: alphabetical


NORVIG = "tests1 = {" + ", ".join(f"'{right}': '{wrong}'" for right, wrong in [
    ("access", "acess"), ("accessing", "accesing"), ("accommodation", "accomodation acommodation acomodation"),
    ("account", "acount"), ("address", "adres adress addres"), ("addressable", "addresable"), ("arranged", "aranged arrainged"),
    ("arrangeing", "aranging"), ("arrangement", "arragment"), ("articles", "articals"), ("aunt", "annt anut arnt"),
    ("auxiliary", "auxillary"), ("available", "avaible"), ("awful", "awfall afful"), ("basically", "basicaly"),
    ("beginning", "begining"), ("benefit", "benifit"), ("benefits", "benifits"), ("between", "beetween"),
    ("bicycle", "bicycal bycicle bycycle"), ("biscuits", "biscits biscutes biscuts bisquits buiscits buiscuts"),
    ("built", "biult"), ("cake", "cak"), ("career", "carrer"), ("cemetery", "cemetary semetary"),
    ("centrally", "centraly"), ("certain", "cirtain"), ("challenges", "chalenges chalenges"), ("chapter", "chaper chaphter chaptur"),
    ("choice", "choise"), ("choosing", "chosing"), ("clerical", "clearical"), ("committee", "comittee"),
    ("compare", "compair"), ("completely", "completly"), ("consider", "concider"), ("considerable", "conciderable"),
    ("contented", "contenpted contende contended contentid"), ("curtains", "cartains certans courtens cuaritains curtans"),
]) + "}\n"


def test_workers_give_the_same_predictions_as_one_process(tmp_path):
    write_file(tmp_path / "data", "spelling/norvig/spell-testset1.txt", NORVIG)
    outputs = {}
    for workers in ("1", "2"):
        store = tmp_path / f"w{workers}.sqlite"
        result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:norvig1", "--models", "pyspellchecker,textblob,autocorrect",
                                          "--data-dir", str(tmp_path / "data"), "--store", str(store), "--workers", workers,
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
        runs = Store(store, readonly=True).runs()
        assert len(runs) == 3 and all(p.get("workers") == int(workers) for p in runs["provenance"])
        predictions = Store(store, readonly=True).predictions()
        outputs[workers] = sorted((row.model, row.position, json.dumps(row.prediction)) for row in predictions.itertuples())
    assert len(outputs["1"]) == 3 * 104  # the pool ran: 104 examples is above the 64 it starts at
    assert outputs["1"] == outputs["2"]


@pytest.mark.parametrize("name", ["pyspellchecker", "textblob", "autocorrect"])
def test_baselines_are_marked_cpu_bound(name):
    assert get_model(name).cpu_bound
