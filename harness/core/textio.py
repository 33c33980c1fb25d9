"""How every loader reads a data file: one decoding policy, with one-line errors.

The policy: the file is decoded as UTF-8 (or the encoding its task declares: while a task
loads a split, :func:`read_text`, :func:`text_lines` and :func:`tsv_rows` called without an
``encoding`` use ``Task.encoding``, so an author's own reader needs no argument), a UTF-8
byte-order mark is dropped, CRLF and CR line ends read as LF, and a byte that is not valid
in the encoding, or a NUL character, is a :class:`DataError` naming the file, the line and
the byte offset. TSV fields have no size limit.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import io
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator, Sequence

from harness.errors import DataError

#: csv's default limit is 131,072 characters per field; a long paragraph is data, not an error.
csv.field_size_limit(2**31 - 1)


#: the encoding of the task whose split is loading (None: none is, so UTF-8)
_TASK_ENCODING: ContextVar[tuple[str, str] | None] = ContextVar("task_encoding", default=None)


@contextlib.contextmanager
def task_encoding(encoding: str, task: str) -> Iterator[None]:
    """Within this block the text helpers called without ``encoding`` decode as ``encoding``,
    the declared encoding of the task named ``task`` (set by ``Task.load``)."""
    token = _TASK_ENCODING.set((encoding, task))
    try:
        yield
    finally:
        _TASK_ENCODING.reset(token)


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def read_text(path: str | Path, encoding: str | None = None) -> str:
    """The whole file as text under the harness decoding policy (see the module docstring):
    ``encoding``, else the loading task's ``Task.encoding``, else UTF-8."""
    declared = _TASK_ENCODING.get()
    if encoding is None:
        encoding = declared[0] if declared else "utf-8"
    raw = Path(path).read_bytes()
    skipped = 0
    if _is_utf8(encoding) and raw.startswith(codecs.BOM_UTF8):
        raw, skipped = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        name = codecs.lookup(encoding).name
        if _is_utf8(encoding):
            hint = "re-save the file as UTF-8, or declare the dataset's encoding in Task.encoding"
        elif declared and codecs.lookup(declared[0]).name == name:
            hint = f"the encoding task {declared[1]!r} declares in Task.encoding; is the file in another one?"
        else:
            hint = "the encoding the reader asked for; is the file in another one?"
        raise DataError(
            path, line,
            f"byte 0x{raw[exc.start]:02x} at byte offset {exc.start + skipped} is not valid {name} "
            f"(expected {encoding} text: {hint})",
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise DataError(path, line, "unexpected NUL character (expected a text file; is it binary or damaged?)")
    return text


def text_lines(path: str | Path, encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line without its line end) for each line of the file, decoded as
    :func:`read_text` decodes it."""
    for number, line in enumerate(io.StringIO(read_text(path, encoding), newline=None), start=1):
        yield number, line.rstrip("\n")


def tsv_rows(path: str | Path, header: Sequence[str], encoding: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank row of a TSV file with exactly this header,
    decoded as :func:`read_text` decodes it.

    Quotes are data (``QUOTE_NONE``): published NLP TSVs use them inside text. A wrong
    header or a row with the wrong number of fields is a :class:`DataError` naming the line.
    """
    reader = csv.reader(io.StringIO(read_text(path, encoding), newline=None), delimiter="\t", quoting=csv.QUOTE_NONE)
    found = next(reader, None)
    if found is None or [h.strip() for h in found] != list(header):
        raise DataError(path, 1, f"expected the header {'<TAB>'.join(header)!r}, got {found!r}")
    for row in reader:
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(header):
            raise DataError(path, reader.line_num, f"expected {len(header)} tab-separated fields ({', '.join(header)}), got {len(row)}")
        yield reader.line_num, row
