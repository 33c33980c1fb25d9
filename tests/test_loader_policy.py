"""Every built-in loader under one decoding policy: a latin-1 byte, a byte-order mark, CRLF
line ends, a 1 MB field and a NUL character, each in every loader's own format."""
from __future__ import annotations

import re

import pytest

from harness import DataError
from harness.core.task import get_task

from .conftest import write_file

LONG = "LONGFIELD"  # replaced by a 1 MB value in the long-field case
BAD = "BADCHAR"  # replaced by a latin-1 byte / a NUL character

# task, file under --data-dir, a small valid file in the dataset's own format with the markers in one field
LOADERS = [
    ("ner", "ner/conll2003/test.txt",
     "-DOCSTART- -X- -X- O\n\nEU NNP I-NP B-ORG\nrejects VBZ I-VP O\nLONGFIELD NN I-NP O\n\nPeter NNP I-NP B-PER\nBADCHAR NNP I-NP O\n"),
    ("ner:wnut17", "ner/wnut17/test.conll", "@bob\tO\nloves\tO\nLONGFIELD\tO\n\nNew\tB-location\nBADCHAR\tO\n"),
    ("sentiment", "sentiment/sst2/validation.tsv", "sentence\tlabel\na fine LONGFIELD film . \t1\ndull BADCHAR . \t0\n"),
    ("spelling:norvig1", "spelling/norvig/spell-testset1.txt", "tests1 = {'access': 'acess LONGFIELD', 'BADCHAR': 'accesing'}\n"),
    ("spelling:birkbeck", "spelling/birkbeck/missp.dat", "$LONGFIELD\nLONGFEILD\n$BADCHAR\nbadchr\n"),
    ("spelling:toefl", "spelling/toefl_spell/Annotations.tsv",
     "Filename\tOffsetSpan\tMisspelling\tType\tCorrection\na.txt\t1-5\tLONGFEILD\tM\tLONGFIELD\nb.txt\t3-9\tbadchr\tM\tBADCHAR\n"),
    ("spelling:codespell", "spelling/codespell/dictionary.txt", "abandonned->abandoned\nLONGFEILD->LONGFIELD\nbadchr->BADCHAR\n"),
    ("coref:wsc273", "coref/wsc273/WSCollection.xml",
     '<?xml version="1.0" encoding="UTF-8"?>\n<collection>\n<schema>\n<text><txt1>The trophy LONGFIELD does not fit into the suitcase '
     'because</txt1><pron>it</pron><txt2>is too big BADCHAR.</txt2></text>\n<quote><quote1></quote1><pron>it</pron><quote2></quote2></quote>\n'
     '<answers><answer>The trophy</answer><answer>the suitcase</answer></answers>\n<correctAnswer>A</correctAnswer>\n</schema>\n</collection>\n'),
    ("coref:gap", "coref/gap/gap-test.tsv",
     "ID\tText\tPronoun\tPronoun-offset\tA\tA-offset\tA-coref\tB\tB-offset\tB-coref\tURL\n"
     "test-1\tAnna met Beth BADCHAR and she waved LONGFIELD.\tshe\t22\tAnna\t0\tTRUE\tBeth\t9\tFALSE\thttp://x\n"),
    ("coref:winogender", "coref/winogender/all_sentences.tsv",
     "sentid\tsentence\nnurse.patient.0.female.txt\tThe nurse helped the patient because she was kind LONGFIELD BADCHAR.\n"),
]
IDS = [task for task, _, _ in LOADERS]


def load(task_name: str, data_dir):
    task = get_task(task_name)
    return task.load(task.default_split, data_dir=data_dir, source="local").examples


def write(tmp_path, relative: str, text: str, *, bad: bytes = b"b", long: str = "longfield", line_end: str = "\n",
          bom: bool = False):
    data = text.replace("\n", line_end).replace(LONG, long).encode("utf-8").replace(BAD.encode(), bad)
    return write_file(tmp_path, relative, (b"\xef\xbb\xbf" if bom else b"") + data)


@pytest.mark.parametrize(("task_name", "relative", "text"), LOADERS, ids=IDS)
def test_a_byte_order_mark_and_crlf_read_as_the_plain_file(tmp_path, task_name, relative, text):
    write(tmp_path / "plain", relative, text)
    write(tmp_path / "bom", relative, text, bom=True)
    write(tmp_path / "crlf", relative, text, line_end="\r\n")
    plain = load(task_name, tmp_path / "plain")
    assert plain and load(task_name, tmp_path / "bom") == plain
    assert load(task_name, tmp_path / "crlf") == plain
    assert "\ufeff" not in repr([e.input for e in plain]) and "\r" not in repr([e.input for e in plain])


@pytest.mark.parametrize(("task_name", "relative", "text"), LOADERS, ids=IDS)
def test_a_latin1_byte_is_a_one_line_error_with_file_line_and_offset(tmp_path, task_name, relative, text):
    path = write(tmp_path, relative, text, bad=b"caf\xe9")
    with pytest.raises(DataError) as info:
        load(task_name, tmp_path)
    message = str(info.value)
    line = text.splitlines().index(next(row for row in text.splitlines() if BAD in row)) + 1
    assert message.startswith(f"{path}:{line}: ") and "\n" not in message
    if task_name != "coref:wsc273":  # XML: expat names line and column
        offset = text.encode().index(BAD.encode()) + 3
        assert f"byte 0xe9 at byte offset {offset} is not valid utf-8" in message


@pytest.mark.parametrize(("task_name", "relative", "text"), LOADERS, ids=IDS)
def test_a_nul_character_is_a_one_line_error_naming_the_line(tmp_path, task_name, relative, text):
    path = write(tmp_path, relative, text, bad=b"x\x00y")
    with pytest.raises(DataError) as info:
        load(task_name, tmp_path)
    line = text.splitlines().index(next(row for row in text.splitlines() if BAD in row)) + 1
    assert str(info.value).startswith(f"{path}:{line}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize(("task_name", "relative", "text"), LOADERS, ids=IDS)
def test_a_one_megabyte_field_is_data(tmp_path, task_name, relative, text):
    huge = "w" * 1_000_000
    write(tmp_path, relative, text, long=huge)
    examples = load(task_name, tmp_path)
    assert huge in repr([(e.input, e.reference) for e in examples])


def test_the_decoding_error_is_one_line_in_the_cli(tmp_path):
    from click.testing import CliRunner

    from harness.cli import cli

    path = write(tmp_path, "sentiment/sst2/validation.tsv", LOADERS[2][2], bad=b"\xff")
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--data-dir", str(tmp_path),
                                      "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    assert result.exit_code == 1
    assert re.fullmatch(rf"Error: {re.escape(str(path))}:3: byte 0xff at byte offset \d+ is not valid utf-8 .*",
                        result.output.strip().splitlines()[-1])


def test_an_authors_reader_decodes_in_the_tasks_declared_encoding_without_passing_it(tmp_path):
    """``Task.encoding = "cp1252"`` reaches ``text_lines(path)`` inside the author's own reader;
    a byte cp1252 cannot decode names the task's encoding, not "re-save as UTF-8"."""
    from harness import Example, Task, text_lines

    class Cp1252Words(Task):
        name = "cp1252-words"
        kind = "classification"
        labels = ("a", "b")
        encoding = "cp1252"
        local_files = {"test": "words.txt"}

        def read_file(self, path, split):
            return [Example(str(number), line.split("\t")[0], line.split("\t")[1])
                    for number, line in text_lines(path)]  # no encoding argument: the task's applies

    write_file(tmp_path, "words.txt", "caf\u00e9 \u2013 cr\u00e8me\ta\nna\u00efve\tb\n".encode("cp1252"))
    task = Cp1252Words()
    examples = task.load("test", data_dir=tmp_path, source="local").examples
    assert [e.input for e in examples] == ["caf\u00e9 \u2013 cr\u00e8me", "na\u00efve"]
    # outside a load the helpers stay UTF-8, so the same file is an error there
    with pytest.raises(DataError, match="not valid utf-8"):
        list(text_lines(tmp_path / "words.txt"))
    write_file(tmp_path, "words.txt", b"ok\ta\nbad \x81 byte\tb\n")  # 0x81 is undefined in cp1252
    with pytest.raises(DataError) as info:
        task.load("test", data_dir=tmp_path, source="local")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'words.txt'}:2: byte 0x81") and "not valid cp1252" in message
    assert "'cp1252-words' declares in Task.encoding" in message and "UTF-8" not in message
