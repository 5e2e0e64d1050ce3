"""Screenshots of the workbench panels for the docs, in the light and the dark theme.

    python -m tests.ui.screenshots [--out docs/images] [--only catalog|pipelines]

Starts a throwaway workbench with the demo data (as the browser tests do), then: searches
the catalog and opens a table on its Preview tab (``catalog-panel-light.png``,
``catalog-panel-dark.png``); deploys and runs a small pipeline with a failing check and
opens its view on the failed step (``pipelines-panel-light.png``,
``pipelines-panel-dark.png``). Everything it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.support.notebooks import write_notebook
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

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def set_theme(workbench: Workbench, theme: str) -> None:
    """Choose the theme through JupyterLab's settings API, as the Settings menu does."""
    response = workbench.api.put(
        f"{workbench.url}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        content=json.dumps({"raw": json.dumps({"theme": theme})}),
    )
    response.raise_for_status()


def show_catalog(page: Page, workbench: Workbench) -> None:
    """Fresh layout, a search in the panel, a table's preview in the main area."""
    open_lab(page, workbench.url, workbench.token)
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    page.locator(".jp-WorkbenchCatalog-search input").press_sequentially("account move", delay=20)
    hit = page.locator('.jp-WorkbenchCatalog-result[data-table="account_move_line"]')
    hit.click()
    view = page.locator(".jp-WorkbenchCatalogTable:visible")
    view.get_by_role("tab", name="Preview").click()
    expect(view.locator(".jp-WorkbenchCatalogTable-preview tbody tr").first).to_be_visible()
    # The result stays highlighted as the one open; let fonts and icons settle.
    page.wait_for_timeout(500)


# A small month-end pipeline: four notebook steps, one failing check.
PIPELINE = """\
name: month_end_demo
description: Extract journal items, build the trial balance, check and report.
parameters:
  month: {type: string, default: '2024-01'}
steps:
  - {id: extract, notebook: extract.ipynb}
  - {id: trial_balance, notebook: trial_balance.ipynb, depends_on: [extract]}
  - {id: check_balance, notebook: check_balance.ipynb, depends_on: [trial_balance]}
  - {id: report, notebook: report.ipynb, depends_on: [trial_balance]}
"""


def prepare_pipeline(workbench: Workbench) -> None:
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
    failed.click()
    expect(view.locator(".jp-WorkbenchPipeline-traceback")).to_be_visible()
    page.wait_for_timeout(500)


SHOTS: dict[str, tuple[Callable[[Workbench], None] | None, Callable[[Page, Workbench], None]]] = {
    "catalog": (None, show_catalog),
    "pipelines": (prepare_pipeline, show_pipelines),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", choices=sorted(SHOTS), help="one panel (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=UI_TIMEOUT_MS)

    with tempfile.TemporaryDirectory(prefix="workbench-shots-") as tmp:
        up = start_workbench(Path(tmp))
        workbench = Workbench(up, Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                try:
                    for panel, (prepare, show) in SHOTS.items():
                        if args.only and panel != args.only:
                            continue
                        if prepare is not None:
                            prepare(workbench)
                        for name, theme in THEMES.items():
                            set_theme(workbench, theme)
                            page = browser.new_page(viewport=VIEWPORT)
                            page.set_default_timeout(UI_TIMEOUT_MS)
                            show(page, workbench)
                            path = args.out / f"{panel}-panel-{name}.png"
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
