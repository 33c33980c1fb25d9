"""Plugin manager: loads built-in and third-party plugins and collects what they register."""
from __future__ import annotations

import importlib.metadata
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import pluggy

from harness.errors import PluginError, UnknownNameError
from harness.plugins import hookspecs

#: the distribution whose entry points are the built-ins (kinds, executors, plugins/, tasks/)
BUILT_IN_DISTRIBUTION = "harness"
ENTRY_POINT_GROUP = "harness"


T = TypeVar("T")

pm = pluggy.PluginManager("harness")
pm.add_hookspecs(hookspecs)

_loaded = False
#: the entry-point names of the built-in plugins (this distribution's own), as loaded
built_in: set[str] = set()
#: third-party plugins that failed to load or misuse a hook: name -> what is wrong (one line).
#: They are left out alone, each with one ``Warning:`` line in every command; an unknown
#: task or model name then says which plugins were left out.
broken: dict[str, str] = {}
#: how to run without them
ESCAPE_HATCH = "set HARNESS_LOAD_PLUGINS='' to run without third-party plugins"


def _allowed_plugins() -> set[str] | None:
    """Names from HARNESS_LOAD_PLUGINS: None = all, empty set = none."""
    value = os.environ.get("HARNESS_LOAD_PLUGINS")
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _load_entry_points(*, third_party: bool) -> None:
    """Register every plugin of the ``harness`` entry-point group: the built-ins (this
    distribution's) always, third-party ones where ``third_party`` (and HARNESS_LOAD_PLUGINS
    allows them). A third-party plugin that fails to import is named in :data:`broken`."""
    allowed = _allowed_plugins()
    declared: dict[str, str] = {}
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_built_in_first):
        dist = ep.dist
        dist_label = f"{dist.metadata['Name']} {dist.version}" if dist else "unknown distribution"
        dist_name = dist.metadata["Name"] if dist else ""
        ours = dist_name == BUILT_IN_DISTRIBUTION
        if not ours and (not third_party or (allowed is not None and ep.name not in allowed and dist_name not in allowed)):
            continue
        if ep.name in declared:
            if declared[ep.name] == dist_label:  # the same distribution seen twice on sys.path
                continue
            raise PluginError(
                f"Plugin entry point {ep.name!r} is declared by both {declared[ep.name]} and "
                f"{dist_label}; uninstall one of them"
            )
        declared[ep.name] = dist_label
        if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        if ours:
            pm.register(ep.load(), name=ep.name)  # a built-in that cannot import is harness's own bug: raised
            built_in.add(ep.name)
            continue
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except Exception as exc:  # any import-time failure of someone else's code: named, and skipped
            detail = str(exc).splitlines()[0] if str(exc) else ""
            broken[ep.name] = f"Could not load plugin {ep.name!r} ({dist_label}): {type(exc).__name__}: {detail}"
    if not built_in:
        raise PluginError(f"no built-in plugin is registered: reinstall harness (pip install -e .), whose "
                          f"{ENTRY_POINT_GROUP!r} entry points declare them")


def _built_in_first(ep) -> tuple[bool, str]:
    dist = ep.dist
    return (not dist or dist.metadata["Name"] != BUILT_IN_DISTRIBUTION, ep.name)


def load_plugins() -> None:
    """Load the built-ins and the third-party plugins, once, all through entry points.

    Tests set ``sys._called_from_test`` so installed third-party plugins do not leak into
    them, unless ``HARNESS_LOAD_PLUGINS`` asks for some explicitly.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    from_test = hasattr(sys, "_called_from_test")
    _load_entry_points(third_party=not from_test or bool(os.environ.get("HARNESS_LOAD_PLUGINS")))
    for message in broken.values():  # those that failed to import
        warn(f"{message}; it is left out ({ESCAPE_HATCH})")
    without_broken_plugins(check_plugins)  # each third-party plugin with a misspelt hook is named and left out
    warn_about_unhooked()


def without_broken_plugins(check: Callable[[], T]) -> T:
    """``check()``, again after leaving out each third-party plugin it fails on (a
    :class:`PluginError` whose ``plugin_name`` is not a built-in, which is raised)."""
    while True:
        try:
            return check()
        except PluginError as exc:
            name = getattr(exc, "plugin_name", None)
            if name is None or name in built_in:
                raise
            disable_plugin(name, str(exc))


def disable_plugin(name: str, message: str) -> None:
    """Leave out a third-party plugin found broken after it loaded (a kind it registers lacks a
    part): its hooks are unregistered, so none of its tasks, models or kinds remain, and one
    ``Warning:`` line says so."""
    if pm.get_plugin(name) is not None:
        pm.unregister(name=name)
    broken[name] = message
    warn(f"{message}; it is left out ({ESCAPE_HATCH})")


_warned: set[str] = set()


def warn(message: str) -> None:
    """Print ``Warning: message`` on stderr, once per process."""
    if message not in _warned:
        _warned.add(message)
        print(f"Warning: {message}", file=sys.stderr)


def warn_about_unhooked() -> None:
    """Warn about plugins that harness would silently ignore: functions named like a hook but
    not marked with ``@harness.hookimpl``, and plugins that implement no hook at all."""
    hook_names = {name for name in dir(hookspecs) if name.startswith("harness_")}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        unmarked = sorted(attr for attr in hook_names if callable(getattr(plugin, attr, None))
                          and pm.parse_hookimpl_opts(plugin, attr) is None)
        for attr in unmarked:
            warn(f"plugin {name!r}: {attr} is not marked with @harness.hookimpl, so harness ignores it")
        if not unmarked and not pm.get_hookcallers(plugin):
            warn(f"plugin {name!r} implements no harness hook (mark its functions with @harness.hookimpl)")


def check_plugins() -> None:
    """Fail on hook implementations that match no spec (usually a misspelt hook name): one line
    naming the plugin and the hook, with the spec it was probably meant to be. A third-party
    plugin that fails is unregistered (``load_plugins`` then leaves it out)."""
    import difflib

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin)
        hook = next(iter(re.findall(r"unknown hook '([^']+)'", str(exc))), "?")
        specs = [spec for spec in dir(hookspecs) if spec.startswith("harness_")]
        close = difflib.get_close_matches(hook, specs, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (harness's hooks: {', '.join(specs)})"
        if name not in built_in:
            pm.unregister(name=name)
        error = PluginError(f"Plugin {name!r}: unknown hook {hook!r}{hint}")
        error.plugin_name = name
        raise error from None


def get_plugins(all: bool = False) -> list[dict[str, Any]]:
    """Describe loaded plugins as ``{name, hooks, version}`` dicts; built-ins (``built_in: true``)
    only with ``all``."""
    load_plugins()
    distinfo = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    plugins = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or (not all and name in built_in):
            continue
        info: dict[str, Any] = {
            "name": name,
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
        }
        if name in built_in:  # harness's own (listed with --all), discovered as a third party's is
            info.update(built_in=True, version=importlib.metadata.version(BUILT_IN_DISTRIBUTION))
            plugins.append(info)
            continue
        dist = distinfo.get(id(plugin))
        if dist is not None:
            info["name"] = dist.project_name
            info["version"] = dist.version
        plugins.append(info)
    return sorted(plugins, key=lambda p: p["name"])


@dataclass
class Registration:
    """One registered object and where it came from."""

    obj: Any
    plugin: str
    aliases: tuple[str, ...] = field(default_factory=tuple)


def collect(hook_name: str, base: type | tuple[type, ...], what: str) -> dict[str, Registration]:
    """Call every implementation of a ``harness_register_*`` hook and index what it registers.

    Returns a dict from every name and alias to its :class:`Registration`. Two
    plugins claiming one name is an error naming both.
    """
    load_plugins()
    found: dict[str, Registration] = {}
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):
        def register(obj: Any, *, aliases: tuple[str, ...] | list[str] = (), _plugin: str = impl.plugin_name) -> None:
            if not isinstance(obj, base):
                expected = " or ".join(b.__name__ for b in (base if isinstance(base, tuple) else (base,)))
                raise PluginError(
                    f"Plugin {_plugin!r} registered {type(obj).__name__}, which is not a harness {expected}"
                )
            reg = Registration(obj, _plugin, tuple(aliases))
            for name in (registered_name(obj), *aliases):
                if name in found:
                    first, second = sorted([found[name].plugin, _plugin])
                    raise PluginError(
                        f"{what.capitalize()} name {name!r} is registered by both plugin {first!r} and plugin {second!r}"
                    )
                found[name] = reg

        before = len({id(r) for r in found.values()})
        impl.function(**{arg: register for arg in impl.argnames})
        if len({id(r) for r in found.values()}) == before:
            warn(f"plugin {impl.plugin_name!r}: {hook_name} registered nothing (call register(obj) for each {what})")
    return found


def registered_name(obj: Any) -> str:
    """The primary name of a task, model, or model family (``prefix:`` for families)."""
    prefix = getattr(obj, "prefix", None)
    return f"{prefix}:" if prefix else obj.name


def find_name(name: str, registry: dict[str, Registration]) -> str | None:
    """The registered name (or alias) ``name`` stands for: itself, else the one name that
    equals it ignoring case (``NER`` -> ``ner``); None when there is none."""
    if name in registry:
        return name
    folded = [known for known in registry if known.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def unknown(what: str, name: str, registry: dict[str, Registration]) -> UnknownNameError:
    """The error for a name nobody registered: close matches first, then the primary names that exist."""
    import difflib

    available = sorted({registered_name(r.obj) for r in registry.values()})
    shown = [f"{a}<{getattr(registry[a].obj, 'argument', 'arg')}>" if a.endswith(":") else a for a in available]
    folded = {known.casefold(): known for known in registry}
    matches = difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.6)
    close = list(dict.fromkeys(registered_name(registry[folded[m]].obj) for m in matches))  # aliases as their names
    left_out = f" (left out, as warned: plugin {', '.join(map(repr, broken))})" if broken else ""
    return UnknownNameError(what, name, shown, close, note=left_out)
