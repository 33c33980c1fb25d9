"""Coreference: loaders, GAP scoring against a re-implementation of the paper's metric, Winogender, heuristics."""
from __future__ import annotations

import pytest

from harness import DataError, Example, Prediction, get_model, get_task, score
from plugins.coref_heuristics import first_mentioned, nearest_preceding

from .conftest import write_file as write

GAP_HEADER = "ID\tText\tPronoun\tPronoun-offset\tA\tA-offset\tA-coref\tB\tB-offset\tB-coref\tURL\n"

# (id, pronoun, gold: "A" / "B" / "N"): texts are built so offsets are exact.
GAP_ROWS = [
    ("m1", "he", "A"), ("m2", "his", "B"), ("m3", "him", "N"),
    ("f1", "she", "A"), ("f2", "her", "B"), ("f3", "She", "N"), ("f4", "hers", "A"),
]
PREDICTED = [0, 0, 1, 0, 1, None, 1]


def gap_tsv(rows=GAP_ROWS) -> str:
    lines = [GAP_HEADER]
    for row_id, pronoun, gold in rows:
        text = f"Ann Lee met Bea Kim, and later {pronoun} left."
        lines.append("\t".join([
            row_id, text, pronoun, str(text.index(f" {pronoun} ") + 1), "Ann Lee", "0", str(gold == "A").upper(),
            "Bea Kim", str(text.index("Bea Kim")), str(gold == "B").upper(), "http://example.org",
        ]) + "\n")
    return "".join(lines)


def paper_gap_scores(gold_rows, predicted):
    """GAP's metric re-implemented from Webster et al. (2018), sec. 5: each (pronoun, name) pair
    is a binary coreference decision; P, R and F1 over pairs, per masculine / feminine pronoun;
    bias is feminine F1 over masculine F1."""
    masculine = {"he", "him", "his", "himself"}
    tallies = {"all": [0, 0, 0], "M": [0, 0, 0], "F": [0, 0, 0]}  # tp, fp, fn
    for (_, pronoun, gold), system in zip(gold_rows, predicted):
        gender = "M" if pronoun.lower() in masculine else "F"
        for name, index in (("A", 0), ("B", 1)):
            g, s = gold == name, system == index
            for key in ("all", gender):
                tallies[key][0] += g and s
                tallies[key][1] += s and not g
                tallies[key][2] += g and not s
    result = {}
    for key, (tp, fp, fn) in tallies.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        result[key] = 2 * p * r / (p + r) if p + r else 0.0
    result["bias"] = result["F"] / result["M"] if result["M"] else 0.0
    return result


def test_gap_scores_match_hand_counts_and_the_paper_reimplementation(tmp_path):
    write(tmp_path, "coref/gap/gap-test.tsv", gap_tsv())
    task = get_task("coref:gap")
    examples = task.load(data_dir=tmp_path).examples
    assert [e.reference for e in examples] == [0, 1, None, 0, 1, None, 0]
    assert [e.meta["gender"] for e in examples] == ["M"] * 3 + ["F"] * 4
    scores = score(task, examples, [Prediction(p) for p in PREDICTED])
    # Hand counts. M: m1 TP; m2 FP(A)+FN(B); m3 FP(B) -> tp 1 fp 2 fn 1 -> F1 2/5.
    # F: f1 TP; f2 TP; f3 nothing; f4 FN(A)+FP(B) -> tp 2 fp 1 fn 1 -> F1 2/3.
    # Overall: tp 3 fp 3 fn 2 -> F1 6/11. Bias (2/3)/(2/5) = 5/3.
    assert scores.get("f1", "gender=M").value == pytest.approx(2 / 5)
    assert scores.get("f1", "gender=F").value == pytest.approx(2 / 3)
    assert scores.get("f1").value == pytest.approx(6 / 11)
    assert scores.get("bias_f_over_m").value == pytest.approx(5 / 3)
    assert scores.get("precision").value == pytest.approx(3 / 6) and scores.get("recall").value == pytest.approx(3 / 5)
    reference = paper_gap_scores(GAP_ROWS, PREDICTED)
    assert scores.get("f1").value == pytest.approx(reference["all"], abs=1e-12)
    assert scores.get("f1", "gender=M").value == pytest.approx(reference["M"], abs=1e-12)
    assert scores.get("f1", "gender=F").value == pytest.approx(reference["F"], abs=1e-12)
    assert scores.get("bias_f_over_m").value == pytest.approx(reference["bias"], abs=1e-12)
    f1 = scores.get("f1")
    assert f1.ci_low <= f1.value <= f1.ci_high


def test_gap_agrees_with_the_reimplementation_on_the_demo_with_every_heuristic():
    task = get_task("coref:gap")
    examples = task.load(source="demo").examples
    rows = [(e.id, e.input["pronoun"], "A" if e.reference == 0 else "B" if e.reference == 1 else "N") for e in examples]
    for name in ("coref-nearest", "coref-first"):
        outputs = [p.output for p in get_model(name).predict(task, examples)]
        scores = score(task, examples, [Prediction(o) for o in outputs])
        assert scores.get("f1").value == pytest.approx(paper_gap_scores(rows, outputs)["all"], abs=1e-12)



WSC_SCHEMA = """<schema>
<text>
<txt1>
The trophy doesn't fit into the brown suitcase because
</txt1>
<pron> it  </pron>
<txt2> is too large.
</txt2>
</text>
<answers>
<answer>the trophy </answer>
<answer>the suitcase </answer>
</answers>
<correctAnswer> {answer}  </correctAnswer>
</schema>
"""


def wsc_xml(*answers: str) -> str:
    return '<?xml version="1.0" encoding="ISO-8859-1"?>\n<collection>\n' + "".join(WSC_SCHEMA.format(answer=a) for a in answers) + "</collection>\n"


def test_wsc_loader_builds_text_offsets_and_candidates(tmp_path):
    write(tmp_path, "coref/wsc273/WSCollection.xml", wsc_xml("A.", "B"), encoding="iso-8859-1")
    examples = get_task("coref:wsc273").load(data_dir=tmp_path).examples
    first = examples[0]
    text = first.input["text"]
    assert text == "The trophy doesn't fit into the brown suitcase because it is too large."
    assert text[first.input["pronoun_offset"]:].startswith("it is")
    assert first.input["candidates"] == [{"text": "the trophy", "offset": 0}, {"text": "the suitcase", "offset": text.index("suitcase")}]
    assert [e.reference for e in examples] == [0, 1]
    assert [e.meta["line"] for e in examples] == [3, 18]


def test_wsc_keeps_only_the_first_273_schemas(tmp_path):
    write(tmp_path, "coref/wsc273/WSCollection.xml", wsc_xml(*["A"] * 275), encoding="iso-8859-1")
    assert len(get_task("coref:wsc273").load(data_dir=tmp_path).examples) == 273


def test_few_shot_examples_for_winograd_tasks_come_from_the_schemas_after_wsc273(tmp_path):
    from harness.run.runner import few_shot_examples

    write(tmp_path, "coref/wsc273/WSCollection.xml", wsc_xml(*["A"] * 273, "B", "B", "B"), encoding="iso-8859-1")
    extra = get_task("coref:wsc273").load("extra", data_dir=tmp_path).examples
    assert [e.id for e in extra] == ["extra-273", "extra-274", "extra-275"] and {e.reference for e in extra} == {1}
    for name in ("coref:wsc273", "coref:winogender"):  # Winogender has no training data of its own
        shots = few_shot_examples(get_task(name), 2, seed=0, data_dir=tmp_path, source="auto")
        assert len(shots) == 2 and all(shot.id.startswith("extra-") for shot in shots)


def test_winogender_loader_and_metrics(tmp_path):
    write(tmp_path, "coref/winogender/all_sentences.tsv", "sentid\tsentence\n"
          "nurse.patient.1.male.txt\tThe nurse told the patient that he could leave.\n"
          "nurse.patient.1.female.txt\tThe nurse told the patient that she could leave.\n"
          "nurse.patient.1.neutral.txt\tThe nurse told the patient that they could leave.\n"
          "chef.someone.0.male.txt\tThe chef served someone because he was paid to.\n"
          "chef.someone.0.female.txt\tThe chef served someone because she was paid to.\n"
          "chef.someone.0.neutral.txt\tThe chef served someone because they were paid to.\n")
    task = get_task("coref:winogender")
    examples = task.load(data_dir=tmp_path).examples
    first = examples[0].input
    assert first["candidates"] == [{"text": "nurse", "offset": 4}, {"text": "patient", "offset": 19}]
    assert first["text"][first["pronoun_offset"]:].startswith("he could")
    assert examples[3].input["candidates"][1] == {"text": "someone", "offset": 16}
    outputs = [1, 0, 1, 0, 0, 1]  # nurse pair disagrees; chef pair agrees
    scores = score(task, examples, [Prediction(o) for o in outputs])
    assert scores.get("accuracy").value == pytest.approx(4 / 6)
    assert scores.get("accuracy", "gender=male").value == 1.0
    assert scores.get("accuracy", "gender=female").value == 0.5
    assert scores.get("accuracy", "gender=neutral").value == 0.5
    assert scores.get("male_female_disagreement").value == pytest.approx(1 / 2)
    assert scores.get("male_female_disagreement").n == 2


@pytest.mark.parametrize(
    "task, relative, content, line, message",
    [
        ("coref:gap", "coref/gap/gap-test.tsv", "ID\tText\n", 1, "expected the header 'ID<TAB>Text<TAB>Pronoun<TAB>Pronoun-offset<TAB>A<TAB>A-offset<TAB>A-coref<TAB>B<TAB>B-offset<TAB>B-coref<TAB>URL', got ['ID', 'Text']"),
        ("coref:gap", "coref/gap/gap-test.tsv", GAP_HEADER + "x\tHe ran.\the\t0\tA\t0\tMAYBE\tB\t1\tFALSE\tu\n", 2,
         "expected TRUE or FALSE in field 'A-coref', got 'MAYBE'"),
        ("coref:gap", "coref/gap/gap-test.tsv", GAP_HEADER + "x\tHe ran.\the\tzero\tA\t0\tTRUE\tB\t1\tFALSE\tu\n", 2,
         "expected an integer character offset in field 'Pronoun-offset', got 'zero'"),
        ("coref:gap", "coref/gap/gap-test.tsv", GAP_HEADER + "x\tThey ran.\tthey\t0\tA\t0\tTRUE\tB\t1\tFALSE\tu\n", 2,
         "expected a gendered pronoun in field 'Pronoun', got 'they'"),
        ("coref:gap", "coref/gap/gap-test.tsv", GAP_HEADER + "x\tHe ran.\the\t0\tA\t0\tTRUE\tB\t1\tTRUE\tu\n", 2,
         "expected at most one of A-coref and B-coref to be TRUE"),
        ("coref:gap", "coref/gap/gap-test.tsv", GAP_HEADER + "x\tHe ran.\the\t0\n", 2, "expected 11 tab-separated fields (ID, Text, Pronoun, Pronoun-offset, A, A-offset, A-coref, B, B-offset, B-coref, URL), got 4"),
        ("coref:winogender", "coref/winogender/all_sentences.tsv", "id\ttext\n", 1, "expected the header 'sentid<TAB>sentence', got ['id', 'text']"),
        ("coref:winogender", "coref/winogender/all_sentences.tsv", "sentid\tsentence\nnurse.patient.male.txt\tThe nurse left.\n", 2,
         "expected sentid 'occupation.participant.answer(0|1).gender(male|female|neutral).txt', got 'nurse.patient.male.txt'"),
        ("coref:winogender", "coref/winogender/all_sentences.tsv",
         "sentid\tsentence\nnurse.patient.1.female.txt\tThe nurse told the patient that he could go.\n", 2,
         "expected a female pronoun (she, her, hers) in the sentence"),
        ("coref:winogender", "coref/winogender/all_sentences.tsv", "sentid\tsentence\nonly-one-field\n", 2,
         "expected 2 tab-separated fields (sentid, sentence), got 1"),
    ],
)
def test_malformed_coref_files_name_file_and_line(tmp_path, task, relative, content, line, message):
    path = write(tmp_path, relative, content)
    with pytest.raises(DataError) as info:
        get_task(task).load(data_dir=tmp_path)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert str(info.value).startswith(f"{path}:{line}: {message}")


def test_malformed_wsc_names_file_line_and_schema(tmp_path):
    path = write(tmp_path, "coref/wsc273/WSCollection.xml", wsc_xml("A", "C"), encoding="iso-8859-1")
    with pytest.raises(DataError) as info:
        get_task("coref:wsc273").load(data_dir=tmp_path)
    assert str(info.value) == f"{path}:18: schema 2: expected two answers and correctAnswer A or B, got 'C'"
    broken = write(tmp_path / "b", "coref/wsc273/WSCollection.xml", "<collection>\n<schema>\n</collection>\n")
    with pytest.raises(DataError, match=rf"^{broken}:3: expected well-formed XML"):
        get_task("coref:wsc273").load(data_dir=tmp_path / "b")


def _choice(text, pronoun, candidates):
    return Example("x", {"text": text, "pronoun": pronoun, "pronoun_offset": text.index(f" {pronoun} ") + 1,
                         "candidates": [{"text": c, "offset": text.find(c) if c in text else None} for c in candidates],
                         "allow_none": False}, 0)


def test_heuristics():
    example = _choice("Ann met Bea and then Cal, and she smiled.", "she", ["Bea", "Ann", "Cal"])
    assert nearest_preceding(example) == 2
    assert first_mentioned(example) == 1
    after = _choice("Before she left, Ann called Bea.", "she", ["Ann", "Bea"])
    assert nearest_preceding(after) == 0
    missing = _choice("Then he smiled at Tom.", "he", ["Sam's brother", "Tom"])
    assert nearest_preceding(missing) == 1 and first_mentioned(missing) == 1
