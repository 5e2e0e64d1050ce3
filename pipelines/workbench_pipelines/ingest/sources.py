"""Where an extract reads: a source table's shape, and its rows as a DuckDB relation.

Every source (PostgreSQL, Odoo's API, any SQLAlchemy database) answers the same few
questions in a DuckDB session: which columns, typed exactly (``numeric(p,s)`` as
DECIMAL(p,s), unconstrained ``numeric`` as DECIMAL(38,10), jsonb as its JSON text),
which of them Odoo translates or keeps per company, the cursor's largest value, and the
rows (all of them, or those whose cursor passed a value) as something DuckDB reads
batch by batch. The extract does the rest in DuckDB, the same way for every source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from workbench_server.errors import InvalidInputError

if TYPE_CHECKING:
    import duckdb

    from ..spec_steps import ExtractTable

# Odoo field types -> the DuckDB type their values are kept as (company-dependent values,
# Odoo's API): ids as BIGINT, amounts exact.
ODOO_TYPES = {
    "integer": "BIGINT",
    "many2one": "BIGINT",
    "many2one_reference": "BIGINT",
    "float": "DECIMAL(38,10)",
    "monetary": "DECIMAL(38,10)",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "char": "VARCHAR",
    "text": "VARCHAR",
    "html": "VARCHAR",
    "selection": "VARCHAR",
}


@dataclass
class Column:
    """A column as bronze keeps it."""

    name: str
    type: str  # DuckDB type, e.g. DECIMAL(16,2)
    translated: bool = False  # Odoo's translated jsonb: text per language is added
    company_type: str | None = None  # Odoo's company-dependent jsonb: the value's type


@dataclass
class Shape:
    """A source table as the extract reads it."""

    table: str  # as the source names it: public.account_move, or account.move
    dataset: str  # its lineage name in the connection's namespace
    columns: list[Column]
    company: str | None = None  # the column naming a row's company
    sql: str = ""  # what the source is asked (shown in lineage), once known
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def translated(self) -> list[Column]:
        return [c for c in self.columns if c.translated]

    @property
    def by_company(self) -> list[Column]:
        return [c for c in self.columns if c.company_type is not None]


Cursor = datetime | date | int | None


class Source(Protocol):
    """A connection an extract reads from, in one DuckDB session."""

    name: str
    kind: str

    def shape(self, db: duckdb.DuckDBPyConnection, table: ExtractTable) -> Shape: ...

    def languages(self, db: duckdb.DuckDBPyConnection) -> list[str]: ...

    def high_water(
        self, db: duckdb.DuckDBPyConnection, shape: Shape, cursor: str | None, key: str | None
    ) -> tuple[Cursor, int | None]:
        """(largest cursor value, largest integer key) of the table now."""
        ...

    def rows(
        self,
        db: duckdb.DuckDBPyConnection,
        shape: Shape,
        cursor: str | None,
        since: Cursor,
        filled: Sequence[str] = (),
    ) -> str:
        """A relation (FROM clause) of the rows: all, or those whose cursor is at least
        ``since`` and those holding a value in one of the ``filled`` columns (new to
        bronze; a source that cannot ask for those reads every row)."""
        ...

    def keys(self, db: duckdb.DuckDBPyConnection, shape: Shape, keys: list[str]) -> str:
        """A relation of every row's key columns (to find deleted rows)."""
        ...

    def close(self) -> None: ...


def sql_literal(value: Cursor) -> str:
    """A cursor value as a SQL literal of its type."""
    from workbench_server.sql_text import quote_literal

    if isinstance(value, datetime):
        return f"TIMESTAMP {quote_literal(value.replace(tzinfo=None).isoformat(sep=' '))}"
    if isinstance(value, date):
        return f"DATE {quote_literal(value.isoformat())}"
    if isinstance(value, int):
        return str(int(value))
    raise InvalidInputError(f"a cursor value of type {type(value).__name__} is not supported")


def arrow_type(duck_type: str) -> Any:
    """The Arrow type of values a source hands over as Python objects."""
    import re

    import pyarrow as pa

    text = duck_type.upper()
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return {
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIME": pa.time64("us"),
        "TIMESTAMP": pa.timestamp("us"),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "BLOB": pa.binary(),
    }.get(text, pa.string())
