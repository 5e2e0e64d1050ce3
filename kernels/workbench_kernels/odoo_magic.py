"""``%odoo``: read Odoo models through the external API into a DataFrame.

    %odoo search_read res.partner --domain "[('customer_rank','>',0)]" \
          --fields name,email --limit 100   (on one line)
    %odoo fields_get account.move.line
    %odoo search_count account.move --domain "[('state','=','posted')]"

With several Odoo connections, pick one with ``-c NAME``. Large results are fetched page
by page. Amounts (Odoo's ``monetary`` and ``float`` fields, which its API sends as floats)
are ``Decimal`` in the frame, as ``%sql`` gives them: the float's shortest repr is the
decimal Odoo stored, and a sum of them is exact. A monetary amount shows its currency's
digits (``1250.00``, not ``1250.0``): Odoo's field metadata names the field's currency
(``currency_field``) and the currency its ``decimal_places``; a value with more digits
than that keeps them all.
"""

from __future__ import annotations

import ast
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

if TYPE_CHECKING:
    # Imported when first used, not when the kernel starts (extension.py).
    from workbench_server.connections.odoo import OdooClient

    from .registry import KernelConnections

METHODS = ("search_read", "search_count", "fields_get")
# Field types Odoo's API sends as floats though they hold decimals (numeric in PostgreSQL).
DECIMAL_TYPES = frozenset({"monetary", "float"})


def _as_decimal(value: Any) -> Any:
    """An amount as Odoo sent it (float, int or False when unset) as a Decimal or None."""
    from decimal import Decimal

    if isinstance(value, bool) or value is None:
        return None if value is False or value is None else value
    if isinstance(value, float):
        return Decimal(float.__repr__(value))  # also for numpy floats
    if isinstance(value, int):
        return Decimal(value)
    return value


def _many2one_id(value: Any) -> int | None:
    """The record id of a many2one value as Odoo's API sends it ([id, name] or False)."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], int):
        return value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _with_digits(value: Any, places: int | None) -> Any:
    """A Decimal amount written with its currency's ``places`` digits (1250.0 ->
    1250.00); never rounded: a value with more digits keeps them."""
    from decimal import Decimal

    if places is None or not isinstance(value, Decimal) or not value.is_finite():
        return value
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return value.quantize(Decimal(1).scaleb(-places))
    return value


def _domain(text: str) -> list[Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise UsageError(
            f"%odoo: --domain {text!r} is not a Python list such as \"[('state','=','posted')]\""
        ) from None
    if not isinstance(value, list | tuple):
        raise UsageError(f"%odoo: --domain must be a list, not {type(value).__name__}")
    return [list(leaf) if isinstance(leaf, tuple) else leaf for leaf in value]


@magics_class
class OdooMagics(Magics):
    """Odoo's external API from a notebook, through the workbench's Odoo connections."""

    def __init__(self, shell: Any, connections: KernelConnections) -> None:
        super().__init__(shell)
        self.connections = connections
        self._clients: dict[str, OdooClient] = {}
        # (client, model) -> {amount field: its currency field, or None}
        self._amounts: dict[tuple[int, str], dict[str, str | None]] = {}
        self._places: dict[tuple[int, int], int] = {}  # (client, currency id) -> digits

    def _connection(self, name: str | None) -> tuple[str, OdooClient]:
        from workbench_server.connections.odoo import OdooClient

        from .registry import WorkbenchConnectionError

        odoo = {n: s for n, s in self.connections.settings.items() if s.kind == "odoo"}
        if name is None or name not in odoo:
            self.connections.refresh()
            odoo = {n: s for n, s in self.connections.settings.items() if s.kind == "odoo"}
        if name is None:
            if len(odoo) != 1:
                choices = ", ".join(sorted(odoo)) or "none"
                raise UsageError(f"%odoo: choose an Odoo connection with -c NAME (have: {choices})")
            name = next(iter(odoo))
        if name not in odoo:
            raise UsageError(f"%odoo: no Odoo connection named {name!r}")
        try:
            self.connections.check([name])  # still shared with this user?
        except WorkbenchConnectionError as exc:
            self._clients.pop(name, None)
            raise UsageError(f"%odoo: {exc}") from None
        client = self._clients.get(name)
        if client is None or client.cfg != odoo[name]:
            client = self._clients[name] = OdooClient(odoo[name])
        return name, client

    @magic_arguments()
    @argument("method", help=f"one of {', '.join(METHODS)}")
    @argument("model", help="Odoo model, e.g. res.partner")
    @argument("--domain", "-d", default="[]", help="search domain as a Python list")
    @argument("--fields", "-f", default="", help="comma-separated field names")
    @argument("--limit", "-l", type=int, default=None, help="at most this many records")
    @argument("--order", "-o", default=None, help="e.g. 'date desc, id'")
    @argument("--connection", "-c", default=None, help="Odoo connection name")
    @line_magic
    def odoo(self, line: str) -> Any:
        """Read Odoo records (search_read), count them (search_count) or describe fields."""
        try:
            # shlex keeps "[('state','=','posted')]" whole; IPython's own splitter does not.
            args = self.odoo.parser.parse_args(shlex.split(line))
        except (ValueError, UsageError) as exc:
            raise UsageError(f"%odoo: {exc}") from None
        if args.method not in METHODS:
            raise UsageError(f"%odoo: method must be one of {', '.join(METHODS)}")
        from workbench_server.connections.odoo import OdooError

        name, client = self._connection(args.connection)
        fields = [f.strip() for f in args.fields.split(",") if f.strip()]
        try:
            return self._run(client, args, fields)
        except OdooError as exc:
            raise UsageError(f"connection {name!r}: {exc}") from None

    def _run(self, client: OdooClient, args: Any, fields: list[str]) -> Any:
        import pandas as pd

        if args.method == "fields_get":
            described = client.fields_get(args.model)
            frame = pd.DataFrame.from_dict(described, orient="index")
            return frame.loc[fields] if fields else frame.sort_index()
        domain = _domain(args.domain)
        if args.method == "search_count":
            return client.execute_kw(args.model, "search_count", [domain])
        amounts = self._amount_fields(client, args.model)
        # A monetary field's currency is read too (then dropped), for its digits.
        extra = [
            c for f in fields if (c := amounts.get(f)) is not None and c not in fields and c != "id"
        ]
        extra = list(dict.fromkeys(extra))
        asked = [*fields, *extra] if fields else None
        records = list(
            client.search_read(args.model, domain, asked, limit=args.limit, order=args.order)
        )
        frame = pd.DataFrame.from_records(records, columns=["id", *asked] if asked else None)
        for column in set(amounts) & set(frame.columns):
            values = frame[column].map(_as_decimal)
            currency = amounts[column]
            if currency is not None and currency in frame.columns:
                places = self._decimal_places(client, frame[currency])
                values = pd.Series(
                    [
                        _with_digits(v, places.get(_many2one_id(c)))
                        for v, c in zip(values, frame[currency], strict=True)
                    ],
                    index=frame.index,
                )
            frame[column] = values.astype(object)
        frame = frame.drop(columns=extra)
        return frame.set_index("id") if "id" in frame.columns else frame

    def _amount_fields(self, client: OdooClient, model: str) -> dict[str, str | None]:
        """The model's fields that hold decimals, each with its currency field when it is
        monetary (asked once per connection and model)."""
        key = (id(client), model)
        if key not in self._amounts:
            described = client.execute_kw(
                model, "fields_get", [], {"attributes": ["type", "currency_field"]}
            )
            self._amounts[key] = {
                name: field.get("currency_field") or None
                if field.get("type") == "monetary"
                else None
                for name, field in described.items()
                if field.get("type") in DECIMAL_TYPES
            }
        return self._amounts[key]

    def _decimal_places(self, client: OdooClient, currencies: Any) -> dict[int, int]:
        """Currency id -> its decimal places, for the currencies in a many2one column
        (res.currency is asked once per connection for those not known yet)."""
        ids = {i for c in currencies if (i := _many2one_id(c)) is not None}
        missing = sorted(i for i in ids if (id(client), i) not in self._places)
        if missing:
            # read, not search_read: an archived currency is still an amount's currency.
            for row in client.execute_kw(
                "res.currency", "read", [missing], {"fields": ["decimal_places"]}
            ):
                places = row.get("decimal_places")
                if isinstance(places, int) and not isinstance(places, bool) and places >= 0:
                    self._places[(id(client), row["id"])] = places
        return {i: self._places[(id(client), i)] for i in ids if (id(client), i) in self._places}
