"""Screenshots of the Data Catalog panel for the docs, in the light and the dark theme.

    python -m tests.ui.screenshots [--out docs/images]

Starts a throwaway workbench with the demo data (as the browser tests do), searches the
catalog, opens a table on its Preview tab, and saves ``catalog-panel-light.png`` and
``catalog-panel-dark.png``. Everything it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
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
                    for name, theme in THEMES.items():
                        set_theme(workbench, theme)
                        page = browser.new_page(viewport=VIEWPORT)
                        page.set_default_timeout(UI_TIMEOUT_MS)
                        show_catalog(page, workbench)
                        path = args.out / f"catalog-panel-{name}.png"
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
