"""The core imports no plugin, and no built-in model or task plugin imports another (checked in fresh
processes); tasks may import the kind they are of."""
from __future__ import annotations

import importlib.metadata
import json
import pkgutil
import subprocess
import sys

import harness

CORE = sorted(m.name for m in pkgutil.walk_packages(harness.__path__, "harness.") if not m.name.startswith("harness.kinds."))
#: the built-in plugins, as the entry points of harness's own distribution declare them
BUILT_INS = sorted(ep.value for ep in importlib.metadata.entry_points(group="harness")
                   if ep.dist is not None and ep.dist.metadata["Name"] == "harness")
#: the four kinds: a task plugin is written in its kind's vocabulary and may import its folder
KINDS = tuple(p for p in BUILT_INS if p.startswith("harness.kinds."))

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
    assert "harness.run.runner" in CORE and "harness.engines.packaged" in CORE and "harness.data.hub" in CORE
    loaded = modules_loaded_by(*CORE)
    assert [m for m in loaded if m.startswith(("plugins", "tasks"))] == []


def test_no_built_in_plugin_imports_another():
    assert {"tasks.ner", "plugins.llamacpp_decoder", "harness.kinds.choice", "harness.run.executors"} <= set(BUILT_INS)
    for plugin in BUILT_INS:
        others = [m for m in modules_loaded_by(plugin) if m in BUILT_INS and m != plugin and m not in KINDS]
        assert others == [], f"{plugin} imports {others}"
