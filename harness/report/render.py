"""Render the static leaderboard site (jinja2, autoescaped) from the results store."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from harness.errors import HarnessError
from harness.report.leaderboard import build_context
from harness.store.store import Store


def environment() -> jinja2.Environment:
    """The jinja2 environment: package templates, autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda v, digits=4: "–" if v is None or v != v else f"{v:.{digits}f}"
    env.filters["params"] = _parameters
    return env


def _parameters(count: Any) -> str:
    if not count:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


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


def render_report(store: Store, out_dir: str | Path, *, title: str = "harness leaderboard", force: bool = False,
                  publish: bool = False, workers: int | None = None, suite: dict | None = None) -> Path:
    """Write ``index.html``, one page and one example explorer per task column to ``out_dir``;
    returns the index path. ``publish`` leaves out the example text of datasets that may not
    be republished (every number stays). ``workers``: processes that fill the task pages
    (default: every core for a large store). ``suite`` (a suite's provenance) keeps only the
    runs that suite file made.

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
    context = {**build_context(store, publish=publish, workers=workers, suite=suite), "title": title}
    pages = {"index.html": env.get_template("index.html").render(**context)}
    for column in context["columns"]:
        pages[column.page] = env.get_template("task.html").render(**context, column=column)
        pages[column.explorer_page] = env.get_template("explore.html").render(**context, column=column)
        pages.update(column.explorer["files"])
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
