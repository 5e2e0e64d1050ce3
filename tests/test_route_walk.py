"""Every workbench route, called with bad query values and bad or oversized bodies,
answers with a 4xx (or a 502/503 naming an unavailable part), never a 500 or a traceback.

The routes come from the running server's router, so a route added later is walked too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httputil import url_concat

from tests.support.routes import workbench_routes
from tests.support.servers import workbench_server

BAD_VALUES = ("abc", "1e3", "-1", "9" * 40, "1\x00", "x" * 5000, "", "nan")
ALWAYS_TRIED = ("limit", "offset", "token")
BIG = 6 * 1024 * 1024
BAD_BODIES = {
    "not JSON": b"not json at all",
    "NUL bytes": b'{"name": "a\\u0000", "path": "x\\u0000.yaml", "text": "\\u0000"}',
    "NUL in a path": b'{"path": "flows/x\\u0000.yaml"}',
    "long path": b'{"path": "' + b"d/" * 3000 + b'x.yaml"}',
    "deeply nested": b"[" * 50_000 + b"]" * 50_000,
    "huge number": b'{"limit": 1' + b"0" * 5000 + b"}",
    "oversized string": b'{"description": "' + b"a" * BIG + b'"}',
    "oversized list": b'{"shared_groups": [' + b'"g",' * 400_000 + b'"g"]}',
    "wrong types": b'{"name": [], "settings": 1, "parameters": "x", "names": 5, "tables": {}}',
}


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


def _problem(code: int, body: bytes) -> str | None:
    text = body.decode("utf-8", "replace")
    if code == 500 or code >= 600 or code < 200:
        return f"HTTP {code}: {text[:200]}"
    if "Traceback" in text or 'File "' in text:
        return f"HTTP {code} with a traceback: {text[:200]}"
    return None


async def test_no_route_answers_500_to_bad_input(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header, workbench
) -> None:
    from workbench_server.bootstrap import ensure_demo

    ensure_demo(workbench)  # a connection and catalogued tables, for routes to go deeper
    # A real kernel of this server, whose token opens the kernel routes.
    kernels = jp_serverapp.kernel_manager
    kernel_id = await kernels.start_kernel(kernel_name="python3")
    kernel_token = next(t for t, k in kernels.workbench_tokens.items() if k == kernel_id)
    routes = list(workbench_routes(jp_serverapp.web_app, jp_base_url))
    assert len({r.pattern for r in routes}) >= 30, [r.pattern for r in routes]
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    problems: list[str] = []
    calls: Counter[str] = Counter()
    seen: dict[str, str] = {}  # one problem per method and route, to read

    async def call(route, method: str, query: dict[str, str], body: bytes | None) -> None:
        headers = dict(jp_auth_header)
        if route.path.startswith("workbench/api/kernel/"):
            headers["Authorization"] = f"WorkbenchKernel {kernel_token}"
        request = HTTPRequest(
            url_concat(base + route.path, query),
            method=method,
            headers=headers,
            body=body if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            request_timeout=60,
        )
        response = await client.fetch(request, raise_error=False)
        calls[method] += 1
        found = _problem(response.code, response.body or b"")
        if found:
            shown = {k: v[:20] for k, v in query.items()}
            problems.append(f"{method} {route.path} {shown} body={str(body)[:40]}: {found}")
            seen[f"{method} {route.pattern}"] = problems[-1]

    # DELETE last: it removes what other routes read.
    ordered = sorted(
        ((route, method) for route in routes for method in route.methods),
        key=lambda pair: pair[1] == "DELETE",
    )
    for route, method in ordered:
        keys = {*route.query_args, *ALWAYS_TRIED} if method == "GET" else set(route.query_args)
        for key in sorted(keys):
            for value in BAD_VALUES:
                await call(route, method, {key: value}, b"{}")
        if method in ("POST", "PUT", "PATCH"):
            for body in BAD_BODIES.values():
                await call(route, method, {}, body)
    await kernels.shutdown_kernel(kernel_id, now=True)
    assert sum(calls.values()) > 500
    assert not problems, "\n".join(seen.values()) + f"\n({len(problems)} problems)"
    health = json.loads((await jp_fetch("workbench", "api", "version")).body)
    assert health["version"]
