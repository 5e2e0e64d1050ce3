"""Run a function right after a module is first imported, whoever imports it.

The kernel watches the SQL notebook code hands to DuckDB (duckdb_capture.py). Importing
DuckDB at kernel start to set that up would cost every kernel its import, most of which
never use DuckDB from Python; instead the set-up runs when ``duckdb`` is imported, before
the code that imported it goes on, so nothing it runs is missed.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

Callback = Callable[[ModuleType], None]


def when_imported(name: str, callback: Callback) -> None:
    """Call ``callback(module)`` as soon as module ``name`` is imported (at once if it is
    already). A callback that fails is reported on stderr; the import never fails."""
    module = sys.modules.get(name)
    if module is not None:
        _call(callback, module)
        return
    sys.meta_path.insert(0, _Watcher(name, callback))


def _call(callback: Callback, module: ModuleType) -> None:
    try:
        callback(module)
    except Exception as exc:
        print(f"workbench: after importing {module.__name__}: {exc}", file=sys.stderr)


class _Watcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader the other finders give for its module."""

    def __init__(self, name: str, callback: Callback) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, self._imported)
        return spec

    def _imported(self, module: ModuleType) -> None:
        if self in sys.meta_path:  # once; not while this finder is being iterated over
            sys.meta_path.remove(self)
        _call(self.callback, module)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: Any, then: Callback) -> None:
        self.loader = loader
        self.then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self.loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader (resources, source): this one only waits.
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        self.then(module)
