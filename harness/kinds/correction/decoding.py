"""How decoder LMs answer correction: they write the word, read from the first line."""
from __future__ import annotations

import re

from harness.core.example import Prediction
from harness.core.requests import GenerationRequest
from harness.kinds.base import DecoderAdapter
from harness.kinds.prompting import render_prompt

#: A corrected word may take this many generated tokens.
MAX_WORD_TOKENS = 16


def first_word_answer(text: str, cue: str = "") -> str:
    """A generated correction, read from the first non-empty line of ``text``.

    An echo of the prompt's last line (``cue``, e.g. "Correct spelling:") is dropped. A
    sentence-style answer ('The correct spelling is "address"') gives its last quoted
    segment (the closing quote may have been cut off), else its last word. Quotes and a
    closing full stop are stripped.
    """
    line = next((line for line in text.splitlines() if line.strip()), "").strip()
    if cue and line.casefold().startswith(cue.strip().casefold()):
        line = line[len(cue.strip()):].strip()
    quoted = re.findall(r'"([^"]*)(?:"|$)', line)
    if quoted and quoted[-1].strip():
        line = quoted[-1]
    elif len(line.split()) > 3:
        line = line.split()[-1]
    return line.strip().strip("\"'`*").rstrip(".").strip()


class CorrectionDecoding(DecoderAdapter):
    """One line, generated."""

    method = "generation"

    def gold_answer(self, task, example):
        """The first listed correction."""
        return " " + example.reference[0]

    def generation(self, decoder, task, examples, chat):
        """One line."""
        return [MAX_WORD_TOKENS] * len(examples), GenerationRequest(stops=["\n"]), self.answer_opening(task, chat)

    def read_generation(self, task, example, prompt, text, opening):
        """The word, read from the line (an echoed cue, quotes and a full stop removed)."""
        cue = render_prompt(task, example).rstrip().splitlines()[-1]
        return Prediction(first_word_answer(text, cue), raw=text, prompt=prompt)
