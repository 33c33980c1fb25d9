"""Render the static leaderboard site (jinja2, autoescaped) from the results store."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from harness.core.processes import alive, current_umask
from harness.errors import HarnessError
from harness.report.leaderboard import build_context
from harness.report.numbers import fixed, p_value, signed
from harness.report.overview import SPARK_HEIGHT, SPARK_WIDTH
from harness.report.significance import SMALL_SAMPLE_WIDTH
from harness.report.prompts import prompt_range
from harness.store.store import Store


def environment() -> jinja2.Environment:
    """The jinja2 environment: package templates, autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = fixed
    env.filters["signed"] = signed
    env.filters["p"] = p_value
    env.filters["params"] = _parameters
    env.globals["small_sample_width"] = SMALL_SAMPLE_WIDTH
    env.globals["spark_width"], env.globals["spark_height"] = SPARK_WIDTH, SPARK_HEIGHT
    env.globals["prompt_range"] = prompt_range
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
    foreign = [e for e in out.iterdir() if not _ABANDONED.fullmatch(e.name)]
    if foreign and not force:
        raise HarnessError(f"{out}: is a folder harness report did not write, and holds {len(foreign)} "
                           f"entr{'y' if len(foreign) == 1 else 'ies'} ({foreign[0].name}, ...); pass --force to write "
                           "the site into it (its files are kept), or choose another --out")
    return []


def refuse_unsafe_out(out: Path) -> None:
    """Refuse an ``--out`` that no site should be written over: a filesystem root or the home
    folder (their every entry would be carried into the new site)."""
    where = out.resolve()
    if where == Path(where.anchor):
        raise HarnessError(f"{out}: --out cannot be a filesystem root; choose a folder for the site (e.g. ./site)")
    if where == Path.home().resolve():
        raise HarnessError(f"{out}: --out cannot be your home folder; choose a folder for the site (e.g. ./site)")


def render_report(store: Store, out_dir: str | Path, *, title: str = "harness leaderboard", force: bool = False,
                  publish: bool = False, workers: int | None = None, suite: dict | None = None,
                  builder: str | None = None) -> Path:
    """Write ``index.html``, one page and one example explorer per task column to ``out_dir``;
    returns the index path. ``publish`` leaves out the example text of datasets that may not
    be republished (every number stays). ``workers``: processes that fill the task pages
    (default: every core for a large store). ``suite`` (a suite's provenance) keeps only the
    runs that suite file made. ``builder`` names what the site is built from in its marker (a
    suite's sites: any store or set of records of that suite may replace them); default the
    store's id.

    The whole site is written to a new folder beside ``out_dir`` and then switched with it in
    one step (:func:`switch_site`), so ``out_dir`` always holds one complete site, old or new:
    a failure (a full disk) or a kill never leaves a half-written page or a mix of old and new
    pages in it, and what a killed report left beside it is removed by the next one. Files in
    ``out_dir`` that harness did not write are kept; a symbolic link harness writes over is
    replaced, never followed; pages an earlier report wrote that no longer exist are gone.
    """
    out = Path(out_dir)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise HarnessError(f"{out}: --out must be a folder (not a file or a symbolic link)")
    refuse_unsafe_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out)
    store_id = builder or store.store_id
    previous = _previous_site(out, store_id, force) if out.exists() else []
    env = environment()
    if suite is not None:  # what the CLI adds: the cells it plans and those still missing
        suite = {"planned": 0, "missing": [], "rerun": f"harness run --suite {suite['file']}", **suite}
    context = {**build_context(store, publish=publish, workers=workers, suite=suite), "title": title}
    pages = {"index.html": env.get_template("index.html").render(**context)}
    for column in context["columns"]:
        pages[column.page] = env.get_template("task.html").render(**context, column=column)
        pages[column.explorer_page] = env.get_template("explore.html").render(**context, column=column)
        pages.update(column.explorer["files"])
    pages[SITE_MARKER] = json.dumps({"store_id": store_id, "pages": sorted(pages)}, indent=2)
    try:
        switch_site(out, pages, harness_names={*previous, *pages})
    except OSError as exc:
        raise HarnessError(f"{out}: could not write the report ({exc.strerror or exc}); the site there is unchanged") from None
    return out / "index.html"


#: what a report in progress calls the folders it builds (``NAME`` is ``--out``'s name, ``PID``
#: the report's process): beside ``--out``, or inside it where its parent cannot be written
NEW_SITE = ".{name}.harness-new-{pid}-"
OLD_SITE = ".{name}.harness-old-{pid}-"
INNER_STAGING = ".harness-report-{pid}-"
_ABANDONED = re.compile(r"\.(?P<name>.+)\.harness-(?:new|old)-(?P<pid>\d+)-[^/]*|\.harness-report-(?P<inner>\d+)-[^/]*")


def remove_abandoned(out: Path) -> list[Path]:
    """Remove the folders a killed ``harness report`` left beside ``out`` or inside it (their
    process is gone; one still running is left alone); returns what was removed. Older
    releases staged inside ``out`` without a process id: those go too."""
    removed = []
    places = [(out.parent, lambda m: m["name"] == out.name and m["pid"])]
    if out.is_dir():
        places.append((out, lambda m: m["inner"]))
    for folder, ours in places:
        for entry in folder.iterdir():
            match = _ABANDONED.fullmatch(entry.name)
            legacy = folder == out and re.fullmatch(r"\.harness-report-[^-]+", entry.name)
            pid = ours(match) if match else None
            if (pid and not alive(int(pid))) or legacy:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
    return removed


def switch_site(out: Path, files: dict[str, str], *, harness_names: set[str]) -> None:
    """Make ``out`` hold ``files`` (name -> text) plus every entry already in it that is not one
    of ``harness_names``, in one step where the system allows it.

    The new site is built in a folder beside ``out`` and exchanged with it atomically
    (``renameat2(RENAME_EXCHANGE)`` on Linux); elsewhere ``out`` is renamed aside and the new
    folder renamed in its place (a kill between the two leaves no ``out``, never a mixed one).
    Where ``out``'s parent cannot be written, pages are staged inside ``out`` and renamed one
    by one (the earlier behaviour).
    """
    parent = out.resolve().parent
    try:
        new = Path(tempfile.mkdtemp(prefix=NEW_SITE.format(name=out.name, pid=os.getpid()), dir=parent))
    except PermissionError:
        _switch_in_place(out, files, stale=harness_names - set(files))
        return
    try:
        try:
            os.chmod(new, stat.S_IMODE(out.stat().st_mode) if out.exists() else 0o777 & ~current_umask())
            for name, text in files.items():
                (new / name).write_text(text, encoding="utf-8")
            if out.exists():
                _keep_foreign(out, new, harness_names)
        except OSError as exc:
            raise HarnessError(f"{out}: could not write the report ({exc.strerror or exc}); the site there is unchanged") from None
        if not out.exists():
            os.rename(new, out)
        elif not _exchange(new, out) and not _rename_twice(new, out, parent):
            # --out is a mount point or cannot be renamed: the earlier, page-by-page switch
            _switch_in_place(out, files, stale=harness_names - set(files))
    finally:
        shutil.rmtree(new, ignore_errors=True)  # after an exchange: the old site


def _rename_twice(new: Path, out: Path, parent: Path) -> bool:
    """``out`` renamed aside, ``new`` renamed in its place, the old site removed; False (and
    ``out`` as it was) where ``out`` cannot be renamed."""
    old = Path(tempfile.mkdtemp(prefix=OLD_SITE.format(name=out.name, pid=os.getpid()), dir=parent))
    try:
        os.rename(out, old / "site")
    except OSError:
        shutil.rmtree(old, ignore_errors=True)
        return False
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old / "site", out)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return True


def _keep_foreign(out: Path, new: Path, harness_names: set[str]) -> None:
    """Carry the files beside the site in ``out`` that harness did not write into ``new`` (hard
    links where the file system has them, copies elsewhere; symbolic links as links): plain
    files, links and folders of plain files, never a mount point, a device or a socket, nor a
    folder that holds ``new`` itself."""
    new_resolved = new.resolve()
    for entry in out.iterdir():
        if entry.name in harness_names or _ABANDONED.fullmatch(entry.name) or entry.name.startswith(".harness-report-"):
            continue
        target = new / entry.name
        if entry.is_symlink() or entry.is_file():
            _link_or_copy(entry, target)
        elif entry.is_dir() and not os.path.ismount(entry) and not new_resolved.is_relative_to(entry.resolve()):
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy,
                            ignore=lambda folder, names: [n for n in names if _special(Path(folder) / n)])


def _special(path: Path) -> bool:
    """Whether ``path`` is neither a plain file, a folder nor a link (a device, a socket, a
    pipe), or is a mount point: never carried into a new site."""
    if path.is_symlink():
        return False
    return os.path.ismount(path) or not (path.is_file() or path.is_dir())


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux's ``renameat2`` with ``RENAME_EXCHANGE``); False
    where the system or the file system cannot."""
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EBUSY, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _switch_in_place(out: Path, files: dict[str, str], *, stale: set[str]) -> None:
    """Stage inside ``out`` and rename each file into place (``out``'s parent is read-only);
    then remove the ``stale`` pages an earlier report wrote."""
    staging = Path(tempfile.mkdtemp(prefix=INNER_STAGING.format(pid=os.getpid()), dir=out))
    try:
        try:
            for name, text in files.items():
                (staging / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"{out}: could not write the report ({exc.strerror or exc}); the site there is unchanged") from None
        for name in [*sorted(set(files) - {SITE_MARKER}), SITE_MARKER]:  # rename replaces a symlink itself, never its target
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name in stale:
        page = out / name
        if "/" not in name and page.name == name and (page.is_file() or page.is_symlink()):
            page.unlink()
