"""How the report prints numbers: fixed decimals, never a minus sign on a zero."""
from __future__ import annotations

from typing import Any


def fixed(value: Any, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals; "–" for None or NaN; "0.0000", never "-0.0000"."""
    if value is None or value != value:
        return "–"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def p_value(value: Any) -> str:
    """A p-value as the board prints it: "< 0.001" below a thousandth (an exact or bootstrap p
    that small says only "very small"; 1e-169 would be false precision), else two significant
    digits ("0.036", "0.95"); "–" for None or NaN."""
    if value is None or value != value:
        return "–"
    if value < 0.001:
        return "<\u00a00.001"  # one unbroken piece where a cell wraps
    return f"{value:.2g}" if value < 0.1 else f"{value:.2f}"


def signed(value: Any, digits: int = 4) -> str:
    """``value`` with its sign and ``digits`` decimals ("+0.0312", "-0.0100"); a value that
    rounds to zero prints unsigned ("0.0000"); "–" for None or NaN."""
    if value is None or value != value:
        return "–"
    text = f"{value:+.{digits}f}"
    return text[1:] if not text.strip("+-0.") else text


def plural(unit: str) -> str:
    """The English plural of a unit: "sentences", "gold entities", "matches"."""
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return unit[:-1] + "ies"
    if unit.endswith(("s", "x", "ch", "sh")):
        return unit + "es"
    return unit + "s"


def counted(n: int, unit: str, *, thousands: bool = True) -> str:
    """``n`` with what it counts, in the plural where it is not one: "3,453 sentences", "1 schema",
    "1,617 gold entities" (``thousands=False``: "3453 sentences", as the CLI's fixed-width lines
    print it)."""
    return f"{n:,} {unit if n == 1 else plural(unit)}" if thousands else f"{n} {unit if n == 1 else plural(unit)}"
