"""Catalog scans run by the pipeline worker: on a Temporal Schedule, or started on demand."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server import temporal
from workbench_server.catalog import CatalogService
from workbench_server.catalog.schedules import scan_schedule_id, start_scan
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.core import Workbench
from workbench_server.principal import local_principal


def _succeeded(catalog: CatalogService, count: int, timeout: float = 90) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scans = [s for s in catalog.scans("odoo") if s.status == "succeeded"]
        if len(scans) >= count:
            return scans
        time.sleep(0.5)
    return [s for s in catalog.scans("odoo") if s.status == "succeeded"]


@pytest.mark.timeout(300)
def test_scheduled_and_on_demand_scans_run_on_the_worker(
    home, workbench, worker, odoo_db: str, temporal_address: str, task_queue: str
) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db))
    )
    catalog = CatalogService(workbench, local_principal())
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    scheduled = run_workbench(
        "catalog",
        "schedule",
        "odoo",
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Brussels",
        env=env,
    )
    assert scheduled.returncode == 0, scheduled.stderr
    assert re.match(
        r"odoo: scans at '0 3 \* \* \*' \(Europe/Brussels\); next: \d{4}-\d\d-\d\d 0[23]:00",
        scheduled.stdout,
    ), scheduled.stdout
    bad = run_workbench("catalog", "schedule", "odoo", "--cron", "61 * * * *", env=env)
    assert bad.returncode == 1 and "minute" in bad.stderr

    async def trigger() -> None:
        client = await temporal.connect(temporal_address)
        await client.get_schedule_handle(scan_schedule_id("odoo")).trigger()

    asyncio.run(trigger())
    [first] = _succeeded(catalog, 1)
    assert first.stats["odoo"] is True
    assert catalog.find("odoo", "public", "account_move").label == "Journal Entry"

    engine = Workbench(
        workbench.settings.model_copy(
            update={"temporal_address": temporal_address, "task_queue": task_queue}
        )
    )
    try:
        workflow_id = asyncio.run(start_scan(engine, local_principal(), "odoo"))
    finally:
        engine.close()
    assert workflow_id.startswith("catalog-scan-odoo-")
    assert len(_succeeded(catalog, 2)) == 2

    off = run_workbench("catalog", "schedule", "odoo", "--off", env=env)
    assert off.returncode == 0 and off.stdout.strip() == "odoo: scheduled scans stopped"
    gone = run_workbench("catalog", "schedule", "odoo", env=env)
    assert gone.returncode == 1
    assert gone.stderr.strip() == "workbench: error: connection 'odoo' has no scan schedule"
