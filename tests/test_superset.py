"""Superset through a real Superset started by the tests (issue 18, must-show 1).

A gold table computed from the Odoo-shaped database is published: the dataset exists
with the catalog's description, Odoo's column labels (through column lineage) and the
certification; a chart-data query answers what the same query on the lake answers, to
the cent; a description changed in the catalog reaches the dataset on re-publish, while
an edit made in Superset is kept; pii columns stay out (of the dataset and of the file
Superset reads); another user's private lake table cannot be published; a bad URL or
password says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest

from tests.support.postgres import postgres_settings
from tests.support.superset_peer import ADMIN, HOW_TO_INSTALL, Superset, installed
from workbench_server.catalog import CatalogService, TablePatch
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kinds import SupersetConfig
from workbench_server.errors import NotFoundError, PermissionDeniedError
from workbench_server.lake import Lake
from workbench_server.lineage import sql_lineage
from workbench_server.lineage.service import LineageService, SqlContext
from workbench_server.principal import Principal
from workbench_server.superset import PublishRequest, SupersetClient, SupersetError, publish
from workbench_server.superset.serving import served as served_tables
from workbench_server.superset.serving import serving_path
from workbench_server.supervisor import free_port

GOLD_SQL = """
CREATE TABLE gold.partner_balances AS
SELECT l.partner_id, p.email, sum(l.debit - l.credit) AS balance
FROM odoo.public.account_move_line AS l
JOIN odoo.public.res_partner AS p ON p.id = l.partner_id
GROUP BY 1, 2
"""
SOURCE_SQL = """
SELECT l.partner_id, p.email, sum(l.debit - l.credit)::numeric(18, 2) AS balance
FROM account_move_line AS l JOIN res_partner AS p ON p.id = l.partner_id
GROUP BY 1, 2 ORDER BY 1
"""
ALICE = Principal(name="alice", groups=frozenset({"finance"}))
BOB = Principal(name="bob", groups=frozenset({"finance"}))


@pytest.fixture(scope="session")
def superset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Superset]:
    if not installed():
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    server = Superset(tmp_path_factory.mktemp("superset"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _superset_connection(workbench: Any, who: Principal, name: str, url: str, password: str):
    ConnectionService(workbench, who).create(
        ConnectionCreate(
            name=name,
            settings={"kind": "superset", "url": url, "user": ADMIN[0], "password": password},
        )
    )


@pytest.fixture
def published(workbench: Any, odoo_db: str, superset: Superset) -> dict[str, Any]:
    """Alice's world: the Odoo database scanned, a gold table computed from it (with its
    lineage), and a superset connection ``bi``."""
    ConnectionService(workbench, ALICE).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db))
    )
    catalog = CatalogService(workbench, ALICE)
    catalog.scan("odoo")
    with psycopg.connect(odoo_db) as pg:
        rows = pg.execute(SOURCE_SQL).fetchall()
    data = pa.table(
        {
            "partner_id": pa.array([r[0] for r in rows], pa.int64()),
            "email": pa.array([r[1] for r in rows], pa.string()),
            "balance": pa.array([r[2] for r in rows], pa.decimal128(18, 2)),
        }
    )
    Lake.default(workbench.settings).write("gold.partner_balances", data, mode="overwrite")
    context = SqlContext(connection="lake", kind="lake", attachable=["odoo"])
    LineageService(workbench, ALICE).record(sql_lineage(GOLD_SQL), context, "gold.build")
    catalog.scan("lake", tables=["gold.partner_balances"])
    _superset_connection(workbench, ALICE, "bi", superset.url, ADMIN[1])
    return {"catalog": catalog, "rows": rows}


def _client(workbench: Any) -> SupersetClient:
    cfg = ConnectionService(workbench, ALICE).resolve("bi")
    assert isinstance(cfg, SupersetConfig)
    return SupersetClient(cfg).login()


def _dataset(client: SupersetClient, dataset_id: int) -> dict[str, Any]:
    return client.call("GET", f"/api/v1/dataset/{dataset_id}")["result"]


def _chart_balances(client: SupersetClient, dataset_id: int) -> dict[int, Decimal]:
    """SUM(balance) by partner through /api/v1/chart/data, as a chart asks for it."""
    query = {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [
            {
                "columns": ["partner_id"],
                "metrics": [
                    {"expressionType": "SQL", "sqlExpression": "SUM(balance)", "label": "total"}
                ],
                "orderby": [["partner_id", True]],
                "row_limit": 10_000,
            }
        ],
        "result_format": "json",
        "result_type": "full",
    }
    answer = client.call("POST", "/api/v1/chart/data", query)["result"][0]
    assert answer["status"] == "success", answer
    return {
        row["partner_id"]: Decimal(str(row["total"])).quantize(Decimal("0.01"))
        for row in answer["data"]
    }


def _lake_balances(workbench: Any, table: str = "gold.partner_balances") -> dict[int, Decimal]:
    """The same query on the lake (DuckDB over the Delta table, as %sql runs it)."""
    lake = Lake.default(workbench.settings)
    db = lake.connect()
    try:
        rows = db.execute(
            f"SELECT partner_id, SUM(balance) FROM {lake.scan_sql(table)} GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        db.close()
    return {partner: total for partner, total in rows}


def test_publish_syncs_the_catalog_and_a_chart_equals_the_lake(
    workbench: Any, published: dict[str, Any]
) -> None:
    catalog: CatalogService = published["catalog"]
    detail = catalog.find("lake", "gold", "partner_balances")
    catalog.edit_table(detail.id, TablePatch(description="Open balance per partner"))
    # The default lake is every user's: an admin certifies its tables and names stewards.
    CatalogService(workbench, Principal(name="ada", admin=True)).edit_table(
        detail.id, TablePatch(certified=True, steward="alice")
    )
    odoo_lines = catalog.find("odoo", "public", "account_move_line")
    partner_label = next(c.label for c in odoo_lines.columns if c.name == "partner_id")
    assert partner_label  # Odoo's label of the field, from the scan

    # Alice has a Superset account of her own (the steward becomes an owner).
    client = _client(workbench)
    alpha = client.find("security/roles", name="Alpha")[0]["id"]
    alice_id = client.call(
        "POST",
        "/api/v1/security/users/",
        {
            "first_name": "Alice",
            "last_name": "Finance",
            "username": "alice",
            "email": "alice@example.com",
            "active": True,
            "password": "alice-password-1",
            "roles": [alpha],
        },
    )["id"]

    result = publish(workbench, ALICE, PublishRequest(table="gold.partner_balances", to="bi"))
    assert result.created and result.rows == len(published["rows"])
    assert result.columns == ["partner_id", "balance"] and result.excluded_pii == ["email"]

    dataset = _dataset(client, result.dataset_id)
    assert (dataset["schema"], dataset["table_name"]) == ("gold", "partner_balances")
    assert alice_id in {o["id"] for o in dataset["owners"]}
    assert dataset["description"] == "Open balance per partner"
    columns = {c["column_name"]: c for c in dataset["columns"]}
    assert set(columns) == {"partner_id", "balance"}  # no email: pii stays out
    assert columns["partner_id"]["verbose_name"] == partner_label
    assert json.loads(dataset["extra"])["certification"]["certified_by"] == "alice"
    # Not even Superset's SQL can reach the pii column: the file it reads has none.
    with duckdb.connect(str(serving_path(workbench.settings.home, "bi")), read_only=True) as db:
        served = [r[0] for r in db.execute("DESCRIBE gold.partner_balances").fetchall()]
    assert served == ["partner_id", "balance"]
    # The file says what it serves: which lake table, which Delta version, how many rows.
    (listed,) = served_tables(serving_path(workbench.settings.home, "bi"))
    assert (listed.schema, listed.table, listed.source, listed.rows, listed.version) == (
        "gold",
        "partner_balances",
        "lake:gold.partner_balances",
        result.rows,
        result.version,
    )

    lake = _lake_balances(workbench)
    assert _chart_balances(client, result.dataset_id) == lake
    assert sum(lake.values()) == sum(r[2] for r in published["rows"])  # to the cent

    # A description changed in the catalog reaches the dataset; an edit made in Superset
    # (a column description) is kept.
    catalog.edit_table(detail.id, TablePatch(description="Balance per partner, all moves"))
    client.call(
        "PUT",
        f"/api/v1/dataset/{result.dataset_id}",
        {
            "columns": [
                {**_column_body(columns["balance"]), "description": "edited in Superset"},
                _column_body(columns["partner_id"]),
            ]
        },
    )
    again = publish(workbench, ALICE, PublishRequest(table="gold.partner_balances", to="bi"))
    assert not again.created and again.dataset_id == result.dataset_id
    assert again.kept_edits == ["balance.description"]
    dataset = _dataset(client, result.dataset_id)
    assert dataset["description"] == "Balance per partner, all moves"
    columns = {c["column_name"]: c for c in dataset["columns"]}
    assert columns["balance"]["description"] == "edited in Superset"
    assert columns["partner_id"]["verbose_name"] == partner_label

    # New rows in the lake reach Superset's charts with the next publish.
    Lake.default(workbench.settings).write(
        "gold.partner_balances",
        pa.table(
            {
                "partner_id": pa.array([999_999], pa.int64()),
                "email": pa.array(["new@example.com"]),
                "balance": pa.array([Decimal("0.01")], pa.decimal128(18, 2)),
            }
        ),
        mode="append",
    )
    publish(workbench, ALICE, PublishRequest(table="gold.partner_balances", to="bi"))
    charted = _chart_balances(client, result.dataset_id)
    assert charted[999_999] == Decimal("0.01") and charted == _lake_balances(workbench)


def _column_body(column: dict[str, Any]) -> dict[str, Any]:
    return {k: column[k] for k in ("id", "column_name", "verbose_name", "description")}


def test_others_private_tables_and_pii_are_not_for_everyone(
    workbench: Any, published: dict[str, Any], tmp_path: Path
) -> None:
    # Alice's own lake connection, private to her.
    folder = tmp_path / "alice_lake"
    folder.mkdir()
    workbench.settings.data_roots = [*workbench.settings.allowed_data_roots, str(tmp_path)]
    ConnectionService(workbench, ALICE).create(
        ConnectionCreate(name="alice_lake", settings={"kind": "lake", "location": str(folder)})
    )
    Lake.of(workbench, ALICE, "alice_lake").write(
        "gold.salaries", pa.table({"team": ["a"], "total": [1]}), mode="overwrite"
    )
    _superset_connection(workbench, BOB, "bob_bi", published_url(workbench), ADMIN[1])
    with pytest.raises(NotFoundError, match="alice_lake"):
        publish(
            workbench,
            BOB,
            PublishRequest(table="gold.salaries", lake="alice_lake", to="bob_bi"),
        )
    # Nor may Bob use Alice's superset connection, or publish pii he may not see.
    with pytest.raises(NotFoundError, match="'bi'"):
        publish(workbench, BOB, PublishRequest(table="gold.partner_balances", to="bi"))
    with pytest.raises(PermissionDeniedError, match="pii"):
        publish(
            workbench,
            BOB,
            PublishRequest(table="gold.partner_balances", to="bob_bi", include_pii=True),
        )
    # Alice publishes her own private table; she may publish pii of her own lake.
    mine = publish(
        workbench, ALICE, PublishRequest(table="gold.salaries", lake="alice_lake", to="bi")
    )
    assert mine.columns == ["team", "total"]
    dataset = _dataset(_client(workbench), mine.dataset_id)
    assert (dataset["schema"], dataset["table_name"]) == ("alice_lake_gold", "salaries")


def published_url(workbench: Any) -> str:
    return str(ConnectionService(workbench, ALICE).resolve("bi").url)


def test_a_bad_url_or_password_says_so(workbench: Any, superset: Superset) -> None:
    Lake.default(workbench.settings).write(
        "gold.totals", pa.table({"total": [Decimal("1.00")]}), mode="overwrite"
    )
    _superset_connection(workbench, ALICE, "wrong_password", superset.url, "not-the-password")
    nowhere = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    _superset_connection(workbench, ALICE, "nowhere", nowhere, ADMIN[1])
    with pytest.raises(SupersetError, match="refused the login of 'admin': wrong user or password"):
        publish(workbench, ALICE, PublishRequest(table="gold.totals", to="wrong_password"))
    with pytest.raises(SupersetError, match=f"cannot reach Superset at {nowhere}"):
        publish(workbench, ALICE, PublishRequest(table="gold.totals", to="nowhere"))
    # Nothing was copied for Superset when it could not be reached.
    assert not serving_path(workbench.settings.home, "nowhere").exists()


@pytest.fixture
def jp_server_config(home: Path):
    from tests.support.servers import workbench_server
    from tests.test_pipeline_schema_api import DenyByHeader

    config = workbench_server(home)
    config["ServerApp"]["authorizer_class"] = DenyByHeader  # X-Test-Deny: a resource refused
    return config


async def test_rest_connection_dialog_test_and_publish(jp_fetch, home: Path, superset: Superset):
    """What the connections dialog and the catalog's action send: the password is
    write-only, the connection test names a wrong password, publish answers the dataset."""
    from tornado.httpclient import HTTPClientError

    from workbench_server.settings import WorkbenchSettings

    async def call(*path: str, body: Any = None) -> Any:
        kwargs = {"method": "POST", "body": json.dumps(body)} if body is not None else {}
        return json.loads((await jp_fetch("workbench", "api", *path, **kwargs)).body)

    async def refused(*path: str, body: Any) -> tuple[int, str]:
        with pytest.raises(HTTPClientError) as info:
            await call(*path, body=body)
        return info.value.code, json.loads(info.value.response.body)["message"]

    settings = {"kind": "superset", "url": superset.url, "user": ADMIN[0]}
    await call("connections", body={"name": "bi", "settings": {**settings, "password": ADMIN[1]}})
    await call("connections", body={"name": "bad", "settings": {**settings, "password": "nope"}})
    shown = await call("connections", "bi")
    assert shown["settings"]["password"] == "***set***"  # never the password itself
    tested = await call("connections", "bi", "test", body={})
    assert tested["ok"] and tested["server_version"].startswith("Superset"), tested
    wrong = await call("connections", "bad", "test", body={})
    assert (wrong["ok"], wrong["reason"]) == (False, "authentication_failed")
    assert "wrong user or password" in wrong["message"]

    Lake.default(WorkbenchSettings.from_env(home)).write(
        "gold.totals", pa.table({"total": [Decimal("12.34")]}), mode="overwrite"
    )
    done = await call("superset", "publish", body={"table": "gold.totals", "to": "bi"})
    assert (done["table"], done["rows"], done["columns"]) == ("gold.totals", 1, ["total"])
    assert done["dataset_url"].startswith(superset.url)
    assert await refused("superset", "publish", body={"table": "gold.nope", "to": "bi"}) == (
        404,
        "no lake table gold.nope in lake",
    )
    code, message = await refused("superset", "publish", body={"table": "gold.totals", "to": "bad"})
    assert code == 502 and "wrong user or password" in message
    code, message = await refused("superset", "publish", body={"table": "x", "to": "bi"})
    assert code == 400 and "not a lake table name" in message
    # Unpublish: a caller refused the catalog resource, or a name that is no lake table,
    # is answered 403/400 and takes nothing out.
    with pytest.raises(HTTPClientError) as denied:
        await jp_fetch(
            "workbench", "api", "superset", "unpublish", method="POST",
            body=json.dumps({"table": "gold.totals", "to": "bi"}),
            headers={"X-Test-Deny": "workbench.catalog"},
        )  # fmt: skip
    assert denied.value.code == 403
    code, message = await refused("superset", "unpublish", body={"table": "x", "to": "bi"})
    assert code == 400 and "not a lake table name" in message
    gone = await call("superset", "unpublish", body={"table": "gold.totals", "to": "bi"})
    assert (gone["dataset_id"], gone["removed_from_file"]) == (done["dataset_id"], True)
    assert await refused("superset", "unpublish", body={"table": "gold.totals", "to": "bi"}) == (
        404,
        "gold.totals is not published to 'bi'",
    )


PIPELINE = """\
name: close_bi
steps:
  - id: publish
    kind: publish
    table: gold.partner_balances
    to: {to}
"""


def test_a_publish_step_validates_its_connection_and_republishes_as_the_owner(
    workbench: Any, published: dict[str, Any]
) -> None:
    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.runner import run_kind
    from workbench_pipelines.validate import check_text

    spec, errors = check_text(PIPELINE.format(to="bi"), connections={"bi": "superset"})
    assert errors == [] and spec is not None and spec.steps[0].kind == "publish"
    _, errors = check_text(PIPELINE.format(to="odoo"), connections={"odoo": "postgres"})
    assert [(e.line, e.message) for e in errors] == [
        (6, "connection 'odoo' is a postgres connection; to takes a superset connection")
    ]

    # A table of its own: Superset on a SQLite metadata DB keeps dataset names unique
    # across databases, and the session's Superset has the other tests' datasets.
    lake = Lake.default(workbench.settings)
    lake.write("gold.step_balances", lake.read("gold.partner_balances"), mode="overwrite")
    config = {"table": "gold.step_balances", "to": "bi"}
    ctx = step_context(workbench, ALICE, "publish", config)
    run_kind(ctx)  # what the worker's activity runs for the step
    stats = ctx.stats["gold.step_balances"]
    assert stats["rows"] == len(published["rows"]) and stats["published_to"] == "bi"
    assert [(t.table, t.access) for t in ctx.tables] == [("gold.step_balances", "read")]
    client = _client(workbench)
    charted = _chart_balances(client, stats["dataset_id"])
    assert charted == _lake_balances(workbench, "gold.step_balances")
    # The step runs as the pipeline's owner: Bob's pipeline cannot publish to Alice's.
    with pytest.raises(NotFoundError, match="'bi'"):
        run_kind(step_context(workbench, BOB, "publish", config))


def test_the_cli_adds_the_connection_and_publishes(home: Path, superset: Superset) -> None:
    from click.testing import CliRunner

    from workbench_server.cli import cli
    from workbench_server.settings import WorkbenchSettings

    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            *("connection", "add", "bi", "--home", str(home), "--kind", "superset"),
            *("--secrets-stdin", "--set", f"url={superset.url}", "--set", f"user={ADMIN[0]}"),
        ],
        input=f"password={ADMIN[1]}\n",
    )
    assert added.exit_code == 0, added.output
    Lake.default(WorkbenchSettings.from_env(home)).write(
        "gold.cli_totals", pa.table({"total": [Decimal("12.34")]}), mode="overwrite"
    )
    done = runner.invoke(cli, ["publish", "gold.cli_totals", "--to", "bi", "--home", str(home)])
    assert done.exit_code == 0, done.output
    assert "gold.cli_totals: dataset" in done.output and "created in bi (1 row," in done.output
    again = runner.invoke(cli, ["publish", "gold.cli_totals", "--to", "bi", "--home", str(home)])
    assert "updated in bi" in again.output
    dataset = again.output.split(": dataset ")[1].split()[0]
    removed = runner.invoke(
        cli, ["unpublish", "gold.cli_totals", "--to", "bi", "--home", str(home)]
    )
    assert removed.exit_code == 0, removed.output
    assert removed.output == f"gold.cli_totals: dataset {dataset} deleted in bi\n"
    twice = runner.invoke(cli, ["unpublish", "gold.cli_totals", "--to", "bi", "--home", str(home)])
    assert twice.exit_code == 1
    assert "gold.cli_totals is not published to 'bi'" in twice.output
    wrong = runner.invoke(cli, ["publish", "totals", "--to", "bi", "--home", str(home)])
    assert wrong.exit_code == 1
    assert wrong.output.startswith("workbench: error: 'totals' is not a lake table name")


def test_a_notebooks_sql_on_a_superset_connection_says_what_it_is() -> None:
    from workbench_kernels.api import Bootstrap
    from workbench_kernels.registry import KernelConnections, WorkbenchConnectionError

    settings = {"kind": "superset", "url": "http://bi.example.com", "user": "u", "password": "p"}
    connections = KernelConnections(
        fetch=lambda: Bootstrap(connections={"bi": settings}), usable=lambda names: names
    )
    connections.refresh()
    assert connections.problems == {}
    with pytest.raises(WorkbenchConnectionError, match="is a Superset, not SQL"):
        connections.descriptor("bi")


def test_a_starter_dashboard_of_published_tables(workbench: Any, superset: Superset) -> None:
    from workbench_server.superset.dashboard import DashboardRequest, starter_dashboard

    lake = Lake.default(workbench.settings)
    money = pa.decimal128(18, 2)
    lake.write(
        "gold.dash_trial_balance",
        pa.table(
            {
                "account": ["101000", "401000"],
                "balance": pa.array([Decimal("150.25"), Decimal("-150.25")], money),
            }
        ),
        mode="overwrite",
    )
    lake.write(
        "gold.dash_ar_ageing",
        pa.table({"bucket": ["0-30", "31-60"], "open": pa.array([Decimal("9.99")] * 2, money)}),
        mode="overwrite",
    )
    _superset_connection(workbench, ALICE, "bi", superset.url, ADMIN[1])
    request = DashboardRequest(
        title="Finance close (test)",
        to="bi",
        tables=["gold.dash_trial_balance", "gold.dash_ar_ageing"],
    )
    made = starter_dashboard(workbench, ALICE, request)
    client = _client(workbench)
    charts = client.call("GET", f"/api/v1/dashboard/{made.dashboard_id}/charts")["result"]
    assert sorted(c["slice_name"] for c in charts) == [
        "Finance close (test): gold.dash_ar_ageing",
        "Finance close (test): gold.dash_trial_balance",
    ]
    # A chart's data: the trial balance as published, to the cent.
    chart = client.call("GET", f"/api/v1/chart/{made.charts['gold.dash_trial_balance']}")
    params = json.loads(chart["result"]["params"])
    query = {
        "datasource": {"id": int(params["datasource"].split("__")[0]), "type": "table"},
        "queries": [{"columns": params["all_columns"], "row_limit": 100}],
        "result_format": "json",
        "result_type": "full",
    }
    rows = client.call("POST", "/api/v1/chart/data", query)["result"][0]["data"]
    assert {r["account"]: Decimal(str(r["balance"])) for r in rows} == {
        "101000": Decimal("150.25"),
        "401000": Decimal("-150.25"),
    }
    # Made again: the same dashboard and charts, not copies.
    again = starter_dashboard(workbench, ALICE, request)
    assert (again.dashboard_id, again.charts) == (made.dashboard_id, made.charts)


def test_the_cli_makes_a_starter_dashboard(home: Path, superset: Superset) -> None:
    from click.testing import CliRunner

    from workbench_server.cli import cli
    from workbench_server.settings import WorkbenchSettings

    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            *("connection", "add", "bi", "--home", str(home), "--kind", "superset"),
            *("--secrets-stdin", "--set", f"url={superset.url}", "--set", f"user={ADMIN[0]}"),
        ],
        input=f"password={ADMIN[1]}\n",
    )
    assert added.exit_code == 0, added.output
    Lake.default(WorkbenchSettings.from_env(home)).write(
        "gold.cli_ap_ageing", pa.table({"open": [Decimal("1.00")]}), mode="overwrite"
    )
    made = runner.invoke(
        cli,
        ["superset-dashboard", "AP (cli)", "gold.cli_ap_ageing", "--to", "bi", "--home", str(home)],
    )
    assert made.exit_code == 0, made.output
    assert "with 1 chart(s)" in made.output and f"{superset.url}/superset/dashboard/" in made.output


RUN_PIPELINE = """\
name: totals_bi
steps:
  - id: totals
    kind: sql
    sql: SELECT month, sum(amount) AS total FROM silver.run_moves GROUP BY month
    target: gold.run_totals
  - id: to_superset
    kind: publish
    depends_on: [totals]
    table: gold.run_totals
    to: bi
"""


def test_a_pipeline_run_publishes_on_a_real_worker(
    tmp_path: Path,
    workbench: Any,
    worker: Any,
    superset: Superset,
    temporal_address: str,
    task_queue: str,
) -> None:
    """The publish step deployed and run by a Temporal worker after the sql step that
    writes the table: Superset's chart then shows what the run wrote."""
    from tests.support.ingest import run_pipeline
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.principal import local_principal

    me = local_principal()
    ConnectionService(workbench, me).create(
        ConnectionCreate(
            name="bi",
            settings={
                "kind": "superset",
                "url": superset.url,
                "user": ADMIN[0],
                "password": ADMIN[1],
            },
        )
    )
    Lake.default(workbench.settings).write(
        "silver.run_moves",
        pa.table(
            {
                "month": [1, 1, 2],
                "amount": pa.array(
                    [Decimal("10.10"), Decimal("0.01"), Decimal("-5.00")], pa.decimal128(18, 2)
                ),
            }
        ),
        mode="overwrite",
    )
    (tmp_path / "totals_bi").mkdir()
    (tmp_path / "totals_bi" / "pipeline.yaml").write_text(RUN_PIPELINE)
    PipelineRegistry(workbench, me).deploy(tmp_path / "totals_bi" / "pipeline.yaml")
    run = run_pipeline(workbench, me, "totals_bi", temporal_address, task_queue)
    assert run.status == "succeeded", [(a.step_id, a.error) for a in run.attempts]

    cfg = ConnectionService(workbench, me).resolve("bi")
    assert isinstance(cfg, SupersetConfig)
    client = SupersetClient(cfg).login()
    (found,) = client.find("dataset", table_name="run_totals")
    query = {
        "datasource": {"id": found["id"], "type": "table"},
        "queries": [{"columns": ["month", "total"], "row_limit": 10}],
        "result_format": "json",
        "result_type": "full",
    }
    rows = client.call("POST", "/api/v1/chart/data", query)["result"][0]["data"]
    assert {r["month"]: Decimal(str(r["total"])) for r in rows} == {
        1: Decimal("10.11"),
        2: Decimal("-5.00"),
    }


def test_publishes_at_the_same_time_queue_and_lose_nothing(
    workbench: Any, superset: Superset
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lake = Lake.default(workbench.settings)
    for name in ("conc_a", "conc_b"):
        lake.write(f"gold.{name}", pa.table({"n": [1, 2, 3]}), mode="overwrite")
    _superset_connection(workbench, ALICE, "bi", superset.url, ADMIN[1])
    tables = ["gold.conc_a", "gold.conc_b", "gold.conc_a", "gold.conc_b"]
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda t: publish(workbench, ALICE, PublishRequest(table=t, to="bi")), tables)
        )
    # Each table made once, then found: one dataset per table, none lost from the file.
    assert sorted(r.created for r in results) == [False, False, True, True]
    assert len({r.dataset_id for r in results}) == 2
    listed = served_tables(serving_path(workbench.settings.home, "bi"))
    assert sorted((t.schema, t.table, t.rows) for t in listed) == [
        ("gold", "conc_a", 3),
        ("gold", "conc_b", 3),
    ]


def _close_tables(lake: Lake, periods: list[tuple[int, str]]) -> None:
    """The month-end close's gold tables as its queries write them (the columns the
    dashboard reads, DECIMAL(38, 10) money), for the closes ``periods`` (company, month)."""
    money = pa.decimal128(38, 10)
    tb: dict[str, list[Any]] = {k: [] for k in ("source", "company_id", "period", "code")}
    tb |= {k: [] for k in ("account_name", "account_type", "opening", "debit", "credit")}
    tb["closing"] = []
    aged: dict[str, list[Any]] = {k: [] for k in ("source", "company_id", "period", "kind")}
    aged |= {k: [] for k in ("account_type", "partner_id", "partner_name", *BUCKET_COLUMNS)}
    aged["total"] = []
    checks: dict[str, list[Any]] = {k: [] for k in ("source", "company_id", "period")}
    checks |= {k: [] for k in ("check_name", "status", "amount", "items", "detail")}
    for n, (company, period) in enumerate(periods):
        for code, name, kind, amount in (
            ("121000", "Receivable", "asset_receivable", Decimal("1234.56") + n),
            ("400000", "Sales", "income", -Decimal("1234.56") - n),
        ):
            for key, value in zip(
                tb,
                ("odoo", company, period, code, name, kind, Decimal(0), max(amount, Decimal(0))),
                strict=False,
            ):
                tb[key].append(value)
            tb["credit"].append(max(-amount, Decimal(0)))
            tb["closing"].append(amount)
        for partner, account_type, buckets in (
            (7, "asset_receivable", ("100.10", "20.02", "0", "3.33", f"{1000 + n}.99")),
            (8, "asset_receivable", ("0.01", "0", "40.40", "0", "0")),
            (7, "liability_payable", ("-55.55", "-0.45", "0", "0", f"-{n}.01")),
        ):
            values = [Decimal(b) for b in buckets]
            kind = "receivable" if account_type == "asset_receivable" else "payable"
            row = ("odoo", company, period, kind, account_type, partner, f"Partner {partner}")
            for key, value in zip(aged, (*row, *values, sum(values)), strict=True):
                aged[key].append(value)
        for name, status in (("trial_balance_sums_to_zero", "passed"), ("suspense", "warning")):
            row = ("odoo", company, period, name, status, Decimal(0), 1, f"{name} {period}")
            for key, value in zip(checks, row, strict=True):
                checks[key].append(value)
    decimals = {"opening", "debit", "credit", "closing", "amount", "total", *BUCKET_COLUMNS}

    def table(columns: dict[str, list[Any]]) -> pa.Table:
        return pa.table(
            {k: pa.array(v, money) if k in decimals else pa.array(v) for k, v in columns.items()}
        )

    lake.write("gold.trial_balance", table(tb), mode="overwrite")
    lake.write("gold.ar_ap_ageing", table(aged), mode="overwrite")
    lake.write("gold.close_checks", table(checks), mode="overwrite")


BUCKET_COLUMNS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "over_90")


def _chart_data(client: SupersetClient, chart_id: int) -> tuple[dict[str, Any], list[dict]]:
    """The chart's saved definition, and the data Superset answers for its saved query."""
    chart = client.call("GET", f"/api/v1/chart/{chart_id}")["result"]
    context = json.loads(chart["query_context"])
    answer = client.call("POST", "/api/v1/chart/data", context)["result"][0]
    assert answer["status"] == "success", answer
    return chart, answer["data"]


def _lake_ageing(workbench: Any, company: int, period: str) -> dict[str, dict[str, Decimal]]:
    """The ageing chart's query run by DuckDB over the lake's Delta table."""
    from workbench_server.superset.finance import ageing_metrics

    metrics = ageing_metrics()
    lake = Lake.default(workbench.settings)
    db = lake.connect()
    try:
        found = db.execute(
            f"SELECT kind, {', '.join(m['sqlExpression'] for m in metrics)} "
            f"FROM {lake.scan_sql('gold.ar_ap_ageing')} "
            "WHERE source = 'odoo' AND company_id = ? AND period = ? GROUP BY kind",
            [company, period],
        ).fetchall()
    finally:
        db.close()
    return {row[0]: {m["label"]: v for m, v in zip(metrics, row[1:], strict=True)} for row in found}


def test_the_finance_dashboard_of_the_close(workbench: Any, superset: Superset, home: Path) -> None:
    """No tables named: the close's trial balance, AR/AP ageing (a bar chart) and checks of
    the latest close; the ageing chart's data equals the same query on the lake to the
    cent; made again after a later close it is the same dashboard and charts, showing it."""
    from click.testing import CliRunner

    from workbench_server.cli import cli
    from workbench_server.principal import local_principal
    from workbench_server.superset.dashboard import DashboardRequest, starter_dashboard

    me = local_principal()  # the CLI's user below
    lake = Lake.default(workbench.settings)
    _superset_connection(workbench, me, "bi", superset.url, ADMIN[1])
    with pytest.raises(NotFoundError, match="run the month-end close"):
        starter_dashboard(workbench, me, DashboardRequest(to="bi"))
    _close_tables(lake, [(1, "2026-10"), (2, "2026-11"), (1, "2026-11")])

    made = starter_dashboard(workbench, me, DashboardRequest(to="bi"))
    assert made.close == "odoo, company 1, 2026-11"  # the latest month, its first company
    assert set(made.charts) == {"Trial balance", "AR/AP ageing", "Close checks"}
    cfg = ConnectionService(workbench, me).resolve("bi")
    assert isinstance(cfg, SupersetConfig)
    client = SupersetClient(cfg).login()
    (dashboard,) = client.find("dashboard", dashboard_title="Finance close")
    assert dashboard["id"] == made.dashboard_id
    on_board = client.call("GET", f"/api/v1/dashboard/{made.dashboard_id}/charts")["result"]
    assert {c["slice_name"]: c["form_data"]["viz_type"] for c in on_board} == {
        "Finance close: Trial balance": "table",
        "Finance close: AR/AP ageing": "echarts_timeseries_bar",
        "Finance close: Close checks": "table",
    }

    chart, data = _chart_data(client, made.charts["AR/AP ageing"])
    assert chart["viz_type"] == "echarts_timeseries_bar"
    charted = {
        row["kind"]: {
            label: Decimal(str(v)).quantize(Decimal("0.01"))
            for label, v in row.items()
            if label != "kind"
        }
        for row in data
    }
    expected = _lake_ageing(workbench, 1, "2026-11")
    assert charted == expected
    # To the cent, against the rows written: receivables of partners 7 and 8, payables
    # turned into what is owed.
    assert expected["receivable"] == {
        "not due": Decimal("100.11"),
        "1-30 days": Decimal("20.02"),
        "31-60 days": Decimal("40.40"),
        "61-90 days": Decimal("3.33"),
        "over 90 days": Decimal("1002.99"),
    }
    assert expected["payable"]["not due"] == Decimal("55.55")
    assert expected["payable"]["over 90 days"] == Decimal("2.01")

    _, rows = _chart_data(client, made.charts["Trial balance"])
    assert [(r["code"], Decimal(str(r["closing"]))) for r in rows] == [
        ("121000", Decimal("1236.56")),
        ("400000", Decimal("-1236.56")),
    ]
    _, rows = _chart_data(client, made.charts["Close checks"])
    assert [r["detail"] for r in rows] == ["suspense 2026-11", "trial_balance_sums_to_zero 2026-11"]

    # A later close, the dashboard made again (by the CLI): the same dashboard and charts,
    # now showing December.
    _close_tables(lake, [(1, "2026-10"), (2, "2026-11"), (1, "2026-11"), (1, "2026-12")])
    again = CliRunner().invoke(cli, ["superset-dashboard", "--to", "bi", "--home", str(home)])
    assert again.exit_code == 0, again.output
    assert "with 3 chart(s) for the close of odoo, company 1, 2026-12" in again.output
    assert f"/superset/dashboard/{made.dashboard_id}/" in again.output
    assert len(client.find("chart", slice_name="Finance close: AR/AP ageing")) == 1
    _, data = _chart_data(client, made.charts["AR/AP ageing"])
    over_90 = {r["kind"]: Decimal(str(r["over 90 days"])).quantize(Decimal("0.01")) for r in data}
    assert over_90 == {"receivable": Decimal("1003.99"), "payable": Decimal("3.01")}
    assert over_90 == {
        k: v["over 90 days"] for k, v in _lake_ageing(workbench, 1, "2026-12").items()
    }
    # A company or month without a close says so.
    with pytest.raises(NotFoundError, match="no close of company 2 and period 2026-12"):
        starter_dashboard(workbench, me, DashboardRequest(to="bi", company_id=2, period="2026-12"))


async def test_rest_dashboard_route(jp_fetch, jp_http_port, jp_base_url, home: Path, superset):
    """POST /workbench/api/superset/dashboard: signed in and authorised, a clear 400 for a
    bad body, 404 for a connection or close that is not there, then a dashboard."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    from workbench_server.settings import WorkbenchSettings

    async def post(body: Any, **headers: str) -> tuple[int, Any]:
        try:
            answer = await jp_fetch(
                "workbench",
                "api",
                "superset",
                "dashboard",
                method="POST",
                body=body if isinstance(body, str) else json.dumps(body),
                headers=headers,
            )
        except HTTPClientError as exc:
            return exc.code, json.loads(exc.response.body)
        return answer.code, json.loads(answer.body)

    # Without the server's token: refused before anything runs.
    anonymous = await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{jp_http_port}{jp_base_url}workbench/api/superset/dashboard",
        method="POST",
        body='{"to": "bi"}',
        raise_error=False,
    )
    assert anonymous.code in (401, 403)
    code, _ = await post({"to": "bi"}, **{"X-Test-Deny": "workbench.catalog"})
    assert code == 403

    code, answer = await post({"to": "bi"})
    assert code == 404 and "'bi'" in answer["message"], answer
    code, answer = await post({"to": "bi", "period": "2026-13"})
    assert code == 400 and "period" in answer["message"], answer
    code, answer = await post({"to": "bi", "surprise": 1})
    assert code == 400 and "surprise" in answer["message"], answer
    code, answer = await post("{not json")
    assert code == 400, answer

    settings = {"kind": "superset", "url": superset.url, "user": ADMIN[0], "password": ADMIN[1]}
    await jp_fetch(
        "workbench",
        "api",
        "connections",
        method="POST",
        body=json.dumps({"name": "bi", "settings": settings}),
    )
    code, answer = await post({"to": "bi"})  # no close in this lake yet
    assert code == 404 and "run the month-end close" in answer["message"], answer
    Lake.default(WorkbenchSettings.from_env(home)).write(
        "gold.rest_dash_totals", pa.table({"total": [Decimal("12.34")]}), mode="overwrite"
    )
    body = {"to": "bi", "title": "REST dashboard (test)", "tables": ["gold.rest_dash_totals"]}
    code, answer = await post(body)
    assert code == 200 and list(answer["charts"]) == ["gold.rest_dash_totals"], answer
    assert answer["dashboard_url"].startswith(f"{superset.url}/superset/dashboard/")
    code, again = await post(body)
    assert (again["dashboard_id"], again["charts"]) == (answer["dashboard_id"], answer["charts"])


def test_unpublish_deletes_the_dataset_and_refuses_while_charts_use_it(
    workbench: Any, superset: Superset
) -> None:
    """A published dataset could not be taken out of Superset (users' defect): unpublish
    deletes it there and its copy in the serving file; a chart on it makes it refuse, naming
    the chart, unless forced; other published tables stay."""
    from workbench_server.errors import ConflictError
    from workbench_server.superset import UnpublishRequest, unpublish

    lake = Lake.default(workbench.settings)
    money = pa.decimal128(18, 2)
    for name in ("gold.unpub_rates", "gold.unpub_kept"):
        lake.write(name, pa.table({"rate": pa.array([Decimal("1.25")], money)}), mode="overwrite")
    _superset_connection(workbench, ALICE, "bi", superset.url, ADMIN[1])
    gone = publish(workbench, ALICE, PublishRequest(table="gold.unpub_rates", to="bi"))
    kept = publish(workbench, ALICE, PublishRequest(table="gold.unpub_kept", to="bi"))
    client = _client(workbench)
    chart = client.call(
        "POST",
        "/api/v1/chart/",
        {
            "slice_name": "Rates (unpublish test)",
            "viz_type": "table",
            "datasource_id": gone.dataset_id,
            "datasource_type": "table",
            "params": json.dumps({"all_columns": ["rate"]}),
        },
    )
    request = UnpublishRequest(table="gold.unpub_rates", to="bi")
    with pytest.raises(ConflictError) as refused:
        unpublish(workbench, ALICE, request)
    assert str(refused.value) == (
        f"1 chart(s) in 'bi' use gold.unpub_rates: Rates (unpublish test) ({chart['id']}); "
        "remove them first, or force it (they stop working)"
    )
    assert _dataset(client, gone.dataset_id)["table_name"] == "unpub_rates"  # still there
    # Bob may not use Alice's Superset connection: not found, nothing deleted.
    with pytest.raises(NotFoundError, match="'bi'"):
        unpublish(workbench, BOB, request.model_copy(update={"force": True}))

    done = unpublish(workbench, ALICE, request.model_copy(update={"force": True}))
    assert (done.dataset_id, done.removed_from_file) == (gone.dataset_id, True)
    assert done.broken_charts == [f"Rates (unpublish test) ({chart['id']})"]
    with pytest.raises(NotFoundError):
        _dataset(client, gone.dataset_id)
    path = serving_path(workbench.settings.home, "bi")
    listed = {(s.schema, s.table) for s in served_tables(path)}
    assert ("gold", "unpub_rates") not in listed and ("gold", "unpub_kept") in listed
    with duckdb.connect(str(path), read_only=True) as db:
        tables = {t for (t,) in db.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "unpub_rates" not in tables and "unpub_kept" in tables
    assert _dataset(client, kept.dataset_id)["table_name"] == "unpub_kept"
    # Again: nothing is published under that name any more.
    with pytest.raises(NotFoundError, match=r"gold\.unpub_rates is not published to 'bi'"):
        unpublish(workbench, ALICE, request)


def test_unpublish_is_for_the_publisher_the_connections_owner_and_admins(
    workbench: Any, superset: Superset
) -> None:
    """Trial: anyone a Superset connection was shared with could unpublish what others
    had published through it, even forced, breaking their charts. Now the dataset's
    publisher, the connection's owner and admins may; anyone else gets 403 naming them,
    and nothing is deleted."""
    from workbench_server.superset import UnpublishRequest, unpublish

    carol = Principal(name="carol", groups=frozenset({"finance"}))
    root = Principal(name="root", admin=True)
    lake = Lake.default(workbench.settings)
    money = pa.decimal128(18, 2)
    names = ("gold.perm_bobs", "gold.perm_owners", "gold.perm_admins")
    for name in names:
        lake.write(name, pa.table({"rate": pa.array([Decimal("1.25")], money)}), mode="overwrite")
    ConnectionService(workbench, ALICE).create(
        ConnectionCreate(
            name="bi",
            settings={
                "kind": "superset",
                "url": superset.url,
                "user": ADMIN[0],
                "password": ADMIN[1],
            },
            shared_groups=["finance"],
        )
    )
    datasets = {n: publish(workbench, BOB, PublishRequest(table=n, to="bi")) for n in names}
    client = _client(workbench)
    for name in names:
        request = UnpublishRequest(table=name, to="bi", force=True)
        with pytest.raises(PermissionDeniedError) as refused:
            unpublish(workbench, carol, request)
        assert str(refused.value) == (
            f"{name} in 'bi' was published by bob: only bob, the connection's owner "
            "(alice) and admins may unpublish it"
        )
        assert _dataset(client, datasets[name].dataset_id)["table_name"] == name.split(".")[1]
    for who, name in ((BOB, names[0]), (ALICE, names[1]), (root, names[2])):
        done = unpublish(workbench, who, UnpublishRequest(table=name, to="bi"))
        assert done.dataset_id == datasets[name].dataset_id, who
        with pytest.raises(NotFoundError):
            _dataset(client, done.dataset_id)
