"""The model methods the Odoo stand-in serves through ``execute_kw``, read-only.

Signatures and results follow Odoo 17's ORM as seen over RPC: ``search_read`` returns
dicts with ``id`` first, many2one values as ``[id, display_name]``, empty values as
``False`` (but 0 / 0.0 for numbers, which is what Odoo's integer and float fields read as),
dates as ``'YYYY-MM-DD'`` strings, datetimes as ``'YYYY-MM-DD HH:MM:SS'``; searches skip
archived records unless ``context={'active_test': False}``, and order by the model's
``_order`` (from ``ir_model.order``) unless told otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import cast

import psycopg
from psycopg import sql

from .odoo_domain import where_sql
from .odoo_models import AccessError, Field, Model, Registry, UserError, field_sql, rec_name_sql

__all__ = ["PUBLIC_METHODS", "call_kw"]

PUBLIC_METHODS = frozenset(
    {"search_read", "search", "search_count", "read", "fields_get", "check_access_rights"}
)
_WRITE_METHODS = frozenset({"create", "write", "unlink", "copy", "name_create"})
_ORDER_TERM = re.compile(
    r'^\s*([a-z0-9_]+|"[a-z0-9_]+")(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$', re.I
)
_OPERATION_VERBS = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}
# Integer and float fields read NULL as a number in Odoo; everything else reads as False.
_EMPTY = {"integer": 0, "many2one_reference": 0, "float": 0.0, "monetary": 0.0}


def call_kw(
    conn: psycopg.Connection[tuple[object, ...]],
    registry: Registry,
    denied: frozenset[str],
    model_name: str,
    method: str,
    args: Sequence[object],
    kwargs: dict[str, object],
    writable: frozenset[str] = frozenset(),
    denied_writes: frozenset[str] = frozenset(),
    version: str = "17.0",
) -> object:
    """Run ``model_name.method(*args, **kwargs)`` like Odoo's ``execute_kw`` does, for a
    user who may not read the models in ``denied`` (nor change those in ``denied_writes``);
    ``create`` works on the models in ``writable`` (the stand-in is read-only otherwise),
    and ``write`` on ``res.company``'s lock dates when it is writable, as Odoo ``version``
    checks them."""
    if method.startswith("_"):
        raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")
    model = registry.get(model_name)
    if model is None:
        raise UserError(f"Object {model_name} doesn't exist")
    if method == "create" and model_name in writable:
        options = dict(kwargs)
        options.pop("context", None)
        return _Records(conn, registry, denied, model, {}, denied_writes).create(*args, **options)
    if method == "write" and model_name == "res.company" and model_name in writable:
        options = dict(kwargs)
        options.pop("context", None)
        records = _Records(conn, registry, denied, model, {}, denied_writes)
        return records.write_lock_dates(*args, version=version, **options)
    if method in _WRITE_METHODS:
        raise NotImplementedError(
            f"The Odoo test stand-in is read-only: {model_name}.{method}() is not available"
        )
    if method not in PUBLIC_METHODS:
        raise AttributeError(f"The method '{method}' does not exist on the model '{model_name}'")
    options = dict(kwargs)
    context = options.pop("context", None) or {}
    if not isinstance(context, dict):
        raise TypeError(f"context must be a dict, not {type(context).__name__}")
    records = _Records(conn, registry, denied, model, context)
    return getattr(records, method)(*args, **options)


class _Records:
    """The methods of one model for one call: the ``self`` of Odoo's ``@api.model`` methods."""

    def __init__(
        self,
        conn: psycopg.Connection[tuple[object, ...]],
        registry: Registry,
        denied: frozenset[str],
        model: Model,
        context: dict[str, object],
        denied_writes: frozenset[str] = frozenset(),
    ) -> None:
        self.conn = conn
        self.denied_writes = denied_writes
        self.registry = registry
        self.denied = denied
        self.model = model
        self.context = context
        self.alias = model.table  # Odoo aliases the main table by its own name

    # -- RPC methods -------------------------------------------------------------------------

    def search_read(
        self,
        domain: object = None,
        fields: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        load: str | None = "_classic_read",
    ) -> list[dict[str, object]]:
        """Records matching ``domain`` with the values of ``fields`` (all fields if empty)."""
        self.check_access_rights("read")
        columns, select = self._select(fields, load)
        query, params = self._search_sql(select, domain, offset, limit, order)
        return [self._record(columns, row, load) for row in self.conn.execute(query, params)]

    def search(
        self, domain: object, offset: int = 0, limit: int | None = None, order: str | None = None
    ) -> list[int]:
        """Ids of the records matching ``domain``, in ``order``."""
        self.check_access_rights("read")
        select = sql.Identifier(self.alias, "id")
        query, params = self._search_sql(select, domain, offset, limit, order)
        return [cast(int, row[0]) for row in self.conn.execute(query, params)]

    def search_count(self, domain: object, limit: int | None = None) -> int:
        """Number of records matching ``domain`` (at most ``limit`` if given)."""
        self.check_access_rights("read")
        matching, params = self._search_sql(sql.SQL("1"), domain, 0, limit, None, ordered=False)
        query = sql.SQL("SELECT count(*) FROM ({}) AS matching").format(matching)
        row = self.conn.execute(query, params).fetchone()
        return cast(int, row[0]) if row else 0

    def read(
        self,
        ids: int | Sequence[int],
        fields: Sequence[str] | None = None,
        load: str | None = "_classic_read",
    ) -> list[dict[str, object]]:
        """Values of ``fields`` for ``ids``, in the order of ``ids``; ids that do not exist
        are left out, as Odoo does."""
        self.check_access_rights("read")
        wanted = [ids] if isinstance(ids, int) else list(ids)
        columns, select = self._select(fields, load)
        query = sql.SQL("SELECT {} FROM {} AS {} WHERE {} = ANY(%s)").format(
            select,
            sql.Identifier(self.model.table),
            sql.Identifier(self.alias),
            sql.Identifier(self.alias, "id"),
        )
        rows = self.conn.execute(query, [wanted]).fetchall()
        by_id = {row[0]: self._record(columns, row, load) for row in rows}
        return [by_id[i] for i in wanted if i in by_id]

    def fields_get(
        self, allfields: Sequence[str] | None = None, attributes: Sequence[str] | None = None
    ) -> dict[str, dict[str, object]]:
        """Field descriptions, limited to ``allfields`` and to the ``attributes`` asked for."""
        result: dict[str, dict[str, object]] = {}
        for name, fld in self.model.fields.items():
            if allfields and name not in allfields:
                continue
            description = _describe(fld)
            if attributes:
                description = {k: v for k, v in description.items() if k in attributes}
            result[name] = description
        return result

    def check_access_rights(self, operation: str, raise_exception: bool = True) -> bool:
        """Whether the user may ``operation`` (read/write/create/unlink) this model."""
        if operation not in _OPERATION_VERBS:
            raise ValueError(f"Invalid access mode {operation!r}")
        allowed = self.model.name not in self.denied and (
            operation == "read" or self.model.name not in self.denied_writes
        )
        if not allowed and raise_exception:
            raise AccessError(
                f"You are not allowed to {_OPERATION_VERBS[operation]} '{self.model.label}'"
                f" ({self.model.name}) records.\n\n"
                "This operation is allowed for the following groups:\n\t- Internal User\n\n"
                "Contact your administrator to request access if necessary."
            )
        return allowed

    def create(self, vals_list: object) -> int | list[int]:
        """Insert one record (a dict: its id comes back) or several (a list: their ids),
        checking field names, stored-ness and required fields as Odoo's ORM does."""
        self.check_access_rights("create")
        many = isinstance(vals_list, list)
        rows = vals_list if isinstance(vals_list, list) else [vals_list]
        ids: list[int] = []
        # One writer at a time: ids are max(id) + 1, as the demo tables have no sequences.
        self.conn.execute(
            sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(self.model.table))
        )
        for vals in rows:
            if not isinstance(vals, dict):
                raise TypeError(f"create() takes dicts of values, not {type(vals).__name__}")
            names = [n for n in vals if n != "id"]
            for name in names:
                fld = self.model.fields.get(name)
                if fld is None:
                    raise ValueError(f"Invalid field {name!r} on model {self.model.name!r}")
                if not fld.store:
                    raise ValueError(f"Field {name!r} on {self.model.name!r} is not stored")
            missing = [
                f.string
                for n, f in self.model.fields.items()
                if f.required and n not in ("id", "display_name") and vals.get(n) in (None, False)
            ]
            if missing:
                raise UserError(
                    f"The operation cannot be completed: missing required field(s) "
                    f"{', '.join(missing)} on {self.model.label}"
                )
            row = self.conn.execute(
                sql.SQL("SELECT coalesce(max(id), 0) + 1 FROM {}").format(
                    sql.Identifier(self.model.table)
                )
            ).fetchone()
            new_id = cast(int, row[0]) if row else 1
            values = [None if vals[n] is False else vals[n] for n in names]
            self.conn.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(self.model.table),
                    sql.SQL(", ").join(sql.Identifier(n) for n in ["id", *names]),
                    sql.SQL(", ").join(sql.Placeholder() for _ in range(len(names) + 1)),
                ),
                [new_id, *values],
            )
            ids.append(new_id)
        self.conn.commit()
        return ids if many else ids[0]

    def write_lock_dates(self, ids: object, vals: object, *, version: str) -> bool:
        """``res.company.write`` of lock dates, refused as Odoo refuses it: by access
        rights, for a field the version does not have, and by its lock checks (16/17
        ``_validate_fiscalyear_lock``, 18 ``_validate_locks``): a fiscal-year (18: or hard)
        lock date with unposted entries or unreconciled bank statement lines on or before
        it, and, in 18, a hard lock date lowered or removed."""
        self.check_access_rights("write")
        wanted = [ids] if isinstance(ids, int) else list(cast(Sequence[int], ids))
        if not isinstance(vals, dict):
            raise TypeError(f"write() takes a dict of values, not {type(vals).__name__}")
        for name in vals:
            fld = self.model.fields.get(name)
            if fld is None or not name.endswith("_lock_date"):
                # The stand-in writes lock dates only; Odoo would write the rest too.
                raise ValueError(f"Invalid field {name!r} on model {self.model.name!r}")
        values = {n: (None if v is False else date.fromisoformat(str(v))) for n, v in vals.items()}
        current = {
            row[0]: row[1]
            for row in self.conn.execute(
                "SELECT id, to_jsonb(c) FROM res_company c WHERE id = ANY(%s)", [wanted]
            )
        }
        if version.startswith("18") and "hard_lock_date" in values:
            for company in current.values():
                old = cast(dict, company).get("hard_lock_date")
                new = values["hard_lock_date"]
                if old and (new is None or new < date.fromisoformat(old)):
                    raise UserError("The Hard Lock Date cannot be decreased or removed.")
        checked = ["fiscalyear_lock_date"] + (
            ["hard_lock_date"] if version.startswith("18") else []
        )
        locked = [values[n] for n in checked if values.get(n)]
        if locked:
            limit = max(locked)
            drafts = self.conn.execute(
                "SELECT count(*) FROM account_move WHERE company_id = ANY(%s) "
                "AND state = 'draft' AND date <= %s",
                [wanted, limit],
            ).fetchone()
            if drafts and drafts[0]:
                raise UserError(
                    "There are still unposted entries in the period you want to lock. "
                    "You should either post or delete them."
                )
            open_lines = self.conn.execute(
                "SELECT count(*) FROM account_bank_statement_line b JOIN account_move m "
                "ON m.id = b.move_id WHERE m.company_id = ANY(%s) AND NOT b.is_reconciled "
                "AND m.date <= %s AND m.state IN ('draft', 'posted')",
                [wanted, limit],
            ).fetchone()
            if open_lines and open_lines[0]:
                raise UserError(
                    "There are still unreconciled bank statement lines in the period you "
                    "want to lock. You should either reconcile or delete them."
                )
        self.conn.execute(
            sql.SQL("UPDATE res_company SET {}, write_date = now() WHERE id = ANY(%s)").format(
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in values)
            ),
            [*values.values(), wanted],
        )
        self.conn.commit()
        return True

    # -- SQL -------------------------------------------------------------------------------

    def _fields(self, names: Sequence[str] | None) -> list[Field]:
        if not names:
            return [f for n, f in self.model.fields.items() if n != "id"]
        unknown = [n for n in names if n not in self.model.fields]
        if unknown:
            raise ValueError(f"Invalid field {unknown[0]!r} on model {self.model.name!r}")
        return [self.model.fields[n] for n in dict.fromkeys(names) if n != "id"]

    def _select(
        self, names: Sequence[str] | None, load: str | None
    ) -> tuple[list[Field], sql.Composable]:
        """The SELECT list: id, then each field; a many2one adds its target's display name."""
        columns = self._fields(names)
        exprs: list[sql.Composable] = [sql.Identifier(self.alias, "id")]
        for fld in columns:
            exprs.append(field_sql(self.model, fld, self.alias))
            if self._pairs(fld, load):
                comodel = self.registry[str(fld.relation)]
                sub = f"{self.alias}__{fld.name}"
                exprs.append(
                    sql.SQL("(SELECT {} FROM {} AS {} WHERE {} = {})").format(
                        rec_name_sql(comodel, sub),
                        sql.Identifier(comodel.table),
                        sql.Identifier(sub),
                        sql.Identifier(sub, "id"),
                        sql.Identifier(self.alias, fld.name),
                    )
                )
        return columns, sql.SQL(", ").join(exprs)

    def _pairs(self, fld: Field, load: str | None) -> bool:
        # load='_classic_read' (the default) is what turns many2one ids into [id, name].
        return fld.ttype == "many2one" and load == "_classic_read" and fld.relation in self.registry

    def _search_sql(
        self,
        select: sql.Composable,
        domain: object,
        offset: int,
        limit: int | None,
        order: str | None,
        *,
        ordered: bool = True,
    ) -> tuple[sql.Composable, list[object]]:
        where, params = where_sql([] if domain is None else domain, *self._scope)
        if self._active_test(domain):
            active, _ = where_sql([("active", "=", True)], *self._scope)
            where = sql.SQL("{} AND {}").format(active, where)
        query = sql.SQL("SELECT {} FROM {} AS {} WHERE {}").format(
            select, sql.Identifier(self.model.table), sql.Identifier(self.alias), where
        )
        if ordered:
            query += sql.SQL(" ORDER BY ") + self._order_sql(order)
        if limit:
            query += sql.SQL(" LIMIT %s")
            params = [*params, int(limit)]
        if offset:
            query += sql.SQL(" OFFSET %s")
            params = [*params, int(offset)]
        return query, params

    @property
    def _scope(self) -> tuple[Model, Registry, str]:
        return self.model, self.registry, self.alias

    def _active_test(self, domain: object) -> bool:
        """Odoo hides archived records unless the domain mentions ``active`` itself."""
        if "active" not in self.model.fields or not self.context.get("active_test", True):
            return False
        terms = domain if isinstance(domain, (list, tuple)) else ()
        return not any(isinstance(t, (list, tuple)) and t and t[0] == "active" for t in terms)

    def _order_sql(self, order: str | None) -> sql.Composable:
        """ORDER BY for ``order`` or the model's ``_order``, always ending on ``id`` so that
        pages of a paginated search never overlap."""
        spec = order or self.model.order
        terms: list[sql.Composable] = []
        names: set[str] = set()
        for part in spec.split(","):
            match = _ORDER_TERM.match(part)
            if not match:
                raise ValueError(
                    f'Invalid "order" specified ({spec}). A valid "order" specification is a'
                    " comma-separated list of valid field names (optionally followed by"
                    " asc/desc for the direction)"
                )
            name, direction, nulls = match.group(1).strip('"'), match.group(2), match.group(3)
            fld = self.model.fields.get(name)
            if fld is None:
                if not order:
                    continue  # the demo leaves out some fields the real _order mentions
                raise ValueError(f"Invalid field {name!r} on model {self.model.name!r}")
            term = sql.SQL("{} {}").format(
                field_sql(self.model, fld, self.alias), sql.SQL((direction or "asc").upper())
            )
            if nulls:
                term += sql.SQL(" NULLS FIRST" if nulls.lower() == "first" else " NULLS LAST")
            terms.append(term)
            names.add(name)
        if "id" not in names:
            terms.append(sql.Identifier(self.alias, "id"))
        return sql.SQL(", ").join(terms)

    def _record(
        self, columns: list[Field], row: Sequence[object], load: str | None
    ) -> dict[str, object]:
        record: dict[str, object] = {"id": row[0]}
        position = 1
        for fld in columns:
            value = row[position]
            position += 1
            if self._pairs(fld, load):
                name = row[position]
                position += 1
                record[fld.name] = (
                    False if value is None else [value, name or f"{fld.relation},{value}"]
                )
            else:
                record[fld.name] = _to_odoo(fld, value)
        if "display_name" in record and not record["display_name"]:
            record["display_name"] = f"{self.model.name},{row[0]}"
        return record


def _to_odoo(fld: Field, value: object) -> object:
    """A column value as Odoo's ``read`` returns it over RPC."""
    if value is None:
        return _EMPTY.get(fld.ttype, False)
    if isinstance(value, Decimal) or (isinstance(value, int) and fld.ttype == "float"):
        return float(value)  # Odoo's float and monetary fields are floats, never Decimal
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _describe(fld: Field) -> dict[str, object]:
    """``fields_get`` description: the attributes Odoo 17 reports for a field."""
    description: dict[str, object] = {
        "name": fld.name,
        "type": fld.ttype,
        "string": fld.string,
        "required": fld.required,
        "readonly": fld.readonly,
        "store": fld.store,
        "searchable": True,
        "sortable": fld.store,
        "manual": False,
        "company_dependent": False,
        "change_default": False,
        "depends": [],
        "exportable": True,
    }
    if fld.help:
        description["help"] = fld.help
    if fld.ttype in ("char", "text", "html"):
        description["translate"] = fld.translate
    if fld.relation and fld.ttype in ("many2one", "one2many", "many2many"):
        description.update(relation=fld.relation, domain=[], context={})
    if fld.ttype == "selection":
        description["selection"] = [list(pair) for pair in fld.selection]
    if fld.ttype == "monetary" and fld.currency_field:
        description["currency_field"] = fld.currency_field
    return description
