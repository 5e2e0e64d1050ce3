"""Publishing a gold table to a real Superset from the Data Catalog panel: the table
view's "Publish to Superset" action, what the notification says, and the dataset it
made (with the pii column left out)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from playwright.sync_api import Page, expect

from tests.support.superset_peer import ADMIN, HOW_TO_INSTALL, Superset, installed
from tests.ui.conftest import Workbench
from workbench_server.lake import Lake

TABLE_VIEW = ".jp-WorkbenchCatalogTable:visible"


@pytest.fixture(scope="module")
def superset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Superset]:
    if not installed():
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    server = Superset(tmp_path_factory.mktemp("superset_ui"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gold_table(workbench: Workbench, superset: Superset) -> str:
    lake = Lake.at(str(Path(workbench.root) / "home" / "lake"))
    lake.write(
        "gold.ui_balances",
        pa.table(
            {
                "partner_id": [1, 2],
                "email": ["a@example.com", "b@example.com"],
                "balance": pa.array([Decimal("10.05"), Decimal("-3.10")], pa.decimal128(18, 2)),
            }
        ),
        mode="overwrite",
    )
    scan = workbench.api.post("catalog/sources/lake/scans")
    assert scan.status_code == 201, scan.text
    made = workbench.api.post(
        "connections",
        json={
            "name": "bi_ui",
            "settings": {
                "kind": "superset",
                "url": superset.url,
                "user": ADMIN[0],
                "password": ADMIN[1],
            },
        },
    )
    assert made.status_code == 201, made.text
    return "ui_balances"


def test_publish_a_gold_table_from_its_view(
    page: Page, workbench: Workbench, superset: Superset, gold_table: str
) -> None:
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    page.locator(".jp-WorkbenchCatalog-search input").fill(gold_table)
    page.locator(f'.jp-WorkbenchCatalog-result[data-table="{gold_table}"]').click()
    view = page.locator(TABLE_VIEW)
    expect(view.locator(".jp-WorkbenchCatalogTable-name")).to_have_text(f"gold.{gold_table}")

    view.get_by_role("button", name="Publish to Superset").click()
    toast = page.locator(".Toastify__toast", has_text="published to bi_ui")
    expect(toast).to_contain_text(
        f"gold.{gold_table} published to bi_ui as a new dataset (2 rows). Left out (pii): email."
    )
    expect(toast.get_by_role("button", name="Open in Superset")).to_be_visible()

    # The dataset Superset has: two columns, no email.
    from workbench_server.connections.kinds import SupersetConfig
    from workbench_server.superset import SupersetClient

    client = SupersetClient(
        SupersetConfig(url=superset.url, user=ADMIN[0], password=ADMIN[1])
    ).login()
    found = client.find("dataset", table_name=gold_table)
    assert len(found) == 1
    dataset = client.call("GET", f"/api/v1/dataset/{found[0]['id']}")["result"]
    assert sorted(c["column_name"] for c in dataset["columns"]) == ["balance", "partner_id"]

    # Taken out again: a chart on the dataset makes the server refuse, naming it; the user
    # removes it anyway and the dataset is gone from Superset.
    chart = client.call(
        "POST",
        "/api/v1/chart/",
        {
            "slice_name": "UI balances",
            "viz_type": "table",
            "datasource_id": dataset["id"],
            "datasource_type": "table",
            "params": "{}",
        },
    )
    view.get_by_role("button", name="Remove from Superset").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Delete the dataset of gold.{gold_table} in bi_ui")
    dialog.get_by_role("button", name="Remove").click()
    expect(dialog).to_contain_text(f"1 chart(s) in 'bi_ui' use gold.{gold_table}: UI balances")
    dialog.get_by_role("button", name="Remove anyway").click()
    expect(page.locator(".Toastify__toast", has_text="removed from bi_ui")).to_contain_text(
        f"gold.{gold_table} removed from bi_ui (dataset {dataset['id']} deleted). "
        f"Charts that used it now fail: UI balances ({chart['id']})."
    )
    assert client.find("dataset", table_name=gold_table) == []


def test_tables_outside_the_lake_offer_no_publish(page: Page) -> None:
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    page.locator(".jp-WorkbenchCatalog-search input").fill("account_move_line")
    page.locator('.jp-WorkbenchCatalog-result[data-table="account_move_line"]').first.click()
    view = page.locator(TABLE_VIEW)
    expect(view.get_by_role("button", name="Insert query into notebook")).to_be_visible()
    expect(view.get_by_role("button", name="Publish to Superset")).to_have_count(0)
    expect(view.get_by_role("button", name="Remove from Superset")).to_have_count(0)
