"""The workbench REST API inside a real jupyter-server (pytest-jupyter)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.routes import GROUP_VALUES
from workbench_server import __version__


@pytest.fixture
def jp_server_config(home, temporal_address, task_queue):
    return {
        "ServerApp": {
            "jpserver_extensions": {"workbench_server": True},
            # Deny by default: a handler that forgot @authenticated would be refused, and
            # jupyter-server warns about it, which test_no_unauthenticated_warning checks.
            "allow_unauthenticated_access": False,
        },
        "WorkbenchApp": {
            "home": str(home),
            "temporal_address": temporal_address,
            "task_queue": task_queue,
        },
    }


async def test_health_all_ok_with_worker(jp_fetch, worker: subprocess.Popen[bytes], task_queue):
    import asyncio

    for _ in range(100):  # the worker needs a moment to connect and poll
        try:
            response = await jp_fetch("workbench", "api", "health")
            break
        except HTTPClientError:
            await asyncio.sleep(0.2)
    else:
        pytest.fail("health never became ok with a worker polling")
    body = json.loads(response.body)
    assert response.code == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"metadata_db", "temporal", "worker"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert task_queue in body["checks"]["worker"]["detail"]


async def test_health_names_the_missing_worker(jp_fetch, task_queue):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "health")
    assert info.value.code == 503
    body = json.loads(info.value.response.body)
    assert body["status"] == "degraded"
    assert body["checks"]["metadata_db"]["status"] == "ok"
    assert body["checks"]["temporal"]["status"] == "ok"
    assert body["checks"]["worker"]["status"] == "down"
    assert f"no worker is polling task queue '{task_queue}'" in body["checks"]["worker"]["detail"]


async def test_version(jp_fetch):
    response = await jp_fetch("workbench", "api", "version")
    body = json.loads(response.body)
    assert body["version"] == __version__
    assert body["components"]["jupyterlab"].startswith("4.")


async def test_an_api_path_no_route_matches_answers_json_not_jupyters_page(jp_fetch):
    """A malformed run id (or a misspelt route) under /workbench/api fell through to
    Jupyter's HTML 404 page, where every other API answer is JSON with a message."""
    for parts in (
        ("runs", "not-a-run-id"),
        ("pipelines", "Bad Name", "runs"),
        ("catalogue",),
        ("runs", "0" * 32, "steps", "Greet", "attempts", "1", "log"),
    ):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("workbench", "api", *parts)
        response = info.value.response
        assert info.value.code == 404, parts
        assert response.headers["Content-Type"].startswith("application/json"), parts
        body = json.loads(response.body)
        assert body["reason"] == "Not Found" and "check the URL" in body["message"], body
        assert "<html" not in response.body.decode().lower()
    # Jupyter's own pages and API keep their own answers.
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "contents", "no-such-file.txt")
    assert info.value.code == 404


async def test_every_workbench_route_refuses_anonymous_access(jp_serverapp, jp_fetch):
    patterns = [
        rule.matcher.regex.pattern
        for rule in jp_serverapp.web_app.default_router.rules
        for rule in getattr(rule.target, "rules", [rule])
        if "/workbench/" in getattr(rule.matcher, "regex", re.compile("")).pattern
    ]
    assert len(patterns) >= 10, patterns
    for pattern in patterns:
        path = _example_path(pattern)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            with pytest.raises(HTTPClientError) as info:
                await jp_fetch(
                    *path.strip("/").split("/"),
                    method=method,
                    headers={"Authorization": ""},
                    body=b"{}" if method in {"POST", "PUT", "PATCH"} else None,
                    allow_nonstandard_methods=True,
                )
            # MCP clients expect 401 with WWW-Authenticate (the MCP spec's authorization).
            mcp = path.endswith("workbench/mcp") and method in {"GET", "POST", "DELETE"}
            # A pipeline's trigger URL asks for its trigger secret instead (docs/n8n.md).
            trigger = (path.endswith("/trigger") and method == "POST") or (
                "/trigger/runs/" in path and method == "GET"
            )
            expected = 401 if mcp or trigger else 403
            assert info.value.code == expected, f"{method} {path} answered {info.value.code}"


def _example_path(pattern: str) -> str:
    """Turn a route regex into a concrete path each of whose groups matches its regex
    (values from the route walks' shared list)."""

    def sample(match: re.Match[str]) -> str:
        inner = match.group(2)
        candidates = [*GROUP_VALUES, *inner.split("|")]
        return next(c for c in candidates if re.fullmatch(inner, c))

    path = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", sample, pattern)
    # Routes carry the server's base URL, which jp_fetch adds itself.
    return "workbench/" + path.rstrip("$").replace("\\", "").split("/workbench/", 1)[1]


async def test_unknown_errors_do_not_leak_internals(jp_fetch, jp_serverapp, monkeypatch):
    workbench = jp_serverapp.web_app.settings["workbench"]

    async def broken(timeout: float) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(workbench, "health", broken)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "health")
    assert info.value.code == 500
    body = info.value.response.body.decode()
    assert "hunter2" not in body and "Traceback" not in body
    assert "ref " in json.loads(body)["message"]
