"""Odoo's external API (XML-RPC or JSON-RPC) as an extract source, for an Odoo whose
database cannot be reached (Odoo.sh, SaaS).

Records are read a page at a time (archived ones too), as the connection's login sees
them, and handed to DuckDB as Arrow batches. Types follow Odoo's field types: ids and
many2one as BIGINT (the id), float and monetary as DECIMAL(38,10) (the API sends floats,
read back at their shortest exact decimal), dates and datetimes as such. A translated
field is read once per language (text per language beside a JSON of them all, as the
database keeps it); a company-dependent field once per company (a JSON by company id,
and a row per company in the ``_by_company`` table).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from workbench_server.connections.odoo import OdooClient, OdooError
from workbench_server.errors import NotFoundError, SourceUnavailableError

from .sources import ODOO_TYPES, Column, Cursor, Shape, arrow_type

if TYPE_CHECKING:
    import duckdb

    from workbench_server.connections.kinds import OdooConfig

    from ..spec_steps import ExtractTable
    from .context import Progress

PAGE = 2000
TEN_DIGITS = Decimal("1e-10")
ALL = {"active_test": False}  # archived records are records too


class OdooSource:
    kind = "odoo"

    def __init__(self, name: str, cfg: OdooConfig, progress: Progress) -> None:
        self.name = name
        self.client = OdooClient(cfg, timeout=120)
        self.progress = progress
        self._streams = 0
        self._companies: list[int] | None = None

    def _call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        try:
            return self.client.execute_kw(model, method, args, kwargs)
        except OdooError as exc:
            if exc.reason in ("permission_denied", "authentication_failed"):
                raise NotFoundError(f"connection {self.name!r}: {exc}") from None
            raise SourceUnavailableError(f"connection {self.name!r}: {exc}") from None

    def shape(self, db: duckdb.DuckDBPyConnection, table: ExtractTable) -> Shape:
        model = table.model or str(table.table).replace("_", ".")
        fields = self._call(
            model,
            "fields_get",
            [],
            {"attributes": ["type", "store", "translate", "company_dependent", "relation"]},
        )
        readable = {
            name: spec
            for name, spec in fields.items()
            if spec.get("type") in ODOO_TYPES and (spec.get("store", True) or name == "id")
        }
        readable.setdefault("id", {"type": "integer"})
        wanted = table.columns or ["id", *(n for n in readable if n != "id")]
        missing = [c for c in wanted if c not in readable]
        if missing:
            raise NotFoundError(f"model {model} of {self.name!r} has no stored field(s) {missing}")
        columns = []
        for name in wanted:
            spec = readable[name]
            kind = spec["type"]
            translated = bool(spec.get("translate")) and kind in ("char", "text", "html")
            dependent = bool(spec.get("company_dependent"))
            columns.append(
                Column(
                    name=name,
                    type="VARCHAR" if translated or dependent else ODOO_TYPES[kind],
                    translated=translated,
                    company_type=ODOO_TYPES[kind] if dependent else None,
                )
            )
        company = (
            "company_id" if "company_id" in wanted else ("id" if model == "res.company" else None)
        )
        return Shape(
            table=model,
            dataset=f"odoo.{model.replace('.', '_')}",
            columns=columns,
            company=company,
            extra={"model": model, "types": {n: readable[n]["type"] for n in wanted}},
        )

    def languages(self, db: duckdb.DuckDBPyConnection) -> list[str]:
        try:
            found = self._call(
                "res.lang", "search_read", [[["active", "=", True]]], {"fields": ["code"]}
            )
        except (NotFoundError, SourceUnavailableError):
            return ["en_US"]
        return sorted(r["code"] for r in found) or ["en_US"]

    def high_water(
        self, db: duckdb.DuckDBPyConnection, shape: Shape, cursor: str | None, key: str | None
    ) -> tuple[Cursor, int | None]:
        def top(field: str) -> Any:
            rows = self._call(
                shape.extra["model"],
                "search_read",
                [[]],
                {"fields": [field], "order": f"{field} desc", "limit": 1, "context": ALL},
            )
            return (
                _value(shape.extra["types"].get(field, "integer"), rows[0][field]) if rows else None
            )

        value = top(cursor) if cursor else None
        highest = top(key) if key else None
        return value, int(highest) if highest is not None else None

    def rows(
        self,
        db: duckdb.DuckDBPyConnection,
        shape: Shape,
        cursor: str | None,
        since: Cursor,
        filled: Sequence[str] = (),
    ) -> str:
        domain: list[Any] = []
        # A new field's values are read for every record (a domain on it would miss
        # False, which Odoo's API gives for an empty field and a boolean alike).
        if since is not None and cursor and not filled:
            text = since.isoformat(sep=" ") if isinstance(since, datetime) else str(since)
            domain = [[cursor, ">=", text[:19]]]
        shape.sql = f"{shape.extra['model']}.search_read({json.dumps(domain)})"
        schema = pa.schema([(c.name, arrow_type(c.type)) for c in shape.columns])
        reader = pa.RecordBatchReader.from_batches(schema, self._batches(shape, domain, schema))
        return self._register(db, reader)

    def keys(self, db: duckdb.DuckDBPyConnection, shape: Shape, keys: list[str]) -> str:
        schema = pa.schema([(k, arrow_type(self._type(shape, k))) for k in keys])
        rows = self._pages(shape.extra["model"], [], keys)
        batches = (
            pa.RecordBatch.from_pylist(
                [
                    {k: _value(shape.extra["types"].get(k, "integer"), r[k]) for k in keys}
                    for r in page
                ],
                schema=schema,
            )
            for page in rows
        )
        return self._register(db, pa.RecordBatchReader.from_batches(schema, batches))

    def close(self) -> None:
        pass

    # -- reading pages ------------------------------------------------------------------
    def _batches(
        self, shape: Shape, domain: list[Any], schema: pa.Schema
    ) -> Iterator[pa.RecordBatch]:
        model, types = shape.extra["model"], shape.extra["types"]
        plain = [c.name for c in shape.columns if not c.translated and c.company_type is None]
        translated = [c.name for c in shape.translated]
        dependent = [c.name for c in shape.by_company]
        for page in self._pages(model, domain, plain):
            self.progress.check()
            ids = [r["id"] for r in page]
            rows = {r["id"]: {n: _value(types[n], r.get(n)) for n in plain} for r in page}
            if translated:
                self._per(model, ids, translated, rows, self._languages(), "lang", types)
            if dependent:
                self._per(model, ids, dependent, rows, self._company_ids(), "company", types)
            yield pa.RecordBatch.from_pylist([rows[i] for i in ids], schema=schema)

    def _per(
        self,
        model: str,
        ids: list[int],
        fields: list[str],
        rows: dict[int, dict[str, Any]],
        contexts: list[Any],
        what: str,
        types: dict[str, str],
    ) -> None:
        """Each field read in each language (or company), gathered into its JSON."""
        gathered: dict[int, dict[str, dict[str, Any]]] = {i: {f: {} for f in fields} for i in ids}
        for value in contexts:
            context = (
                {**ALL, "lang": value}
                if what == "lang"
                else {**ALL, "allowed_company_ids": [value]}
            )
            for record in self._call(model, "read", [ids], {"fields": fields, "context": context}):
                for field in fields:
                    found = _value(types[field], record.get(field))
                    if found is not None:
                        gathered[record["id"]][field][str(value)] = _json_value(found)
        for record_id, values in gathered.items():
            for field, by in values.items():
                rows[record_id][field] = json.dumps(by, sort_keys=True) if by else None

    def _pages(self, model: str, domain: list[Any], fields: list[str]) -> Iterator[list[dict]]:
        offset = 0
        while True:
            page = self._call(
                model,
                "search_read",
                [domain],
                {"fields": fields, "offset": offset, "limit": PAGE, "order": "id", "context": ALL},
            )
            if page:
                yield page
            if len(page) < PAGE:
                return
            offset += len(page)

    def _languages(self) -> list[str]:
        if not hasattr(self, "_langs"):
            self._langs = self.languages(None)  # type: ignore[arg-type]
        return self._langs

    def _company_ids(self) -> list[int]:
        if self._companies is None:
            found = self._call(
                "res.company", "search_read", [[]], {"fields": ["id"], "context": ALL}
            )
            self._companies = sorted(r["id"] for r in found)
        return self._companies

    @staticmethod
    def _type(shape: Shape, name: str) -> str:
        column = shape.column(name)
        return column.type if column is not None else "BIGINT"

    def _register(self, db: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader) -> str:
        self._streams += 1
        name = f"wb_odoo_{self._streams}"
        db.register(name, reader)
        return name


def _value(kind: str, value: Any) -> Any:
    """An API value as bronze keeps it (Odoo sends False for "no value")."""
    if value is False and kind != "boolean":
        return None
    if value is None:
        return None
    if kind in ("many2one",) and isinstance(value, list | tuple):
        return int(value[0]) if value else None
    if kind in ("float", "monetary"):
        return Decimal(repr(float(value))).quantize(TEN_DIGITS)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value
