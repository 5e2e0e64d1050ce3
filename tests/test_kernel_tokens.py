"""Every kernel holds a workbench token of its own, and only what a kernel needs.

A real jupyter-server with the extension starts real kernels (plain ``python3``: what
is checked is the server's side), and their code calls the kernel routes as a
notebook's code could.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kernels import KernelSession
from tests.support.servers import workbench_server
from workbench_server.connections.kernel_access import KERNEL_TOKEN_ENV
from workbench_server.core import Workbench
from workbench_server.lineage.service import LineageService
from workbench_server.principal import local_principal

# Run in a kernel: its environment's workbench parts, and what the kernel routes answer.
PROBE = """\
import json, os, urllib.request, urllib.error
def call(path, token, body=None):
    request = urllib.request.Request(
        os.environ["WORKBENCH_API_URL"].rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "WorkbenchKernel " + token, "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
"""


@pytest.fixture
def jp_server_config(home: Path, monkeypatch: pytest.MonkeyPatch):
    # What the server itself holds and a kernel must not inherit.
    monkeypatch.setenv("JUPYTER_TOKEN", "the-servers-own-token")
    monkeypatch.setenv("WORKBENCH_SECRETS_KEY_FILE", str(home / "secrets.key"))
    return workbench_server(home)


@pytest.fixture
def kernels(jp_serverapp, jp_asyncio_loop, http_server_client) -> Iterator[dict]:
    """Three kernels started by the server before the test (pytest-jupyter runs no async
    fixtures): two on their own, one in a session for a notebook."""
    run = jp_asyncio_loop.run_until_complete
    manager = jp_serverapp.kernel_manager
    session = run(
        jp_serverapp.session_manager.create_session(
            path="finance/report.ipynb", kernel_name="python3", type="notebook"
        )
    )
    ids = {
        "first": run(manager.start_kernel(kernel_name="python3")),
        "second": run(manager.start_kernel(kernel_name="python3")),
        "notebook": session["kernel"]["id"],
    }
    found = {}
    for name, kernel_id in ids.items():
        client = manager.get_kernel(kernel_id).client()
        client.start_channels()
        run(client.wait_for_ready(timeout=60))
        found[name] = (kernel_id, KernelSession(client))
    yield found
    for kernel_id, session in found.values():
        session.client.stop_channels()
        if kernel_id in manager:
            run(manager.shutdown_kernel(kernel_id, now=True))


async def test_each_kernel_has_its_own_token_and_none_of_the_servers_secrets(
    kernels, jp_serverapp
) -> None:
    (first_id, first), (_, second) = kernels["first"], kernels["second"]
    env = [
        await kernel.value(
            "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
            "('WORKBENCH_KERNEL_TOKEN', 'JUPYTER_TOKEN', 'WORKBENCH_SECRETS_KEY_FILE')}))"
        )
        for kernel in (first, second)
    ]
    tokens = [e["WORKBENCH_KERNEL_TOKEN"] for e in env]
    assert all(tokens) and tokens[0] != tokens[1]
    assert all(e["JUPYTER_TOKEN"] is None and e["WORKBENCH_SECRETS_KEY_FILE"] is None for e in env)
    assert KERNEL_TOKEN_ENV not in os.environ  # not in the server's own environment

    await second.run(PROBE)
    assert (
        await second.value(f"print(call('/workbench/api/kernel/connections', {tokens[1]!r}))")
        == 200
    )
    # The first kernel ends: its token, read by the second, opens nothing any more.
    await jp_serverapp.kernel_manager.shutdown_kernel(first_id, now=True)
    assert (
        await second.value(f"print(call('/workbench/api/kernel/connections', {tokens[0]!r}))")
        == 403
    )


async def test_lineage_is_recorded_under_the_kernels_notebook_not_a_name_it_claims(
    kernels, workbench: Workbench
) -> None:
    _, kernel = kernels["notebook"]
    await kernel.run(PROBE)
    token = await kernel.value("print(json.dumps(os.environ['WORKBENCH_KERNEL_TOKEN']))")
    forged = {
        "connection": "lake",
        "sql": "CREATE TABLE gold.summary AS SELECT * FROM silver.invoices",
        "job": "alices_close.publish",  # somebody else's pipeline step
    }
    status = await kernel.value(
        f"print(call('/workbench/api/kernel/lineage', {token!r}, {json.dumps(forged)}))"
    )
    assert status == 204
    graph = LineageService(workbench, local_principal()).graph("lake", "gold.summary")
    assert {edge.job for edge in graph.edges} == {"notebook:finance/report.ipynb"}
