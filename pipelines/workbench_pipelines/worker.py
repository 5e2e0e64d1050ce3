"""The pipeline worker: polls the workbench task queue and runs workflows and activities."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import sys
from datetime import timedelta

from temporalio.worker import Worker

from workbench_server.approvals.events import approval_events
from workbench_server.home import WORKER_HEARTBEAT_ENV
from workbench_server.metrics.exposition import worker_metrics_server
from workbench_server.settings import WorkbenchSettings
from workbench_server.temporal import connect_with_retry

from .activities import ping
from .approval_activities import ApprovalActivities
from .catalog_activities import CatalogActivities
from .kernel_access import KernelAccess, kernel_environment
from .kernel_pool import KernelPool
from .lake_maintenance import LakeMaintenanceActivities, LakeMaintenanceWorkflow
from .notebook import preload
from .on_change import OnChangeWorkflow
from .run_activities import RunActivities
from .webhook_delivery import (
    WebhookActivities,
    WebhookDeliveryWorkflow,
    on_approval,
    webhook_queue,
)
from .workflows import (
    CatalogScanWorkflow,
    PingWorkflow,
    PipelineRunWorkflow,
    ScheduledRunWorkflow,
)

log = logging.getLogger(__name__)

WORKFLOWS = [
    PingWorkflow,
    PipelineRunWorkflow,
    ScheduledRunWorkflow,
    CatalogScanWorkflow,
    LakeMaintenanceWorkflow,
    OnChangeWorkflow,
]


# Seconds between two touches of the heartbeat file (see beat); the keeper of `workbench
# up` calls a loop stuck once the file is older than its check interval (5 s).
HEARTBEAT_EVERY_S = 2.0


async def beat(path: str) -> None:
    """Touch ``path`` every HEARTBEAT_EVERY_S seconds from the worker's event loop. A
    worker whose loop is stuck (SIGSTOPped, deadlocked, a blocking call on the loop)
    stays "running" and may even keep its pollers listed by Temporal (the SDK's core
    polls on threads of its own) while no run moves: only the loop itself can say it
    runs. One ``utime`` every 2 s: nothing to speak of when idle."""
    said = False
    while True:
        try:
            try:
                os.utime(path)
            except FileNotFoundError:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:  # a home gone read-only: the keeper will call us stuck
            if not said:
                print(f"worker: cannot touch its heartbeat file: {exc}", file=sys.stderr)
                said = True
        await asyncio.sleep(HEARTBEAT_EVERY_S)


def worker_identity() -> str:
    return f"workbench-worker-{os.getpid()}@{socket.gethostname()}"


async def run_worker(
    settings: WorkbenchSettings,
    *,
    max_concurrent_activities: int = 4,
    graceful_shutdown: timedelta = timedelta(seconds=30),
    stop: asyncio.Event | None = None,
    connect_timeout: float = 30.0,
) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set), then shut down gracefully.

    Temporal may start at the same time as the worker (``workbench up``, compose), so the
    worker keeps trying to connect for ``connect_timeout`` seconds. On shutdown the worker
    stops polling, lets running activities finish for up to ``graceful_shutdown`` and then
    cancels them; Temporal retries cancelled work on another worker, so nothing is lost.
    """
    if not settings.temporal_address:
        from workbench_server.errors import ConfigurationError

        raise ConfigurationError(
            "no Temporal address: pass --temporal or set WORKBENCH_TEMPORAL_ADDRESS"
        )
    preload()  # before any thread of this process imports anything
    heartbeat = os.environ.get(WORKER_HEARTBEAT_ENV)
    beating = asyncio.create_task(beat(heartbeat)) if heartbeat else None
    client = await connect_with_retry(
        settings.temporal_address, settings.temporal_namespace, within=connect_timeout
    )
    from workbench_server.core import Workbench

    workbench = Workbench(settings)
    metrics = worker_metrics_server(settings.workbench_home.root)
    kernel_access = KernelAccess(workbench)
    await kernel_access.start()
    # The next step's kernel starts while nothing waits for it (the worker's own secrets
    # are not in its environment: see kernel_environment).
    # Spares are forked from a process that has imported ipykernel (kernel_fork.py);
    # WORKBENCH_KERNEL_FORK=0 starts them as separate interpreters instead.
    kernel_pool = KernelPool(
        lambda: kernel_environment({}), fork=os.environ.get("WORKBENCH_KERNEL_FORK") != "0"
    )
    runs = RunActivities(workbench, kernel_access, kernel_pool)
    gates = ApprovalActivities(workbench, runs)
    catalog = CatalogActivities(workbench)
    lake = LakeMaintenanceActivities(workbench)
    identity = worker_identity()
    os.environ["WORKBENCH_WORKER_IDENTITY"] = identity
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            ping,
            runs.record_run,
            runs.run_step,
            runs.prepare_run,
            runs.notify,
            gates.approval_open,
            gates.approval_notify,
            gates.approval_expire,
            gates.approval_settle,
            catalog.catalog_scan,
            lake.lake_maintenance,
        ],
        identity=identity,
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=graceful_shutdown,
        # Heartbeats go to Temporal every third of the installation's step heartbeat
        # timeout (the SDK's own pace, 0.8 of it, left a loaded machine 2 s of 10).
        max_heartbeat_throttle_interval=timedelta(seconds=settings.step_heartbeat_timeout_s / 3),
    )
    # Deliveries on a queue and slots of their own: never in a step's way, nor it in theirs.
    webhooks = WebhookActivities(workbench)
    approval_events(workbench).subscribe(
        functools.partial(on_approval, workbench, asyncio.get_running_loop(), client)
    )
    hooks_worker = Worker(
        client,
        task_queue=webhook_queue(settings.task_queue),
        workflows=[WebhookDeliveryWorkflow],
        activities=[webhooks.deliver],
        identity=identity,
        max_concurrent_activities=8,
        graceful_shutdown_timeout=graceful_shutdown,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    parent = os.getppid()

    def on_signal() -> None:
        if os.getppid() != parent:
            # The process that started this worker is gone (workbench up killed: its
            # parent-death signal is this SIGTERM) and Temporal went with it. Letting the
            # running steps finish only ran them a second time: nobody takes their results,
            # and the next start runs them again (as it did, both attempts to the end).
            # Stop now; the next start finds the attempts lost and runs them once more.
            print(
                f"worker {identity}: the process that started it is gone; stopping now "
                "(running steps run again on the next start)",
                file=sys.stderr,
                flush=True,
            )
            os._exit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with worker, hooks_worker:
            print(
                f"worker {identity} polling task queue {settings.task_queue!r} "
                f"on {settings.temporal_address}",
                flush=True,
            )
            if metrics is not None:
                print(f"worker {identity} metrics on http://{metrics.address}/metrics", flush=True)
            await stop.wait()
            log.info("worker %s shutting down", identity)
    finally:
        if beating is not None:
            beating.cancel()
        if metrics is not None:
            metrics.stop()
        await asyncio.to_thread(kernel_pool.close)
        await kernel_access.stop()
        workbench.close()
    log.info("worker %s stopped", identity)
