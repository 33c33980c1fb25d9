"""The layers contract (import-linter, configured in pyproject.toml) holds, fails on an upward
import, and harness has no import cycle, deferred and TYPE_CHECKING imports included."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import PROJECT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _cycles_module():
    spec = importlib.util.spec_from_file_location("import_cycles", PROJECT / "bench" / "import_cycles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def _copy_of_the_package(tmp_path: Path) -> Path:
    for package in ("harness", "plugins", "tasks"):
        shutil.copytree(PROJECT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_contract_holds():
    done = _lint(PROJECT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    root = _copy_of_the_package(tmp_path)
    assert _lint(root).returncode == 0  # the copy itself is clean
    (root / "harness" / "core" / "shortcut.py").write_text("from harness.report.render import render_report\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "layers: each imports only those below it BROKEN" in done.stdout
    assert "harness.core.shortcut -> harness.report.render" in done.stdout


def test_machinery_naming_a_kind_breaks_the_contract(tmp_path):
    root = _copy_of_the_package(tmp_path)
    runner = root / "harness" / "run" / "runner.py"
    runner.write_text(runner.read_text() + "\n\ndef _entities(tags):\n"
                      "    from harness.kinds.tagging.scoring import entity_spans\n\n    return entity_spans(tags)\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "the machinery never names a kind" in done.stdout and "BROKEN" in done.stdout
    assert "harness.run.runner -> harness.kinds.tagging.scoring" in done.stdout


def test_the_core_naming_a_built_in_breaks_the_contract(tmp_path):
    root = _copy_of_the_package(tmp_path)
    (root / "harness" / "run" / "shortcut.py").write_text("def conll():\n    from tasks.ner import CoNLL2003\n\n"
                                                         "    return CoNLL2003()\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "the core never names a built-in" in done.stdout and "BROKEN" in done.stdout
    assert "harness.run.shortcut -> tasks.ner" in done.stdout


def test_a_built_in_importing_an_internal_module_breaks_the_contract(tmp_path):
    """An engine naming a kind's grammar (what llamacpp: and openai: once did) and a task
    reading files through an internal helper are each caught, deferred imports included."""
    root = _copy_of_the_package(tmp_path)
    endpoint = root / "plugins" / "openai_endpoint.py"
    endpoint.write_text(endpoint.read_text() + "\n\ndef _grammar(types):\n"
                        "    from harness.kinds.tagging.grammar import entity_list_gbnf\n\n"
                        "    return entity_list_gbnf(types, opened=True)\n")
    ner = root / "tasks" / "ner.py"
    ner.write_text(ner.read_text() + "\nfrom harness.core.textio import text_lines  # noqa: E402\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "built-ins use only the public API" in done.stdout and "BROKEN" in done.stdout
    assert "plugins.openai_endpoint -> harness.kinds.tagging.grammar" in done.stdout
    assert "tasks.ner -> harness.core.textio" in done.stdout


def test_no_built_in_imports_an_internal_module():
    """bench/internal_imports.py, the count the architecture notes quote, finds none."""
    spec = importlib.util.spec_from_file_location("internal_imports", PROJECT / "bench" / "internal_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found, total = module.internal_imports()
    assert found == {} and total >= 16


def test_harness_has_no_import_cycle():
    assert _cycles_module().cycles("harness") == []


def test_the_cycle_count_sees_deferred_and_type_checking_imports(tmp_path, monkeypatch):
    package = tmp_path / "loopy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from loopy import b\n    return b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loopy import c\n")
    (package / "c.py").write_text("import loopy.a\n")
    (package / "d.py").write_text("import loopy.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles_module().cycles("loopy") == [["loopy.a", "loopy.b", "loopy.c"]]
