"""Geometry of the report's inline SVG charts (the templates draw them; no script, no network)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from harness.report.numbers import fixed


@dataclass
class Chart:
    """An SVG chart's size, axes and marks, in pixels."""

    width: int
    height: int
    pad_left: int
    pad: int
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""
    x_label: str = ""
    y_label: str = ""


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, (int, float)) and value == value and math.isfinite(value)


def nice_ticks(values: Sequence[float], count: int = 5) -> tuple[float, float, list[float], int]:
    """An axis over ``values``: (low end, high end, ticks, decimals of their labels). Ticks fall
    on round steps (1, 2, 2.5 or 5 times a power of ten, about ``count`` of them: 0.2, 0.4, 0.6,
    not 0.17, 0.34, 0.51) and the ends on ticks; a scale inside [0, 1] stays inside it."""
    lo, hi = min(values), max(values)
    if hi - lo < 0.05:
        lo, hi = lo - 0.05, hi + 0.05
    if min(values) >= 0:
        lo = max(0.0, lo)
    if max(values) <= 1:
        hi = min(1.0, hi)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    ticks = [round(lo + i * step, 10) for i in range(int(round((hi - lo) / step)) + 1)]
    decimals = min(4, len(f"{step:.10f}".rstrip("0").split(".")[1]))
    return round(lo, 10), round(hi, 10), ticks, decimals


#: the most room a chart gives its labels on the left (longer names are cut, in full in the tooltip)
MAX_LABEL_PAD = 420


def dot_whisker(rows: Sequence[dict[str, Any]], metric: str) -> Chart | None:
    """One row per model: its headline as a dot and its CI as a whisker (``rows``: model,
    value, low, high)."""
    shown = [r for r in rows if _finite(r["value"])]
    if not shown:
        return None
    ends = [v for r in shown for v in (r["value"], r["low"], r["high"]) if _finite(v)]
    lo, hi, ticks, decimals = nice_ticks(ends)
    # room on the left for the longest model name (about 7 px a character at 12 px)
    row_height, pad, plot = 22, 30, 490
    pad_left = min(MAX_LABEL_PAD, max(120, 7 * max(len(str(r["model"])) for r in shown) + 16))
    width = pad_left + plot
    height = pad * 2 + row_height * len(shown)
    chart = Chart(width, height, pad_left, pad, x_label=metric)

    def x(v: float) -> float:
        return pad_left + (v - lo) / (hi - lo) * (width - pad_left - pad)

    for v in ticks:
        chart.x_ticks.append({"x": round(x(v), 1), "label": fixed(v, decimals)})
    for i, r in enumerate(shown):
        y = pad + row_height * (i + 0.5)
        low = r["low"] if _finite(r["low"]) else r["value"]
        high = r["high"] if _finite(r["high"]) else r["value"]
        chart.marks.append({"model": r["model"], "y": round(y, 1), "x": round(x(r["value"]), 1), "x_low": round(x(low), 1),
                            "x_high": round(x(high), 1), "value": r["value"], "low": low, "high": high,
                            "rank": r.get("rank"), "rank_label": r.get("rank_label")})
    return chart


def pareto(points: Sequence[dict[str, Any]], metric: str) -> Chart | None:
    """Headline (y) against examples per second (x, log scale), with the Pareto frontier: the
    models no other model beats on both (``points``: model, value, speed)."""
    shown = [p for p in points if _finite(p["value"]) and _finite(p.get("speed")) and p["speed"] > 0]
    if not shown:
        return None
    width, height, pad_left, pad = 720, 340, 60, 40
    logs = [math.log10(p["speed"]) for p in shown]
    x_lo, x_hi = math.floor(min(logs)), math.ceil(max(logs))
    if x_hi == x_lo:
        x_hi += 1
    y_lo, y_hi, y_ticks, decimals = nice_ticks([p["value"] for p in shown], 4)
    chart = Chart(width, height, pad_left, pad, x_label="examples per second (log scale)", y_label=metric)

    def x(speed: float) -> float:
        return pad_left + (math.log10(speed) - x_lo) / (x_hi - x_lo) * (width - pad_left - pad)

    def y(v: float) -> float:
        return height - pad - (v - y_lo) / (y_hi - y_lo) * (height - 2 * pad)

    for e in range(int(x_lo), int(x_hi) + 1):
        chart.x_ticks.append({"x": round(x(10.0 ** e), 1), "label": f"{10.0 ** e:g}"})
    for v in y_ticks:
        chart.y_ticks.append({"y": round(y(v), 1), "label": fixed(v, decimals)})
    frontier = []
    for p in sorted(shown, key=lambda p: (-p["speed"], -p["value"])):
        if not frontier or p["value"] > frontier[-1]["value"]:
            frontier.append(p)
    on_frontier = {id(p) for p in frontier}
    for p in shown:
        chart.marks.append({**p, "x": round(x(p["speed"]), 1), "y": round(y(p["value"]), 1), "frontier": id(p) in on_frontier})
    chart.path = " ".join(f"{x(p['speed']):.1f},{y(p['value']):.1f}" for p in sorted(frontier, key=lambda p: p["speed"]))
    return chart


def reliability(bins: Sequence[tuple[float, float, int, float, float]]) -> Chart:
    """A reliability diagram: per confidence bin, accuracy (bar) against the diagonal of
    perfect calibration; a dot marks the bin's mean confidence."""
    size, pad_left, pad = 260, 40, 24
    chart = Chart(size + pad_left + pad, size + 2 * pad, pad_left, pad, x_label="confidence", y_label="accuracy")
    inner = size

    def x(v: float) -> float:
        return pad_left + v * inner

    def y(v: float) -> float:
        return pad + (1 - v) * inner

    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        chart.x_ticks.append({"x": round(x(v), 1), "label": fixed(v, 2)})
        chart.y_ticks.append({"y": round(y(v), 1), "label": fixed(v, 2)})
    for low, high, count, confidence, accuracy in bins:
        left, right = x(low), x(max(high, low + 1 / 60))
        chart.marks.append({"x": round(left, 1), "width": round(max(1.0, right - left - 1), 1), "y": round(y(accuracy), 1),
                            "height": round(y(0) - y(accuracy), 1), "cx": round(x(confidence), 1), "cy": round(y(confidence), 1),
                            "count": count, "confidence": confidence, "accuracy": accuracy, "low": low, "high": high})
    chart.path = f"{x(0):.1f},{y(0):.1f} {x(1):.1f},{y(1):.1f}"
    return chart


#: room on the right of a degradation chart for its legend (pixels)
LEGEND_WIDTH = 300
#: line colours of the models on a degradation chart (see :func:`series_colours`)
PALETTE = ("#3465a4", "#c0392b", "#2e7d32", "#8e44ad", "#d68910", "#17a589", "#7f8c8d", "#a04000")


def series_colours(count: int) -> list[str]:
    """``count`` distinct line colours: the palette, or hues spread evenly around the colour
    wheel where there are more series than palette colours."""
    if count <= len(PALETTE):
        return list(PALETTE[:count])
    return [f"hsl({round(360 * i / count)}, 65%, 40%)" for i in range(count)]


def degradation(series: dict[str, list[dict[str, Any]]], metric: str, noise: str) -> Chart | None:
    """Each model's headline (y, with its CI) against the noise rate (x): one line per model
    (``series``: model -> points with rate, value, low, high)."""
    points = [p for pts in series.values() for p in pts if _finite(p["value"])]
    if not points:
        return None
    width, height, pad_left, pad = 860, 320, 60, 40
    top = max(p["rate"] for p in points) or 1.0
    y_lo, y_hi, y_ticks, decimals = nice_ticks([v for p in points for v in (p["value"], p["low"], p["high"]) if _finite(v)], 4)
    chart = Chart(width, height, pad_left, pad, x_label=f"{noise} rate (share of words changed)", y_label=metric)

    def x(rate: float) -> float:
        return pad_left + rate / top * (width - pad_left - LEGEND_WIDTH - 20)

    def y(v: float) -> float:
        return height - pad - (v - y_lo) / (y_hi - y_lo) * (height - 2 * pad)

    for rate in sorted({p["rate"] for p in points}):
        chart.x_ticks.append({"x": round(x(rate), 1), "label": f"{rate:g}"})
    for v in y_ticks:
        chart.y_ticks.append({"y": round(y(v), 1), "label": fixed(v, decimals)})
    drawn = {model: sorted((p for p in pts if _finite(p["value"])), key=lambda p: p["rate"]) for model, pts in series.items()}
    drawn = {model: pts for model, pts in drawn.items() if any(p["rate"] > 0 for p in pts)}  # a curve, not a lone clean dot
    colours = series_colours(len(drawn))
    for n, (model, shown) in enumerate(drawn.items()):
        colour = colours[n]
        marks = [{"x": round(x(p["rate"]), 1), "y": round(y(p["value"]), 1),
                  "y_low": round(y(p["low"] if _finite(p["low"]) else p["value"]), 1),
                  "y_high": round(y(p["high"] if _finite(p["high"]) else p["value"]), 1), **p} for p in shown]
        chart.marks.append({"model": model, "colour": colour, "points": marks,
                            "path": " ".join(f"{m['x']},{m['y']}" for m in marks),
                            "legend_y": pad + 16 * n, "legend_x": width - LEGEND_WIDTH})
    return chart


CURVE_WIDTH, CURVE_HEIGHT, CURVE_PAD = 560, 260, 44


def learning_curves(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fine-tuned models of one task column grouped by base, as SVG-ready points (x: log k, y: score)."""
    by_base: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        card = run.finetuned
        if card and card.get("k") and run.headline["value"] is not None:
            by_base.setdefault(card["base"], []).append({"k": int(card["k"]), "label": card.get("k_label", ""), **run.headline,
                                                         "model": run.display})
    curves = []
    for base, points in sorted(by_base.items()):
        points.sort(key=lambda p: p["k"])
        ks = [math.log10(p["k"]) for p in points]
        lo_k, hi_k = min(ks), max(ks)
        span = (hi_k - lo_k) or 1.0

        def x(k: float, lo_k: float = lo_k, span: float = span) -> float:
            return CURVE_PAD + (math.log10(k) - lo_k) / span * (CURVE_WIDTH - 2 * CURVE_PAD)

        def y(v: float) -> float:
            return CURVE_HEIGHT - CURVE_PAD - v * (CURVE_HEIGHT - 2 * CURVE_PAD)

        for p in points:
            p.update(x=x(p["k"]), y=y(p["value"]), y_low=y(p["low"] if p["low"] == p["low"] else p["value"]),
                     y_high=y(p["high"] if p["high"] == p["high"] else p["value"]))
        curves.append({
            "base": base,
            "points": points,
            "path": " ".join(f"{p['x']:.1f},{p['y']:.1f}" for p in points),
            "ticks": [{"y": y(v), "label": fixed(v, 2)} for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
            "width": CURVE_WIDTH,
            "height": CURVE_HEIGHT,
            "pad": CURVE_PAD,
        })
    return curves
