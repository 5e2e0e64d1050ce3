"""Discover a PostgreSQL database through pg_catalog, in a fixed number of queries.

Five queries describe every schema at once (relations, columns, keys, defaults,
comments), whatever the number of tables. When the database is an Odoo database (it
has ``ir_model``), three more read Odoo's own description of it: model and field
labels, help texts, selection values, relations, and the module that defines each
(``ir_model_data``). Everything runs in one read-only transaction with a statement
timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .discovered import Discovery, FoundColumn, FoundTable, pii_tags
from .odoo import harvest_odoo, odoo_schema

if TYPE_CHECKING:
    from ..connections.kinds import PostgresConfig

SYSTEM_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"
)
KINDS = {
    "r": "table",
    "p": "partitioned_table",
    "v": "view",
    "m": "materialized_view",
    "f": "foreign_table",
}

# Sizes come from the planner's page counts (table + TOAST + indexes), like row counts:
# estimates that cost no file access, so a thousand tables take no longer than ten.
RELATIONS = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN
         (c.relpages::bigint + coalesce(t.relpages, 0)
          + coalesce((SELECT sum(ic.relpages) FROM pg_index i
                      JOIN pg_class ic ON ic.oid = i.indexrelid
                      WHERE i.indrelid = c.oid), 0))
         * current_setting('block_size')::bigint
       END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

# Rows name their relation by oid (RELATIONS maps it): less to send than two names each.
COLUMNS = f"""
SELECT a.attrelid, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

# Defaults and comments are few: read on their own, they cost a fraction of joining them
# to every column (the default's parse tree would travel through the whole join).
DEFAULTS = "SELECT adrelid, adnum, pg_get_expr(adbin, adrelid) FROM pg_attrdef"
COMMENTS = (
    "SELECT objoid, objsubid, description FROM pg_description WHERE classoid = 'pg_class'::regclass"
)

# Key columns come as attribute numbers, named from the columns already read: no join
# per key column (unnesting and joining pg_attribute cost more than the columns query).
KEYS = """
SELECT con.conrelid, con.contype, con.conkey, con.confrelid, con.confkey
FROM pg_constraint con
WHERE con.contype IN ('p', 'f')
"""


def _text(column: str, jsonb: bool) -> str:
    """Odoo 16+ stores translatable labels as jsonb ({"en_US": ...}); older ones as text."""
    return f"coalesce({column}->>'en_US', {column}::text)" if jsonb else column


def discover_postgres(cfg: PostgresConfig, timeout: float = 60.0) -> Discovery:
    """Describe the database; raises ``psycopg.Error`` (e.g. unreachable) untouched."""
    import psycopg

    kwargs = cfg.psycopg_kwargs("workbench-catalog", min(timeout, 30.0))
    with psycopg.connect(**kwargs) as conn:
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout)}s",))
            relations, columns, keys, defaults, comments = (
                cur.execute(query).fetchall()
                for query in (RELATIONS, COLUMNS, KEYS, DEFAULTS, COMMENTS)
            )
            queries = 5
            tables: dict[tuple[str, str], FoundTable] = {}
            by_oid: dict[int, FoundTable] = {}
            for oid, schema, name, kind, rows, size in relations:
                by_oid[oid] = tables[(schema, name)] = FoundTable(
                    schema=schema,
                    name=name,
                    kind=KINDS[kind],
                    row_estimate=rows,
                    size_bytes=size,
                )
            by_attnum: dict[tuple[int, int], FoundColumn] = {}
            for oid, name, pos, type_, nullable in columns:
                found = by_oid.get(oid)
                if found is not None:
                    column = FoundColumn(
                        name, pos, type_, nullable, auto_tags=pii_tags(found.name, name)
                    )
                    found.columns.append(column)
                    by_attnum[(oid, pos)] = column
            for oid, pos, default in defaults:
                if (column := by_attnum.get((oid, pos))) is not None:
                    column.default = default
            for oid, pos, comment in comments:
                if pos == 0 and (table := by_oid.get(oid)) is not None:
                    table.comment = comment
                elif (column := by_attnum.get((oid, pos))) is not None:
                    column.comment = comment
            _apply_keys(by_oid, by_attnum, keys)
            registry = odoo_schema(tables)
            if registry is not None:
                queries += harvest_odoo(lambda q: cur.execute(q).fetchall(), tables, registry)
    return Discovery(tables=list(tables.values()), queries=queries, odoo=registry is not None)


def _apply_keys(
    by_oid: dict[int, FoundTable],
    by_attnum: dict[tuple[int, int], FoundColumn],
    keys: list[tuple[Any, ...]],
) -> None:
    for oid, kind, attnums, f_oid, f_attnums in keys:
        if oid not in by_oid:
            continue
        for position, attnum in enumerate(attnums):
            found = by_attnum.get((oid, attnum))
            if found is None:
                continue
            if kind == "p":
                found.primary_key = True
                continue
            target = by_oid.get(f_oid)
            f_column = by_attnum.get((f_oid, f_attnums[position])) if f_attnums else None
            if target is not None and f_column is not None:
                found.references = f"{target.schema}.{target.name}.{f_column.name}"
