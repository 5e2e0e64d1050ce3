"""Lineage of a lake query that reads a connection's table by two names
(``shop.orders``, as DuckDB resolves an attached database's default schema): the edge
names the connection's table, the one the catalog shows, not a lake dataset
``shop.orders`` that exists nowhere."""

from __future__ import annotations

import duckdb

from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kernel_access import KernelSql, record_kernel_sql
from workbench_server.lineage.service import LineageService
from workbench_server.principal import local_principal


def test_a_two_part_name_of_an_attached_database_is_its_catalog_table(workbench, tmp_path):
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE orders (id INTEGER, amount DECIMAL(12, 2))")
    workbench.settings.data_roots = [str(tmp_path)]  # where the file is (test_data_roots)
    principal = local_principal()
    ConnectionService(workbench, principal).create(
        ConnectionCreate(name="shop", settings={"kind": "duckdb", "path": str(path)})
    )
    CatalogService(workbench, principal).scan("shop")
    sql = "CREATE TABLE silver.orders AS SELECT id, amount FROM shop.orders"
    record_kernel_sql(workbench, principal, KernelSql(connection="lake", sql=sql, job="notebook:x"))
    graph = LineageService(workbench, principal).graph("lake", "silver.orders")
    upstream = [d for d in graph.datasets if d.name != "silver.orders"]
    assert [(d.namespace, d.name) for d in upstream] == [("shop", "main.orders")]
    assert upstream[0].table_id is not None  # the catalog's entry: a click opens it
