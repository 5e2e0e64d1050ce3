"""Discover a PostgreSQL database through pg_catalog, in a fixed number of queries.

Three queries describe every schema at once (relations, columns, keys), whatever the
number of tables. When the database is an Odoo database (it has ``ir_model``), three
more read Odoo's own description of it: model and field labels, help texts, selection
values, relations, and the module that defines each (``ir_model_data``). Everything
runs in one read-only transaction with a statement timeout.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .discovered import Discovery, FoundColumn, FoundTable, pii_tags

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

RELATIONS = f"""
SELECT n.nspname, c.relname, c.relkind,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_total_relation_size(c.oid) END,
       obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
"""

COLUMNS = f"""
SELECT n.nspname, c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {SYSTEM_SCHEMAS}
ORDER BY n.nspname, c.relname, a.attnum
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
            odoo_schema = _odoo_schema(tables)
            if odoo_schema is not None:
                queries += _harvest_odoo(cur, tables, odoo_schema)
    return Discovery(tables=list(tables.values()), queries=queries, odoo=odoo_schema is not None)


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


def _odoo_schema(tables: dict[tuple[str, str], FoundTable]) -> str | None:
    """The schema holding Odoo's registry tables, if this is an Odoo database."""
    for (schema, name), table in tables.items():
        names = {c.name for c in table.columns}
        if name == "ir_model" and {"model", "name"} <= names:
            if (schema, "ir_model_fields") in tables:
                return schema
    return None


def _harvest_odoo(cur: Any, tables: dict[tuple[str, str], FoundTable], schema: str) -> int:
    """Labels, help, selections, relations and modules from Odoo's registry tables."""
    from psycopg import sql

    types = {
        (t, c.name): c.data_type
        for (s, t), table in tables.items()
        if s == schema and t.startswith("ir_model")
        for c in table.columns
    }

    def jsonb(table: str, column: str) -> bool:
        return types.get((table, column)) == "jsonb"

    def q(template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(schema))

    has_info = ("ir_model", "info") in types
    cur.execute(
        q(
            f"""
            SELECT m.model, {_text("m.name", jsonb("ir_model", "name"))},
                   {"m.info" if has_info else "NULL"},
                   (SELECT d.module FROM {{schema}}.ir_model_data d
                    WHERE d.model = 'ir.model' AND d.res_id = m.id ORDER BY d.id LIMIT 1)
            FROM {{schema}}.ir_model m
            """
        )
    )
    models = cur.fetchall()
    label_column = _text("f.field_description", jsonb("ir_model_fields", "field_description"))
    help_column = _text("f.help", jsonb("ir_model_fields", "help"))
    cur.execute(
        q(
            f"""
            SELECT f.model, f.name, {label_column},
                   {help_column if ("ir_model_fields", "help") in types else "NULL"},
                   f.ttype, f.relation,
                   (SELECT d.module FROM {{schema}}.ir_model_data d
                    WHERE d.model = 'ir.model.fields' AND d.res_id = f.id ORDER BY d.id LIMIT 1)
            FROM {{schema}}.ir_model_fields f
            """
        )
    )
    fields = cur.fetchall()
    queries = 2
    selections: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    if (schema, "ir_model_fields_selection") in tables:
        label = _text("s.name", jsonb("ir_model_fields_selection", "name"))
        cur.execute(
            q(
                f"""
                SELECT f.model, f.name, s.value, {label}
                FROM {{schema}}.ir_model_fields_selection s
                JOIN {{schema}}.ir_model_fields f ON f.id = s.field_id
                ORDER BY f.model, f.name, s.sequence, s.id
                """
            )
        )
        for model, field, value, text in cur.fetchall():
            selections[(model, field)].append([value, text])
        queries += 1

    by_model: dict[str, FoundTable] = {}
    for model, label, info, module in models:
        table = tables.get((schema, model.replace(".", "_")))
        if table is None:
            continue
        table.odoo_model, table.label, table.module = model, label, module
        if info and not table.comment:
            table.comment = info
        by_model[model] = table
    columns = {model: {c.name: c for c in table.columns} for model, table in by_model.items()}
    for model, name, label, help_text, ttype, relation, module in fields:
        column = columns.get(model, {}).get(name)
        if column is None:
            continue  # not stored, or not a column of its own (one2many, many2many)
        column.label, column.help, column.odoo_type = label, help_text, ttype
        column.relation, column.module = relation, module
        column.selection = selections.get((model, name), [])
        if relation and column.references is None:
            target = relation.replace(".", "_")
            if (schema, target) in tables:
                column.references = f"{schema}.{target}.id"
    return queries
