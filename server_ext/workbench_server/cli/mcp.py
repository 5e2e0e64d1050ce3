"""``workbench mcp``: the workbench's MCP server on stdin/stdout, for a local agent.

An agent (Claude Desktop, an IDE, any MCP client) starts it as a subprocess and speaks
MCP over its standard streams. It runs as the account that started it, on that
account's workbench home, like every other ``workbench`` command: the same tools as
``/workbench/mcp`` over HTTP, audited with transport ``stdio``.

With ``--url`` (or in a JupyterHub user's terminal, where the workbench runs as the
hub's service) it opens no core here: it relays the agent's messages to that server's
``/workbench/mcp`` over streamable HTTP with a token (``--token``, else
``$WORKBENCH_TOKEN``, else the terminal's ``$JUPYTERHUB_API_TOKEN``), so the agent acts
with that token's user and rights.

Standard output carries the protocol only: logs go to standard error.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from . import home_option

TOKEN_ENV = "WORKBENCH_TOKEN"  # noqa: S105 (the variable's name, not a token)


@click.command()
@home_option
@click.option(
    "--url",
    envvar="WORKBENCH_MCP_URL",
    help="Relay to this workbench's MCP endpoint (…/workbench/mcp) instead of opening the "
    "local home [env WORKBENCH_MCP_URL].",
)
@click.option(
    "--token",
    help=f"Token for --url [env {TOKEN_ENV}, else JUPYTERHUB_API_TOKEN]; prefer the "
    "environment: a command line is visible to every user of the machine.",
)
def mcp(home: str | None, url: str | None, token: str | None) -> None:
    """Serve the workbench's MCP tools on stdin/stdout (for Claude Desktop and other agents)."""
    import anyio

    from ..settings import HUB_TOKEN_ENV, SERVICE_URL_ENV

    logging.getLogger("mcp").setLevel(logging.WARNING)
    service = os.environ.get(SERVICE_URL_ENV)
    if url is None and service and not os.environ.get("WORKBENCH_DB_URL"):
        url = service.rstrip("/") + "/workbench/mcp"
    if url is not None:
        token = token or os.environ.get(TOKEN_ENV) or os.environ.get(HUB_TOKEN_ENV)
        if not token:
            raise click.UsageError(
                f"--url needs a token: set {TOKEN_ENV} (a Jupyter or hub API token of yours)"
            )
        anyio.run(_relay, url, token)
        return
    from ..principal import local_principal
    from .connection import _workbench

    workbench = _workbench(home, "serve agents")
    try:
        from ..agents.server import WorkbenchMcp

        server = WorkbenchMcp(workbench, local_principal(), transport="stdio").server
        anyio.run(server.run_stdio_async)
    finally:
        workbench.close()


async def _relay(url: str, token: str) -> None:
    """Pass every message between stdio and the server at ``url``, unchanged."""
    import anyio
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.stdio import stdio_server

    headers = {"Authorization": f"token {token}"}
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as (remote_in, remote_out),
        stdio_server() as (local_in, local_out),
        anyio.create_task_group() as tasks,
    ):

        async def pump(source, target) -> None:  # type: ignore[no-untyped-def]
            async for message in source:
                if isinstance(message, Exception):
                    print(f"workbench mcp: {message}", file=sys.stderr)
                    continue
                await target.send(message)
            tasks.cancel_scope.cancel()

        tasks.start_soon(pump, local_in, remote_out)
        tasks.start_soon(pump, remote_in, local_out)
