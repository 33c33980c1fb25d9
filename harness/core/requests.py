"""What a decoder engine is asked: the vocabulary shared by the kinds (which build requests)
and the engines (which answer them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

#: one log-likelihood request: (context, continuation scored after it)
Request = tuple[str, str]
#: one solved few-shot example: (its prompt, its gold answer)
Turn = tuple[str, str]
#: renders solved turns and a final prompt into one context string (plain text or a chat template)
Formatter = Callable[[Sequence[Turn], str], str]


@dataclass
class GenerationRequest:
    """What one batch of generations asks of an engine (the same for every prompt in it)."""

    stops: Sequence[str] = ()
    #: what the output must follow, as vLLM's ``StructuredOutputsParams`` fields (``{"json": schema}``
    #: or ``{"regex": pattern}``), for engines with structured outputs; None: free generation
    structured: dict[str, Any] | None = None
