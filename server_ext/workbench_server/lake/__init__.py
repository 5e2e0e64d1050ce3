"""The lake: bronze/silver/gold Delta tables, their writes, versions and maintenance.

Start from :class:`Lake` (``Lake.at(root)``, ``Lake.default(settings)``,
``Lake.of(workbench, principal, name)``); docs/lakehouse.md shows how to use it.

The package loads its parts when first asked for one: the Arrow, DuckDB and Delta
libraries behind :class:`Lake` weigh about 150 MB, and the JupyterLab server, the worker and
the supervisor import modules that name the lake without using it until a request does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .location import DEFAULT_LAKE, LakeLocation
    from .models import (
        DeleteMarker,
        TableDiff,
        TableInfo,
        TableName,
        TableVersion,
        WriteResult,
        WriterInfo,
    )
    from .service import Lake
    from .settings import LakeSettings

_WHERE = {
    "DEFAULT_LAKE": "location",
    "LakeLocation": "location",
    "DeleteMarker": "models",
    "TableDiff": "models",
    "TableInfo": "models",
    "TableName": "models",
    "TableVersion": "models",
    "WriteResult": "models",
    "WriterInfo": "models",
    "Lake": "service",
    "LakeSettings": "settings",
}

__all__ = [
    "DEFAULT_LAKE",
    "DeleteMarker",
    "Lake",
    "LakeLocation",
    "LakeSettings",
    "TableDiff",
    "TableInfo",
    "TableName",
    "TableVersion",
    "WriteResult",
    "WriterInfo",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
