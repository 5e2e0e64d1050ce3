"""Discover a DuckDB database file through its catalog functions, in a fixed number of
queries, read-only (another process may have the file open for reading too). An Odoo
dataset in DuckDB (such as the workbench's demo) gets Odoo's labels as on PostgreSQL.

The file is a user's: it is opened with external access off and its configuration
locked (:func:`~workbench_server.connections.duckdb_files.open_untrusted_duckdb`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .discovered import Discovery, FoundColumn, FoundTable
from .odoo import harvest_odoo, odoo_schema
from .pii import DEFAULT_RULES, PiiRules

if TYPE_CHECKING:
    import duckdb

    from ..connections.kinds import DuckDBConfig

RELATIONS = """
SELECT schema_name, table_name, 'table', estimated_size, comment
FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal
UNION ALL
SELECT schema_name, view_name, 'view', NULL, comment
FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
"""
COLUMNS = """
SELECT schema_name, table_name, column_name, column_index, data_type, is_nullable,
       column_default, comment
FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name, column_index
"""
KEYS = """
SELECT schema_name, table_name, constraint_type, constraint_column_names,
       referenced_table, referenced_column_names
FROM duckdb_constraints()
WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')
"""


class DuckDBUnavailable(Exception):
    """The file is missing or cannot be opened; ``str()`` says why."""


def discover_duckdb(cfg: DuckDBConfig, pii: PiiRules = DEFAULT_RULES) -> Discovery:
    import duckdb

    from ..connections.duckdb_files import open_untrusted_duckdb

    if cfg.path == ":memory:":
        return Discovery(tables=[])  # a fresh in-memory database holds nothing to list
    if not Path(cfg.path).is_file():
        raise DuckDBUnavailable(f"DuckDB file {cfg.path} does not exist")
    try:
        with open_untrusted_duckdb(cfg.path) as con:
            return _describe(con, pii)
    except duckdb.Error as exc:  # e.g. an Odoo-named view that reads outside the file
        raise DuckDBUnavailable(str(exc).splitlines()[0]) from None


def _describe(con: duckdb.DuckDBPyConnection, pii: PiiRules) -> Discovery:
    tables: dict[tuple[str, str], FoundTable] = {}
    for schema, name, kind, rows, comment in con.execute(RELATIONS).fetchall():
        tables[(schema, name)] = FoundTable(
            schema=schema, name=name, kind=kind, row_estimate=rows, comment=comment
        )
    for schema, table, name, pos, type_, nullable, default, comment in con.execute(
        COLUMNS
    ).fetchall():
        found = tables.get((schema, table))
        if found is not None:
            found.columns.append(
                FoundColumn(
                    name=name,
                    position=pos,
                    data_type=type_.lower(),
                    nullable=nullable,
                    default=default,
                    comment=comment,
                    auto_tags=pii.tags(table, name),
                )
            )
    for schema, table, kind, names, target, target_names in con.execute(KEYS).fetchall():
        columns = {c.name: c for c in tables.get((schema, table), FoundTable("", "", "")).columns}
        for i, name in enumerate(names or []):
            column = columns.get(name)
            if column is None:
                continue
            if kind == "PRIMARY KEY":
                column.primary_key = True
            elif target and target_names:
                column.references = (
                    f"{schema}.{target}.{target_names[min(i, len(target_names) - 1)]}"
                )
    queries = 3
    registry = odoo_schema(tables)
    if registry is not None:
        queries += harvest_odoo(lambda q: con.execute(q).fetchall(), tables, registry)
    return Discovery(tables=list(tables.values()), queries=queries, odoo=registry is not None)
