"""Discover an Odoo instance through its external API (XML-RPC or JSON-RPC).

Four reads, paginated, however many models there are: ``ir.model`` (models and their
labels), ``ir.model.fields`` (labels, help, types, relations, required, stored),
``ir.model.fields.selection`` (selection values) and ``ir.model.data`` (the module that
defines each model and field). Each model becomes a table ``odoo.<model>``; computed
fields that are not stored are listed too, with a comment saying so. This needs an
Odoo user who may read the technical models (an administrator, in a stock Odoo).

A user who may not (Odoo answers AccessError) still gets a catalog: ``fields_get`` on
each model of the connection's ``models`` setting, or of common business models, tells
the same labels, help, types, relations and selections, two calls per model (models the
user may not read, checked with ``check_access_rights``, are left out). Module names
are not known that way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .discovered import Discovery, FoundColumn, FoundTable
from .pii import DEFAULT_RULES, PiiRules
from .preview import MAX_ROWS, Preview, json_value

if TYPE_CHECKING:
    from ..connections.kinds import OdooConfig

SCHEMA = "odoo"
# What an accounting and operations team reads most; a connection's ``models`` replaces it.
BUSINESS_MODELS = (
    "res.partner",
    "res.company",
    "res.currency",
    "res.country",
    "account.account",
    "account.journal",
    "account.move",
    "account.move.line",
    "account.payment",
    "account.tax",
    "account.analytic.account",
    "account.analytic.line",
    "account.bank.statement.line",
    "product.product",
    "product.template",
    "product.category",
    "sale.order",
    "sale.order.line",
    "purchase.order",
    "purchase.order.line",
    "stock.picking",
    "stock.move",
    "hr.employee",
    "hr.department",
    "hr.expense",
    "hr.expense.sheet",
    "project.project",
    "project.task",
)
UNPREVIEWABLE = ("binary", "one2many", "many2many", "properties", "properties_definition")


def _id(value: Any) -> int | None:
    """A many2one value from search_read: ``[id, display name]`` or False."""
    return value[0] if isinstance(value, list | tuple) and value else None


def discover_odoo_api(
    cfg: OdooConfig, timeout: float = 60.0, pii: PiiRules = DEFAULT_RULES
) -> Discovery:
    """Raises :class:`~workbench_server.connections.odoo.OdooError` with a one-line reason."""
    from ..connections.odoo import OdooClient, OdooError

    client = OdooClient(cfg, timeout)
    try:
        models = list(client.search_read("ir.model", [], ["model", "name"], order="id"))
    except OdooError as exc:
        if exc.reason != "permission_denied":
            raise
        return _discover_with_fields_get(client, cfg.models or list(BUSINESS_MODELS), pii)
    fields = list(
        client.search_read(
            "ir.model.fields",
            [],
            [
                "model",
                "name",
                "field_description",
                "help",
                "ttype",
                "relation",
                "required",
                "store",
            ],
            order="id",
        )
    )
    selections: dict[int, list[list[str]]] = defaultdict(list)
    for row in client.search_read(
        "ir.model.fields.selection", [], ["field_id", "value", "name"], order="id"
    ):
        field_id = _id(row["field_id"])
        if field_id is not None:
            selections[field_id].append([row["value"], row["name"]])
    modules: dict[tuple[str, int], str] = {}
    for row in client.search_read(
        "ir.model.data",
        [("model", "in", ["ir.model", "ir.model.fields"])],
        ["model", "module", "res_id"],
        order="id",
    ):
        modules.setdefault((row["model"], row["res_id"]), row["module"])

    tables: dict[str, FoundTable] = {}
    for row in models:
        tables[row["model"]] = FoundTable(
            schema=SCHEMA,
            name=row["model"],
            kind="model",
            label=row["name"] or None,
            odoo_model=row["model"],
            module=modules.get(("ir.model", row["id"])),
        )
    for row in fields:
        table = tables.get(row["model"])
        if table is None:
            continue
        spec = {  # the row as fields_get would describe the field
            "string": row["field_description"],
            "help": row["help"],
            "type": row["ttype"],
            "relation": row["relation"],
            "required": row["required"],
            "store": row["store"],
            "selection": selections.get(row["id"], []),
        }
        column = _column(row["model"], row["name"], len(table.columns) + 1, spec, pii)
        column.module = modules.get(("ir.model.fields", row["id"]))
        table.columns.append(column)
    return Discovery(tables=list(tables.values()), queries=4, odoo=True)


def _column(
    model: str, name: str, position: int, spec: dict[str, Any], pii: PiiRules
) -> FoundColumn:
    relation = spec.get("relation") or None
    kind = spec.get("type", "")
    return FoundColumn(
        name=name,
        position=position,
        data_type=kind,
        nullable=not spec.get("required", False),
        comment=None if spec.get("store", True) else "computed, not stored",
        primary_key=name == "id",
        references=f"{SCHEMA}.{relation}.id" if relation and kind == "many2one" else None,
        label=spec.get("string") or None,
        help=spec.get("help") or None,
        odoo_type=kind,
        relation=relation,
        # Read through the API, such a field is the current company's value (a many2one
        # reads as [id, name]), so it keeps its reference; in the database it is jsonb.
        company_dependent=bool(spec.get("company_dependent")),
        selection=[list(pair) for pair in spec.get("selection") or []]
        if isinstance(spec.get("selection"), list)
        else [],
        auto_tags=pii.tags(model.replace(".", "_"), name),
    )


def _discover_with_fields_get(client: Any, models: list[str], pii: PiiRules) -> Discovery:
    from ..connections.odoo import OdooError

    tables = []
    for model in models:
        try:  # fields_get answers for any model; only readable ones belong in the catalog
            readable = client.execute_kw(
                model, "check_access_rights", ["read"], {"raise_exception": False}
            )
            fields = client.fields_get(model) if readable else None
        except OdooError as exc:  # not installed, or refused
            if exc.reason in ("permission_denied", "error"):
                continue
            raise
        if not fields:
            continue
        table = FoundTable(schema=SCHEMA, name=model, kind="model", odoo_model=model)
        table.columns = [
            _column(model, name, position, spec, pii)
            for position, (name, spec) in enumerate(fields.items(), start=1)
        ]
        tables.append(table)
    return Discovery(tables=tables, queries=1 + 2 * len(models), odoo=True)


def preview_odoo_api(
    cfg: OdooConfig, model: str, fields: list[str], limit: int, timeout: float
) -> Preview:
    from ..connections.odoo import OdooClient

    started = time.perf_counter()
    limit = max(1, min(limit, MAX_ROWS))
    client = OdooClient(cfg, timeout)
    records = list(client.search_read(model, [], fields[:40] or None, limit=limit, order="id"))
    names = fields[:40] or (list(records[0]) if records else [])
    out = Preview(
        columns=[(name, "") for name in names],
        rows=[[json_value(record.get(name)) for name in names] for record in records],
    )
    if len(records) == limit:
        out.notes.append(f"first {limit} records")
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out
