"""The lake in notebooks (issue 16): ``%sql`` writes Delta tables through the lake library,
reads them as of a version, a time or a run, and ``from workbench_kernels import lake``
does the same from Python, in real workbench kernels of a real server; a real worker
runs a pipeline step that reads what a notebook wrote, on a folder and on S3 (moto)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import psycopg
import pytest

from tests.support.kernels import KernelSession
from tests.support.notebooks import write_notebook
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from tests.support.servers import workbench_server
from workbench_kernels.lake_sql import (
    CreateTable,
    DeleteFrom,
    InsertInto,
    MergeInto,
    Passthrough,
    Refused,
    UpdateSet,
    plan,
)
from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kinds import LakeConfig
from workbench_server.core import Workbench
from workbench_server.lake import Lake, WriterInfo
from workbench_server.lineage.service import LineageService
from workbench_server.principal import local_principal

ROOT = Path(__file__).resolve().parents[1]
POSTED_LINES = (
    "SELECT l.id, l.account_id, l.partner_id, l.debit, l.credit, l.balance\n"
    "FROM odoo.public.account_move_line l JOIN odoo.public.account_move m ON m.id = l.move_id\n"
    "WHERE m.state = 'posted'"
)
STEP_SPEC = """\
name: lakeclose
steps:
  - {id: gold, notebook: gold.ipynb, kernel: workbench}
"""


# -- the SQL that writes lake tables, as the kernel reads it (no kernel needed) -------------
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM silver.x", None),
        ("CREATE TABLE tmp AS SELECT 1", None),  # a kernel-memory table: DuckDB's
        (
            "CREATE OR REPLACE TABLE silver.x PARTITIONED BY (company_id) AS\n"
            "FROM bronze.y SELECT company_id, sum(amount) AS amount GROUP BY ALL",
            CreateTable(
                "silver.x",
                "",
                "FROM bronze.y SELECT company_id, sum(amount) AS amount GROUP BY ALL",
                replace=True,
                partition_by=("company_id",),
            ),
        ),
        (
            'CREATE TABLE IF NOT EXISTS "gold"."Totals" AS SELECT 1 AS n -- a comment',
            CreateTable("gold.Totals", "", "SELECT 1 AS n", if_not_exists=True),
        ),
        (
            "CREATE TABLE gold.e (id INTEGER, amount DECIMAL(18,2))",
            CreateTable("gold.e", "", None, "(id INTEGER, amount DECIMAL(18,2))"),
        ),
        (
            "INSERT INTO silver.x (id, amount) BY NAME SELECT 2.50 AS amount, 1 AS id",
            InsertInto(
                "silver.x", "", "SELECT 2.50 AS amount, 1 AS id", ("id", "amount"), by_name=True
            ),
        ),
        ("INSERT INTO silver.x (SELECT 1)", InsertInto("silver.x", "", "(SELECT 1)")),
        (
            "DELETE FROM silver.x AS t WHERE t.amount > 100.10",
            DeleteFrom("silver.x", "", '"amount" > 100.10', "amount > 100.10"),
        ),
        ("TRUNCATE silver.x", DeleteFrom("silver.x", "")),
        (
            "UPDATE silver.x SET amount = amount * 1.1 WHERE id = 3",
            UpdateSet(
                "silver.x",
                "",
                {"amount": "\"amount\" * CAST('1.1' AS DECIMAL(2, 1))"},
                {"amount": "amount * 1.1"},
                '"id" = 3',
                "id = 3",
            ),
        ),
        (
            "MERGE INTO silver.x AS t USING (SELECT * FROM bronze.y) AS s ON t.id = s.id\n"
            "WHEN MATCHED AND s._op = 'd' THEN DELETE\n"
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
            MergeInto(
                "silver.x", "", "SELECT * FROM bronze.y", "s", (("id", "id"),), None, ("_op", "d")
            ),
        ),
        (
            "MERGE INTO silver.x t USING bronze.y s ON s.key = t.id\n"
            "WHEN MATCHED THEN UPDATE SET a = s.a\n"
            "WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.key, s.a)",
            MergeInto(
                "silver.x",
                "",
                "SELECT * FROM bronze.y",
                "s",
                (("id", "key"),),
                ("a",),
                source_table="bronze.y",
            ),
        ),
        (
            "MERGE INTO silver.x USING bronze.y AS s USING (id) WHEN MATCHED THEN DELETE",
            MergeInto(
                "silver.x",
                "",
                "SELECT * FROM bronze.y",
                "s",
                (("id", "id"),),
                (),
                delete_only=True,
                source_table="bronze.y",
            ),
        ),
    ],
)
def test_statements_on_lake_tables_are_planned(sql: str, expected: object) -> None:
    planned = plan(sql)
    if expected is None:
        assert planned is None
        return
    [statement] = [s for s in planned if not isinstance(s, Passthrough)]
    assert statement.__class__ is expected.__class__
    got = {k: v for k, v in vars(statement).items() if k != "text"}
    assert got == {k: v for k, v in vars(expected).items() if k != "text"}


def test_a_merge_is_recorded_as_the_insert_of_its_sources_columns() -> None:
    from workbench_kernels.lake_sql import lineage_sql
    from workbench_server.lineage import sql_lineage

    [merge] = plan(
        "MERGE INTO silver.moves AS t USING bronze.moves AS s ON t.id = s.move_id\n"
        "WHEN MATCHED AND s._op = 'd' THEN DELETE WHEN MATCHED THEN UPDATE SET *\n"
        "WHEN NOT MATCHED THEN INSERT *"
    )
    # The write found these columns (UPDATE SET * writes every column of the table).
    sql = lineage_sql(merge, [("id", "move_id"), ("amount", "amount")])
    [statement] = sql_lineage(sql, "duckdb").statements
    assert (statement.outputs, statement.inputs) == (["silver.moves"], ["bronze.moves"])
    columns = {k: [(o.dataset, o.column) for o in v] for k, v in statement.columns.items()}
    assert columns == {
        "id": [("bronze.moves", "move_id")],
        "amount": [("bronze.moves", "amount")],
    }


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("DROP TABLE silver.x", "not dropped from %sql"),
        ("ALTER TABLE silver.x ADD COLUMN y INT", "CREATE OR REPLACE TABLE silver.x AS"),
        ("CREATE VIEW silver.v AS SELECT 1", "would be a view in this kernel only"),
        ("INSERT OR REPLACE INTO silver.x VALUES (1)", "MERGE INTO"),
        ("INSERT INTO silver.x SELECT 1 ON CONFLICT DO NOTHING", "MERGE INTO"),
        ("DELETE FROM silver.x WHERE id IN (SELECT id FROM bronze.y)", "MERGE INTO silver.x"),
        ("UPDATE silver.x SET a = y.a FROM bronze.y", "MERGE INTO silver.x"),
        ("DELETE FROM silver.x WHERE bronze.y.id = 1", "is not a column of silver.x"),
        (
            "MERGE INTO silver.x t USING bronze.y s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *",
            "upsert by key",
        ),
        (
            "MERGE INTO silver.x t USING bronze.y s ON t.id < s.id WHEN MATCHED THEN DELETE",
            "by key equality only",
        ),
        ("CREATE TABLE silver.x", "AS <query> or (column definitions)"),
    ],
)
def test_what_the_lake_cannot_do_is_said_with_what_to_do(sql: str, says: str) -> None:
    [refused] = plan(sql)
    assert isinstance(refused, Refused)
    assert says in refused.message


# -- real kernels -------------------------------------------------------------------------
@pytest.fixture
def jp_server_config(home: Path, workbench_kernelspec: None):
    return workbench_server(home)


@pytest.fixture
def odoo(workbench: Workbench, odoo_db: str) -> ConnectionService:
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db)))
    return service


class Kernels:
    """Workbench kernels of the server under test, started and restarted on demand."""

    def __init__(self, serverapp) -> None:
        self.serverapp = serverapp
        self.manager = serverapp.kernel_manager
        self.started: list[tuple[str, object]] = []

    async def start(self, notebook: str | None = None) -> KernelSession:
        """A kernel on its own, or the kernel of ``notebook`` (a path in the server's
        folder), as JupyterLab starts one."""
        if notebook is None:
            kernel_id = await self.manager.start_kernel(kernel_name="workbench")
        else:
            made = await self.serverapp.session_manager.create_session(
                path=notebook, name=Path(notebook).name, type="notebook", kernel_name="workbench"
            )
            kernel_id = made["kernel"]["id"]
        client = self.manager.get_kernel(kernel_id).client()
        client.start_channels()
        await client.wait_for_ready(timeout=90)
        self.started.append((kernel_id, client))
        session = KernelSession(client)
        session.kernel_id = kernel_id
        return session

    async def restart(self, session: KernelSession) -> None:
        await self.manager.restart_kernel(session.kernel_id)
        await session.client.wait_for_ready(timeout=90)


@pytest.fixture
def kernels(jp_serverapp, jp_asyncio_loop, http_server_client, odoo) -> Iterator[Kernels]:
    """``http_server_client`` makes the server listen, so kernels can reach its API."""
    started = Kernels(jp_serverapp)
    yield started
    for kernel_id, client in started.started:
        client.stop_channels()
        jp_asyncio_loop.run_until_complete(
            jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
        )


@pytest.fixture(params=["folder", "s3"])
def where(request, workbench: Workbench, home: Path) -> dict[str, object]:
    """The default lake (a folder, the catalog's built-in source ``lake``), or a lake
    connection to an S3 bucket (moto)."""
    service = ConnectionService(workbench, local_principal())
    if request.param == "folder":
        return {
            "alias": "lake",
            "namespace": "lake",
            "catalog": "lake",
            "lake": Lake.at(str(home / "lake")),
        }
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    settings = {
        "kind": "lake",
        "location": f"s3://{bucket}/finance",
        "endpoint_url": endpoint,
        "access_key_id": "wb-key",
        "secret_access_key": "wb-secret",
    }
    service.create(ConnectionCreate(name="s3lake", settings=settings))
    return {
        "alias": "s3lake",
        "namespace": "s3lake",
        "catalog": "s3lake",
        "lake": Lake.at(settings["location"], storage=LakeConfig(**settings), name="s3lake"),
    }


async def _lineage(service: LineageService, namespace: str, name: str, **query):
    """The lineage graph once the kernel has reported it (off the query path, in seconds)."""
    for _ in range(60):
        graph = service.graph(namespace, name, **query)
        if graph.edges:
            return graph
        await asyncio.sleep(0.5)
    raise AssertionError(f"no lineage for {namespace}:{name} after 30 s")


def _postgres_totals(odoo_db: str) -> list[str]:
    with psycopg.connect(odoo_db) as conn:
        row = conn.execute(
            "SELECT count(*), sum(l.debit), sum(l.credit), sum(l.balance) "
            "FROM account_move_line l JOIN account_move m ON m.id = l.move_id "
            "WHERE m.state = 'posted'"
        ).fetchone()
    return [str(v) for v in row]


@pytest.mark.timeout(420)
async def test_a_table_made_with_sql_is_everyones(
    kernels: Kernels,
    where: dict[str, object],
    workbench: Workbench,
    home: Path,
    tmp_path: Path,
    odoo_db: str,
    temporal_address: str,
    task_queue: str,
    worker,
) -> None:
    """Must show 2 and 5: ``%%sql CREATE TABLE silver.x AS ...`` on a fresh lake works; the
    table survives a restart, is read by another kernel and by a pipeline step, appears in
    the catalog after a scan, and its lineage points at it; on a folder and on S3."""
    alias, lake = where["alias"], where["lake"]
    assert lake.tables() == []  # a fresh lake: no layer has a table yet
    first = await kernels.start()
    made = await first.run(f"%%sql {alias}\nCREATE TABLE silver.posted_lines AS\n{POSTED_LINES}")
    assert made.status == "ok", made.everything
    assert f"silver.posted_lines: version 1 in {alias} (rows: " in made.stdout
    [latest, created] = lake.versions("silver.posted_lines")
    assert (latest.version, latest.operation, created.operation) == (1, "WRITE", "CREATE TABLE")
    assert latest.writer.tool == "sql" and latest.writer.user

    # The rows as DuckDB gives them (a DataFrame would make DECIMAL a float).
    totals = "import json; print(json.dumps([str(v) for v in list(r)[0]]))"
    query = (
        f"r = %sql {alias} SELECT count(*), sum(debit), sum(credit), sum(balance), "
        "typeof(sum(debit)) FROM silver.posted_lines\n" + totals
    )
    expected = _postgres_totals(odoo_db)
    await kernels.restart(first)
    *sums, kind = await first.value(query)
    assert sums == expected and kind.startswith("DECIMAL")  # to the cent, never a float
    other = await kernels.start()
    assert (await other.value(query))[:-1] == expected
    bare = await other.value(
        f"r = %sql {alias} SELECT count(*) FROM posted_lines\nprint(list(r)[0][0])"
    )
    assert str(bare) == expected[0]
    from_python = await other.value(
        f"from workbench_kernels import lake\nprint(len(lake.connection('{alias}')"
        ".read('silver.posted_lines')))"
    )
    assert str(from_python) == expected[0]

    # The catalog finds it on a scan, as a Delta table with its rows.
    catalog = CatalogService(workbench, local_principal())
    catalog.scan(where["catalog"])
    found = catalog.find(where["catalog"], "silver", "posted_lines")
    assert found.extra["format"] == "delta" and str(found.row_estimate) == expected[0]

    # Its lineage points at the lake table it wrote, column by column.
    service = LineageService(workbench, local_principal())
    graph = await _lineage(service, where["namespace"], "silver.posted_lines", column="debit")
    assert {(e.source.namespace, e.source.name, e.source_column) for e in graph.edges} == {
        ("odoo", "public.account_move_line", "debit")
    }

    # A pipeline step (a notebook on the workbench kernel) reads it and writes gold.
    src = tmp_path / "src"
    write_notebook(
        src / "gold.ipynb",
        f"%%sql {alias}\nCREATE OR REPLACE TABLE gold.account_balances AS\n"
        "SELECT account_id, sum(balance) AS balance, count(*) AS lines\n"
        "FROM silver.posted_lines GROUP BY account_id",
    )
    (src / "lakeclose.yaml").write_text(STEP_SPEC)
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    deployed = await asyncio.to_thread(
        run_workbench, "pipeline", "deploy", str(src / "lakeclose.yaml"), env=env
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    ran = await asyncio.to_thread(
        run_workbench, "pipeline", "run", "lakeclose", "--wait", env=env, timeout=300
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = re.search(r"started run (\w+)", ran.stdout).group(1)
    [written, *_] = lake.versions("gold.account_balances")
    assert written.writer.model_dump(exclude_none=True) == {
        "pipeline": "lakeclose",
        "run_id": run_id,
        "step": "gold",
        "attempt": 1,
        "user": local_principal().name,
        "tool": "sql",
    }
    # What the run wrote, read back in a notebook as of that run: its lines are all there.
    lines = await other.value(
        f"r = %sql {alias} SELECT sum(lines) FROM lake_at_run('gold.account_balances', "
        f"'{run_id}')\nprint(list(r)[0][0])"
    )
    assert str(lines) == expected[0]
    gold = await _lineage(
        service, where["namespace"], "gold.account_balances", column="balance", depth=1
    )
    assert {(e.source.name, e.source_column, e.job) for e in gold.edges} == {
        ("silver.posted_lines", "balance", "lakeclose.gold")
    }


async def test_sql_changes_a_table_one_version_at_a_time(
    kernels: Kernels, home: Path, workbench: Workbench
) -> None:
    """INSERT, DELETE, UPDATE, MERGE and TRUNCATE on a lake table, each a version of its
    own with money exact; a statement that fails leaves no version; time travel reads any
    version back by number, time or run."""
    kernel = await kernels.start()
    lake = Lake.at(str(home / "lake"))

    async def sql(statement: str) -> str:
        ran = await kernel.run(f"%%sql\n{statement}")
        assert ran.status == "ok", ran.everything
        return ran.stdout

    async def rows(query: str) -> list[list[str]]:
        return await kernel.value(
            f"r = %sql {query}\nimport json\n"
            "print(json.dumps([[str(v) for v in row] for row in r]))"
        )

    said = await sql(
        "CREATE TABLE silver.moves PARTITIONED BY (company_id) AS SELECT * FROM (VALUES\n"
        "(1, 1, 100.10::DECIMAL(18,2), 'draft'), (2, 1, -100.05::DECIMAL(18,2), 'draft'),\n"
        "(3, 2, 0.01::DECIMAL(18,2), 'draft')) AS t(id, company_id, amount, state)"
    )
    assert "silver.moves: version 1 in lake (rows: 3 added)" in said
    after_create = datetime.now(UTC)
    assert "version 2 in lake (rows: 2 added)" in await sql(
        "INSERT INTO silver.moves (id, company_id, amount) VALUES (4, 2, 0.02), (5, 2, 1000000.99)"
    )
    assert await rows("SELECT sum(amount), typeof(sum(amount)) FROM silver.moves") == [
        [
            str(sum(map(Decimal, ("100.10", "-100.05", "0.01", "0.02", "1000000.99")))),
            "DECIMAL(38,2)",
        ]
    ]
    assert "version 3 in lake (rows: 1 removed)" in await sql(
        "DELETE FROM silver.moves WHERE amount > 999999.5"
    )
    assert "version 4 in lake (rows: 2 updated)" in await sql(
        "UPDATE silver.moves SET state = 'posted', amount = amount * 1.1 WHERE company_id = 1"
    )
    assert await rows(
        "SELECT id, amount, state FROM silver.moves WHERE company_id = 1 ORDER BY id"
    ) == [
        ["1", "110.11", "posted"],
        ["2", "-110.06", "posted"],  # -110.055 rounded half away from zero
    ]
    merged = await sql(
        "MERGE INTO silver.moves AS t USING (SELECT * FROM (VALUES\n"
        "(3, 2, 0.03::DECIMAL(18,2), 'posted', 'u'), (4, 2, 0::DECIMAL(18,2), NULL, 'd'),\n"
        "(6, 1, 6.66::DECIMAL(18,2), 'draft', 'i')) AS v(id, company_id, amount, state, op)) AS s\n"
        "ON t.id = s.id WHEN MATCHED AND s.op = 'd' THEN DELETE\n"
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    assert "version 5 in lake (rows: 1 added, 1 updated, 1 removed)" in merged
    assert await rows("SELECT id, amount FROM silver.moves ORDER BY id") == [
        ["1", "110.11"],
        ["2", "-110.06"],
        ["3", "0.03"],
        ["6", "6.66"],
    ]

    # A statement that fails half-way (its 250,000th row, after batches went to the
    # writer) commits nothing.
    failed = await kernel.run(
        "%%sql\nINSERT INTO silver.moves (id, company_id, amount)\n"
        "SELECT CASE WHEN range = 250000 THEN error('row 250000 is bad') ELSE range END, 1, 1\n"
        "FROM range(300000)"
    )
    assert failed.status == "error" and "row 250000 is bad" in failed.stderr, failed.everything
    assert lake.version("silver.moves") == 5
    refused = await kernel.run("%sql DROP TABLE silver.moves")
    assert refused.status == "error" and "not dropped from %sql" in refused.stderr
    assert len([line for line in refused.stderr.splitlines() if line.strip()]) == 1
    assert lake.version("silver.moves") == 5

    # Types Delta has no equal for are written as the nearest it has, values intact.
    await sql(
        "CREATE TABLE silver.kinds AS SELECT 200::UTINYINT AS small, "
        "18446744073709551615::UBIGINT AS big, TIME '10:30:00' AS clock, now() AS stamp"
    )
    assert await rows(
        "SELECT small, big, clock, typeof(small), typeof(big), typeof(stamp) FROM silver.kinds"
    ) == [
        [
            "200",
            "18446744073709551615",
            "10:30:00",
            "SMALLINT",
            "DECIMAL(20,0)",
            "TIMESTAMP WITH TIME ZONE",
        ]
    ]

    # Time travel: by version, by time, by run.
    lake.write(
        "silver.moves",
        lake.read("silver.moves", version=1).slice(0, 1),
        writer=WriterInfo(pipeline="close", run_id="r-close-1", step="load", attempt=1),
    )
    assert await rows("SELECT count(*) FROM lake_at('silver.moves', 1)") == [["3"]]
    assert await rows(
        f"SELECT count(*) FROM lake_at('silver.moves', TIMESTAMPTZ '{after_create.isoformat()}')"
    ) == [["3"]]
    assert await rows("SELECT count(*) FROM lake_at_run('silver.moves', 'r-close-1')") == [["5"]]
    assert await rows("SELECT count(*) FROM silver.moves") == [["5"]]  # the new version shows
    for query, says in (
        ("SELECT * FROM lake_at('silver.moves', 42)", "silver.moves has versions 0 to 6, not 42"),
        ("SELECT * FROM lake_at_run('silver.moves', 'r-other')", "run r-other wrote no version"),
        ("SELECT * FROM lake_at('silver.nope', 1)", "no lake table silver.nope in lake"),
    ):
        ran = await kernel.run(f"%sql {query}")
        assert ran.status == "error" and says in ran.stderr, ran.everything

    assert "version 7 in lake (rows: 5 removed)" in await sql("TRUNCATE silver.moves")
    operations = [v.operation for v in lake.versions("silver.moves")]
    assert operations == [
        "DELETE",
        "WRITE",
        "MERGE",
        "UPDATE",
        "DELETE",
        "WRITE",
        "WRITE",
        "CREATE TABLE",
    ] or (operations[0] == "DELETE" and len(operations) == 8)


async def test_python_writes_and_reads_with_the_kernels_lake(
    kernels: Kernels, home: Path, jp_root_dir: Path, workbench: Workbench
) -> None:
    (jp_root_dir / "reports").mkdir()
    kernel = await kernels.start("reports/close.ipynb")
    lake = Lake.at(str(home / "lake"))
    got = await kernel.value(
        "from decimal import Decimal\nimport json, pandas as pd\n"
        "from workbench_kernels import lake\n"
        "moves = pd.DataFrame({'id': [1, 2, 3], 'company_id': [1, 1, 2],\n"
        "    'amount': [Decimal('10.10'), Decimal('-10.05'), Decimal('0.01')]})\n"
        "first = lake.write('bronze.moves', moves, partition_by=['company_id'])\n"
        "changes = pd.DataFrame({'id': [2, 3, 4], 'company_id': [1, 2, 2],\n"
        "    'amount': [Decimal('0'), Decimal('0.03'), Decimal('4.44')], '_op': ['d', 'u', 'i']})\n"
        "merged = lake.merge('bronze.moves', changes, keys=['id'], delete_marker=('_op', 'd'))\n"
        "totals = lake.sql('SELECT company_id, sum(amount) AS amount FROM bronze.moves '\n"
        "    'GROUP BY 1')\n"
        "gold = lake.write('gold.totals', totals, mode='overwrite')\n"
        "then = lake.read('bronze.moves', version=first.version).sort_values('id')\n"
        "now = lake.read('bronze.moves').sort_values('id')\n"
        "print(json.dumps({'versions': [first.version, merged.version, gold.version],\n"
        "    'merged': [merged.rows_added, merged.rows_updated, merged.rows_removed],\n"
        "    'then': [str(a) for a in then['amount']], 'now': [str(a) for a in now['amount']],\n"
        "    'history': list(lake.versions('bronze.moves')['operation']),\n"
        "    'total': str(lake.table('gold.totals').aggregate('sum(amount)').fetchone()[0]),\n"
        "    'tables': {t: int(v) for t, v in lake.tables()[['table', 'version']].values}}))"
    )
    assert got == {
        "versions": [1, 2, 1],
        "merged": [1, 1, 1],
        "then": ["10.10", "-10.05", "0.01"],
        "now": ["10.10", "0.03", "4.44"],
        "history": ["MERGE", "WRITE", "CREATE TABLE"],
        "total": "14.57",
        "tables": {"bronze.moves": 2, "gold.totals": 1},  # each table's current version
    }
    [merge, *_] = lake.versions("bronze.moves")
    assert merge.writer.tool == "python" and merge.writer.user
    assert merge.writer.notebook.endswith("reports/close.ipynb")  # the notebook wrote it
    # A DuckDB relation written from Python has lineage: its SQL.
    graph = await _lineage(
        LineageService(workbench, local_principal()), "lake", "gold.totals", column="amount"
    )
    assert {(e.source.name, e.source_column, e.job) for e in graph.edges} == {
        ("bronze.moves", "amount", "notebook:reports/close.ipynb")
    }


async def test_lake_sql_from_threads_while_the_notebook_writes(
    kernels: Kernels, home: Path, workbench: Workbench
) -> None:
    """A notebook reading tables in a thread pool (concurrent.futures over tables) while
    its main thread writes: every read answers, with the rows of a version (never an
    error from a DuckDB connection used by two threads at once)."""
    kernel = await kernels.start()
    got = await kernel.value(
        "import json, concurrent.futures as cf, pandas as pd\n"
        "from workbench_kernels import lake\n"
        "for name in ('a', 'b', 'c'):\n"
        "    lake.write(f'silver.{name}', pd.DataFrame({'id': range(100)}))\n"
        "def count(name):\n"
        "    seen = set()\n"
        "    for _ in range(40):\n"
        "        seen.add(lake.sql(f'SELECT count(*) FROM silver.{name}').fetchone()[0])\n"
        "    return sorted(seen)\n"
        "with cf.ThreadPoolExecutor(3) as pool:\n"
        "    futures = [pool.submit(count, n) for n in ('a', 'b', 'c')]\n"
        "    for i in range(5):\n"
        "        lake.write('silver.a', pd.DataFrame({'id': [1000 + i]}))\n"
        "        lake.sql('SELECT count(*) FROM silver.b').fetchone()\n"
        "    seen = [f.result() for f in futures]\n"
        "print(json.dumps({'seen': seen, 'a': lake.sql('SELECT count(*) FROM silver.a')\n"
        "    .fetchone()[0], 'tables': len(lake.tables())}))"
    )
    assert got["a"] == 105 and got["tables"] == 3
    a, b, c = got["seen"]
    assert set(a) <= set(range(100, 106)) and b == [100] and c == [100]
