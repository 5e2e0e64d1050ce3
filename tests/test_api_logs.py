"""Nothing a request carries reaches the server's logs (issue 15, items 2 and 3).

A canary secret is sent through every workbench route in bodies that fail validation
(the way a mistyped connection ``kind`` once logged its password), and canary tokens in
``?token=`` and ``Authorization`` on every route, kernel routes included; then the
server's captured log and every log file under the home are searched for them.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httputil import url_concat

from tests.support.routes import workbench_routes

SERVER_TOKEN = secrets.token_hex(24)


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return {
        # A configured token, as `workbench up` gives: jupyter-server then never prints
        # it in its start-up banner, so any copy in the log came from a request.
        "IdentityProvider": {"token": SERVER_TOKEN},
        "ServerApp": {"jpserver_extensions": {"workbench_server": True}},
        "WorkbenchApp": {
            "home": str(home),
            "temporal_address": temporal_address,
            "task_queue": task_queue,
        },
    }


def _bodies(canary: str) -> list[bytes]:
    """Bodies that fail validation on every route, each carrying the canary."""
    shapes = [
        # The reported case: a password sent with a mistyped kind.
        {
            "name": "odoo",
            "settings": {
                "kind": "postgress",
                "host": "h",
                "database": "d",
                "user": "u",
                "password": canary,
            },
        },
        {
            "name": "odoo",
            "settings": {
                "kind": "postgres",
                "host": "h",
                "database": "d",
                "user": "u",
                "password": canary,
                "port": "x",
            },
        },
        {"password": canary},
        {"description": [canary], "shared_groups": canary, "settings": {"api_key": canary}},
        {"text": f"name: p\nsteps: {canary}\n", "path": None},
        {"bundle": {"file": "p.yaml", "spec": f"name: p\nsteps: [{canary}]\n", "notebooks": {}}},
        {"parameters": canary, "logical_date": canary},
        {"names": canary, "tables": [{"connection": canary, "count": canary}]},
        {"connection": canary, "sql": 5, "dialect": canary},
        {"cron": canary * 50, "timezone": canary},
        {"tags": canary, "steward": [canary]},
    ]
    return [json.dumps(shape).encode() for shape in shapes] + [canary.encode()]


def _logs(home: Path, caplog: pytest.LogCaptureFixture, stream) -> dict[str, str]:
    found = {"server log": caplog.text, "server stream": stream.getvalue()}
    for path in home.rglob("*"):
        if path.is_file() and (path.suffix in (".log", ".jsonl", ".txt") or "logs" in path.parts):
            found[str(path)] = path.read_text(errors="replace")
    return found


async def _walk(jp_serverapp, jp_http_port, jp_base_url, send) -> int:
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    client = AsyncHTTPClient()
    calls = 0
    for route in workbench_routes(jp_serverapp.web_app, jp_base_url):
        for method in route.methods:
            for query, headers, body in send(route, method):
                request = HTTPRequest(
                    url_concat(base + route.path, query),
                    method=method,
                    headers=headers,
                    body=body if method in ("POST", "PUT", "PATCH") else None,
                    allow_nonstandard_methods=True,
                    request_timeout=60,
                )
                await client.fetch(request, raise_error=False)  # (test_route_walk: no 500)
                calls += 1
    return calls


async def test_values_of_invalid_requests_are_never_logged(
    jp_fetch,
    jp_serverapp,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    home,
    caplog,
    jp_logging_stream,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{secrets.token_hex(8)}"
    kernels = jp_serverapp.kernel_manager
    kernel_id = await kernels.start_kernel(kernel_name="python3")
    kernel_token = next(t for t, k in kernels.workbench_tokens.items() if k == kernel_id)

    def send(route, method):
        headers = dict(jp_auth_header)
        if route.path.startswith("workbench/api/kernel/"):
            headers["Authorization"] = f"WorkbenchKernel {kernel_token}"
        if method in ("POST", "PUT", "PATCH"):
            for body in _bodies(canary):
                yield {}, headers, body

    try:
        calls = await _walk(jp_serverapp, jp_http_port, jp_base_url, send)
    finally:
        await kernels.shutdown_kernel(kernel_id, now=True)
    assert calls > 150
    logs = _logs(home, caplog, jp_logging_stream)
    assert "400" in logs["server log"]  # the failures were logged, without their values
    leaked = {name: text.count(canary) for name, text in logs.items() if canary in text}
    assert not leaked, leaked


async def test_tokens_in_urls_and_headers_are_never_logged(
    jp_fetch,
    jp_serverapp,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    home,
    caplog,
    jp_logging_stream,
) -> None:
    caplog.set_level(logging.DEBUG)
    in_query, in_header = f"qtok{secrets.token_hex(12)}", f"htok{secrets.token_hex(12)}"

    def send(route, method):
        body = b"{}"
        # The browser's own token in the URL of a kernel route (item 3's case), a
        # wrong one, and wrong ones in the Authorization header of either scheme.
        yield {"token": SERVER_TOKEN}, {}, body
        yield {"token": in_query}, {}, body
        yield {"token": in_query, "q": "x"}, dict(jp_auth_header), body
        yield {}, {"Authorization": f"token {in_header}"}, body
        yield {}, {"Authorization": f"WorkbenchKernel {in_header}"}, body

    calls = await _walk(jp_serverapp, jp_http_port, jp_base_url, send)
    assert calls > 150
    # jupyter-server's own routes: a failed request is logged with its URI by tornado.
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    for path in ("api/kernels/nope", "api/contents/missing.ipynb", "api/sessions", "nowhere"):
        for url in (f"{base}{path}?token={in_query}", f"{base}{path}?token={SERVER_TOKEN}"):
            await client.fetch(url, raise_error=False)
    logs = _logs(home, caplog, jp_logging_stream)
    assert "403" in logs["server log"] and "[secret]" in logs["server log"]
    for token in (SERVER_TOKEN, in_query, in_header):
        leaked = {name: text.count(token) for name, text in logs.items() if token in text}
        assert not leaked, (token[:4], leaked)
