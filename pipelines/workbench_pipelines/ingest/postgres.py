"""PostgreSQL (Odoo's database) as an extract source, read by DuckDB's postgres scanner.

Measured on 1M ``account_move_line``-shaped rows (benchmarks/lake.py): DuckDB's scanner
(binary COPY, decoded in C++ straight to Arrow, DECIMAL kept exact) read them in about
the time of a raw binary ``COPY ... TO STDOUT`` into memory, and wrote them to bronze in
1.3-1.5x that time; ADBC's PostgreSQL driver took twice as long only to read them,
turning each ``numeric`` into text. So every query goes through ``postgres_query``: the
SQL PostgreSQL runs is written here (casts, filters), DuckDB streams the result.

Exact types: ``numeric(p,s)`` arrives as DECIMAL(p,s); ``numeric`` without a precision
(Odoo's monetary and float fields) is cast to ``numeric(38,10)`` in PostgreSQL, as the
kernel reads it (exact for every amount); jsonb arrives as its JSON text. Odoo's own
registry (``ir_model_fields``) says which jsonb columns are translations and, from Odoo
18, which hold a value per company.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from workbench_server.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from .sources import ODOO_TYPES, Column, Cursor, Shape, sql_literal

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from workbench_server.connections.kinds import SqlAlchemyConfig

    from ..spec_steps import ExtractTable

EXACT = "numeric(38,10)"
# PostgreSQL types DuckDB's scanner reads as they are; any other is read as its text.
NATIVE = {
    "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "text", "varchar",
    "bpchar", "date", "timestamp", "timestamptz", "time", "jsonb", "json", "bytea", "uuid",
}  # fmt: skip
# The table's columns, and (``{registry}``) the columns of Odoo's field registry in its
# schema, in one round trip.
_COLUMNS = """
SELECT a.attname::text, t.typname::text, a.atttypmod, n.nspname::text, c.relname::text,
       a.attnum
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE c.oid = to_regclass({table}) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT a.attname::text, NULL, NULL, NULL, c.relname::text, -1
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE {registry} AND c.relname IN ('ir_model', 'ir_model_fields')
  AND c.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class
                        WHERE oid = to_regclass({table}))
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 6
"""
# The DuckDB types of a select list, by the PostgreSQL types of its columns: the same
# for every run of a worker that reads the table again, so asked once (a round trip).
_DESCRIBED: dict[tuple[Any, ...], list[str]] = {}
_DESCRIBED_MAX = 512
_ODOO_FIELDS = """
SELECT f.name::text AS name, coalesce(f.translate::text, 'false') AS translate,
       {company_dependent} AS company_dependent, f.ttype::text AS ttype
FROM {schema}.ir_model_fields f
WHERE f.model = (SELECT m.model FROM {schema}.ir_model m
                 WHERE replace(m.model, '.', '_') = {table} ORDER BY m.id LIMIT 1)
"""


def conninfo(kwargs: dict[str, Any]) -> str:
    """A libpq connection string of ``psycopg.connect`` keyword arguments."""

    def value(text: Any) -> str:
        return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={value(v)}" for k, v in kwargs.items() if v is not None and v != "")


def libpq_kwargs(url: URL, cfg: SqlAlchemyConfig) -> dict[str, Any]:
    """libpq settings of a ``postgresql`` SQLAlchemy URL (its password kept apart)."""
    kwargs: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "dbname": url.database,
        "user": url.username,
        "password": cfg.password.get_secret_value() if cfg.password else None,
        "application_name": "workbench-extract",
        "connect_timeout": 30,
    }
    for key, value in url.query.items():
        if key in ("sslmode", "host", "options") and isinstance(value, str):
            kwargs[key] = value
    if cfg._address and cfg._address.strip(","):
        kwargs["hostaddr"] = cfg._address
    return kwargs


class PostgresSource:
    """A PostgreSQL database attached read-only to the extract's DuckDB session."""

    kind = "postgres"

    def __init__(self, name: str, db: duckdb.DuckDBPyConnection, alias: str) -> None:
        self.name = name
        self.alias = alias  # attached under a name of its own (sessions share a database)
        self._db = db
        self._odoo: dict[str, Any] | None = None

    @classmethod
    def attach(
        cls, name: str, kwargs: dict[str, Any], db: duckdb.DuckDBPyConnection
    ) -> PostgresSource:
        from workbench_server.lake.engine import load_extension

        load_extension(db, "postgres_scanner")
        alias = f"wb_source_{uuid.uuid4().hex[:12]}"
        try:
            db.execute(f"ATTACH {ql(conninfo(kwargs))} AS {alias} (TYPE postgres, READ_ONLY)")
        except duckdb.Error as exc:
            raise SourceUnavailableError(f"connection {name!r}: {_first_line(exc)}") from None
        return cls(name, db, alias)

    def query(self, sql: str) -> str:
        """A DuckDB relation of ``sql`` run by PostgreSQL."""
        return f"postgres_query({ql(self.alias)}, {ql(sql)})"

    def fetch(self, sql: str, db: duckdb.DuckDBPyConnection | None = None) -> list[tuple[Any, ...]]:
        """``sql``'s rows, run by PostgreSQL (on ``db``: another connection of the
        database the source is attached to)."""
        try:
            return (db or self._db).execute(f"SELECT * FROM {self.query(sql)}").fetchall()
        except duckdb.Error as exc:
            raise SourceUnavailableError(f"connection {self.name!r}: {_first_line(exc)}") from None

    # -- the table --------------------------------------------------------------------
    def shape(self, db: duckdb.DuckDBPyConnection, table: ExtractTable) -> Shape:
        if table.table is None:
            raise InvalidInputError(
                f"connection {self.name!r} is a database: name tables (table:), not models"
            )
        registry = "true" if self._odoo is None else "false"  # asked once per source
        rows = self.fetch(_COLUMNS.format(table=ql(table.table), registry=registry))
        found = [row for row in rows if row[5] > 0]
        if not found:
            raise NotFoundError(f"connection {self.name!r} has no table {table.table!r}")
        if self._odoo is None:
            self._odoo = {"columns": {(row[4], row[0]) for row in rows if row[5] < 0}}
        schema, relation = found[0][3], found[0][4]
        odoo = self._odoo_fields(schema, relation)
        wanted = table.columns or [row[0] for row in found]
        types = {row[0]: (row[1], row[2]) for row in found}
        missing = [c for c in wanted if c not in types]
        if missing:
            raise InvalidInputError(
                f"table {schema}.{relation} of {self.name!r} has no column(s) {missing}"
            )
        selected = []
        for name in wanted:
            typname, typmod = types[name]
            selected.append(_select(name, typname, typmod))
        sql = f"SELECT {', '.join(selected)} FROM {qi(schema)}.{qi(relation)}"
        columns = []
        for name, duck_type, wanted_name in zip(
            wanted, self._describe(db, sql, [types[n] for n in wanted]), wanted, strict=True
        ):
            translate, by_company, ttype = odoo.get(wanted_name, ("false", False, None))
            jsonb = types[wanted_name][0] in ("jsonb", "json")
            columns.append(
                Column(
                    name=name,
                    type=duck_type,
                    translated=jsonb and translate not in ("false", "f", "", "0"),
                    company_type=ODOO_TYPES.get(ttype or "", "VARCHAR")
                    if jsonb and by_company
                    else None,
                )
            )
        company = "company_id" if "company_id" in wanted else None
        if company is None and relation == "res_company" and "id" in wanted:
            company = "id"  # a company's own row belongs to it
        return Shape(
            table=f"{schema}.{relation}",
            dataset=f"{schema}.{relation}",
            columns=columns,
            company=company,
            extra={"select": sql, "schema": schema, "relation": relation},
        )

    def _describe(
        self, db: duckdb.DuckDBPyConnection, sql: str, types: list[tuple[str, int]]
    ) -> list[str]:
        """The DuckDB type of each column ``sql`` selects (its PostgreSQL types given)."""
        key = (self.name, sql, tuple(types))
        described = _DESCRIBED.get(key)
        if described is None:
            found = db.execute(f"DESCRIBE SELECT * FROM {self.query(sql + ' LIMIT 0')}").fetchall()
            described = [row[1] for row in found]
            if len(_DESCRIBED) >= _DESCRIBED_MAX:
                _DESCRIBED.clear()
            _DESCRIBED[key] = described
        return described

    def _odoo_fields(self, schema: str, relation: str) -> dict[str, tuple[str, bool, str]]:
        """Odoo's registry of the table's fields: (translate, company-dependent, type)."""
        assert self._odoo is not None  # read with the table's columns
        columns = self._odoo["columns"]
        if ("ir_model_fields", "ttype") not in columns or ("ir_model", "model") not in columns:
            return {}
        company_dependent = (
            "coalesce(f.company_dependent, false)"
            if ("ir_model_fields", "company_dependent") in columns
            else "false"
        )
        rows = self.fetch(
            _ODOO_FIELDS.format(
                schema=qi(schema), table=ql(relation), company_dependent=company_dependent
            )
        )
        return {name: (translate.lower(), bool(dep), ttype) for name, translate, dep, ttype in rows}

    def languages(self, db: duckdb.DuckDBPyConnection) -> list[str]:
        rows = self.fetch(
            "SELECT to_regclass('res_lang') IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "pg_catalog.pg_attribute WHERE attrelid = to_regclass('res_lang') "
            "AND attname = 'active')"
        )
        if rows and rows[0][0]:
            found = [r[0] for r in self.fetch("SELECT code::text FROM res_lang WHERE active")]
            if found:
                return sorted(found)
        return ["en_US"]

    # -- reading ----------------------------------------------------------------------
    def high_water(
        self, db: duckdb.DuckDBPyConnection, shape: Shape, cursor: str | None, key: str | None
    ) -> tuple[Cursor, int | None]:
        parts = [
            f"max({qi(cursor)}) AS high_cursor" if cursor else "NULL::int AS high_cursor",
            f"max({qi(key)}) AS high_key" if key else "NULL::int AS high_key",
        ]
        table = f"{qi(shape.extra['schema'])}.{qi(shape.extra['relation'])}"
        value, top = self.fetch(f"SELECT {', '.join(parts)} FROM {table}")[0]
        return value, int(top) if top is not None else None

    def rows(
        self,
        db: duckdb.DuckDBPyConnection,
        shape: Shape,
        cursor: str | None,
        since: Cursor,
        filled: Sequence[str] = (),
    ) -> str:
        sql = shape.extra["select"]
        if since is not None and cursor:
            sql += f" WHERE {qi(cursor)} >= {_pg_literal(since)}"
            sql += "".join(f" OR {qi(n)} IS NOT NULL" for n in filled)
        shape.sql = sql
        return self.query(sql)

    def keys(self, db: duckdb.DuckDBPyConnection, shape: Shape, keys: list[str]) -> str:
        table = f"{qi(shape.extra['schema'])}.{qi(shape.extra['relation'])}"
        return self.query(f"SELECT {', '.join(qi(k) for k in keys)} FROM {table}")

    def key_checksum(
        self, db: duckdb.DuckDBPyConnection, shape: Shape, key: str
    ) -> tuple[int, int, int]:
        """The checksum of the table's integer keys now (see extract_sql.live_keys_sql),
        summed by PostgreSQL: three numbers cross the wire, not every key. As text, so
        the exact sums do not become DOUBLE on the way."""
        from .extract_sql import CHECKSUM_PRIME as p

        table = f"{qi(shape.extra['schema'])}.{qi(shape.extra['relation'])}"
        k = f"{qi(key)}::int8"
        sums = (
            f"count(*)::text AS n, coalesce(sum({k}), 0)::text AS s, "
            f"coalesce(sum(({k} % {p}) * ({k} % {p})), 0)::text AS q"
        )
        row = self.fetch(f"SELECT {sums} FROM {table}", db)[0]
        return int(row[0]), int(row[1]), int(row[2])

    def close(self) -> None:
        try:
            self._db.execute(f"DETACH {self.alias}")
        except duckdb.Error:
            pass


def _select(name: str, typname: str, typmod: int) -> str:
    column = qi(name)
    if typname == "numeric":
        precision = ((typmod - 4) >> 16) & 0xFFFF if typmod >= 0 else None
        if precision is None or precision > 38:  # DuckDB would read it as DOUBLE
            return f"{column}::{EXACT} AS {column}"
        return column
    if typname not in NATIVE:
        return f"{column}::text AS {column}"
    return column


def _pg_literal(value: Cursor) -> str:
    """A cursor value as PostgreSQL reads it (DuckDB's typed literal minus the keyword)."""
    literal = sql_literal(value)
    if " " in literal and literal.split(" ", 1)[0] in ("TIMESTAMP", "DATE"):
        kind, text = literal.split(" ", 1)
        return f"{text}::{kind.lower()}"
    return literal


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
