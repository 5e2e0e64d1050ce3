"""%sql, %odoo and %workbench in a real kernel started by a real server (issue: connections)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.kernels import KernelSession, workbench_kernel
from tests.support.odoo_server import OdooServer
from tests.support.openlineage import validate_event
from tests.support.postgres import postgres_settings
from tests.support.servers import workbench_server
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.core import Workbench
from workbench_server.principal import local_principal

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def jp_server_config(home: Path, workbench_kernelspec: None):
    events = home.parent / "openlineage.jsonl"  # where the server sends lineage events
    return workbench_server(
        home, openlineage_transport={"type": "file", "log_file_path": str(events), "append": True}
    )


@pytest.fixture
def connections(workbench: Workbench, odoo_db: str, odoo_api: OdooServer) -> ConnectionService:
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db)))
    service.create(
        ConnectionCreate(
            name="odoo_api",
            settings=odoo_api.settings(),
        )
    )
    service.create(
        ConnectionCreate(
            name="wrong_pw", settings=postgres_settings(odoo_db, password="not-the-password")
        )
    )
    service.create(
        ConnectionCreate(
            name="no_host", settings=postgres_settings(odoo_db, host="no-such-host.invalid")
        )
    )
    return service


@pytest.fixture
def segments(home: Path, odoo_db: str) -> dict[int, str]:
    """A bronze lake table keyed by Odoo partner id."""
    with psycopg.connect(odoo_db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM res_partner ORDER BY id LIMIT 60")]
    mapping = {pid: ("key" if pid % 3 == 0 else "regular") for pid in ids}
    folder = home / "lake" / "bronze" / "partner_segments"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"partner_id": list(mapping), "segment": list(mapping.values())}),
        folder / "part-0.parquet",
    )
    return mapping


@pytest.fixture
def kernel(
    jp_serverapp, jp_asyncio_loop, http_server_client, connections, segments
) -> Iterator[KernelSession]:
    """A workbench kernel started by the server (pytest-jupyter runs no async fixtures).

    ``http_server_client`` makes the server listen, so the kernel can reach its API.
    """
    with workbench_kernel(jp_serverapp, jp_asyncio_loop) as session:
        yield session


async def test_sql_odoo_lake_join_and_odoo_api(
    kernel: KernelSession, odoo_db: str, segments: dict[int, str]
) -> None:
    with psycopg.connect(odoo_db) as conn:
        posted = conn.execute("SELECT count(*) FROM account_move WHERE state='posted'").fetchone()[
            0
        ]
        customers = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM res_partner WHERE customer_rank > 0 AND active ORDER BY id"
            )
        ]

    got = await kernel.value(
        "r = %sql odoo SELECT count(*) AS n FROM account_move WHERE state='posted'\n"
        "print(int(r.DataFrame()['n'][0]))"
    )
    assert got == posted

    joined = await kernel.value(
        "r = %sql lake SELECT s.segment, count(*) AS n FROM odoo.public.res_partner p "
        "JOIN bronze.partner_segments s ON s.partner_id = p.id GROUP BY 1 ORDER BY 1\n"
        "import json; print(json.dumps(dict(zip(r.DataFrame()['segment'], "
        "map(int, r.DataFrame()['n'])))))"
    )
    expected: dict[str, int] = {}
    for segment in segments.values():
        expected[segment] = expected.get(segment, 0) + 1
    assert joined == expected

    cell = await kernel.run("%%sql lake\nSELECT count(*) AS n FROM partner_segments")
    assert cell.status == "ok" and "60" in str(cell.displays)
    # A cell on Odoo's database leaves the lake as the notebook's connection.
    cell = await kernel.run("%%sql odoo\nSELECT count(*) AS n FROM res_partner")
    assert cell.status == "ok", cell.everything
    after = await kernel.run("%sql SELECT count(*) AS n FROM duckdb_tables()")
    assert after.status == "ok", after.everything

    api_ids = await kernel.value(
        "df = %odoo search_read res.partner --domain \"[('customer_rank','>',0)]\" "
        "--fields name,email\nimport json; print(json.dumps(sorted(map(int, df.index))))"
    )
    assert api_ids == customers

    listed = await kernel.run("%workbench connections")
    assert listed.status == "ok"
    for name in ("lake", "odoo", "odoo_api"):
        assert name in str(listed.displays)


async def test_connection_added_later_needs_no_restart(
    kernel: KernelSession, connections: ConnectionService, odoo_db: str
) -> None:
    connections.create(ConnectionCreate(name="late", settings=postgres_settings(odoo_db)))
    got = await kernel.value("r = %sql late SELECT 41 + 1 AS n\nprint(int(r.DataFrame()['n'][0]))")
    assert got == 42


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("%sql wrong_pw SELECT 1", "connection 'wrong_pw': connection failed: "),
        ("%sql wrong_pw SELECT 1", "password authentication failed"),
        ("%sql no_host SELECT 1", "connection 'no_host': failed to resolve host"),
        ("%sql nope SELECT 1", "no connection named 'nope'; you can use: lake, no_host, odoo"),
        ("%sql odoo SELEC 1", "connection 'odoo': syntax error at or near \"SELEC\""),
        # The database's suggestion for a mistyped name is kept, on the one line.
        (
            "%sql odoo SELECT nam FROM res_partner",
            'column "nam" does not exist HINT: Perhaps you meant to reference the column '
            '"res_partner.name". (LINE 1: SELECT nam FROM res_partner)',
        ),
        (
            "%sql lake SELECT amount_residul FROM (SELECT 1 AS amount_residual)",
            'not found in FROM clause! Candidate bindings: "amount_residual" (LINE 1:',
        ),
        (
            "%sql lake SELECT * FROM duckdb_tabels()",
            'Did you mean "duckdb_tables"?',
        ),
        (
            "%odoo search_read res.partner --domain \"[('nickname','=',1)]\"",
            "connection 'odoo_api': ValueError: Invalid field res.partner.nickname",
        ),
    ],
)
async def test_errors_are_one_line_and_name_the_connection(
    kernel: KernelSession, code: str, expected: str
) -> None:
    outcome = await kernel.run(code)
    assert outcome.status == "error"
    shown = outcome.stderr + " ".join(outcome.error.get("traceback") or [])
    assert expected in shown, outcome.everything
    assert "Traceback" not in outcome.everything
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr


async def test_no_secret_leaks_anywhere(
    kernel: KernelSession,
    jp_fetch,
    home: Path,
    odoo_db: str,
    odoo_api: OdooServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = [urlsplit(odoo_db).password, odoo_api.api_key, "not-the-password"]
    await kernel.run("%sql odoo SELECT 1")
    await kernel.run("%sql wrong_pw SELECT 1")
    await kernel.run("%odoo search_count res.partner")
    await kernel.run("%workbench connections")
    await kernel.run("%sql --connections")
    await kernel.run("%sql lake SELECT * FROM duckdb_secrets()")
    await kernel.run("%sql lake SELECT * FROM duckdb_databases()")
    response = await jp_fetch("workbench", "api", "connections")
    seen = [response.body.decode(), caplog.text, *(o.everything for o in kernel.seen)]
    for proc in psutil.process_iter(["cmdline"]):
        seen.append(" ".join(proc.info["cmdline"] or []))
    for path in _kernel_visible_files(home, tmp_path):
        seen.append(path.read_bytes().decode(errors="replace"))
    for secret in secrets:
        assert secret
        leaks = [text[:200] for text in seen if secret in text]
        assert leaks == [], f"secret found in: {leaks}"


def _kernel_visible_files(home: Path, tmp_path: Path) -> list[Path]:
    from jupyter_core.paths import jupyter_runtime_dir

    roots = [home, tmp_path, Path(jupyter_runtime_dir())]
    files = []
    for root in roots:
        files.extend(p for p in root.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000)
    return files


async def test_lake_on_s3(
    kernel: KernelSession, connections: ConnectionService, s3_endpoint: str
) -> None:
    import io

    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="finance-lake")
    for part in range(2):
        buffer = io.BytesIO()
        pq.write_table(pa.table({"n": list(range(part * 10, part * 10 + 10))}), buffer)
        s3.put_object(
            Bucket="finance-lake",
            Key=f"prod/silver/numbers/day={part}/p.parquet",
            Body=buffer.getvalue(),
        )
    connections.create(
        ConnectionCreate(
            name="s3lake",
            settings={
                "kind": "lake",
                "location": "s3://finance-lake/prod",
                "endpoint_url": s3_endpoint,
                "access_key_id": "wb-key",
                "secret_access_key": "wb-secret",
            },
        )
    )
    got = await kernel.value(
        "r = %sql s3lake SELECT count(*) AS n, sum(n) AS total, count(DISTINCT day) AS days "
        "FROM silver.numbers\nprint(list(map(int, r.DataFrame().iloc[0])))"
    )
    assert got == [20, sum(range(20)), 2]
    leak = await kernel.run("%sql s3lake SELECT * FROM duckdb_secrets()")
    assert "wb-secret" not in leak.everything


async def test_datasets_written_later_are_queryable_at_once(
    kernel: KernelSession, home: Path
) -> None:
    first = await kernel.run("%sql lake SELECT count(*) FROM partner_segments")
    assert first.status == "ok"
    folder = home / "lake" / "silver" / "late_arrivals"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2, 3]}), folder / "part-0.parquet")
    got = await kernel.value(
        "r = %sql lake SELECT sum(x) AS s FROM silver.late_arrivals\n"
        "print(int(r.DataFrame()['s'][0]))"
    )
    assert got == 6
    # A second layer with the same name makes the bare name ambiguous: it is dropped.
    (home / "lake" / "gold" / "late_arrivals").mkdir(parents=True)
    pq.write_table(pa.table({"x": [10]}), home / "lake" / "gold" / "late_arrivals" / "p.parquet")
    ambiguous = await kernel.run("%sql lake SELECT * FROM late_arrivals")
    assert ambiguous.status == "error" and "late_arrivals" in ambiguous.stderr
    assert (
        await kernel.value(
            "r = %sql lake SELECT sum(x) AS s FROM gold.late_arrivals\n"
            "print(int(r.DataFrame()['s'][0]))"
        )
    ) == 10


async def test_queries_count_as_catalog_usage(
    kernel: KernelSession, workbench: Workbench, connections: ConnectionService
) -> None:
    from workbench_server.catalog import CatalogService

    catalog = CatalogService(workbench, local_principal())
    catalog.scan("odoo")
    for _ in range(2):
        ran = await kernel.run("%sql odoo SELECT count(*) FROM account_move WHERE state = 'posted'")
        assert ran.status == "ok", ran.everything
    joined = await kernel.run(
        "%%sql lake\nWITH p AS (SELECT id FROM odoo.public.res_partner) SELECT count(*) FROM p"
    )
    assert joined.status == "ok", joined.everything

    def usage(table: str) -> int:
        return catalog.find("odoo", "public", table).usage_count

    for _ in range(60):  # the kernel reports every few seconds, never during a query
        if usage("account_move") == 2 and usage("res_partner") == 1:
            break
        await asyncio.sleep(0.5)
    assert (usage("account_move"), usage("res_partner"), usage("account_move_line")) == (2, 1, 0)


async def reported_lineage(service, namespace: str, name: str, edges: int = 1, **query):
    """The lineage graph once the kernel has reported at least ``edges`` of its edges (off
    the query path, in seconds, statement by statement)."""
    for _ in range(60):
        graph = service.graph(namespace, name, **query)
        if len(graph.edges) >= edges:
            return graph
        await asyncio.sleep(0.5)
    raise AssertionError(f"no lineage for {namespace}:{name} after 30 s")


async def test_tables_written_with_sql_get_their_lineage(
    kernel: KernelSession, workbench: Workbench, connections: ConnectionService, odoo_db: str
) -> None:
    from workbench_server.lineage.service import LineageService

    ran = await kernel.run(
        "%%sql lake\nCREATE TABLE posted_by_partner AS\n"
        "SELECT partner_id, count(*) AS moves FROM odoo.public.account_move\n"
        "WHERE state = 'posted' GROUP BY partner_id"
    )
    assert ran.status == "ok", ran.everything
    service = LineageService(workbench, local_principal())
    graph = await reported_lineage(service, "lake", "posted_by_partner", column="partner_id")
    [edge] = graph.edges
    assert (edge.source.namespace, edge.source.name, edge.source_column) == (
        "odoo",
        "public.account_move",
        "partner_id",
    )
    assert (edge.transformation, edge.job) == ("identity", "kernel")
    # The statement was one OpenLineage run of the job, sent as START and COMPLETE.
    sent = workbench.settings.home.parent / "openlineage.jsonl"
    for _ in range(40):  # sent off the request's path, at once
        if sent.exists() and len(sent.read_text().splitlines()) >= 2:
            break
        await asyncio.sleep(0.25)
    events = [validate_event(json.loads(line)) for line in sent.read_text().splitlines()]
    assert [(e.job.name, e.eventType.value) for e in events] == [
        ("kernel", "START"),
        ("kernel", "COMPLETE"),
    ]
    assert events[0].run.runId == events[1].run.runId
    [output] = events[1].outputs
    assert (output.namespace, output.name) == ("lake", "posted_by_partner")
    # Odoo's table as OpenLineage names PostgreSQL tables; the connection rides along.
    pg = urlsplit(odoo_db)
    account_move = (f"postgres://{pg.hostname}:{pg.port}", f"{pg.path[1:]}.public.account_move")
    [source] = output.facets["columnLineage"].fields["partner_id"].inputFields
    assert (source.namespace, source.name, source.field) == (*account_move, "partner_id")
    [read] = events[1].inputs
    assert (read.namespace, read.name) == account_move
    assert read.facets["dataSource"].name == "odoo"
    assert [(i.namespace, i.name) for i in read.facets["symlinks"].identifiers] == [
        ("odoo", "public.account_move")
    ]


async def test_sql_handed_to_duckdb_from_python_gets_lineage(
    kernel: KernelSession, workbench: Workbench, connections: ConnectionService
) -> None:
    from workbench_server.lineage.service import LineageService

    ran = await kernel.run(
        "import duckdb\n"
        "con = duckdb.connect()\n"
        "con.execute('CREATE TABLE moves AS SELECT 1 AS id, 10.0 AS amount')\n"
        'con.execute(f"COPY (SELECT id, amount * 2 AS doubled FROM moves) '
        "TO '{lake_root}/silver/doubled.parquet'\")\n"
        'duckdb.sql(f"COPY (SELECT doubled FROM '
        "read_parquet('{lake_root}/silver/doubled.parquet')) "
        "TO '{lake_root}/gold/doubled_total.parquet'\")"
    )
    assert ran.status == "ok", ran.everything
    # A cell that fails after writing reports nothing: its work is not to be trusted.
    failed = await kernel.run(
        "con.execute(f\"COPY (SELECT 1 AS x) TO '{lake_root}/gold/never.parquet'\")\n"
        "raise RuntimeError('after the write')"
    )
    assert failed.status == "error"
    service = LineageService(workbench, local_principal())
    graph = await reported_lineage(
        service, "lake", "gold.doubled_total", edges=2, column="doubled", depth=3
    )
    hops = {(e.source.name, e.source_column, e.target.name, e.transformation) for e in graph.edges}
    assert hops == {
        ("silver.doubled", "doubled", "gold.doubled_total", "identity"),
        ("moves", "amount", "silver.doubled", "expression"),
    }
    assert service.graph("lake", "gold.never").edges == []  # the failed cell recorded none


@pytest.fixture
def odoo_amounts_db(pg_conninfo: str) -> str:
    """The demo dataset with Odoo's own column types for amounts.

    Odoo creates every ``fields.Monetary`` and every ``fields.Float`` with digits as
    ``numeric`` without a precision; the demo declares them ``numeric(16,2)``, which
    DuckDB's scanner reads exactly and so hid the problem.
    """
    from workbench_server.demo import build_dataset, write_postgres

    write_postgres(pg_conninfo, build_dataset())
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'numeric'"
        ).fetchall()
        for table, column in columns:
            conn.execute(
                psycopg.sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE numeric").format(
                    psycopg.sql.Identifier(table), psycopg.sql.Identifier(column)
                )
            )
    return pg_conninfo


async def test_odoo_amounts_through_the_lake_are_exact(
    kernel: KernelSession,
    connections: ConnectionService,
    odoo_amounts_db: str,
    segments: dict[int, str],
) -> None:
    connections.create(ConnectionCreate(name="odoo17", settings=postgres_settings(odoo_amounts_db)))
    assert (await kernel.run("%workbench refresh")).status == "ok"
    with psycopg.connect(odoo_amounts_db) as conn:
        totals = conn.execute(
            "SELECT sum(l.balance), sum(l.debit), sum(l.credit), sum(l.amount_residual) "
            "FROM account_move_line l JOIN account_move m ON m.id = l.move_id "
            "WHERE m.state = 'posted'"
        ).fetchone()
        by_partner = dict(
            conn.execute(
                "SELECT partner_id, sum(balance) FROM account_move_line "
                "WHERE partner_id IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
    assert totals[0] == 0 and totals[1] == totals[2] != 0  # debits = credits, to the cent

    got = await kernel.value(
        "r = %sql lake SELECT sum(l.balance) AS balance, sum(l.debit) AS debit, "
        "sum(l.credit) AS credit, sum(l.amount_residual) AS residual, "
        "typeof(sum(l.balance)) AS type FROM odoo17.public.account_move_line l "
        "JOIN odoo17.public.account_move m ON m.id = l.move_id WHERE m.state = 'posted'\n"
        "import json; print(json.dumps([str(v) for v in r.DataFrame().iloc[0]]))"
    )
    *sums, type_ = got
    assert type_.startswith("DECIMAL"), got
    assert [Decimal(v) for v in sums] == list(totals), got
    assert Decimal(sums[0]) == 0 and Decimal(sums[1]) - Decimal(sums[2]) == 0

    # The README's example: Odoo's journal items joined with a lake table.
    per_segment = await kernel.value(
        "r = %sql lake SELECT s.segment, sum(l.balance) AS total FROM "
        "odoo17.public.account_move_line l JOIN bronze.partner_segments s USING (partner_id) "
        "GROUP BY 1\n"
        "import json; print(json.dumps({s: str(t) for s, t in zip(r.DataFrame()['segment'], "
        "r.DataFrame()['total'])}))"
    )
    expected: dict[str, Decimal] = {}
    for partner, segment in segments.items():
        if partner in by_partner:
            expected[segment] = expected.get(segment, Decimal(0)) + by_partner[partner]
    assert {s: Decimal(t) for s, t in per_segment.items()} == expected
    # PostgreSQL's default schema still needs no naming.
    short = await kernel.value(
        "r = %sql lake SELECT sum(balance) AS b FROM odoo17.account_move_line\n"
        "print(json.dumps(str(r.DataFrame()['b'][0])))"
    )
    assert Decimal(short) == 0


async def test_a_notebooks_lineage_job_is_its_path_in_the_server(
    jp_serverapp, jp_root_dir: Path, http_server_client, workbench: Workbench, connections, home
) -> None:
    """JupyterLab's kernels know their notebook by absolute path (JPY_SESSION_NAME); the
    job is ``notebook:<path>`` as the server names it, in lineage and OpenLineage alike."""
    from workbench_server.lineage.service import LineageService

    (jp_root_dir / "reports").mkdir()
    session = await jp_serverapp.session_manager.create_session(
        path="reports/close.ipynb", name="close.ipynb", type="notebook", kernel_name="workbench"
    )
    kernel_id = session["kernel"]["id"]
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=90)
        ran = await KernelSession(client).run(
            "%%sql lake\nCREATE TABLE posted AS SELECT id FROM odoo.public.account_move"
        )
        assert ran.status == "ok", ran.everything
        service = LineageService(workbench, local_principal())
        graph = await reported_lineage(service, "lake", "posted")
    finally:
        client.stop_channels()
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
    assert {e.job for e in graph.edges} == {"notebook:reports/close.ipynb"}
    sent = home.parent / "openlineage.jsonl"
    for _ in range(40):
        if sent.exists() and len(sent.read_text().splitlines()) >= 2:
            break
        await asyncio.sleep(0.25)
    events = [validate_event(json.loads(line)) for line in sent.read_text().splitlines()]
    assert {e.job.name for e in events} == {"notebook:reports/close.ipynb"}


async def test_a_query_on_a_named_connection_does_not_announce_a_switch(
    kernel: KernelSession,
) -> None:
    """``%sql odoo ...`` runs there and the lake stays current: jupysql's "Switching to
    connection" was printed on every such query, though nothing switched."""
    for code in ("%sql odoo SELECT 1 AS n", "%%sql odoo\nSELECT 1 AS n", "%sql lake SELECT 1"):
        ran = await kernel.run(code)
        assert ran.status == "ok", ran.everything
        assert "Switching to connection" not in ran.everything, code
    current = await kernel.value(
        "import json\nfrom sql.connection import ConnectionManager\n"
        "print(json.dumps(ConnectionManager.current.alias))"
    )
    assert current == "lake"


async def test_sql_timings_reach_the_servers_query_histogram(
    kernel: KernelSession, jp_http_port, jp_base_url, home: Path
) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from tornado.httpclient import AsyncHTTPClient

    token = (home / "metrics-token").read_text().strip()

    async def histogram() -> dict[tuple[str, str, str], float]:
        response = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}workbench/metrics",
            headers={"Authorization": f"Bearer {token}"},
        )
        return {
            (s.name, s.labels["query_type"], s.labels["data_source"]): s.value
            for family in text_string_to_metric_families(response.body.decode())
            if family.name == "workbench_query_duration_seconds"
            for s in family.samples
            if not s.name.endswith("_bucket")
        }

    before = await histogram()
    for cell in (
        "%sql odoo SELECT pg_sleep(0.3), 1",
        "%%sql lake\nWITH p AS (SELECT 1 AS one) SELECT * FROM p",
        "%sql odoo",  # a switch runs no query: not timed
    ):
        ran = await kernel.run(cell)
        assert ran.status == "ok", ran.everything

    def grew(found, key: tuple[str, str, str]) -> float:
        return found.get(key, 0.0) - before.get(key, 0.0)

    for _ in range(60):  # reported every few seconds, off the query's path
        found = await histogram()
        if grew(found, ("workbench_query_duration_seconds_count", "select", "lake")):
            break
        await asyncio.sleep(0.5)
    assert grew(found, ("workbench_query_duration_seconds_count", "select", "postgres")) == 1
    assert grew(found, ("workbench_query_duration_seconds_sum", "select", "postgres")) >= 0.3
    assert grew(found, ("workbench_query_duration_seconds_count", "select", "lake")) == 1
    assert not any(grew(found, key) for key in found if key[1] == "other")
