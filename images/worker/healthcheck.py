#!/usr/bin/env python3
"""Docker healthcheck of a worker container: healthy while Temporal has seen a worker of
this container (identity ``workbench-worker-<pid>@<hostname>``) poll the task queue in
the last 90 seconds. A worker that runs but no longer polls is unhealthy too."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from workbench_server import temporal
from workbench_server.settings import WorkbenchSettings


async def check() -> str | None:
    settings = WorkbenchSettings.from_env()
    if not settings.temporal_address:
        return "WORKBENCH_TEMPORAL_ADDRESS is not set"
    client = await temporal.connect(settings.temporal_address, settings.temporal_namespace)
    pollers = await temporal.live_pollers(client, settings.task_queue)
    suffix = f"@{socket.gethostname()}"
    if not any(identity.endswith(suffix) for identity in pollers):
        return f"no worker of {socket.gethostname()} polls task queue {settings.task_queue!r}"
    return None


def main() -> int:
    try:
        problem = asyncio.run(asyncio.wait_for(check(), 15))
    except Exception as exc:  # any failure to ask is an unhealthy answer
        problem = f"{type(exc).__name__}: {exc}"
    print(problem or "healthy", file=sys.stderr if problem else sys.stdout, flush=True)
    return 1 if problem else 0


if __name__ == "__main__":
    code = main()
    # The Temporal SDK can abort at interpreter teardown (temporalio/sdk-python#300).
    os._exit(code)
