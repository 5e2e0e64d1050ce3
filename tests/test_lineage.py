"""Lineage edges from SQL, walked up- and downstream, table- and column-level."""

from __future__ import annotations

import pytest

from tests.support.servers import workbench_server
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lineage import sql_lineage
from workbench_server.lineage.service import LineageService, SqlContext
from workbench_server.principal import Principal, local_principal

SILVER = """
CREATE TABLE silver.lines AS
SELECT l.id, l.account_id, l.date, l.debit, l.credit
FROM odoo.public.account_move_line AS l
JOIN odoo.public.account_move AS m ON m.id = l.move_id
WHERE m.state = 'posted'
"""
GOLD = """
CREATE TABLE gold.balances AS
SELECT account_id, date_trunc('month', date) AS month, sum(debit - credit) AS balance
FROM silver.lines GROUP BY 1, 2
"""


def _record(workbench, principal=None) -> LineageService:
    service = LineageService(workbench, principal or local_principal())
    lake = SqlContext(connection="lake", kind="lake", attachable=["odoo"])
    service.record(sql_lineage(SILVER), lake, "close.silver", run_id="r1")
    service.record(sql_lineage(GOLD), lake, "close.gold", run_id="r1")
    return service


def test_a_gold_column_reaches_its_bronze_columns_through_each_step(workbench) -> None:
    service = _record(workbench)
    graph = service.graph("lake", "gold.balances", column="balance", depth=5)
    hops = {
        (e.source.namespace, e.source.name, e.source_column, e.target.name, e.target_column, e.job)
        for e in graph.edges
    }
    assert hops == {
        ("lake", "silver.lines", "debit", "gold.balances", "balance", "close.gold"),
        ("lake", "silver.lines", "credit", "gold.balances", "balance", "close.gold"),
        ("odoo", "public.account_move_line", "debit", "silver.lines", "debit", "close.silver"),
        ("odoo", "public.account_move_line", "credit", "silver.lines", "credit", "close.silver"),
    }
    assert {e.transformation for e in graph.edges if e.job == "close.gold"} == {"aggregation"}
    tables = service.graph("lake", "gold.balances", depth=5)
    assert {(e.source.name, e.target.name) for e in tables.edges} == {
        ("silver.lines", "gold.balances"),
        ("public.account_move_line", "silver.lines"),
        ("public.account_move", "silver.lines"),
    }
    one_level = service.graph("lake", "gold.balances", depth=1)
    assert {e.source.name for e in one_level.edges} == {"silver.lines"}


def test_impact_of_a_source_column_lists_everything_downstream(workbench) -> None:
    service = _record(workbench)
    impact = service.graph(
        "odoo", "public.account_move_line", column="debit", direction="downstream", depth=5
    )
    assert {(e.target.name, e.target_column) for e in impact.edges} == {
        ("silver.lines", "debit"),
        ("gold.balances", "balance"),
    }
    # Recording the same SQL again updates the edges instead of adding new ones.
    again = _record(workbench)
    assert len(again.graph("lake", "gold.balances", column="balance", depth=5).edges) == 4


def test_lineage_respects_connection_permissions(workbench) -> None:
    ConnectionService(workbench, Principal(name="owner")).create(
        ConnectionCreate(name="odoo", settings={"kind": "duckdb", "path": ":memory:"})
    )
    _record(workbench)
    stranger = LineageService(workbench, Principal(name="stranger"))
    graph = stranger.graph("lake", "gold.balances", depth=5)
    assert {e.source.name for e in graph.edges} == {"silver.lines"}  # not odoo's tables
    # odoo's own graph: as of a name nobody has, nothing of what it feeds.
    hidden = stranger.graph("odoo", "public.account_move_line", direction="downstream")
    assert (hidden.edges, [d.name for d in hidden.datasets]) == ([], ["public.account_move_line"])


@pytest.fixture
def jp_server_config(home):
    return workbench_server(home)


async def test_lineage_over_rest(jp_fetch, workbench) -> None:
    import json

    from tornado.httpclient import HTTPClientError

    _record(workbench)
    response = await jp_fetch(
        "workbench",
        "api",
        "lineage",
        params={"namespace": "lake", "name": "gold.balances", "column": "balance", "depth": "5"},
    )
    graph = json.loads(response.body)
    assert len(graph["edges"]) == 4 and graph["direction"] == "upstream"
    assert {"namespace": "odoo", "name": "public.account_move_line", "table_id": None} in graph[
        "datasets"
    ]
    for params, code in (
        ({"namespace": "lake", "name": "gold.balances", "direction": "sideways"}, 400),
        ({"namespace": "lake", "name": "gold.balances", "depth": "99"}, 400),
        ({"name": "gold.balances"}, 400),
    ):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("workbench", "api", "lineage", params=params)
        assert info.value.code == code, params
    # A dataset without lineage: an empty graph, not an error the browser logs.
    empty = await jp_fetch(
        "workbench", "api", "lineage", params={"namespace": "lake", "name": "nothing"}
    )
    assert json.loads(empty.body)["edges"] == []


async def test_sql_whose_lineage_cannot_be_worked_out_leaves_a_warning(jp_fetch, workbench) -> None:
    import json

    from workbench_server.connections.kernel_access import KernelSql, record_kernel_sql

    principal = local_principal()
    bad = KernelSql(connection="lake", sql="CREATE TABLE x AS SELEC oops FROM", job="close.gold")
    assert record_kernel_sql(workbench, principal, bad, run_id="r9").edges == 0
    good = KernelSql(connection="lake", sql=GOLD, job="close.gold")
    assert record_kernel_sql(workbench, principal, good, run_id="r9").edges > 0
    [warning] = LineageService(workbench, principal).warnings(run_id="r9")
    assert warning.job == "close.gold"
    assert warning.message.startswith("SQL could not be parsed (duckdb):")
    response = await jp_fetch("workbench", "api", "lineage", "warnings", params={"run_id": "r9"})
    assert [w["message"] for w in json.loads(response.body)] == [warning.message]
    other = LineageService(workbench, Principal(name="someone-else"))
    assert other.warnings(run_id="r9") == []


def test_declared_lineage_never_reaches_a_namespace_its_author_may_not_use(workbench) -> None:
    """bob's pipeline declares an edge from alice's private connection: alice must not see
    it in her lineage, and bob is told why it is missing."""
    alice, bob = Principal(name="alice"), Principal(name="bob")
    ConnectionService(workbench, alice).create(
        ConnectionCreate(name="alice_ledger", settings={"kind": "duckdb", "path": ":memory:"})
    )
    stored = LineageService(workbench, bob).record_declared(
        ["alice_ledger.public.account_move", "lake.bronze.moves"],
        ["alice_ledger.public.summary", "lake.silver.moves"],
        "bobs_flow.copy",
        run_id="r9",
    )
    assert stored == 1  # lake.bronze.moves -> lake.silver.moves only
    mine = LineageService(workbench, alice)
    assert mine.graph("alice_ledger", "public.summary").edges == []
    assert mine.graph("alice_ledger", "public.account_move", direction="downstream").edges == []
    warnings = [w.message for w in LineageService(workbench, bob).warnings(job="bobs_flow.copy")]
    assert any("may not use connection 'alice_ledger'" in m for m in warnings)
    # alice's own pipeline records it.
    assert LineageService(workbench, alice).record_declared(
        ["alice_ledger.public.account_move"], ["alice_ledger.public.summary"], "close.x"
    )


def test_a_dataset_without_lineage_has_an_empty_graph_and_a_hidden_one_too(workbench) -> None:
    """The table view asks for the lineage of every table it shows: one with none
    recorded answers an empty graph (a 404 was logged as an error in every browser).
    One of a connection the caller may not use answers exactly as a name nobody has:
    a 404 there (and 200 for a made-up name) told bob that 'alice_ledger' is someone's
    connection, and its catalog id would too."""
    alice = Principal(name="alice")
    ConnectionService(workbench, alice).create(
        ConnectionCreate(name="alice_ledger", settings={"kind": "duckdb", "path": ":memory:"})
    )
    graph = LineageService(workbench, local_principal()).graph("lake", "gold.nothing_yet")
    assert (graph.root.name, graph.edges) == ("gold.nothing_yet", [])
    # alice's lineage of her table, recorded, with its edge.
    assert LineageService(workbench, alice).record_declared(
        ["alice_ledger.public.x"], ["alice_ledger.public.y"], "close.x"
    )
    own = LineageService(workbench, alice).graph("alice_ledger", "public.y")
    assert [e.source.name for e in own.edges] == ["public.x"]
    bob = LineageService(workbench, Principal(name="bob"))
    for direction in ("upstream", "downstream"):
        for name in ("public.x", "public.y"):
            hidden = bob.graph("alice_ledger", name, direction=direction)
            unknown = bob.graph("nobodys_ledger", name, direction=direction)
            assert hidden.edges == [] and hidden.root.table_id is None
            assert hidden.model_dump_json().replace("alice_ledger", "N") == (
                unknown.model_dump_json().replace("nobodys_ledger", "N")
            )
