"""Bad input gets a 4xx naming what was wrong, never a 500, against a real server
(issue 15, items 7 and 9): numbers in queries and paths, a NUL byte in a path, SQL
nested too deeply to parse, oversized connection fields, and bundles whose notebooks
cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


async def _status(jp_fetch, *path: str, **kwargs) -> tuple[int, dict]:
    try:
        response = await jp_fetch("workbench", "api", *path, **kwargs)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body) if response.body else {}


@pytest.mark.parametrize("value", ["abc", "1e3", "-1", "1.5", "²", "9" * 40])
@pytest.mark.parametrize(
    ("route", "name"),
    [
        ("runs", "limit"),
        ("catalog/tables", "limit"),
        ("catalog/tables", "offset"),
        ("catalog/search", "offset"),
        ("catalog/search", "limit"),
        ("lineage", "depth"),
    ],
)
async def test_numbers_in_queries_are_checked(jp_fetch, route: str, name: str, value: str) -> None:
    params = {name: value, "namespace": "n", "name": "x"} if route == "lineage" else {name: value}
    code, body = await _status(jp_fetch, *route.split("/"), params=params)
    if value == "9" * 40 and name == "limit" and route.startswith("catalog"):
        assert code == 200  # a catalog page larger than the largest is the largest
        return
    assert code == 400, body
    assert name in body["message"]


async def test_huge_ids_in_paths_are_404_not_500(jp_fetch) -> None:
    huge = "9" * 40
    for path in (
        ("catalog", "tables", huge),
        ("catalog", "tables", huge, "preview"),
        ("runs", "0" * 32, "steps", "s", "attempts", huge, "log"),
    ):
        code, body = await _status(jp_fetch, *path)
        assert code == 404, (path, body)
    code, _ = await _status(
        jp_fetch, "catalog", "tables", huge, method="PATCH", body=json.dumps({"steward": "me"})
    )
    assert code == 404


async def test_search_ignores_the_token_in_its_url(jp_fetch, jp_serverapp) -> None:
    # Opening the search URL with the browser's ?token= (item 9) is not a filter "token".
    token = jp_serverapp.identity_provider.token
    code, body = await _status(jp_fetch, "catalog", "search", params={"q": "x", "token": token})
    assert code == 200, body
    code, body = await _status(jp_fetch, "catalog", "search", params={"q": "x", "colour": "red"})
    assert code == 400 and "colour" in body["message"]


async def test_a_nul_byte_in_a_pipeline_path_is_a_400(jp_fetch) -> None:
    for route in ("deploy", "validate"):
        code, body = await _status(
            jp_fetch,
            "pipelines",
            route,
            method="POST",
            body=json.dumps({"path": "flows/p\x00.yaml"}),
        )
        assert code == 400, body
        assert "NUL" in body["message"]
    for path in ("a" * 5000, "a" * 300 + ".yaml"):  # longer than a path, than a file name
        code, body = await _status(
            jp_fetch, "pipelines", "deploy", method="POST", body=json.dumps({"path": path})
        )
        assert code == 400, body


async def test_sql_nested_too_deeply_leaves_a_lineage_warning(jp_fetch, jp_serverapp) -> None:
    kernels = jp_serverapp.kernel_manager
    kernel_id = await kernels.start_kernel(kernel_name="python3")
    try:
        token = next(t for t, k in kernels.workbench_tokens.items() if k == kernel_id)
        sql = "CREATE TABLE t AS SELECT " + "(" * 20_000 + "1" + ")" * 20_000
        response = await jp_fetch(
            "workbench",
            "api",
            "kernel",
            "lineage",
            method="POST",
            headers={"Authorization": f"WorkbenchKernel {token}"},
            body=json.dumps({"connection": "lake", "sql": sql}),
        )
        assert response.code == 204
    finally:
        await kernels.shutdown_kernel(kernel_id, now=True)
    code, warnings = await _status(jp_fetch, "lineage", "warnings", params={"job": "kernel"})
    assert code == 200
    assert [w["message"] for w in warnings] == [
        "SQL could not be parsed (duckdb): it nests too deeply"
    ]


async def test_oversized_connection_fields_are_refused(jp_fetch) -> None:
    settings = {"kind": "duckdb", "path": ":memory:"}
    for body, field in (
        ({"name": "big", "description": "x" * 5_000_000, "settings": settings}, "description"),
        ({"name": "big", "shared_groups": ["g"] * 400_000, "settings": settings}, "body"),
        ({"name": "big", "shared_groups": ["g"] * 5_000, "settings": settings}, "shared_groups"),
        ({"name": "big", "settings": {**settings, "path": "/" + "p" * 10_000}}, "path"),
    ):
        code, answer = await _status(jp_fetch, "connections", method="POST", body=json.dumps(body))
        assert code in (400, 413), answer
        assert field in answer["message"] or code == 413, answer
    code, _ = await _status(jp_fetch, "connections", "big")
    assert code == 404
    created, _ = await _status(
        jp_fetch,
        "connections",
        method="POST",
        body=json.dumps({"name": "ok", "settings": settings}),
    )
    assert created == 201
    code, answer = await _status(
        jp_fetch,
        "connections",
        "ok",
        method="PATCH",
        body=json.dumps({"description": "y" * 1_000_000}),
    )
    assert code == 400 and "description" in answer["message"]


def _bundle(spec: str, notebooks: dict[str, str]) -> bytes:
    return json.dumps({"bundle": {"file": "flows/p.yaml", "spec": spec, "notebooks": notebooks}})


SPEC = "name: checked\nsteps:\n  - {id: one, notebook: one.ipynb, kernel: KERNEL}\n"


async def test_deploy_refuses_notebooks_that_cannot_run(jp_fetch, tmp_path: Path) -> None:
    valid = write_notebook(tmp_path / "one.ipynb", "x = 1").read_text()
    # Not JSON at all, JSON that is no notebook, and a valid notebook with a kernel that
    # is not installed where steps run: each refused at deploy, naming the step's field.
    for notebook, kernel, field, words in (
        ("this is not json", "python3", "steps[0].notebook", "not a valid Jupyter notebook"),
        ('{"cells": 3}', "python3", "steps[0].notebook", "not a valid Jupyter notebook"),
        (valid, "no_such_kernel", "steps[0].kernel", "not installed where steps run"),
    ):
        code, answer = await _status(
            jp_fetch,
            "pipelines",
            "deploy",
            method="POST",
            body=_bundle(SPEC.replace("KERNEL", kernel), {"one.ipynb": notebook}),
        )
        assert code == 400, answer
        [error] = answer["errors"]
        assert (error["file"], error["path"], error["line"]) == ("flows/p.yaml", field, 3)
        assert words in error["message"], error
        assert "/tmp" not in error["message"]  # the service's private copy is not named
    assert "python3" in error["message"]  # the kernels that are installed are listed
    code, answer = await _status(
        jp_fetch,
        "pipelines",
        "deploy",
        method="POST",
        body=_bundle(SPEC.replace("KERNEL", "python3"), {"one.ipynb": valid}),
    )
    assert code == 201, answer
    assert nbformat.reads(valid, as_version=4).cells  # (the notebook sent was a real one)


async def test_validate_names_a_notebook_that_is_not_json(jp_fetch, jp_root_dir: Path) -> None:
    (jp_root_dir / "flows").mkdir()
    (jp_root_dir / "flows" / "one.ipynb").write_text("{not json")
    (jp_root_dir / "flows" / "p.yaml").write_text(SPEC.replace("KERNEL", "python3"))
    code, answer = await _status(
        jp_fetch, "pipelines", "validate", method="POST", body=json.dumps({"path": "flows/p.yaml"})
    )
    assert code == 200 and answer["valid"] is False
    assert [e["path"] for e in answer["errors"]] == ["steps[0].notebook"]
