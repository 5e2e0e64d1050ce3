"""Deterministic Odoo-shaped demo data: the Odoo 17 tables a finance team queries (partners,
chart of accounts, journals, invoices, bills, payments, expenses) plus Odoo's own model
metadata (``ir_model``, ``ir_model_fields``, ``ir_model_data``), written to DuckDB or
PostgreSQL.

>>> from workbench_server.demo import generate_odoo_demo
>>> summary = generate_odoo_demo(Path("odoo_demo.duckdb"))  # doctest: +SKIP
"""

from .odoo_data import DEFAULT_END_DATE, OdooDemoDataset, build_dataset
from .odoo_schema import TABLES, TABLES_BY_NAME, Column, Table
from .writers import (
    DemoSummary,
    DemoTargetExistsError,
    generate_odoo_demo,
    write_duckdb,
    write_postgres,
)

__all__ = [
    "DEFAULT_END_DATE",
    "TABLES",
    "TABLES_BY_NAME",
    "Column",
    "DemoSummary",
    "DemoTargetExistsError",
    "OdooDemoDataset",
    "Table",
    "build_dataset",
    "generate_odoo_demo",
    "write_duckdb",
    "write_postgres",
]
