"""Lineage: which datasets and columns feed which, captured from SQL and pipeline runs."""

from .sql import ColumnSource, SqlLineage, StatementLineage, sql_lineage

__all__ = ["ColumnSource", "SqlLineage", "StatementLineage", "sql_lineage"]
