"""Integrations (issue 18): agents through MCP next to the REST API, in the same run.

**MCP vs REST.** Starts a jupyter-server with the workbench extension on a fresh home
with a seeded lake (tables scanned into the catalog). Then, after a warm-up, asks the
same question three ways, one call of each after the other (the first rotating), by
one client of the same HTTP library (httpx2, which the MCP SDK's client uses):

- REST: ``GET /workbench/api/catalog/search?q=...`` and ``GET
  /workbench/api/catalog/tables/<id>/preview?limit=20``;
- MCP: the SDK's own client (streamable HTTP at ``/workbench/mcp``; it negotiates the
  2026-07-28 protocol, one self-contained POST per call) calling ``search_catalog`` and
  ``preview_table`` with the same arguments;
- wire: the same ``tools/call`` POSTed as JSON by the plain HTTP client, without the
  SDK's client: the server's share of an MCP call alone.

Each MCP call does what its REST twin does plus what an agent's call costs: JSON-RPC,
the SDK's argument and result validation on both sides, and the audit row. Reports the
median time of a call of each (over every call of every round), the CPU a call costs
in the client and in the server's process (apart from the load), ``mcp_vs_rest_ratio``
(the SDK's client; the larger of the two MCP/REST ratios; goal <= 1.5) and
``mcp_wire_vs_rest_ratio`` (the server's share, same pairs).

**Webhook delay.** ``webhook_delay_ms`` (run end to delivery, p95, goal <= 500) is the
webhook/n8n work's figure: :func:`measure_webhook_delay` runs its benchmark
(``benchmarks/webhook_delay.py``).

    python benchmarks/integrations.py [--repeat 5] [--block 200] [--mcp-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from startup import free_port, stop

# A 2026-07-28 request carries its protocol version and the client's capabilities.
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
WIRE = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
}
SEARCH_TERMS = ("invoice", "partner", "journal", "ledger", "payment", "balance", "tax", "bank")
TABLES = 40
ROWS = 5_000


# -- the workbench under test ------------------------------------------------------------


def seed_lake(home: Path) -> None:
    """TABLES silver/gold tables of ROWS rows each (seeded), in the home's lake."""
    import numpy as np
    import pyarrow as pa

    from workbench_server.lake import Lake
    from workbench_server.settings import WorkbenchSettings

    rng = np.random.default_rng(18)
    lake = Lake.default(WorkbenchSettings.from_env(home))
    subjects = ("invoice", "partner", "journal", "ledger", "payment", "balance", "tax", "bank")
    for i in range(TABLES):
        layer = "gold" if i % 4 == 0 else "silver"
        name = f"{subjects[i % len(subjects)]}_{i:02d}"
        lake.write(
            f"{layer}.{name}",
            pa.table(
                {
                    "id": np.arange(ROWS),
                    "partner": rng.choice(["Azure", "Gemini", "Deco", "Ready"], ROWS),
                    "email": [f"p{n}@example.com" for n in range(ROWS)],
                    "amount": rng.normal(1000, 300, ROWS).round(2),
                }
            ),
        )


def start_server(home: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """jupyter-server with the workbench extension; (process, base URL, token)."""
    import httpx2

    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={workdir}",
        "--ServerApp.jpserver_extensions=workbench_server=True",
    ]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env |= {"JUPYTER_TOKEN": token, "WORKBENCH_HOME": str(home)}
    log = (home / "server.log").open("ab")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            answer = httpx2.get(
                f"{base}/workbench/api/version", headers={"Authorization": f"token {token}"}
            )
            if answer.status_code == 200:
                return proc, base, token
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    tail = (home / "server.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the workbench server did not start:\n{tail}")


# -- MCP vs REST -------------------------------------------------------------------------


async def measure_mcp_vs_rest(
    base: str, token: str, repeat: int, block: int, server_pid: int | None = None
) -> dict[str, Any]:
    import httpx2
    import psutil
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"token {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as rest:
        scanned = await rest.post(f"{base}/workbench/api/catalog/sources/lake/scans")
        scanned.raise_for_status()
        tables = (await rest.get(f"{base}/workbench/api/catalog/tables?limit=500")).json()
        table = next(t for t in tables["items"] if t["name"].startswith("invoice"))
        ref = f"lake.{table['schema']}.{table['name']}"

        async def rest_search(i: int) -> None:
            q = SEARCH_TERMS[i % len(SEARCH_TERMS)]
            answer = await rest.get(f"{base}/workbench/api/catalog/search", params={"q": q})
            answer.raise_for_status()
            assert answer.json()["total"] > 0

        async def rest_preview(i: int) -> None:
            answer = await rest.get(
                f"{base}/workbench/api/catalog/tables/{table['id']}/preview",
                params={"limit": "20"},
            )
            answer.raise_for_status()
            assert len(answer.json()["rows"]) == 20

        # The server imports the SDK and starts its session manager with the first MCP
        # request (seconds on a loaded machine). Done here, not inside the client's
        # connect: the client's server/discover probe waits 10 s at most and then falls
        # back to the pre-2026 initialize handshake (a session-bound path, not the one an
        # agent's client takes on a warm server), which made some runs measure that one.
        for _ in range(2):
            warm = await rest.post(
                f"{base}/workbench/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "tools/call",
                    "params": {
                        "name": "search_catalog",
                        "arguments": {"query": "invoice"},
                        "_meta": ENVELOPE,
                    },
                },
                headers={**WIRE, "Mcp-Name": "search_catalog"},
            )
            warm.raise_for_status()
        http = httpx2.AsyncClient(headers=headers, timeout=60)
        transport = streamable_http_client(f"{base}/workbench/mcp", http_client=http)
        async with Client(transport, raise_exceptions=True) as agent:
            protocol = agent.protocol_version

            async def mcp_search(i: int) -> None:
                q = SEARCH_TERMS[i % len(SEARCH_TERMS)]
                answer = await agent.call_tool("search_catalog", {"query": q, "limit": 20})
                assert not answer.is_error and json.loads(answer.content[0].text)["total"] > 0

            async def mcp_preview(i: int) -> None:
                answer = await agent.call_tool("preview_table", {"table": ref, "limit": 20})
                assert not answer.is_error, answer.content[0].text
                assert len(json.loads(answer.content[0].text)["rows"]) == 20

            async def wire(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
                body = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": name, "arguments": arguments, "_meta": ENVELOPE},
                }
                headers = {**WIRE, "Mcp-Name": name}
                answer = await rest.post(f"{base}/workbench/mcp", json=body, headers=headers)
                answer.raise_for_status()
                found = answer.json()["result"]
                assert not found.get("isError"), found
                return json.loads(found["content"][0]["text"])

            async def wire_search(i: int) -> None:
                q = SEARCH_TERMS[i % len(SEARCH_TERMS)]
                assert (await wire("search_catalog", {"query": q, "limit": 20}))["total"] > 0

            async def wire_preview(i: int) -> None:
                found = await wire("preview_table", {"table": ref, "limit": 20})
                assert len(found["rows"]) == 20

            pairs = {
                "search": (rest_search, mcp_search, wire_search),
                "preview": (rest_preview, mcp_preview, wire_preview),
            }
            sides = ("rest", "mcp", "wire")
            per_call: dict[str, list[float]] = {f"{k}_{side}": [] for k in pairs for side in sides}

            # CPU of each call, apart from the wall time the machine's load stretches:
            # the client's (this process) and the server's (its process, every thread),
            # read around the timed part.
            server = psutil.Process(server_pid) if server_pid else None
            cpu: dict[str, list[float]] = {key: [0.0, 0.0, 0] for key in per_call}

            def server_cpu() -> float:
                if server is None:
                    return 0.0
                times = server.cpu_times()
                return times.user + times.system

            async def timed(call: Any, i: int, key: str | None = None) -> float:
                client0, server0 = time.process_time(), server_cpu()
                started = time.perf_counter()
                await call(i)
                elapsed = (time.perf_counter() - started) * 1000
                if key is not None:
                    spent = cpu[key]
                    spent[0] += time.process_time() - client0
                    spent[1] += server_cpu() - server0
                    spent[2] += 1
                return elapsed

            latencies: dict[str, list[float]] = {key: [] for key in per_call}
            for calls in pairs.values():  # warm-up
                for call in calls:
                    for i in range(20):
                        await timed(call, i)
            for _ in range(repeat):
                for name, calls in pairs.items():
                    # One call of each side after the other, the first side rotating: a
                    # burst of load on this shared machine hits all three alike.
                    order = list(zip(sides, calls, strict=True))
                    found: dict[str, list[float]] = {side: [] for side in sides}
                    for i in range(block):
                        shift = i % len(order)
                        for side, call in order[shift:] + order[:shift]:
                            found[side].append(await timed(call, i, f"{name}_{side}"))
                    for side, values in found.items():
                        per_call[f"{name}_{side}"].append(statistics.median(values))
                        latencies[f"{name}_{side}"].extend(values)
    medians = {k: statistics.median(v) for k, v in latencies.items()}
    ratios = {
        f"{k}_{side}": medians[f"{k}_{side}"] / medians[f"{k}_rest"]
        for k in ("search", "preview")
        for side in ("mcp", "wire")
    }
    cpu_ms = {
        key: {"client": c * 1000 / n, "server": sv * 1000 / n} for key, (c, sv, n) in cpu.items()
    }
    return {
        "medians_ms": medians,
        "ratios": ratios,
        "runs": per_call,
        "cpu_ms": cpu_ms,
        "protocol": protocol,
    }


# -- webhook delay (issue 18's n8n/webhook part) -----------------------------------------


def measure_webhook_delay(home: Path) -> float | None:
    """p95 of run end -> webhook delivery in ms, measured by benchmarks/webhook_delay.py
    (its own Temporal dev server, worker and receiver on loopback, on a fresh home of its
    own: ``home`` is not used); that script prints the details and the raw POST's time.
    """
    from webhook_delay import figures
    from webhook_delay import measure_webhook_delay as measure

    return figures(measure())["webhook_delay_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds")
    parser.add_argument("--block", type=int, default=200, help="calls of each side per round")
    parser.add_argument(
        "--mcp-only", action="store_true", help="leave out webhook_delay_ms (its own benchmark)"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="workbench-bench-integrations-"))
    home, workdir = root / "home", root / "work"
    home.mkdir()
    workdir.mkdir()
    proc = None
    try:
        seed_lake(home)
        proc, base, token = start_server(home, workdir)
        mcp = asyncio.run(measure_mcp_vs_rest(base, token, args.repeat, args.block, proc.pid))
        webhook_delay_ms = None if args.mcp_only else measure_webhook_delay(home)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)

    medians, ratios = mcp["medians_ms"], mcp["ratios"]
    # The ratio of each round's medians (rounds alternate with the machine's other work):
    # its spread says how much a figure can be trusted on a shared machine.
    rounds = {
        name: [
            m / r
            for m, r in zip(mcp["runs"][f"{name}_mcp"], mcp["runs"][f"{name}_rest"], strict=True)
        ]
        for name in ("search", "preview")
    }
    load = os.getloadavg()
    print(
        f"{'call':8} {'REST ms':>8} {'MCP ms':>8} {'MCP/REST':>9} {'wire ms':>8} {'wire/REST':>9}"
    )
    for name in ("search", "preview"):
        print(
            f"{name:8} {medians[f'{name}_rest']:8.2f} {medians[f'{name}_mcp']:8.2f} "
            f"{ratios[f'{name}_mcp']:9.2f} {medians[f'{name}_wire']:8.2f} "
            f"{ratios[f'{name}_wire']:9.2f}"
        )
    for name, values in rounds.items():
        print(f"{name} MCP/REST per round: " + " ".join(f"{v:.2f}" for v in values))
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1, 5, 15 min)")
    print(f"MCP protocol negotiated by the SDK's client: {mcp['protocol']}")
    print("CPU per call (ms; client = this process, server = the server's process):")
    for key, spent in mcp["cpu_ms"].items():
        print(f"  {key:14} client {spent['client']:6.3f}  server {spent['server']:6.3f}")
    print("median of each round (ms per call):")
    for key, values in mcp["runs"].items():
        print(f"  {key:14} " + " ".join(f"{v:6.2f}" for v in values))
    if webhook_delay_ms is None:
        print("webhook_delay_ms: not measured (--mcp-only)")
    figures = {
        "mcp_vs_rest_ratio": round(max(ratios["search_mcp"], ratios["preview_mcp"]), 3),
        "mcp_wire_vs_rest_ratio": round(max(ratios["search_wire"], ratios["preview_wire"]), 3),
        "mcp_vs_rest_search_ratio": round(ratios["search_mcp"], 3),
        "mcp_vs_rest_preview_ratio": round(ratios["preview_mcp"], 3),
        **{
            f"{side}_{name}_ms": round(medians[f"{name}_{side}"], 2)
            for name in ("search", "preview")
            for side in ("rest", "mcp", "wire")
        },
        # mcp_vs_rest_ratio (the larger of the two) of the rounds: the lowest and highest.
        "mcp_vs_rest_ratio_round_min": round(min(map(max, *rounds.values())), 3),
        "mcp_vs_rest_ratio_round_max": round(max(map(max, *rounds.values())), 3),
        **{
            f"cpu_{where}_{key}_ms": round(spent[where], 3)
            for key, spent in mcp["cpu_ms"].items()
            for where in ("client", "server")
        },
        "load_average_5m": round(load[1], 2),
        "webhook_delay_ms": webhook_delay_ms,
    }
    units = {k: "ratio" if "ratio" in k else "ms" for k in figures}
    units["load_average_5m"] = "load"
    goals = {"mcp_vs_rest_ratio": "<= 1.5", "webhook_delay_ms": "<= 500"}
    print(
        json.dumps(
            {"benchmark": "integrations", "figures": figures, "units": units, "goals": goals}
        )
    )


if __name__ == "__main__":
    main()
