"""The lake: bronze/silver/gold Delta tables, their writes, versions and maintenance.

Start from :class:`Lake` (``Lake.at(root)``, ``Lake.default(settings)``,
``Lake.of(workbench, principal, name)``); docs/lakehouse.md shows how to use it.
"""

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
