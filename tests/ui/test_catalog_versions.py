"""A lake table's versions in the Data Catalog panel, as a finance user sees them: who
wrote each version, when and how, and the table previewed as of one of them; in the
light and the dark theme. The table is a Delta table of the workbench's own lake, which
every user may read."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import Workbench, open_lab
from workbench_server.lake import DeleteMarker, Lake, WriterInfo

TABLE_VIEW = ".jp-WorkbenchCatalogTable:visible"
RUN = WriterInfo(pipeline="month_close", run_id="r-42", step="silver", attempt=1, user="ana")
MONEY = pa.decimal128(18, 2)


def _moves(ids: list[int], amounts: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": ids,
            "amount": pa.array([Decimal(a) for a in amounts], MONEY),
            "state": ["posted"] * len(ids),
        }
    )


@pytest.fixture(scope="module")
def lake_table(workbench: Workbench) -> str:
    """silver.ledger_moves in the default lake: versions 0 (create), 1 (a notebook's
    append), 2 (a pipeline run's merge: one row changed, one deleted); then cataloged."""
    lake = Lake.at(str(Path(workbench.root) / "home" / "lake"))
    lake.write(
        "silver.ledger_moves",
        _moves([1, 2, 3], ["100.10", "-100.05", "-0.05"]),
        writer=WriterInfo(notebook="close/adjustments.ipynb", user="bob"),
    )
    changes = _moves([2, 3], ["-100.10", "0"]).append_column("_op", pa.array(["u", "d"]))
    lake.write(
        "silver.ledger_moves",
        changes,
        mode="merge",
        keys=["id"],
        delete_marker=DeleteMarker(),
        writer=RUN,
    )
    scan = workbench.api.post("catalog/sources/lake/scans")
    assert scan.status_code == 201, scan.text
    return "ledger_moves"


def open_lake_table(page: Page, name: str) -> Locator:
    """Find a table of the lake by searching, and open its view."""
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    expect(panel).to_be_visible()
    box = page.locator(".jp-WorkbenchCatalog-search input")
    box.fill(name)
    page.locator(f'.jp-WorkbenchCatalog-result[data-table="{name}"]').click()
    view = page.locator(TABLE_VIEW)
    expect(view.locator(".jp-WorkbenchCatalogTable-name")).to_have_text(f"silver.{name}")
    return view


def preview_ids(view: Locator) -> list[int]:
    cells = view.locator(".jp-WorkbenchCatalogTable-preview tbody tr td:first-child")
    return sorted(int(text) for text in cells.all_inner_texts())


def test_versions_say_who_wrote_what_and_preview_as_of_one(page: Page, lake_table: str) -> None:
    view = open_lake_table(page, lake_table)
    # The header says which version the table is at and who wrote it last.
    expect(view.locator('[data-fact="version"]')).to_have_text("2 (3 listed)")
    expect(view.locator('[data-fact="last-write"]')).to_contain_text(
        "UTC · pipeline month_close run r-42 step silver attempt 1 by ana"
    )

    view.get_by_role("tab", name="Versions").click()
    rows = view.locator(".jp-WorkbenchCatalogTable-versions tbody tr")
    expect(rows).to_have_count(3)
    texts = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()[:7]] for row in rows.all()
    ]
    assert [(t[0], t[2], t[3], t[4], t[5], t[6]) for t in texts] == [
        ("2", "pipeline month_close run r-42 step silver attempt 1 by ana", "merge", "0", "1", "1"),
        ("1", "notebook close/adjustments.ipynb by bob", "append", "3", "0", "0"),
        ("0", "notebook close/adjustments.ipynb by bob", "create", "0", "0", "0"),
    ], texts
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", t[1]) for t in texts), texts

    # Choosing version 1 previews the table as it was then: all three rows, as first
    # written (the merge since changed row 2 and deleted row 3).
    view.get_by_role("button", name="Preview as of version 1").click()
    expect(view.get_by_role("tab", name="Preview")).to_have_attribute("aria-selected", "true")
    expect(view.locator(".jp-WorkbenchCatalogTable-notes")).to_contain_text("as of version 1")
    expect(view.locator(".jp-WorkbenchCatalogTable-preview tbody tr")).to_have_count(3)
    assert preview_ids(view) == [1, 2, 3]
    amounts = view.locator(".jp-WorkbenchCatalogTable-preview tbody tr td:nth-child(2)")
    assert sorted(amounts.all_inner_texts()) == ["-0.05", "-100.05", "100.10"]

    # The version shown is marked in the list; back to the current rows from the preview.
    view.get_by_role("tab", name="Versions").click()
    expect(view.locator('tr[aria-current="true"]')).to_have_attribute("data-version", "1")
    view.get_by_role("tab", name="Preview").click()
    view.get_by_role("button", name="Show current rows").click()
    expect(view.locator(".jp-WorkbenchCatalogTable-preview tbody tr")).to_have_count(2)
    assert preview_ids(view) == [1, 2]
    expect(view.locator(".jp-WorkbenchCatalogTable-notes")).not_to_contain_text("as of version")


def test_every_user_sees_the_default_lakes_versions(bob_page: Page, lake_table: str) -> None:
    view = open_lake_table(bob_page, lake_table)
    view.get_by_role("tab", name="Versions").click()
    expect(view.locator(".jp-WorkbenchCatalogTable-versions tbody tr")).to_have_count(3)
    view.get_by_role("button", name="Preview as of version 2").click()
    expect(view.locator(".jp-WorkbenchCatalogTable-preview tbody tr")).to_have_count(2)
    assert preview_ids(view) == [1, 2]


def _color(page: Page, css: str) -> str:
    """``css`` (e.g. ``var(--jp-layout-color2)``) as the browser computes it."""
    return page.evaluate(
        """css => {
            const probe = document.createElement('div');
            probe.style.background = css;
            document.body.appendChild(probe);
            const color = getComputedStyle(probe).backgroundColor;
            probe.remove();
            return color;
        }""",
        css,
    )


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_the_versions_part_follows_the_theme(
    page: Page, workbench: Workbench, lake_table: str, theme: str
) -> None:
    answer = workbench.api.put(
        f"{workbench.url}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        content=json.dumps({"raw": json.dumps({"theme": theme})}),
    )
    assert answer.status_code == 204, answer.text
    try:
        open_lab(page, workbench.url, workbench.token)
        expect(page.locator("body")).to_have_attribute(
            "data-jp-theme-light", "false" if "Dark" in theme else "true"
        )
        view = open_lake_table(page, lake_table)
        view.get_by_role("tab", name="Versions").click()
        view.get_by_role("button", name="Preview as of version 2").click()
        view.get_by_role("tab", name="Versions").click()
        shown = view.locator('tr[aria-current="true"]')
        expect(shown).to_be_visible()
        style = shown.evaluate(
            "row => ({bg: getComputedStyle(row).backgroundColor, fg: getComputedStyle(row).color})"
        )
        # The theme's own colours, not fixed ones: readable in both themes.
        assert style["bg"] == _color(page, "var(--jp-layout-color2)"), style
        assert style["fg"] != style["bg"]
        head = view.locator(".jp-WorkbenchCatalogTable-versions thead th").first
        assert head.evaluate("th => getComputedStyle(th).backgroundColor") == _color(
            page, "var(--jp-layout-color2)"
        )
    finally:
        workbench.api.put(
            f"{workbench.url}/lab/api/settings/@jupyterlab/apputils-extension:themes",
            content=json.dumps({"raw": json.dumps({"theme": "JupyterLab Light"})}),
        )
