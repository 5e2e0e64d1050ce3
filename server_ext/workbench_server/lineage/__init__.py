"""Lineage: which datasets and columns feed which, captured from SQL and pipeline runs.

:mod:`.sql` (sqlglot, about 35 MB) is imported when first asked for, not with the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sql import sql_lineage
    from .statements import ColumnSource, SqlLineage, StatementLineage

__all__ = ["ColumnSource", "SqlLineage", "StatementLineage", "sql_lineage"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import sql

        return getattr(sql, name)  # sql re-exports the statements' classes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
