"""What the Odoo stand-in knows about models: Odoo's exception types and the field metadata
read from ``ir_model``, ``ir_model_fields`` and ``ir_model_fields_selection``.

The stand-in reads this metadata from the database instead of declaring it, so it serves
whatever Odoo-shaped schema the test loaded, exactly as a real server's registry does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import psycopg
from psycopg import sql

__all__ = [
    "AccessDenied",
    "AccessError",
    "Field",
    "MissingError",
    "Model",
    "OperationalError",
    "Registry",
    "UserError",
    "field_sql",
    "load_registry",
    "rec_name_sql",
]


class UserError(Exception):
    """Odoo's ``odoo.exceptions.UserError``: a problem the caller can fix."""

    __module__ = "odoo.exceptions"  # the JSON-RPC error name is "<module>.<class>", as in Odoo


class AccessError(UserError):
    """Odoo's ``odoo.exceptions.AccessError``: the user may not touch these records."""

    __module__ = "odoo.exceptions"


class MissingError(UserError):
    """Odoo's ``odoo.exceptions.MissingError``."""

    __module__ = "odoo.exceptions"


class AccessDenied(Exception):
    """Odoo's ``odoo.exceptions.AccessDenied``: bad login, password or API key."""

    __module__ = "odoo.exceptions"

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class OperationalError(Exception):
    """Named like psycopg2's error, which is what Odoo lets through for an unknown database."""

    __module__ = "psycopg2"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a model, as ``ir_model_fields`` describes it; a stored field is a column
    of the model's table (of the demo's fields, only the synthetic ``display_name`` is not)."""

    name: str
    ttype: str
    string: str
    help: str | None = None
    relation: str | None = None
    required: bool = False
    readonly: bool = False
    store: bool = True
    translate: bool = False
    selection: tuple[tuple[str, str], ...] = ()
    currency_field: str | None = None  # a monetary field's currency (a many2one)


@dataclass(frozen=True, slots=True)
class Model:
    """One model: technical name, label (``_description``), default order and fields."""

    name: str
    label: str
    order: str
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def table(self) -> str:
        """Odoo's table name for the model: ``account.move.line`` -> ``account_move_line``."""
        return self.name.replace(".", "_")


Registry = dict[str, Model]

# Every Odoo model has a computed ``display_name``; the demo stores it only for partners.
_DISPLAY_NAME = Field("display_name", "char", "Display Name", readonly=True, store=False)


def load_registry(conn: psycopg.Connection[tuple[object, ...]]) -> Registry:
    """Read every model and field description from the ``ir_model*`` tables."""
    models: Registry = {}
    for name, label, order in conn.execute(
        "SELECT model, name->>'en_US', \"order\" FROM ir_model ORDER BY id"
    ):
        models[str(name)] = Model(str(name), str(label), str(order or "id"))
    selections: dict[int, list[tuple[str, str]]] = {}
    for field_id, value, label in conn.execute(
        "SELECT field_id, value, name->>'en_US' FROM ir_model_fields_selection"
        " ORDER BY field_id, sequence, id"
    ):
        selections.setdefault(int(field_id), []).append((str(value), str(label)))
    rows = conn.execute(
        "SELECT id, model, name, ttype, field_description->>'en_US', help->>'en_US', relation,"
        " required, readonly, store, translate FROM ir_model_fields ORDER BY id"
    )
    for fid, model, name, ttype, string, help_, relation, required, readonly, store, tr in rows:
        if model not in models:
            continue
        models[str(model)].fields[str(name)] = Field(
            str(name),
            str(ttype),
            str(string),
            help=help_ or None,
            relation=relation,
            required=bool(required),
            readonly=bool(readonly),
            store=store is not False,
            translate=bool(tr),
            selection=tuple(selections.get(int(fid), ())),
        )
    for model in models.values():
        model.fields.setdefault("display_name", _DISPLAY_NAME)
        # Odoo's default currency of a monetary field: the model's currency_id (the demo's
        # models with monetary fields have it or, for company amounts, company_currency_id).
        currency = next((c for c in CURRENCY_FIELDS if c in model.fields), None)
        for name, fld in list(model.fields.items()):
            if fld.ttype == "monetary" and currency is not None:
                model.fields[name] = replace(fld, currency_field=currency)
    return models


CURRENCY_FIELDS = ("currency_id", "company_currency_id")


def field_sql(model: Model, fld: Field, alias: str) -> sql.Composable:
    """The SQL expression of a field's value on ``alias``: translated fields read as their
    en_US text (Odoo 16+ keeps them as jsonb), ``display_name`` as the record's name."""
    if not fld.store:
        return rec_name_sql(model, alias)
    column = sql.Identifier(alias, fld.name)
    if fld.translate:
        return sql.SQL("({}->>'en_US')").format(column)
    return column


def _code_and_name(alias: str) -> sql.Composable:
    # account.account shows as "400000 Product Sales" in Odoo.
    a = sql.Identifier
    return sql.SQL("concat_ws(' ', {}, {}->>'en_US')").format(a(alias, "code"), a(alias, "name"))


def _product_name(alias: str) -> sql.Composable:
    # product.product has no name column: Odoo shows "[CODE] Template name".
    a, tmpl = sql.Identifier, f"{alias}__tmpl"
    return sql.SQL(
        "concat('[' || {code} || '] ', (SELECT {tname}->>'en_US' FROM product_template AS {t}"
        " WHERE {tid} = {ref}))"
    ).format(
        code=a(alias, "default_code"),
        tname=a(tmpl, "name"),
        t=a(tmpl),
        tid=a(tmpl, "id"),
        ref=a(alias, "product_tmpl_id"),
    )


# Models whose display name is not simply their ``name`` field (Odoo's _rec_name / compute).
_REC_NAMES: dict[str, Callable[[str], sql.Composable]] = {
    "account.account": _code_and_name,
    "product.product": _product_name,
    "hr.department": lambda alias: sql.Identifier(alias, "complete_name"),
    "ir.model.fields": lambda alias: sql.SQL("({}->>'en_US')").format(
        sql.Identifier(alias, "field_description")
    ),
}


def rec_name_sql(model: Model, alias: str) -> sql.Composable:
    """SQL for a record's display name; NULL where Odoo would fall back to "model,id"."""
    stored = model.fields.get("display_name")
    if stored is not None and stored.store:
        return sql.Identifier(alias, "display_name")
    if model.name in _REC_NAMES:
        return _REC_NAMES[model.name](alias)
    name = model.fields.get("name")
    if name is not None and name.store:
        return field_sql(model, name, alias)
    return sql.SQL("NULL::text")
