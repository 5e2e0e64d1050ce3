"""GET /workbench/api/pipelines/schema.json: the pipeline JSON Schema an editor reads its
step kinds and fields from, behind the same authentication and authorization as the other
pipeline routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

ROOT = Path(__file__).resolve().parents[1]


class DenyByHeader(Authorizer):
    """Refuses the resource a request names in ``X-Test-Deny`` (everything else allowed)."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return handler.request.headers.get("X-Test-Deny") != resource


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return {
        "ServerApp": {
            "jpserver_extensions": {"workbench_server": True},
            "authorizer_class": DenyByHeader,
        },
        "WorkbenchApp": {
            "home": str(home),
            "temporal_address": temporal_address,
            "task_queue": task_queue,
        },
    }


async def test_schema_is_the_published_one_with_every_step_kind(jp_fetch) -> None:
    response = await jp_fetch("workbench", "api", "pipelines", "schema.json")
    assert response.headers["Content-Type"] == "application/json"
    served = json.loads(response.body)
    assert served == json.loads((ROOT / "pipelines" / "pipeline.schema.json").read_text())
    kinds = [
        served["$defs"][option["$ref"].rsplit("/", 1)[1]]["properties"]["kind"]["const"]
        for option in served["properties"]["steps"]["items"]["oneOf"]
    ]
    assert kinds[0] == "notebook" and {"extract", "merge", "scd2", "sql"} <= set(kinds)


async def test_schema_needs_the_right_to_read_pipelines(jp_fetch) -> None:
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "schema.json",
            headers={"X-Test-Deny": "workbench.pipelines"},
        )
    assert refused.value.code == 403
    # Another resource refused does not touch this route.
    allowed = await jp_fetch(
        "workbench", "api", "pipelines", "schema.json", headers={"X-Test-Deny": "workbench.lake"}
    )
    assert allowed.code == 200


async def test_a_pipeline_named_like_the_route_is_still_found(jp_fetch) -> None:
    # Pipeline names have no dot: `schema` stays a pipeline name (404 as none is deployed).
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("workbench", "api", "pipelines", "schemaxjson")
    assert missing.value.code == 404
