"""Discover a PostgreSQL database through pg_catalog, in a fixed number of queries.

Three queries describe every schema at once (relations, columns, keys), whatever the
number of tables. When the database is an Odoo database (it has ``ir_model``), three
more read Odoo's own description of it: model and field labels, help texts, selection
values, relations, and the module that defines each (``ir_model_data``). Everything
runs in one read-only transaction with a statement timeout.
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
SELECT n.nspname, c.relname, c.relkind,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN
         (c.relpages::bigint + coalesce(t.relpages, 0)
          + coalesce((SELECT sum(ic.relpages) FROM pg_index i
                      JOIN pg_class ic ON ic.oid = i.indexrelid
                      WHERE i.indrelid = c.oid), 0))
         * current_setting('block_size')::bigint
       END,
       d.description
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN pg_description d
  ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

COLUMNS = f"""
SELECT n.nspname, c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), d.description
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d
  ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

KEYS = f"""
SELECT n.nspname, c.relname, con.contype, a.attname, fn.nspname, fc.relname, fa.attname
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, fattnum)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum
WHERE con.contype IN ('p', 'f') AND {SYSTEM_SCHEMAS}
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
            cur.execute(RELATIONS)
            relations = cur.fetchall()
            cur.execute(COLUMNS)
            columns = cur.fetchall()
            cur.execute(KEYS)
            keys = cur.fetchall()
            queries = 3
            tables: dict[tuple[str, str], FoundTable] = {}
            for schema, name, kind, rows, size, comment in relations:
                tables[(schema, name)] = FoundTable(
                    schema=schema,
                    name=name,
                    kind=KINDS[kind],
                    row_estimate=rows,
                    size_bytes=size,
                    comment=comment,
                )
            for schema, table, name, pos, type_, nullable, default, comment in columns:
                found = tables.get((schema, table))
                if found is not None:
                    found.columns.append(
                        FoundColumn(
                            name=name,
                            position=pos,
                            data_type=type_,
                            nullable=nullable,
                            default=default,
                            comment=comment,
                            auto_tags=pii_tags(table, name),
                        )
                    )
            _apply_keys(tables, keys)
            registry = odoo_schema(tables)
            if registry is not None:
                queries += harvest_odoo(lambda q: cur.execute(q).fetchall(), tables, registry)
    return Discovery(tables=list(tables.values()), queries=queries, odoo=registry is not None)


def _apply_keys(tables: dict[tuple[str, str], FoundTable], keys: list[tuple[Any, ...]]) -> None:
    by_name = {key: {c.name: c for c in table.columns} for key, table in tables.items()}
    for schema, table, kind, column, f_schema, f_table, f_column in keys:
        found = by_name.get((schema, table), {}).get(column)
        if found is None:
            continue
        if kind == "p":
            found.primary_key = True
        elif f_table is not None:
            found.references = f"{f_schema}.{f_table}.{f_column}"
