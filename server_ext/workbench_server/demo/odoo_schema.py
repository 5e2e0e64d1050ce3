"""Odoo 17 table definitions for the demo dataset, declared once for every writer.

Each :class:`Table` carries what the writers need (columns, SQL types, nullability, primary
and foreign keys) and what Odoo's own metadata records about it (model name and label,
field labels, help, selection values, defining module), so the ``ir_model*`` rows are
derived from the same declaration and cannot drift from the tables.

The declaration itself is the data file ``odoo_tables.txt`` next to this module, one line
per field (``name kind Label [@addon]``), because 300 fields written as constructor calls
would bury the few lines of logic here; its header comment explains the format.

Translatable fields are ``jsonb`` in Odoo 16+ (``{"en_US": "..."}``); they are declared as
``JSONB`` and written as ``JSON`` in DuckDB, so ``name->>'en_US'`` works in both engines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Column:
    """One stored Odoo field: its SQL column and its ``ir_model_fields`` description."""

    name: str
    sql_type: str
    label: str
    ttype: str
    nullable: bool = True
    relation: str | None = None
    help: str = ""
    selection: tuple[tuple[str, str], ...] = ()
    translate: bool = False
    module: str | None = None


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A many2one column referencing another demo table's ``id``."""

    column: str
    ref_table: str
    on_delete: str


@dataclass(frozen=True, slots=True)
class Table:
    """An Odoo model stored in one table; ``module`` is the addon that defines the model."""

    name: str
    model: str
    label: str
    module: str
    columns: tuple[Column, ...] = field(default=())
    primary_key: tuple[str, ...] = ("id",)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declaration order, which is also the order of row tuples."""
        return tuple(c.name for c in self.columns)

    @property
    def foreign_keys(self) -> tuple[ForeignKey, ...]:
        """Foreign keys implied by the many2one columns."""
        return tuple(
            ForeignKey(
                c.name,
                model_table(c.relation),
                "cascade" if c.name in _SQL_CASCADE else on_delete(c),
            )
            for c in self.columns
            if c.ttype == "many2one" and c.relation
        )


def model_table(model: str) -> str:
    """Odoo's table name for a model: ``account.move.line`` -> ``account_move_line``."""
    return model.replace(".", "_")


def column_sql_type(column: Column, dialect: str) -> str:
    """The column's SQL type for ``dialect`` (``"duckdb"`` or ``"postgres"``)."""
    if column.sql_type == "JSONB" and dialect == "duckdb":
        return "JSON"
    return column.sql_type


# kind -> (SQL type, Odoo ttype, translatable)
_KINDS: dict[str, tuple[str, str, bool]] = {
    "id": ("INTEGER", "integer", False),
    "char": ("VARCHAR", "char", False),
    "trans": ("JSONB", "char", True),
    "text": ("TEXT", "text", False),
    "transtext": ("JSONB", "text", True),
    "int": ("INTEGER", "integer", False),
    "bool": ("BOOLEAN", "boolean", False),
    "date": ("DATE", "date", False),
    "datetime": ("TIMESTAMP", "datetime", False),
    "money": ("NUMERIC(16,2)", "monetary", False),
    "float": ("NUMERIC(16,2)", "float", False),
    "float4": ("NUMERIC(16,4)", "float", False),
    "float6": ("NUMERIC(16,6)", "float", False),
    "ref": ("INTEGER", "many2one_reference", False),
    "m2o": ("INTEGER", "many2one", False),
    "sel": ("VARCHAR", "selection", False),
}

_FIELD_TYPES = (
    "binary boolean char date datetime float html integer json many2many many2one "
    "many2one_reference monetary one2many properties properties_definition reference "
    "selection text"
)
_SELECTIONS: dict[str, str] = {
    "position": "after:After Amount|before:Before Amount",
    "lang": "en_US:English (US)",
    "partner_type": "contact:Contact|invoice:Invoice Address|delivery:Delivery Address|"
    "other:Other Address",
    "account_type": "asset_receivable:Receivable|asset_cash:Bank and Cash|"
    "asset_current:Current Assets|asset_non_current:Non-current Assets|"
    "asset_prepayments:Prepayments|asset_fixed:Fixed Assets|liability_payable:Payable|"
    "liability_credit_card:Credit Card|liability_current:Current Liabilities|"
    "liability_non_current:Non-current Liabilities|equity:Equity|"
    "equity_unaffected:Current Year Earnings|income:Income|income_other:Other Income|"
    "expense:Expenses|expense_depreciation:Depreciation|"
    "expense_direct_cost:Cost of Revenue|off_balance:Off-Balance Sheet",
    "internal_group": "equity:Equity|asset:Asset|liability:Liability|income:Income|"
    "expense:Expense|off_balance:Off Balance",
    "type_tax_use": "sale:Sales|purchase:Purchases|none:None",
    "amount_type": "group:Group of Taxes|fixed:Fixed|percent:Percentage of Price|"
    "division:Percentage of Price Tax Included",
    "journal_type": "sale:Sales|purchase:Purchase|cash:Cash|bank:Bank|general:Miscellaneous",
    "product_type": "consu:Consumable|service:Service",
    "employee_type": "employee:Employee|student:Student|trainee:Trainee|"
    "contractor:Contractor|freelance:Freelancer",
    "sheet_state": "draft:To Submit|submit:Submitted|approve:Approved|post:Posted|"
    "done:Done|cancel:Refused",
    "payment_state": "not_paid:Not Paid|in_payment:In Payment|paid:Paid|"
    "partial:Partially Paid|reversed:Reversed|invoicing_legacy:Invoicing App Legacy",
    "paid_by": "own_account:Employee (to reimburse)|company_account:Company",
    "expense_state": "draft:To Report|reported:To Submit|submitted:Submitted|"
    "approved:Approved|done:Done|refused:Refused",
    "move_state": "draft:Draft|posted:Posted|cancel:Cancelled",
    "move_type": "entry:Journal Entry|out_invoice:Customer Invoice|"
    "out_refund:Customer Credit Note|in_invoice:Vendor Bill|in_refund:Vendor Credit Note|"
    "out_receipt:Sales Receipt|in_receipt:Purchase Receipt",
    "display_type": "product:Product|cogs:Cost of Goods Sold|tax:Tax|discount:Discount|"
    "rounding:Rounding|payment_term:Payment Term|line_section:Section|line_note:Note|"
    "epd:Early Payment Discount",
    "fiscalyear_last_month": "|".join(
        f"{m}:{name}"
        for m, name in enumerate(
            "January February March April May June July August September October November "
            "December".split(),
            start=1,
        )
    ),
    "module_state": "uninstallable:Uninstallable|uninstalled:Not Installed|"
    "installed:Installed|to upgrade:To be upgraded|to remove:To be removed|"
    "to install:To be installed",
    "model_state": "manual:Custom Object|base:Base Object",
    "field_state": "manual:Custom Field|base:Base Field",
    "on_delete": "cascade:Cascade|set null:Set NULL|restrict:Restrict",
    "ttype": "|".join(f"{t}:{t}" for t in _FIELD_TYPES.split()),
}


def _parse_column(line: str) -> Column:
    name, kind, *rest = line.split()
    module = rest.pop()[1:] if rest[-1].startswith("@") else None
    required = kind.endswith("!")
    kind = kind.rstrip("!")
    kind, _, arg = kind.partition(":")
    sql_type, ttype, translate = _KINDS[kind]
    selection: tuple[tuple[str, str], ...] = ()
    if kind == "sel":
        pairs = (o.split(":", 1) for o in _SELECTIONS[arg].split("|"))
        selection = tuple((value, label) for value, label in pairs)
    return Column(
        name,
        sql_type,
        " ".join(rest),
        ttype,
        nullable=not required,
        relation=arg if kind == "m2o" else None,
        selection=selection,
        translate=translate,
        module=module,
    )


def _parse(spec: str) -> tuple[Table, ...]:
    audit = (
        _parse_column("create_date datetime Created on"),
        _parse_column("write_date datetime Last Updated on"),
    )
    tables: list[Table] = []
    columns: list[Column] = []
    lines = [line for line in spec.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        if line.startswith("= "):
            name, label, module = (part.strip() for part in line[2:].split("|"))
            tables.append(Table(name, name.replace("_", "."), label, module))
            columns = [_parse_column("id id! ID")]
        elif line.startswith("? "):
            # Wrapped help text: join with spaces; a literal "\n" is one of Odoo's breaks.
            more = line[2:].replace("\\n", "\n")
            columns[-1] = replace(columns[-1], help=f"{columns[-1].help} {more}".strip())
        else:
            columns.append(_parse_column(line))
        tables[-1] = replace(tables[-1], columns=(*columns, *audit))
    return tuple(tables)


TABLES: tuple[Table, ...] = _parse(
    Path(__file__).with_name("odoo_tables.txt").read_text(encoding="utf-8")
)
"""Every demo table in dependency order (referenced tables first where possible)."""

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
# Column order and names per table, computed once: to_row runs for every generated row.
_COLUMNS = {t.name: (t.column_names, frozenset(t.column_names)) for t in TABLES}


# Odoo's _order for the models where it is not plain "id".
_ORDER = {
    "res.currency": "active desc, name",
    "res.country": "name",
    "res.company": "sequence, name",
    "res.partner": "complete_name ASC, id DESC",
    "account.account": "code, company_id",
    "account.tax": "sequence,id",
    "account.journal": "sequence, type, code",
    "product.template": "priority desc, name",
    "product.product": "priority desc, default_code, name, id",
    "hr.department": "name",
    "hr.employee": "name",
    "hr.expense": "date desc, id desc",
    "hr.expense.sheet": "accounting_date desc, id desc",
    "account.move": "date desc, name desc, invoice_date desc, id desc",
    "account.move.line": "date desc, move_name desc, id",
    "ir.model": "model",
    "ir.model.fields": "name",
    "ir.model.fields.selection": "sequence, id",
    "ir.model.data": "module, model, name",
}
# Explicit ondelete in Odoo; otherwise required many2ones restrict and optional ones set null.
_CASCADE = {"move_id", "model_id", "field_id", "product_tmpl_id"}
# A reconciliation's two lines restrict (Odoo's policy, as ir_model_fields says), but Odoo's
# ORM removes the partials of a line it deletes: the SQL foreign key cascades, which is what
# deleting a reconciled line ends with in Odoo (a raw DELETE of one, as tests make at the
# source, failed).
_SQL_CASCADE = {"debit_move_id", "credit_move_id"}


def on_delete(column: Column) -> str:
    """Odoo's ``ondelete`` policy for a many2one column (also used for the SQL foreign key)."""
    if column.name in _CASCADE:
        return "cascade"
    return "set null" if column.nullable else "restrict"


def to_row(table: str, **values: object) -> tuple[object, ...]:
    """A row tuple in ``table``'s column order; missing columns are NULL, unknown ones fail."""
    columns, known = _COLUMNS[table]
    if not known.issuperset(values):
        unknown = values.keys() - known
        raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
    return tuple(values.get(name) for name in columns)


def _json(text: str) -> str:
    # Odoo stores translations as {"lang": value}; sort_keys keeps the text byte-stable.
    return json.dumps({"en_US": text}, ensure_ascii=False, sort_keys=True)


def metadata_rows(
    records: list[tuple[str, str, str, int]], installed_at: datetime
) -> dict[str, list[tuple[object, ...]]]:
    """``ir_model``, ``ir_model_fields``, ``ir_model_fields_selection`` and ``ir_model_data``.

    ``records`` are extra external ids ``(module, model, name, res_id)`` for data records;
    the models, fields and selection values get theirs here, as Odoo's registry would.
    """
    stamps = {"create_date": installed_at, "write_date": installed_at}
    models: list[tuple[object, ...]] = []
    fields: list[tuple[object, ...]] = []
    selections: list[tuple[object, ...]] = []
    xmlids: list[tuple[str, str, str, int]] = []
    for model_id, table in enumerate(TABLES, start=1):
        models.append(
            to_row(
                "ir_model",
                id=model_id,
                name=_json(table.label),
                model=table.model,
                order=_ORDER.get(table.model, "id"),
                state="base",
                transient=False,
                **stamps,
            )
        )
        xmlids.append((table.module, "ir.model", f"model_{table.name}", model_id))
        for col in table.columns:
            field_id = len(fields) + 1
            fields.append(
                to_row(
                    "ir_model_fields",
                    id=field_id,
                    name=col.name,
                    complete_name=f"{table.model}.{col.name}",
                    model=table.model,
                    model_id=model_id,
                    relation=col.relation,
                    field_description=_json(col.label),
                    help=_json(col.help) if col.help else None,
                    ttype=col.ttype,
                    required=not col.nullable and col.name != "id",
                    readonly=col.name in ("id", "create_date", "write_date"),
                    index=col.name == "id",
                    store=True,
                    translate=col.translate,
                    on_delete=on_delete(col) if col.relation else None,
                    state="base",
                    **stamps,
                )
            )
            module = col.module or table.module
            xmlids.append((module, "ir.model.fields", f"field_{table.name}__{col.name}", field_id))
            for seq, (value, label) in enumerate(col.selection):
                sel_id = len(selections) + 1
                selections.append(
                    to_row(
                        "ir_model_fields_selection",
                        id=sel_id,
                        field_id=field_id,
                        value=value,
                        name=_json(label),
                        sequence=seq,
                        **stamps,
                    )
                )
                name = f"selection__{table.name}__{col.name}__{value.replace(' ', '_')}"
                xmlids.append((module, "ir.model.fields.selection", name, sel_id))
    data = [
        to_row(
            "ir_model_data",
            id=i,
            name=name,
            model=model,
            module=module,
            res_id=res_id,
            noupdate=False,
            **stamps,
        )
        for i, (module, model, name, res_id) in enumerate([*xmlids, *records], start=1)
    ]
    return {
        "ir_model": models,
        "ir_model_fields": fields,
        "ir_model_fields_selection": selections,
        "ir_model_data": data,
    }
