"""Discover an Odoo instance through its external API (XML-RPC or JSON-RPC).

Four reads, paginated, however many models there are: ``ir.model`` (models and their
labels), ``ir.model.fields`` (labels, help, types, relations, required, stored),
``ir.model.fields.selection`` (selection values) and ``ir.model.data`` (the module that
defines each model and field). Each model becomes a table ``odoo.<model>``; computed
fields that are not stored are listed too, with a comment saying so. This needs an
Odoo user who may read the technical models (an administrator, in a stock Odoo).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .discovered import Discovery, FoundColumn, FoundTable, pii_tags
from .preview import MAX_ROWS, Preview, json_value

if TYPE_CHECKING:
    from ..connections.kinds import OdooConfig

SCHEMA = "odoo"
UNPREVIEWABLE = ("binary", "one2many", "many2many", "properties", "properties_definition")


def _id(value: Any) -> int | None:
    """A many2one value from search_read: ``[id, display name]`` or False."""
    return value[0] if isinstance(value, list | tuple) and value else None


def discover_odoo_api(cfg: OdooConfig, timeout: float = 60.0) -> Discovery:
    """Raises :class:`~workbench_server.connections.odoo.OdooError` with a one-line reason."""
    from ..connections.odoo import OdooClient

    client = OdooClient(cfg, timeout)
    models = list(client.search_read("ir.model", [], ["model", "name"], order="id"))
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
        relation = row["relation"] or None
        table.columns.append(
            FoundColumn(
                name=row["name"],
                position=len(table.columns) + 1,
                data_type=row["ttype"],
                nullable=not row["required"],
                comment=None if row["store"] else "computed, not stored",
                primary_key=row["name"] == "id",
                references=f"{SCHEMA}.{relation}.id"
                if relation and row["ttype"] == "many2one"
                else None,
                label=row["field_description"] or None,
                help=row["help"] or None,
                odoo_type=row["ttype"],
                relation=relation,
                selection=selections.get(row["id"], []),
                module=modules.get(("ir.model.fields", row["id"])),
                auto_tags=pii_tags(row["model"].replace(".", "_"), row["name"]),
            )
        )
    return Discovery(tables=list(tables.values()), queries=4, odoo=True)


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
