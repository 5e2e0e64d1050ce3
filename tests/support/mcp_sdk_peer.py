"""MCP's TypeScript SDK, the client of Claude Desktop/Code, Cursor and the MCP Inspector,
for the interoperability test in tests/test_mcp.py.

.ci/run installs tests/support/mcp_sdk/package-lock.json (three releases of the SDK, one
per protocol version agents still speak) into ~/.cache/workbench-peers/mcp-sdk, again only
when the lock file changes (a few seconds, 53 MB). :func:`run_agent` runs
tests/support/mcp_sdk/agent.cjs with node against a workbench's ``/workbench/mcp``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

INSTALL = Path(
    os.environ.get("WORKBENCH_MCP_SDK_HOME", Path.home() / ".cache/workbench-peers/mcp-sdk")
)
AGENT = Path(__file__).parent / "mcp_sdk" / "agent.cjs"
# Each release's package name in tests/support/mcp_sdk/package.json, by the newest
# protocol version it speaks (the one it asks for in initialize).
RELEASES = {
    "2025-11-25": "@modelcontextprotocol/sdk",
    "2025-06-18": "sdk-2025-06-18",
    "2025-03-26": "sdk-2025-03-26",
}
HOW_TO_INSTALL = (
    f"MCP's TypeScript SDK is not installed at {INSTALL}: run .ci/run, or install it with\n"
    f"  mkdir -p {INSTALL} && cp tests/support/mcp_sdk/package*.json {INSTALL}/ && "
    f"npm ci --prefix {INSTALL} --no-audit --no-fund"
)


def node_missing() -> bool:
    return shutil.which("node") is None


def installed() -> bool:
    modules = INSTALL / "node_modules"
    return all((modules / name / "package.json").exists() for name in RELEASES.values())


def run_agent(
    protocol: str, url: str, token: str, other_token: str, table: str, query: str
) -> dict[str, Any]:
    """What the SDK release speaking ``protocol`` saw (see agent.cjs): fails with node's
    output if the agent itself failed."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MCP_")},
        "MCP_SDK_HOME": str(INSTALL),
        "MCP_TOKEN": token,
        "MCP_OTHER_TOKEN": other_token,
        "MCP_TABLE": table,
        "MCP_QUERY": query,
    }
    done = subprocess.run(
        ["node", str(AGENT), RELEASES[protocol], url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the agent failed ({done.returncode}):\n{done.stderr}"
    return json.loads(done.stdout)
