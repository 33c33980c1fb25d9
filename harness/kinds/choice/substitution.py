"""Trinh & Le's (2018) substitution: the pronoun replaced by each candidate, the rest of the
text scored after it, as lm-evaluation-harness's ``wsc273`` does."""
from __future__ import annotations

from harness.core.example import Example
from harness.core.requests import Request

#: Possessive determiners: the candidate replacing one takes "'s" ("his turn" -> "Bill's turn").
POSSESSIVES = ("my", "his", "her", "our", "their")
#: Capitalised first words a substituted candidate lower-cases mid-sentence ("because the trophy").
CAPITALISED = ("A", "An", "The", "She", "He", "It", "They", "My", "His", "Her", "Their")


def substitution_requests(example: Example, style: str = "harness") -> list[Request]:
    """Trinh & Le's substitution: for each candidate, (text before the pronoun + candidate, rest of text).

    The candidate is adapted as lm-evaluation-harness's ``wsc273`` adapts it: "'s" after it
    when the pronoun is a possessive determiner, and its capitalised first word lower-cased
    unless the pronoun starts a sentence. A sentence starts after ".", "!" or "?" (or at the
    start of the text); with ``style="lm-eval"`` exactly as lm-eval decides it (the character
    two before the pronoun is ".") and lower-cases as it does (every occurrence of that word).
    """
    data = example.input
    text, start = data["text"], data["pronoun_offset"]
    before, after = text[:start], text[start + len(data["pronoun"]):]
    if style == "lm-eval":
        sentence_start = text[start - 2] == "."
    else:
        sentence_start = not before.strip() or before.rstrip().endswith((".", "!", "?"))
    requests = []
    for candidate in data["candidates"]:
        mention = candidate["text"]
        if data["pronoun"].lower() in POSSESSIVES:
            mention += "'s"
        first = mention.split()[0] if mention.split() else ""
        if not sentence_start and first in CAPITALISED:
            mention = mention.replace(first, first.lower()) if style == "lm-eval" else first.lower() + mention[len(first):]
        requests.append((before + mention, after))
    return requests
