"""Any database SQLAlchemy reaches as an extract source (a ``postgresql`` URL is read
as PostgreSQL instead: faster, with Odoo's registry).

Rows are fetched a batch at a time (``stream_results``) and handed to DuckDB as Arrow
batches, typed from the reflected columns: ``Numeric(p, s)`` as DECIMAL(p,s) (without a
precision, DECIMAL(38,10)), integers as BIGINT, floats as DOUBLE, and so on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from workbench_server.errors import InvalidInputError, NotFoundError, SourceUnavailableError

from .sources import Column, Cursor, Shape, arrow_type

if TYPE_CHECKING:
    import duckdb

    from workbench_server.connections.kinds import SqlAlchemyConfig

    from ..spec_steps import ExtractTable

BATCH = 10_000


def duck_type(column_type: Any) -> str:
    if isinstance(column_type, sa.Boolean):
        return "BOOLEAN"
    if isinstance(column_type, sa.Integer):
        return "BIGINT"
    if isinstance(column_type, sa.Float):
        return "DOUBLE"
    if isinstance(column_type, sa.Numeric):
        precision, scale = column_type.precision, column_type.scale
        if precision is None or precision > 38:
            return "DECIMAL(38,10)"
        return f"DECIMAL({precision},{scale or 0})"
    if isinstance(column_type, sa.DateTime):
        return "TIMESTAMPTZ" if column_type.timezone else "TIMESTAMP"
    if isinstance(column_type, sa.Date):
        return "DATE"
    if isinstance(column_type, sa.Time):
        return "TIME"
    if isinstance(column_type, sa.LargeBinary):
        return "BLOB"
    return "VARCHAR"


class SqlAlchemySource:
    kind = "sqlalchemy"

    def __init__(self, name: str, cfg: SqlAlchemyConfig) -> None:
        from sqlalchemy.engine import make_url

        self.name = name
        url = make_url(cfg.url)
        if cfg.password is not None:
            url = url.set(password=cfg.password.get_secret_value())
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise InvalidInputError(f"connection {name!r}: {exc}") from None
        self._streams = 0

    def _table(self, shape: Shape) -> sa.Table:
        return shape.extra["table"]

    def shape(self, db: duckdb.DuckDBPyConnection, table: ExtractTable) -> Shape:
        if table.table is None:
            raise InvalidInputError(f"connection {self.name!r} is a database: name tables")
        schema, _, name = str(table.table).rpartition(".")
        try:
            reflected = sa.Table(
                name, sa.MetaData(), schema=schema or None, autoload_with=self.engine
            )
        except sa.exc.NoSuchTableError:
            raise NotFoundError(f"connection {self.name!r} has no table {table.table!r}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise SourceUnavailableError(f"connection {self.name!r}: {_first(exc)}") from None
        wanted = table.columns or [c.name for c in reflected.columns]
        missing = [c for c in wanted if c not in reflected.columns]
        if missing:
            raise InvalidInputError(
                f"table {table.table} of {self.name!r} has no column(s) {missing}"
            )
        columns = [Column(name=c, type=duck_type(reflected.columns[c].type)) for c in wanted]
        return Shape(
            table=str(table.table),
            dataset=f"{schema or 'main'}.{name}",
            columns=columns,
            company="company_id" if "company_id" in wanted else None,
            extra={"table": reflected},
        )

    def languages(self, db: duckdb.DuckDBPyConnection) -> list[str]:
        return ["en_US"]

    def high_water(
        self, db: duckdb.DuckDBPyConnection, shape: Shape, cursor: str | None, key: str | None
    ) -> tuple[Cursor, int | None]:
        table = self._table(shape)
        parts = [
            sa.func.max(table.c[cursor]) if cursor else sa.null(),
            sa.func.max(table.c[key]) if key else sa.null(),
        ]
        with self._connect() as conn:
            value, top = conn.execute(sa.select(*parts)).one()
        return value, int(top) if top is not None else None

    def rows(
        self,
        db: duckdb.DuckDBPyConnection,
        shape: Shape,
        cursor: str | None,
        since: Cursor,
        filled: Sequence[str] = (),
    ) -> str:
        table = self._table(shape)
        query = sa.select(*(table.c[c.name] for c in shape.columns))
        if since is not None and cursor:
            query = query.where(
                sa.or_(table.c[cursor] >= since, *(table.c[n].is_not(None) for n in filled))
            )
        shape.sql = str(query.compile(self.engine, compile_kwargs={"literal_binds": True}))
        schema = pa.schema([(c.name, arrow_type(c.type)) for c in shape.columns])
        return self._register(db, schema, self._batches(query, schema))

    def keys(self, db: duckdb.DuckDBPyConnection, shape: Shape, keys: list[str]) -> str:
        table = self._table(shape)
        types = {c.name: c.type for c in shape.columns}
        schema = pa.schema([(k, arrow_type(types[k])) for k in keys])
        return self._register(
            db, schema, self._batches(sa.select(*(table.c[k] for k in keys)), schema)
        )

    def close(self) -> None:
        self.engine.dispose()

    def _connect(self) -> Any:
        try:
            return self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise SourceUnavailableError(f"connection {self.name!r}: {_first(exc)}") from None

    def _batches(self, query: Any, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        names = schema.names
        with self._connect() as conn:
            result = conn.execution_options(stream_results=True).execute(query)
            while rows := result.fetchmany(BATCH):
                columns = [
                    [_plain(row[i], schema.field(i)) for row in rows] for i in range(len(names))
                ]
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(values, type=field.type)
                        for values, field in zip(columns, schema, strict=True)
                    ],
                    schema=schema,
                )

    def _register(self, db: duckdb.DuckDBPyConnection, schema: pa.Schema, batches: Iterator) -> str:
        self._streams += 1
        name = f"wb_sa_{self._streams}"
        db.register(name, pa.RecordBatchReader.from_batches(schema, batches))
        return name


def _plain(value: Any, field: pa.Field) -> Any:
    """A driver's value as its Arrow column takes it (decimals at the column's scale)."""
    if value is None:
        return None
    if pa.types.is_decimal(field.type):
        exact = value if isinstance(value, Decimal) else Decimal(repr(value))
        return exact.quantize(Decimal(1).scaleb(-field.type.scale))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
