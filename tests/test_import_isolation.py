"""The core imports no plugin, and no built-in plugin imports another (checked in fresh processes)."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import harness
from harness.plugins import DEFAULT_PLUGINS

CORE = sorted(
    f"harness.{m.name}" for m in pkgutil.iter_modules(harness.__path__) if m.name not in ("models", "tasks", "__main__")
)

LOADED = """
import json, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps(sorted(m for m in sys.modules if m not in before)))
"""


def modules_loaded_by(*names: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOADED, *names], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_core_modules_load_no_plugin():
    assert "harness.runner" in CORE and "harness.packaged" in CORE and "harness.hub" in CORE
    loaded = modules_loaded_by(*CORE)
    assert [m for m in loaded if m.startswith(("harness.models", "harness.tasks"))] == []


def test_no_built_in_plugin_imports_another():
    for plugin in DEFAULT_PLUGINS:
        others = [m for m in modules_loaded_by(plugin) if m in DEFAULT_PLUGINS and m != plugin]
        assert others == [], f"{plugin} imports {others}"
