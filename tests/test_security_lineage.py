"""Lineage read by another user of the team: a private pipeline's name and runs stay
private, on a real jupyter-server (users told apart by the test provider's header).

Each lineage edge names the job that wrote it (``<pipeline>.<step>``) and its run. The
datasets of an edge between lake tables are everyone's, but the pipeline that wrote it
may be alice's private one: bob, who gets 404 for that pipeline and its runs, must not
learn its name or a run id from the lineage of a table he may read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httputil import url_concat

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.lineage.service import LineageService
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
# The provider makes every named user a non-admin member of "finance".
ALICE = Principal(name="alice", groups=frozenset({"finance"}))

PRIVATE = """\
name: alice_payroll_close
steps:
  - id: load
    notebook: step.ipynb
    kernel: python3
    inputs: [lake.bronze.moves]
    outputs: [lake.silver.moves]
"""


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home, principal_provider_class=PROVIDER)


@pytest.fixture
def private_run(workbench, tmp_path: Path) -> str:
    """alice's private pipeline, one run of it recorded, and the lineage its step writes."""
    folder = tmp_path / "flows"
    write_notebook(folder / "step.ipynb", "print('payroll')")
    (folder / "pipeline.yaml").write_text(PRIVATE)
    PipelineRegistry(workbench, ALICE).deploy(folder / "pipeline.yaml")
    plan, _ = RunService(workbench, ALICE).prepare("alice_payroll_close")
    stored = LineageService(workbench, ALICE).record_declared(
        ["lake.bronze.moves"], ["lake.silver.moves"], "alice_payroll_close.load", plan.run_id
    )
    assert stored == 1
    return plan.run_id


async def _lineage(port: int, base_url: str, auth: dict[str, str], user: str | None) -> dict:
    url = url_concat(
        f"http://127.0.0.1:{port}{base_url}workbench/api/lineage",
        {"namespace": "lake", "name": "silver.moves", "direction": "upstream"},
    )
    headers = {**auth, **(as_user(user) if user else {})}
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(url, headers=headers, request_timeout=60), raise_error=False
    )
    assert response.code == 200, response.body
    return json.loads(response.body)


async def test_lineage_names_no_private_pipeline_nor_its_run_to_others(
    jp_serverapp, http_server_client, jp_http_port, jp_base_url, jp_auth_header, private_run
) -> None:
    auth = dict(jp_auth_header)
    mine = await _lineage(jp_http_port, jp_base_url, auth, "alice")
    assert [(e["job"], e["run_id"]) for e in mine["edges"]] == [
        ("alice_payroll_close.load", private_run)
    ]
    theirs = await _lineage(jp_http_port, jp_base_url, auth, "bob")
    # bob still sees that silver.moves comes from bronze.moves (both are the lake's) ...
    assert [(e["source"]["name"], e["target"]["name"]) for e in theirs["edges"]] == [
        ("bronze.moves", "silver.moves")
    ]
    # ... but not who wrote it.
    text = json.dumps(theirs)
    assert "alice_payroll_close" not in text and private_run not in text, text
    assert theirs["edges"][0]["run_id"] is None
    # An admin (the server's own login, no user header) sees all of it.
    admin = await _lineage(jp_http_port, jp_base_url, auth, None)
    assert admin["edges"][0]["job"] == "alice_payroll_close.load"
