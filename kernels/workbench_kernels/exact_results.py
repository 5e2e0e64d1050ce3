"""Amounts in ``%sql`` results as exact as the lake holds them.

jupysql builds ``.DataFrame()`` (and ``autopandas``) of a DuckDB result with DuckDB's own
``.df()``, which makes every DECIMAL column a float64: a lake's money read back through
``%sql`` lost its exactness (``0.1 + 0.2``), while the same query on a PostgreSQL
connection gave ``Decimal``s. And its table text is ``str()`` of each value, which writes a
zero of ``DECIMAL(38,10)`` (Odoo's unconstrained numeric in the lake) as ``0E-10``.

Here, for both jupysql's path and the kernel's direct one (they share these functions):
a DuckDB result with DECIMAL columns gets them as ``Decimal`` objects (read through Arrow,
exact), every other column as ``.df()`` gives it; a result without one is built as
before. Decimals are shown in fixed point with their scale (``0.0000000000``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

INSTALLED = "_workbench_exact_results"


def decimal_text(_field: str, value: Any) -> str:
    """A table cell: a ``Decimal`` in fixed point, anything else as prettytable writes it."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _decimal_columns(cursor: Any) -> list[int]:
    return [
        i
        for i, column in enumerate(cursor.description or [])
        if str(column[1]).upper().startswith("DECIMAL")
    ]


def install() -> None:
    """Point jupysql's result sets at the exact conversions (idempotent)."""
    import duckdb
    from sql.run import resultset

    if getattr(resultset, INSTALLED, False):
        return
    convert = resultset._convert_to_data_frame
    init_table = resultset.ResultSet._init_table

    def _convert_to_data_frame(
        result_set: Any, converter_name: str, constructor: Any, constructor_kwargs: Any = None
    ) -> Any:
        native = result_set.sqlaproxy if result_set._conn.is_dbapi_connection else None
        statement = result_set._statement
        if (
            converter_name != "df"
            or not isinstance(native, duckdb.DuckDBPyConnection)
            or not resultset._statement_is_select(statement)
        ):
            return convert(result_set, converter_name, constructor, constructor_kwargs)
        if "pivot" in statement.lower():  # as jupysql: end the transaction first
            native.fetchall()
        native.execute(statement)
        decimals = _decimal_columns(native)
        if not decimals:
            return native.df()
        exact = native.to_arrow_table()
        native.execute(statement)
        frame = native.df()
        for i in decimals:  # by position: names may repeat
            frame.isetitem(i, exact.column(i).to_pandas())
        return frame

    def _init_table(self: Any) -> Any:
        table = init_table(self)
        if table is not None and table.field_names:
            table.custom_format = decimal_text
        return table

    resultset._convert_to_data_frame = _convert_to_data_frame
    resultset.ResultSet._init_table = _init_table
    setattr(resultset, INSTALLED, True)
