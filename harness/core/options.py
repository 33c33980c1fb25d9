"""Model options (``harness run -o KEY=VALUE``) with types.

An :class:`Option` says its type, default, allowed values, and whether it changes
predictions (then it is part of the cache key and labels the leaderboard row) or only speed
and memory (then it is recorded in the run's provenance only). Models declare options in
``Model.options`` (name -> allowed values, default first: a text option that changes
predictions) and ``Model.engine_options`` (name -> (parser, default): a speed/memory
setting), or as :class:`Option` objects in either.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from harness.errors import HarnessError


def number_in(parse: Callable[[str], Any], low: float, high: float, *, above: bool = False,
              unit: str = "") -> Callable[[str], Any]:
    """A parser of finite numbers from ``low`` (exclusive where ``above``) to ``high``: ``inf``,
    ``nan`` and out-of-range values are refused (``ValueError``), as an option's ``parse``.
    Its name says the range, for listings and errors (``number of seconds > 0 and <= 86400``)."""
    kind = "whole number" if parse is int else "number"

    def checked(value: str):
        number = parse(value)
        if not math.isfinite(number) or number < low or (above and number == low) or number > high:
            raise ValueError(value)
        return number

    checked.__name__ = f"{kind}{' of ' + unit if unit else ''} {'>' if above else '>='} {low:g} and <= {high:g}"
    return checked


@dataclass(frozen=True)
class Option:
    """One setting a model takes."""

    name: str
    default: Any
    #: the values allowed (None: any value ``parse`` accepts)
    choices: tuple[Any, ...] | None = None
    #: turns the text after ``-o name=`` into the value (raises ValueError on bad text)
    parse: Callable[[str], Any] = str
    #: True: part of the cache key and the row label; False: speed or memory only
    changes_predictions: bool = True
    help: str = ""
    #: False: left out of the cache key while at its default, so an option added to a model
    #: that already has cached answers keeps them (its default must answer as before)
    keyed_at_default: bool = True

    @property
    def shown_default(self) -> Any:
        """The default as listings and errors show it (an option without one says what it falls back on in ``help``)."""
        return self.help if self.default is None and self.help else self.default

    @property
    def type_name(self) -> str:
        """What the value is, for listings and errors."""
        return getattr(self.parse, "__name__", "value").lstrip("_")

    def value(self, text: Any, model: str) -> Any:
        """The value ``text`` stands for; a one-line error naming the model and the option otherwise."""
        if self.choices is not None:
            if text not in self.choices:
                raise HarnessError(f"Model {model!r}: option {self.name} must be one of "
                                   f"{', '.join(map(str, self.choices))}, got {text!r}")
            return text
        try:
            return self.parse(text) if isinstance(text, str) else text
        except ValueError:
            raise HarnessError(f"Model {model!r}: option {self.name} takes a {self.type_name} "
                               f"(default {self.shown_default}), got {text!r}") from None

    def describe(self) -> dict[str, Any]:
        """JSON-able facts for ``harness models --json``."""
        return {"default": self.default, "shown_default": self.shown_default, "choices": list(self.choices) if self.choices is not None else None,
                "type": self.type_name, "changes_predictions": self.changes_predictions, "help": self.help}


def declared_options(options: dict[str, Any], engine_options: dict[str, Any]) -> dict[str, Option]:
    """Every option a model declares, as :class:`Option` objects (either declaration form)."""
    found: dict[str, Option] = {}
    for name, spec in options.items():
        found[name] = spec if isinstance(spec, Option) else Option(name, spec[0], tuple(spec))
    for name, spec in engine_options.items():
        if isinstance(spec, Option):
            found[name] = spec
        else:
            parse, default = spec
            found[name] = Option(name, default, parse=parse, changes_predictions=False)
    return found
