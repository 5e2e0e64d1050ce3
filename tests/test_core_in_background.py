"""``WorkbenchApp.core_in_background`` (what ``workbench up`` sets) in a real jupyter-server:
the server answers before the core is open; workbench requests made meanwhile wait for it
and are then served, authenticated, as usual; a core that cannot open answers 503 with
the reason to a signed-in user and 403 to anyone else.

pytest-jupyter starts the server's app without running its loop's start hook, which is
where the core opens: the tests run that hook themselves, when they choose.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.processes import base_env, workbench_argv
from tests.test_server_extension import _example_path
from workbench_server import __version__


@pytest.fixture
def core_db_url() -> str | None:
    return None


@pytest.fixture
def jp_server_config(home, temporal_address, task_queue, core_db_url):
    workbench = {
        "home": str(home),
        "temporal_address": temporal_address,
        "task_queue": task_queue,
        "core_in_background": True,
    }
    if core_db_url:
        workbench["db_url"] = core_db_url
    return {
        "ServerApp": {
            "jpserver_extensions": {"workbench_server": True},
            "allow_unauthenticated_access": False,
        },
        "WorkbenchApp": workbench,
    }


def _workbench_patterns(router) -> list[str]:
    found = []
    for rule in getattr(router, "rules", []):
        pattern = getattr(getattr(rule, "matcher", None), "regex", re.compile("")).pattern
        if isinstance(rule.target, type) and "/workbench/" in pattern:
            found.append(pattern)
        found += _workbench_patterns(rule.target)
    return found


async def _start_extensions(jp_serverapp) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()


async def test_requests_before_the_core_opens_wait_and_are_then_served(jp_serverapp, jp_fetch):
    # The server answers its own API at once; the workbench's routes are not there yet.
    status = await jp_fetch("api", "status")
    assert status.code == 200
    assert _workbench_patterns(jp_serverapp.web_app.default_router) == []

    early = asyncio.ensure_future(jp_fetch("workbench", "api", "version"))
    anonymous = asyncio.ensure_future(
        jp_fetch("workbench", "api", "version", headers={"Authorization": ""})
    )
    await asyncio.sleep(0.5)
    assert not early.done() and not anonymous.done()  # held, not refused

    await _start_extensions(jp_serverapp)
    answer = await asyncio.wait_for(early, 120)
    assert answer.code == 200
    assert json.loads(answer.body)["version"] == __version__
    with pytest.raises(HTTPClientError) as refused:
        await asyncio.wait_for(anonymous, 60)
    assert refused.value.code == 403

    # Once open, every workbench route is there and refuses anonymous access, as when
    # the core opens before the server listens (test_server_extension).
    patterns = _workbench_patterns(jp_serverapp.web_app.default_router)
    assert len(patterns) >= 10, patterns
    for pattern in patterns:
        path = _example_path(pattern)
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(*path.strip("/").split("/"), headers={"Authorization": ""})
        mcp = path.endswith("workbench/mcp")
        trigger = "/trigger/runs/" in path
        assert info.value.code == (401 if mcp or trigger else 403), path
    # A path below /workbench/ that no route has is the server's 404.
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("workbench", "api", "no-such-thing")
    assert missing.value.code == 404


@pytest.mark.parametrize("core_db_url", ["postgresql+psycopg://nobody:pw@127.0.0.1:1/nothing"])
async def test_a_core_that_cannot_open_answers_503_with_the_reason(jp_serverapp, jp_fetch):
    held = asyncio.ensure_future(jp_fetch("workbench", "api", "connections"))
    await _start_extensions(jp_serverapp)
    with pytest.raises(HTTPClientError) as info:
        await asyncio.wait_for(held, 120)
    assert info.value.code == 503
    error = json.loads(info.value.response.body)["error"]
    assert error.startswith("the workbench could not start: cannot open the metadata DB")
    assert "127.0.0.1:1" in error and "pw" not in error
    assert "Traceback" not in info.value.response.body.decode()
    with pytest.raises(HTTPClientError) as anonymous:
        await jp_fetch("workbench", "api", "connections", headers={"Authorization": ""})
    assert anonymous.value.code == 403
    # The rest of the server works on.
    assert (await jp_fetch("api", "status")).code == 200


@pytest.mark.parametrize("core_db_url", ["postgresql+psycopg://nobody:pw@127.0.0.1:1/nothing"])
async def test_workbench_status_says_why_in_one_line_when_the_core_cannot_open(
    jp_serverapp, jp_fetch, jp_http_port, jp_base_url, jp_auth_header, tmp_path
):
    await _start_extensions(jp_serverapp)
    with pytest.raises(HTTPClientError):  # the core has failed to open
        await asyncio.wait_for(jp_fetch("workbench", "api", "version"), 120)
    # `workbench status` on a home whose running workbench is this server.
    home = tmp_path / "status-home"
    (home / "run").mkdir(parents=True)
    token = jp_auth_header["Authorization"].split()[1]
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"
    (home / "run" / "state.json").write_text(json.dumps({"url": url, "token": token}))
    child = await asyncio.create_subprocess_exec(
        *workbench_argv("status"),
        env=base_env(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode == 1
    assert err.decode().strip().splitlines() == [
        f"workbench: error: the workbench at {url} answered: the workbench could not start: "
        "cannot open the metadata DB postgresql+psycopg://nobody:***@127.0.0.1:1/nothing: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused"
    ], err.decode()
