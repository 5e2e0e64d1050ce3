"""Who wrote a table of the shared lake, read by another user of the team, on a real
jupyter-server (users told apart by the test provider's header).

Every version of a lake table records its writer in the Delta log: a pipeline run's
pipeline, run id, step and attempt, or a notebook's path and its user. The lake's tables
are everyone's to read, but alice's private pipeline and its runs are 404 to bob, and
her notebooks are her files: bob learned the pipeline's name and run ids, and the path
of her notebook, from the table's versions (the lake's and the catalog's), the catalog's
last writer (the table, the list, the live freshness) and the lineage of a table her
notebook made. He is now told what was written, when and by which user, not more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tornado.httpclient import HTTPClientError

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.connections.kernel_access import KernelSql, record_kernel_sql
from workbench_server.lake import Lake, WriterInfo
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal
from workbench_server.settings import WorkbenchSettings

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
# The provider makes every named user a non-admin member of "finance".
ALICE = Principal(name="alice", groups=frozenset({"finance"}))
PIPELINE = "alice_payroll_close"
NOTEBOOK = "private/layoffs_2027.ipynb"
PRIVATE = """\
name: alice_payroll_close
steps:
  - id: load
    notebook: step.ipynb
    kernel: python3
"""


@pytest.fixture
def jp_server_config(home: Path, tmp_path: Path):
    return workbench_server(home, data_roots=[str(tmp_path)], principal_provider_class=PROVIDER)


@pytest.fixture
def written(workbench, home: Path, tmp_path: Path) -> str:
    """silver.moves written by alice's notebook, then by a run of her private pipeline;
    gold.cuts made from it by her notebook, with its lineage. Returns the run's id."""
    folder = tmp_path / "flows"
    write_notebook(folder / "step.ipynb", "print('payroll')")
    (folder / "pipeline.yaml").write_text(PRIVATE)
    PipelineRegistry(workbench, ALICE).deploy(folder / "pipeline.yaml")
    plan, _ = RunService(workbench, ALICE).prepare(PIPELINE)
    lake = Lake.default(WorkbenchSettings.from_env(home))
    by_notebook = WriterInfo(notebook=f"/home/alice/{NOTEBOOK}", user="alice", tool="sql")
    by_run = WriterInfo(pipeline=PIPELINE, run_id=plan.run_id, step="load", attempt=1, user="alice")
    lake.write("silver.moves", pa.table({"id": [1], "amount": [10]}), writer=by_notebook)
    lake.write("silver.moves", pa.table({"id": [2], "amount": [20]}), writer=by_run)
    lake.write("gold.cuts", pa.table({"id": [1]}), writer=by_notebook)
    # The job the hub's service gives a statement of alice's kernel (handlers/kernel.py).
    item = KernelSql(
        connection="lake",
        sql="CREATE TABLE gold.cuts AS SELECT id FROM silver.moves",
        job=f"notebook:alice/{NOTEBOOK}",
    )
    assert record_kernel_sql(workbench, ALICE, item) is not None
    return plan.run_id


async def _get(jp_fetch, *path: str, user: str | None, **params: str):
    headers = as_user(user) if user else {}
    try:
        response = await jp_fetch("workbench", "api", *path, params=params, headers=headers)
    except HTTPClientError as exc:
        raise AssertionError((path, exc.code, exc.response.body)) from None
    return json.loads(response.body)


def _hides(answer: object, run_id: str) -> str:
    text = json.dumps(answer)
    for private in (PIPELINE, run_id, "layoffs_2027", "/home/alice"):
        assert private not in text, (private, text)
    return text


async def test_a_lake_tables_writers_name_no_private_pipeline_nor_notebook_to_others(
    jp_fetch, written: str
) -> None:
    run_id = written
    # alice reads all of it, as admins do.
    for user in ("alice", None):
        mine = await _get(jp_fetch, "lake", "tables", "silver.moves", "versions", user=user)
        assert mine[0]["writer"]["pipeline"] == PIPELINE and mine[0]["writer"]["run_id"] == run_id
        assert mine[1]["writer"]["notebook"] == f"/home/alice/{NOTEBOOK}"

    theirs = await _get(jp_fetch, "lake", "tables", "silver.moves", "versions", user="bob")
    _hides(theirs, run_id)
    # bob still reads every version, when, what and by whom.
    assert [(v["version"], v["writer"]["user"]) for v in theirs] == [
        (2, "alice"),
        (1, "alice"),
        (0, "alice"),
    ]
    assert theirs[0]["writer_text"] == "a pipeline you may not see by alice"
    assert theirs[0]["writer"]["step"] is None and theirs[0]["writer"]["attempt"] is None
    assert theirs[1]["writer_text"] == "another user's notebook by alice"

    # The catalog: its versions, the table, the list and the live freshness.
    scan = await jp_fetch(
        "workbench", "api", "catalog", "sources", "lake", "scans", method="POST", body=b""
    )
    assert json.loads(scan.body)["status"] == "succeeded"
    page = await _get(jp_fetch, "catalog", "tables", user="bob", connection="lake")
    ids = {t["name"]: t["id"] for t in page["items"]}
    _hides(page, run_id)
    assert {t["name"]: t["extra"]["last_writer"] for t in page["items"]} == {
        "moves": "a pipeline you may not see by alice",
        "cuts": "another user's notebook by alice",
    }
    for table in ("moves", "cuts"):
        for path in ((), ("versions",), ("freshness",)):
            answer = await _get(jp_fetch, "catalog", "tables", str(ids[table]), *path, user="bob")
            text = _hides(answer, run_id)
            assert "by alice" in text, (table, path, text)
    admin = await _get(jp_fetch, "catalog", "tables", str(ids["moves"]), user=None)
    assert admin["extra"]["last_writer"].startswith(f"pipeline {PIPELINE} run {run_id}")
    mine = await _get(jp_fetch, "catalog", "tables", str(ids["cuts"]), "freshness", user="alice")
    assert NOTEBOOK in mine["last_writer"]

    # Lineage: gold.cuts comes from silver.moves, through a notebook bob is not named.
    params = {"namespace": "lake", "name": "gold.cuts", "direction": "upstream"}
    graph = await _get(jp_fetch, "lineage", user="bob", **params)
    assert [(e["source"]["name"], e["job"]) for e in graph["edges"]] == [
        ("silver.moves", "another user's notebook")
    ]
    _hides(graph, run_id)
    for user in ("alice", None):
        graph = await _get(jp_fetch, "lineage", user=user, **params)
        assert [e["job"] for e in graph["edges"]] == [f"notebook:alice/{NOTEBOOK}"]
