"""Screenshots of the workbench panels for the docs, in the light and the dark theme.

    python -m tests.ui.screenshots [--out docs/images] [--only builder|catalog|...]

Starts a throwaway workbench with the demo data (as the browser tests do), then: records a
little lineage around a table, searches the catalog and opens that table on its Lineage
tab (``catalog-panel-light.png``, ``catalog-panel-dark.png``); deploys and runs a small
scheduled pipeline with a failing check and opens its view on the failed step
(``pipelines-panel-light.png``, ``pipelines-panel-dark.png``); adds a PostgreSQL
connection (a throwaway cluster with the demo data, as the tests' ``odoo_db``) and shows
it tested in the Connections dialog (``connections-dialog-light.png``,
``connections-dialog-dark.png``); opens the pipeline's file in the Pipeline Editor, a step
selected (``pipeline-editor-light.png``,
``pipeline-editor-dark.png``); makes runs of three pipelines, one failing upstream of
another's SLA, lets the alert engine fire on it, silences one alert and opens the
Operations view (``operations-light.png``, ``operations-dark.png``). Everything it starts
is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import psycopg
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.notebooks import write_notebook
from tests.support.postgres import postgres_settings, running_cluster
from tests.ui.conftest import (
    CHROMIUM_ARGS,
    ROOT,
    UI_TIMEOUT_MS,
    VIEWPORT,
    Workbench,
    chromium_path,
    open_lab,
    start_workbench,
    stop_workbench,
)
from tests.ui.test_catalog_panel import open_catalog, record_lineage
from tests.ui.test_connections_dialog import field, item, open_from_palette
from tests.ui.test_operations_view import (
    make_runs,
    open_operations,
    wait_for_alerts,
    write_alert_rules,
)
from tests.ui.test_pipeline_builder import open_in_pipeline_editor

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def set_theme(workbench: Workbench, theme: str) -> None:
    """Choose the theme through JupyterLab's settings API, as the Settings menu does."""
    response = workbench.api.put(
        f"{workbench.url}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        content=json.dumps({"raw": json.dumps({"theme": theme})}),
    )
    response.raise_for_status()


def prepare_catalog(workbench: Workbench, stack: ExitStack) -> None:
    """Lineage on both sides of the journal items, as pipeline steps declare it."""
    record_lineage(
        workbench,
        ["demo_odoo.main.account_move", "demo_odoo.main.account_account"],
        ["demo_odoo.main.account_move_line"],
        "odoo.posting",
    )
    record_lineage(
        workbench,
        ["demo_odoo.main.account_move_line", "demo_odoo.main.res_partner"],
        ["lake.bronze.journal_items"],
        "month_end_demo.extract",
    )
    record_lineage(
        workbench, ["lake.bronze.journal_items"], ["lake.gold.trial_balance"], "month_end_demo.tb"
    )


def settle(page: Page) -> None:
    """The pointer off anything it would highlight; fonts and icons loaded."""
    page.mouse.move(VIEWPORT["width"] - 10, VIEWPORT["height"] // 2)  # the empty right bar
    page.wait_for_timeout(500)


def show_catalog(page: Page, workbench: Workbench) -> None:
    """Fresh layout, a search in the panel, a table's lineage in the main area."""
    open_lab(page, workbench.url, workbench.token)
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    page.locator(".jp-WorkbenchCatalog-search input").press_sequentially("account move", delay=20)
    hit = page.locator('.jp-WorkbenchCatalog-result[data-table="account_move_line"]')
    hit.click()
    view = page.locator(".jp-WorkbenchCatalogTable:visible")
    view.get_by_role("tab", name="Lineage").click()
    graph = view.locator(".jp-WorkbenchLineage")
    expect(graph.locator(".jp-WorkbenchLineage-node.jp-mod-root")).to_contain_text(
        "main.account_move_line"
    )
    expect(graph.locator(".jp-WorkbenchLineage-edge").first).to_be_visible()
    # The result stays highlighted as the one open; let fonts and icons settle.
    settle(page)


# A small month-end pipeline, every morning at 06:00 UTC: four notebook steps, one
# failing check.
PIPELINE = """\
name: month_end_demo
description: Extract journal items, build the trial balance, check and report.
parameters:
  month: {type: string, default: '2024-01'}
schedule: {cron: '0 6 * * *'}
steps:
  - {id: extract, notebook: extract.ipynb}
  - {id: trial_balance, notebook: trial_balance.ipynb, depends_on: [extract]}
  - {id: check_balance, notebook: check_balance.ipynb, depends_on: [trial_balance]}
  - {id: report, notebook: report.ipynb, depends_on: [trial_balance]}
"""


def prepare_pipeline(workbench: Workbench, stack: ExitStack) -> None:
    """Deploy the demo pipeline over REST and run it to its end (bounded)."""
    folder = workbench.root / "notebooks" / "month_end_demo"
    cells = {
        "extract": "rows = 1200",
        "trial_balance": "debit, credit = 5000.0, 4999.5",
        "check_balance": "raise AssertionError('trial balance is off by 0.50')",
        "report": "print('report written')",
    }
    for step, cell in cells.items():
        write_notebook(folder / f"{step}.ipynb", cell, parameters="month = ''")
    (folder / "pipeline.yaml").write_text(PIPELINE)
    workbench.api.post(
        "pipelines/deploy", json={"path": "month_end_demo/pipeline.yaml"}
    ).raise_for_status()
    run = workbench.api.post("pipelines/month_end_demo/runs", json={}).json()
    deadline = time.monotonic() + 120
    while workbench.api.get(f"runs/{run['id']}").json()["status"] not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the demo pipeline run did not finish within 120 s")
        time.sleep(1)


def show_pipelines(page: Page, workbench: Workbench) -> None:
    """Fresh layout, the Pipelines panel, the demo pipeline on its failed step."""
    open_lab(page, workbench.url, workbench.token)
    panel = page.locator("#workbench-pipelines")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-pipelines"]').click()
    panel.locator('.jp-WorkbenchPipelines-item[data-pipeline="month_end_demo"]').click()
    view = page.locator(".jp-WorkbenchPipeline:visible")
    failed = view.locator('.jp-WorkbenchPipeline-node[data-step="check_balance"]')
    expect(failed).to_have_attribute("data-state", "failed")
    expect(view.locator(".jp-WorkbenchPipeline-schedule")).to_have_attribute(
        "data-schedule", "active"
    )
    expect(view.locator(".jp-WorkbenchPipeline-nextRun")).to_be_visible()
    failed.click()
    expect(view.locator(".jp-WorkbenchPipeline-traceback")).to_be_visible()
    settle(page)


def prepare_builder(workbench: Workbench, stack: ExitStack) -> None:
    """The demo pipeline deployed and run (as for the Pipelines panel), once."""
    if workbench.api.get("pipelines/month_end_demo").status_code != 200:
        prepare_pipeline(workbench, stack)


def show_builder(page: Page, workbench: Workbench) -> None:
    """The demo pipeline in the Pipeline Editor beside its notebooks, coloured by its run,
    a step's properties open."""
    editor = open_in_pipeline_editor(page, workbench, "month_end_demo", "pipeline.yaml")
    failed = editor.locator('.jp-WorkbenchBuilder-node[data-step="check_balance"]')
    expect(failed).to_have_attribute("data-state", "failed")
    editor.locator('.jp-WorkbenchBuilder-node[data-step="trial_balance"]').click()
    expect(editor.locator('[data-properties="step"]')).to_be_visible()
    settle(page)


CONNECTION = "odoo_erp"


def prepare_connections(workbench: Workbench, stack: ExitStack) -> None:
    """A throwaway PostgreSQL cluster (kept up until the end) with the demo data in a
    database ``odoo``, added as a connection over REST and scanned into the catalog."""
    from workbench_server.demo import build_dataset, write_postgres

    # Not under the workbench's temporary folder: the cluster runs unprivileged as root.
    cluster = stack.enter_context(running_cluster(Path(tempfile.mkdtemp(prefix="workbench-pg-"))))
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE odoo")
    url = cluster.url("odoo")
    write_postgres(url, build_dataset())
    body = {
        "name": CONNECTION,
        "description": "Odoo 17 accounting database",
        "settings": postgres_settings(url),
    }
    workbench.api.post("connections", json=body).raise_for_status()
    # Scanned now, so the catalog behind the dialog counts its tables.
    workbench.api.post(f"catalog/sources/{CONNECTION}/scans", timeout=120).raise_for_status()


def show_connections(page: Page, workbench: Workbench) -> None:
    """Fresh layout, the Connections dialog on the PostgreSQL connection, just tested."""
    open_lab(page, workbench.url, workbench.token)
    open_catalog(page)  # behind the dialog, with the connection as a source
    expect(page.locator(".jp-WorkbenchCatalog-tree")).to_contain_text(CONNECTION)
    dialog = open_from_palette(page)
    item(dialog, CONNECTION).click()
    expect(dialog.locator(".jp-WorkbenchConnections-heading")).to_contain_text(CONNECTION)
    expect(field(dialog, "password")).to_have_value("")
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(dialog.locator(".jp-WorkbenchConnections-result")).to_have_attribute("data-ok", "true")
    # The dialog says it already: wait for the notification to close by itself (the modal
    # dialog takes the clicks on its close button).
    settle(page)
    expect(page.locator(".Toastify__toast")).to_have_count(0)


def prepare_operations(workbench: Workbench, stack: ExitStack) -> None:
    """Alert rules in the home, the runs of the Operations view's test, and its failed
    pipeline's alert silenced for a day."""
    write_alert_rules(workbench.root / "home")  # the idle engine reads it within 30 s
    make_runs(workbench)
    wait_for_alerts(workbench, {"PipelineFailed", "SlaAtRisk"})
    workbench.api.post(
        "alerts/silences",
        json={
            "rule": "PipelineFailed",
            "labels": {"pipeline": "ops_load"},
            "minutes": 1440,
            "comment": "invoice export fixed upstream, re-run tonight",
        },
    ).raise_for_status()


def show_operations(page: Page, workbench: Workbench) -> None:
    """Fresh layout, the Operations view with its alerts and the SLA at risk, the left
    sidebar closed and the page tall enough for the whole view."""
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1040})
    open_lab(page, workbench.url, workbench.token)
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    view = open_operations(page)
    expect(view.locator('[data-rule="PipelineFailed"]')).to_have_attribute("data-silenced", "true")
    expect(view.locator('tr[data-pipeline="ops_report"] [data-col="sla"]')).to_have_attribute(
        "data-sla", "at-risk"
    )
    settle(page)


Prepare = Callable[[Workbench, ExitStack], None]
Show = Callable[[Page, Workbench], None]
# Name -> (file name stem, setup done once, what to show in each theme).
SHOTS: dict[str, tuple[str, Prepare, Show]] = {
    "catalog": ("catalog-panel", prepare_catalog, show_catalog),
    "pipelines": ("pipelines-panel", prepare_pipeline, show_pipelines),
    "builder": ("pipeline-editor", prepare_builder, show_builder),
    "connections": ("connections-dialog", prepare_connections, show_connections),
    "operations": ("operations", prepare_operations, show_operations),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", choices=sorted(SHOTS), help="one shot (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=UI_TIMEOUT_MS)

    with tempfile.TemporaryDirectory(prefix="workbench-shots-") as tmp, ExitStack() as stack:
        up = start_workbench(Path(tmp))
        workbench = Workbench(up, Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                try:
                    for shot, (stem, prepare, show) in SHOTS.items():
                        if args.only and shot != args.only:
                            continue
                        prepare(workbench, stack)
                        for name, theme in THEMES.items():
                            set_theme(workbench, theme)
                            page = browser.new_page(viewport=VIEWPORT)
                            page.set_default_timeout(UI_TIMEOUT_MS)
                            show(page, workbench)
                            path = args.out / f"{stem}-{name}.png"
                            page.screenshot(path=str(path))
                            page.close()
                            print(f"saved {path}")
                finally:
                    browser.close()
        finally:
            workbench.api.close()
            stop_workbench(up)
    return 0


if __name__ == "__main__":
    sys.exit(main())
