"""A lake table's freshness in the Data Catalog panel follows change data capture live
(issue 21, must-show 2): with the bronze table of a cdc step open, a transaction
committed in a real PostgreSQL (``wal_level=logical``) and streamed into the lake by the
step shows as the table's new version and last write, without a reload."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.support.ingest import make_source, step_context
from tests.support.postgres import postgres_settings, running_cluster
from tests.ui.conftest import Workbench

TABLE_VIEW = ".jp-WorkbenchCatalogTable:visible"
CDC = {
    "source": "live_odoo",
    "mode": "cdc",
    "tables": [{"table": "account_account", "target": "bronze.live_accounts"}],
}


@pytest.fixture(scope="module")
def source(workbench: Workbench) -> Iterator[tuple[object, str]]:
    """A PostgreSQL that allows logical replication, as connection ``live_odoo`` of the
    running workbench, copied once into bronze.live_accounts (then cataloged)."""
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.core import Workbench as Core
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-live-"))
    settings = {"wal_level": "logical", "max_replication_slots": "4", "max_wal_senders": "4"}
    with running_cluster(folder, settings) as cluster, cluster.fresh_database() as url:
        make_source(url)
        core = Core(WorkbenchSettings.from_env(Path(workbench.root) / "home"))
        try:
            ConnectionService(core, local_principal()).create(
                ConnectionCreate(name="live_odoo", settings=postgres_settings(url))
            )
            _cdc(core)  # the first copy
            scan = workbench.api.post("catalog/sources/lake/scans")
            assert scan.status_code == 201, scan.text
            yield core, url
        finally:
            with psycopg.connect(url, autocommit=True) as db:
                for (slot,) in db.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"
                ).fetchall():
                    db.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            core.close()


def _cdc(core) -> None:
    """One run of the cdc step (as the worker runs it): it reads what was committed,
    writes a batch to bronze and tells the catalog."""
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_server.principal import local_principal

    run_extract(step_context(core, local_principal(), "extract", CDC))


def test_an_open_table_shows_each_cdc_batch_without_a_reload(
    page: Page, source: tuple[object, str]
) -> None:
    core, url = source
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    expect(panel).to_be_visible()
    page.locator(".jp-WorkbenchCatalog-search input").fill("live_accounts")
    page.locator('.jp-WorkbenchCatalog-result[data-table="live_accounts"]').click()
    view = page.locator(TABLE_VIEW)
    expect(view.locator(".jp-WorkbenchCatalogTable-name")).to_have_text("bronze.live_accounts")
    expect(view.locator('[data-fact="version"]')).to_have_text(re.compile(r"^\d+ \(\d+ listed\)$"))
    start = int(view.locator('[data-fact="version"]').inner_text().split()[0])
    first = view.locator('[data-fact="last-write"]').inner_text()
    loads = []
    detail = re.compile(r"/workbench/api/catalog/tables/\d+$")
    page.on(  # a load of the table's detail (what Reload does) would also show it
        "request", lambda r: loads.append(r.url) if detail.search(r.url.split("?")[0]) else None
    )
    page.evaluate("window.__notReloaded = true")

    for batch in (1, 2):
        version = start + batch
        with psycopg.connect(url) as db:  # one transaction: a batch
            db.execute("UPDATE account_account SET code = code || 'v' WHERE id <= %s", (batch,))
            db.execute(
                "DELETE FROM account_account WHERE id = (SELECT max(id) FROM account_account)"
            )
            db.commit()
        _cdc(core)
        expect(view.locator('[data-fact="version"]')).to_have_text(
            re.compile(rf"^{version} \(\d+ listed\)$"), timeout=15_000
        )
        expect(view.locator('[data-fact="last-write"]')).to_contain_text("step extract attempt 1")
    assert view.locator('[data-fact="last-write"]').inner_text() != first
    # The same page: nothing reloaded it, nor the table's detail.
    assert page.evaluate("window.__notReloaded === true")
    assert not loads
