"""Render the static leaderboard site (jinja2, autoescaped) from the results store."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .errors import HarnessError
from .store import Store

#: Incorrect examples shown per model on a task page.
ERRORS_SHOWN = 5


@dataclass
class Column:
    """One leaderboard column: a task on one split from one data source."""

    task: str
    split: str
    source: str
    kind: str
    dataset: str
    headline: str
    page: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Column heading."""
        return f"{self.task} ({self.split})"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "task"


def environment() -> jinja2.Environment:
    """The jinja2 environment: package templates, autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda v, digits=4: "–" if v is None or v != v else f"{v:.{digits}f}"
    return env


def _subset_of(provenance: dict, n: int) -> int | None:
    """The split's size when the run scored only part of it (--limit / --sample), else None."""
    selection = provenance.get("selection") or {}
    total = selection.get("of")
    return int(total) if total and n < total else None


def _shown_settings(settings: dict) -> dict:
    """The run settings worth showing beside its numbers: model options (chat template,
    coreference method, log-likelihood normalisation), how answers are read, the shots."""
    shown = dict((settings or {}).get("options") or {})
    for key in ("chat_template", "method", "answer_parsing"):
        if key in (settings or {}):
            shown[key] = settings[key]
    if (settings or {}).get("shots"):
        shown["shots"] = len(settings["shots"])
    return shown


def _describe(kind: str, data: Any, reference: Any, output: Any, raw: str | None) -> dict[str, str]:
    """Human-readable input, gold and predicted answer of one example, as its kind shows them
    (a kind no longer installed is shown plainly)."""
    from .errors import UnknownNameError
    from .kinds import Kind, get_kind

    try:
        shown = get_kind(kind)
    except UnknownNameError:
        shown = Kind()
    return shown.describe(data, reference, output, raw)


def _error_rows(store: Store, run_id: int, kind: str) -> list[dict[str, Any]]:
    wrong = store.predictions([run_id], wrong_only=True, limit=ERRORS_SHOWN)
    rows = []
    for _, row in wrong.iterrows():
        output = row["prediction"]["output"]
        rows.append({"id": row["example_id"], **_describe(kind, row["input"], row["reference"], output, row["prediction"].get("raw"))})
    return rows


CURVE_WIDTH, CURVE_HEIGHT, CURVE_PAD = 560, 260, 44


def learning_curves(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fine-tuned models of one task column grouped by base, as SVG-ready points (x: log k, y: score)."""
    import math

    by_base: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        card = run.get("finetuned")
        if card and card.get("k") and run["headline"]["value"] is not None:
            by_base.setdefault(card["base"], []).append({"k": int(card["k"]), "label": card.get("k_label", ""), **run["headline"], "model": run["model"]})
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
            "ticks": [{"y": y(v), "label": f"{v:.2f}"} for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
            "width": CURVE_WIDTH,
            "height": CURVE_HEIGHT,
            "pad": CURVE_PAD,
        })
    return curves


def build_context(store: Store) -> dict[str, Any]:
    """Everything the templates need, read from the store through pandas."""
    runs = store.latest_runs()
    columns: dict[tuple[str, str, str], Column] = {}
    models: list[str] = []
    labels: dict[str, str] = {}
    if runs.empty:
        return {"columns": [], "models": [], "cells": {}, "model_labels": {}}
    metrics = store.metrics([int(i) for i in runs["id"]])
    for _, run in runs.iterrows():
        key = (run["task"], run["split"], run["data_source"])
        if key not in columns:
            page = f"task-{_slug(run['task'])}-{_slug(run['split'])}" + ("-demo" if run["data_source"] == "demo" else "") + ".html"
            columns[key] = Column(run["task"], run["split"], run["data_source"], run["kind"], run["dataset"], run["headline"], page)
            columns[key].published = run["provenance"].get("task", {}).get("published", [])  # type: ignore[attr-defined]
        if run["model"] not in models:
            models.append(run["model"])
        finetuned = (run["provenance"].get("model") or {}).get("finetuned")
        if finetuned:
            labels[run["model"]] = finetuned.get("label", "fine-tuned")
        run_metrics = metrics[metrics["run_id"] == run["id"]]
        overall = run_metrics[run_metrics["breakdown"] == ""]
        breakdown = run_metrics[run_metrics["breakdown"] != ""]
        headline = overall[overall["name"] == run["headline"]].iloc[0]
        provenance = run["provenance"]
        columns[key].runs.append({
            "id": int(run["id"]),
            "model": run["model"],
            "created_at": run["created_at"],
            "n": int(run["n"]),
            "seed": int(run["seed"]),
            "headline": {"value": headline["value"], "low": headline["ci_low"], "high": headline["ci_high"]},
            "metrics": overall.to_dict("records"),
            "breakdown": breakdown.to_dict("records"),
            "wall_time_s": run["wall_time_s"],
            "examples_per_s": run["examples_per_s"],
            "data_location": run["data_location"],
            "task_version": run["task_version"],
            "model_identity": run["model_identity"],
            "settings": _shown_settings(run["settings"]),
            "subset_of": _subset_of(provenance, int(run["n"])),
            "packages": provenance.get("packages", {}),
            "hardware": provenance.get("hardware", {}),
            "finetuned": (provenance.get("model") or {}).get("finetuned"),
            "throughput": provenance.get("throughput") or {},
            "engine": (provenance.get("model") or {}).get("engine") or {},
            "requests": (provenance.get("model") or {}).get("requests") or {},
            "errors": _error_rows(store, int(run["id"]), run["kind"]),
        })
    cells = {(col.task, col.split, col.source, r["model"]): r for col in columns.values() for r in col.runs}
    ordered = sorted(columns.values(), key=lambda c: (c.task, c.split, c.source))
    for col in ordered:
        col.runs.sort(key=lambda r: -(r["headline"]["value"] or 0))
        names = sorted({(m["name"]) for r in col.runs for m in r["metrics"]}, key=lambda n: (n != col.headline, n))
        col.metric_names = names  # type: ignore[attr-defined]
        col.curves = learning_curves(col.runs)  # type: ignore[attr-defined]
        # Breakdown rows: one per (slice, metric), e.g. ("type=PER", "f1") or ("gender=F", "f1").
        rows = sorted({(m["breakdown"], m["name"]) for r in col.runs for m in r["breakdown"]},
                      key=lambda row: (row[0], row[1] != col.headline, row[1]))
        col.breakdown_rows = rows  # type: ignore[attr-defined]
        col.breakdown_by = ", ".join(sorted({b.split("=", 1)[0] for b, _ in rows}))  # type: ignore[attr-defined]
        col.breakdown_cells = {  # type: ignore[attr-defined]
            (r["model"], m["breakdown"], m["name"]): m for r in col.runs for m in r["breakdown"]
        }
    return {"columns": ordered, "models": models, "cells": cells, "model_labels": labels}


#: Written beside the pages: which store built the site and which pages it wrote (no paths).
SITE_MARKER = ".harness-site.json"


def _previous_site(out: Path, store_id: str, force: bool) -> list[str]:
    """The pages an earlier ``harness report`` wrote to ``out``; refuses (without ``force``)
    to replace a site built from another store, or an ``index.html`` harness did not write."""
    import json

    marker = out / SITE_MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            site = json.loads(marker.read_text(encoding="utf-8"))
            pages = [str(p) for p in site.get("pages", [])]
            built_by = str(site.get("store_id"))
        except (ValueError, AttributeError):
            pages, built_by = [], "unknown"
        if built_by != store_id and not force:
            raise HarnessError(f"{out}: holds a site built from another results store; pass --force to replace it, "
                               "or choose another --out")
        return pages
    if (out / "index.html").exists() and not force:
        raise HarnessError(f"{out}: holds an index.html that harness report did not write; pass --force to replace it, "
                           "or choose another --out")
    return []


def render_report(store: Store, out_dir: str | Path, *, title: str = "harness leaderboard", force: bool = False) -> Path:
    """Write ``index.html`` and one page per task column to ``out_dir``; returns the index path.

    The site is rendered into a temporary folder beside ``out_dir`` and each page is then
    renamed into place, so a failure (a full disk) never leaves a half-written page; a
    symbolic link in ``out_dir`` is replaced, never followed. Pages an earlier report wrote
    that no longer exist are removed.
    """
    import json
    import os
    import shutil
    import tempfile

    out = Path(out_dir)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise HarnessError(f"{out}: --out must be a folder (not a file or a symbolic link)")
    out.mkdir(parents=True, exist_ok=True)
    store_id = store.store_id
    previous = _previous_site(out, store_id, force)
    env = environment()
    context = {**build_context(store), "title": title}
    pages = {"index.html": env.get_template("index.html").render(**context)}
    for column in context["columns"]:
        pages[column.page] = env.get_template("task.html").render(**context, column=column)
    staging = Path(tempfile.mkdtemp(prefix=".harness-report-", dir=out))
    try:
        try:
            for name, html in pages.items():
                (staging / name).write_text(html, encoding="utf-8")
            marker = {"store_id": store_id, "pages": sorted(pages)}
            (staging / SITE_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"{out}: could not write the report ({exc.strerror or exc}); the site there is unchanged") from None
        for name in [*sorted(pages), SITE_MARKER]:  # rename replaces a symlink itself, never its target
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name in set(previous) - set(pages):
        stale = out / name
        if "/" not in name and stale.name == name and (stale.is_file() or stale.is_symlink()):
            stale.unlink()
    return out / "index.html"
