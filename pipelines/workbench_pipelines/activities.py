"""Activities run by the pipeline worker."""

from __future__ import annotations

import os
import socket

from pydantic import BaseModel
from temporalio import activity


class WorkerInfo(BaseModel):
    """What a worker says about itself when pinged."""

    identity: str
    hostname: str
    pid: int
    version: str


@activity.defn(name="workbench.ping")
async def ping() -> WorkerInfo:
    """Prove that a worker picks up activities on the task queue (``workbench doctor``)."""
    from workbench_server._version import __version__

    info = activity.info()
    activity.logger.info("ping on %s", info.task_queue)
    return WorkerInfo(
        identity=os.environ.get("WORKBENCH_WORKER_IDENTITY", ""),
        hostname=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
    )
