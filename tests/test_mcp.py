"""Agents through MCP: the SDK's own client against a real workbench.

Over streamable HTTP, against a real jupyter-server with the workbench extension (its
token, a real Temporal and worker for pipeline runs), and against a real JupyterHub's
workbench service with two users' own hub API tokens (what one may see of the other's
connections, pii masked for a non-owner); over stdio, ``workbench mcp`` as a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pyarrow as pa
import pytest
import requests
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.support import mcp_sdk_peer
from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from workbench_server.errors import NotFoundError
from workbench_server.lake import Lake
from workbench_server.settings import WorkbenchSettings


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


def mcp_client(url: str, token: str | None) -> Client:
    """The SDK's client over streamable HTTP, sending ``token`` as Jupyter expects it."""
    headers = {"Authorization": f"token {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0))
    return Client(streamable_http_client(url, http_client=http), raise_exceptions=True)


def result(answer: Any) -> dict[str, Any]:
    """A tool's structured answer; fails with the tool's message if it was an error."""
    assert not answer.is_error, answer.content[0].text
    return json.loads(answer.content[0].text)


def refusal(answer: Any) -> str:
    assert answer.is_error, answer.content[0].text[:300]
    return answer.content[0].text


@pytest.fixture
def mcp_url(jp_serverapp, jp_http_port: int, jp_base_url: str, http_server_client) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}workbench/mcp"


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture
def lake_tables(home: Path) -> Lake:
    lake = Lake.default(WorkbenchSettings.from_env(home))
    lake.write(
        "silver.invoices",
        pa.table({"id": [1, 2, 3], "partner": ["Azure", "Gemini", "Azure"], "amount": [10, 20, 5]}),
    )
    return lake


async def test_tools_search_describe_query_and_audit(
    mcp_url: str, token: str, jp_fetch, lake_tables: Lake, home: Path
) -> None:
    await jp_fetch(
        "workbench", "api", "catalog", "sources", "lake", "scans", method="POST", body=b""
    )
    async with mcp_client(mcp_url, token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {
            "search_catalog",
            "describe_table",
            "preview_table",
            "lineage",
            "query_sql",
            "list_pipelines",
            "run_pipeline",
            "run_status",
            "list_approvals",
            "decide_approval",
        } <= names
        found = result(await client.call_tool("search_catalog", {"query": "invoices"}))
        assert found["tables"][0]["ref"] == "lake.silver.invoices", found
        described = result(await client.call_tool("describe_table", {"table": "silver.invoices"}))
        assert [c["name"] for c in described["columns"]] == ["id", "partner", "amount"]
        rows = result(
            await client.call_tool(
                "query_sql",
                {
                    "sql": "SELECT partner, sum(amount) AS total FROM silver.invoices i "
                    "GROUP BY partner ORDER BY partner"
                },
            )
        )
        assert rows["rows"] == [["Azure", 15], ["Gemini", 20]]
        assert [c["name"] for c in rows["columns"]] == ["partner", "total"]
        capped = result(
            await client.call_tool(
                "query_sql", {"sql": "SELECT * FROM range(5000) t(x)", "limit": 10}
            )
        )
        assert capped["row_count"] == 10 and capped["notes"] == ["first 10 rows"]
        schema = await client.read_resource("workbench://tables/silver.invoices/schema")
        assert [c["name"] for c in json.loads(schema.contents[0].text)["columns"]] == [
            "id",
            "partner",
            "amount",
        ]

    from workbench_server.agents.audit import calls
    from workbench_server.core import Workbench
    from workbench_server.principal import local_principal

    core = Workbench(WorkbenchSettings.from_env(home))
    try:
        deadline = time.monotonic() + 10  # the server writes its calls within a second
        while len(audited := calls(core, local_principal())) < 5:
            assert time.monotonic() < deadline, audited
            await asyncio_sleep(0.1)
    finally:
        core.close()
    tools = [c.tool for c in reversed(audited)]
    assert tools == [
        "search_catalog",
        "describe_table",
        "query_sql",
        "query_sql",
        "resource:table_schema",
    ]
    assert all(c.outcome == "ok" and c.transport == "http" for c in audited)
    assert audited[1].arguments["limit"] == 10  # what was asked, never what came back
    assert "rows" not in json.dumps([c.arguments for c in audited])


async def test_arguments_out_of_shape_get_a_line_an_agent_can_act_on(
    mcp_url: str, token: str, lake_tables: Lake
) -> None:
    """A wrong type answered pydantic's report ("1 validation error for query_sqlArguments
    ... input_value='ten' ... errors.pydantic.dev"), and limit -5 gave one row: both are
    now one plain line in the tool's result (isError), and the bounds are in the schema."""
    async with mcp_client(mcp_url, token) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        limit = tools["query_sql"].input_schema["properties"]["limit"]
        assert (limit["minimum"], limit["maximum"]) == (1, 1000)
        sql = "SELECT * FROM silver.invoices"
        asked = [
            ("query_sql", {"sql": sql, "limit": -5}, "limit must be between 1 and 1000"),
            ("query_sql", {"sql": sql, "limit": 5000}, "limit must be between 1 and 1000"),
            ("query_sql", {"sql": sql, "limit": "ten"}, "limit must be an integer"),
            ("query_sql", {"limit": 5}, "sql is required"),
            ("query_sql", {"sql": sql, "timeout_s": 0},
             "timeout_s must be more than 0 and at most 30"),
            ("preview_table", {"table": "silver.invoices", "limit": 0},
             "limit must be between 1 and 200"),
            ("lineage", {"table": "silver.invoices", "direction": "sideways"},
             "direction must be one of 'upstream' or 'downstream'"),
            ("decide_approval", {"run_id": "r", "step_id": "s", "approve": "perhaps"},
             "approve must be true or false"),
        ]  # fmt: skip
        for tool, arguments, said in asked:
            assert refusal(await client.call_tool(tool, arguments)) == said, (tool, arguments)
        # in bounds, as before
        rows = {"sql": "SELECT * FROM range(5) t(x)", "limit": 1}
        assert result(await client.call_tool("query_sql", rows))["row_count"] == 1


WRITES = [
    "DELETE FROM silver.invoices",
    "INSERT INTO silver.invoices VALUES (4, 'x', 1)",
    "UPDATE silver.invoices SET amount = 0",
    "CREATE TABLE silver.copy AS SELECT * FROM silver.invoices",
    "DROP TABLE silver.invoices",
    "COPY silver.invoices TO '/tmp/out.csv'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "SET threads = 1",
    "WITH gone AS (DELETE FROM silver.invoices RETURNING *) SELECT * FROM gone",
    "SELECT * INTO silver.copy FROM silver.invoices",
]


async def test_statements_that_write_are_refused_and_files_stay_out_of_reach(
    mcp_url: str, token: str, jp_fetch, lake_tables: Lake, home: Path
) -> None:
    await jp_fetch(
        "workbench", "api", "catalog", "sources", "lake", "scans", method="POST", body=b""
    )
    async with mcp_client(mcp_url, token) as client:
        for sql in WRITES:
            message = refusal(await client.call_tool("query_sql", {"sql": sql}))
            assert "read-only" in message or "write" in message, (sql, message)
        two = refusal(await client.call_tool("query_sql", {"sql": "SELECT 1; SELECT 2"}))
        assert "exactly one statement" in two
        # The sandbox reads the tables the query names and nothing of the server's.
        for sql in (
            "SELECT * FROM read_text('/etc/passwd')",
            "SELECT * FROM read_parquet('/etc/*.parquet')",
            "SELECT * FROM query_table('__wb_t0')",
            "SELECT * FROM duckdb_views()",
        ):
            message = refusal(await client.call_tool("query_sql", {"sql": sql}))
            assert "root:" not in message and "are not run" in message, message
        # Whatever a function would read, the sandbox has no files to give it.
        for sql in (
            "SELECT content FROM (SELECT 1) t, read_text('/etc/passwd')",
            "SELECT read_blob('/etc/passwd') AS x",
        ):
            message = refusal(await client.call_tool("query_sql", {"sql": sql}))
            assert "root:" not in message, message
        unknown = refusal(
            await client.call_tool("query_sql", {"sql": "SELECT * FROM gold.nowhere"})
        )
        assert "no table gold.nowhere in the catalog of 'lake'" in unknown
    # Still three rows: nothing was written.
    assert lake_tables.read("silver.invoices").num_rows == 3
    # Each refusal is in the audit log, with what was asked and why it was refused.
    audited = await _audited(home, len(WRITES) + 4)
    delete = next(c for c in audited if c.arguments["sql"] == WRITES[0])
    assert (delete.outcome, delete.tool, delete.transport) == ("refused", "query_sql", "http")
    assert "DELETE" in delete.message


async def _audited(home: Path, at_least: int) -> list[Any]:
    """The audit log's rows, once the server has written ``at_least`` of them."""
    from workbench_server.agents.audit import calls
    from workbench_server.core import Workbench
    from workbench_server.principal import local_principal

    core = Workbench(WorkbenchSettings.from_env(home))
    try:
        deadline = time.monotonic() + 10  # the server writes its calls within a second
        while len(found := calls(core, local_principal())) < at_least:
            assert time.monotonic() < deadline, found
            await asyncio_sleep(0.1)
        return found
    finally:
        core.close()


async def test_tables_are_listed_as_resources_a_page_at_a_time(
    mcp_url: str, token: str, jp_fetch, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients that offer what resources/list gives (Claude Desktop's attach menu, the
    MCP Inspector) found no table there: the schemas were only a template."""
    from workbench_server.agents import server

    lake = Lake.default(WorkbenchSettings.from_env(home))
    for name in ("bills", "invoices", "payments"):
        lake.write(f"silver.{name}", pa.table({"id": [1, 2]}))
    await jp_fetch(
        "workbench", "api", "catalog", "sources", "lake", "scans", method="POST", body=b""
    )
    monkeypatch.setattr(server, "RESOURCES_PAGE", 2)  # the server runs in this process
    async with mcp_client(mcp_url, token) as client:
        first = await client.list_resources()
        assert first.next_cursor is not None
        second = await client.list_resources(cursor=first.next_cursor)
        assert second.next_cursor is None
        uris = [str(r.uri) for r in (*first.resources, *second.resources)]
        assert uris == [
            f"workbench://tables/lake.silver.{name}/schema"
            for name in ("bills", "invoices", "payments")
        ]
        assert {r.mime_type for r in first.resources} == {"application/json"}
        schema = await client.read_resource(uris[2])  # each as listed, it reads
        assert json.loads(schema.contents[0].text)["table"] == "lake.silver.payments"
        with pytest.raises(MCPError, match="cursor: pass the nextCursor of the last page"):
            await client.list_resources(cursor="'; DROP TABLE x")


async def test_a_batch_is_refused_in_one_line(mcp_url: str, token: str) -> None:
    """2025-03-26 allowed JSON-RPC batches (later versions do not): a client sending one
    got pydantic's report of four union members from the SDK's session path."""
    one = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"token {token}"}
    async with httpx2.AsyncClient(timeout=30) as http:
        for version in (None, "2025-03-26", "2026-07-28"):
            sent = headers | ({"MCP-Protocol-Version": version} if version else {})
            for body in (json.dumps([one, {**one, "id": 2}]), "\n  " + json.dumps([one])):
                answer = await http.post(mcp_url, content=body, headers=sent)
                assert answer.status_code == 400, (version, answer.text)
                assert answer.json() == {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": -32600,
                        "message": "JSON-RPC batches are not supported: send one request per POST",
                    },
                }


async def test_a_missing_or_bad_token_is_refused_with_401(mcp_url: str, token: str) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(timeout=30) as http:
        for auth in ({}, {"Authorization": "token not-the-token"}):
            answer = await http.post(mcp_url, json=body, headers=headers | auth)
            assert answer.status_code == 401, answer.text
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert "send a workbench token" in answer.json()["message"]
        ok = await http.post(
            mcp_url, json=body, headers=headers | {"Authorization": f"token {token}"}
        )
        assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "workbench"
        # The token goes with every request: no login cookie is handed to the agent's client
        # (a REST call with the same token gets one, for a browser's next requests).
        assert "set-cookie" not in ok.headers and not http.cookies
        rest = await http.get(
            mcp_url.replace("/workbench/mcp", "/workbench/api/version"),
            headers={"Authorization": f"token {token}"},
        )
        assert rest.status_code == 200 and "set-cookie" in rest.headers
    with pytest.raises(BaseException) as refused:  # the SDK raises a group of errors
        async with mcp_client(mcp_url, "wrong") as client:
            await client.list_tools()
    # (The SDK's client reports any HTTP error status as one MCPError.)
    assert any(isinstance(e, MCPError) for e in _leaves(refused.value)), refused.value


async def test_the_servers_stream_answers_at_once(mcp_url: str, token: str) -> None:
    """A client opens the server's stream (GET, SSE) after initialize and may wait for its
    answer to learn whether the server offers one: it came only with the first event or
    keep-alive ping, 15 s later; an ASGI server sends the headers at once."""
    session_id = await _session_id(mcp_url, token)
    headers = {
        "Authorization": f"token {token}",
        "Mcp-Session-Id": session_id,
        "Mcp-Protocol-Version": "2025-06-18",
        "Accept": "text/event-stream",
    }
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as http:
        started = time.monotonic()
        async with http.stream("GET", mcp_url, headers=headers) as stream:
            waited = time.monotonic() - started
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        assert waited < 5, waited
        ended = await http.delete(mcp_url, headers=headers)
        assert ended.status_code == 200, ended.text


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


SPEC = """\
name: books
parameters:
  who: {type: string, default: world}
steps:
  - id: greet
    notebook: greet.ipynb
    kernel: python3
    parameters: {who: "{{ params.who }}"}
  - id: signoff
    kind: approval
    depends_on: [greet]
    message: "Sign off the books for {{ params.who }}"
    approvers: {users: [carol]}
"""


async def test_run_a_pipeline_read_its_status_and_decide_its_approval(
    mcp_url: str, token: str, jp_fetch, jp_root_dir: Path, worker, jp_serverapp
) -> None:
    write_notebook(jp_root_dir / "flows" / "greet.ipynb", "print(f'hello {who}')", "who = ''")
    (jp_root_dir / "flows" / "books.yaml").write_text(SPEC)
    await jp_fetch(
        "workbench",
        "api",
        "pipelines",
        "deploy",
        method="POST",
        body=json.dumps({"path": "flows/books.yaml"}),
    )
    async with mcp_client(mcp_url, token) as client:
        listed = result(await client.call_tool("list_pipelines", {}))["pipelines"]
        assert [(p["name"], p["may_operate"]) for p in listed] == [("books", True)]
        started = result(
            await client.call_tool("run_pipeline", {"name": "books", "parameters": {"who": "ai"}})
        )
        assert started["pipeline"] == "books" and started["parameters"] == {"who": "ai"}
        run_id = started["id"]
        # The run waits at its approval gate; the agent (an admin here) sees it and decides.
        deadline = time.monotonic() + 120
        while not (waiting := result(await client.call_tool("list_approvals", {}))["approvals"]):
            status = result(await client.call_tool("run_status", {"run_id": run_id}))
            assert status["status"] not in ("succeeded", "failed", "cancelled"), status
            assert time.monotonic() < deadline, status
            await asyncio_sleep(0.5)
        [gate] = waiting
        assert (gate["run_id"], gate["step_id"], gate["may_decide"]) == (run_id, "signoff", True)
        assert gate["message"] == "Sign off the books for ai"
        # Someone who may not see the pipeline cannot decide it, whatever they send.
        from workbench_server.agents.tools import AgentTools
        from workbench_server.principal import Principal

        core = jp_serverapp.web_app.settings["workbench"]
        with pytest.raises(NotFoundError, match="no run"):
            await AgentTools(core, Principal(name="mallory")).decide(run_id, "signoff", True)
        decided = result(
            await client.call_tool(
                "decide_approval",
                {"run_id": run_id, "step_id": "signoff", "approve": True, "reason": "tied out"},
            )
        )
        assert (decided["status"], decided["via"]) == ("approved", "mcp")
        again = refusal(
            await client.call_tool(
                "decide_approval",
                {"run_id": run_id, "step_id": "signoff", "approve": False, "reason": "late"},
            )
        )
        assert "approved" in again
        while (status := result(await client.call_tool("run_status", {"run_id": run_id})))[
            "status"
        ] not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, status
            await asyncio_sleep(0.5)
        assert status["status"] == "succeeded", status
        steps = {s["step_id"]: s["status"] for s in status["steps"]}
        assert steps["greet"] == "succeeded", status
        missing = refusal(await client.call_tool("run_pipeline", {"name": "nope"}))
        assert "nope" in missing
        bad = refusal(await client.call_tool("run_status", {"run_id": "../../etc"}))
        assert "32 hexadecimal" in bad
    # The same run through REST: the agent saw what the panel sees.
    rest = json.loads((await jp_fetch("workbench", "api", "runs", started["id"])).body)
    assert rest["status"] == "succeeded" and rest["requested_by"] == status["requested_by"]


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_the_stdio_server_as_a_subprocess(home: Path, lake_tables: Lake) -> None:
    from workbench_server.catalog import CatalogService
    from workbench_server.core import Workbench
    from workbench_server.lineage.service import LineageService
    from workbench_server.principal import local_principal

    core = Workbench(WorkbenchSettings.from_env(home))
    try:
        CatalogService(core, local_principal()).scan("lake")
        LineageService(core, local_principal()).record_declared(
            ["lake.silver.invoices"], ["lake.gold.revenue"], job="close.summarize"
        )
    finally:
        core.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "workbench_server.cli", "mcp"],
        env=env | {"WORKBENCH_HOME": str(home)},
    )
    async with Client(params, raise_exceptions=True) as client:
        assert "query_sql" in {t.name for t in (await client.list_tools()).tools}
        found = result(await client.call_tool("search_catalog", {"query": "invoices"}))
        assert [t["ref"] for t in found["tables"]] == ["lake.silver.invoices"]
        preview = result(await client.call_tool("preview_table", {"table": "silver.invoices"}))
        assert sorted(preview["rows"]) == [[1, "Azure", 10], [2, "Gemini", 20], [3, "Azure", 5]]
        refused = refusal(await client.call_tool("query_sql", {"sql": "DROP TABLE silver.x"}))
        assert "read-only" in refused
        graph = result(
            await client.call_tool(
                "lineage", {"table": "silver.invoices", "direction": "downstream"}
            )
        )
        assert [(e["target"]["name"], e["job"]) for e in graph["edges"]] == [
            ("gold.revenue", "close.summarize")
        ], graph


# -- two users of a real JupyterHub, each with their own hub API token ---------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.support.hub import running_hub

    if shutil.which("configurable-http-proxy") is None:  # a failure, not a silent skip
        pytest.fail("the hub tests need `npm install -g configurable-http-proxy` (.ci/run does it)")
    with running_hub(tmp_path_factory.mktemp("hub")) as hub:
        for name in ("alice", "bob"):
            assert hub.api("POST", f"users/{name}").status_code in (201, 409)
        assert hub.api("POST", "groups/finance").status_code in (201, 409)
        joined = hub.api("POST", "groups/finance/users", json={"users": ["bob"]})
        assert joined.status_code == 200, joined.text
        yield hub


def _service_mcp(hub: Any) -> str:
    return f"{hub.url}/services/workbench/workbench/mcp"


def test_one_users_token_never_reaches_anothers_private_connection(hub: Any, odoo_db: str) -> None:
    from tests.support.postgres import postgres_settings

    for name, shared in (("alice_books", ["finance"]), ("alice_private", [])):
        body = {"name": name, "shared_groups": shared, "settings": postgres_settings(odoo_db)}
        created = hub.service("alice", "POST", "connections", json=body)
        assert created.status_code == 201, created.text
        scanned = hub.service("alice", "POST", f"catalog/sources/{name}/scans")
        assert scanned.status_code == 201, scanned.text
    alice, bob = hub.user_token("alice"), hub.user_token("bob")

    async def as_bob() -> None:
        async with mcp_client(_service_mcp(hub), bob) as client:
            found = result(await client.call_tool("search_catalog", {"query": "res_partner"}))
            refs = {t["ref"] for t in found["tables"]}
            assert "alice_books.public.res_partner" in refs
            assert not any(ref.startswith("alice_private.") for ref in refs), refs
            for tool, args in (
                ("query_sql", {"sql": "SELECT 1", "connection": "alice_private"}),
                ("preview_table", {"table": "alice_private.public.res_partner"}),
                ("describe_table", {"table": "alice_private.public.res_partner"}),
            ):
                message = refusal(await client.call_tool(tool, args))
                assert "no connection named 'alice_private'" in message or "alice_private" in (
                    message
                ), (tool, message)
                assert "@" not in message  # nothing of the connection's rows or settings
            # Lineage answers as for a name nobody has: an empty graph, no catalog id.
            for namespace in ("alice_private", "nobodys_ledger"):
                graph = result(
                    await client.call_tool("lineage", {"table": f"{namespace}.public.res_partner"})
                )
                assert graph["edges"] == [] and graph["root"]["table_id"] is None, graph

    anyio_run(as_bob)
    # The session one token made is not another's: bob cannot use alice's session id.
    session_id = anyio_run(_session_id, _service_mcp(hub), alice)
    stolen = requests.post(
        _service_mcp(hub),
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={
            "Authorization": f"token {bob}",
            "Mcp-Session-Id": session_id,
            "Mcp-Protocol-Version": "2025-06-18",
            "Accept": "application/json, text/event-stream",
        },
        timeout=30,
    )
    assert stolen.status_code == 404, stolen.text
    # Each user reads their own calls in the audit log; another's only as an admin.
    own = hub.service("bob", "GET", "agents/calls")
    assert own.status_code == 200, own.text
    assert own.json() and {c["principal"] for c in own.json()} == {"bob"}
    refused = {c["tool"]: c["outcome"] for c in own.json()}
    assert refused["query_sql"] == "refused" and refused["search_catalog"] == "ok"
    others = hub.service("bob", "GET", "agents/calls?user=alice")
    assert others.status_code == 403, others.text
    assert "only admins" in others.json()["message"]
    bad = hub.service("bob", "GET", "agents/calls?limit=abc")
    assert bad.status_code == 400 and "limit" in bad.json()["message"]
    # The service knows callers by hub API tokens only: none, or a wrong one, is a 401.
    for auth in ({}, {"Authorization": "token not-a-hub-token"}):
        refused = requests.post(
            _service_mcp(hub),
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream", **auth},
            timeout=30,
        )
        assert refused.status_code == 401, (auth, refused.status_code, refused.text)


def test_preview_masks_pii_for_a_non_owner(hub: Any) -> None:
    alice, bob = hub.user_token("alice"), hub.user_token("bob")

    async def preview(token: str) -> dict[str, Any]:
        async with mcp_client(_service_mcp(hub), token) as client:
            return result(
                await client.call_tool(
                    "preview_table", {"table": "alice_books.public.res_partner", "limit": 5}
                )
            )

    owner, other = anyio_run(preview, alice), anyio_run(preview, bob)
    email = [c["name"] for c in owner["columns"]].index("email")
    assert owner["columns"][email]["masked"] is False
    assert any("@" in str(row[email]) for row in owner["rows"]), owner["rows"]
    assert other["columns"][email]["masked"] is True
    assert {row[email] for row in other["rows"]} <= {"•••", None}
    assert any("pii" in note for note in other["notes"])
    # The rest of the row is the same for both.
    name = [c["name"] for c in owner["columns"]].index("name")
    assert [r[name] for r in owner["rows"]] == [r[name] for r in other["rows"]]


@pytest.fixture(scope="module")
def typescript_sdk() -> None:
    """Checked before the hub starts: without node, nothing to start it for."""
    if mcp_sdk_peer.node_missing():
        pytest.skip("node is not installed: MCP's TypeScript SDK runs on it (.ci/run has it)")
    if not mcp_sdk_peer.installed():
        pytest.fail(mcp_sdk_peer.HOW_TO_INSTALL, pytrace=False)


@pytest.fixture(scope="module")
def alice_agents_books(hub: Any, odoo_db: str) -> str:
    """A connection of alice's own, shared with nobody, and one shared with finance (bob),
    both scanned into the catalog; the private one's partner table."""
    from tests.support.postgres import postgres_settings

    for name, shared in (("alice_agents", []), ("alice_agents_team", ["finance"])):
        body = {"name": name, "shared_groups": shared, "settings": postgres_settings(odoo_db)}
        created = hub.service("alice", "POST", "connections", json=body)
        assert created.status_code == 201, created.text
        scanned = hub.service("alice", "POST", f"catalog/sources/{name}/scans")
        assert scanned.status_code == 201, scanned.text
    return "alice_agents.public.res_partner"


@pytest.mark.parametrize("protocol", list(mcp_sdk_peer.RELEASES))
def test_agents_on_the_typescript_sdk_at_each_protocol_version(
    typescript_sdk: None, hub: Any, alice_agents_books: str, protocol: str
) -> None:
    """Claude Desktop/Code, Cursor and the MCP Inspector are built on MCP's TypeScript SDK,
    not ours, and speak the 2025 protocols: initialize, a session id on every request, a
    DELETE to end it. Each release, at the version it asks for, searches, previews, lists
    resources and reads a schema as alice; bob's token with her session's id, and hers
    once it ended, reach nothing."""
    table = alice_agents_books
    alice, bob = hub.user_token("alice"), hub.user_token("bob")
    seen = mcp_sdk_peer.run_agent(protocol, _service_mcp(hub), alice, bob, table, "res_partner")
    assert seen["protocol"] == protocol, seen["protocol"]
    assert seen["server"]["name"] == "workbench" and seen["session"], seen
    assert {"search_catalog", "preview_table", "describe_table", "query_sql"} <= set(seen["tools"])
    assert table in {t["ref"] for t in seen["search"]["tables"]}, seen["search"]
    preview = seen["preview"]
    names = [c["name"] for c in preview["columns"]]
    assert len(preview["rows"]) == 3 and "name" in names, preview
    email = names.index("email")
    assert any("@" in str(row[email]) for row in preview["rows"]), preview  # hers: unmasked
    assert seen["templates"] == ["workbench://tables/{ref}/schema"]
    assert f"workbench://tables/{table}/schema" in seen["resources"], seen["resources"]
    assert seen["schema"]["table"] == table
    schema = {c["name"]: c for c in seen["schema"]["columns"]}
    assert schema["email"]["pii"] is True and "name" in schema, seen["schema"]
    # bob's token on alice's session: not found, as for a session that never was.
    assert seen["other"]["status"] == 404, seen["other"]
    assert "Session not found" in seen["other"]["message"]
    assert "@" not in seen["other"]["message"]
    # The DELETE ended it: the SDK forgot the id, and the server does not know it any more.
    assert seen["sessionAfterEnd"] is None
    assert seen["ended"]["status"] == 404 and "Session not found" in seen["ended"]["message"]
    # The calls are alice's in the audit log, made over HTTP.
    calls = hub.service("alice", "GET", "agents/calls?limit=4").json()
    assert [(c["tool"], c["principal"], c["transport"]) for c in reversed(calls)] == [
        ("search_catalog", "alice", "http"),
        ("preview_table", "alice", "http"),
        ("resource:list", "alice", "http"),
        ("resource:table_schema", "alice", "http"),
    ], calls

    async def bobs_resources() -> list[str]:
        async with mcp_client(_service_mcp(hub), bob) as client:
            return [str(r.uri) for r in (await client.list_resources()).resources]

    # Her private table is not among bob's resources; what she shares with finance is.
    listed = anyio_run(bobs_resources)
    assert "workbench://tables/alice_agents_team.public.res_partner/schema" in listed, listed
    assert not [uri for uri in listed if "alice_agents." in uri], listed


async def _session_id(url: str, token: str) -> str:
    """Open a session as the token's user (the handshake-era initialize), its id."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = await http.post(
            url,
            json=body,
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


def anyio_run(function: Any, *args: Any) -> Any:
    import anyio

    return anyio.run(function, *args)


def test_sql_masks_pii_for_a_non_owner_whatever_the_query_does(hub: Any) -> None:
    alice, bob = hub.user_token("alice"), hub.user_token("bob")
    sql = (
        "SELECT p.name, p.email, lower(p.email) AS lowered FROM res_partner p "
        "WHERE p.email IS NOT NULL ORDER BY p.id LIMIT 3"
    )

    async def query(token: str, text: str) -> Any:
        async with mcp_client(_service_mcp(hub), token) as client:
            return await client.call_tool("query_sql", {"sql": text, "connection": "alice_books"})

    owner, other = result(anyio_run(query, alice, sql)), result(anyio_run(query, bob, sql))
    assert all("@" in row[1] and "@" in row[2] for row in owner["rows"]), owner["rows"]
    assert [row[0] for row in other["rows"]] == [row[0] for row in owner["rows"]]
    assert all(row[1] == "•••" and row[2] == "•••" for row in other["rows"]), other["rows"]
    # Probing the value through a filter finds nothing: the filter sees the mask too.
    email = owner["rows"][0][1]
    probe = f"SELECT count(*) FROM res_partner WHERE email = '{email}'"
    assert result(anyio_run(query, alice, probe))["rows"] == [[1]]
    assert result(anyio_run(query, bob, probe))["rows"] == [[0]]
    # A table the catalog does not know cannot be masked: refused for bob, not for alice.
    unknown = "SELECT * FROM pg_stat_activity"
    assert not anyio_run(query, alice, unknown).is_error
    assert "is not in the catalog" in refusal(anyio_run(query, bob, unknown))


def test_lake_sql_masks_pii_for_a_user_who_may_not_see_it(workbench: Any) -> None:
    """The lake is every user's; its pii columns are for admins and pii-readers."""
    from workbench_server.agents.tools import AgentTools
    from workbench_server.catalog import CatalogService
    from workbench_server.principal import Principal, local_principal

    lake = Lake.default(workbench.settings)
    lake.write(
        "silver.partners",
        pa.table({"id": [1, 2], "name": ["Azure", "Gemini"], "email": ["a@x.io", "g@x.io"]}),
    )
    CatalogService(workbench, local_principal()).scan("lake")
    sql = "SELECT name, email, upper(email) AS loud FROM silver.partners ORDER BY id"
    admin = AgentTools(workbench, local_principal()).query(sql)
    assert admin["rows"] == [["Azure", "a@x.io", "A@X.IO"], ["Gemini", "g@x.io", "G@X.IO"]]
    ana = Principal(name="ana", groups=frozenset({"finance"}))
    assert AgentTools(workbench, ana).query(sql)["rows"] == [
        ["Azure", "•••", "•••"],
        ["Gemini", "•••", "•••"],
    ]
    reader = Principal(name="rita", groups=frozenset({"pii-readers"}))
    assert AgentTools(workbench, reader).query(sql)["rows"] == admin["rows"]


async def test_a_handshake_era_client_and_the_stdio_relay(
    mcp_url: str, token: str, jp_fetch, lake_tables: Lake
) -> None:
    """A 2025 client (initialize, a session, its id on each request) gets the same tools;
    ``workbench mcp --url`` relays a local agent's stdio to the server with a token."""
    await jp_fetch(
        "workbench", "api", "catalog", "sources", "lake", "scans", method="POST", body=b""
    )
    http = httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=30)
    legacy = Client(streamable_http_client(mcp_url, http_client=http), mode="legacy")
    async with legacy as client:
        assert client.protocol_version.startswith("2025")
        found = result(await client.call_tool("search_catalog", {"query": "invoices"}))
        assert [t["ref"] for t in found["tables"]] == ["lake.silver.invoices"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    relay = StdioServerParameters(
        command=sys.executable,
        args=["-m", "workbench_server.cli", "mcp", "--url", mcp_url],
        env=env | {"WORKBENCH_TOKEN": token},
    )
    async with Client(relay, raise_exceptions=True) as client:
        rows = result(
            await client.call_tool("query_sql", {"sql": "SELECT count(*) FROM silver.invoices"})
        )
        assert rows["rows"] == [[3]]


def test_sql_on_a_duckdb_file_as_its_owner_and_as_a_group_member(
    workbench: Any, tmp_path: Path
) -> None:
    """A shared DuckDB file: its owner reads every value; a member of the group it is
    shared with reads pii masked; nobody writes, and a statement timeout stops a query."""
    import duckdb

    from workbench_server.agents.tools import AgentTools
    from workbench_server.catalog import CatalogService
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.errors import PermissionDeniedError
    from workbench_server.principal import Principal

    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE res_partner (id INT, name TEXT, email TEXT)")
        con.execute("INSERT INTO res_partner VALUES (1, 'Azure', 'a@x.io'), (2, 'Deco', NULL)")
    workbench.settings.data_roots = [str(tmp_path)]
    owner = Principal(name="olga", groups=frozenset({"sales"}))
    ConnectionService(workbench, owner).create(
        ConnectionCreate(
            name="crm", shared_groups=["sales"], settings={"kind": "duckdb", "path": str(path)}
        )
    )
    CatalogService(workbench, owner).scan("crm")
    sql = "SELECT id, name, email FROM res_partner ORDER BY id"
    assert AgentTools(workbench, owner).query(sql, "crm")["rows"] == [
        [1, "Azure", "a@x.io"],
        [2, "Deco", None],
    ]
    member = Principal(name="sam", groups=frozenset({"sales"}))
    assert AgentTools(workbench, member).query(sql, "crm")["rows"] == [
        [1, "Azure", "•••"],
        [2, "Deco", None],
    ]
    with pytest.raises(PermissionDeniedError, match="read-only"):
        AgentTools(workbench, owner).query("DELETE FROM res_partner", "crm")
    slow = AgentTools(workbench, owner).query(
        "SELECT count(*) FROM range(100000000000) a", "crm", timeout_s=0.5
    )
    assert slow["rows"] == [] and "did not finish within 0.5 s" in slow["notes"][0]
    stranger = Principal(name="eve")
    with pytest.raises(NotFoundError, match="no connection named 'crm'"):
        AgentTools(workbench, stranger).query(sql, "crm")
