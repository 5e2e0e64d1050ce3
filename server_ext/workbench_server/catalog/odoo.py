"""Odoo's own description of its database, read from its registry tables.

``ir_model`` (model labels and docs), ``ir_model_fields`` (field labels, help, types,
relations), ``ir_model_fields_selection`` (selection values) and ``ir_model_data``
(which module defines what) become labels, help, selections, relations and modules of
the discovered tables and columns. The same SQL runs on PostgreSQL and DuckDB (Odoo
16+ keeps translatable labels as JSON ``{"en_US": ...}``; older ones as text).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ..sql_text import quote_identifier as quote
from .discovered import FoundTable

Fetch = Callable[[str], list[tuple[Any, ...]]]
JSON_TYPES = ("jsonb", "json")


def _text(column: str, is_json: bool) -> str:
    return f"coalesce({column}->>'en_US', {column}::text)" if is_json else column


def odoo_schema(tables: dict[tuple[str, str], FoundTable]) -> str | None:
    """The schema holding Odoo's registry tables, if this is an Odoo database."""
    for (schema, name), table in tables.items():
        names = {c.name for c in table.columns}
        if name == "ir_model" and {"model", "name"} <= names:
            if (schema, "ir_model_fields") in tables:
                return schema
    return None


def harvest_odoo(fetch: Fetch, tables: dict[tuple[str, str], FoundTable], schema: str) -> int:
    """Fill in labels, help, selections, relations and modules; returns queries made."""
    types = {
        (t, c.name): c.data_type.lower()
        for (s, t), table in tables.items()
        if s == schema and t.startswith("ir_model")
        for c in table.columns
    }

    def text(alias: str, table: str, column: str) -> str:
        if (table, column) not in types:
            return "NULL"
        return _text(f"{alias}.{column}", types[(table, column)] in JSON_TYPES)

    s = quote(schema)
    models = fetch(
        f"""
        SELECT m.model, {text("m", "ir_model", "name")}, {text("m", "ir_model", "info")},
               (SELECT d.module FROM {s}.ir_model_data d
                WHERE d.model = 'ir.model' AND d.res_id = m.id ORDER BY d.id LIMIT 1)
        FROM {s}.ir_model m
        """
    )
    fields = fetch(
        f"""
        SELECT f.model, f.name, {text("f", "ir_model_fields", "field_description")},
               {text("f", "ir_model_fields", "help")}, f.ttype, f.relation,
               (SELECT d.module FROM {s}.ir_model_data d
                WHERE d.model = 'ir.model.fields' AND d.res_id = f.id ORDER BY d.id LIMIT 1)
        FROM {s}.ir_model_fields f
        """
    )
    queries = 2
    selections: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    if (schema, "ir_model_fields_selection") in tables:
        label = text("s", "ir_model_fields_selection", "name")
        for model, field, value, shown in fetch(
            f"""
            SELECT f.model, f.name, s.value, {label}
            FROM {s}.ir_model_fields_selection s
            JOIN {s}.ir_model_fields f ON f.id = s.field_id
            ORDER BY f.model, f.name, s.sequence, s.id
            """
        ):
            selections[(model, field)].append([value, shown])
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
