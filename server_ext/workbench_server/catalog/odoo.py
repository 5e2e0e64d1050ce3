"""Odoo's own description of its database, read from its registry tables.

``ir_model`` (model labels and docs), ``ir_model_fields`` (field labels, help, types,
relations, company dependence), ``ir_model_fields_selection`` (selection values) and
``ir_model_data`` (which module defines what) become labels, help, selections, relations
and modules of the discovered tables and columns. The same SQL runs on PostgreSQL and DuckDB (Odoo
16+ keeps translatable labels as JSON ``{"en_US": ...}``; older ones as text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class OdooRegistry:
    """Odoo's registry rows as read, grouped by the table each describes."""

    schema: str
    models: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # table -> model row
    fields: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # table -> rows
    selections: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    queries: int = 0

    def describing(self, table: str) -> tuple[Any, ...]:
        """Everything the registry says about one table (for its scan signature)."""
        rows = self.fields.get(table, [])
        return (
            self.models.get(table),
            rows,
            [self.selections.get((row[0], row[1])) for row in rows],
        )


def harvest_odoo(fetch: Fetch, tables: dict[tuple[str, str], FoundTable], schema: str) -> int:
    """Fill in labels, help, selections, relations and modules; returns queries made."""
    registry = read_odoo(fetch, tables, schema)
    apply_odoo(registry, tables)
    return registry.queries


def read_odoo(fetch: Fetch, tables: dict[tuple[str, str], FoundTable], schema: str) -> OdooRegistry:
    """The registry's rows; ``tables`` must hold the ``ir_model*`` tables with columns."""
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
    # Odoo 18 stores company-dependent fields in the model's table (jsonb by company);
    # earlier versions kept them in ir_property, so they were never columns.
    company_dependent = (
        "f.company_dependent" if ("ir_model_fields", "company_dependent") in types else "FALSE"
    )
    registry = OdooRegistry(schema=schema, queries=2)
    for row in fetch(
        f"""
        SELECT m.model, {text("m", "ir_model", "name")}, {text("m", "ir_model", "info")},
               (SELECT d.module FROM {s}.ir_model_data d
                WHERE d.model = 'ir.model' AND d.res_id = m.id ORDER BY d.id LIMIT 1)
        FROM {s}.ir_model m ORDER BY m.model
        """
    ):
        registry.models[row[0].replace(".", "_")] = row
    for row in fetch(
        f"""
        SELECT f.model, f.name, {text("f", "ir_model_fields", "field_description")},
               {text("f", "ir_model_fields", "help")}, f.ttype, f.relation,
               (SELECT d.module FROM {s}.ir_model_data d
                WHERE d.model = 'ir.model.fields' AND d.res_id = f.id ORDER BY d.id LIMIT 1),
               coalesce({company_dependent}, FALSE)
        FROM {s}.ir_model_fields f ORDER BY f.model, f.name
        """
    ):
        registry.fields.setdefault(row[0].replace(".", "_"), []).append(row)
    if (schema, "ir_model_fields_selection") in tables:
        label = text("s", "ir_model_fields_selection", "name")
        for model, name, value, shown in fetch(
            f"""
            SELECT f.model, f.name, s.value, {label}
            FROM {s}.ir_model_fields_selection s
            JOIN {s}.ir_model_fields f ON f.id = s.field_id
            ORDER BY f.model, f.name, s.sequence, s.id
            """
        ):
            registry.selections.setdefault((model, name), []).append([value, shown])
        registry.queries += 1
    return registry


def apply_odoo(registry: OdooRegistry, tables: dict[tuple[str, str], FoundTable]) -> None:
    """Labels, help, selections, relations and modules onto the tables' columns (tables
    found ``unchanged`` have none, and keep what the catalog holds)."""
    schema = registry.schema
    for key, (model, label, info, module) in registry.models.items():
        table = tables.get((schema, key))
        if table is None or table.unchanged:
            continue
        table.odoo_model, table.label, table.module = model, label, module
        if info and not table.comment:
            table.comment = info
        columns = {c.name: c for c in table.columns}
        for row in registry.fields.get(key, ()):
            _, name, label, help_text, ttype, relation, module, by_company = row
            column = columns.get(name)
            if column is None:
                continue  # not stored, or not a column of its own (one2many, many2many)
            column.label, column.help, column.odoo_type = label, help_text, ttype
            column.relation, column.module = relation, module
            column.selection = registry.selections.get((model, name), [])
            column.company_dependent = bool(by_company)
            if by_company:
                # {"1": 10}: the value for each company, not an id to join on.
                column.references = None
            elif relation and column.references is None:
                target = relation.replace(".", "_")
                if (schema, target) in tables:
                    column.references = f"{schema}.{target}.id"
