"""Pipeline YAML is read with bounds (issue 15, item 1): an alias "bomb" of a few hundred
bytes is refused at once with the line of the alias, off the server's event loop, while
the server keeps answering; too large and too deeply nested files are refused too."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.support.servers import workbench_server
from workbench_pipelines.validate import (
    MAX_ALIASED,
    MAX_BYTES,
    MAX_DEPTH,
    check_file,
    validate_text,
)


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": level n is 9 aliases of level n-1 (9**levels values)."""
    lines = ["name: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"steps: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_the_alias_bomb_is_refused_at_once_naming_the_alias_and_its_line() -> None:
    text = alias_bomb(9)
    assert len(text) < 600  # 387,420,489 values when expanded
    started = time.perf_counter()
    [error] = validate_text(text, file="bomb.yaml")
    assert time.perf_counter() - started < 0.5
    assert (error.file, error.line) == ("bomb.yaml", 6)  # a4's first alias crosses the budget
    assert error.message.startswith("alias *a3 makes the aliases of this file repeat more than")


def test_aliases_within_the_budget_still_work() -> None:
    text = """\
name: shared
defaults: &step {kernel: python3, timeout: 10m}
steps:
  - {<<: *step, id: one, notebook: one.ipynb}
  - {<<: *step, id: two, notebook: two.ipynb, depends_on: [one]}
"""
    errors = validate_text(text)
    # Only the unknown top-level key: anchors, aliases and merges themselves are fine.
    assert [(e.line, e.path) for e in errors] == [(2, "defaults")]
    many = "name: m\nx: &x [" + ",".join(["1"] * 100) + "]\n"
    many += "y: [" + ",".join(["*x"] * (MAX_ALIASED // 101)) + "]\nsteps: []\n"
    assert all("alias" not in e.message for e in validate_text(many))


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    [error] = validate_text("name: loop\nsteps: &s\n  - *s\n")
    assert error.line == 3 and "inside its own anchor &s" in error.message


def test_too_deep_and_too_large_files_are_refused(tmp_path: Path) -> None:
    deep = "name: deep\nsteps: " + "[" * 50_000 + "]" * 50_000 + "\n"
    [error] = validate_text(deep)
    assert error.line == 2 and f"more than {MAX_DEPTH} levels" in error.message
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n# " + "x" * (MAX_BYTES + 10) + "\nsteps: []\n")
    started = time.perf_counter()
    spec, [error] = check_file(big)
    assert spec is None and time.perf_counter() - started < 0.5
    assert f"at most {MAX_BYTES:,}" in error.message and error.file == str(big)
    [error] = validate_text(big.read_text())
    assert f"at most {MAX_BYTES:,}" in error.message


# --- through a real server: the bomb gets a 400 while /api/status keeps answering --------


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home)


# 6 levels (531,441 values) took the server's event loop 2 s before the fix, 9 levels
# (the bomb) 129 s and 12 GB.
@pytest.mark.parametrize("levels", [6, 9])
@pytest.mark.parametrize("route", ["validate", "deploy"])
async def test_the_bomb_gets_a_400_fast_and_the_server_stays_responsive(
    jp_fetch, jp_http_port: int, jp_base_url: str, jp_auth_header: dict, route: str, levels: int
) -> None:
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    client = AsyncHTTPClient()
    await jp_fetch("api", "status")  # warm

    async def fire_bomb() -> tuple[int, float, bytes]:
        started = time.perf_counter()
        body = {"text": alias_bomb(levels)} if route == "validate" else None
        if body is None:
            body = {"bundle": {"file": "bomb.yaml", "spec": alias_bomb(levels), "notebooks": {}}}
        answer = await client.fetch(
            HTTPRequest(
                f"{base}workbench/api/pipelines/{route}",
                method="POST",
                headers=jp_auth_header,
                body=json.dumps(body),
                request_timeout=10,
            ),
            raise_error=False,
        )
        return answer.code, time.perf_counter() - started, answer.body

    async def status_times() -> list[float]:
        times = []
        for _ in range(10):
            started = time.perf_counter()
            answer = await client.fetch(
                HTTPRequest(f"{base}api/status", headers=jp_auth_header, request_timeout=10),
                raise_error=False,
            )
            assert answer.code == 200
            times.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
        return times

    (code, took, body), times = await asyncio.gather(fire_bomb(), status_times())
    assert took < 1.0
    assert max(times) < 0.2, times
    if route == "validate":  # the check answers 200 with the problems it found
        assert code == 200 and json.loads(body)["valid"] is False
        [error] = json.loads(body)["errors"]
    else:
        assert code == 400, body
        [error] = json.loads(body)["errors"]
        assert error["file"] == "bomb.yaml"
    assert error["line"] == 6 and "alias *a3" in error["message"]
